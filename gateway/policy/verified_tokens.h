// VerifiedTokens: one worker's recently verified JWTs and the consumer each was verified for.
//
// Verifying a token costs two JSON parses and a signature check (30-160 us); a client sends the
// same token on request after request. A token found here under the same config version and
// before its `exp` (no clock leeway: an entry never outlives what a fresh check would accept)
// is not verified again. A new config version (consumers or keys may have changed) empties the
// cache; so does reaching `capacity` (rare, O(1), and the next requests refill it). Tokens that
// failed are never remembered. One per worker, used on its thread only (no lock).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace gw {

class VerifiedTokens {
 public:
  explicit VerifiedTokens(size_t capacity = 4096) : capacity_(capacity) {}

  // The consumer `token` was verified for under config `version`, if it has not expired at
  // `now_s` (seconds since the epoch); else null. The pointer lives until the next Remember.
  const std::string* Find(uint64_t version, std::string_view token, int64_t now_s) {
    if (version != version_) return nullptr;
    const auto it = entries_.find(token);
    if (it == entries_.end() || now_s >= it->second.expires_at) return nullptr;
    return &it->second.consumer;
  }

  // `token` verified for `consumer` under config `version`, valid until `expires_at`.
  void Remember(uint64_t version, std::string_view token, const std::string& consumer,
                int64_t expires_at) {
    if (version != version_ || entries_.size() >= capacity_) {
      entries_.clear();
      version_ = version;
    }
    entries_.insert_or_assign(std::string(token), Entry{consumer, expires_at});
  }

  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    std::string consumer;
    int64_t expires_at = 0;
  };
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };

  size_t capacity_;
  uint64_t version_ = 0;
  std::unordered_map<std::string, Entry, Hash, std::equal_to<>> entries_;
};

}  // namespace gw
