// SnapshotPublisher: holds the current Snapshot and fans every new one out to the live gateway
// streams. Owned by the ControlPlane; Publish() is called by the StoreWorker after each
// committed write, Subscribe()/Unsubscribe() by the streams.
//
// Locking: subscribers are called with the publisher's lock held, so a stream that has
// unsubscribed (in its OnDone, before it is deleted) is never called again. Subscribers must
// not block, nor call back into the publisher, from Offer() and Replace().
#pragma once

#include <cstddef>
#include <mutex>
#include <string>
#include <unordered_map>

#include "controlplane/snapshot.h"

namespace gw {

class SnapshotSubscriber {
 public:
  virtual ~SnapshotSubscriber() = default;
  // A version was published (or is current when the subscriber joins).
  virtual void Offer(const SnapshotPtr& snapshot) = 0;
  // A newer subscriber for the same node id took over; this one should end.
  virtual void Replace() = 0;
};

class SnapshotPublisher {
 public:
  explicit SnapshotPublisher(SnapshotPtr initial) : current_(std::move(initial)) {}

  // Makes `snapshot` current and offers it to every subscriber. A version not newer than the
  // current one is a no-op (returns false).
  bool Publish(SnapshotPtr snapshot);

  SnapshotPtr Current() const;

  // Registers `subscriber` for `node_id`, replacing (and calling Replace() on) an earlier one,
  // then offers it the current snapshot; all under one lock, so no version is missed.
  void Subscribe(const std::string& node_id, SnapshotSubscriber* subscriber);
  // Removes `subscriber` if it is still the one registered for `node_id`.
  void Unsubscribe(const std::string& node_id, SnapshotSubscriber* subscriber);

  size_t subscriber_count() const;

 private:
  mutable std::mutex subscribers_mu_;  // taken before current_mu_
  std::unordered_map<std::string, SnapshotSubscriber*> subscribers_;
  mutable std::mutex current_mu_;
  SnapshotPtr current_;
};

}  // namespace gw
