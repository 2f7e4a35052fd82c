#include "controlplane/push_state.h"

namespace gw {

std::optional<uint64_t> PushState::Offer(uint64_t version) {
  if (newest_) {
    if (version <= *newest_) return std::nullopt;  // a repeat or an older version
  } else if (running_ != 0 && version == running_) {
    newest_ = version;  // the gateway already runs the current version
    return std::nullopt;
  }
  newest_ = version;
  if (in_flight_) return std::nullopt;  // coalesced: written after WriteDone()
  in_flight_ = true;
  writing_ = version;
  return version;
}

std::optional<uint64_t> PushState::WriteDone() {
  in_flight_ = false;
  if (!newest_ || *newest_ <= writing_) return std::nullopt;
  in_flight_ = true;
  writing_ = *newest_;
  return writing_;
}

void PushState::Sent(std::string nonce, uint64_t version) {
  unanswered_.emplace_back(std::move(nonce), version);
  while (unanswered_.size() > kMaxUnanswered) unanswered_.pop_front();
}

std::optional<uint64_t> PushState::Answer(std::string_view nonce) {
  for (auto it = unanswered_.begin(); it != unanswered_.end(); ++it) {
    if (it->first != nonce) continue;
    const uint64_t version = it->second;
    unanswered_.erase(unanswered_.begin(), it + 1);
    return version;
  }
  return std::nullopt;
}

}  // namespace gw
