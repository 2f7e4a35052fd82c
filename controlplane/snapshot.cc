#include "controlplane/snapshot.h"

#include <string>

#include "common/config_delta.h"
#include "common/config_features.h"

namespace gw {
namespace {

// The serialized ConfigMessage is built around the shared Config without copying it.
std::string SerializeBody(const gateway::v1::Config& config) {
  gateway::v1::ConfigMessage message;
  message.set_version(config.version());
  // Borrow the Config for the duration of the call; released before `message` dies.
  message.unsafe_arena_set_allocated_snapshot(const_cast<gateway::v1::Config*>(&config));
  std::string out = message.SerializeAsString();
  message.unsafe_arena_release_snapshot();
  return out;
}

}  // namespace

Snapshot::Snapshot(ConfigPtr config)
    : config_(std::move(config)),
      features_(FeaturesUsed(*config_)),
      body_(SerializeBody(*config_)) {}

namespace {

grpc::ByteBuffer WithNonce(std::string_view nonce, const grpc::Slice& body) {
  gateway::v1::ConfigMessage head;
  head.set_nonce(std::string(nonce));
  const grpc::Slice slices[] = {grpc::Slice(head.SerializeAsString()), body};
  return grpc::ByteBuffer(slices, 2);
}

// Deltas kept per snapshot: one per base version gateways were at (bounded; the oldest go).
constexpr size_t kMaxDeltasKept = 8;

}  // namespace

grpc::ByteBuffer Snapshot::Encode(std::string_view nonce) const { return WithNonce(nonce, body_); }

grpc::ByteBuffer Snapshot::EncodeDelta(std::string_view nonce, const Snapshot& base) const {
  std::lock_guard lock(deltas_mu_);
  auto it = deltas_.find(base.version());
  if (it == deltas_.end()) {
    gateway::v1::ConfigMessage message;
    message.set_version(version());
    *message.mutable_delta() = DiffConfigs(base.config(), config());
    if (deltas_.size() >= kMaxDeltasKept) deltas_.erase(deltas_.begin());
    it = deltas_.emplace(base.version(), grpc::Slice(message.SerializeAsString())).first;
  }
  return WithNonce(nonce, it->second);
}

}  // namespace gw
