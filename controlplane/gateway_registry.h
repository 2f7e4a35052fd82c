// GatewayRegistry: what the control plane knows about every gateway that subscribed: address,
// the version it last ACKed, its last NACK, whether its stream is up. In memory only; a
// restarted control plane learns it again as gateways reconnect.
//
// Written by the discovery streams, read by ListGateways / GetStatus. Thread-safe. Updates name
// the stream they come from, so a replaced stream cannot touch its successor's entry.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gateway.pb.h"

namespace gw {

// Entries kept at most; past it the longest-disconnected gateway is forgotten.
inline constexpr size_t kDefaultMaxGateways = 10000;

class GatewayRegistry {
 public:
  explicit GatewayRegistry(size_t max_gateways = kDefaultMaxGateways)
      : max_gateways_(max_gateways) {}

  // Stream `stream_id` said Hello for `node`, running `running_version` (from its cache, 0 if
  // none): the gateway is connected, this stream owns it, and its acked_version is the version
  // it says it runs (as if it ACKed it). A NACK error of a newer version is kept.
  void Connect(const gateway::v1::Node& node, std::string_view peer, uint64_t stream_id,
               uint64_t running_version);

  // The gateway runs `version` (it ACKed a push of it, or said Hello with the current version).
  // Clears the NACK error unless a newer version was NACKed. False if `stream_id` is stale.
  bool Ack(std::string_view node_id, uint64_t stream_id, uint64_t version);
  // The gateway refused `version`; it keeps its ACKed version live.
  bool Nack(std::string_view node_id, uint64_t stream_id, uint64_t version, std::string_view error);
  // Stream `stream_id` ended; the gateway stays listed as disconnected.
  void Disconnect(std::string_view node_id, uint64_t stream_id);

  std::vector<gateway::v1::GatewayStatus> List() const;  // sorted by node id
  std::optional<gateway::v1::GatewayStatus> Get(std::string_view node_id) const;

  struct Counts {
    uint32_t connected = 0;
    uint32_t total = 0;
  };
  Counts Count() const;

 private:
  struct Entry {
    gateway::v1::GatewayStatus status;
    uint64_t stream_id = 0;
  };

  Entry* Find(std::string_view node_id, uint64_t stream_id);  // mu_ held; null if stale
  void EvictOne();                                            // mu_ held

  const size_t max_gateways_;
  mutable std::mutex mu_;
  std::map<std::string, Entry, std::less<>> entries_;
};

}  // namespace gw
