// DiscoveryService: the gRPC service gateways subscribe to. Each Subscribe stream becomes a
// GatewayStream reactor (raw bytes, so a snapshot is serialized once for every stream; the wire
// format is the GatewayMessage / ConfigMessage of gateway.proto). Owned by the ControlPlane.
#pragma once

#include <atomic>
#include <cstdint>

#include "controlplane/auth.h"
#include "controlplane/gateway_registry.h"
#include "controlplane/snapshot_publisher.h"
#include "gateway.grpc.pb.h"

namespace gw {

class DiscoveryService final
    : public gateway::v1::DiscoveryService::WithRawCallbackMethod_Subscribe<
          gateway::v1::DiscoveryService::Service> {
 public:
  DiscoveryService(SnapshotPublisher& publisher, GatewayRegistry& registry,
                   const Authorizer& authorizer)
      : publisher_(publisher), registry_(registry), authorizer_(authorizer) {}

  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* Subscribe(
      grpc::CallbackServerContext* context) override;

 private:
  SnapshotPublisher& publisher_;
  GatewayRegistry& registry_;
  const Authorizer& authorizer_;  // each stream is authorized when it opens
  std::atomic<uint64_t> next_stream_id_{1};
};

}  // namespace gw
