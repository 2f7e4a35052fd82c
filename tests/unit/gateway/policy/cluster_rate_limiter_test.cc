// ClusterRateLimiter against a scripted ClusterBuckets: when it counts in the shared bucket and
// when locally, what it queues for the sync thread, and how the registry names the buckets.
#include "gateway/policy/cluster_rate_limiter.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <utility>
#include <vector>

namespace gw {
namespace {

using std::chrono::seconds;
const auto kT0 = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);

// Redis as the limiter sees it: up or down, and the syncs queued. The queue holds its limiters
// weakly: the limiter holds the buckets, and the real client breaks that cycle in Stop().
class FakeBuckets : public ClusterBuckets {
 public:
  bool available() const override { return up.load(); }
  uint64_t max_lease() const override { return lease; }
  void QueueSync(std::shared_ptr<ClusterRateLimiter> limiter, std::string key) override {
    queued.emplace_back(std::move(limiter), std::move(key));
  }

  std::atomic<bool> up{true};
  uint64_t lease = 20;
  std::vector<std::pair<std::weak_ptr<ClusterRateLimiter>, std::string>> queued;
};

RateLimitConfig Limit(uint64_t requests, uint32_t period_seconds, uint64_t burst = 0) {
  RateLimitConfig config;
  config.requests = requests;
  config.period_seconds = period_seconds;
  config.burst = burst;
  return config;
}

TEST(ClusterRateLimiter, WithoutRedisItIsTheGatewaysOwnBucket) {
  ClusterRateLimiterRegistry registry;  // no SetBuckets: the gateway runs without --redis
  auto limiter = registry.Get("/api identity", "/api (prefix)", "ip", Limit(5, 60));
  for (int i = 0; i < 5; ++i) {
    const RateLimitDecision decision = limiter->Take("10.0.0.1", kT0);
    EXPECT_TRUE(decision.allowed);
    EXPECT_EQ(decision.source, RateLimitSource::kRedisNotEnabled);
  }
  const RateLimitDecision refused = limiter->Take("10.0.0.1", kT0);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.source, RateLimitSource::kRedisNotEnabled);
  EXPECT_EQ(refused.retry_after_seconds, 12u);  // as RateLimiter says: a token every 12 s
  EXPECT_EQ(limiter->key_count(), 0u);          // no lease: nothing is counted in Redis
}

TEST(ClusterRateLimiter, CountsInTheSharedBucketAndQueuesOneSyncPerRoundTrip) {
  auto buckets = std::make_shared<FakeBuckets>();
  auto limiter = std::make_shared<ClusterRateLimiter>(Limit(100, 1), "gwrl:x:", buckets);
  EXPECT_EQ(limiter->shape().lease, 10u);
  for (int i = 0; i < 10; ++i) {
    const RateLimitDecision decision = limiter->Take("10.0.0.1", kT0);
    EXPECT_TRUE(decision.allowed) << i;
    EXPECT_EQ(decision.source, RateLimitSource::kCluster);
  }
  ASSERT_EQ(buckets->queued.size(), 1u);  // ten admissions, one sync
  EXPECT_EQ(buckets->queued[0].first.lock(), limiter);
  EXPECT_EQ(buckets->queued[0].second, "10.0.0.1");
  EXPECT_FALSE(limiter->Take("10.0.0.1", kT0).allowed);  // the lease is used up

  // The sync thread: charge 10, the bucket says 90 are left, a new lease of 10.
  EXPECT_EQ(limiter->BeginSync("10.0.0.1"), std::optional<uint64_t>(10));
  EXPECT_FALSE(limiter->EndSync("10.0.0.1", 90, kT0));
  EXPECT_TRUE(limiter->Take("10.0.0.1", kT0).allowed);
  EXPECT_EQ(buckets->queued.size(), 2u);
  EXPECT_EQ(limiter->BeginSync("unknown key"), std::nullopt);  // nothing to do for it

  // Another key has its own lease.
  EXPECT_TRUE(limiter->Take("10.0.0.2", kT0).allowed);
  EXPECT_EQ(limiter->key_count(), 2u);
}

