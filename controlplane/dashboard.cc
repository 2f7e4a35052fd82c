#include "controlplane/dashboard.h"

#include <algorithm>
#include <map>
#include <utility>

#include "common/duration.h"
#include "common/json.h"
#include "common/log.h"
#include "common/policy_text.h"
#include "common/validation.h"
#include "controlplane/dashboard_page.h"

namespace gw {
namespace {

constexpr std::string_view kContentSecurityPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

// The header fields of every dashboard answer, the page's and the API's.
AdminResponse PageResponse(unsigned status, std::string content_type, std::string body) {
  AdminResponse response{status, std::move(content_type), std::move(body)};
  response.headers = {
      {"Content-Security-Policy", std::string(kContentSecurityPolicy)},
      {"Referrer-Policy", "no-referrer"},
      {"X-Frame-Options", "DENY"},
      {"Cross-Origin-Resource-Policy", "same-origin"},
  };
  return response;
}

AdminResponse JsonError(unsigned status, std::string_view message) {
  JsonWriter json;
  json.BeginObject().Key("error").String(message).EndObject();
  return PageResponse(status, "application/json", json.str());
}

void WriteGateway(JsonWriter& json, const gateway::v1::GatewayStatus& gateway, uint64_t current) {
  const uint64_t acked = gateway.acked_version();
  json.BeginObject();
  json.Key("node_id").String(gateway.node_id());
  json.Key("address").String(gateway.address());
  json.Key("replica").String(gateway.replica());
  json.Key("build_version").String(gateway.build_version());
  json.Key("connected").Bool(gateway.connected());
  json.Key("state").String(GatewayState(gateway, current));
  json.Key("acked_version").Unsigned(acked);
  json.Key("lag").Unsigned(current > acked ? current - acked : 0);
  json.Key("error").String(gateway.error());
  json.Key("nacked_version").Unsigned(gateway.nacked_version());
  json.Key("stream_error").String(gateway.stream_error());
  json.Key("cache_error").String(gateway.cache_error());
  json.Key("behind").String(gateway.behind());
  json.Key("conflict").String(gateway.conflict());
  json.Key("last_seen_unix_ms").Number(gateway.last_seen_unix_ms());
  json.Key("disconnected_unix_ms").Number(gateway.disconnected_unix_ms());
  json.EndObject();
}

void WriteRoute(JsonWriter& json, const gateway::v1::Route& route) {
  json.BeginObject();
  json.Key("match").String(DescribeRouteMatch(route));
  json.Key("path").String(route.path());
  json.Key("kind").String(MatchName(route.match()));
  json.Key("host").String(route.host());
  json.Key("methods").BeginArray();
  for (const auto& method : route.methods()) json.String(method);
  json.EndArray();
  json.Key("headers").BeginArray();
  for (const auto& header : route.headers()) json.String(DescribeHeaderMatch(header));
  json.EndArray();
  json.Key("targets").String(FormatRouteTargets(route));
  json.Key("policies").String(DescribeRoutePolicies(route));
  json.Key("version").Unsigned(route.version());
  json.EndObject();
}

void WriteService(JsonWriter& json, const gateway::v1::Service& service) {
  json.BeginObject();
  json.Key("name").String(service.name());
  json.Key("endpoints").BeginArray();
  for (const auto& endpoint : service.endpoints())
    json.String(FormatHostPort(endpoint.host(), endpoint.port()));
  json.EndArray();
  json.Key("policies").String(DescribeServicePolicies(service));
  json.Key("version").Unsigned(service.version());
  json.EndObject();
}

// This replica's gateways as the registry knows them now, over a store read's view of the
// cluster (the rule of Cluster::Read: a gateway connected elsewhere wins over a stream that
// ended here).
std::vector<gateway::v1::GatewayStatus> WithLocal(
    const std::vector<gateway::v1::GatewayStatus>& cluster,
    std::vector<gateway::v1::GatewayStatus> local) {
  std::map<std::string, gateway::v1::GatewayStatus, std::less<>> gateways;
  for (const auto& gateway : cluster) gateways[gateway.node_id()] = gateway;
  for (auto& gateway : local) {
    auto it = gateways.find(gateway.node_id());
    if (it != gateways.end() && it->second.connected() && !gateway.connected()) continue;
    gateways[gateway.node_id()] = std::move(gateway);
  }
  std::vector<gateway::v1::GatewayStatus> all;
  all.reserve(gateways.size());
  for (auto& [node_id, gateway] : gateways) all.push_back(std::move(gateway));
  return all;
}

}  // namespace

std::string_view GatewayState(const gateway::v1::GatewayStatus& gateway, uint64_t current_version) {
  if (!gateway.connected()) return "disconnected";
  // The NACK error stays until a later version is ACKed: it names what the gateway refused.
  if (!gateway.error().empty() && gateway.nacked_version() > gateway.acked_version())
    return "nacked";
  if (!gateway.behind().empty()) return "behind";
  if (gateway.acked_version() < current_version) return "syncing";
  return "in-sync";
}

std::string DashboardJson(const DashboardData& data, size_t max_rows) {
  const gateway::v1::Config& config = *data.config;
  const uint64_t current = config.version();
  JsonWriter json;
  json.BeginObject();
  json.Key("replica").String(data.replica_id);
  json.Key("build_version").String(data.build_version);
  json.Key("store").String(data.store);
  json.Key("now_unix_ms").Number(data.now_unix_ms);
  json.Key("store_read_unix_ms").Number(data.store_read_unix_ms);
  json.Key("config_version").Unsigned(current);
  json.Key("config_bytes").Unsigned(config.ByteSizeLong());
  json.Key("errors").BeginArray();
  for (const auto& error : data.errors) json.String(error);
  json.EndArray();

  uint64_t connected = 0;
  for (const auto& gateway : data.gateways) connected += gateway.connected() ? 1 : 0;
  json.Key("gateways_total").Unsigned(data.gateways.size());
  json.Key("gateways_connected").Unsigned(connected);
  json.Key("gateways").BeginArray();
  for (size_t i = 0; i < data.gateways.size() && i < max_rows; ++i)
    WriteGateway(json, data.gateways[i], current);
  json.EndArray();

  json.Key("replicas").BeginArray();
  for (const auto& replica : data.replicas) {
    json.BeginObject();
    json.Key("id").String(replica.id());
    json.Key("address").String(replica.address());
    json.Key("loaded_version").Unsigned(replica.loaded_version());
    json.Key("gateways_connected").Unsigned(replica.gateways_connected());
    json.Key("alive").Bool(replica.alive());
    json.Key("self").Bool(replica.self());
    json.Key("heartbeat_unix_ms").Number(replica.heartbeat_unix_ms());
    json.EndObject();
  }
  json.EndArray();

  json.Key("routes_total").Unsigned(static_cast<uint64_t>(config.routes_size()));
  json.Key("routes").BeginArray();
  for (int i = 0; i < config.routes_size() && static_cast<size_t>(i) < max_rows; ++i)
    WriteRoute(json, config.routes(i));
  json.EndArray();
  json.Key("services_total").Unsigned(static_cast<uint64_t>(config.services_size()));
  json.Key("services").BeginArray();
  for (int i = 0; i < config.services_size() && static_cast<size_t>(i) < max_rows; ++i)
    WriteService(json, config.services(i));
  json.EndArray();
  json.Key("consumers_total").Unsigned(static_cast<uint64_t>(config.consumers_size()));

  json.Key("oldest_history_version").Unsigned(data.oldest_history_version);
  json.Key("history").BeginArray();
  for (const auto& record : data.history) {
    json.BeginObject();
    json.Key("version").Unsigned(record.version());
    json.Key("at_unix_ms").Number(record.at_unix_ms());
    json.Key("actor").String(record.actor());
    json.Key("action").String(record.action());
    json.Key("summary").String(record.summary());
    json.Key("command").String(record.command());
    json.EndObject();
  }
  json.EndArray();
  json.EndObject();
  return json.str();
}

std::optional<AdminResponse> ReadRefusal(const Authorizer& authorizer, const AdminRequest& request,
                                         std::string_view what) {
  Caller caller;
  const grpc::Status status =
      authorizer.AuthorizeHeader(request.authorization, Access::kRead, what, &caller);
  if (status.ok()) return std::nullopt;
  // A request without credentials is how the page learns it needs a token: not worth a line.
  // A token that was refused is, as on the gRPC port.
  if (!request.authorization.empty())
    LogWarn("admin page: refused a request to " + std::string(what) + ": " +
            status.error_message());
  if (status.error_code() == grpc::StatusCode::PERMISSION_DENIED)
    return JsonError(403, status.error_message());
  AdminResponse refusal = JsonError(401, status.error_message());
  refusal.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"controlplane\"");
  return refusal;
}

