#include "gateway/upstream/retry_budget.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace gw {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;

TEST(RetryBudget, AllowsMinRetriesWithoutTraffic) {
  RetryBudget budget(RetryBudgetConfig{20, 3});
  std::vector<RetryBudget::ActiveRetry> retries;
  for (int i = 0; i < 3; ++i) {
    retries.push_back(budget.TryStartRetry());
    EXPECT_TRUE(retries.back());
  }
  EXPECT_FALSE(budget.TryStartRetry());
  EXPECT_EQ(budget.active_retries(), 3u);
}

TEST(RetryBudget, AllowsAPercentOfActiveRequests) {
  RetryBudget budget(RetryBudgetConfig{20, 3});
  std::vector<RetryBudget::ActiveRequest> requests;
  for (int i = 0; i < 100; ++i) requests.push_back(budget.StartRequest());
  EXPECT_EQ(budget.Limit(), 20u);
  std::vector<RetryBudget::ActiveRetry> retries;
  for (int i = 0; i < 20; ++i) {
    retries.push_back(budget.TryStartRetry());
    ASSERT_TRUE(retries.back()) << i;
  }
  EXPECT_FALSE(budget.TryStartRetry());

  // Requests ending shrink the budget: 50 requests allow 10 retries, 20 are already running.
  requests.resize(50);
  EXPECT_EQ(budget.active_requests(), 50u);
  EXPECT_EQ(budget.Limit(), 10u);
  retries.resize(9);
  EXPECT_TRUE(budget.TryStartRetry());
}

TEST(RetryBudget, AFinishedRetryGivesItsPlaceBack) {
  RetryBudget budget(RetryBudgetConfig{20, 1});
  auto first = budget.TryStartRetry();
  ASSERT_TRUE(first);
  EXPECT_FALSE(budget.TryStartRetry());
  first.Release();
  EXPECT_EQ(budget.active_retries(), 0u);
  auto moved = budget.TryStartRetry();
  RetryBudget::ActiveRetry target = std::move(moved);
  EXPECT_FALSE(moved);
  EXPECT_TRUE(target);
  EXPECT_EQ(budget.active_retries(), 1u);
  target = RetryBudget::ActiveRetry();
  EXPECT_EQ(budget.active_retries(), 0u);
}

TEST(RetryBudget, NeverExceedsTheLimitUnderConcurrentRetries) {
  RetryBudget budget(RetryBudgetConfig{0, 5});
  std::atomic<int> granted{0};
  std::atomic<int> peak{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20000; ++i) {
        auto retry = budget.TryStartRetry();
        if (!retry) continue;
        const int now = granted.fetch_add(1) + 1;
        int seen = peak.load();
        while (now > seen && !peak.compare_exchange_weak(seen, now)) {
        }
        granted.fetch_sub(1);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_LE(peak.load(), 5);
  EXPECT_EQ(budget.active_retries(), 0u);
}

TEST(RetryBackoff, GrowsExponentiallyUpToTheCap) {
  // The pause is random_bits modulo (cap + 1) microseconds: `cap` bits give the top of the
  // range, one more wraps to 0.
  const std::vector<int64_t> caps = {25000, 50000, 100000, 200000, 250000, 250000};
  for (uint32_t retry = 1; retry <= caps.size(); ++retry) {
    const auto cap = static_cast<uint64_t>(caps[retry - 1]);
    EXPECT_EQ(RetryBackoff(retry, cap), microseconds(cap)) << retry;
    EXPECT_EQ(RetryBackoff(retry, cap + 1), microseconds(0)) << retry;
  }
  EXPECT_EQ(RetryBackoff(0, 25000), microseconds(25000));  // 0 counts as the first
  EXPECT_LE(RetryBackoff(1000000, ~uint64_t{0}), microseconds(250000));
  EXPECT_EQ(RetryBackoff(60, 250000), microseconds(250000));
}

TEST(RetryBackoff, IsFullJitterOverTheWholeRange) {
  // Uniform in [0, cap]: over many draws, the mean is near cap / 2 and both ends are reached.
  uint64_t state = 1;
  auto next = [&state] {  // SplitMix64
    uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  };
  const BackoffConfig config{milliseconds(10), milliseconds(100)};
  double sum = 0;
  microseconds low = microseconds::max();
  microseconds high{0};
  constexpr int kDraws = 20000;
  for (int i = 0; i < kDraws; ++i) {
    const auto pause = RetryBackoff(2, next(), config);  // cap 20 ms
    ASSERT_LE(pause, microseconds(20000));
    sum += static_cast<double>(pause.count());
    low = std::min(low, pause);
    high = std::max(high, pause);
  }
  EXPECT_NEAR(sum / kDraws, 10000.0, 300.0);
  EXPECT_LT(low, microseconds(200));
  EXPECT_GT(high, microseconds(19800));
}

}  // namespace
}  // namespace gw
