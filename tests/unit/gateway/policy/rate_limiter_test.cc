#include "gateway/policy/rate_limiter.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace gw {
namespace {

using std::chrono::hours;
using std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::seconds;
using Time = std::chrono::steady_clock::time_point;

// An arbitrary start: the limiter only looks at differences.
const Time kT0 = Time{} + hours(1000);

RateLimitConfig Limit(uint64_t requests, uint32_t period_seconds, uint64_t burst = 0) {
  RateLimitConfig config;
  config.requests = requests;
  config.period_seconds = period_seconds;
  config.burst = burst;
  return config;
}

// How many of `n` requests at `now` are allowed.
int Allowed(RateLimiter& limiter, std::string_view key, Time now, int n) {
  int allowed = 0;
  for (int i = 0; i < n; ++i) allowed += limiter.Take(key, now).allowed ? 1 : 0;
  return allowed;
}

TEST(CheckRateLimitConfig, RefusesWhatCannotBeApplied) {
  EXPECT_EQ(CheckRateLimitConfig(Limit(10, 1)), "");
  EXPECT_EQ(CheckRateLimitConfig(Limit(10, 60, 100)), "");
  EXPECT_EQ(CheckRateLimitConfig(Limit(10, 3600)), "");
  EXPECT_EQ(CheckRateLimitConfig(Limit(0, 1)), "rate limit must be > 0");
  EXPECT_EQ(CheckRateLimitConfig(Limit(10, 2)), "rate limit period must be 1, 60 or 3600 seconds");
  EXPECT_NE(CheckRateLimitConfig(Limit(kMaxRateLimitTokens + 1, 1)), "");
  EXPECT_NE(CheckRateLimitConfig(Limit(1, 1, kMaxRateLimitTokens + 1)), "");
  RateLimitConfig no_keys = Limit(1, 1);
  no_keys.max_keys = 0;
  EXPECT_NE(CheckRateLimitConfig(no_keys), "");
}

TEST(RateLimiter, PerSecondAllowsTheRateThenRefusesWithRetryAfter) {
  RateLimiter limiter(Limit(10, 1));
  for (int i = 0; i < 10; ++i) {
    const RateLimitDecision d = limiter.Take("10.0.0.1", kT0);
    EXPECT_TRUE(d.allowed) << i;
    EXPECT_EQ(d.limit, 10u);
    EXPECT_EQ(d.remaining, static_cast<uint64_t>(9 - i));
    EXPECT_EQ(d.reset_seconds, 1u);  // 1..10 tokens missing at 10/s: under a second
  }
  const RateLimitDecision refused = limiter.Take("10.0.0.1", kT0);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.remaining, 0u);
  EXPECT_EQ(refused.retry_after_seconds, 1u);  // 100 ms, rounded up to a whole second
  EXPECT_EQ(refused.reset_seconds, 1u);

  // One token every 100 ms.
  EXPECT_FALSE(limiter.Take("10.0.0.1", kT0 + milliseconds(99)).allowed);
  EXPECT_TRUE(limiter.Take("10.0.0.1", kT0 + milliseconds(100)).allowed);
  EXPECT_FALSE(limiter.Take("10.0.0.1", kT0 + milliseconds(100)).allowed);
  // A whole second later the bucket is full again: exactly 10 more.
  EXPECT_EQ(Allowed(limiter, "10.0.0.1", kT0 + milliseconds(1100), 20), 10);
}

TEST(RateLimiter, PerMinute) {
  RateLimiter limiter(Limit(60, 60));
  EXPECT_EQ(Allowed(limiter, "k", kT0, 100), 60);
  const RateLimitDecision refused = limiter.Take("k", kT0);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.retry_after_seconds, 1u);
  EXPECT_EQ(refused.reset_seconds, 60u);
  EXPECT_FALSE(limiter.Take("k", kT0 + milliseconds(999)).allowed);
  EXPECT_TRUE(limiter.Take("k", kT0 + seconds(1)).allowed);
  // 30 s later: 30 tokens.
  EXPECT_EQ(Allowed(limiter, "k", kT0 + seconds(31), 100), 30);
}

