#include "gateway/config/backoff.h"

#include <algorithm>

namespace gw {

Backoff::Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds max, uint64_t seed)
    : initial_(std::max(initial, std::chrono::milliseconds(1))),
      max_(std::max(max, initial_)),
      base_(initial_),
      random_(seed) {}

std::chrono::milliseconds Backoff::Next() {
  const int64_t base = base_.count();
  std::uniform_int_distribution<int64_t> jitter(0, base / 2);
  const std::chrono::milliseconds delay(base - base / 2 + jitter(random_));
  base_ = std::min(base_ * 2, max_);
  return delay;
}

void Backoff::Reset() { base_ = initial_; }

}  // namespace gw
