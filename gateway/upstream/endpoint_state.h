// ServiceEndpoints: what the gateway knows right now about each endpoint of one service, and
// the registry that keeps it across config versions.
//
// Per endpoint: requests in flight (least_request), active health (set by the HealthChecker,
// health_checker.h), passive ejection (consecutive failures reported by the data path). Per
// service: the round-robin cursor, the open connections and pending requests counted against
// the circuit-breaking limits, and the retry budget. An endpoint is available when it is
// healthy and not ejected; when none is, the gateway answers 503 (no panic routing: traffic is
// never sent to endpoints known to be down).
//
// Endpoints start healthy, unlike Envoy (which waits for a first passing check unless told
// otherwise): a new config serves at once, and a dead endpoint is marked unhealthy after
// unhealthy_threshold checks (passive ejection usually finds it sooner).
//
// One ServiceEndpoints per (service name, endpoints and policy) per gateway, shared by every
// worker: all its state is atomics, no lock on the request path. EndpointStateRegistry hands it
// out when a route table is built, so a table swap that leaves a service unchanged keeps its
// health, ejections and counters; a service whose endpoints or policy changed gets a new one.
// The route table holds it (shared_ptr); times are arguments (`now`), so tests drive the clock.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/validation.h"
#include "gateway/upstream/retry_budget.h"

namespace gw {

using SteadyTime = std::chrono::steady_clock::time_point;

enum class Balancing : uint8_t { kRoundRobin, kLeastRequest, kRandom, kRingHash };

// Active health checking of a service's endpoints (health_checker.h).
struct HealthCheckPolicy {
  std::string path = "/";  // GET this path; 2xx is a pass
  std::chrono::milliseconds interval{1000};
  uint32_t unhealthy_threshold = 1;  // consecutive failed checks that mark it unhealthy
  uint32_t healthy_threshold = 1;    // consecutive passed checks that mark it healthy
  bool h2c = false;  // the service speaks h2c (gRPC): probed over HTTP/2 with prior knowledge
};

// A service's endpoints and the policy that drives their state. Plain values; the lead maps
// the config's Service to it. Zero limits mean "none".
struct ServicePolicy {
  std::vector<HostPort> endpoints;
  Balancing balancing = Balancing::kRoundRobin;
  std::optional<HealthCheckPolicy> health_check;  // none: every endpoint stays healthy
  uint32_t eject_after = 0;                       // consecutive failures; 0: no ejection
  std::chrono::milliseconds eject_for{0};
  uint32_t max_connections = 0;  // upstream connections in use by the service, per gateway
  uint32_t max_pending = 0;      // requests connecting or queued at max_connections, per gateway
  RetryBudgetConfig retry_budget;
};

// The circuit-breaking limits; also the reason a slot was refused.
enum class CircuitLimit : uint8_t { kMaxConnections, kMaxPending };
// "max_connections" / "max_pending": for the header of the 503 that says why.
std::string_view CircuitLimitName(CircuitLimit limit);

// What an active check changed.
enum class HealthChange : uint8_t { kNone, kBecameHealthy, kBecameUnhealthy };

class ServiceEndpoints;

// One place counted under a circuit-breaking limit, given back when destroyed (move-only).
// Holds its ServiceEndpoints alive, so a pooled connection may keep one past a config swap.
class CircuitSlot {
 public:
  CircuitSlot() = default;
  CircuitSlot(CircuitSlot&& other) noexcept = default;
  CircuitSlot& operator=(CircuitSlot&& other) noexcept;
  ~CircuitSlot() { Release(); }
  explicit operator bool() const { return owner_ != nullptr; }
  void Release();

 private:
  friend class ServiceEndpoints;
  CircuitSlot(std::shared_ptr<ServiceEndpoints> owner, CircuitLimit limit)
      : owner_(std::move(owner)), limit_(limit) {}
  std::shared_ptr<ServiceEndpoints> owner_;
  CircuitLimit limit_ = CircuitLimit::kMaxConnections;
};

// The answer to "may this request open a new upstream connection?".
struct CircuitAdmission {
  std::optional<CircuitLimit> refused;  // set: refused (503), nothing is held
  CircuitSlot pending;     // counts the request until its connection is up: drop it then
  CircuitSlot connection;  // counts the connection: keep it as long as the connection lives
  bool admitted() const { return !refused; }
};

class ServiceEndpoints : public std::enable_shared_from_this<ServiceEndpoints> {
 public:
  // Counts one request in flight to one endpoint (least_request) until destroyed (move-only).
  // The ServiceEndpoints must outlive it: the request holds the table that holds it.
  class InFlight {
   public:
    InFlight() = default;
    InFlight(InFlight&& other) noexcept : counter_(other.counter_) { other.counter_ = nullptr; }
    InFlight& operator=(InFlight&& other) noexcept;
    ~InFlight() { Release(); }
    explicit operator bool() const { return counter_ != nullptr; }
    void Release();

