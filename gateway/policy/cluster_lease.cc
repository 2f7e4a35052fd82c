#include "gateway/policy/cluster_lease.h"

#include <algorithm>
#include <cmath>

namespace gw {
namespace {

constexpr double kMicrosPerSecond = 1e6;

// Whole seconds, rounded up, for `micros` (>= 0).
uint64_t CeilSeconds(double micros) {
  if (micros <= 0) return 0;
  return static_cast<uint64_t>(std::ceil(micros / kMicrosPerSecond));
}

}  // namespace

uint64_t LeaseFor(const RateLimitConfig& config, uint64_t max_lease) {
  return std::clamp<uint64_t>(config.Capacity() / 10, 1, std::max<uint64_t>(max_lease, 1));
}

ClusterBucketShape ClusterBucketShape::Of(const RateLimitConfig& config, uint64_t max_lease) {
  ClusterBucketShape shape;
  shape.tokens_per_us = static_cast<double>(config.requests) /
                        (static_cast<double>(config.period_seconds) * kMicrosPerSecond);
  shape.capacity = static_cast<double>(config.Capacity());
  shape.lease = LeaseFor(config, max_lease);
  return shape;
}

ClusterLease::ClusterLease(const ClusterBucketShape& shape, int64_t now_us)
    : level_(shape.capacity),
      level_us_(now_us),
      allowance_(std::min<uint64_t>(shape.lease, static_cast<uint64_t>(shape.capacity))),
      last_used_us_(now_us) {}

double ClusterLease::Estimate(const ClusterBucketShape& shape, int64_t now_us) const {
  double level = level_;
  if (now_us > level_us_) {
    level = std::min(shape.capacity,
                     level + static_cast<double>(now_us - level_us_) * shape.tokens_per_us);
  }
  return level - static_cast<double>(unsent_ + in_flight_);
}

RateLimitDecision ClusterLease::Decide(const ClusterBucketShape& shape, bool allowed,
                                       int64_t now_us) const {
  const double level = Estimate(shape, now_us);
  RateLimitDecision decision;
  decision.allowed = allowed;
  decision.limit = static_cast<uint64_t>(shape.capacity);
  decision.remaining = static_cast<uint64_t>(std::clamp(std::floor(level), 0.0, shape.capacity));
  if (!allowed) {
    // Waiting for the bucket's answer with a token in sight: a second is the shortest wait
    // Retry-After can say.
    decision.retry_after_seconds =
        std::max<uint64_t>(1, CeilSeconds((1.0 - level) / shape.tokens_per_us));
  }
  decision.reset_seconds = CeilSeconds((shape.capacity - level) / shape.tokens_per_us);
  decision.source = RateLimitSource::kCluster;
  return decision;
}

ClusterLease::Outcome ClusterLease::Take(const ClusterBucketShape& shape, int64_t now_us) {
  last_used_us_ = std::max(last_used_us_, now_us);
  bool allowed = false;
  if (allowance_ > 0) {
    --allowance_;
    allowed = true;
  } else if (unsent_ == 0 && in_flight_ == 0 && Estimate(shape, now_us) >= 1.0) {
    allowed = true;  // the probe
  }
  if (allowed) ++unsent_;
  Outcome outcome{Decide(shape, allowed, now_us)};
  if (unsent_ > 0 && !queued_) {
    queued_ = true;
    outcome.queue_sync = true;
  }
  return outcome;
}

uint64_t ClusterLease::BeginSync() {
  in_flight_ += unsent_;
  unsent_ = 0;
  queued_ = true;
  return in_flight_;
}

bool ClusterLease::EndSync(const ClusterBucketShape& shape, double level, int64_t now_us) {
  level_ = level;
  level_us_ = std::max(level_us_, now_us);
  in_flight_ = 0;
  allowance_ = level >= 1.0 ? std::min<uint64_t>(shape.lease, static_cast<uint64_t>(level)) : 0;
  allowance_ -= std::min(allowance_, unsent_);  // admitted while the answer was on its way
  queued_ = unsent_ > 0;
  return queued_;
}

void ClusterLease::FailSync(const ClusterBucketShape& shape, int64_t now_us) {
  const int64_t last_used = last_used_us_;
  *this = ClusterLease(shape, now_us);
  last_used_us_ = last_used;
}

bool ClusterLease::Idle(const ClusterBucketShape& shape, int64_t now_us) const {
  return !queued_ && unsent_ == 0 && in_flight_ == 0 && Estimate(shape, now_us) >= shape.capacity;
}

}  // namespace gw
