// DiscoveryService: the gRPC service gateways subscribe to. Each Subscribe stream becomes a
// GatewayStream reactor (raw bytes, so a snapshot is serialized once for every stream; the wire
// format is the GatewayMessage / ConfigMessage of gateway.proto). Owned by the ControlPlane.
#pragma once

#include <atomic>
#include <cstdint>

#include "controlplane/gateway_registry.h"
#include "controlplane/snapshot_publisher.h"
#include "gateway.grpc.pb.h"

namespace gw {

class DiscoveryService final
    : public gateway::v1::DiscoveryService::WithRawCallbackMethod_Subscribe<
          gateway::v1::DiscoveryService::Service> {
 public:
  DiscoveryService(SnapshotPublisher& publisher, GatewayRegistry& registry)
      : publisher_(publisher), registry_(registry) {}

  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* Subscribe(
      grpc::CallbackServerContext* context) override;

 private:
  SnapshotPublisher& publisher_;
  GatewayRegistry& registry_;
  std::atomic<uint64_t> next_stream_id_{1};
};

}  // namespace gw
