#include "gateway/upstream/endpoint_state.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace gw {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

const SteadyTime kStart = SteadyTime() + std::chrono::hours(1);

ServicePolicy Policy(size_t endpoints) {
  ServicePolicy policy;
  for (size_t i = 0; i < endpoints; ++i) {
    policy.endpoints.push_back({"127.0.0.1", static_cast<uint16_t>(9100 + i)});
  }
  return policy;
}

std::shared_ptr<ServiceEndpoints> Make(ServicePolicy policy) {
  return std::make_shared<ServiceEndpoints>("order-svc", std::move(policy));
}

TEST(ServiceEndpoints, EveryEndpointStartsAvailable) {
  auto policy = Policy(3);
  policy.health_check = HealthCheckPolicy{"/healthz", milliseconds(100), 2, 2};
  const auto state = Make(policy);
  EXPECT_EQ(state->size(), 3u);
  EXPECT_EQ(state->service(), "order-svc");
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_TRUE(state->Healthy(i));
    EXPECT_FALSE(state->Ejected(i, kStart));
    EXPECT_TRUE(state->Available(i, kStart));
  }
  EXPECT_EQ(state->AvailableCount(kStart), 3u);
}

TEST(ServiceEndpoints, ConsecutiveFailuresEjectForTheConfiguredTime) {
  auto policy = Policy(2);
  policy.eject_after = 3;
  policy.eject_for = seconds(30);
  const auto state = Make(policy);
  EXPECT_FALSE(state->RecordFailure(0, kStart));
  EXPECT_FALSE(state->RecordFailure(0, kStart));
  EXPECT_TRUE(state->Available(0, kStart));
  EXPECT_TRUE(state->RecordFailure(0, kStart + seconds(1)));  // the third ejects

  EXPECT_TRUE(state->Ejected(0, kStart + seconds(1)));
  EXPECT_FALSE(state->Available(0, kStart + seconds(30)));
  EXPECT_TRUE(state->Healthy(0));  // ejection is not health
  EXPECT_TRUE(state->Available(1, kStart + seconds(1)));
  EXPECT_EQ(state->AvailableCount(kStart + seconds(1)), 1u);
  // Back at now + eject_for, with a fresh count.
  EXPECT_TRUE(state->Available(0, kStart + seconds(31)));
  EXPECT_EQ(state->ConsecutiveFailures(0), 0u);
}

TEST(ServiceEndpoints, ASuccessResetsTheFailureCount) {
  auto policy = Policy(1);
  policy.eject_after = 2;
  policy.eject_for = seconds(10);
  const auto state = Make(policy);
  EXPECT_FALSE(state->RecordFailure(0, kStart));
  state->RecordSuccess(0);
  EXPECT_EQ(state->ConsecutiveFailures(0), 0u);
  EXPECT_FALSE(state->RecordFailure(0, kStart));
  EXPECT_TRUE(state->Available(0, kStart));
  EXPECT_TRUE(state->RecordFailure(0, kStart));
  EXPECT_FALSE(state->Available(0, kStart));
}

TEST(ServiceEndpoints, FailuresWhileEjectedDoNotExtendTheEjection) {
  auto policy = Policy(1);
  policy.eject_after = 1;
  policy.eject_for = seconds(10);
  const auto state = Make(policy);
  EXPECT_TRUE(state->RecordFailure(0, kStart));
  // Requests that were in flight when it was ejected fail too.
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(state->RecordFailure(0, kStart + seconds(5)));
  EXPECT_TRUE(state->Available(0, kStart + seconds(10)));
}

TEST(ServiceEndpoints, NoEjectionWithoutEjectAfter) {
  const auto state = Make(Policy(1));
  for (int i = 0; i < 100; ++i) EXPECT_FALSE(state->RecordFailure(0, kStart));
  EXPECT_TRUE(state->Available(0, kStart));
}

