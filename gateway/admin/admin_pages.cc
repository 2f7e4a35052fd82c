#include "gateway/admin/admin_pages.h"

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/json.h"
#include "common/validation.h"
#include "gateway/upstream/load_balancer.h"

namespace gw {
namespace {

AdminResponse Json(unsigned status, std::string body) {
  AdminResponse response;
  response.status = status;
  response.body = std::move(body);
  return response;
}

AdminResponse ReadyPage(const GatewayState& state) {
  JsonWriter json;
  json.BeginObject().Key("ready").Bool(state.ready);
  if (state.ready) json.Key("version").Unsigned(state.version);
  json.EndObject();
  return Json(state.ready ? 200 : 503, json.str());
}

AdminResponse ConfigPage(const GatewayState& state) {
  JsonWriter json;
  json.BeginObject();
  // The table's own version, so that the routes listed and the version always agree.
  json.Key("version").Unsigned(state.table ? state.table->version() : state.version);
  json.Key("source").String(state.source);
  json.Key("control_plane_connected").Bool(state.control_plane_connected);
  if (!state.control_plane_error.empty())
    json.Key("control_plane_error").String(state.control_plane_error);
  if (state.cache_enabled) {
    json.Key("cache").BeginObject();
    json.Key("healthy").Bool(state.cache_healthy);
    json.Key("version").Unsigned(state.cache_version);
    if (!state.cache_error.empty()) json.Key("error").String(state.cache_error);
    json.EndObject();
  }
  json.Key("routes").BeginArray();
  if (state.table) {
    for (const RouteEntry& route : state.table->routes()) {
      json.BeginObject();
      json.Key("path").String(route.path);
      json.Key("match").String(MatchName(route.match));
      json.Key("target").String(route.target);
      // Only when set, as the control plane shows it: else --max-body-size applies.
      if (route.max_body_size != 0) json.Key("max_body_size").Unsigned(route.max_body_size);
      json.EndObject();
    }
  }
  json.EndArray().EndObject();
  return Json(200, json.str());
}

// The endpoints of every service the table's routes send to, by service name.
std::vector<EndpointStatus> EndpointStatuses(const RouteTable& table) {
  std::map<std::string_view, const UpstreamTarget*> services;
  const auto add = [&](const std::shared_ptr<const UpstreamTarget>& upstream) {
    if (upstream && upstream->balancer) services.emplace(upstream->name, upstream.get());
  };
  for (const RouteEntry& route : table.routes()) {
    add(route.upstream);
    for (const WeightedUpstream& part : route.split) add(part.upstream);
    for (const AggregatePartEntry& part : route.aggregate) add(part.upstream);
  }
  std::vector<EndpointStatus> out;
  const auto now = std::chrono::steady_clock::now();
  for (const auto& [name, upstream] : services) {
    const ServiceEndpoints& endpoints = upstream->balancer->endpoints();
    for (size_t i = 0; i < endpoints.size(); ++i) {
      const HostPort& endpoint = endpoints.endpoint(i);
      out.push_back({std::string(name), FormatHostPort(endpoint.host, endpoint.port),
                     endpoints.Healthy(i), endpoints.Ejected(i, now)});
    }
  }
  return out;
}

AdminResponse MetricsPage(const GatewayState& state) {
  MetricsSnapshot snapshot = state.metrics ? state.metrics->Snapshot() : MetricsSnapshot{};
  snapshot.config_version = state.version;
  snapshot.ready = state.ready;
  snapshot.control_plane_connected = state.control_plane_connected;
  snapshot.config_applies = state.config_applies;
  snapshot.config_nacks = state.config_nacks;
  snapshot.access_log_dropped_lines = state.access_log_dropped_lines;
  snapshot.control_plane_stream_failures = state.control_plane_stream_failures;
  snapshot.cache_enabled = state.cache_enabled;
  snapshot.cache_healthy = state.cache_healthy;
  snapshot.cache_version = state.cache_version;
  snapshot.cache_write_failures = state.cache_write_failures;
  snapshot.redis_enabled = state.redis_enabled;
  snapshot.redis_healthy = state.redis_healthy;
  snapshot.redis_errors = state.redis_errors;
  snapshot.redis_syncs = state.redis_syncs;
  snapshot.certificates_not_after = state.certificates_not_after;
  if (state.table) snapshot.endpoints = EndpointStatuses(*state.table);
  AdminResponse response;
  response.content_type = "text/plain; version=0.0.4; charset=utf-8";
  response.body = RenderPrometheus(snapshot);
  return response;
}

}  // namespace

AdminResponse ServeAdminPage(std::string_view method, std::string_view path,
                             const GatewayState& state) {
  const bool known =
      path == "/healthz" || path == "/ready" || path == "/config" || path == "/metrics";
  if (!known) return Json(404, R"({"error":"not found"})");
  if (method != "GET" && method != "HEAD") return Json(405, R"({"error":"method not allowed"})");
  if (path == "/healthz") return Json(200, R"({"status":"alive"})");
  if (path == "/ready") return ReadyPage(state);
  if (path == "/metrics") return MetricsPage(state);
  return ConfigPage(state);
}

}  // namespace gw
