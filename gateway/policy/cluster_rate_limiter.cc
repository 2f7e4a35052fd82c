#include "gateway/policy/cluster_rate_limiter.h"

#include <openssl/sha.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "common/log.h"

namespace gw {
namespace {

int64_t Micros(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
}

size_t CeilDiv(size_t a, size_t b) { return a / b + (a % b != 0 ? 1 : 0); }

}  // namespace

ClusterRateLimiter::ClusterRateLimiter(const RateLimitConfig& config, std::string bucket_prefix,
                                       ClusterBucketsSharedPtr buckets)
    : fallback_(config),
      bucket_prefix_(std::move(bucket_prefix)),
      buckets_(std::move(buckets)),
      // The fallback's config: the same limit, clamped into range.
      shape_(ClusterBucketShape::Of(fallback_.config(), buckets_ ? buckets_->max_lease() : 1)),
      shard_max_keys_(CeilDiv(fallback_.config().max_keys, kShards)) {}

ClusterRateLimiter::Shard& ClusterRateLimiter::ShardOf(std::string_view key) {
  return shards_[(static_cast<uint64_t>(Hash{}(key)) >> 60) % kShards];
}

const ClusterRateLimiter::Shard& ClusterRateLimiter::ShardOf(std::string_view key) const {
  return shards_[(static_cast<uint64_t>(Hash{}(key)) >> 60) % kShards];
}

RateLimitDecision ClusterRateLimiter::Take(std::string_view key,
                                           std::chrono::steady_clock::time_point now) {
  if (!buckets_ || !buckets_->available()) {
    RateLimitDecision decision = fallback_.Take(key, now);
    decision.source = buckets_ ? RateLimitSource::kRedisDown : RateLimitSource::kRedisNotEnabled;
    return decision;
  }
  std::array<char, kMaxRateLimitKeySize> buffer;
  key = BoundRateLimitKey(key, buffer);
  const int64_t now_us = Micros(now);
  ClusterLease::Outcome outcome;
  {
    Shard& shard = ShardOf(key);
    std::lock_guard lock(shard.mutex);
    auto it = shard.leases.find(key);
    if (it == shard.leases.end()) {
      if (shard.leases.size() >= shard_max_keys_) Evict(shard.leases, now_us);
      it = shard.leases.emplace(std::string(key), ClusterLease(shape_, now_us)).first;
    }
    outcome = it->second.Take(shape_, now_us);
  }
  if (outcome.queue_sync) buckets_->QueueSync(shared_from_this(), std::string(key));
  return outcome.decision;
}

std::optional<uint64_t> ClusterRateLimiter::BeginSync(std::string_view key) {
  Shard& shard = ShardOf(key);
  std::lock_guard lock(shard.mutex);
  auto it = shard.leases.find(key);
  if (it == shard.leases.end()) return std::nullopt;
  return it->second.BeginSync();
}

bool ClusterRateLimiter::EndSync(std::string_view key, double level,
                                 std::chrono::steady_clock::time_point now) {
  Shard& shard = ShardOf(key);
  std::lock_guard lock(shard.mutex);
  auto it = shard.leases.find(key);
  if (it == shard.leases.end()) return false;
  return it->second.EndSync(shape_, level, Micros(now));
}

void ClusterRateLimiter::FailSync(std::string_view key, std::chrono::steady_clock::time_point now) {
  Shard& shard = ShardOf(key);
  std::lock_guard lock(shard.mutex);
  auto it = shard.leases.find(key);
  if (it != shard.leases.end()) it->second.FailSync(shape_, Micros(now));
}

void ClusterRateLimiter::Evict(LeaseMap& leases, int64_t now_us) const {
  std::erase_if(leases, [&](const auto& entry) { return entry.second.Idle(shape_, now_us); });
  const size_t keep = shard_max_keys_ - std::max<size_t>(1, shard_max_keys_ / 8);
  if (leases.size() <= keep) return;
  // Least recently used first, among those with no sync queued (a queued one is in the sync
  // thread's hands; dropping it would only lose its report). With all queued, the shard grows
  // past its bound until their answers come back.
  std::vector<std::pair<int64_t, LeaseMap::iterator>> by_age;
  by_age.reserve(leases.size());
  for (auto it = leases.begin(); it != leases.end(); ++it) {
    if (!it->second.queued()) by_age.emplace_back(it->second.last_used_us(), it);
  }
  const size_t drop = std::min(by_age.size(), leases.size() - keep);
  if (drop == 0) return;
  std::nth_element(by_age.begin(), by_age.begin() + static_cast<ptrdiff_t>(drop - 1), by_age.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  for (size_t i = 0; i < drop; ++i) leases.erase(by_age[i].second);
}

size_t ClusterRateLimiter::key_count() const {
  size_t count = 0;
  for (const Shard& shard : shards_) {
    std::lock_guard lock(shard.mutex);
    count += shard.leases.size();
  }
  return count;
}

std::optional<ClusterLease> ClusterRateLimiter::LeaseOf(std::string_view key) const {
  const Shard& shard = ShardOf(key);
  std::lock_guard lock(shard.mutex);
  auto it = shard.leases.find(key);
  if (it == shard.leases.end()) return std::nullopt;
  return it->second;
}

// ---- ClusterRateLimiterRegistry ----

std::string ClusterRateLimiterRegistry::BucketPrefix(std::string_view limiter_key) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(limiter_key.data()), limiter_key.size(), digest);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string prefix = "gwrl:";
  for (size_t i = 0; i < 16; ++i) {
    prefix.push_back(kHex[digest[i] >> 4]);
    prefix.push_back(kHex[digest[i] & 0xf]);
  }
  prefix.push_back(':');
  return prefix;
}

void ClusterRateLimiterRegistry::SetBuckets(ClusterBucketsSharedPtr buckets) {
  std::lock_guard lock(mutex_);
  buckets_ = std::move(buckets);
}

ClusterRateLimiterSharedPtr ClusterRateLimiterRegistry::Get(std::string_view route_identity,
                                                            std::string_view route_name,
                                                            std::string_view limit_by,
                                                            const RateLimitConfig& config) {
  std::string key = RateLimiterRegistry::Key(route_identity, limit_by, config);
  std::lock_guard lock(mutex_);
  if (limiters_.size() >= 2 * pruned_size_ + 64) PruneLocked();
  std::weak_ptr<ClusterRateLimiter>& slot = limiters_[key];
  if (ClusterRateLimiterSharedPtr live = slot.lock()) return live;
  auto limiter = std::make_shared<ClusterRateLimiter>(config, BucketPrefix(key), buckets_);
  slot = limiter;
  if (!buckets_) {
    LogWarn("route " + std::string(route_name) +
            ": rate limit scope is cluster, but this gateway runs without --redis: it is "
            "counted by this gateway alone (gateway_rate_limit_redis_fallback_total{reason=\"" +
            "no_redis\"})");
  }
  return limiter;
}

void ClusterRateLimiterRegistry::Prune() {
  std::lock_guard lock(mutex_);
  PruneLocked();
}

void ClusterRateLimiterRegistry::PruneLocked() {
  std::erase_if(limiters_, [](const auto& entry) { return entry.second.expired(); });
  pruned_size_ = limiters_.size();
}

size_t ClusterRateLimiterRegistry::size() const {
  std::lock_guard lock(mutex_);
  return limiters_.size();
}

}  // namespace gw
