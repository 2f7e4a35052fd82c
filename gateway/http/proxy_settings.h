// ProxySettings: the data path's limits and timeouts, all set from gateway flags.
//
// Built once by main from the command line, then read-only and shared by every worker. Bodies
// stream through a fixed buffer, so the body limits bound what one request may send or receive,
// not memory: 0 means no limit.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace gw {

// What the gateway does with a request header whose name holds '_' (X_Consumer): many servers
// (CGI, WSGI, PHP) map '-' and '_' to the same variable, so such a header could pass for one
// the gateway sets, as nginx, Apache and gunicorn know.
enum class UnderscoreHeaders {
  kDrop,    // removed before routing, auth and forwarding (the default)
  kReject,  // the request gets 400
  kAllow,   // passed on like any other header
};

struct ProxySettings {
  std::chrono::milliseconds upstream_timeout{15000};       // --upstream-timeout: 504 beyond
  std::chrono::milliseconds connect_timeout{5000};         // --connect-timeout: per endpoint
  std::chrono::milliseconds idle_timeout{60000};           // --idle-timeout: client keep-alive
  std::chrono::milliseconds header_timeout{10000};         // --header-timeout: 408 beyond
  std::chrono::milliseconds handshake_timeout{10000};      // --handshake-timeout (TLS)
  std::chrono::milliseconds body_timeout{30000};           // --body-timeout: client body idle
  std::chrono::milliseconds tunnel_idle_timeout{60000};    // --tunnel-idle-timeout: upgrades
  std::chrono::milliseconds upstream_idle_timeout{60000};  // --upstream-idle-timeout: pooled
  uint64_t max_body_size = 0;                              // --max-body-size: 413 beyond; 0: none
  uint32_t max_header_size = 16 * 1024;                    // --max-header-size: 431 beyond
  uint64_t max_response_body_size = 0;                     // --max-response-body-size; 0: none
  size_t upstream_max_idle = 64;                           // --upstream-max-idle per endpoint
  size_t aggregate_buffer = 64 << 20;                      // --aggregate-buffer per worker
  size_t max_routes = 10000;                               // --max-routes: configs beyond NACKed
  UnderscoreHeaders underscore_headers = UnderscoreHeaders::kDrop;  // --underscore-headers
};

inline constexpr uint64_t kMinAggregateBuffer = 64 << 10;
inline constexpr uint64_t kMaxAggregateBuffer = uint64_t{64} << 30;

// Bytes of a body moved per read and write: the only body memory a request holds.
inline constexpr size_t kRelayBufferSize = 64 * 1024;

// The most a connection's read buffer holds: a relay buffer's worth of body, or a header
// section or a trailer section up to --max-header-size, plus a read's worth. Beast's parser
// needs a trailer section whole, and bounds only the header section itself.
inline size_t ReadBufferLimit(const ProxySettings& settings) {
  return 2 * kRelayBufferSize + settings.max_header_size;
}

}  // namespace gw