TEST(RateLimiter, PerHour) {
  RateLimiter limiter(Limit(10, 3600));  // one token every 6 minutes
  EXPECT_EQ(Allowed(limiter, "k", kT0, 11), 10);
  RateLimitDecision refused = limiter.Take("k", kT0);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.retry_after_seconds, 360u);
  EXPECT_EQ(refused.reset_seconds, 3600u);

  refused = limiter.Take("k", kT0 + seconds(359) + milliseconds(500));
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.retry_after_seconds, 1u);  // half a second, rounded up
  EXPECT_EQ(refused.reset_seconds, 3241u);     // 3240.5 s

  const RateLimitDecision allowed = limiter.Take("k", kT0 + seconds(360));
  EXPECT_TRUE(allowed.allowed);
  EXPECT_EQ(allowed.remaining, 0u);
  EXPECT_EQ(allowed.retry_after_seconds, 360u);  // the next one waits a whole interval
}

TEST(RateLimiter, RatesThatDoNotDivideTheSecondAreExact) {
  RateLimiter limiter(Limit(3, 1));
  EXPECT_EQ(Allowed(limiter, "k", kT0, 3), 3);
  // A token takes 333333.33 us.
  EXPECT_FALSE(limiter.Take("k", kT0 + microseconds(333333)).allowed);
  EXPECT_TRUE(limiter.Take("k", kT0 + microseconds(333334)).allowed);
  // Over 10 s from empty, exactly 30 tokens (no drift from rounding).
  RateLimiter hourly(Limit(7, 3600));
  EXPECT_EQ(Allowed(hourly, "k", kT0, 7), 7);
  int allowed = 0;
  for (int minute = 1; minute <= 600; ++minute) {
    allowed += Allowed(hourly, "k", kT0 + std::chrono::minutes(minute), 2);
  }
  EXPECT_EQ(allowed, 70);  // ten hours at 7 per hour
}

TEST(RateLimiter, BurstIsTheBucketSize) {
  RateLimiter limiter(Limit(1, 1, 5));
  const RateLimitDecision first = limiter.Take("k", kT0);
  EXPECT_EQ(first.limit, 5u);
  EXPECT_EQ(first.remaining, 4u);
  EXPECT_EQ(first.reset_seconds, 1u);
  EXPECT_EQ(Allowed(limiter, "k", kT0, 10), 4);
  const RateLimitDecision refused = limiter.Take("k", kT0);
  EXPECT_EQ(refused.retry_after_seconds, 1u);
  EXPECT_EQ(refused.reset_seconds, 5u);
  EXPECT_EQ(Allowed(limiter, "k", kT0 + seconds(2), 10), 2);
  // A long idle time refills to the burst, never beyond.
  EXPECT_EQ(Allowed(limiter, "k", kT0 + hours(5), 10), 5);
}

TEST(RateLimiter, BurstSmallerThanTheRate) {
  RateLimiter limiter(Limit(100, 1, 10));
  EXPECT_EQ(Allowed(limiter, "k", kT0, 100), 10);
  EXPECT_EQ(Allowed(limiter, "k", kT0 + milliseconds(10), 5), 1);
  EXPECT_EQ(Allowed(limiter, "k", kT0 + seconds(1), 100), 10);
}

TEST(RateLimiter, TimeNeverRunsBackwardsForABucket) {
  RateLimiter limiter(Limit(1, 1));
  EXPECT_TRUE(limiter.Take("k", kT0 + seconds(10)).allowed);
  // A worker that read the clock earlier gets no token from the difference.
  EXPECT_FALSE(limiter.Take("k", kT0 + seconds(9)).allowed);
  EXPECT_FALSE(limiter.Take("k", kT0 + seconds(10)).allowed);
  EXPECT_TRUE(limiter.Take("k", kT0 + seconds(11)).allowed);
}

TEST(RateLimiter, KeysHaveTheirOwnBuckets) {
  RateLimiter limiter(Limit(2, 60));
  for (int i = 0; i < 1000; ++i) {
    const std::string key = "client-" + std::to_string(i);
    EXPECT_EQ(Allowed(limiter, key, kT0, 3), 2) << key;
  }
  EXPECT_EQ(limiter.key_count(), 1000u);
}

