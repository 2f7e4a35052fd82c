// SimulatedGateway: one gateway's Subscribe stream, as the real gateway speaks it
// (gateway/config/subscription.cc), with no proxy behind it: a gRPC callback reactor on raw
// bytes.
//
// It opens with a Hello (a node id of its own, this build's version, protocol version and
// config features, the "delta" capability, a random instance id, running version 0) and
// answers every push:
//   snapshot whose version matches the push               -> Ack; it now holds that version
//   delta whose base_version is the version it holds     -> Ack; it now holds the new version
//   delta on another base, a mismatched snapshot, no payload, bytes that are no ConfigMessage
//                                                          -> Nack with the reason
// Answers go out one write at a time, in order (a push may arrive while an answer is still
// being written). Every ACK is reported to the AckBarrier and remembered with the time it was
// handed to gRPC, so the bench can tell when the stream first ACKed a version.
//
// Owned by GatewayFleet, which keeps it alive until OnDone. Threads: reactions on gRPC threads
// (serialized per stream); the accessors from any thread (mu_).
#pragma once

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "bench/fanout/ack_barrier.h"
#include "gateway.pb.h"

namespace gw::bench {

using Clock = std::chrono::steady_clock;

// What each stream adds to the fleet's counters (shared by all streams of a fleet).
struct FleetCounters {
  std::atomic<uint64_t> bytes{0};     // ConfigMessage bytes received (serialized size)
  std::atomic<uint64_t> messages{0};  // ConfigMessages received
  std::atomic<uint64_t> snapshots{0};
  std::atomic<uint64_t> deltas{0};
  std::atomic<uint64_t> nacks{0};
};

class SimulatedGateway final : public grpc::ClientBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  // `on_done` runs once, from OnDone, with the stream's index and final status.
  SimulatedGateway(size_t index, std::string node_id, bool full_parse, AckBarrier& barrier,
                   FleetCounters& counters,
                   std::function<void(size_t, const grpc::Status&)> on_done);

  // Writes the Hello and starts the stream on `stub`'s channel.
  void Start(grpc::GenericStub& stub);
  // Cancels the stream (OnDone follows).
  void Cancel() { context_.TryCancel(); }

  // When this stream first ACKed `version` or a newer one; nullopt if it has not.
  std::optional<Clock::time_point> FirstAckAtOrAbove(uint64_t version) const;
  std::string last_nack() const;

  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnDone(const grpc::Status& status) override;

 private:
  gateway::v1::GatewayMessage Answer(const grpc::ByteBuffer& push);
  void Send(const gateway::v1::GatewayMessage& message);  // mu_ held

  const size_t index_;
  const std::string node_id_;
  const std::string instance_id_;
  const bool full_parse_;
  AckBarrier& barrier_;
  FleetCounters& counters_;
  const std::function<void(size_t, const grpc::Status&)> on_done_;

  grpc::ClientContext context_;
  grpc::ByteBuffer in_;  // the read in flight (reactions only)
  uint64_t held_ = 0;    // the version it "serves" (reactions only)

  mutable std::mutex mu_;
  grpc::ByteBuffer out_;  // the write in flight
  bool writing_ = false;
  std::deque<grpc::ByteBuffer> pending_;  // answers waiting for the write in flight
  std::vector<std::pair<uint64_t, Clock::time_point>> acks_;  // (version, when), in order
  std::string last_nack_;
};

}  // namespace gw::bench
