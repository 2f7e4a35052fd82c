#include "gateway/policy/rate_limiter.h"

#include <algorithm>
#include <charconv>
#include <utility>
#include <vector>

namespace gw {
namespace {

constexpr uint64_t kMicrosPerSecond = 1'000'000;

uint64_t CeilDiv(uint64_t a, uint64_t b) { return a / b + (a % b != 0 ? 1 : 0); }

int64_t Micros(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
}

bool ValidPeriod(uint32_t seconds) { return seconds == 1 || seconds == 60 || seconds == 3600; }

// FNV-1a, 64 bits: stable across runs, so a long key maps to the same bucket in every test.
uint64_t Fnv1a64(std::string_view s) {
  uint64_t hash = 14695981039346656037ull;
  for (const char c : s) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 1099511628211ull;
  }
  return hash;
}

}  // namespace

std::string_view BoundRateLimitKey(std::string_view key,
                                   std::array<char, kMaxRateLimitKeySize>& buffer) {
  if (key.size() <= kMaxRateLimitKeySize) return key;
  constexpr size_t kHashChars = 16;
  constexpr size_t kPrefix = kMaxRateLimitKeySize - kHashChars - 1;
  std::copy_n(key.data(), kPrefix, buffer.data());
  buffer[kPrefix] = '#';
  uint64_t hash = Fnv1a64(key);
  static constexpr char kHex[] = "0123456789abcdef";
  for (size_t i = 0; i < kHashChars; ++i) {
    buffer[kMaxRateLimitKeySize - 1 - i] = kHex[hash & 0xf];
    hash >>= 4;
  }
  return std::string_view(buffer.data(), buffer.size());
}

std::string CheckRateLimitConfig(const RateLimitConfig& config) {
  if (config.requests == 0) return "rate limit must be > 0";
  if (config.requests > kMaxRateLimitTokens) {
    return "rate limit must be at most " + std::to_string(kMaxRateLimitTokens) + " per period";
  }
  if (!ValidPeriod(config.period_seconds)) {
    return "rate limit period must be 1, 60 or 3600 seconds";
  }
  if (config.burst > kMaxRateLimitTokens) {
    return "rate limit burst must be at most " + std::to_string(kMaxRateLimitTokens);
  }
  if (config.max_keys == 0) return "rate limit must keep at least one key";
  return {};
}

RateLimiter::RateLimiter(const RateLimitConfig& config) : config_(config) {
  config_.requests = std::clamp<uint64_t>(config_.requests, 1, kMaxRateLimitTokens);
  if (!ValidPeriod(config_.period_seconds)) {
    config_.period_seconds = std::clamp<uint32_t>(config_.period_seconds, 1, 3600);
  }
  config_.burst = std::min(config_.burst, kMaxRateLimitTokens);
  config_.max_keys = std::max<size_t>(config_.max_keys, 1);
  rate_ = config_.requests;
  token_ = uint64_t{config_.period_seconds} * kMicrosPerSecond;
  capacity_ = config_.Capacity() * token_;  // <= 1e9 * 3.6e9 < 2^63
  shard_max_keys_ = CeilDiv(config_.max_keys, kShards);
}

void RateLimiter::Refill(Bucket& bucket, int64_t now_us) const {
  if (now_us <= bucket.last_us) return;
  const uint64_t elapsed = static_cast<uint64_t>(now_us - bucket.last_us);
  bucket.last_us = now_us;
  const uint64_t missing = capacity_ - bucket.level;
  // Compared before multiplying, so elapsed * rate_ < missing + rate_ cannot overflow.
  if (elapsed >= CeilDiv(missing, rate_)) {
    bucket.level = capacity_;
  } else {
    bucket.level += elapsed * rate_;
  }
}

bool RateLimiter::IsFull(const Bucket& bucket, int64_t now_us) const {
  const uint64_t missing = capacity_ - bucket.level;
  if (missing == 0) return true;
  if (now_us <= bucket.last_us) return false;
  return static_cast<uint64_t>(now_us - bucket.last_us) >= CeilDiv(missing, rate_);
}

RateLimitDecision RateLimiter::Decide(const Bucket& bucket, bool allowed) const {
  RateLimitDecision decision;
  decision.allowed = allowed;
  decision.limit = config_.Capacity();
  decision.remaining = bucket.level / token_;
  if (bucket.level < token_) {
    const uint64_t wait_us = CeilDiv(token_ - bucket.level, rate_);
    decision.retry_after_seconds = std::max<uint64_t>(1, CeilDiv(wait_us, kMicrosPerSecond));
  }
  decision.reset_seconds = CeilDiv(CeilDiv(capacity_ - bucket.level, rate_), kMicrosPerSecond);
  return decision;
}

