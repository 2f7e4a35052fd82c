// Snapshot: one published config version, built once and shared by every gateway stream.
//
// The push body (version + full config) is serialized once per version; each push only adds
// its own nonce in front. Protobuf merges concatenated encodings of one message, so a gateway
// parses nonce + body as a single ConfigMessage. Immutable once made.
#pragma once

#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/slice.h>

#include <cstdint>
#include <memory>
#include <string_view>

#include <set>
#include <string>

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

 private:
  ConfigPtr config_;
  std::set<std::string> features_;
  grpc::Slice body_;  // ConfigMessage{version, snapshot} serialized, without the nonce
};

using SnapshotPtr = std::shared_ptr<const Snapshot>;

inline SnapshotPtr MakeSnapshot(ConfigPtr config) {
  return std::make_shared<const Snapshot>(std::move(config));
}

}  // namespace gw