TEST(ServiceEndpoints, ExactlyOneOfManyConcurrentFailuresEjects) {
  auto policy = Policy(1);
  policy.eject_after = 1000;
  policy.eject_for = seconds(10);
  const auto state = Make(policy);
  std::atomic<int> ejections{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 250; ++i) ejections += state->RecordFailure(0, kStart) ? 1 : 0;
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(ejections.load(), 1);
  EXPECT_TRUE(state->Ejected(0, kStart));
}

TEST(ServiceEndpoints, HealthChecksFollowTheThresholds) {
  auto policy = Policy(2);
  policy.health_check = HealthCheckPolicy{"/healthz", milliseconds(100), 3, 2};
  const auto state = Make(policy);
  EXPECT_EQ(state->RecordHealthCheck(0, false), HealthChange::kNone);
  EXPECT_EQ(state->RecordHealthCheck(0, false), HealthChange::kNone);
  EXPECT_EQ(state->RecordHealthCheck(0, true), HealthChange::kNone);  // streak broken
  EXPECT_EQ(state->RecordHealthCheck(0, false), HealthChange::kNone);
  EXPECT_EQ(state->RecordHealthCheck(0, false), HealthChange::kNone);
  EXPECT_TRUE(state->Healthy(0));
  EXPECT_EQ(state->RecordHealthCheck(0, false), HealthChange::kBecameUnhealthy);
  EXPECT_FALSE(state->Healthy(0));
  EXPECT_FALSE(state->Available(0, kStart));
  EXPECT_EQ(state->RecordHealthCheck(0, false), HealthChange::kNone);
  EXPECT_TRUE(state->Healthy(1));

  EXPECT_EQ(state->RecordHealthCheck(0, true), HealthChange::kNone);
  EXPECT_EQ(state->RecordHealthCheck(0, false), HealthChange::kNone);  // streak broken
  EXPECT_EQ(state->RecordHealthCheck(0, true), HealthChange::kNone);
  EXPECT_EQ(state->RecordHealthCheck(0, true), HealthChange::kBecameHealthy);
  EXPECT_TRUE(state->Available(0, kStart));
}

TEST(ServiceEndpoints, ThresholdsOfZeroCountAsOne) {
  auto policy = Policy(1);
  policy.health_check = HealthCheckPolicy{"/", milliseconds(100), 0, 0};
  const auto state = Make(policy);
  EXPECT_EQ(state->RecordHealthCheck(0, false), HealthChange::kBecameUnhealthy);
  EXPECT_EQ(state->RecordHealthCheck(0, true), HealthChange::kBecameHealthy);
}

TEST(ServiceEndpoints, WithoutAHealthCheckPolicyEndpointsStayHealthy) {
  const auto state = Make(Policy(1));
  for (int i = 0; i < 5; ++i) EXPECT_EQ(state->RecordHealthCheck(0, false), HealthChange::kNone);
  EXPECT_TRUE(state->Healthy(0));
}

TEST(ServiceEndpoints, AnUnhealthyEndpointIsUnavailableEvenWhenNotEjected) {
  auto policy = Policy(1);
  policy.health_check = HealthCheckPolicy{"/", milliseconds(100), 1, 1};
  policy.eject_after = 1;
  policy.eject_for = seconds(5);
  const auto state = Make(policy);
  state->RecordHealthCheck(0, false);
  EXPECT_FALSE(state->Available(0, kStart));
  state->RecordHealthCheck(0, true);
  EXPECT_TRUE(state->RecordFailure(0, kStart));
  EXPECT_FALSE(state->Available(0, kStart));  // healthy, but ejected
  EXPECT_TRUE(state->Available(0, kStart + seconds(5)));
}

TEST(ServiceEndpoints, CountsRequestsInFlightPerEndpoint) {
  const auto state = Make(Policy(2));
  auto a = state->StartRequest(0);
  auto b = state->StartRequest(0);
  auto c = state->StartRequest(1);
  EXPECT_EQ(state->InFlightCount(0), 2u);
  EXPECT_EQ(state->InFlightCount(1), 1u);
  ServiceEndpoints::InFlight moved = std::move(a);
  EXPECT_FALSE(a);
  EXPECT_EQ(state->InFlightCount(0), 2u);
  moved = std::move(c);  // ends the request moved-into (endpoint 0), takes over endpoint 1's
  EXPECT_EQ(state->InFlightCount(0), 1u);
  EXPECT_EQ(state->InFlightCount(1), 1u);
  b.Release();
  moved.Release();
  EXPECT_EQ(state->InFlightCount(0), 0u);
  EXPECT_EQ(state->InFlightCount(1), 0u);
}

