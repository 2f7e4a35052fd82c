// GatewayFleet: N simulated gateway streams in this process, spread round-robin over the
// control-plane replicas, `streams_per_channel` streams sharing each gRPC channel. Every
// channel gets its own HTTP/2 connection (GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL: channels with
// equal arguments would otherwise share one subchannel).
//
// Owned by the row that measures it. Open() starts every stream; WaitAcked() waits (with a
// deadline) until every stream ACKed a version; Close() cancels them and waits for each
// stream's end before the fleet lets go of anything gRPC may still call.
//
// Threads: Open/WaitAcked/Close and the accessors from the bench's main thread; the streams
// react on gRPC threads.
#pragma once

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "bench/fanout/ack_barrier.h"
#include "bench/fanout/simulated_gateway.h"

namespace gw::bench {

struct FleetOptions {
  std::vector<std::string> addresses;  // the replicas; stream i goes to addresses[i % size]
  size_t streams = 0;
  size_t streams_per_channel = 100;
  std::string node_prefix = "fanout";  // node ids "<prefix>-<i>"
  bool full_parse = false;             // see DecodeConfigEnvelope
};

class GatewayFleet {
 public:
  explicit GatewayFleet(FleetOptions options);
  ~GatewayFleet();  // Close() with a 30 s deadline

  GatewayFleet(const GatewayFleet&) = delete;
  GatewayFleet& operator=(const GatewayFleet&) = delete;

  void Open();
  size_t channels() const { return channels_.size(); }

  // Waits until every stream ACKed `version` or newer. False at the deadline, or as soon as a
  // stream ended (error() says which and why).
  bool WaitAcked(uint64_t version, Clock::time_point deadline);
  // When the last stream first ACKed `version` or newer; nullopt if some stream has not.
  std::optional<Clock::time_point> LastFirstAck(uint64_t version) const;
  size_t Reached(uint64_t version) const { return barrier_.Reached(version); }

  const FleetCounters& counters() const { return counters_; }
  // Why the fleet is broken (a stream ended while it should run), "" if it is not.
  std::string error() const { return barrier_.broken_reason(); }
  // The reason of some NACK a stream sent, "" if none did.
  std::string SomeNack() const;

  // Cancels every stream and waits until each has ended. False when some did not end by the
  // deadline: their reactors and channels are then left allocated (never freed under gRPC).
  bool Close(Clock::time_point deadline);

 private:
  void StreamDone(size_t index, const grpc::Status& status);

  const FleetOptions options_;
  AckBarrier barrier_;
  FleetCounters counters_;
  std::vector<std::shared_ptr<grpc::Channel>> channels_;
  std::vector<std::unique_ptr<grpc::GenericStub>> stubs_;
  std::vector<std::unique_ptr<SimulatedGateway>> streams_;

  std::mutex mu_;
  std::condition_variable all_done_;
  size_t started_ = 0;    // mu_
  size_t done_ = 0;       // mu_
  bool closing_ = false;  // mu_
  bool closed_ = false;   // main thread only
};

}  // namespace gw::bench
