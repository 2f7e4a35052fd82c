// RetryBudget: how many retries a service may have in flight at once, and the backoff before
// each one.
//
// Envoy's retry budget: a retry may start while the service's active retries stay within
// max(min_retries, budget_percent of its active requests). During an outage every request
// fails, and a fixed "retry N times" would multiply the load on the upstream by N + 1; with a
// budget, retries stay a small share of the traffic and the client gets the failure instead.
// One budget per service per gateway, owned by the service's ServiceEndpoints
// (endpoint_state.h) and shared by every worker: lock-free (two relaxed atomic counters).
//
// RetryBackoff is the pause before a retry: exponential from a base, capped, with full jitter
// (a uniform pick in [0, cap]), so retries from many clients do not arrive in step. The
// randomness is an argument, so it is testable.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace gw {

struct RetryBudgetConfig {
  uint32_t budget_percent = 20;  // of the service's active requests
  uint32_t min_retries = 3;      // retries allowed at once whatever the traffic
};

class RetryBudget {
 public:
  // Counts one request of the service for as long as it lives (move-only). The budget must
  // outlive it: the request holds the route table that holds the budget's ServiceEndpoints.
  class ActiveRequest {
   public:
    ActiveRequest() = default;
    ActiveRequest(ActiveRequest&& other) noexcept : budget_(other.budget_) {
      other.budget_ = nullptr;
    }
    ActiveRequest& operator=(ActiveRequest&& other) noexcept;
    ~ActiveRequest() { Release(); }
    explicit operator bool() const { return budget_ != nullptr; }
    void Release();

   private:
    friend class RetryBudget;
    explicit ActiveRequest(RetryBudget* budget) : budget_(budget) {}
    RetryBudget* budget_ = nullptr;
  };

  // Counts one retry in flight (from its backoff to its end); empty when the budget refused
  // it. Same lifetime rule as ActiveRequest.
  class ActiveRetry {
   public:
    ActiveRetry() = default;
    ActiveRetry(ActiveRetry&& other) noexcept : budget_(other.budget_) { other.budget_ = nullptr; }
    ActiveRetry& operator=(ActiveRetry&& other) noexcept;
    ~ActiveRetry() { Release(); }
    explicit operator bool() const { return budget_ != nullptr; }
    void Release();

   private:
    friend class RetryBudget;
    explicit ActiveRetry(RetryBudget* budget) : budget_(budget) {}
    RetryBudget* budget_ = nullptr;
  };

  explicit RetryBudget(RetryBudgetConfig config = {}) : config_(config) {}
  RetryBudget(const RetryBudget&) = delete;
  RetryBudget& operator=(const RetryBudget&) = delete;

  // A request of this service starts (once per client request, not per attempt).
  ActiveRequest StartRequest();

  // A retry may start when, counting it, the active retries are at most
  // max(min_retries, budget_percent * active requests / 100). Empty when refused.
  ActiveRetry TryStartRetry();

  // The number of retries allowed at once with the current active requests.
  uint64_t Limit() const;
  uint64_t active_requests() const { return active_requests_.load(std::memory_order_relaxed); }
  uint64_t active_retries() const { return active_retries_.load(std::memory_order_relaxed); }
  const RetryBudgetConfig& config() const { return config_; }

 private:
  const RetryBudgetConfig config_;
  std::atomic<uint64_t> active_requests_{0};
  std::atomic<uint64_t> active_retries_{0};
};

struct BackoffConfig {
  std::chrono::milliseconds base{25};
  std::chrono::milliseconds max{250};
};

// The pause before retry number `retry` (1 for the first retry): uniform in
// [0, min(max, base * 2^(retry - 1))], drawn from `random_bits` (64 uniform random bits).
std::chrono::microseconds RetryBackoff(uint32_t retry, uint64_t random_bits,
                                       BackoffConfig config = {});

}  // namespace gw
