// Snapshot: one published config version, built once and shared by every gateway stream.
//
// The push body (version + full config) is serialized once per version; each push only adds
// its own nonce in front. Protobuf merges concatenated encodings of one message, so a gateway
// parses nonce + body as a single ConfigMessage. Deltas from recent versions (for gateways that
// apply them) are made on first use and kept with it. Immutable once made, but for that cache.
#pragma once

#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/slice.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>

#include "controlplane/store/config_store.h"

namespace gw {

class Snapshot {
 public:
  explicit Snapshot(ConfigPtr config);

  uint64_t version() const { return config_->version(); }
  const gateway::v1::Config& config() const { return *config_; }
  const ConfigPtr& config_ptr() const { return config_; }
  // The config features it uses (common/config_features.h): pushed only to gateways that
  // apply them all.
  const std::set<std::string>& features() const { return features_; }

  // The wire form of ConfigMessage{nonce, version, snapshot}; shares the serialized body.
  grpc::ByteBuffer Encode(std::string_view nonce) const;
  // ConfigMessage{nonce, version, delta from `base`}: what changed since base (an older
  // version). Each base's delta is computed once and shared by every stream at that base.
  grpc::ByteBuffer EncodeDelta(std::string_view nonce, const Snapshot& base) const;

  size_t body_bytes() const { return body_.size(); }

 private:
  ConfigPtr config_;
  std::set<std::string> features_;
  grpc::Slice body_;  // ConfigMessage{version, snapshot} serialized, without the nonce
  mutable std::mutex deltas_mu_;
  mutable std::map<uint64_t, grpc::Slice> deltas_;  // base version -> ConfigMessage{version, delta}
};

using SnapshotPtr = std::shared_ptr<const Snapshot>;

inline SnapshotPtr MakeSnapshot(ConfigPtr config) {
  return std::make_shared<const Snapshot>(std::move(config));
}

}  // namespace gw
