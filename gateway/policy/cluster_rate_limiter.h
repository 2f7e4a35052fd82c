// ClusterRateLimiter: a route's `--rate-limit-scope cluster` limit, for the "limit" phase of a
// request: one token bucket per key shared by every gateway of the cluster, counted in Redis.
//
// Take() never waits for Redis. Each key has a ClusterLease (cluster_lease.h: the protocol and
// its error bound): the request is decided from it, and when the key has admissions to report
// a sync is queued on the gateway's ClusterBuckets (RedisBucketClient), whose thread runs the
// queued syncs in batches and hands each answer back (BeginSync, EndSync, FailSync).
//
// Fallback: while Redis does not answer (ClusterBuckets::available() is false), or on a gateway
// started without --redis (no ClusterBuckets), requests are decided by a RateLimiter of the
// same limit held here: the route is then limited per gateway, as with scope gateway, and the
// decision's `source` says why, which the session counts in /metrics. The local buckets keep
// their state, so Redis going up and down does not hand each client a new burst every time.
//
// Ownership: like RateLimiter, held by the RouteTables that use it (shared_ptr) and handed out
// by a ClusterRateLimiterRegistry, so a key's lease survives a config push that leaves the
// route and its limit unchanged; a queued sync holds it too until it has run.
//
// Threads: Take() from every worker at once (keys sharded over kShards mutexes, as RateLimiter);
// BeginSync/EndSync/FailSync from the sync thread. No lock is held while calling out.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "gateway/policy/cluster_lease.h"
#include "gateway/policy/rate_limiter.h"

namespace gw {

class ClusterRateLimiter;

// What a ClusterRateLimiter needs from the gateway's connection to Redis (RedisBucketClient;
// tests use a fake). Owned by main (shared with the limiters); every method is thread-safe.
class ClusterBuckets {
 public:
  virtual ~ClusterBuckets() = default;
  // True while Redis answers; false while it is down, slow past the timeout, or being
  // reconnected to. Read on every request: an atomic load.
  virtual bool available() const = 0;
  // The largest lease (`gateway --redis-lease`): see LeaseFor.
  virtual uint64_t max_lease() const = 0;
  // Queues a sync of `key` of `limiter` (which ClusterLease::Take asked for). Cheap: takes a
  // mutex around a vector; called once per round trip per busy key, not per request.
  virtual void QueueSync(std::shared_ptr<ClusterRateLimiter> limiter, std::string key) = 0;
};

using ClusterBucketsSharedPtr = std::shared_ptr<ClusterBuckets>;

class ClusterRateLimiter : public std::enable_shared_from_this<ClusterRateLimiter> {
 public:
  static constexpr size_t kShards = 16;

  // `config` must pass CheckRateLimitConfig. `bucket_prefix` names this limit's buckets in
  // Redis, the same on every gateway (the registry derives it from the route's identity and
  // limit); a key's bucket is the prefix followed by the key. `buckets` null: no --redis.
  ClusterRateLimiter(const RateLimitConfig& config, std::string bucket_prefix,
                     ClusterBucketsSharedPtr buckets);
  ClusterRateLimiter(const ClusterRateLimiter&) = delete;
  ClusterRateLimiter& operator=(const ClusterRateLimiter&) = delete;

  // Decides one request of `key` at `now` (see the file comment). Never blocks on I/O.
  RateLimitDecision Take(std::string_view key, std::chrono::steady_clock::time_point now);

  // The sync thread, for a key QueueSync named: the tokens to charge to its bucket (see
  // ClusterLease::BeginSync); nullopt when the key's state is gone (nothing to do).
  std::optional<uint64_t> BeginSync(std::string_view key);
  // The bucket's answer (`level` tokens left). True when the key must be queued again.
  bool EndSync(std::string_view key, double level, std::chrono::steady_clock::time_point now);
  // The sync could not run (Redis down): see ClusterLease::FailSync.
  void FailSync(std::string_view key, std::chrono::steady_clock::time_point now);

  // "gwrl:<32 hex digits>:": the Redis key of `key`'s bucket is this followed by the key.
  const std::string& bucket_prefix() const { return bucket_prefix_; }
  const RateLimitConfig& config() const { return fallback_.config(); }
  const ClusterBucketShape& shape() const { return shape_; }
  // Keys with a lease (for tests).
  size_t key_count() const;
  // The lease of `key` (for tests); nullopt when it has none.
  std::optional<ClusterLease> LeaseOf(std::string_view key) const;

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using LeaseMap = std::unordered_map<std::string, ClusterLease, Hash, std::equal_to<>>;
  struct alignas(64) Shard {
    mutable std::mutex mutex;
    LeaseMap leases;
  };

  Shard& ShardOf(std::string_view key);
  const Shard& ShardOf(std::string_view key) const;
  // Makes room in a full shard (called with it locked): drops idle leases, then the least
  // recently used ones with no sync queued, until an eighth of the shard is free.
  void Evict(LeaseMap& leases, int64_t now_us) const;

  RateLimiter fallback_;  // first: the others are derived from its (clamped) config
  const std::string bucket_prefix_;
  const ClusterBucketsSharedPtr buckets_;
  const ClusterBucketShape shape_;
  const size_t shard_max_keys_;
  std::array<Shard, kShards> shards_;
};

using ClusterRateLimiterSharedPtr = std::shared_ptr<ClusterRateLimiter>;

// Hands out the ClusterRateLimiter of each cluster-scope route while a RouteTable is built,
// reusing the previous table's when the route and its limit did not change (as
// RateLimiterRegistry does, with which it shares its keys). Logs once per limiter created
// without Redis that the route is counted per gateway.
//
// Threads: the config thread; a mutex makes any thread safe. Never on the request path.
class ClusterRateLimiterRegistry {
 public:
  // At start-up, before any Get: the gateway's Redis (null, the default: no --redis).
  void SetBuckets(ClusterBucketsSharedPtr buckets);

  // `route_name` is for the log ("/api (prefix)"); `config` must pass CheckRateLimitConfig.
  ClusterRateLimiterSharedPtr Get(std::string_view route_identity, std::string_view route_name,
                                  std::string_view limit_by, const RateLimitConfig& config);

  // Forgets limiters that no table holds any more. Call after a new table is published.
  void Prune();
  size_t size() const;

  // "gwrl:" + 32 hex digits of the SHA-256 of the limiter's key + ":" (see bucket_prefix()).
  static std::string BucketPrefix(std::string_view limiter_key);

 private:
  void PruneLocked();

  mutable std::mutex mutex_;
  ClusterBucketsSharedPtr buckets_;
  std::unordered_map<std::string, std::weak_ptr<ClusterRateLimiter>> limiters_;
  size_t pruned_size_ = 0;
};

}  // namespace gw
