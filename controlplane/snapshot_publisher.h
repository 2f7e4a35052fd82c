// SnapshotPublisher: holds the current Snapshot and fans every new one out to the live gateway
// streams. Owned by the ControlPlane; Publish() is called by the StoreWorker after each
// committed write, Subscribe()/Unsubscribe() by the streams.
//
// Locking: subscribers are called with the publisher's lock held, so a stream that has
// unsubscribed (in its OnDone, before it is deleted) is never called again. Subscribers must
// not block, nor call back into the publisher, from Offer() and Replace().
#pragma once

#include <cstddef>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
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
  // Whether a new subscriber from gateway process `instance` may take this one's node id: the
  // same process reconnecting, or this subscriber is ending anyway.
  virtual bool YieldsTo(std::string_view instance) const = 0;
  // Who holds the node id, for a refused claimant: "ipv4:10.0.0.7:41000 (address 10.0.0.7:8080)".
  virtual std::string Holder() const = 0;
};

inline constexpr size_t kRecentVersions = 16;
inline constexpr size_t kRecentBytes = size_t{256} << 20;

class SnapshotPublisher {
 public:
  explicit SnapshotPublisher(SnapshotPtr initial) : current_(std::move(initial)) {}

  // Makes `snapshot` current and offers it to every subscriber. A version not newer than the
  // current one is a no-op (returns false).
  bool Publish(SnapshotPtr snapshot);

  SnapshotPtr Current() const;
  // A recently published version (the last kRecentVersions), or null: the base a delta to a
  // gateway at that version is computed from.
  SnapshotPtr Find(uint64_t version) const;

  // Registers `subscriber` (of gateway process `instance`) for `node_id` and offers it the
  // current snapshot, all under one lock, so no version is missed. An earlier subscriber of the
  // node id is replaced (Replace()) when it yields to `instance`; otherwise nothing changes,
  // *holder names it, and false is returned: one node id, one gateway.
  bool Subscribe(const std::string& node_id, SnapshotSubscriber* subscriber,
                 std::string_view instance, std::string* holder = nullptr);
  // Removes `subscriber` if it is still the one registered for `node_id`.
  void Unsubscribe(const std::string& node_id, SnapshotSubscriber* subscriber);

  size_t subscriber_count() const;

 private:
  mutable std::mutex subscribers_mu_;  // taken before current_mu_
  std::unordered_map<std::string, SnapshotSubscriber*> subscribers_;
  mutable std::mutex current_mu_;
  SnapshotPtr current_;
  std::deque<SnapshotPtr> recent_;  // the versions published before current_, oldest first
};

}  // namespace gw
