#include "gateway/upstream/round_robin.h"

#include <gtest/gtest.h>

#include <vector>

namespace gw {
namespace {

TEST(RoundRobin, CyclesThroughEveryEndpointInTurn) {
  RoundRobin balancer;
  std::vector<size_t> picks;
  for (int i = 0; i < 7; ++i) picks.push_back(balancer.Next("order-svc", 3));
  EXPECT_EQ(picks, (std::vector<size_t>{0, 1, 2, 0, 1, 2, 0}));
}

TEST(RoundRobin, KeepsOneCursorPerUpstream) {
  RoundRobin balancer;
  EXPECT_EQ(balancer.Next("a", 2), 0u);
  EXPECT_EQ(balancer.Next("b", 2), 0u);
  EXPECT_EQ(balancer.Next("a", 2), 1u);
  EXPECT_EQ(balancer.Next("b", 2), 1u);
  EXPECT_EQ(balancer.size(), 2u);
}

TEST(RoundRobin, FollowsAChangedEndpointCount) {
  RoundRobin balancer;
  EXPECT_EQ(balancer.Next("svc", 2), 0u);
  EXPECT_EQ(balancer.Next("svc", 2), 1u);
  // The service gained an endpoint in a new config version: picks stay in range and spread.
  std::vector<size_t> counts(3, 0);
  for (int i = 0; i < 30; ++i) {
    const size_t pick = balancer.Next("svc", 3);
    ASSERT_LT(pick, 3u);
    ++counts[pick];
  }
  EXPECT_EQ(counts, (std::vector<size_t>{10, 10, 10}));
}

TEST(RoundRobin, ClearRestartsEveryCursor) {
  RoundRobin balancer;
  balancer.Next("svc", 4);
  balancer.Next("svc", 4);
  balancer.Clear();
  EXPECT_EQ(balancer.size(), 0u);
  EXPECT_EQ(balancer.Next("svc", 4), 0u);
}

}  // namespace
}  // namespace gw
