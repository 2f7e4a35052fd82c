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
//  - Each push has a nonce; an ACK/NACK counts only if it names a nonce this stream sent.
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

  // The version the gateway runs, from its Hello (0: none).
  void SetRunningVersion(uint64_t version) { running_ = version; }

  // A version was published (or is current at Hello). Returns the version to write now, or
  // nullopt: nothing new, or a write is in flight (then it is written after WriteDone()).
  std::optional<uint64_t> Offer(uint64_t version);

  // The write in flight finished. Returns the newest version waiting to be written, if any.
  std::optional<uint64_t> WriteDone();

  // Records that `version` was written with `nonce`.
  void Sent(std::string nonce, uint64_t version);

  // The version pushed with `nonce`, when this stream sent it and it is not yet answered.
  // Forgets that push and every older one (a gateway answers pushes in order).
  std::optional<uint64_t> Answer(std::string_view nonce);

  bool write_in_flight() const { return in_flight_; }
  // Newest version written, being written or waiting; nullopt before the first Offer.
  std::optional<uint64_t> newest() const { return newest_; }

 private:
  uint64_t running_ = 0;
  std::optional<uint64_t> newest_;
  bool in_flight_ = false;
  uint64_t writing_ = 0;                                     // valid while in_flight_
  std::deque<std::pair<std::string, uint64_t>> unanswered_;  // (nonce, version), oldest first
};

}  // namespace gw
