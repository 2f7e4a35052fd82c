// The gateway's admin pages, served by AdminHttpServer on --admin:
//   GET /healthz -> 200 {"status":"alive"}
//   GET /ready   -> 200 {"ready":true,"version":N} once a config is loaded,
//                   else 503 {"ready":false}
//   GET /config  -> 200 {"version":N,"source":"stream"|"cache"|"none",
//                        "control_plane_connected":bool,
//                        "control_plane_error":"why the last stream failed" (when one did),
//                        "cache":{"healthy":bool,"version":N,"error":E} (with --cache),
//                        "routes":[{"path":P,"match":"prefix"|"exact","target":T},...]}
//   GET /metrics -> 200 the Prometheus text format (version 0.0.4) of MetricsRegistry's counters,
//                   this state's gauges and the health of the routed services' endpoints;
//                   see gateway/admin/metrics.h for the series
// Pure functions of a snapshot of the gateway's state, which main gathers per request on the
// admin thread. For /metrics main sets `metrics` to its MetricsRegistry and
// `access_log_dropped_lines` to AccessLog::dropped_lines() (0 without --access-log).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/admin_http.h"
#include "gateway/admin/metrics.h"
#include "gateway/router/route_table.h"

namespace gw {

struct GatewayState {
  bool ready = false;
  uint64_t version = 0;
  std::string_view source = "none";
  bool control_plane_connected = false;
  const RouteTable* table = nullptr;         // the live table, null before any config
  uint64_t config_applies = 0;               // versions applied since start (ConfigApplier)
  uint64_t config_nacks = 0;                 // versions refused since start (ConfigApplier)
  const MetricsRegistry* metrics = nullptr;  // null: /metrics shows only the values above
  uint64_t access_log_dropped_lines = 0;
  std::string control_plane_error;  // ConfigSubscriber::last_stream_error()
  std::map<std::string, uint64_t> control_plane_stream_failures;
  bool cache_enabled = false;  // --cache given; then the cache file's state:
  bool cache_healthy = true;   // the newest write succeeded (or none was needed)
  uint64_t cache_version = 0;  // the version the file holds (0: none)
  uint64_t cache_write_failures = 0;
  std::string cache_error;     // of the newest write
  bool redis_enabled = false;  // --redis given; then RedisBucketClient's state:
  bool redis_healthy = false;
  uint64_t redis_errors = 0;
  uint64_t redis_syncs = 0;
  // With --listen-tls: CertificateTable::NotAfter of the table in use.
  std::vector<std::pair<std::string, int64_t>> certificates_not_after;
};

AdminResponse ServeAdminPage(std::string_view method, std::string_view path,
                             const GatewayState& state);

}  // namespace gw
