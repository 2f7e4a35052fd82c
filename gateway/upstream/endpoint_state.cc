#include "gateway/upstream/endpoint_state.h"

#include <algorithm>
#include <type_traits>

namespace gw {

namespace {

int64_t Ticks(SteadyTime t) { return t.time_since_epoch().count(); }

// A limit of 0 is "none"; a threshold of 0 behaves as 1.
uint32_t AtLeastOne(uint32_t n) { return std::max<uint32_t>(n, 1); }

}  // namespace

std::string_view CircuitLimitName(CircuitLimit limit) {
  switch (limit) {
    case CircuitLimit::kMaxConnections:
      return "max_connections";
    case CircuitLimit::kMaxPending:
      return "max_pending";
  }
  return "unknown";
}

CircuitSlot& CircuitSlot::operator=(CircuitSlot&& other) noexcept {
  if (this != &other) {
    Release();
    owner_ = std::move(other.owner_);
    limit_ = other.limit_;
  }
  return *this;
}

void CircuitSlot::Release() {
  if (!owner_) return;
  owner_->Counter(limit_).fetch_sub(1, std::memory_order_relaxed);
  owner_.reset();
}

ServiceEndpoints::InFlight& ServiceEndpoints::InFlight::operator=(InFlight&& other) noexcept {
  if (this != &other) {
    Release();
    counter_ = other.counter_;
    other.counter_ = nullptr;
  }
  return *this;
}

void ServiceEndpoints::InFlight::Release() {
  if (counter_) counter_->fetch_sub(1, std::memory_order_relaxed);
  counter_ = nullptr;
}

ServiceEndpoints::ServiceEndpoints(std::string service, ServicePolicy policy)
    : service_(std::move(service)),
      policy_(std::move(policy)),
      endpoints_(std::make_unique<EndpointCounters[]>(policy_.endpoints.size())),
      retry_budget_(policy_.retry_budget) {}

bool ServiceEndpoints::Healthy(size_t i) const {
  return endpoints_[i].healthy.load(std::memory_order_relaxed);
}

bool ServiceEndpoints::Ejected(size_t i, SteadyTime now) const {
  return endpoints_[i].ejected_until.load(std::memory_order_relaxed) > Ticks(now);
}

size_t ServiceEndpoints::AvailableCount(SteadyTime now) const {
  size_t count = 0;
  for (size_t i = 0; i < size(); ++i) count += Available(i, now) ? 1 : 0;
  return count;
}

ServiceEndpoints::InFlight ServiceEndpoints::StartRequest(size_t i) {
  endpoints_[i].in_flight.fetch_add(1, std::memory_order_relaxed);
  return InFlight(&endpoints_[i].in_flight);
}

uint32_t ServiceEndpoints::InFlightCount(size_t i) const {
  return endpoints_[i].in_flight.load(std::memory_order_relaxed);
}

bool ServiceEndpoints::RecordFailure(size_t i, SteadyTime now) {
  if (policy_.eject_after == 0 || Ejected(i, now)) return false;
  EndpointCounters& e = endpoints_[i];
  // fetch_add hands each failure its own count, so exactly one worker reaches eject_after.
  const uint32_t failures = e.consecutive_failures.fetch_add(1, std::memory_order_relaxed) + 1;
  if (failures != policy_.eject_after) return false;
  e.ejected_until.store(Ticks(now + policy_.eject_for), std::memory_order_relaxed);
  e.consecutive_failures.store(0, std::memory_order_relaxed);
  return true;
}

void ServiceEndpoints::RecordSuccess(size_t i) {
  // Load first: a busy healthy endpoint's line is not written on every request.
  auto& failures = endpoints_[i].consecutive_failures;
  if (failures.load(std::memory_order_relaxed) != 0) failures.store(0, std::memory_order_relaxed);
}

uint32_t ServiceEndpoints::ConsecutiveFailures(size_t i) const {
  return endpoints_[i].consecutive_failures.load(std::memory_order_relaxed);
}

HealthChange ServiceEndpoints::RecordHealthCheck(size_t i, bool passed) {
  if (!policy_.health_check) return HealthChange::kNone;
  const HealthCheckPolicy& check = *policy_.health_check;
  EndpointCounters& e = endpoints_[i];
  const bool healthy = e.healthy.load(std::memory_order_relaxed);
  if (passed) {
    e.checks_failed.store(0, std::memory_order_relaxed);
    const uint32_t streak = e.checks_passed.fetch_add(1, std::memory_order_relaxed) + 1;
    if (!healthy && streak >= AtLeastOne(check.healthy_threshold)) {
      e.healthy.store(true, std::memory_order_relaxed);
      return HealthChange::kBecameHealthy;
    }
  } else {
    e.checks_passed.store(0, std::memory_order_relaxed);
    const uint32_t streak = e.checks_failed.fetch_add(1, std::memory_order_relaxed) + 1;
    if (healthy && streak >= AtLeastOne(check.unhealthy_threshold)) {
      e.healthy.store(false, std::memory_order_relaxed);
      return HealthChange::kBecameUnhealthy;
    }
  }
  return HealthChange::kNone;
}

CircuitSlot ServiceEndpoints::TryAcquire(CircuitLimit limit) {
  const uint32_t max =
      limit == CircuitLimit::kMaxConnections ? policy_.max_connections : policy_.max_pending;
  std::atomic<uint32_t>& counter = Counter(limit);
  // Count first, then check: two workers racing for the last place cannot both get it.
  const uint32_t count = counter.fetch_add(1, std::memory_order_relaxed) + 1;
  if (max != 0 && count > max) {
    counter.fetch_sub(1, std::memory_order_relaxed);
    return CircuitSlot();
  }
  return CircuitSlot(shared_from_this(), limit);
}

CircuitAdmission ServiceEndpoints::TryAdmitNewConnection() {
  CircuitAdmission admission;
  admission.pending = TryAcquire(CircuitLimit::kMaxPending);
  if (!admission.pending) {
    admission.refused = CircuitLimit::kMaxPending;
    return admission;
  }
  admission.connection = TryAcquire(CircuitLimit::kMaxConnections);
  if (!admission.connection) {
    admission.pending.Release();
    admission.refused = CircuitLimit::kMaxConnections;
  }
  return admission;
}

std::string ServiceStateKey(std::string_view service, const ServicePolicy& policy) {
  // Fields separated by '\n' and endpoints by ' ': neither can occur in a service name, host
  // or health-check path, so different policies never give the same key.
  std::string key(service);
  auto field = [&key](std::string_view name, auto value) {
    key += '\n';
    key += name;
    key += '=';
    if constexpr (std::is_convertible_v<decltype(value), std::string_view>) {
      key += value;
    } else {
      key += std::to_string(value);
    }
  };
  key += "\nendpoints=";
  for (const HostPort& e : policy.endpoints) {
    key += FormatHostPort(e.host, e.port);
    key += ' ';
  }
  field("lb", static_cast<int>(policy.balancing));
  if (policy.health_check) {
    const HealthCheckPolicy& check = *policy.health_check;
    field("health_path", std::string_view(check.path));
    field("health_interval_ms", check.interval.count());
    field("unhealthy_threshold", check.unhealthy_threshold);
    field("healthy_threshold", check.healthy_threshold);
    field("health_h2c", check.h2c);
  }
  field("eject_after", policy.eject_after);
  field("eject_for_ms", policy.eject_for.count());
  field("max_connections", policy.max_connections);
  field("max_pending", policy.max_pending);
  field("retry_budget_percent", policy.retry_budget.budget_percent);
  field("retry_budget_min", policy.retry_budget.min_retries);
  return key;
}

ServiceEndpointsSharedPtr EndpointStateRegistry::Get(std::string_view service,
                                                     const ServicePolicy& policy) {
  std::string key = ServiceStateKey(service, policy);
  std::lock_guard lock(mutex_);
  PruneLocked();
  auto& slot = states_[key];
  if (auto live = slot.lock()) return live;
  auto state = std::make_shared<ServiceEndpoints>(std::string(service), policy);
  slot = state;
  return state;
}

size_t EndpointStateRegistry::size() {
  std::lock_guard lock(mutex_);
  PruneLocked();
  return states_.size();
}

void EndpointStateRegistry::PruneLocked() {
  std::erase_if(states_, [](const auto& entry) { return entry.second.expired(); });
}

}  // namespace gw
