#include "bench/fanout/ack_barrier.h"

namespace gw::bench {

AckBarrier::AckBarrier(size_t streams) : streams_(streams), slots_(new Slot[streams]) {}

void AckBarrier::Acked(size_t index, uint64_t version) {
  Slot& slot = slots_[index];
  if (version > slot.acked.load()) slot.acked.store(version);  // only this stream writes it
  // Sequentially consistent: either this load sees WaitFor's new target, or WaitFor's scan
  // sees the store above, so an ACK racing with the arming is never missed.
  const uint64_t armed = armed_.load();
  if (armed != 0 && version >= (armed & kVersionMask)) Count(index, armed >> kGenerationShift);
}

void AckBarrier::Count(size_t index, uint64_t generation) {
  std::atomic<uint64_t>& counted = slots_[index].counted;
  uint64_t seen = counted.load();
  while (seen < generation) {
    if (counted.compare_exchange_weak(seen, generation)) {
      if (remaining_.fetch_sub(1) == 1) {
        std::lock_guard lock(mu_);  // the waiter checks under mu_: no lost wake-up
        cv_.notify_all();
      }
      return;
    }
  }
}

bool AckBarrier::WaitFor(uint64_t version, std::chrono::steady_clock::time_point deadline) {
  const uint64_t generation = ++generation_ & 0xffff;
  remaining_.store(static_cast<int64_t>(streams_));
  armed_.store(generation << kGenerationShift | (version & kVersionMask));
  for (size_t i = 0; i < streams_; ++i) {
    if (slots_[i].acked.load() >= version) Count(i, generation);
  }
  std::unique_lock lock(mu_);
  const bool reached =
      cv_.wait_until(lock, deadline, [&] { return broken_ || remaining_.load() <= 0; });
  return reached && !broken_;
}

void AckBarrier::Break(std::string reason) {
  std::lock_guard lock(mu_);
  if (!broken_) {
    broken_ = true;
    broken_reason_ = std::move(reason);
  }
  cv_.notify_all();
}

std::string AckBarrier::broken_reason() const {
  std::lock_guard lock(mu_);
  return broken_reason_;
}

size_t AckBarrier::Reached(uint64_t version) const {
  size_t reached = 0;
  for (size_t i = 0; i < streams_; ++i) reached += slots_[i].acked.load() >= version ? 1 : 0;
  return reached;
}

}  // namespace gw::bench
