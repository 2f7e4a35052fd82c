// GatewayStream: the server side of one gateway's Subscribe stream (a gRPC callback reactor).
//
// Created by DiscoveryService::Subscribe, it deletes itself in OnDone(). It reads the Hello,
// subscribes to the SnapshotPublisher, and from then on writes each offered version with one
// write in flight (PushState decides what and when) and records ACK/NACKs in the
// GatewayRegistry. A Hello for a node id another gateway process holds is refused with
// ALREADY_EXISTS naming the holder (the holder keeps its stream; the registry shows the
// conflict); one from the holder's own process (a reconnect) replaces the older stream. Messages
// travel as raw bytes so a snapshot's body is serialized once for all streams (see Snapshot); they
// are ordinary GatewayMessage / ConfigMessage on the wire. A gateway that announces the "delta"
// capability gets only what changed since the version it holds (its Hello's running version, then
// each version written to it), when the publisher still has that version; else, and after any NACK,
// a whole snapshot. A delta the gateway could not apply (Nack.needs_snapshot) is sent again as a
// snapshot.
//
// Threads: reactions run on gRPC threads, Offer()/Replace() on the publishing thread with the
// publisher's lock held. mu_ guards all state; the stream is finished exactly once, and never
// while a write is in flight (the finish waits for OnWriteDone).
#pragma once

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>

#include "controlplane/auth.h"
#include "controlplane/gateway_registry.h"
#include "controlplane/push_state.h"
#include "controlplane/snapshot_publisher.h"
#include "gateway.pb.h"

namespace gw {

inline constexpr size_t kMaxNodeIdLength = 253;

class GatewayStream final : public grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>,
                            public SnapshotSubscriber {
 public:
  // `caller` is who opened the stream (controlplane/auth.h); a stream whose authorization
  // failed gets `refused` as its status at once and never subscribes.
  GatewayStream(grpc::CallbackServerContext* context, SnapshotPublisher& publisher,
                GatewayRegistry& registry, uint64_t stream_id, Caller caller,
                const grpc::Status& refused);

  // SnapshotSubscriber (publisher's lock held).
  void Offer(const SnapshotPtr& snapshot) override;
  void Replace() override;
  bool YieldsTo(std::string_view instance) const override;
  std::string Holder() const override;

  // gRPC reactions.
  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnDone() override;

 private:
  ~GatewayStream() override = default;  // only OnDone() deletes

  // Each returns false when the stream must end (it has called FinishLocked()).
  bool HandleFirst(const gateway::v1::GatewayMessage& message);
  void HandleAck(const gateway::v1::Ack& ack);
  void HandleNack(const gateway::v1::Nack& nack);
  // Whether an answer carrying `version` counts (logged when not); mu_ held.
  bool Counts(const PushState::Answer& answer, uint64_t version, std::string_view verb);

  void WriteLocked();                             // writes newest_; mu_ held
  void FinishLocked(const grpc::Status& status);  // finishes now or after the write in flight

  SnapshotPublisher& publisher_;
  GatewayRegistry& registry_;
  const uint64_t stream_id_;
  const std::string peer_;
  const Caller caller_;

  // Set by the first read, before the stream subscribes; read-only afterwards.
  gateway::v1::Hello hello_;
  bool deltas_ = false;  // it announced the "delta" capability
  bool behind_ = false;  // the newest version offered uses a feature this gateway lacks
  std::string node_id_;  // "" unless subscribed
  bool subscribed_ = false;

  mutable std::mutex mu_;
  PushState push_;
  SnapshotPtr newest_;  // the snapshot of push_.newest()
  // The version the gateway holds once it applied what was written (a delta's base); unset
  // after a NACK or with nothing known, which makes the next push a snapshot.
  std::optional<uint64_t> base_;
  uint64_t last_delta_ = 0;  // the version last pushed as a delta
  grpc::ByteBuffer in_;      // the read in flight (reactions only)
  grpc::ByteBuffer out_;     // the write in flight
  bool finishing_ = false;   // FinishLocked() was called
  bool finish_sent_ = false;
  grpc::Status finish_status_;
};

}  // namespace gw
