// The gateway's admin pages, served by AdminHttpServer on --admin:
//   GET /healthz -> 200 {"status":"alive"}
//   GET /ready   -> 200 {"ready":true,"version":N} once a config is loaded,
//                   else 503 {"ready":false}
//   GET /config  -> 200 {"version":N,"source":"stream"|"cache"|"none",
//                        "control_plane_connected":bool,
//                        "routes":[{"path":P,"match":"prefix"|"exact","target":T},...]}
// Pure functions of a snapshot of the gateway's state, which main gathers per request on the
// admin thread.
#pragma once

#include <cstdint>
#include <string_view>

#include "common/admin_http.h"
#include "gateway/router/route_table.h"

namespace gw {

struct GatewayState {
  bool ready = false;
  uint64_t version = 0;
  std::string_view source = "none";
  bool control_plane_connected = false;
  const RouteTable* table = nullptr;  // the live table, null before any config
};

AdminResponse ServeAdminPage(std::string_view method, std::string_view path,
                             const GatewayState& state);

}  // namespace gw
