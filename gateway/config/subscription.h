// Subscription: the gateway's side of one DiscoveryService stream, as a pure state machine (no
// gRPC in here; ConfigSubscriber moves its messages). One per stream, owned by ConfigSubscriber.
//
// It opens with a Hello (identity + the version already running, so the control plane pushes
// only when it differs, + why the previous stream failed) and answers every ConfigMessage with an
// Ack or a Nack carrying that push's version and nonce:
//   snapshot whose version matches the push -> ConfigApplier::Apply -> Ack, or Nack(reason)
//   delta -> ConfigApplier::ApplyDelta on the live config -> Ack, or Nack(reason; e.g. its base
//            is not the live version, and the control plane then sends a snapshot)
//   no payload, or a snapshot with another version than the push -> Nack
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "gateway.pb.h"
#include "gateway/config/config_applier.h"

namespace gw {

struct GatewayIdentity {
  std::string node_id;
  std::string listen_address;  // the data-plane address announced to the control plane
  std::string instance_id;     // random per process (Hello.instance_id)
};

class Subscription {
 public:
  // What this gateway build can handle: "delta" (ConfigDelta pushes).
  static const std::vector<std::string>& Capabilities();

  Subscription(GatewayIdentity identity, ConfigApplier& applier);

  // The first message of the stream; `last_stream_error` is why the previous one failed.
  gateway::v1::GatewayMessage Hello(std::string_view last_stream_error = {}) const;
  // The answer to one push: always an Ack or a Nack.
  gateway::v1::GatewayMessage OnConfig(const gateway::v1::ConfigMessage& message);

  uint64_t pushes() const { return pushes_; }  // pushes answered on this stream
  uint64_t nacks() const { return nacks_; }

 private:
  gateway::v1::GatewayMessage Nack(const gateway::v1::ConfigMessage& message, std::string error);

  const GatewayIdentity identity_;
  ConfigApplier& applier_;
  uint64_t pushes_ = 0;
  uint64_t nacks_ = 0;
};

}  // namespace gw
