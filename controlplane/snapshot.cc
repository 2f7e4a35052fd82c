#include "controlplane/snapshot.h"

#include <string>

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

grpc::ByteBuffer Snapshot::Encode(std::string_view nonce) const {
  gateway::v1::ConfigMessage head;
  head.set_nonce(std::string(nonce));
  const grpc::Slice slices[] = {grpc::Slice(head.SerializeAsString()), body_};
  return grpc::ByteBuffer(slices, 2);
}

}  // namespace gw
