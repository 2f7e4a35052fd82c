// RedisBucketClient: the gateway's link to the cluster-wide token buckets in Redis
// (`gateway --redis HOST:PORT`), the ClusterBuckets every cluster-scope ClusterRateLimiter uses.
//
// One thread owns one connection (RedisConnection). It takes the syncs the limiters queued, up
// to kMaxBatch at a time, and runs them as one pipeline of EVALSHA calls of kBucketScript, a Lua
// script that refills a key's bucket by Redis's own clock (so gateways' clocks never matter),
// charges what the gateway admitted and answers the level left; then hands every answer back to
// its limiter. The request path never waits for any of it (see ClusterLease). Buckets are hashes
// named `gwrl:<route and limit hash>:<client key>` that expire once they would be full again, so
// Redis holds only the keys in use.
//
// Health: connecting and every reply are bounded by `timeout`. Redis is available() from a
// connect that loaded the script until a command fails, times out or answers an error; then
// the connection is dropped, every queued sync fails (the limiters count locally meanwhile), and
// the thread reconnects after a jittered backoff (100 ms doubling to 2 s); a PING every second
// when idle notices an outage without traffic. Each change is logged once ("redis
// 127.0.0.1:6379 is unreachable (connection refused): ...", "redis ... is back: ..."), never
// per request or per attempt.
//
// Owned by main through a shared_ptr (the limiters share it): Start() after construction, Stop()
// at shutdown (joins the thread, drops the queue and with it the limiters it held).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/validation.h"
#include "gateway/policy/cluster_rate_limiter.h"
#include "gateway/redis/redis_connection.h"

namespace gw {

struct RedisBucketOptions {
  HostPort address;
  std::chrono::milliseconds timeout{250};  // to connect, and for each reply (--redis-timeout)
  uint64_t max_lease = 20;                 // --redis-lease: see LeaseFor
  std::chrono::milliseconds reconnect_initial{100};
  std::chrono::milliseconds reconnect_max{2000};
  std::chrono::milliseconds ping_interval{1000};  // an idle connection is checked this often
};

class RedisBucketClient final : public ClusterBuckets {
 public:
  static constexpr size_t kMaxBatch = 1024;  // syncs per pipeline
  // The Lua script. KEYS[1]: the bucket; ARGV: tokens per period, period in seconds, bucket
  // size, tokens to charge. Returns the level left after the charge, in thousandths of a token
  // (negative when the cluster admitted more than the bucket had).
  static const char* const kBucketScript;

  explicit RedisBucketClient(RedisBucketOptions options);
  ~RedisBucketClient() override;

  void Start();
  void Stop();

  // ClusterBuckets
  bool available() const override { return available_.load(std::memory_order_relaxed); }
  uint64_t max_lease() const override { return options_.max_lease; }
  void QueueSync(std::shared_ptr<ClusterRateLimiter> limiter, std::string key) override;

  // For /metrics: failed connects, commands and error replies since start; syncs answered.
  uint64_t errors() const { return errors_.load(std::memory_order_relaxed); }
  uint64_t syncs() const { return syncs_.load(std::memory_order_relaxed); }
  std::string address() const;

 private:
  struct Pending {
    std::shared_ptr<ClusterRateLimiter> limiter;
    std::string key;
  };

  void Run();
  // Connects and loads the script; false (and down) when that fails.
  bool Connect();
  // Runs one batch of syncs; false (and down) when Redis failed.
  bool Sync(std::vector<Pending>& batch);
  bool Ping();
  // Redis failed with `error`: drops the connection, fails every queued sync, logs once.
  void MarkDown(const std::string& error);
  void FailAll(std::vector<Pending>& items);

  const RedisBucketOptions options_;
  std::atomic<bool> available_{false};
  std::atomic<uint64_t> errors_{0};
  std::atomic<uint64_t> syncs_{0};

  // The sync thread's own state.
  std::unique_ptr<RedisConnection> connection_;
  std::string script_sha_;
  enum class Reported { kNothing, kUp, kDown };
  Reported reported_ = Reported::kNothing;  // what the log said last

  std::mutex mutex_;  // guards the queue and stopping_
  std::condition_variable wake_;
  std::vector<Pending> pending_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace gw
