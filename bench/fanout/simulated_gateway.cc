#include "bench/fanout/simulated_gateway.h"

#include <grpcpp/impl/codegen/proto_utils.h>

#include <random>

#include "bench/fanout/config_envelope.h"
#include "common/config_features.h"

namespace gw::bench {
namespace {

constexpr const char* kSubscribeMethod = "/gateway.v1.DiscoveryService/Subscribe";

// Random per stream, as Hello.instance_id is random per gateway process.
std::string NewInstanceId() {
  thread_local std::mt19937_64 random{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(16, '0');
  uint64_t bits = random();
  for (char& c : id) {
    c = kHex[bits & 15];
    bits >>= 4;
  }
  return id;
}

gateway::v1::GatewayMessage Nack(const ConfigEnvelope& push, std::string error) {
  gateway::v1::GatewayMessage reply;
  reply.mutable_nack()->set_version(push.version);
  reply.mutable_nack()->set_nonce(push.nonce);
  reply.mutable_nack()->set_error(std::move(error));
  return reply;
}

}  // namespace

SimulatedGateway::SimulatedGateway(size_t index, std::string node_id, bool full_parse,
                                   AckBarrier& barrier, FleetCounters& counters,
                                   std::function<void(size_t, const grpc::Status&)> on_done)
    : index_(index),
      node_id_(std::move(node_id)),
      instance_id_(NewInstanceId()),
      full_parse_(full_parse),
      barrier_(barrier),
      counters_(counters),
      on_done_(std::move(on_done)) {}

void SimulatedGateway::Start(grpc::GenericStub& stub) {
  gateway::v1::GatewayMessage hello;
  gateway::v1::Node* node = hello.mutable_hello()->mutable_node();
  node->set_id(node_id_);
  node->set_build_version(GATEWAY_BUILD_VERSION);
  node->add_capabilities("delta");
  node->set_protocol_version(kProtocolVersion);
  for (const std::string& feature : GatewayFeatures()) node->add_features(feature);
  node->set_address("127.0.0.1:8080");
  hello.mutable_hello()->set_running_version(0);
  hello.mutable_hello()->set_instance_id(instance_id_);

  stub.PrepareBidiStreamingCall(&context_, kSubscribeMethod, grpc::StubOptions(), this);
  {
    std::lock_guard lock(mu_);
    Send(hello);
  }
  StartRead(&in_);
  StartCall();
}

gateway::v1::GatewayMessage SimulatedGateway::Answer(const grpc::ByteBuffer& push) {
  ConfigEnvelope envelope;
  if (!DecodeConfigEnvelope(push, full_parse_, &envelope))
    return Nack(envelope, "a push is not a ConfigMessage");
  const std::string version = std::to_string(envelope.version);
  switch (envelope.payload) {
    case ConfigEnvelope::Payload::kSnapshot:
      counters_.snapshots.fetch_add(1, std::memory_order_relaxed);
      if (envelope.snapshot_version != envelope.version)
        return Nack(envelope, "push for version " + version + " carries a snapshot of version " +
                                  std::to_string(envelope.snapshot_version));
      break;
    case ConfigEnvelope::Payload::kDelta:
      counters_.deltas.fetch_add(1, std::memory_order_relaxed);
      if (held_ == 0 || envelope.delta_base_version != held_) {
        // As a real gateway: a delta that does not apply asks for the snapshot.
        gateway::v1::GatewayMessage reply =
            Nack(envelope, "delta for version " + version + " is based on version " +
                               std::to_string(envelope.delta_base_version) +
                               ", this gateway serves version " + std::to_string(held_));
        reply.mutable_nack()->set_needs_snapshot(true);
        return reply;
      }
      break;
    case ConfigEnvelope::Payload::kNone:
      return Nack(envelope, "push for version " + version + " carries no config");
  }
  held_ = envelope.version;
  gateway::v1::GatewayMessage reply;
  reply.mutable_ack()->set_version(envelope.version);
  reply.mutable_ack()->set_nonce(envelope.nonce);
  return reply;
}

void SimulatedGateway::OnReadDone(bool ok) {
  if (!ok) return;  // the stream ends; OnDone follows
  counters_.messages.fetch_add(1, std::memory_order_relaxed);
  counters_.bytes.fetch_add(in_.Length(), std::memory_order_relaxed);
  const gateway::v1::GatewayMessage reply = Answer(in_);
  in_.Clear();
  {
    std::lock_guard lock(mu_);
    if (reply.has_ack()) acks_.emplace_back(reply.ack().version(), Clock::now());
    if (reply.has_nack()) last_nack_ = reply.nack().error();
    Send(reply);
  }
  if (reply.has_ack()) barrier_.Acked(index_, reply.ack().version());
  if (reply.has_nack()) counters_.nacks.fetch_add(1, std::memory_order_relaxed);
  StartRead(&in_);
}

void SimulatedGateway::Send(const gateway::v1::GatewayMessage& message) {
  grpc::ByteBuffer buffer;
  bool own_buffer = false;
  grpc::SerializationTraits<gateway::v1::GatewayMessage>::Serialize(message, &buffer, &own_buffer);
  if (writing_) {
    pending_.push_back(std::move(buffer));
    return;
  }
  writing_ = true;
  out_ = std::move(buffer);
  StartWrite(&out_);
}

void SimulatedGateway::OnWriteDone(bool ok) {
  std::lock_guard lock(mu_);
  if (!ok || pending_.empty()) {  // !ok: the stream broke; OnDone follows
    writing_ = false;
    pending_.clear();
    return;
  }
  out_ = std::move(pending_.front());
  pending_.pop_front();
  StartWrite(&out_);
}

void SimulatedGateway::OnDone(const grpc::Status& status) { on_done_(index_, status); }

std::optional<Clock::time_point> SimulatedGateway::FirstAckAtOrAbove(uint64_t version) const {
  std::lock_guard lock(mu_);
  for (const auto& [acked, when] : acks_) {
    if (acked >= version) return when;
  }
  return std::nullopt;
}

std::string SimulatedGateway::last_nack() const {
  std::lock_guard lock(mu_);
  return last_nack_;
}

}  // namespace gw::bench
