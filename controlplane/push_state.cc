#include "controlplane/push_state.h"

#include <charconv>
#include <utility>

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

std::optional<uint64_t> PushState::Resend(uint64_t version) {
  if (!newest_ || *newest_ != version) return std::nullopt;  // a newer one is on its way
  if (in_flight_) {
    resend_ = true;
    return std::nullopt;
  }
  in_flight_ = true;
  writing_ = version;
  return version;
}

std::optional<uint64_t> PushState::WriteDone() {
  in_flight_ = false;
  const bool again = std::exchange(resend_, false);
  if (!newest_ || (*newest_ <= writing_ && !again)) return std::nullopt;
  in_flight_ = true;
  writing_ = *newest_;
  return writing_;
}

std::string PushState::Sent(uint64_t version) {
  const uint64_t sequence = next_sequence_++;
  unanswered_.emplace_back(sequence, version);
  while (unanswered_.size() > kMaxUnanswered) unanswered_.pop_front();
  return prefix_ + "-" + std::to_string(sequence);
}

PushState::Answer PushState::Answered(std::string_view nonce) {
  Answer answer;
  if (nonce.size() <= prefix_.size() + 1 || !nonce.starts_with(prefix_) ||
      nonce[prefix_.size()] != '-')
    return answer;
  const std::string_view digits = nonce.substr(prefix_.size() + 1);
  uint64_t sequence = 0;
  const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), sequence);
  if (error != std::errc() || end != digits.data() + digits.size() || sequence == 0 ||
      sequence >= next_sequence_)
    return answer;
  for (auto it = unanswered_.begin(); it != unanswered_.end(); ++it) {
    if (it->first != sequence) continue;
    answer = {Answer::Kind::kCurrent, it->second};
    unanswered_.erase(unanswered_.begin(), it + 1);
    return answer;
  }
  answer.kind = Answer::Kind::kOlder;
  return answer;
}

}  // namespace gw
