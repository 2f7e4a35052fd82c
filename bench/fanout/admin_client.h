// AdminClient: the bench's side of AdminService on one control-plane replica. It fills the
// config with routes before a row (many calls in flight) and makes the timed changes.
//
// One channel per replica, apart from the simulated gateways' channels. Threads: one caller at
// a time. Errors come back as text; nothing throws.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "gateway.grpc.pb.h"

namespace gw::bench {

// The path of the bench's route number `index`: "/fanout/r00042".
std::string FanoutRoutePath(size_t index);

class AdminClient {
 public:
  explicit AdminClient(const std::string& address);

  // Creates routes 0..count-1 (FanoutRoutePath(i) -> 127.0.0.1:<10000 + i % 50000>, a plain
  // host:port target), keeping up to `in_flight` CreateRoute calls in flight, each with
  // `call_timeout`. Returns "" or the first error.
  std::string CreateRoutes(size_t count, size_t in_flight, std::chrono::milliseconds call_timeout);

  struct Change {
    uint64_t version = 0;  // the config version the change made
    std::string error;     // "" when it succeeded
  };
  // UpdateRoute on `path` with update_mask "target": the change the bench times.
  Change UpdateRouteTarget(const std::string& path, const std::string& target,
                           std::chrono::milliseconds timeout);

  // GetStatus; nullopt with *error set when it fails.
  std::optional<gateway::v1::StatusResponse> Status(std::chrono::milliseconds timeout,
                                                    std::string* error);

 private:
  std::unique_ptr<gateway::v1::AdminService::Stub> stub_;
};

}  // namespace gw::bench
