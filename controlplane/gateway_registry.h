// GatewayRegistry: what the control plane knows about every gateway that subscribed: address,
// the version it last ACKed, its last NACK, whether its stream is up and since when it is gone,
// why its previous stream failed, whether its cache file holds what it runs, and whether
// another gateway tried to use its node id. This replica's gateways, in memory; the cluster's
// view is in the store (controlplane/cluster.h writes the changed entries there every second).
//
// Written by the discovery streams, read by ListGateways / GetStatus. Thread-safe. Updates name
// the stream they come from, so a replaced stream cannot touch its successor's entry.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "gateway.pb.h"

namespace gw {

// Entries kept at most; past it the longest-disconnected gateway is forgotten.
inline constexpr size_t kDefaultMaxGateways = 10000;
// A refused claim on a node id stays shown this long after the last attempt (a refused gateway
// retries every couple of seconds, so an ongoing conflict stays in view).
inline constexpr std::chrono::seconds kConflictShownFor{60};

class GatewayRegistry {
 public:
  explicit GatewayRegistry(size_t max_gateways = kDefaultMaxGateways)
      : max_gateways_(max_gateways) {}

  // The replica id stamped on every entry (GatewayStatus.replica). Before the first Connect.
  void SetReplica(std::string replica_id) { replica_ = std::move(replica_id); }

  // Stream `stream_id` said `hello`: the gateway is connected, this stream owns it, and its
  // acked_version is the version it says it runs (as if it ACKed it). A NACK error of a newer
  // version is kept; the stream error it reports stays until the stream proves healthy.
  void Connect(const gateway::v1::Hello& hello, std::string_view peer, uint64_t stream_id);

  // The gateway runs `version` (it ACKed a push of it), with `cache_error` ("" when its cache
  // file holds it). Clears the stream error, and the NACK error unless a newer version was
  // NACKed. False if `stream_id` is stale.
  bool Ack(std::string_view node_id, uint64_t stream_id, uint64_t version,
           std::string_view cache_error = {});
  // The stream had nothing to push (the gateway runs the current version): it works.
  void Healthy(std::string_view node_id, uint64_t stream_id);
  // The gateway is not sent the current version (`reason`: a feature it lacks); it keeps its
  // ACKed version. True when the reason is new (worth a log line). "" clears it.
  bool Behind(std::string_view node_id, uint64_t stream_id, std::string_view reason);
  // Connected gateways that do not apply every feature of `used`: "gw-1 (0.2.0, protocol 0)
  // lacks cors", for a write's warning.
  std::vector<std::string> Lacking(const std::set<std::string>& used) const;
  // The gateway refused `version`; it keeps its ACKed version live.
  bool Nack(std::string_view node_id, uint64_t stream_id, uint64_t version, std::string_view error);
  // Stream `stream_id` ended; the gateway stays listed as disconnected, since the first time
  // this was said of the stream.
  void Disconnect(std::string_view node_id, uint64_t stream_id);

  // Another gateway (`who`: its peer and address) tried to subscribe as `node_id`, which a
  // connected gateway holds, and was refused. Shown with the holder for kConflictShownFor.
  // True when it is worth a log line: a new claimant, or a minute since the last line.
  bool Conflict(std::string_view node_id, std::string_view who);

  // Forgets the gateways disconnected for at least `older_than_ms` (any value: one longer than
  // the epoch forgets none); returns their node ids.
  std::vector<std::string> Prune(uint64_t older_than_ms);

  std::vector<gateway::v1::GatewayStatus> List() const;  // sorted by node id
  std::optional<gateway::v1::GatewayStatus> Get(std::string_view node_id) const;

  struct Counts {
    uint32_t connected = 0;
    uint32_t total = 0;
  };
  Counts Count() const;

  // What changed since the last call, for the store: the entries as List() shows them, and the
  // node ids forgotten (pruned or evicted). Give them back with Unsync when they could not be
  // written, so that the next call has them again.
  struct Changes {
    std::vector<gateway::v1::GatewayStatus> changed;
    std::vector<std::string> forgotten;
  };
  Changes TakeChanges();
  void Unsync(const Changes& changes);

 private:
  struct Entry {
    gateway::v1::GatewayStatus status;
    gateway::v1::Node node;  // as its Hello stated it: build, protocol, features
    uint64_t stream_id = 0;
    int64_t conflict_logged_unix_ms = 0;
  };

  // mu_ held. Null if stale; else the entry, marked changed.
  Entry* Find(std::string_view node_id, uint64_t stream_id);
  void EvictOne();  // mu_ held
  gateway::v1::GatewayStatus Shown(const Entry& entry, int64_t now) const;

  const size_t max_gateways_;
  std::string replica_;
  mutable std::mutex mu_;
  std::map<std::string, Entry, std::less<>> entries_;
  std::set<std::string, std::less<>> changed_;    // node ids changed since TakeChanges
  std::set<std::string, std::less<>> forgotten_;  // node ids forgotten since TakeChanges
};

}  // namespace gw