Dashboard::Dashboard(ConfigStore& store, StoreWorker& worker, SnapshotPublisher& publisher,
                     GatewayRegistry& registry, Cluster& cluster, const Authorizer& authorizer,
                     std::string replica_id, DashboardOptions options)
    : store_(store),
      worker_(worker),
      publisher_(publisher),
      registry_(registry),
      cluster_(cluster),
      authorizer_(authorizer),
      replica_id_(std::move(replica_id)),
      options_(options) {}

std::optional<AdminResponse> Dashboard::Serve(const AdminRequest& request) {
  const std::string_view path = request.path;
  const bool page = path == "/" || path == "/index.html";
  const bool api = path == "/api/dashboard";
  if (!page && !api && path != "/dashboard.js" && path != "/dashboard.css" &&
      path != "/favicon.svg")
    return std::nullopt;
  if (request.method != "GET" && request.method != "HEAD") {
    AdminResponse refusal = JsonError(405, "method not allowed: the dashboard is read-only");
    refusal.headers.emplace_back("Allow", "GET, HEAD");
    return refusal;
  }
  if (page) return PageResponse(200, "text/html; charset=utf-8", std::string(kDashboardHtml));
  if (path == "/dashboard.js")
    return PageResponse(200, "text/javascript; charset=utf-8", std::string(kDashboardJs));
  if (path == "/dashboard.css")
    return PageResponse(200, "text/css; charset=utf-8", std::string(kDashboardCss));
  if (path == "/favicon.svg")
    return PageResponse(200, "image/svg+xml", std::string(kDashboardIcon));
  if (auto refusal = ReadRefusal(authorizer_, request, "read the dashboard")) return refusal;
  return Api();
}