   private:
    friend class ServiceEndpoints;
    explicit InFlight(std::atomic<uint32_t>* counter) : counter_(counter) {}
    std::atomic<uint32_t>* counter_ = nullptr;
  };

  ServiceEndpoints(std::string service, ServicePolicy policy);
  ServiceEndpoints(const ServiceEndpoints&) = delete;
  ServiceEndpoints& operator=(const ServiceEndpoints&) = delete;

  const std::string& service() const { return service_; }
  const ServicePolicy& policy() const { return policy_; }
  size_t size() const { return policy_.endpoints.size(); }
  const HostPort& endpoint(size_t i) const { return policy_.endpoints[i]; }

  // Healthy (active checks) and not ejected (passive) at `now`. i < size().
  bool Available(size_t i, SteadyTime now) const { return Healthy(i) && !Ejected(i, now); }
  bool Healthy(size_t i) const;
  bool Ejected(size_t i, SteadyTime now) const;
  size_t AvailableCount(SteadyTime now) const;

  // Least request: the requests in flight to endpoint i, counted by the InFlight it returns.
  InFlight StartRequest(size_t i);
  uint32_t InFlightCount(size_t i) const;

  // Round robin: the next turn of the service's cursor, shared by every worker.
  uint64_t NextTurn() { return next_turn_.fetch_add(1, std::memory_order_relaxed); }

  // Passive ejection, from the data path (connect errors and 5xx are failures). After
  // eject_after consecutive failures the endpoint is ejected until now + eject_for; a success
  // resets the count; failures while ejected (requests already in flight) are not counted.
  // RecordFailure returns true when this failure ejected the endpoint.
  bool RecordFailure(size_t i, SteadyTime now);
  void RecordSuccess(size_t i);
  uint32_t ConsecutiveFailures(size_t i) const;

  // Active health, from the HealthChecker's thread: a check of endpoint i passed or failed.
  HealthChange RecordHealthCheck(size_t i, bool passed);

  // Circuit breaking. TryAcquire counts one place under `limit` (an empty slot when the limit
  // is reached); TryAdmitNewConnection takes a pending place, then a connection place, or
  // neither, saying which limit refused. Must be owned by a shared_ptr (the registry's is).
  CircuitSlot TryAcquire(CircuitLimit limit);
  CircuitAdmission TryAdmitNewConnection();
  uint32_t open_connections() const { return connections_.load(std::memory_order_relaxed); }
  uint32_t pending_requests() const { return pending_.load(std::memory_order_relaxed); }

  RetryBudget& retry_budget() { return retry_budget_; }

 private:
  friend class CircuitSlot;

  // One cache line per endpoint: workers updating neighbours do not slow each other.
  struct alignas(64) EndpointCounters {
    std::atomic<uint32_t> in_flight{0};
    std::atomic<uint32_t> consecutive_failures{0};
    std::atomic<int64_t> ejected_until{kNotEjected};  // steady_clock ticks
    std::atomic<bool> healthy{true};
    std::atomic<uint32_t> checks_passed{0};  // in a row; written by the health checker only
    std::atomic<uint32_t> checks_failed{0};
  };
  static constexpr int64_t kNotEjected = INT64_MIN;

  std::atomic<uint32_t>& Counter(CircuitLimit limit) {
    return limit == CircuitLimit::kMaxConnections ? connections_ : pending_;
  }

  const std::string service_;
  const ServicePolicy policy_;
  std::unique_ptr<EndpointCounters[]> endpoints_;
  alignas(64) std::atomic<uint64_t> next_turn_{0};
  alignas(64) std::atomic<uint32_t> connections_{0};
  std::atomic<uint32_t> pending_{0};
  RetryBudget retry_budget_;
};

using ServiceEndpointsSharedPtr = std::shared_ptr<ServiceEndpoints>;

// The registry key of a service: its name and every field of its policy, in a canonical
// form (two services share state exactly when their keys are equal).
std::string ServiceStateKey(std::string_view service, const ServicePolicy& policy);

// Hands out the ServiceEndpoints of each service when a route table is built. It keeps only
// weak references: a state lives while a route table (or the health checker, or a pooled
// connection's CircuitSlot) holds it, so building the next table while the current one is
// still published finds the states of unchanged services, and the state of a changed or
// removed service goes away with the last table that used it. Thread-safe (a mutex; used when
// tables are built, never per request).
class EndpointStateRegistry {
 public:
  // The live state for (service, policy), or a new one.
  ServiceEndpointsSharedPtr Get(std::string_view service, const ServicePolicy& policy);
  // Live states (forgets the others).
  size_t size();

 private:
  void PruneLocked();

  std::mutex mutex_;
  std::unordered_map<std::string, std::weak_ptr<ServiceEndpoints>> states_;
};

}  // namespace gw