TEST(ServiceEndpoints, TheRoundRobinCursorIsShared) {
  const auto state = Make(Policy(2));
  EXPECT_EQ(state->NextTurn(), 0u);
  EXPECT_EQ(state->NextTurn(), 1u);
  EXPECT_EQ(state->NextTurn(), 2u);
}

TEST(CircuitBreaking, RefusesConnectionsBeyondTheLimit) {
  auto policy = Policy(1);
  policy.max_connections = 2;
  const auto state = Make(policy);
  auto first = state->TryAcquire(CircuitLimit::kMaxConnections);
  auto second = state->TryAcquire(CircuitLimit::kMaxConnections);
  EXPECT_TRUE(first);
  EXPECT_TRUE(second);
  EXPECT_FALSE(state->TryAcquire(CircuitLimit::kMaxConnections));
  EXPECT_EQ(state->open_connections(), 2u);
  first.Release();
  EXPECT_EQ(state->open_connections(), 1u);
  EXPECT_TRUE(state->TryAcquire(CircuitLimit::kMaxConnections));  // and gives it back at once
  EXPECT_EQ(state->open_connections(), 1u);
}

TEST(CircuitBreaking, ZeroMeansNoLimit) {
  const auto state = Make(Policy(1));
  std::vector<CircuitSlot> slots;
  for (int i = 0; i < 1000; ++i) {
    slots.push_back(state->TryAcquire(CircuitLimit::kMaxPending));
    ASSERT_TRUE(slots.back());
  }
  EXPECT_EQ(state->pending_requests(), 1000u);
  slots.clear();
  EXPECT_EQ(state->pending_requests(), 0u);
}

TEST(CircuitBreaking, AdmissionSaysWhichLimitRefused) {
  auto policy = Policy(1);
  policy.max_connections = 1;
  policy.max_pending = 2;
  const auto state = Make(policy);

  CircuitAdmission first = state->TryAdmitNewConnection();
  ASSERT_TRUE(first.admitted());
  EXPECT_TRUE(first.pending);
  EXPECT_TRUE(first.connection);

  // The connection limit is reached: the pending place taken on the way is given back.
  CircuitAdmission second = state->TryAdmitNewConnection();
  EXPECT_FALSE(second.admitted());
  EXPECT_EQ(second.refused, CircuitLimit::kMaxConnections);
  EXPECT_FALSE(second.pending);
  EXPECT_FALSE(second.connection);
  EXPECT_EQ(state->pending_requests(), 1u);
  EXPECT_EQ(CircuitLimitName(*second.refused), "max_connections");

  // Connected: the request is no longer pending, the connection still counts.
  first.pending.Release();
  EXPECT_EQ(state->pending_requests(), 0u);
  EXPECT_EQ(state->open_connections(), 1u);

  auto p1 = state->TryAcquire(CircuitLimit::kMaxPending);
  auto p2 = state->TryAcquire(CircuitLimit::kMaxPending);
  CircuitAdmission third = state->TryAdmitNewConnection();
  EXPECT_EQ(third.refused, CircuitLimit::kMaxPending);
  EXPECT_EQ(CircuitLimitName(*third.refused), "max_pending");
}

TEST(CircuitBreaking, ASlotKeepsItsServiceStateAlive) {
  auto policy = Policy(1);
  policy.max_connections = 1;
  auto state = Make(policy);
  std::weak_ptr<ServiceEndpoints> weak = state;
  CircuitSlot slot = state->TryAcquire(CircuitLimit::kMaxConnections);
  state.reset();  // the route table that held it is gone; a pooled connection still counts
  EXPECT_FALSE(weak.expired());
  slot.Release();
  EXPECT_TRUE(weak.expired());
}

