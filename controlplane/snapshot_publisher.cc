#include "controlplane/snapshot_publisher.h"

namespace gw {

bool SnapshotPublisher::Publish(SnapshotPtr snapshot) {
  std::lock_guard lock(subscribers_mu_);
  {
    std::lock_guard current_lock(current_mu_);
    if (current_ && snapshot->version() <= current_->version()) return false;
    if (current_) recent_.push_back(current_);
    // Bounded by count and by bytes: large configs keep fewer bases.
    size_t bytes = 0;
    for (const auto& kept : recent_) bytes += kept->body_bytes();
    while (!recent_.empty() && (recent_.size() > kRecentVersions || bytes > kRecentBytes)) {
      bytes -= recent_.front()->body_bytes();
      recent_.pop_front();
    }
    current_ = snapshot;
  }
  for (auto& [node_id, subscriber] : subscribers_) subscriber->Offer(snapshot);
  return true;
}

SnapshotPtr SnapshotPublisher::Current() const {
  std::lock_guard lock(current_mu_);
  return current_;
}

SnapshotPtr SnapshotPublisher::Find(uint64_t version) const {
  std::lock_guard lock(current_mu_);
  if (current_ && current_->version() == version) return current_;
  for (const auto& snapshot : recent_)
    if (snapshot->version() == version) return snapshot;
  return nullptr;
}

bool SnapshotPublisher::Subscribe(const std::string& node_id, SnapshotSubscriber* subscriber,
                                  std::string_view instance, std::string* holder) {
  std::lock_guard lock(subscribers_mu_);
  auto [it, inserted] = subscribers_.try_emplace(node_id, subscriber);
  if (!inserted && it->second != subscriber) {
    if (!it->second->YieldsTo(instance)) {
      if (holder) *holder = it->second->Holder();
      return false;
    }
    it->second->Replace();
    it->second = subscriber;
  }
  subscriber->Offer(Current());
  return true;
}

void SnapshotPublisher::Unsubscribe(const std::string& node_id, SnapshotSubscriber* subscriber) {
  std::lock_guard lock(subscribers_mu_);
  auto it = subscribers_.find(node_id);
  if (it != subscribers_.end() && it->second == subscriber) subscribers_.erase(it);
}

size_t SnapshotPublisher::subscriber_count() const {
  std::lock_guard lock(subscribers_mu_);
  return subscribers_.size();
}

}  // namespace gw
