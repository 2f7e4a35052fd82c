#include "controlplane/gateway_registry.h"

#include <chrono>

namespace gw {
namespace {

int64_t NowUnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

void GatewayRegistry::Connect(const gateway::v1::Node& node, std::string_view peer,
                              uint64_t stream_id, uint64_t running_version) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(node.id());
  if (it == entries_.end()) {
    if (entries_.size() >= max_gateways_) EvictOne();
    it = entries_.emplace(node.id(), Entry{}).first;
    it->second.status.set_node_id(node.id());
  }
  Entry& entry = it->second;
  entry.stream_id = stream_id;
  entry.status.set_address(node.address());
  entry.status.set_peer(std::string(peer));
  entry.status.set_build_version(node.build_version());
  entry.status.set_connected(true);
  entry.status.set_acked_version(running_version);
  if (running_version >= entry.status.nacked_version()) entry.status.clear_error();
  entry.status.set_last_seen_unix_ms(NowUnixMs());
}

GatewayRegistry::Entry* GatewayRegistry::Find(std::string_view node_id, uint64_t stream_id) {
  auto it = entries_.find(node_id);
  if (it == entries_.end() || it->second.stream_id != stream_id) return nullptr;
  return &it->second;
}

bool GatewayRegistry::Ack(std::string_view node_id, uint64_t stream_id, uint64_t version) {
  std::lock_guard lock(mu_);
  Entry* entry = Find(node_id, stream_id);
  if (!entry) return false;
  auto& status = entry->status;
  status.set_acked_version(version);
  if (version >= status.nacked_version()) status.clear_error();
  status.set_last_seen_unix_ms(NowUnixMs());
  return true;
}

bool GatewayRegistry::Nack(std::string_view node_id, uint64_t stream_id, uint64_t version,
                           std::string_view error) {
  std::lock_guard lock(mu_);
  Entry* entry = Find(node_id, stream_id);
  if (!entry) return false;
  auto& status = entry->status;
  status.set_nacked_version(version);
  status.set_error(error.empty() ? std::string("refused without a reason") : std::string(error));
  status.set_last_seen_unix_ms(NowUnixMs());
  return true;
}

void GatewayRegistry::Disconnect(std::string_view node_id, uint64_t stream_id) {
  std::lock_guard lock(mu_);
  Entry* entry = Find(node_id, stream_id);
  if (!entry) return;
  entry->status.set_connected(false);
  entry->status.set_last_seen_unix_ms(NowUnixMs());
}

std::vector<gateway::v1::GatewayStatus> GatewayRegistry::List() const {
  std::lock_guard lock(mu_);
  std::vector<gateway::v1::GatewayStatus> out;
  out.reserve(entries_.size());
  for (const auto& [id, entry] : entries_) out.push_back(entry.status);
  return out;
}

std::optional<gateway::v1::GatewayStatus> GatewayRegistry::Get(std::string_view node_id) const {
  std::lock_guard lock(mu_);
  auto it = entries_.find(node_id);
  if (it == entries_.end()) return std::nullopt;
  return it->second.status;
}

GatewayRegistry::Counts GatewayRegistry::Count() const {
  std::lock_guard lock(mu_);
  Counts counts;
  counts.total = static_cast<uint32_t>(entries_.size());
  for (const auto& [id, entry] : entries_)
    if (entry.status.connected()) ++counts.connected;
  return counts;
}

void GatewayRegistry::EvictOne() {
  auto oldest = entries_.end();
  for (auto it = entries_.begin(); it != entries_.end(); ++it) {
    if (it->second.status.connected()) continue;
    if (oldest == entries_.end() ||
        it->second.status.last_seen_unix_ms() < oldest->second.status.last_seen_unix_ms())
      oldest = it;
  }
  if (oldest != entries_.end()) entries_.erase(oldest);
}

}  // namespace gw
