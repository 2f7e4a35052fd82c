// GatewayOptions: the gateway's command line, parsed and checked.
//
//   gateway --listen HOST:PORT --control-plane HOST:PORT --node-id ID --cache PATH
//           [--listen-tls HOST:PORT [--handshake-timeout D] [--session-ticket-rotation D]]
//           [--admin HOST:PORT] [--workers N] [--upstream-timeout D] [--connect-timeout D]
//           [--idle-timeout D] [--upstream-idle-timeout D] [--upstream-max-idle N]
//           [--max-routes N] [--max-body-size BYTES] [--max-header-size BYTES]
//           [--max-response-body-size BYTES] [--aggregate-buffer BYTES] [--drain-timeout D]
//           [--header-timeout D]
//           [--body-timeout D] [--tunnel-idle-timeout D]
//           [--http2-max-concurrent-streams N] [--http2-connection-window BYTES]
//           [--redis HOST:PORT [--redis-timeout D] [--redis-lease N]]
//           [--log-level debug|info|warn|error]
//
// Parsed once by main at start-up.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "common/log.h"
#include "common/tls_files.h"
#include "common/validation.h"
#include "gateway/http/proxy_settings.h"

namespace gw {

struct GatewayOptions {
  HostPort listen;                     // port 0 picks one
  std::optional<HostPort> listen_tls;  // HTTPS; none when unset
  std::chrono::milliseconds session_ticket_rotation{3'600'000};
  std::string control_plane;  // HOST:PORT[,HOST:PORT...]: the control plane's replicas
  std::string node_id;
  // --control-plane-ca (TLS on), --tls-cert/--tls-key (client certificate) and --token-file:
  // how the gateway proves who it is to the control plane (SubscriberOptions).
  TlsFilePaths control_plane_tls;
  std::string token_file;
  std::string cache_path;
  std::optional<HostPort> admin;  // no admin pages when unset; port 0 picks one
  size_t workers = 1;             // default: the number of cores
  ProxySettings proxy;
  std::chrono::milliseconds drain_timeout{30000};  // in-flight requests' grace at shutdown
  std::string access_log;                          // a path, "-" for stdout, "" for none
  // Cluster-scope rate limits (RedisBucketClient): counted in this Redis; none when unset.
  std::optional<HostPort> redis;
  std::chrono::milliseconds redis_timeout{250};  // to connect, and for each reply
  uint64_t redis_lease = 20;                     // see LeaseFor (gateway/policy/cluster_lease.h)
  // HTTP/2 with prior knowledge (http2::ConnectionSettings): streams open at once on one
  // connection, and the request body bytes one connection may have buffered.
  uint32_t http2_max_concurrent_streams = 100;
  uint32_t http2_connection_window = 1 << 20;
  LogLevel log_level = LogLevel::kInfo;
};

// Parses argv. Returns the options, or nullopt with *exit_code set: 0 after --help (printed on
// stdout), 2 for a usage error (one line on stderr).
std::optional<GatewayOptions> ParseGatewayOptions(int argc, const char* const* argv,
                                                  int* exit_code);

}  // namespace gw