TEST(ClusterRateLimiter, RedisDownFallsBackToTheLocalBucketAndBack) {
  auto buckets = std::make_shared<FakeBuckets>();
  auto limiter = std::make_shared<ClusterRateLimiter>(Limit(3, 60), "gwrl:x:", buckets);
  EXPECT_TRUE(limiter->Take("k", kT0).allowed);  // lease 1: counted in the shared bucket
  buckets->up = false;
  // Redis down: the gateway's own bucket of 3, whatever the lease said.
  for (int i = 0; i < 3; ++i) {
    const RateLimitDecision decision = limiter->Take("k", kT0);
    EXPECT_TRUE(decision.allowed) << i;
    EXPECT_EQ(decision.source, RateLimitSource::kRedisDown);
  }
  EXPECT_FALSE(limiter->Take("k", kT0).allowed);
  // The sync thread fails what was queued before.
  limiter->FailSync("k", kT0);
  EXPECT_EQ(limiter->LeaseOf("k")->uncounted(), 0u);
  // Back: counted in the bucket again, starting from a fresh lease.
  buckets->up = true;
  const RateLimitDecision decision = limiter->Take("k", kT0 + seconds(1));
  EXPECT_TRUE(decision.allowed);
  EXPECT_EQ(decision.source, RateLimitSource::kCluster);
}

TEST(ClusterRateLimiter, LongKeysAreBoundedAndKeysStayBounded) {
  auto buckets = std::make_shared<FakeBuckets>();
  RateLimitConfig config = Limit(1, 3600);
  config.max_keys = 64;
  auto limiter = std::make_shared<ClusterRateLimiter>(config, "gwrl:x:", buckets);
  const std::string long_key(10'000, 'a');
  EXPECT_TRUE(limiter->Take(long_key, kT0).allowed);
  ASSERT_EQ(buckets->queued.size(), 1u);
  EXPECT_EQ(buckets->queued[0].second.size(), kMaxRateLimitKeySize);
  EXPECT_EQ(limiter->BeginSync(buckets->queued[0].second), std::optional<uint64_t>(1));
  EXPECT_FALSE(limiter->EndSync(buckets->queued[0].second, 0, kT0));
  EXPECT_FALSE(limiter->Take(long_key, kT0).allowed);  // the same (bounded) key

  // A flood of keys whose syncs were answered: the shards drop the least recently used.
  for (int i = 0; i < 1000; ++i) {
    const std::string key = "client-" + std::to_string(i);
    limiter->Take(key, kT0 + seconds(i));
    limiter->BeginSync(key);
    limiter->EndSync(key, 0, kT0 + seconds(i));
  }
  EXPECT_LE(limiter->key_count(), 64u + ClusterRateLimiter::kShards);
}

TEST(ClusterRateLimiterRegistry, OneLimiterPerRouteAndLimitAndTheSameBucketsOnEveryGateway) {
  auto buckets = std::make_shared<FakeBuckets>();
  ClusterRateLimiterRegistry gateway_1;
  ClusterRateLimiterRegistry gateway_2;
  gateway_1.SetBuckets(buckets);
  gateway_2.SetBuckets(buckets);
  auto a = gateway_1.Get("identity /api", "/api (prefix)", "ip", Limit(100, 1));
  EXPECT_EQ(gateway_1.Get("identity /api", "/api (prefix)", "ip", Limit(100, 1)), a);
  auto b = gateway_2.Get("identity /api", "/api (prefix)", "ip", Limit(100, 1));
  EXPECT_NE(a, b);                                    // each gateway its own leases...
  EXPECT_EQ(a->bucket_prefix(), b->bucket_prefix());  // ... of the same buckets in Redis
  EXPECT_EQ(a->bucket_prefix().size(), 5u + 32u + 1u);
  EXPECT_TRUE(a->bucket_prefix().starts_with("gwrl:"));
  EXPECT_TRUE(a->bucket_prefix().ends_with(":"));
  // A changed route, key or limit is another bucket (a new one starts full, as locally).
  for (const auto& other :
       {gateway_1.Get("identity /api2", "/api2 (prefix)", "ip", Limit(100, 1)),
        gateway_1.Get("identity /api", "/api (prefix)", "header:x-user", Limit(100, 1)),
        gateway_1.Get("identity /api", "/api (prefix)", "ip", Limit(100, 60)),
        gateway_1.Get("identity /api", "/api (prefix)", "ip", Limit(100, 1, 200))}) {
    EXPECT_NE(other->bucket_prefix(), a->bucket_prefix());
  }
  // burst 0 and burst == requests behave alike: one limiter, one bucket.
  EXPECT_EQ(gateway_1.Get("identity /api", "/api (prefix)", "ip", Limit(100, 1, 100)), a);

  // Limiters no table holds any more are forgotten.
  auto kept = gateway_1.Get("identity /api2", "/api2 (prefix)", "ip", Limit(100, 1));
  a.reset();
  gateway_1.Prune();
  EXPECT_EQ(gateway_1.size(), 1u);
}

}  // namespace
}  // namespace gw