TEST(RateLimiter, LongKeysAreBoundedAndStillDistinct) {
  RateLimiter limiter(Limit(1, 60));
  const std::string a = std::string(1000, 'x') + "a";
  const std::string b = std::string(1000, 'x') + "b";
  EXPECT_TRUE(limiter.Take(a, kT0).allowed);
  EXPECT_TRUE(limiter.Take(b, kT0).allowed);
  EXPECT_FALSE(limiter.Take(a, kT0).allowed);
  EXPECT_FALSE(limiter.Take(b, kT0).allowed);
  EXPECT_EQ(limiter.key_count(), 2u);
}

TEST(RateLimiter, KeepsAtMostMaxKeys) {
  RateLimitConfig config = Limit(1, 3600);
  config.max_keys = 160;  // 10 per shard
  RateLimiter limiter(config);
  for (int i = 0; i < 10'000; ++i) {
    EXPECT_TRUE(limiter.Take("ip-" + std::to_string(i), kT0 + microseconds(i)).allowed);
    ASSERT_LE(limiter.key_count(), 160u);
  }
  EXPECT_GT(limiter.key_count(), 100u);
}

TEST(RateLimiter, EvictsTheLeastRecentlyUsedAndKeepsABusyKey) {
  RateLimitConfig config = Limit(1, 3600);
  config.max_keys = 160;
  RateLimiter limiter(config);
  Time now = kT0;
  EXPECT_TRUE(limiter.Take("abuser", now).allowed);
  for (int i = 0; i < 10'000; ++i) {
    now += microseconds(1);
    limiter.Take("ip-" + std::to_string(i), now);
    if (i % 10 == 0) {
      now += microseconds(1);
      ASSERT_FALSE(limiter.Take("abuser", now).allowed) << "forgotten after " << i << " keys";
    }
  }
}

TEST(RateLimiter, FullBucketsGoFirst) {
  RateLimitConfig config = Limit(1, 1);
  config.max_keys = 16;  // one per shard
  RateLimiter limiter(config);
  // Each new key at a later second finds the previous bucket in its shard full again: dropped
  // exactly (a full bucket is no bucket), so every key keeps its one token a second.
  for (int i = 0; i < 1000; ++i) {
    EXPECT_TRUE(limiter.Take("ip-" + std::to_string(i), kT0 + seconds(i)).allowed);
    EXPECT_FALSE(limiter.Take("ip-" + std::to_string(i), kT0 + seconds(i)).allowed);
  }
  EXPECT_LE(limiter.key_count(), 16u);
}

TEST(RateLimiter, SweepDropsOnlyFullBuckets) {
  RateLimiter limiter(Limit(1, 60));
  EXPECT_TRUE(limiter.Take("old", kT0).allowed);
  EXPECT_TRUE(limiter.Take("new", kT0 + seconds(30)).allowed);
  limiter.Sweep(kT0 + seconds(60));
  EXPECT_EQ(limiter.key_count(), 1u);
  EXPECT_FALSE(limiter.Take("new", kT0 + seconds(60)).allowed);
  limiter.Sweep(kT0 + seconds(200));
  EXPECT_EQ(limiter.key_count(), 0u);
}

TEST(RateLimiter, TwoThreadsTakeExactlyTheBucket) {
  RateLimiter limiter(Limit(500, 3600));
  const std::vector<std::string> keys = {"a", "b", "c", "d"};
  std::atomic<int> allowed{0};
  std::atomic<int> refused{0};
  auto worker = [&](int offset) {
    for (int i = 0; i < 2000; ++i) {
      const bool ok = limiter.Take(keys[(i + offset) % keys.size()], kT0).allowed;
      (ok ? allowed : refused).fetch_add(1);
    }
  };
  std::thread t1(worker, 0);
  std::thread t2(worker, 1);
  t1.join();
  t2.join();
  EXPECT_EQ(allowed.load(), 2000);  // 4 keys x 500
  EXPECT_EQ(refused.load(), 2000);
}

