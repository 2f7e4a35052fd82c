// AckBarrier: lets the bench wait until every simulated gateway stream has ACKed a version (or
// a newer one), without scanning the streams in a loop.
//
// Streams report each ACK they send with Acked(); WaitFor() arms the barrier for a version and
// sleeps until the last stream reached it, the deadline passed, or Break() was called (a
// stream ended). A stream that ACKed the version before the barrier was armed counts too:
// WaitFor() counts those itself, and a per-stream marker makes sure each stream is counted
// once per wait, whoever sees it first.
//
// Threads: Acked() from gRPC threads (each stream's reactions are serialized), WaitFor() from
// one waiting thread at a time, Break() from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

namespace gw::bench {

class AckBarrier {
 public:
  explicit AckBarrier(size_t streams);

  // Stream `index` ACKed `version`.
  void Acked(size_t index, uint64_t version);

  // Waits until every stream ACKed `version` or newer. False at `deadline` or after Break().
  // At most 65,535 waits per barrier (the generation has 16 bits).
  bool WaitFor(uint64_t version, std::chrono::steady_clock::time_point deadline);

  // Ends the current and every later WaitFor() with false; `reason` says why.
  void Break(std::string reason);
  std::string broken_reason() const;

  // Streams that have ACKed `version` or newer.
  size_t Reached(uint64_t version) const;

 private:
  struct Slot {
    std::atomic<uint64_t> acked{0};    // newest version this stream ACKed
    std::atomic<uint64_t> counted{0};  // the newest wait (generation) it was counted for
  };
  // armed_ holds the wait's generation in its top 16 bits and its version below: one atomic,
  // so a stream never pairs one wait's generation with another's version.
  static constexpr int kGenerationShift = 48;
  static constexpr uint64_t kVersionMask = (uint64_t{1} << kGenerationShift) - 1;
  void Count(size_t index, uint64_t generation);

  const size_t streams_;
  std::unique_ptr<Slot[]> slots_;
  uint64_t generation_ = 0;            // of the latest WaitFor (its thread only)
  std::atomic<uint64_t> armed_{0};     // 0: not armed
  std::atomic<int64_t> remaining_{0};  // streams not yet counted for the armed wait
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool broken_ = false;        // mu_
  std::string broken_reason_;  // mu_
};

}  // namespace gw::bench
