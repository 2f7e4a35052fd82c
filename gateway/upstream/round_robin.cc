#include "gateway/upstream/round_robin.h"

namespace gw {

size_t RoundRobin::Next(std::string_view upstream, size_t count) {
  auto it = cursors_.find(upstream);
  if (it == cursors_.end()) it = cursors_.emplace(std::string(upstream), 0).first;
  return static_cast<size_t>(it->second++ % count);
}

}  // namespace gw
