#include "controlplane/gateway_registry.h"

#include <chrono>

#include "common/config_features.h"
#include "common/duration.h"
#include "common/validation.h"
#include "common/wire_limits.h"

namespace gw {

void GatewayRegistry::Connect(const gateway::v1::Hello& hello, std::string_view peer,
                              uint64_t stream_id) {
  const gateway::v1::Node& node = hello.node();
  std::lock_guard lock(mu_);
  auto it = entries_.find(node.id());
  if (it == entries_.end()) {
    if (entries_.size() >= max_gateways_) EvictOne();
    it = entries_.emplace(node.id(), Entry{}).first;
    it->second.status.set_node_id(node.id());
  }
  changed_.insert(node.id());
  forgotten_.erase(node.id());
  Entry& entry = it->second;
  entry.status.set_replica(replica_);
  entry.stream_id = stream_id;
  entry.node = node;
  auto& status = entry.status;
  status.set_address(node.address());
  status.set_peer(std::string(peer));
  status.set_build_version(node.build_version());
  status.set_connected(true);
  status.set_disconnected_unix_ms(0);
  status.clear_behind();
  status.set_acked_version(hello.running_version());
  if (hello.running_version() >= status.nacked_version()) status.clear_error();
  status.set_stream_error(StatusMessage(hello.last_stream_error()));
  status.set_last_seen_unix_ms(NowUnixMs());
}

GatewayRegistry::Entry* GatewayRegistry::Find(std::string_view node_id, uint64_t stream_id) {
  auto it = entries_.find(node_id);
  if (it == entries_.end() || it->second.stream_id != stream_id) return nullptr;
  changed_.insert(it->first);
  return &it->second;
}

bool GatewayRegistry::Ack(std::string_view node_id, uint64_t stream_id, uint64_t version,
                          std::string_view cache_error) {
  std::lock_guard lock(mu_);
  Entry* entry = Find(node_id, stream_id);
  if (!entry) return false;
  auto& status = entry->status;
  status.set_acked_version(version);
  if (version >= status.nacked_version()) status.clear_error();
  status.clear_stream_error();
  status.set_cache_error(StatusMessage(cache_error));
  status.set_last_seen_unix_ms(NowUnixMs());
  return true;
}

void GatewayRegistry::Healthy(std::string_view node_id, uint64_t stream_id) {
  std::lock_guard lock(mu_);
  if (Entry* entry = Find(node_id, stream_id)) entry->status.clear_stream_error();
}

bool GatewayRegistry::Nack(std::string_view node_id, uint64_t stream_id, uint64_t version,
                           std::string_view error) {
  std::lock_guard lock(mu_);
  Entry* entry = Find(node_id, stream_id);
  if (!entry) return false;
  auto& status = entry->status;
  status.set_nacked_version(version);
  status.set_error(error.empty() ? std::string("refused without a reason") : StatusMessage(error));
  status.set_last_seen_unix_ms(NowUnixMs());
  return true;
}

void GatewayRegistry::Disconnect(std::string_view node_id, uint64_t stream_id) {
  std::lock_guard lock(mu_);
  Entry* entry = Find(node_id, stream_id);
  // Told twice (the stream ends after a refusal ended it): the first time is when it went.
  if (!entry || !entry->status.connected()) return;
  const int64_t now = NowUnixMs();
  entry->status.set_connected(false);
  entry->status.set_disconnected_unix_ms(now);
  entry->status.set_last_seen_unix_ms(now);
}

bool GatewayRegistry::Behind(std::string_view node_id, uint64_t stream_id,
                             std::string_view reason) {
  std::lock_guard lock(mu_);
  Entry* entry = Find(node_id, stream_id);
  if (entry == nullptr || entry->status.behind() == reason) return false;
  entry->status.set_behind(StatusMessage(reason));
  return !reason.empty();
}

std::vector<std::string> GatewayRegistry::Lacking(const std::set<std::string>& used) const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const auto& [id, entry] : entries_) {
    if (!entry.status.connected()) continue;
    if (const auto missing = MissingFeatures(used, entry.node); !missing.empty())
      out.push_back(id + " (" + DescribeBuild(entry.node) + ") lacks " +
                    JoinForMessage(missing, ", "));
  }
  return out;
}

bool GatewayRegistry::Conflict(std::string_view node_id, std::string_view who) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(node_id);
  if (it == entries_.end()) return true;
  Entry& entry = it->second;
  const int64_t now = NowUnixMs();
  const bool news = entry.status.conflict() != who || now - entry.conflict_logged_unix_ms >= 60'000;
  changed_.insert(it->first);
  entry.status.set_conflict(std::string(who));
  entry.status.set_conflict_unix_ms(now);
  if (news) entry.conflict_logged_unix_ms = now;
  return news;
}

std::vector<std::string> GatewayRegistry::Prune(uint64_t older_than_ms) {
  std::lock_guard lock(mu_);
  const int64_t now = NowUnixMs();
  if (older_than_ms > static_cast<uint64_t>(now)) return {};
  const int64_t cutoff = now - static_cast<int64_t>(older_than_ms);
  std::vector<std::string> pruned;
  for (auto it = entries_.begin(); it != entries_.end();) {
    const auto& status = it->second.status;
    if (!status.connected() && status.disconnected_unix_ms() <= cutoff) {
      pruned.push_back(it->first);
      changed_.erase(it->first);
      forgotten_.insert(it->first);
      it = entries_.erase(it);
    } else {
      ++it;
    }
  }
  return pruned;
}

gateway::v1::GatewayStatus GatewayRegistry::Shown(const Entry& entry, int64_t now) const {
  gateway::v1::GatewayStatus status = entry.status;
  const int64_t shown_since =
      now - std::chrono::duration_cast<std::chrono::milliseconds>(kConflictShownFor).count();
  if (status.conflict_unix_ms() < shown_since) {
    status.clear_conflict();
    status.clear_conflict_unix_ms();
  }
  return status;
}

std::vector<gateway::v1::GatewayStatus> GatewayRegistry::List() const {
  std::lock_guard lock(mu_);
  const int64_t now = NowUnixMs();
  std::vector<gateway::v1::GatewayStatus> out;
  out.reserve(entries_.size());
  for (const auto& [id, entry] : entries_) out.push_back(Shown(entry, now));
  return out;
}

GatewayRegistry::Changes GatewayRegistry::TakeChanges() {
  std::lock_guard lock(mu_);
  const int64_t now = NowUnixMs();
  Changes changes;
  for (const auto& id : changed_)
    if (auto it = entries_.find(id); it != entries_.end())
      changes.changed.push_back(Shown(it->second, now));
  changes.forgotten.assign(forgotten_.begin(), forgotten_.end());
  changed_.clear();
  forgotten_.clear();
  return changes;
}

void GatewayRegistry::Unsync(const Changes& changes) {
  std::lock_guard lock(mu_);
  for (const auto& status : changes.changed)
    if (entries_.count(status.node_id())) changed_.insert(status.node_id());
  for (const auto& id : changes.forgotten)
    if (!entries_.count(id)) forgotten_.insert(id);
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
  if (oldest != entries_.end()) {
    changed_.erase(oldest->first);
    forgotten_.insert(oldest->first);
    entries_.erase(oldest);
  }
}

}  // namespace gw