void RateLimiter::Evict(BucketMap& buckets, int64_t now_us) const {
  std::erase_if(buckets, [&](const auto& entry) { return IsFull(entry.second, now_us); });
  const size_t keep = shard_max_keys_ - std::max<size_t>(1, shard_max_keys_ / 8);
  if (buckets.size() <= keep) return;
  // Least recently used first: the `buckets.size() - keep` oldest go.
  std::vector<std::pair<int64_t, BucketMap::iterator>> by_age;
  by_age.reserve(buckets.size());
  for (auto it = buckets.begin(); it != buckets.end(); ++it) {
    by_age.emplace_back(it->second.last_us, it);
  }
  const size_t drop = buckets.size() - keep;
  std::nth_element(by_age.begin(), by_age.begin() + static_cast<ptrdiff_t>(drop - 1), by_age.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  for (size_t i = 0; i < drop; ++i) buckets.erase(by_age[i].second);
}

RateLimitDecision RateLimiter::Take(std::string_view key,
                                    std::chrono::steady_clock::time_point now) {
  std::array<char, kMaxRateLimitKeySize> buffer;
  key = BoundRateLimitKey(key, buffer);
  const int64_t now_us = Micros(now);
  const size_t hash = Hash{}(key);
  // The top bits pick the shard; the map inside uses the hash modulo its bucket count.
  Shard& shard = shards_[(static_cast<uint64_t>(hash) >> 60) % kShards];

  std::lock_guard lock(shard.mutex);
  auto it = shard.buckets.find(key);
  if (it == shard.buckets.end()) {
    if (shard.buckets.size() >= shard_max_keys_) Evict(shard.buckets, now_us);
    it = shard.buckets.emplace(std::string(key), Bucket{capacity_, now_us}).first;
  } else {
    Refill(it->second, now_us);
  }
  Bucket& bucket = it->second;
  const bool allowed = bucket.level >= token_;
  if (allowed) bucket.level -= token_;
  return Decide(bucket, allowed);
}

void RateLimiter::Sweep(std::chrono::steady_clock::time_point now) {
  const int64_t now_us = Micros(now);
  for (Shard& shard : shards_) {
    std::lock_guard lock(shard.mutex);
    std::erase_if(shard.buckets, [&](const auto& entry) { return IsFull(entry.second, now_us); });
  }
}

size_t RateLimiter::key_count() const {
  size_t count = 0;
  for (const Shard& shard : shards_) {
    std::lock_guard lock(shard.mutex);
    count += shard.buckets.size();
  }
  return count;
}

void RateLimitHeaders::Add(std::string_view name, uint64_t value) {
  char digits[24];
  const auto result = std::to_chars(std::begin(digits), std::end(digits), value);
  fields_[count_].name = name;
  fields_[count_].value.assign(digits, result.ptr);
  ++count_;
}

RateLimitHeaders FormatRateLimitHeaders(const RateLimitDecision& decision) {
  RateLimitHeaders headers;
  headers.Add("RateLimit-Limit", decision.limit);
  headers.Add("RateLimit-Remaining", decision.remaining);
  headers.Add("RateLimit-Reset", decision.reset_seconds);
  if (!decision.allowed) {
    headers.Add("Retry-After", std::max<uint64_t>(1, decision.retry_after_seconds));
  }
  return headers;
}

std::string RateLimiterRegistry::Key(std::string_view route_identity, std::string_view limit_by,
                                     const RateLimitConfig& config) {
  // The effective bucket size, so burst 0 and burst == requests share a limiter: they behave
  // the same. '\n' cannot occur in a route identity or a header name.
  std::string key;
  key.reserve(route_identity.size() + limit_by.size() + 64);
  key.append(route_identity).append("\n").append(limit_by).append("\n");
  key.append(std::to_string(config.requests)).append("/");
  key.append(std::to_string(config.period_seconds)).append("s burst ");
  key.append(std::to_string(config.Capacity())).append(" keys ");
  key.append(std::to_string(config.max_keys));
  return key;
}

RateLimiterSharedPtr RateLimiterRegistry::Get(std::string_view route_identity,
                                              std::string_view limit_by,
                                              const RateLimitConfig& config) {
  std::string key = Key(route_identity, limit_by, config);
  std::lock_guard lock(mutex_);
  if (limiters_.size() >= 2 * pruned_size_ + 64) PruneLocked();
  std::weak_ptr<RateLimiter>& slot = limiters_[std::move(key)];
  if (RateLimiterSharedPtr live = slot.lock()) return live;
  auto limiter = std::make_shared<RateLimiter>(config);
  slot = limiter;
  return limiter;
}

void RateLimiterRegistry::Prune() {
  std::lock_guard lock(mutex_);
  PruneLocked();
}

void RateLimiterRegistry::PruneLocked() {
  std::erase_if(limiters_, [](const auto& entry) { return entry.second.expired(); });
  pruned_size_ = limiters_.size();
}

size_t RateLimiterRegistry::size() const {
  std::lock_guard lock(mutex_);
  return limiters_.size();
}

}  // namespace gw
