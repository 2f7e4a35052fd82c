// RateLimiter: a route's token buckets, one per client key, for the "limit" phase of a request.
//
// A route with `--rate-limit N/s|m|h --burst B` owns one RateLimiter. Each key (the caller builds
// it: the client ip, a header's value or the consumer's name) has a bucket of `burst` tokens,
// refilled at `requests` tokens per `period`; a request takes one token or is refused (429).
// A key never seen, or whose bucket has refilled completely, has a full bucket: a full bucket is
// the same as no bucket, so full ones are what gets dropped first when a limiter holds too many.
//
// Scope: per gateway. The limiter lives in the gateway's memory and is shared by all of its
// workers; N gateways behind a load balancer let through up to N times the rate. A route with
// `--rate-limit-scope cluster` has a ClusterRateLimiter instead (cluster_rate_limiter.h), which
// falls back to one of these while Redis is out of reach.
//
// Ownership: the published RouteTable holds a shared_ptr to each route's limiter, handed out by a
// RateLimiterRegistry owned by the gateway's config side, so a bucket's state survives a config
// push that leaves the route and its limit unchanged.
//
// Threads: Take() is called by every worker at once. The buckets are split into kShards shards
// by key hash, each with its own mutex held for a few hundred nanoseconds (one hash lookup and
// integer arithmetic; about 200 ns per Take in all, measured over 10k keys), or for one walk of
// that shard when it is full of keys (see Take): no lock is shared by all requests. Never throws
// (short of std::bad_alloc), never blocks on I/O. Time is an argument (steady_clock), never read
// here.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace gw {

// What a route's limit allows, as the control plane stores it (gateway.v1.RateLimit without its
// `key`, which only the caller uses).
struct RateLimitConfig {
  uint64_t requests = 0;        // tokens added per period; 1..kMaxRateLimitTokens
  uint32_t period_seconds = 1;  // 1, 60 or 3600
  uint64_t burst = 0;           // bucket size; 0: `requests`. At most kMaxRateLimitTokens
  size_t max_keys = 100'000;    // buckets kept at most (see RateLimiter); >= 1

  // The bucket size in effect: `burst`, else `requests`.
  uint64_t Capacity() const { return burst != 0 ? burst : requests; }
};

// The largest `requests` and `burst` accepted: with period <= 3600 s counted in microseconds,
// every bucket computation fits in 64 bits.
inline constexpr uint64_t kMaxRateLimitTokens = 1'000'000'000;

// Keys longer than this are replaced by their first bytes and a hash of the whole (see Take), so
// a limiter's memory is bounded by max_keys * (kMaxRateLimitKeySize + overhead).
inline constexpr size_t kMaxRateLimitKeySize = 256;

// `key` itself when at most kMaxRateLimitKeySize bytes; else its first bytes, '#' and the hash
// of the whole in hex, kMaxRateLimitKeySize bytes in all, written into `buffer`.
std::string_view BoundRateLimitKey(std::string_view key,
                                   std::array<char, kMaxRateLimitKeySize>& buffer);

// Empty when `config` can be applied; else a one-line reason ("rate limit period must be 1, 60
// or 3600 seconds"). The gateway NACKs a config whose limit fails this.
std::string CheckRateLimitConfig(const RateLimitConfig& config);

// Which bucket decided a request.
enum class RateLimitSource {
  kGateway,          // a gateway-scope limit: this gateway's bucket
  kCluster,          // a cluster-scope limit: the bucket shared in Redis (ClusterRateLimiter)
  kRedisDown,        // cluster scope, but Redis does not answer: this gateway's bucket
  kRedisNotEnabled,  // cluster scope on a gateway without --redis: this gateway's bucket
};

// The outcome of one request against its key's bucket.
struct RateLimitDecision {
  bool allowed = false;
  uint64_t limit = 0;      // the bucket size (RateLimit-Limit)
  uint64_t remaining = 0;  // whole tokens left after this request (RateLimit-Remaining)
  // Seconds until a request with this key would be allowed: 0 when a token is left now, else the
  // wait rounded up, at least 1 (Retry-After on a 429).
  uint64_t retry_after_seconds = 0;
  // Seconds until the bucket is full again, rounded up; 0 when it is full (RateLimit-Reset).
  uint64_t reset_seconds = 0;
  RateLimitSource source = RateLimitSource::kGateway;
};

class RateLimiter {
 public:
  static constexpr size_t kShards = 16;

  // `config` must pass CheckRateLimitConfig; out-of-range values are clamped into range (never
  // undefined behaviour).
  explicit RateLimiter(const RateLimitConfig& config);
  RateLimiter(const RateLimiter&) = delete;
  RateLimiter& operator=(const RateLimiter&) = delete;