TEST(CircuitBreaking, NeverExceedsTheLimitAcrossThreads) {
  auto policy = Policy(1);
  policy.max_connections = 3;
  const auto state = Make(policy);
  std::atomic<int> held{0};
  std::atomic<int> peak{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20000; ++i) {
        CircuitSlot slot = state->TryAcquire(CircuitLimit::kMaxConnections);
        if (!slot) continue;
        const int now = held.fetch_add(1) + 1;
        int seen = peak.load();
        while (now > seen && !peak.compare_exchange_weak(seen, now)) {
        }
        held.fetch_sub(1);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_LE(peak.load(), 3);
  EXPECT_EQ(state->open_connections(), 0u);
}

TEST(EndpointStateRegistry, AnUnchangedServiceKeepsItsState) {
  EndpointStateRegistry registry;
  auto policy = Policy(2);
  policy.eject_after = 1;
  policy.eject_for = seconds(10);
  auto current = registry.Get("order-svc", policy);
  current->RecordFailure(1, kStart);

  // The next table is built while the current one still holds the state.
  auto next = registry.Get("order-svc", policy);
  EXPECT_EQ(next, current);
  EXPECT_TRUE(next->Ejected(1, kStart));
  EXPECT_EQ(registry.size(), 1u);
}

TEST(EndpointStateRegistry, AChangedServiceGetsAFreshState) {
  EndpointStateRegistry registry;
  auto policy = Policy(2);
  policy.eject_after = 1;
  policy.eject_for = seconds(10);
  auto current = registry.Get("order-svc", policy);
  current->RecordFailure(1, kStart);

  auto changed = policy;
  changed.endpoints.push_back({"127.0.0.1", 9200});
  auto next = registry.Get("order-svc", changed);
  EXPECT_NE(next, current);
  EXPECT_TRUE(next->Available(1, kStart));
  EXPECT_EQ(registry.size(), 2u);  // the current table still holds the old one

  current.reset();  // the old table is gone
  EXPECT_EQ(registry.size(), 1u);
  EXPECT_NE(registry.Get("other-svc", changed), next);  // same policy, another service
}

TEST(EndpointStateRegistry, DropsStatesNoTableHolds) {
  EndpointStateRegistry registry;
  std::weak_ptr<ServiceEndpoints> weak = registry.Get("order-svc", Policy(1));
  EXPECT_TRUE(weak.expired());
  EXPECT_EQ(registry.size(), 0u);
}

TEST(ServiceStateKey, EveryPolicyFieldChangesTheKey) {
  const ServicePolicy base = Policy(2);
  const std::string key = ServiceStateKey("order-svc", base);
  EXPECT_EQ(ServiceStateKey("order-svc", Policy(2)), key);
  std::vector<ServicePolicy> changed(11, base);
  changed[0].endpoints.pop_back();
  std::swap(changed[1].endpoints[0], changed[1].endpoints[1]);  // indexes are state
  changed[2].balancing = Balancing::kRingHash;
  changed[3].health_check = HealthCheckPolicy{};
  changed[4].eject_after = 5;
  changed[5].eject_for = seconds(5);
  changed[6].max_connections = 10;
  changed[7].max_pending = 10;
  changed[8].retry_budget.budget_percent = 50;
  changed[9].retry_budget.min_retries = 1;
  changed[10].health_check = HealthCheckPolicy{};
  changed[10].health_check->healthy_threshold = 7;
  std::vector<std::string> keys;
  for (const auto& policy : changed) keys.push_back(ServiceStateKey("order-svc", policy));
  for (size_t i = 0; i < keys.size(); ++i) {
    EXPECT_NE(keys[i], key) << i;
    for (size_t j = 0; j < i; ++j) EXPECT_NE(keys[i], keys[j]) << i << " " << j;
  }
  EXPECT_NE(ServiceStateKey("order-svc2", base), key);
}

}  // namespace
}  // namespace gw
