// RelayBuffers: one worker's spare body relay buffers (kRelayBufferSize bytes each).
//
// A request or response body in flight borrows one buffer per direction and gives it back when
// it ends. Keeping spares saves a 64 KiB allocation and free per body, which glibc serves by
// growing and trimming the heap (page faults, madvise) on every request. As many are kept as
// the load lends out (HTTP/2 has many bodies in flight per connection; at most kMaxSpare), and
// Trim, called by the worker's sweep every few seconds, frees those no body needed since the
// previous Trim beyond kMinSpare: an idle worker comes back to kMinSpare * kRelayBufferSize.
// Owned by a Worker and used on its thread only (no lock).
#pragma once

#include <algorithm>
#include <cstddef>
#include <memory>
#include <vector>

#include "gateway/http/proxy_settings.h"

namespace gw {

class RelayBuffers {
 public:
  using Buffer = std::unique_ptr<char[]>;

  static constexpr size_t kMinSpare = 16;
  static constexpr size_t kMaxSpare = 1024;

  // A buffer of kRelayBufferSize bytes, contents unspecified.
  Buffer Take() {
    if (spare_.empty()) {
      unused_ = 0;
      return std::make_unique_for_overwrite<char[]>(kRelayBufferSize);
    }
    Buffer buffer = std::move(spare_.back());
    spare_.pop_back();
    unused_ = std::min(unused_, spare_.size());
    return buffer;
  }

  // Returns a buffer from Take (null is ignored).
  void Give(Buffer buffer) {
    if (buffer && spare_.size() < kMaxSpare) spare_.push_back(std::move(buffer));
  }

  // Frees the spares that stayed unused since the previous call, down to kMinSpare.
  void Trim() {
    const size_t keep = std::max(kMinSpare, spare_.size() - std::min(unused_, spare_.size()));
    if (spare_.size() > keep) spare_.resize(keep);
    unused_ = spare_.size();
  }

  size_t spare() const { return spare_.size(); }

 private:
  std::vector<Buffer> spare_;
  size_t unused_ = 0;  // the fewest spares there were since the last Trim: none of those was used
};

}  // namespace gw