AdminResponse Dashboard::Api() {
  DashboardData data;
  std::string wait_error;
  const std::shared_ptr<const StoreRead> read = ReadStore(&wait_error);
  // After the read: the version shown is never older than the history's newest.
  const SnapshotPtr current = publisher_.Current();
  data.now_unix_ms = NowUnixMs();
  data.replica_id = replica_id_;
  data.build_version = GATEWAY_BUILD_VERSION;
  data.store = store_.backend().name();
  data.config = current->config_ptr();
  if (!wait_error.empty()) data.errors.push_back(wait_error);
  if (read) {
    data.gateways = WithLocal(read->cluster.gateways, registry_.List());
    data.replicas = read->cluster.replicas;
    data.history = read->history;
    data.oldest_history_version = read->oldest_history_version;
    data.store_read_unix_ms = read->read_unix_ms;
    if (!read->cluster.store_error.empty())
      data.errors.push_back("the store could not be read (" + read->cluster.store_error +
                            "): only this replica's gateways are shown");
    if (!read->history_error.empty())
      data.errors.push_back("the history could not be read: " + read->history_error);
  } else {
    data.gateways = registry_.List();
  }
  return PageResponse(200, "application/json", DashboardJson(data, options_.max_rows));
}

std::shared_ptr<const Dashboard::StoreRead> Dashboard::ReadStore(std::string* error) {
  const auto now = std::chrono::steady_clock::now();
  const uint64_t version = publisher_.Current()->version();
  std::unique_lock lock(mu_);
  if (last_read_ && last_read_->config_version == version &&
      now - last_read_->read_at < options_.reuse_read_for)
    return last_read_;
  if (reading_) {
    // The store is slower than store_wait (an earlier request gave up waiting for this read):
    // do not hold the admin thread again.
    const auto waited =
        std::chrono::duration_cast<std::chrono::milliseconds>(now - reading_since_).count();
    *error = "the store has not answered for " + std::to_string(waited) +
             " ms (busy or unreachable): the history and other replicas' gateways are from " +
             (last_read_ ? "the last read" : "no read yet");
    return last_read_;
  }
  reading_ = true;
  reading_since_ = now;
  const uint64_t ticket = reads_finished_ + 1;
  lock.unlock();
  const bool posted = worker_.Post([this] {
    auto read = std::make_shared<StoreRead>();
    read->config_version = publisher_.Current()->version();
    read->cluster = cluster_.Read();
    if (auto history = store_.ListHistory(options_.history_rows); history) {
      read->history = std::move(*history);
      if (auto oldest = store_.OldestHistoryVersion(); oldest)
        read->oldest_history_version = *oldest;
      else
        read->history_error = oldest.error().message;
    } else {
      read->history_error = history.error().message;
    }
    read->read_unix_ms = NowUnixMs();
    read->read_at = std::chrono::steady_clock::now();
    std::lock_guard done(mu_);
    last_read_ = std::move(read);
    reading_ = false;
    ++reads_finished_;
    read_done_.notify_all();
  });
  lock.lock();
  if (!posted) {
    reading_ = false;
    *error = "the control plane is overloaded or stopping: the store was not read";
    return last_read_;
  }
  if (!read_done_.wait_for(lock, options_.store_wait, [&] { return reads_finished_ >= ticket; }))
    *error = "the store did not answer within " + std::to_string(options_.store_wait.count()) +
             " ms (busy or unreachable): the history and other replicas' gateways are from " +
             (last_read_ ? "the last read" : "no read yet");
  return last_read_;
}

}  // namespace gw
