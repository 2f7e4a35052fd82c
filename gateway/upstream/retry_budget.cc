#include "gateway/upstream/retry_budget.h"

#include <algorithm>

namespace gw {

RetryBudget::ActiveRequest& RetryBudget::ActiveRequest::operator=(ActiveRequest&& other) noexcept {
  if (this != &other) {
    Release();
    budget_ = other.budget_;
    other.budget_ = nullptr;
  }
  return *this;
}

void RetryBudget::ActiveRequest::Release() {
  if (budget_) budget_->active_requests_.fetch_sub(1, std::memory_order_relaxed);
  budget_ = nullptr;
}

RetryBudget::ActiveRetry& RetryBudget::ActiveRetry::operator=(ActiveRetry&& other) noexcept {
  if (this != &other) {
    Release();
    budget_ = other.budget_;
    other.budget_ = nullptr;
  }
  return *this;
}

void RetryBudget::ActiveRetry::Release() {
  if (budget_) budget_->active_retries_.fetch_sub(1, std::memory_order_relaxed);
  budget_ = nullptr;
}

RetryBudget::ActiveRequest RetryBudget::StartRequest() {
  active_requests_.fetch_add(1, std::memory_order_relaxed);
  return ActiveRequest(this);
}

uint64_t RetryBudget::Limit() const {
  const uint64_t share = active_requests() * config_.budget_percent / 100;
  return std::max<uint64_t>(config_.min_retries, share);
}

RetryBudget::ActiveRetry RetryBudget::TryStartRetry() {
  // Count first, then check: two workers racing for the last place cannot both get it.
  const uint64_t retries = active_retries_.fetch_add(1, std::memory_order_relaxed) + 1;
  if (retries > Limit()) {
    active_retries_.fetch_sub(1, std::memory_order_relaxed);
    return ActiveRetry();
  }
  return ActiveRetry(this);
}

std::chrono::microseconds RetryBackoff(uint32_t retry, uint64_t random_bits, BackoffConfig config) {
  using std::chrono::microseconds;
  const uint64_t base =
      static_cast<uint64_t>(std::max<int64_t>(0, microseconds(config.base).count()));
  const uint64_t max =
      static_cast<uint64_t>(std::max<int64_t>(0, microseconds(config.max).count()));
  // base * 2^(retry - 1), without overflowing: past 2^20 the cap has long been reached.
  const uint32_t doublings = std::min<uint32_t>(retry == 0 ? 0 : retry - 1, 20);
  const uint64_t cap = std::min(max, base << doublings);
  return microseconds(static_cast<int64_t>(random_bits % (cap + 1)));
}

}  // namespace gw
