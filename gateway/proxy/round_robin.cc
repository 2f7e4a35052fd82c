#include "gateway/proxy/round_robin.h"

namespace gw {

size_t RoundRobinNext(const UpstreamTarget& target) {
  // Relaxed: only the counter's own sequence matters, not its order with other memory.
  const uint64_t turn = target.next_endpoint.fetch_add(1, std::memory_order_relaxed);
  return static_cast<size_t>(turn % target.endpoints.size());
}

}  // namespace gw
