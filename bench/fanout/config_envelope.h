// ConfigEnvelope: what a simulated gateway needs of one push (a serialized ConfigMessage) to
// answer it as a real gateway would: nonce, version, which payload, the snapshot's own version
// or the delta's base version.
//
// DecodeConfigEnvelope reads the top-level fields and steps over the routes, services and
// consumers without parsing them (a real gateway parses and validates them all; here that CPU
// is left to the control plane on the same two cores). `full_parse` parses the whole message
// as gateway.v1.ConfigMessage instead, for a run that wants the client's cost to be realistic.
// Pure function; any thread.
#pragma once

#include <grpcpp/support/byte_buffer.h>

#include <cstdint>
#include <string>

namespace gw::bench {

struct ConfigEnvelope {
  enum class Payload { kNone, kSnapshot, kDelta };

  std::string nonce;
  uint64_t version = 0;
  Payload payload = Payload::kNone;
  uint64_t snapshot_version = 0;    // Config.version of a snapshot
  uint64_t delta_base_version = 0;  // ConfigDelta.base_version of a delta
};

// False when the bytes are not a ConfigMessage.
bool DecodeConfigEnvelope(const grpc::ByteBuffer& message, bool full_parse, ConfigEnvelope* out);

}  // namespace gw::bench
