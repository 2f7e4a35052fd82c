#include "gateway/config/backoff.h"

#include <gtest/gtest.h>

#include <set>

namespace gw {
namespace {

using std::chrono::milliseconds;

TEST(BackoffTest, BaseDoublesUpToTheCap) {
  Backoff backoff(milliseconds(100), milliseconds(2000), /*seed=*/1);
  const int64_t expected[] = {100, 200, 400, 800, 1600, 2000, 2000, 2000};
  for (int64_t base : expected) {
    EXPECT_EQ(backoff.base().count(), base);
    backoff.Next();
  }
}

TEST(BackoffTest, EveryDelayIsWithinHalfToFullBase) {
  for (uint64_t seed = 0; seed < 200; ++seed) {
    Backoff backoff(milliseconds(100), milliseconds(2000), seed);
    for (int attempt = 0; attempt < 10; ++attempt) {
      const int64_t base = backoff.base().count();
      const int64_t delay = backoff.Next().count();
      EXPECT_GE(delay, base / 2) << "seed " << seed << " attempt " << attempt;
      EXPECT_LE(delay, base) << "seed " << seed << " attempt " << attempt;
    }
  }
}

TEST(BackoffTest, NeverExceedsTheCap) {
  Backoff backoff(milliseconds(100), milliseconds(2000), /*seed=*/7);
  for (int attempt = 0; attempt < 1000; ++attempt) EXPECT_LE(backoff.Next().count(), 2000);
}

TEST(BackoffTest, JitterSpreadsGatewaysApart) {
  std::set<int64_t> delays;
  for (uint64_t seed = 0; seed < 50; ++seed) {
    Backoff backoff(milliseconds(100), milliseconds(2000), seed);
    for (int attempt = 0; attempt < 5; ++attempt) backoff.Next();
    delays.insert(backoff.Next().count());  // base 2000: drawn from [1000, 2000]
  }
  EXPECT_GT(delays.size(), 20u);
}

TEST(BackoffTest, ResetStartsOver) {
  Backoff backoff(milliseconds(100), milliseconds(2000), /*seed=*/3);
  for (int attempt = 0; attempt < 6; ++attempt) backoff.Next();
  EXPECT_EQ(backoff.base().count(), 2000);
  backoff.Reset();
  EXPECT_EQ(backoff.base().count(), 100);
  const int64_t delay = backoff.Next().count();
  EXPECT_GE(delay, 50);
  EXPECT_LE(delay, 100);
}

TEST(BackoffTest, CapBelowInitialIsRaisedToInitial) {
  Backoff backoff(milliseconds(100), milliseconds(10), /*seed=*/3);
  EXPECT_LE(backoff.Next().count(), 100);
  EXPECT_EQ(backoff.base().count(), 100);
}

}  // namespace
}  // namespace gw
