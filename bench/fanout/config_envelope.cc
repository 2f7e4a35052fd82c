#include "bench/fanout/config_envelope.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/wire_format_lite.h>
#include <grpcpp/support/proto_buffer_reader.h>

#include "gateway.pb.h"

namespace gw::bench {
namespace {

using google::protobuf::internal::WireFormatLite;
using google::protobuf::io::CodedInputStream;

// Field numbers of gateway.v1.ConfigMessage, Config and ConfigDelta (proto/gateway.proto).
constexpr int kMessageNonce = 1;
constexpr int kMessageVersion = 2;
constexpr int kMessageSnapshot = 3;
constexpr int kMessageDelta = 4;
constexpr int kConfigVersion = 1;
constexpr int kDeltaBaseVersion = 1;

// Reads the varint field `wanted` of the length-delimited message at the stream's position
// and leaves the stream after that message. Protobuf writes fields in field-number order, so
// `wanted` (field 1 here) comes first and the rest (the routes) is skipped in one step, not
// field by field; fields before it are stepped over.
bool ReadNestedVarint(CodedInputStream& in, int wanted, uint64_t* value) {
  uint32_t length = 0;
  if (!in.ReadVarint32(&length)) return false;
  const auto limit = in.PushLimit(static_cast<int>(length));
  *value = 0;
  while (const uint32_t tag = in.ReadTag()) {
    if (WireFormatLite::GetTagFieldNumber(tag) == wanted &&
        WireFormatLite::GetTagWireType(tag) == WireFormatLite::WIRETYPE_VARINT) {
      if (!in.ReadVarint64(value) || !in.Skip(in.BytesUntilLimit())) return false;
      break;
    }
    if (!WireFormatLite::SkipField(&in, tag)) return false;
  }
  if (in.BytesUntilLimit() != 0) return false;
  in.PopLimit(limit);
  return true;
}

bool DecodeFully(const grpc::ByteBuffer& message, ConfigEnvelope* out) {
  grpc::ByteBuffer copy(message);  // ProtoBufferReader takes a mutable buffer; this shares slices
  grpc::ProtoBufferReader reader(&copy);
  gateway::v1::ConfigMessage parsed;
  if (!parsed.ParseFromZeroCopyStream(&reader)) return false;
  out->nonce = parsed.nonce();
  out->version = parsed.version();
  switch (parsed.payload_case()) {
    case gateway::v1::ConfigMessage::kSnapshot:
      out->payload = ConfigEnvelope::Payload::kSnapshot;
      out->snapshot_version = parsed.snapshot().version();
      break;
    case gateway::v1::ConfigMessage::kDelta:
      out->payload = ConfigEnvelope::Payload::kDelta;
      out->delta_base_version = parsed.delta().base_version();
      break;
    case gateway::v1::ConfigMessage::PAYLOAD_NOT_SET:
      break;
  }
  return true;
}

}  // namespace

bool DecodeConfigEnvelope(const grpc::ByteBuffer& message, bool full_parse, ConfigEnvelope* out) {
  *out = ConfigEnvelope{};
  if (full_parse) return DecodeFully(message, out);
  grpc::ByteBuffer copy(message);
  grpc::ProtoBufferReader reader(&copy);
  CodedInputStream in(&reader);
  while (const uint32_t tag = in.ReadTag()) {
    const int field = WireFormatLite::GetTagFieldNumber(tag);
    const auto wire_type = WireFormatLite::GetTagWireType(tag);
    const bool delimited = wire_type == WireFormatLite::WIRETYPE_LENGTH_DELIMITED;
    if (field == kMessageNonce && delimited) {
      if (!WireFormatLite::ReadString(&in, &out->nonce)) return false;
    } else if (field == kMessageVersion && wire_type == WireFormatLite::WIRETYPE_VARINT) {
      if (!in.ReadVarint64(&out->version)) return false;
    } else if (field == kMessageSnapshot && delimited) {  // oneof: the last one wins
      out->payload = ConfigEnvelope::Payload::kSnapshot;
      if (!ReadNestedVarint(in, kConfigVersion, &out->snapshot_version)) return false;
    } else if (field == kMessageDelta && delimited) {
      out->payload = ConfigEnvelope::Payload::kDelta;
      if (!ReadNestedVarint(in, kDeltaBaseVersion, &out->delta_base_version)) return false;
    } else if (!WireFormatLite::SkipField(&in, tag)) {
      return false;
    }
  }
  return in.ConsumedEntireMessage();
}

}  // namespace gw::bench
