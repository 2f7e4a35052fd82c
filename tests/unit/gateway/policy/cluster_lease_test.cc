// ClusterLease: the lease protocol on one gateway, step by step, and its error bound across
// several simulated gateways sharing one bucket (the Redis script's arithmetic, in C++).
#include "gateway/policy/cluster_lease.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <queue>
#include <random>
#include <vector>

namespace gw {
namespace {

constexpr int64_t kSecond = 1'000'000;  // microseconds

ClusterBucketShape Shape(uint64_t requests, uint32_t period_seconds, uint64_t burst,
                         uint64_t max_lease) {
  RateLimitConfig config;
  config.requests = requests;
  config.period_seconds = period_seconds;
  config.burst = burst;
  return ClusterBucketShape::Of(config, max_lease);
}

// The shared bucket as RedisBucketClient's script keeps it: refilled by its own clock, charged
// with what a gateway reports, answering the level left (which may be negative).
struct SharedBucket {
  explicit SharedBucket(const ClusterBucketShape& shape) : shape(shape), level(shape.capacity) {}
  double Charge(uint64_t tokens, int64_t now_us) {
    if (now_us > last_us) {
      level = std::min(shape.capacity,
                       level + static_cast<double>(now_us - last_us) * shape.tokens_per_us);
      last_us = now_us;
    }
    level -= static_cast<double>(tokens);
    return level;
  }
  ClusterBucketShape shape;
  double level;
  int64_t last_us = 0;
};

TEST(LeaseFor, ATenthOfTheBucketBetweenOneAndTheMaximum) {
  RateLimitConfig config;
  config.requests = 10;
  config.period_seconds = 60;
  EXPECT_EQ(LeaseFor(config, 20), 1u);
  config.requests = 5;
  EXPECT_EQ(LeaseFor(config, 20), 1u);
  config.requests = 100;
  EXPECT_EQ(LeaseFor(config, 20), 10u);
  config.burst = 1000;
  EXPECT_EQ(LeaseFor(config, 20), 20u);
  EXPECT_EQ(LeaseFor(config, 0), 1u);
}

TEST(ClusterLease, ANewKeyAdmitsItsLeaseThenWaitsForTheBucket) {
  const ClusterBucketShape shape = Shape(100, 1, 0, 20);  // lease 10
  ASSERT_EQ(shape.lease, 10u);
  ClusterLease lease(shape, 0);
  auto first = lease.Take(shape, 0);
  EXPECT_TRUE(first.decision.allowed);
  EXPECT_TRUE(first.queue_sync);  // the first admission queues a sync...
  EXPECT_EQ(first.decision.limit, 100u);
  EXPECT_EQ(first.decision.remaining, 99u);
  EXPECT_EQ(first.decision.source, RateLimitSource::kCluster);
  for (int i = 1; i < 10; ++i) {
    auto next = lease.Take(shape, 0);
    EXPECT_TRUE(next.decision.allowed) << i;
    EXPECT_FALSE(next.queue_sync) << i;  // ... and later ones ride on it
  }
  EXPECT_EQ(lease.uncounted(), 10u);
  // The lease is used up and the bucket has not answered: refused, though it has tokens.
  auto refused = lease.Take(shape, 0);
  EXPECT_FALSE(refused.decision.allowed);
  EXPECT_EQ(refused.decision.retry_after_seconds, 1u);

  EXPECT_EQ(lease.BeginSync(), 10u);
  EXPECT_EQ(lease.uncounted(), 10u);  // in flight
  EXPECT_TRUE(lease.Take(shape, 0).decision.allowed == false);
  // The bucket charged the 10: 90 left. A new lease of 10.
  EXPECT_FALSE(lease.EndSync(shape, 90, 100));
  EXPECT_EQ(lease.uncounted(), 0u);
  EXPECT_EQ(lease.allowance(), 10u);
  EXPECT_FALSE(lease.queued());
  auto again = lease.Take(shape, 100);
  EXPECT_TRUE(again.decision.allowed);
  EXPECT_TRUE(again.queue_sync);
  EXPECT_EQ(again.decision.remaining, 89u);
}

TEST(ClusterLease, AdmissionsWhileASyncIsInFlightAreReportedNext) {
  const ClusterBucketShape shape = Shape(100, 1, 0, 20);
  ClusterLease lease(shape, 0);
  ASSERT_TRUE(lease.Take(shape, 0).queue_sync);
  EXPECT_EQ(lease.BeginSync(), 1u);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(lease.Take(shape, 0).decision.allowed);
  EXPECT_EQ(lease.uncounted(), 4u);
  // The answer: 99 left after the first; the 3 admitted meanwhile come out of the new lease
  // and need a sync of their own.
  EXPECT_TRUE(lease.EndSync(shape, 99, 10));
  EXPECT_TRUE(lease.queued());
  EXPECT_EQ(lease.allowance(), 7u);
  EXPECT_EQ(lease.uncounted(), 3u);
  EXPECT_EQ(lease.BeginSync(), 3u);
}

TEST(ClusterLease, AnEmptyBucketRefusesUntilTheEstimateHasATokenThenProbesOnce) {
  const ClusterBucketShape shape = Shape(10, 60, 0, 20);  // a token every 6 s, lease 1
  ClusterLease lease(shape, 0);
  ASSERT_TRUE(lease.Take(shape, 0).decision.allowed);
  lease.BeginSync();
  lease.EndSync(shape, 0.5, 0);  // other gateways took the rest: half a token left
  auto refused = lease.Take(shape, kSecond);
  EXPECT_FALSE(refused.decision.allowed);
  EXPECT_FALSE(refused.queue_sync);  // a refusal asks nothing of Redis
  EXPECT_EQ(refused.decision.remaining, 0u);
  EXPECT_EQ(refused.decision.retry_after_seconds, 2u);  // 0.5 token: 3 s from 0, 2 s from now
  // At 3 s the estimate holds a token: one request is admitted on it and reported.
  auto probe = lease.Take(shape, 3 * kSecond);
  EXPECT_TRUE(probe.decision.allowed);
  EXPECT_TRUE(probe.queue_sync);
  // A second one must wait for the bucket's answer.
  EXPECT_FALSE(lease.Take(shape, 3 * kSecond).decision.allowed);
  EXPECT_EQ(lease.BeginSync(), 1u);
  // Another gateway had taken that token too: the bucket is 1 under.
  EXPECT_FALSE(lease.EndSync(shape, -1, 3 * kSecond));
  EXPECT_FALSE(lease.Take(shape, 8 * kSecond).decision.allowed);  // -1 + 5/6: not yet
  EXPECT_TRUE(lease.Take(shape, 15 * kSecond).decision.allowed);  // -1 + 2: one
}

TEST(ClusterLease, FailSyncForgetsWhatWasNotCountedAndIdleMeansFull) {
  const ClusterBucketShape shape = Shape(10, 1, 0, 20);  // lease 1, full in 1 s
  ClusterLease lease(shape, 0);
  EXPECT_TRUE(lease.Idle(shape, 0));  // a new one is as good as none
  lease.Take(shape, 0);
  EXPECT_FALSE(lease.Idle(shape, 2 * kSecond));  // ... an admission is not reported yet
  lease.BeginSync();
  lease.FailSync(shape, 10);
  EXPECT_EQ(lease.uncounted(), 0u);
  EXPECT_FALSE(lease.queued());
  EXPECT_EQ(lease.allowance(), 1u);
  EXPECT_TRUE(lease.Idle(shape, 10));
  lease.Take(shape, 20);
  lease.BeginSync();
  lease.EndSync(shape, 5, 30);
  EXPECT_FALSE(lease.Idle(shape, 30));
  EXPECT_TRUE(lease.Idle(shape, 30 + kSecond / 2));  // 5 + 10/s x 0.5 s = full
}

// N gateways, one key, one shared bucket. Requests arrive at random gateways faster than the
// limit allows; each sync's answer comes back after a random delay (its charge applied at a
// random moment of that round trip, as Redis runs the script somewhere in between). Checks, at
// every step, the invariant behind the bound (what a gateway admitted and the bucket has not
// counted, plus what its lease still allows, is at most the lease) and, at the end, that no
// window of time saw more admissions than burst + rate x window + N x lease.
struct Simulation {
  int gateways = 3;
  uint64_t requests = 100;
  uint32_t period_seconds = 1;
  uint64_t burst = 0;
  uint64_t max_lease = 20;
  int64_t mean_gap_us = 200;      // between requests, over all gateways
  int64_t max_latency_us = 2000;  // of a sync's round trip
  int64_t duration_us = 20 * kSecond;
  uint64_t seed = 1;
};

struct SimulationResult {
  uint64_t admitted = 0;
  uint64_t offered = 0;
  double worst_excess = 0;  // over burst + rate x window, the largest seen in any window
  uint64_t lease = 0;
};

SimulationResult Simulate(const Simulation& sim) {
  const ClusterBucketShape shape =
      Shape(sim.requests, sim.period_seconds, sim.burst, sim.max_lease);
  SharedBucket bucket(shape);
  std::mt19937_64 random(sim.seed);
  std::exponential_distribution<double> gap(1.0 / static_cast<double>(sim.mean_gap_us));
  std::uniform_int_distribution<int64_t> latency(1, sim.max_latency_us);
  std::uniform_int_distribution<int> pick(0, sim.gateways - 1);

  struct Event {
    int64_t at;
    int kind;  // 0: request, 1: charge reaches the bucket, 2: answer reaches the gateway
    int gateway;
    uint64_t tokens;
    double level;
    bool operator>(const Event& other) const { return at > other.at; }
  };
  std::priority_queue<Event, std::vector<Event>, std::greater<>> events;
  std::vector<ClusterLease> leases(static_cast<size_t>(sim.gateways), ClusterLease(shape, 0));
  std::vector<bool> syncing(leases.size(), false);
  std::vector<int64_t> admissions;
  SimulationResult result;
  result.lease = shape.lease;

  auto start_sync = [&](int g, int64_t now) {
    syncing[static_cast<size_t>(g)] = true;
    const uint64_t tokens = leases[static_cast<size_t>(g)].BeginSync();
    const int64_t round_trip = latency(random);
    const int64_t at_bucket = now + std::uniform_int_distribution<int64_t>(0, round_trip)(random);
    events.push({at_bucket, 1, g, tokens, 0});
    events.push({now + round_trip, 2, g, 0, 0});  // level filled in at the charge
  };
  std::vector<double> answers(leases.size(), 0);

  events.push({0, 0, pick(random), 0, 0});
  while (!events.empty()) {
    Event event = events.top();
    events.pop();
    if (event.at > sim.duration_us) break;
    const size_t g = static_cast<size_t>(event.gateway);
    if (event.kind == 0) {
      ++result.offered;
      const auto outcome = leases[g].Take(shape, event.at);
      if (outcome.decision.allowed) admissions.push_back(event.at);
      if (outcome.queue_sync && !syncing[g]) start_sync(event.gateway, event.at);
      events.push({event.at + static_cast<int64_t>(gap(random)) + 1, 0, pick(random), 0, 0});
    } else if (event.kind == 1) {
      answers[g] = bucket.Charge(event.tokens, event.at);
    } else {
      syncing[g] = false;
      if (leases[g].EndSync(shape, answers[g], event.at)) start_sync(event.gateway, event.at);
    }
    for (const ClusterLease& lease : leases) {
      EXPECT_LE(lease.uncounted() + lease.allowance(), shape.lease);
    }
  }
  result.admitted = admissions.size();
  // The largest (admissions in [a_i, a_j]) - rate x (a_j - a_i) - burst over all i <= j.
  double best_start = -1e300;
  for (size_t j = 0; j < admissions.size(); ++j) {
    best_start = std::max(best_start, static_cast<double>(admissions[j]) * shape.tokens_per_us -
                                          static_cast<double>(j));
    const double in_window = static_cast<double>(j + 1) -
                             static_cast<double>(admissions[j]) * shape.tokens_per_us + best_start;
    result.worst_excess = std::max(result.worst_excess, in_window - shape.capacity);
  }
  return result;
}

TEST(ClusterLeaseSimulation, TheClusterStaysWithinBurstPlusRatePlusGatewaysTimesLease) {
  struct Case {
    int gateways;
    uint64_t requests;
    uint32_t period;
    uint64_t burst;
    int64_t gap_us;
    int64_t latency_us;
  };
  const Case cases[] = {
      {2, 100, 1, 0, 200, 2000},     // lease 10, 5x overload, slow Redis
      {3, 100, 1, 0, 50, 500},       // 20x overload
      {5, 20, 1, 0, 100, 5000},      // lease 2, Redis slower than the token rate
      {8, 10, 60, 0, 1000, 3000},    // lease 1, a token every 6 s: probes all the way
      {4, 1000, 1, 2000, 100, 300},  // lease 20 (the maximum), bursty
      {3, 50, 1, 0, 30000, 1000},    // under the limit: nothing refused but by timing
  };
  for (const Case& c : cases) {
    for (uint64_t seed = 1; seed <= 3; ++seed) {
      Simulation sim;
      sim.gateways = c.gateways;
      sim.requests = c.requests;
      sim.period_seconds = c.period;
      sim.burst = c.burst;
      sim.mean_gap_us = c.gap_us;
      sim.max_latency_us = c.latency_us;
      sim.seed = seed;
      const SimulationResult r = Simulate(sim);
      const double bound = static_cast<double>(static_cast<uint64_t>(c.gateways) * r.lease);
      EXPECT_LE(r.worst_excess, bound)
          << c.gateways << " gateways, " << c.requests << "/" << c.period << "s, lease " << r.lease
          << ", seed " << seed << ": " << r.admitted << " of " << r.offered;
      // And the limit is not starved: over the run, at least the rate minus one lease per
      // gateway per second of waiting for answers gets through when more is offered.
      const double seconds = static_cast<double>(sim.duration_us) / kSecond;
      const double allowed_by_limit = static_cast<double>(c.burst != 0 ? c.burst : c.requests) +
                                      seconds * static_cast<double>(c.requests) / c.period;
      const double offered = static_cast<double>(r.offered);
      EXPECT_GE(static_cast<double>(r.admitted), 0.9 * std::min(allowed_by_limit, offered))
          << c.gateways << " gateways, " << c.requests << "/" << c.period << "s, seed " << seed;
    }
  }
}

}  // namespace
}  // namespace gw
