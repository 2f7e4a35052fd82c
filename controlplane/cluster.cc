#include "controlplane/cluster.h"

#include <future>
#include <map>
#include <set>
#include <stdexcept>

#include "common/duration.h"
#include "common/log.h"

namespace gw {

void Cluster::Start(gateway::v1::ReplicaStatus self) {
  self_ = std::move(self);
  registry_.SetReplica(self_.id());
  std::promise<std::optional<StoreError>> done;
  if (!worker_.Post([this, &done] {
        auto error = ClaimId();
        if (!error) error = store_.backend().DisconnectReplica(self_.id(), NowUnixMs());
        if (!error) Heartbeat();
        done.set_value(std::move(error));
      }))
    throw std::runtime_error("the control plane is stopping");
  if (auto error = done.get_future().get()) throw std::runtime_error(error->message);
  thread_ = std::thread([this] { Run(); });
}

Cluster::~Cluster() { Stop(); }

std::optional<StoreError> Cluster::ClaimId() {
  auto rows = store_.backend().ReadRegistry();
  if (!rows) return rows.error();
  for (const auto& row : rows->replicas) {
    // The same id at the same address is this replica's earlier run: that address is ours now.
    if (row.status.id() != self_.id() || row.status.address() == self_.address() ||
        row.heartbeat_age_ms >= kReplicaDeadAfter.count())
      continue;
    return StoreError{StoreCode::kAlreadyExists,
                      "replica id " + self_.id() + " is in use by the running replica at " +
                          row.status.address() + " (its last heartbeat " +
                          std::to_string(row.heartbeat_age_ms / 1000) +
                          " s ago); give each replica its own --replica-id"};
  }
  return std::nullopt;
}

void Cluster::Stop() {
  if (stopping_.exchange(true)) return;
  store_.backend().StopWaiting();
  if (thread_.joinable()) thread_.join();
}

void Cluster::Run() {
  auto next_heartbeat = std::chrono::steady_clock::now() + kHeartbeatInterval;
  while (!stopping_) {
    const auto now = std::chrono::steady_clock::now();
    const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::max(next_heartbeat - now, std::chrono::steady_clock::duration::zero()));
    store_.backend().WaitForChange(std::min(wait, kHeartbeatInterval));
    if (stopping_) break;
    // Coalesced: while the worker is busy (or the database slow), one task of each kind waits.
    if (!refresh_queued_.exchange(true) && !worker_.Post([this] {
          refresh_queued_ = false;
          Note(store_.Refresh());
        }))
      refresh_queued_ = false;
    if (std::chrono::steady_clock::now() >= next_heartbeat) {
      next_heartbeat = std::chrono::steady_clock::now() + kHeartbeatInterval;
      if (!heartbeat_queued_.exchange(true) && !worker_.Post([this] {
            heartbeat_queued_ = false;
            Heartbeat();
          }))
        heartbeat_queued_ = false;
    }
  }
}

void Cluster::Note(const std::optional<StoreError>& error) {
  if (error) {
    if (failing_.empty())
      LogWarn(error->message + "; gateways keep their config, writes are refused until it is back");
    failing_ = error->message;
  } else if (!failing_.empty()) {
    failing_.clear();
    LogInfo(store_.backend().name() + " is back; replica in sync");
  }
}

void Cluster::Heartbeat() {
  gateway::v1::ReplicaStatus self = self_;
  self.set_loaded_version(publisher_.Current()->version());
  self.set_gateways_connected(registry_.Count().connected);
  GatewayRegistry::Changes changes = registry_.TakeChanges();
  auto error = store_.backend().WriteRegistry(self, changes.changed, changes.forgotten);
  if (error) registry_.Unsync(changes);
  Note(error);
}

ClusterView Cluster::Read() {
  ClusterView view;
  std::map<std::string, gateway::v1::GatewayStatus> gateways;
  std::map<std::string, gateway::v1::ReplicaStatus> replicas;
  auto rows = store_.backend().ReadRegistry();
  if (!rows) {
    view.store_error = rows.error().message;
  } else {
    std::map<std::string, int64_t> dead_since;  // replica id -> its last heartbeat
    for (auto& row : rows->replicas) {
      row.status.set_alive(row.heartbeat_age_ms < kReplicaDeadAfter.count());
      if (!row.status.alive()) dead_since[row.status.id()] = row.status.heartbeat_unix_ms();
      replicas[row.status.id()] = row.status;
    }
    for (auto& gateway : rows->gateways) {
      if (gateway.replica() == self_.id()) {
        // This replica's own entries come from memory below; a row left from an earlier run
        // (not in memory) was marked disconnected at start.
        gateway.set_connected(false);
      } else if (gateway.connected()) {
        auto dead = dead_since.find(gateway.replica());
        if (dead != dead_since.end() || !replicas.count(gateway.replica())) {
          gateway.set_connected(false);
          gateway.set_disconnected_unix_ms(dead != dead_since.end() ? dead->second : 0);
        }
      }
      gateways[gateway.node_id()] = std::move(gateway);
    }
  }
  // This replica's gateways as it knows them now; a gateway connected elsewhere wins over a
  // stream that ended here.
  for (auto& local : registry_.List()) {
    auto it = gateways.find(local.node_id());
    if (it != gateways.end() && it->second.connected() && !local.connected()) continue;
    gateways[local.node_id()] = std::move(local);
  }
  gateway::v1::ReplicaStatus& self = replicas[self_.id()];
  const int64_t heartbeat = self.heartbeat_unix_ms();
  self = self_;
  self.set_heartbeat_unix_ms(heartbeat != 0 ? heartbeat : NowUnixMs());
  self.set_loaded_version(publisher_.Current()->version());
  self.set_gateways_connected(registry_.Count().connected);
  self.set_alive(true);
  self.set_self(true);
  for (auto& [id, replica] : replicas) view.replicas.push_back(std::move(replica));
  for (auto& [id, gateway] : gateways) view.gateways.push_back(std::move(gateway));
  return view;
}

std::vector<std::string> Cluster::Prune(uint64_t older_than_ms) {
  std::vector<std::string> pruned = registry_.Prune(older_than_ms);
  const int64_t now = NowUnixMs();
  if (older_than_ms > static_cast<uint64_t>(now)) return pruned;
  const int64_t cutoff = now - static_cast<int64_t>(older_than_ms);
  // Rows in the store: other replicas' gateways, this one's from earlier runs, and the rows of
  // those just pruned here.
  std::vector<std::string> rows;
  for (const auto& gateway : Read().gateways)
    if (!gateway.connected() && gateway.disconnected_unix_ms() <= cutoff &&
        !registry_.Get(gateway.node_id()))
      rows.push_back(gateway.node_id());
  if (rows.empty() || store_.backend().ForgetGateways(rows)) return pruned;
  std::set<std::string> all(pruned.begin(), pruned.end());
  all.insert(rows.begin(), rows.end());
  return {all.begin(), all.end()};
}

}  // namespace gw
