#include "controlplane/discovery_service.h"

#include "controlplane/gateway_stream.h"

namespace gw {

grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* DiscoveryService::Subscribe(
    grpc::CallbackServerContext* context) {
  Caller caller;
  const grpc::Status status =
      authorizer_.Authorize(*context, Access::kSubscribe, "subscribe to config", &caller);
  // Deletes itself in OnDone().
  return new GatewayStream(context, publisher_, registry_,
                           next_stream_id_.fetch_add(1, std::memory_order_relaxed),
                           std::move(caller), status);
}

}  // namespace gw