  // Takes one token from `key`'s bucket at `now` if it has one. `now` may be slightly older than
  // a time already seen for the key (workers read the clock before they get the shard): time
  // never runs backwards for a bucket.
  //
  // Bound on keys: each shard keeps at most ceil(max_keys / kShards) buckets. A new key arriving
  // at a full shard first drops every bucket of that shard that has refilled completely (exact:
  // it would behave as a new one), and if that frees fewer than an eighth of the shard, also the
  // least recently used buckets until an eighth is free, as nginx's limit_req does. So the cost
  // of a sweep is shared by the next eighth of new keys; a key dropped while not full starts over
  // with a full bucket, which only a flood of distinct keys can cause.
  RateLimitDecision Take(std::string_view key, std::chrono::steady_clock::time_point now);

  // Drops every bucket that is full at `now` (same behaviour, less memory). Optional: for a
  // periodic timer off the request path; Take() keeps the bound without it.
  void Sweep(std::chrono::steady_clock::time_point now);

  // Buckets held (for tests and metrics).
  size_t key_count() const;

  const RateLimitConfig& config() const { return config_; }

 private:
  // Counted in "units": one token is period_us units and every microsecond adds `requests`
  // units, so refill is exact integer arithmetic.
  struct Bucket {
    uint64_t level = 0;   // units in the bucket at last_us
    int64_t last_us = 0;  // last time the bucket was brought up to date, in microseconds
  };
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using BucketMap = std::unordered_map<std::string, Bucket, Hash, std::equal_to<>>;
  struct alignas(64) Shard {
    mutable std::mutex mutex;
    BucketMap buckets;
  };

  // Brings `bucket` up to `now_us` (never backwards).
  void Refill(Bucket& bucket, int64_t now_us) const;
  bool IsFull(const Bucket& bucket, int64_t now_us) const;
  // Makes room for one more bucket in a full shard (see Take). Called with the shard locked.
  void Evict(BucketMap& buckets, int64_t now_us) const;
  RateLimitDecision Decide(const Bucket& bucket, bool allowed) const;

  RateLimitConfig config_;
  uint64_t rate_ = 0;      // units added per microsecond (= requests)
  uint64_t token_ = 0;     // units in one token (= period in microseconds)
  uint64_t capacity_ = 0;  // units in a full bucket
  size_t shard_max_keys_ = 0;
  std::array<Shard, kShards> shards_;
};

using RateLimiterSharedPtr = std::shared_ptr<RateLimiter>;

// The header fields a response carries for a rate-limited route
// (draft-ietf-httpapi-ratelimit-headers, the three-field form), plus Retry-After on a 429.
struct RateLimitHeader {
  std::string_view name;
  std::string value;  // a decimal number: short enough to never allocate
};

class RateLimitHeaders {
 public:
  const RateLimitHeader* begin() const { return fields_.data(); }
  const RateLimitHeader* end() const { return fields_.data() + count_; }
  size_t size() const { return count_; }
  void Add(std::string_view name, uint64_t value);

 private:
  std::array<RateLimitHeader, 4> fields_;
  size_t count_ = 0;
};

// RateLimit-Limit (the bucket size), RateLimit-Remaining and RateLimit-Reset (seconds until the
// bucket is full), and, when the request was refused, Retry-After (seconds, at least 1). The
// caller sets each (replacing any the upstream sent) on the 429 or on the upstream's response.
RateLimitHeaders FormatRateLimitHeaders(const RateLimitDecision& decision);

// Hands out the limiter of each rate-limited route while a RouteTable is built, reusing the
// previous table's limiter when the route and its limit did not change.
//
// Keyed by a stable string: the route's identity (its match: path, kind, host, methods, header
// conditions, as the caller spells it), what the route limits by ("ip", "header:x-api-user",
// "consumer"), and the config. The registry keeps weak references: a limiter lives as long as a
// table (or a request in flight) holds it, so the limiters that a new table no longer uses are
// dropped when the last old table goes, and a table that was built and then refused (NACK) takes
// its new limiters with it. Expired entries are pruned as the registry grows and by Prune().
//
// Threads: called on the config thread; a mutex makes any thread safe. Never on the request path.
class RateLimiterRegistry {
 public:
  // The limiter for this route and limit: the one a live table already holds for the same key,
  // else a new one. `config` must pass CheckRateLimitConfig.
  RateLimiterSharedPtr Get(std::string_view route_identity, std::string_view limit_by,
                           const RateLimitConfig& config);

  // Forgets limiters that no table holds any more. Call after a new table is published.
  void Prune();

  // Entries held, expired or not (for tests).
  size_t size() const;

  // The key a limiter is kept under: the route's identity, what it limits by and the limit.
  // ClusterRateLimiterRegistry names a cluster-scope limit's Redis buckets after it.
  static std::string Key(std::string_view route_identity, std::string_view limit_by,
                         const RateLimitConfig& config);

 private:
  void PruneLocked();

  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::weak_ptr<RateLimiter>> limiters_;
  size_t pruned_size_ = 0;  // entries left by the last prune
};

}  // namespace gw
