#include "gateway/proxy/round_robin.h"

#include <gtest/gtest.h>

#include <memory>
#include <thread>
#include <vector>

namespace gw {
namespace {

// Not copyable (its cursor is an atomic): made on the heap, as RouteTable::Build does.
std::unique_ptr<const UpstreamTarget> Target(size_t endpoints) {
  auto target = std::make_unique<UpstreamTarget>();
  target->name = "order-svc";
  target->is_service = true;
  for (size_t i = 0; i < endpoints; ++i) {
    target->endpoints.push_back({"127.0.0.1", static_cast<uint16_t>(9100 + i)});
  }
  return target;
}

TEST(RoundRobinNext, CyclesThroughEveryEndpointInTurn) {
  const auto target = Target(3);
  std::vector<size_t> picks;
  for (int i = 0; i < 7; ++i) picks.push_back(RoundRobinNext(*target));
  EXPECT_EQ(picks, (std::vector<size_t>{0, 1, 2, 0, 1, 2, 0}));
}

TEST(RoundRobinNext, KeepsOneCursorPerUpstream) {
  const auto a = Target(2);
  const auto b = Target(2);
  EXPECT_EQ(RoundRobinNext(*a), 0u);
  EXPECT_EQ(RoundRobinNext(*b), 0u);
  EXPECT_EQ(RoundRobinNext(*a), 1u);
  EXPECT_EQ(RoundRobinNext(*b), 1u);
}

TEST(RoundRobinNext, OneEndpointIsAlwaysTheFirst) {
  const auto target = Target(1);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(RoundRobinNext(*target), 0u);
}

// The cursor is shared by every worker: however the picks interleave across threads, each
// endpoint gets exactly its share.
TEST(RoundRobinNext, IsExactlyEvenAcrossThreads) {
  const auto target = Target(3);
  constexpr int kThreads = 4;
  constexpr int kPicksPerThread = 3000;
  std::vector<std::vector<size_t>> counts(kThreads, std::vector<size_t>(3, 0));
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&target, &mine = counts[t]] {
      for (int i = 0; i < kPicksPerThread; ++i) ++mine[RoundRobinNext(*target)];
    });
  }
  for (auto& thread : threads) thread.join();
  std::vector<size_t> total(3, 0);
  for (const auto& mine : counts) {
    for (size_t e = 0; e < 3; ++e) total[e] += mine[e];
  }
  const size_t share = kThreads * kPicksPerThread / 3;
  EXPECT_EQ(total, (std::vector<size_t>{share, share, share}));
}

}  // namespace
}  // namespace gw
