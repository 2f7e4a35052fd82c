// RoundRobin: per-worker cursors that spread requests over an upstream's endpoints.
//
// Keyed by upstream name (service name, or "host:port" of a DNS target), so a cursor survives
// config versions that keep the upstream. Each worker owns one and uses it on its own thread
// only: no lock, no shared counter on the request path.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace gw {

class RoundRobin {
 public:
  // The index, in [0, count), of the endpoint to try first for `upstream`; advances the cursor.
  // count must be > 0.
  size_t Next(std::string_view upstream, size_t count);

  // Forgets every cursor (each restarts at the first endpoint). For long-running workers whose
  // config history named many upstreams.
  void Clear() { cursors_.clear(); }
  size_t size() const { return cursors_.size(); }

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, uint64_t, Hash, std::equal_to<>> cursors_;
};

}  // namespace gw
