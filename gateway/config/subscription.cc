#include "gateway/config/subscription.h"

#include "common/config_features.h"
#include "common/log.h"

namespace gw {

const std::vector<std::string>& Subscription::Capabilities() {
  static const std::vector<std::string> capabilities = {"delta"};
  return capabilities;
}

Subscription::Subscription(GatewayIdentity identity, ConfigApplier& applier)
    : identity_(std::move(identity)), applier_(applier) {}

gateway::v1::GatewayMessage Subscription::Hello(std::string_view last_stream_error) const {
  gateway::v1::GatewayMessage message;
  gateway::v1::Hello* hello = message.mutable_hello();
  gateway::v1::Node* node = hello->mutable_node();
  node->set_id(identity_.node_id);
  node->set_build_version(GATEWAY_BUILD_VERSION);
  for (const std::string& capability : Capabilities()) node->add_capabilities(capability);
  node->set_protocol_version(kProtocolVersion);
  for (const std::string& feature : GatewayFeatures()) node->add_features(feature);
  node->set_address(identity_.listen_address);
  hello->set_running_version(applier_.version());
  hello->set_instance_id(identity_.instance_id);
  hello->set_last_stream_error(std::string(last_stream_error));
  return message;
}

gateway::v1::GatewayMessage Subscription::OnConfig(const gateway::v1::ConfigMessage& message) {
  ++pushes_;
  std::string error;
  bool needs_snapshot = false;
  switch (message.payload_case()) {
    case gateway::v1::ConfigMessage::kSnapshot:
      if (message.snapshot().version() != message.version())
        return Nack(message, "push for version " + std::to_string(message.version()) +
                                 " carries a snapshot of version " +
                                 std::to_string(message.snapshot().version()));
      error = applier_.Apply(message.snapshot());
      break;
    case gateway::v1::ConfigMessage::kDelta:
      error = applier_.ApplyDelta(message.delta(), message.version(), &needs_snapshot);
      break;
    case gateway::v1::ConfigMessage::PAYLOAD_NOT_SET:
      return Nack(message,
                  "push for version " + std::to_string(message.version()) + " carries no config");
  }
  if (!error.empty()) {
    gateway::v1::GatewayMessage reply = Nack(message, std::move(error));
    reply.mutable_nack()->set_needs_snapshot(needs_snapshot);
    return reply;
  }
  gateway::v1::GatewayMessage reply;
  reply.mutable_ack()->set_version(message.version());
  reply.mutable_ack()->set_nonce(message.nonce());
  return reply;
}

gateway::v1::GatewayMessage Subscription::Nack(const gateway::v1::ConfigMessage& message,
                                               std::string error) {
  ++nacks_;
  // Refusals by the applier are logged there; log the protocol-level ones here.
  if (message.payload_case() == gateway::v1::ConfigMessage::PAYLOAD_NOT_SET ||
      (message.has_snapshot() && message.snapshot().version() != message.version())) {
    LogWarn("refused config version " + std::to_string(message.version()) + ": " + error);
  }
  gateway::v1::GatewayMessage reply;
  gateway::v1::Nack* nack = reply.mutable_nack();
  nack->set_version(message.version());
  nack->set_nonce(message.nonce());
  nack->set_error(std::move(error));
  return reply;
}

}  // namespace gw
