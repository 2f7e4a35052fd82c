// PushState: the push decisions for one gateway stream, kept apart from gRPC so they can be
// tested alone. Not thread-safe: its GatewayStream guards it with the stream's mutex.
//
// Rules (DESIGN.md "Protocol rules"):
//  - The first version offered (the current one when the gateway says Hello) is pushed only if
//    it differs from the version the gateway already runs. A gateway that runs nothing (0) gets
//    it even when it is the empty version 0, so that it has a config and can report ready.
//  - Later versions are pushed when newer than anything offered before (a repeat is a no-op).
//  - One write in flight: versions offered meanwhile coalesce, and only the newest is written
//    when the write completes. A slow gateway never gets a backlog.
//  - Each push has a nonce, "<stream prefix>-<sequence>"; an ACK/NACK counts only for a push
//    this stream sent that is not yet answered. An answer to an older push (one the window of
//    kMaxUnanswered forgot under a burst, or older than a push already answered) is normal and
//    ignored quietly; only a nonce this stream never sent is worth a warning.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace gw {

class PushState {
 public:
  // Unanswered pushes remembered per stream; older ones are forgotten (their answers ignored).
  static constexpr size_t kMaxUnanswered = 16;

  // `nonce_prefix` makes this stream's nonces unique (per process and stream, see
  // GatewayStream); it holds no '-' of its own at the end.
  explicit PushState(std::string nonce_prefix = "push") : prefix_(std::move(nonce_prefix)) {}

  // The version the gateway runs, from its Hello (0: none).
  void SetRunningVersion(uint64_t version) { running_ = version; }

  // A version was published (or is current at Hello). Returns the version to write now, or
  // nullopt: nothing new, or a write is in flight (then it is written after WriteDone()).
  std::optional<uint64_t> Offer(uint64_t version);

  // The write in flight finished. Returns the newest version waiting to be written, if any.
  std::optional<uint64_t> WriteDone();

  // The gateway refused a delta of `version`: write it again (as a snapshot) unless a newer
  // version is waiting anyway. Returns the version to write now, as Offer().
  std::optional<uint64_t> Resend(uint64_t version);

  // Records that `version` is being written; returns the nonce to send with it.
  std::string Sent(uint64_t version);

  struct Answer {
    enum class Kind {
      kCurrent,  // a push this stream sent and still waits for: `version` is what it carried
      kOlder,    // a push this stream sent, answered or forgotten since: nothing to do
      kForeign,  // no push of this stream: a confused or forged answer
    };
    Kind kind = Kind::kForeign;
    uint64_t version = 0;
  };
  // Classifies the answer carrying `nonce`. kCurrent forgets that push and every older one (a
  // gateway answers pushes in order).
  Answer Answered(std::string_view nonce);

  bool write_in_flight() const { return in_flight_; }
  // Newest version written, being written or waiting; nullopt before the first Offer.
  std::optional<uint64_t> newest() const { return newest_; }

 private:
  const std::string prefix_;
  uint64_t running_ = 0;
  std::optional<uint64_t> newest_;
  bool in_flight_ = false;
  uint64_t writing_ = 0;                                  // valid while in_flight_
  bool resend_ = false;                                   // write newest_ again after this one
  uint64_t next_sequence_ = 1;                            // of the next nonce
  std::deque<std::pair<uint64_t, uint64_t>> unanswered_;  // (sequence, version), oldest first
};

}  // namespace gw
