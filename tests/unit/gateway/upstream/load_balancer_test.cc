#include "gateway/upstream/load_balancer.h"

#include <gtest/gtest.h>

#include <deque>
#include <map>
#include <string>
#include <vector>

namespace gw {
namespace {

using std::chrono::seconds;

const SteadyTime kNow = SteadyTime() + std::chrono::hours(1);

// Plays back the numbers it is given, then fails the test.
class ScriptedRandom final : public RandomSource {
 public:
  ScriptedRandom(std::initializer_list<uint64_t> numbers) : numbers_(numbers) {}
  uint64_t Next() override {
    if (numbers_.empty()) {
      ADD_FAILURE() << "more random numbers drawn than scripted";
      return 0;
    }
    const uint64_t n = numbers_.front();
    numbers_.pop_front();
    return n;
  }
  size_t left() const { return numbers_.size(); }

 private:
  std::deque<uint64_t> numbers_;
};

std::shared_ptr<ServiceEndpoints> Service(size_t endpoints, Balancing balancing) {
  ServicePolicy policy;
  for (size_t i = 0; i < endpoints; ++i) {
    policy.endpoints.push_back({"10.0.0." + std::to_string(i + 1), 8080});
  }
  policy.balancing = balancing;
  policy.eject_after = 1;
  policy.eject_for = seconds(30);
  return std::make_shared<ServiceEndpoints>("order-svc", policy);
}

void Eject(ServiceEndpoints& service, size_t i) { ASSERT_TRUE(service.RecordFailure(i, kNow)); }

std::map<size_t, int> Spread(ServiceEndpoints& service, int picks, RandomSource& random,
                             const HashRing* ring = nullptr) {
  std::map<size_t, int> counts;
  for (int i = 0; i < picks; ++i) {
    const auto pick = Pick(service, ring, std::nullopt, random, kNow);
    if (pick) ++counts[*pick];
  }
  return counts;
}

TEST(PickRoundRobin, CyclesThroughTheEndpoints) {
  const auto service = Service(3, Balancing::kRoundRobin);
  ScriptedRandom random({});
  std::vector<size_t> picks;
  for (int i = 0; i < 6; ++i) picks.push_back(*Pick(*service, nullptr, std::nullopt, random, kNow));
  EXPECT_EQ(picks, (std::vector<size_t>{0, 1, 2, 0, 1, 2}));
}

TEST(PickRoundRobin, SpreadsEvenlyOverTheAvailableOnes) {
  const auto service = Service(4, Balancing::kRoundRobin);
  Eject(*service, 1);
  ScriptedRandom random({});
  const auto counts = Spread(*service, 3 * 4 * 1000, random);
  EXPECT_EQ(counts.count(1), 0u);
  for (size_t i : {0, 2, 3}) EXPECT_EQ(counts.at(i), 4000) << i;
}

TEST(PickRoundRobin, SkipsTriedEndpoints) {
  const auto service = Service(3, Balancing::kRoundRobin);
  ScriptedRandom random({});
  const std::vector<size_t> tried = {0, 1};
  for (int i = 0; i < 5; ++i)
    EXPECT_EQ(Pick(*service, nullptr, std::nullopt, random, kNow, tried), 2u);
  const std::vector<size_t> all = {0, 1, 2};
  EXPECT_EQ(Pick(*service, nullptr, std::nullopt, random, kNow, all), std::nullopt);
}

TEST(Pick, NoEndpointWhenNoneIsAvailable) {
  for (auto balancing : {Balancing::kRoundRobin, Balancing::kLeastRequest, Balancing::kRandom,
                         Balancing::kRingHash}) {
    const auto service = Service(2, balancing);
    Eject(*service, 0);
    Eject(*service, 1);
    const HashRing ring(service->policy().endpoints);
    SplitMix64 random(7);
    EXPECT_EQ(Pick(*service, &ring, HashKey("user-1"), random, kNow), std::nullopt);
    EXPECT_EQ(Pick(*service, &ring, std::nullopt, random, kNow), std::nullopt);
    // Once the ejection is over, they serve again.
    EXPECT_TRUE(Pick(*service, &ring, std::nullopt, random, kNow + seconds(30)));
  }
}

TEST(Pick, NoEndpointForAnEmptyService) {
  const auto service = std::make_shared<ServiceEndpoints>("empty-svc", ServicePolicy{});
  SplitMix64 random(1);
  EXPECT_EQ(Pick(*service, nullptr, std::nullopt, random, kNow), std::nullopt);
}

TEST(PickLeastRequest, TakesTheLessLoadedOfTwoRandomEndpoints) {
  const auto service = Service(4, Balancing::kLeastRequest);
  auto a = service->StartRequest(1);
  auto b = service->StartRequest(1);
  auto c = service->StartRequest(3);
  {
    ScriptedRandom random({1, 3});  // draws endpoints 1 (2 in flight) and 3 (1 in flight)
    EXPECT_EQ(Pick(*service, nullptr, std::nullopt, random, kNow), 3u);
  }
  {
    ScriptedRandom random({3, 0});  // 3 (1) against 0 (0)
    EXPECT_EQ(Pick(*service, nullptr, std::nullopt, random, kNow), 0u);
  }
  {
    ScriptedRandom random({2, 0});  // a tie goes to the first draw
    EXPECT_EQ(Pick(*service, nullptr, std::nullopt, random, kNow), 2u);
  }
  {
    // The second draw lands on the first one: redrawn among the others (0, 2, 3): 2 % 3 -> 3.
    ScriptedRandom random({1, 1, 2});
    EXPECT_EQ(Pick(*service, nullptr, std::nullopt, random, kNow), 3u);
  }
}

TEST(PickLeastRequest, AvoidsTheBusiestEndpoint) {
  const auto service = Service(3, Balancing::kLeastRequest);
  std::vector<ServiceEndpoints::InFlight> busy;
  for (int i = 0; i < 10; ++i) busy.push_back(service->StartRequest(0));
  SplitMix64 random(42);
  const auto counts = Spread(*service, 3000, random);
  // Endpoint 0 wins only when drawn twice, which never happens: the second draw differs.
  EXPECT_EQ(counts.count(0), 0u);
  EXPECT_NEAR(counts.at(1), 1500, 150);
  EXPECT_NEAR(counts.at(2), 1500, 150);
}

TEST(PickLeastRequest, UsesTheOnlyCandidate) {
  const auto service = Service(3, Balancing::kLeastRequest);
  Eject(*service, 0);
  Eject(*service, 2);
  // 0 is out: the redraw picks the only candidate, 1; the second draw (9 -> 0) finds no other.
  ScriptedRandom random({0, 5, 9});
  EXPECT_EQ(Pick(*service, nullptr, std::nullopt, random, kNow), 1u);
  EXPECT_EQ(random.left(), 0u);
}

TEST(PickRandom, IsUniformOverTheAvailableEndpoints) {
  const auto service = Service(5, Balancing::kRandom);
  Eject(*service, 4);
  SplitMix64 random(3);
  const auto counts = Spread(*service, 40000, random);
  EXPECT_EQ(counts.count(4), 0u);
  for (size_t i = 0; i < 4; ++i) EXPECT_NEAR(counts.at(i), 10000, 400) << i;
}

TEST(PickRandom, SkipsTriedEndpoints) {
  const auto service = Service(3, Balancing::kRandom);
  SplitMix64 random(5);
  const std::vector<size_t> tried = {2};
  for (int i = 0; i < 100; ++i) {
    EXPECT_NE(Pick(*service, nullptr, std::nullopt, random, kNow, tried), 2u);
  }
}

TEST(HashKey, IsStableAndSpreadsCloseKeys) {
  EXPECT_EQ(HashKey("user-1"), HashKey("user-1"));
  EXPECT_NE(HashKey("user-1"), HashKey("user-2"));
  EXPECT_NE(HashKey(""), HashKey("a"));
  EXPECT_EQ(HashKey("user-1"), HashKey(std::string("user-") + "1"));
}

TEST(HashRing, HasPointsPerEndpointAndIsDeterministic) {
  const auto service = Service(3, Balancing::kRingHash);
  const HashRing ring(service->policy().endpoints);
  EXPECT_EQ(ring.point_count(), 300u);
  const HashRing again(service->policy().endpoints);
  SplitMix64 random(1);
  for (int k = 0; k < 200; ++k) {
    const uint64_t key = HashKey("user-" + std::to_string(k));
    EXPECT_EQ(Pick(*service, &ring, key, random, kNow), Pick(*service, &again, key, random, kNow));
  }
}

TEST(PickRingHash, TheSameKeyGoesToTheSameEndpoint) {
  const auto service = Service(4, Balancing::kRingHash);
  const HashRing ring(service->policy().endpoints);
  ScriptedRandom random({});  // a key needs no randomness
  for (int k = 0; k < 50; ++k) {
    const uint64_t key = HashKey("session-" + std::to_string(k));
    const auto first = Pick(*service, &ring, key, random, kNow);
    ASSERT_TRUE(first);
    for (int again = 0; again < 5; ++again) {
      EXPECT_EQ(Pick(*service, &ring, key, random, kNow), first);
    }
  }
}

TEST(PickRingHash, SpreadsKeysOverEndpoints) {
  const auto service = Service(4, Balancing::kRingHash);
  const HashRing ring(service->policy().endpoints);
  ScriptedRandom random({});
  std::map<size_t, int> counts;
  constexpr int kKeys = 20000;
  for (int k = 0; k < kKeys; ++k) {
    ++counts[*Pick(*service, &ring, HashKey("k" + std::to_string(k)), random, kNow)];
  }
  // 100 points per endpoint keep each share within a few tens of percent of even.
  for (size_t i = 0; i < 4; ++i) EXPECT_NEAR(counts[i], kKeys / 4, kKeys / 4 * 0.3) << i;
}

TEST(PickRingHash, OnlyTheKeysOfAnUnavailableEndpointMove) {
  const auto service = Service(5, Balancing::kRingHash);
  const HashRing ring(service->policy().endpoints);
  ScriptedRandom random({});
  constexpr int kKeys = 2000;
  std::vector<size_t> before;
  for (int k = 0; k < kKeys; ++k) {
    before.push_back(*Pick(*service, &ring, HashKey("k" + std::to_string(k)), random, kNow));
  }
  Eject(*service, 2);
  std::map<size_t, int> moved_to;
  for (int k = 0; k < kKeys; ++k) {
    const size_t now = *Pick(*service, &ring, HashKey("k" + std::to_string(k)), random, kNow);
    if (before[k] == 2) {
      EXPECT_NE(now, 2u);
      ++moved_to[now];
    } else {
      EXPECT_EQ(now, before[k]) << "key " << k << " moved";
    }
  }
  EXPECT_GE(moved_to.size(), 3u);  // spread over the others, not dumped on one
  // Back when the ejection is over.
  for (int k = 0; k < kKeys; ++k) {
    EXPECT_EQ(Pick(*service, &ring, HashKey("k" + std::to_string(k)), random, kNow + seconds(30)),
              before[k]);
  }
}

TEST(PickRingHash, ARetryGoesToTheNextEndpointOnTheRing) {
  const auto service = Service(3, Balancing::kRingHash);
  const HashRing ring(service->policy().endpoints);
  ScriptedRandom random({});
  const uint64_t key = HashKey("user-9");
  const size_t first = *Pick(*service, &ring, key, random, kNow);
  const std::vector<size_t> tried = {first};
  const auto second = Pick(*service, &ring, key, random, kNow, tried);
  ASSERT_TRUE(second);
  EXPECT_NE(*second, first);
  // Where the key would go with the first endpoint ejected: the same place.
  Eject(*service, first);
  EXPECT_EQ(Pick(*service, &ring, key, random, kNow), second);
}

TEST(PickRingHash, WithoutAKeyPicksAtRandom) {
  const auto service = Service(3, Balancing::kRingHash);
  const HashRing ring(service->policy().endpoints);
  ScriptedRandom random({4});
  EXPECT_EQ(Pick(*service, &ring, std::nullopt, random, kNow), 1u);
  EXPECT_EQ(random.left(), 0u);
}

TEST(LoadBalancer, BuildsARingForRingHashOnly) {
  LoadBalancer hashed(Service(3, Balancing::kRingHash));
  LoadBalancer round_robin(Service(3, Balancing::kRoundRobin));
  ScriptedRandom random({});
  const uint64_t key = HashKey("user-1");
  const auto pick = hashed.Pick(key, random, kNow);
  ASSERT_TRUE(pick);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(hashed.Pick(key, random, kNow), pick);
  EXPECT_EQ(round_robin.Pick(key, random, kNow), 0u);
  EXPECT_EQ(round_robin.Pick(key, random, kNow), 1u);
  EXPECT_EQ(round_robin.endpoints().service(), "order-svc");
}

}  // namespace
}  // namespace gw