TEST(FormatRateLimitHeaders, ThreeFieldsAndRetryAfterOnRefusal) {
  RateLimitDecision decision;
  decision.allowed = true;
  decision.limit = 100;
  decision.remaining = 42;
  decision.reset_seconds = 7;
  RateLimitHeaders headers = FormatRateLimitHeaders(decision);
  ASSERT_EQ(headers.size(), 3u);
  std::vector<std::pair<std::string, std::string>> fields;
  for (const RateLimitHeader& h : headers) fields.emplace_back(h.name, h.value);
  EXPECT_EQ(fields, (std::vector<std::pair<std::string, std::string>>{{"RateLimit-Limit", "100"},
                                                                      {"RateLimit-Remaining", "42"},
                                                                      {"RateLimit-Reset", "7"}}));

  decision.allowed = false;
  decision.remaining = 0;
  decision.retry_after_seconds = 360;
  headers = FormatRateLimitHeaders(decision);
  ASSERT_EQ(headers.size(), 4u);
  EXPECT_EQ(headers.begin()[3].name, "Retry-After");
  EXPECT_EQ(headers.begin()[3].value, "360");
}

TEST(FormatRateLimitHeaders, FromARealRefusal) {
  RateLimiter limiter(Limit(2, 60));
  limiter.Take("k", kT0);
  limiter.Take("k", kT0);
  const RateLimitHeaders headers = FormatRateLimitHeaders(limiter.Take("k", kT0 + seconds(10)));
  std::vector<std::string> values;
  for (const RateLimitHeader& h : headers) values.push_back(h.value);
  // 10 s after two requests at 2/min: a third of a token; the next in 20 s, full in 50 s.
  EXPECT_EQ(values, (std::vector<std::string>{"2", "0", "50", "20"}));
}

TEST(RateLimiterRegistry, AnUnchangedLimitKeepsItsBuckets) {
  RateLimiterRegistry registry;
  RateLimiterSharedPtr old_table = registry.Get("/api|prefix", "ip", Limit(1, 60));
  EXPECT_TRUE(old_table->Take("10.0.0.1", kT0).allowed);

  // The next table, built while the old one still serves, gets the same limiter.
  RateLimiterSharedPtr new_table = registry.Get("/api|prefix", "ip", Limit(1, 60));
  EXPECT_EQ(new_table, old_table);
  EXPECT_FALSE(new_table->Take("10.0.0.1", kT0).allowed);
  // burst 0 means `requests`: the same limit.
  EXPECT_EQ(registry.Get("/api|prefix", "ip", Limit(1, 60, 1)), old_table);
}

TEST(RateLimiterRegistry, AChangedRouteOrLimitStartsOver) {
  RateLimiterRegistry registry;
  RateLimiterSharedPtr limiter = registry.Get("/api|prefix", "ip", Limit(1, 60));
  EXPECT_NE(registry.Get("/api|prefix", "ip", Limit(2, 60)), limiter);
  EXPECT_NE(registry.Get("/api|prefix", "ip", Limit(1, 3600)), limiter);
  EXPECT_NE(registry.Get("/api|prefix", "ip", Limit(1, 60, 5)), limiter);
  EXPECT_NE(registry.Get("/api|prefix", "consumer", Limit(1, 60)), limiter);
  EXPECT_NE(registry.Get("/api|exact", "ip", Limit(1, 60)), limiter);
}

TEST(RateLimiterRegistry, DropsLimitersNoTableHolds) {
  RateLimiterRegistry registry;
  RateLimiterSharedPtr kept = registry.Get("/a", "ip", Limit(1, 60));
  std::weak_ptr<RateLimiter> dropped = registry.Get("/b", "ip", Limit(1, 60));
  EXPECT_TRUE(dropped.expired());  // the registry holds no limiter alive by itself
  EXPECT_EQ(registry.size(), 2u);
  registry.Prune();
  EXPECT_EQ(registry.size(), 1u);
  EXPECT_EQ(registry.Get("/a", "ip", Limit(1, 60)), kept);

  // A limiter whose tables are all gone starts with full buckets.
  kept->Take("k", kT0);
  kept.reset();
  EXPECT_TRUE(registry.Get("/a", "ip", Limit(1, 60))->Take("k", kT0).allowed);
}

TEST(RateLimiterRegistry, StaysBoundedWithoutExplicitPrunes) {
  RateLimiterRegistry registry;
  for (int i = 0; i < 10'000; ++i) registry.Get("/r" + std::to_string(i), "ip", Limit(1, 1));
  EXPECT_LT(registry.size(), 200u);
}

}  // namespace
}  // namespace gw
