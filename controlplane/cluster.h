// Cluster: this replica's part in a cluster of control planes that share one store.
//
// - The change feed: a thread waits on the store (StoreBackend::WaitForChange: PostgreSQL's
//   LISTEN, or a timeout) and has the StoreWorker run ConfigStore::Refresh, which hands any newer
//   version to the SnapshotPublisher; every second at least, so a lost announcement costs a
//   second at most.
// - The heartbeat: every second, on the StoreWorker, this replica's row (address, version
//   loaded, gateways connected) and the registry entries that changed are written to the store.
// - The view: every replica and every gateway of the cluster, for `gatewayctl status` and
//   `gatewayctl gateways` on any replica. A replica whose heartbeat is older than
//   kReplicaDeadAfter is shown down, and its gateways disconnected since its last heartbeat.
//
// Owned by the ControlPlane. Read(), Prune() and the feed's tasks run on the StoreWorker.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "controlplane/gateway_registry.h"
#include "controlplane/snapshot_publisher.h"
#include "controlplane/store/config_store.h"
#include "controlplane/store_worker.h"
#include "gateway.pb.h"

namespace gw {

inline constexpr std::chrono::milliseconds kHeartbeatInterval{1000};
inline constexpr std::chrono::milliseconds kReplicaDeadAfter{5000};

struct ClusterView {
  std::vector<gateway::v1::ReplicaStatus> replicas;  // by id; this one included
  std::vector<gateway::v1::GatewayStatus> gateways;  // by node id
  std::string store_error;  // the store could not be read: only this replica's part is shown
};

class Cluster {
 public:
  Cluster(ConfigStore& store, StoreWorker& worker, GatewayRegistry& registry,
          SnapshotPublisher& publisher)
      : store_(store), worker_(worker), registry_(registry), publisher_(publisher) {}
  // `self`: id, address, build_version and started_unix_ms of this replica (known once the
  // server listens). Refuses an id a live replica elsewhere holds, marks this replica's gateway
  // rows from an earlier run disconnected and writes its first heartbeat, on the StoreWorker
  // (throws std::runtime_error when any of that fails), then starts the feed's thread.
  void Start(gateway::v1::ReplicaStatus self);
  ~Cluster();  // Stop()

  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  void Stop();  // joins the feed's thread; idempotent

  // On the StoreWorker.
  ClusterView Read();
  // Forgets the gateways of the cluster disconnected for at least `older_than_ms`.
  std::vector<std::string> Prune(uint64_t older_than_ms);

 private:
  // Refuses this replica's id when a live replica elsewhere has it: two replicas writing one
  // row would show each other's gateways disconnected. On the StoreWorker.
  std::optional<StoreError> ClaimId();
  void Run();        // the feed's thread
  void Heartbeat();  // on the StoreWorker
  // A store failure of the feed or the heartbeat: logged when it starts and when it ends.
  void Note(const std::optional<StoreError>& error);

  ConfigStore& store_;
  StoreWorker& worker_;
  GatewayRegistry& registry_;
  SnapshotPublisher& publisher_;
  gateway::v1::ReplicaStatus self_;  // set by Start, before the feed's thread
  std::atomic<bool> stopping_{false};
  std::atomic<bool> refresh_queued_{false};
  std::atomic<bool> heartbeat_queued_{false};
  std::string failing_;  // the store error being logged ("" when fine); on the StoreWorker
  std::thread thread_;
};

}  // namespace gw
