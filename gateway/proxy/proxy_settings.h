// ProxySettings: the data path's limits and timeouts, all set from gateway flags.
//
// Built once by main from the command line, then read-only and shared by every worker.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace gw {

struct ProxySettings {
  std::chrono::milliseconds upstream_timeout{15000};       // --upstream-timeout: 504 beyond
  std::chrono::milliseconds connect_timeout{5000};         // --connect-timeout: per endpoint
  std::chrono::milliseconds idle_timeout{60000};           // --idle-timeout: client keep-alive
  std::chrono::milliseconds upstream_idle_timeout{60000};  // --upstream-idle-timeout: pooled
  uint64_t max_body_size = 8 * 1024 * 1024;                // --max-body-size: 413 beyond
  uint32_t max_header_size = 16 * 1024;                    // --max-header-size: 431 beyond
  uint64_t max_response_body_size = 64 * 1024 * 1024;      // --max-response-body-size: 502
  size_t upstream_max_idle = 64;                           // --upstream-max-idle per endpoint
  size_t max_routes = 10000;                               // --max-routes: configs beyond NACKed
};

}  // namespace gw
