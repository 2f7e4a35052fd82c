// RelayBuffers: one worker's spare body relay buffers (kRelayBufferSize bytes each).
//
// A request or response body in flight borrows one buffer per direction and gives it back when
// it ends. Keeping a few spares saves a 64 KiB allocation and free per body, which glibc serves
// by growing and trimming the heap (page faults, madvise) on every request. At most kMaxSpare
// are kept, so an idle worker holds at most kMaxSpare * kRelayBufferSize. Owned by a Worker and
// used on its thread only (no lock).
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

#include "gateway/http/proxy_settings.h"

namespace gw {

class RelayBuffers {
 public:
  using Buffer = std::unique_ptr<char[]>;

  static constexpr size_t kMaxSpare = 16;

  // A buffer of kRelayBufferSize bytes, contents unspecified.
  Buffer Take() {
    if (spare_.empty()) return std::make_unique_for_overwrite<char[]>(kRelayBufferSize);
    Buffer buffer = std::move(spare_.back());
    spare_.pop_back();
    return buffer;
  }

  // Returns a buffer from Take (null is ignored).
  void Give(Buffer buffer) {
    if (buffer && spare_.size() < kMaxSpare) spare_.push_back(std::move(buffer));
  }

  size_t spare() const { return spare_.size(); }

 private:
  std::vector<Buffer> spare_;
};

}  // namespace gw
