// The sizes every program of the gateway agrees on for what crosses gRPC. One place, so that
// the control plane never stores a config that its gateways or gatewayctl cannot receive.
//
// Sizing: a route typically serializes to 100-500 bytes, so 10,000 routes (the gateway's
// default --max-routes) take 1-5 MiB; a route may carry up to 16 header conditions and 128
// header rules of 4 KiB each, about 600 KiB. 64 MiB holds either with room to spare, and a
// gateway parses it in well under a second.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace gw {

// The largest config (gateway.v1.Config, serialized) the gateways accept and the control plane
// lets a write produce (its --max-config-size may only lower it).
inline constexpr uint64_t kMaxConfigBytes = uint64_t{64} << 20;

// The gRPC message limit, both ways, of every channel and server: a whole config plus its
// envelope (a ConfigMessage's nonce and version, a list response's other fields).
inline constexpr int kMaxGrpcMessageBytes = static_cast<int>(kMaxConfigBytes + (uint64_t{1} << 20));

// Error messages travel in gRPC metadata, which peers refuse beyond 8 KiB: a status message is
// cut at this length (messages that list items name a few and count the rest, see
// JoinForMessage in common/validation.h).
inline constexpr size_t kMaxStatusMessageBytes = 2048;

// `message` cut to at most kMaxStatusMessageBytes, ending in "..." when cut: for every status
// message and every error text that travels in a message to be shown again.
inline std::string StatusMessage(std::string_view message) {
  if (message.size() <= kMaxStatusMessageBytes) return std::string(message);
  return std::string(message.substr(0, kMaxStatusMessageBytes - 3)) + "...";
}

}  // namespace gw
