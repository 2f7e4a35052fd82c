#include "cli/output.h"

#include <algorithm>
#include <chrono>
#include <ctime>

#include "common/byte_size.h"
#include "common/duration.h"
#include "common/json.h"
#include "common/policy_text.h"
#include "common/validation.h"

namespace gw::cli {
namespace {

using gateway::v1::GatewayStatus;
using gateway::v1::Route;
using gateway::v1::Service;

// An empty cell would shift the eye to the next column; show a dash instead.
std::string Cell(std::string_view text) {
  std::string cell = OneLine(text);
  return cell.empty() ? "-" : cell;
}

// [{"name","value"}] of a route's header conditions (HeaderMatch) or header rules (HeaderValue).
template <typename Header>
void WriteHeaderValues(JsonWriter& json, std::string_view key, const ProtoList<Header>& headers) {
  if (headers.empty()) return;
  json.Key(key).BeginArray();
  for (const auto& header : headers)
    json.BeginObject()
        .Key("name")
        .String(header.name())
        .Key("value")
        .String(header.value())
        .EndObject();
  json.EndArray();
}

void WriteStrings(JsonWriter& json, std::string_view key, const ProtoList<std::string>& values) {
  if (values.empty()) return;
  json.Key(key).BeginArray();
  for (const auto& value : values) json.String(value);
  json.EndArray();
}

// Like protobuf's JSON mapping, a field appears only when set: an absent policy is the default
// (no max_body_size: the gateway's --max-body-size; no rate_limit: none; ...).
}  // namespace

void WriteRouteJson(JsonWriter& json, const Route& route, bool with_version) {
  json.BeginObject();
  json.Key("path").String(route.path());
  json.Key("match").String(MatchName(route.match()));
  if (!route.host().empty()) json.Key("host").String(route.host());
  WriteStrings(json, "methods", route.methods());
  WriteHeaderValues(json, "headers", route.headers());
  json.Key("target").String(route.target());
  if (!route.split().empty()) {
    json.Key("split").BeginArray();
    for (const auto& target : route.split())
      json.BeginObject()
          .Key("target")
          .String(target.target())
          .Key("weight")
          .Unsigned(target.weight())
          .EndObject();
    json.EndArray();
  }
  if (!route.aggregate().empty()) {
    json.Key("aggregate").BeginArray();
    for (const auto& part : route.aggregate()) {
      json.BeginObject().Key("key").String(part.key()).Key("target").String(part.target());
      if (!part.path_prefix().empty()) json.Key("path_prefix").String(part.path_prefix());
      json.EndObject();
    }
    json.EndArray();
  }
  if (route.aggregate_timeout_ms() != 0)
    json.Key("aggregate_timeout_ms").Unsigned(route.aggregate_timeout_ms());
  if (route.aggregate_partial()) json.Key("aggregate_partial").Bool(true);
  if (route.max_body_size() != 0) json.Key("max_body_size").Unsigned(route.max_body_size());
  if (route.strip_prefix()) json.Key("strip_prefix").Bool(true);
  if (!route.rewrite_prefix().empty()) json.Key("rewrite_prefix").String(route.rewrite_prefix());
  WriteHeaderValues(json, "set_request_headers", route.set_request_headers());
  WriteStrings(json, "remove_request_headers", route.remove_request_headers());
  WriteHeaderValues(json, "set_response_headers", route.set_response_headers());
  WriteStrings(json, "remove_response_headers", route.remove_response_headers());
  if (route.timeout_ms() != 0) json.Key("timeout_ms").Unsigned(route.timeout_ms());
  if (route.retries() != 0) json.Key("retries").Unsigned(route.retries());
  if (route.per_try_timeout_ms() != 0)
    json.Key("per_try_timeout_ms").Unsigned(route.per_try_timeout_ms());
  if (route.has_rate_limit()) {
    const auto& limit = route.rate_limit();
    json.Key("rate_limit").BeginObject();
    json.Key("requests").Unsigned(limit.requests());
    json.Key("period_seconds").Unsigned(limit.period_seconds());
    if (limit.burst() != 0) json.Key("burst").Unsigned(limit.burst());
    json.Key("key").String(limit.key());
    json.Key("scope").String(RateLimitScopeName(limit.scope()));
    json.EndObject();
  }
  if (route.auth() != gateway::v1::AUTH_NONE) json.Key("auth").String(AuthName(route.auth()));
  if (route.has_cors()) {
    const auto& cors = route.cors();
    json.Key("cors").BeginObject();
    json.Key("origins").BeginArray();
    for (const auto& origin : cors.origins()) json.String(origin);
    json.EndArray();
    WriteStrings(json, "methods", cors.methods());
    WriteStrings(json, "headers", cors.headers());
    if (cors.max_age_seconds() != 0) json.Key("max_age_seconds").Unsigned(cors.max_age_seconds());
    json.EndObject();
  }
  if (route.https_redirect()) json.Key("https_redirect").Bool(true);
  if (route.hsts_max_age_s() != 0) json.Key("hsts_max_age_s").Unsigned(route.hsts_max_age_s());
  if (with_version) json.Key("version").Unsigned(route.version());
  json.EndObject();
}

namespace {

// "host=a.example method=GET,POST header:x-v=2", or "-".
std::string ConditionsCell(const Route& route) {
  std::string out;
  auto add = [&out](const std::string& item) { out += (out.empty() ? "" : " ") + item; };
  if (!route.host().empty()) add("host=" + route.host());
  if (!route.methods().empty()) {
    std::string methods;
    for (const auto& method : route.methods()) methods += (methods.empty() ? "" : ",") + method;
    add("method=" + methods);
  }
  for (const auto& header : route.headers()) add("header:" + DescribeHeaderMatch(header));
  return Cell(out);
}

std::string HeaderValues(const ProtoList<gateway::v1::HeaderValue>& headers) {
  std::string out;
  for (const auto& header : headers)
    out += (out.empty() ? "" : ", ") + header.name() + ": " + header.value();
  return out;
}

std::string JoinList(const ProtoList<std::string>& values, std::string_view separator) {
  std::string out;
  for (const auto& value : values) out += (out.empty() ? "" : std::string(separator)) + value;
  return out;
}

// `route get`: one "name: value" line for every policy the route sets.
std::string RoutePolicyLines(const Route& route) {
  std::vector<std::vector<std::string>> rows;
  if (!route.split().empty()) {
    for (const auto& target : route.split())
      rows.push_back({"split:", target.target() + " weight " + std::to_string(target.weight())});
  }
  for (const auto& part : route.aggregate())
    rows.push_back({"aggregate:", part.key() + " from " + part.target() +
                                      (part.path_prefix().empty()
                                           ? std::string()
                                           : " (path prefix " + part.path_prefix() + ")")});
  if (route.aggregate_timeout_ms() != 0)
    rows.push_back({"aggregate timeout:", FormatDurationMs(route.aggregate_timeout_ms())});
  if (route.aggregate_partial())
    rows.push_back({"aggregate partial:", "yes (a failed part is null in a 200)"});
  if (route.strip_prefix()) rows.push_back({"strip prefix:", "yes"});
  if (!route.rewrite_prefix().empty()) rows.push_back({"rewrite prefix:", route.rewrite_prefix()});
  if (!route.set_request_headers().empty())
    rows.push_back({"set request headers:", HeaderValues(route.set_request_headers())});
  if (!route.remove_request_headers().empty())
    rows.push_back({"remove request headers:", JoinList(route.remove_request_headers(), ", ")});
  if (!route.set_response_headers().empty())
    rows.push_back({"set response headers:", HeaderValues(route.set_response_headers())});
  if (!route.remove_response_headers().empty())
    rows.push_back({"remove response headers:", JoinList(route.remove_response_headers(), ", ")});
  if (route.timeout_ms() != 0) rows.push_back({"timeout:", FormatDurationMs(route.timeout_ms())});
  if (route.retries() != 0) rows.push_back({"retries:", std::to_string(route.retries())});
  if (route.per_try_timeout_ms() != 0)
    rows.push_back({"per-try timeout:", FormatDurationMs(route.per_try_timeout_ms())});
  if (route.has_rate_limit()) {
    gateway::v1::RateLimit limit = route.rate_limit();
    const bool cluster = limit.scope() == gateway::v1::RateLimit::SCOPE_CLUSTER;
    limit.clear_scope();  // said last, in words
    std::string text = FormatRateLimit(limit);
    if (limit.burst() == 0) text += " burst " + std::to_string(limit.requests());
    if (limit.key() == "ip" || limit.key().empty()) text += " by ip";
    text += cluster ? " (cluster-wide)" : " (per gateway)";
    rows.push_back({"rate limit:", text});
  }
  if (route.auth() != gateway::v1::AUTH_NONE)
    rows.push_back({"auth:", std::string(AuthName(route.auth()))});
  if (route.has_cors()) {
    const auto& cors = route.cors();
    rows.push_back({"cors origins:", JoinList(cors.origins(), ", ")});
    rows.push_back({"cors methods:", cors.methods().empty() ? "GET, HEAD, POST (default)"
                                                            : JoinList(cors.methods(), ", ")});
    if (!cors.headers().empty()) rows.push_back({"cors headers:", JoinList(cors.headers(), ", ")});
    if (cors.max_age_seconds() != 0)
      rows.push_back({"cors max age:", FormatDurationMs(uint64_t{cors.max_age_seconds()} * 1000)});
  }
  if (route.https_redirect()) rows.push_back({"https redirect:", "yes (308 over cleartext)"});
  if (route.hsts_max_age_s() != 0)
    rows.push_back({"hsts max age:", FormatDurationMs(route.hsts_max_age_s() * 1000)});
  if (rows.empty()) return "";
  return "\n" + AlignColumns(rows);
}

// The TARGET column: the target, the split's "a=90,b=10", or an aggregate's keys,
// "aggregate(user,cart)" (`route get` lists its parts whole).
std::string TargetCell(const Route& route) {
  if (route.aggregate().empty()) return Cell(FormatRouteTargets(route));
  std::string keys;
  for (const auto& part : route.aggregate()) keys += (keys.empty() ? "" : ",") + part.key();
  return Cell("aggregate(" + keys + ")");
}

// "10m", or "default": the gateway's own --max-body-size.
std::string MaxBodySizeCell(const Route& route) {
  return route.max_body_size() == 0 ? "default" : FormatByteSize(route.max_body_size());
}

}  // namespace

void WriteServiceJson(JsonWriter& json, const Service& service, bool with_version) {
  json.BeginObject();
  json.Key("name").String(service.name());
  json.Key("endpoints").BeginArray();
  for (const auto& endpoint : service.endpoints())
    json.String(FormatHostPort(endpoint.host(), endpoint.port()));
  json.EndArray();
  // Policies only when set, as for routes.
  if (service.lb() != gateway::v1::LB_ROUND_ROBIN)
    json.Key("lb").String(LoadBalancingName(service.lb()));
  if (!service.hash_header().empty()) json.Key("hash_header").String(service.hash_header());
  if (service.has_health_check()) {
    const auto& health = service.health_check();
    json.Key("health_check").BeginObject();
    json.Key("path").String(health.path());
    json.Key("interval_ms").Unsigned(health.interval_ms());
    json.Key("unhealthy_threshold").Unsigned(health.unhealthy_threshold());
    json.Key("healthy_threshold").Unsigned(health.healthy_threshold());
    json.EndObject();
  }
  if (service.eject_after() != 0) {
    json.Key("eject_after").Unsigned(service.eject_after());
    json.Key("eject_for_ms").Unsigned(service.eject_for_ms());
  }
  if (service.max_connections() != 0)
    json.Key("max_connections").Unsigned(service.max_connections());
  if (service.max_pending() != 0) json.Key("max_pending").Unsigned(service.max_pending());
  if (service.connect_timeout_ms() != 0)
    json.Key("connect_timeout_ms").Unsigned(service.connect_timeout_ms());
  if (service.protocol() != gateway::v1::UPSTREAM_HTTP1)
    json.Key("protocol").String(UpstreamProtocolName(service.protocol()));
  if (with_version) json.Key("version").Unsigned(service.version());
  json.EndObject();
}

namespace {

void WriteGateway(JsonWriter& json, const GatewayStatus& gateway) {
  json.BeginObject();
  json.Key("node_id").String(gateway.node_id());
  json.Key("address").String(gateway.address());
  json.Key("replica").String(gateway.replica());
  json.Key("peer").String(gateway.peer());
  json.Key("build_version").String(gateway.build_version());
  json.Key("version").Unsigned(gateway.acked_version());
  json.Key("connected").Bool(gateway.connected());
  json.Key("error").String(gateway.error());
  json.Key("nacked_version").Unsigned(gateway.nacked_version());
  json.Key("stream_error").String(gateway.stream_error());
  json.Key("cache_error").String(gateway.cache_error());
  json.Key("conflict").String(gateway.conflict());
  json.Key("behind").String(gateway.behind());
  json.Key("last_seen_unix_ms").Number(gateway.last_seen_unix_ms());
  if (!gateway.connected()) json.Key("disconnected_unix_ms").Number(gateway.disconnected_unix_ms());
  json.EndObject();
}

// "12s", "5m12s", "2h3m", "3d4h": how long ago, to the two largest units.
std::string FormatElapsed(std::chrono::seconds elapsed) {
  static constexpr std::pair<int64_t, const char*> kUnits[] = {
      {86400, "d"}, {3600, "h"}, {60, "m"}, {1, "s"}};
  const int64_t total = elapsed.count();
  size_t i = 0;
  while (i + 1 < std::size(kUnits) && total < kUnits[i].first) ++i;  // the largest that fits
  std::string out = std::to_string(total / kUnits[i].first) + kUnits[i].second;
  if (i + 1 < std::size(kUnits)) {
    const int64_t rest = total % kUnits[i].first / kUnits[i + 1].first;
    if (rest != 0) out += std::to_string(rest) + kUnits[i + 1].second;
  }
  return out;
}

// "yes", or "no, since 2026-12-05T19:07:28Z (5m12s)".
std::string ConnectedCell(const GatewayStatus& gateway, int64_t now_unix_ms) {
  if (gateway.connected()) return "yes";
  const int64_t since = gateway.disconnected_unix_ms() != 0 ? gateway.disconnected_unix_ms()
                                                            : gateway.last_seen_unix_ms();
  if (since <= 0) return "no";
  const auto gone = std::chrono::seconds(std::max<int64_t>(0, (now_unix_ms - since) / 1000));
  return "no, since " + UtcTime(since) + " (" + FormatElapsed(gone) + ")";
}

// Everything wrong with a gateway, most urgent first, "; " between.
std::string GatewayProblems(const GatewayStatus& gateway) {
  std::vector<std::string> problems;
  if (!gateway.conflict().empty())
    problems.push_back("node id also claimed by " + gateway.conflict() + " (refused at " +
                       UtcTime(gateway.conflict_unix_ms()) + ")");
  if (!gateway.error().empty())
    problems.push_back(gateway.nacked_version() != 0
                           ? "version " + std::to_string(gateway.nacked_version()) + ": " +
                                 gateway.error()
                           : gateway.error());
  if (!gateway.stream_error().empty()) problems.push_back("stream: " + gateway.stream_error());
  if (!gateway.cache_error().empty()) problems.push_back("cache: " + gateway.cache_error());
  if (!gateway.behind().empty()) problems.push_back("behind: " + gateway.behind());
  std::string out;
  for (const auto& problem : problems) out += (out.empty() ? "" : "; ") + OneLine(problem);
  return out;
}

std::vector<std::string> RouteRow(const Route& route) {
  return {Cell(route.path()),
          Cell(MatchName(route.match())),
          ConditionsCell(route),
          TargetCell(route),
          MaxBodySizeCell(route),
          Cell(DescribeRoutePolicies(route)),
          std::to_string(route.version())};
}

std::vector<std::string> ServiceRow(const Service& service) {
  return {Cell(service.name()), Cell(JoinEndpoints(service)),
          Cell(DescribeServicePolicies(service)), std::to_string(service.version())};
}

const std::vector<std::string> kRouteHeader = {"PATH",     "MATCH",    "CONDITIONS", "TARGET",
                                               "MAX BODY", "POLICIES", "VERSION"};
const std::vector<std::string> kServiceHeader = {"NAME", "ENDPOINTS", "POLICIES", "VERSION"};
const std::vector<std::string> kConsumerHeader = {"NAME", "API KEYS", "JWT", "VERSION"};
const std::vector<std::string> kCertificateHeader = {"NAME", "DNS NAMES", "NOT AFTER", "DEFAULT",
                                                     "VERSION"};

std::vector<std::string> CertificateRow(const gateway::v1::Certificate& certificate) {
  return {Cell(certificate.name()), Cell(JoinList(certificate.dns_names(), ",")),
          UtcTime(certificate.not_after_unix_ms()), certificate.is_default() ? "yes" : "no",
          std::to_string(certificate.version())};
}

std::string DescribeRoute(const Route& route) {
  std::string text =
      "route " + OneLine(DescribeRouteMatch(route)) + " -> " + OneLine(FormatRouteTargets(route));
  if (route.max_body_size() != 0) text += " (max body " + MaxBodySizeCell(route) + ")";
  if (std::string policies = DescribeRoutePolicies(route); !policies.empty())
    text += " [" + OneLine(policies) + "]";
  return text;
}

// "issuer (HS256)" / "issuer (public key)" / "-": the admin API never returns the secret, so an
// issuer without a public key means a secret.
std::string JwtCell(const gateway::v1::Consumer& consumer) {
  if (!consumer.has_jwt()) return "-";
  return OneLine(consumer.jwt().issuer()) +
         (consumer.jwt().public_key_pem().empty() ? " (HS256)" : " (RS256/ES256 public key)");
}

std::vector<std::string> ConsumerRow(const gateway::v1::Consumer& consumer) {
  return {Cell(consumer.name()), std::to_string(consumer.api_key_sha256_size()), JwtCell(consumer),
          std::to_string(consumer.version())};
}

}  // namespace

void WriteConsumerJson(JsonWriter& json, const gateway::v1::Consumer& consumer, bool with_version) {
  json.BeginObject();
  json.Key("name").String(consumer.name());
  WriteStrings(json, "api_key_sha256", consumer.api_key_sha256());
  if (consumer.has_jwt()) {
    // Never a secret: the admin API answers an HS256 secret's digest, which apply reads back as
    // "keep the stored secret".
    const auto& jwt = consumer.jwt();
    json.Key("jwt").BeginObject().Key("issuer").String(jwt.issuer());
    if (!jwt.public_key_pem().empty())
      json.Key("public_key_pem").String(jwt.public_key_pem());
    else
      json.Key("secret_sha256").String(jwt.secret_sha256());
    json.EndObject();
  }
  if (with_version) json.Key("version").Unsigned(consumer.version());
  json.EndObject();
}

std::string UtcTime(int64_t unix_ms) {
  const std::time_t seconds = static_cast<std::time_t>(unix_ms / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

std::string OneLine(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) out.push_back(c == '\n' || c == '\r' || c == '\t' ? ' ' : c);
  const size_t begin = out.find_first_not_of(' ');
  if (begin == std::string::npos) return "";
  const size_t end = out.find_last_not_of(' ');
  return out.substr(begin, end - begin + 1);
}

std::string TableCell(std::string_view text, bool last) {
  std::string cell = OneLine(text);
  if (!last && cell.size() > kMaxTableCellWidth) {
    cell.resize(kMaxTableCellWidth - 3);
    cell += "...";
  }
  return cell;
}

std::string AlignColumns(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    if (widths.size() < row.size()) widths.resize(row.size(), 0);
    for (size_t i = 0; i < row.size(); ++i)
      widths[i] = std::max(widths[i], TableCell(row[i], i + 1 == row.size()).size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      const std::string cell = TableCell(row[i], i + 1 == row.size());
      line += cell;
      if (i + 1 < row.size()) line.append(widths[i] - cell.size() + 2, ' ');
    }
    line.erase(line.find_last_not_of(' ') + 1);  // an empty last cell leaves no trailing blanks
    out += line;
    out.push_back('\n');
  }
  return out;
}

std::string JoinEndpoints(const Service& service) {
  std::string out;
  for (const auto& endpoint : service.endpoints()) {
    if (!out.empty()) out.push_back(',');
    out += FormatHostPort(endpoint.host(), endpoint.port());
  }
  return out;
}

std::string RenderRoutes(const ProtoList<Route>& routes, OutputFormat format) {
  if (format == OutputFormat::kJson) {
    JsonWriter json;
    json.BeginArray();
    for (const auto& route : routes) WriteRouteJson(json, route);
    json.EndArray();
    return json.str() + "\n";
  }
  std::vector<std::vector<std::string>> rows = {kRouteHeader};
  for (const auto& route : routes) rows.push_back(RouteRow(route));
  return AlignColumns(rows);
}

std::string RenderServices(const ProtoList<Service>& services, OutputFormat format) {
  if (format == OutputFormat::kJson) {
    JsonWriter json;
    json.BeginArray();
    for (const auto& service : services) WriteServiceJson(json, service);
    json.EndArray();
    return json.str() + "\n";
  }
  std::vector<std::vector<std::string>> rows = {kServiceHeader};
  for (const auto& service : services) rows.push_back(ServiceRow(service));
  return AlignColumns(rows);
}

std::string RenderGateways(const ProtoList<GatewayStatus>& gateways, OutputFormat format) {
  if (format == OutputFormat::kJson) {
    JsonWriter json;
    json.BeginArray();
    for (const auto& gateway : gateways) WriteGateway(json, gateway);
    json.EndArray();
    return json.str() + "\n";
  }
  const int64_t now = NowUnixMs();
  // The replica column once a control plane names them (every one since 0.3.0).
  const bool replicas = std::any_of(gateways.begin(), gateways.end(),
                                    [](const GatewayStatus& g) { return !g.replica().empty(); });
  std::vector<std::vector<std::string>> rows = {
      {"NODE", "ADDRESS", "VERSION", "CONNECTED", "ERROR"}};
  if (replicas) rows[0].insert(rows[0].begin() + 2, "REPLICA");
  for (const auto& gateway : gateways) {
    rows.push_back({Cell(gateway.node_id()), Cell(gateway.address()),
                    std::to_string(gateway.acked_version()), ConnectedCell(gateway, now),
                    Cell(GatewayProblems(gateway))});
    if (replicas) rows.back().insert(rows.back().begin() + 2, Cell(gateway.replica()));
  }
  return AlignColumns(rows);
}

void PrintWarnings(std::ostream& err, const ProtoList<std::string>& warnings) {
  for (const std::string& warning : warnings)
    err << "gatewayctl: warning: " << OneLine(warning) << '\n';
  err << std::flush;
}

std::string RenderPruned(const ProtoList<std::string>& node_ids, OutputFormat format) {
  if (format == OutputFormat::kJson) {
    JsonWriter json;
    json.BeginObject().Key("pruned").BeginArray();
    for (const auto& id : node_ids) json.String(id);
    json.EndArray().EndObject();
    return json.str() + "\n";
  }
  if (node_ids.empty()) return "no gateways pruned\n";
  std::string out;
  for (const auto& id : node_ids) out += "gateway " + OneLine(id) + " pruned\n";
  return out;
}

std::string RenderRoute(const Route& route, OutputFormat format) {
  if (format == OutputFormat::kJson) {
    JsonWriter json;
    WriteRouteJson(json, route);
    return json.str() + "\n";
  }
  return AlignColumns({kRouteHeader, RouteRow(route)}) + RoutePolicyLines(route);
}

std::string RenderService(const Service& service, OutputFormat format) {
  if (format == OutputFormat::kJson) {
    JsonWriter json;
    WriteServiceJson(json, service);
    return json.str() + "\n";
  }
  return AlignColumns({kServiceHeader, ServiceRow(service)});
}

std::string RenderVersions(std::string_view controlplane_version, std::string_view server,
                           OutputFormat format) {
  // A control plane from before 0.2.0 does not say.
  const std::string controlplane =
      controlplane_version.empty() ? "older than 0.2.0" : std::string(controlplane_version);
  if (format == OutputFormat::kJson) {
    JsonWriter json;
    json.BeginObject();
    json.Key("gatewayctl").String(GATEWAY_BUILD_VERSION);
    json.Key("controlplane").String(controlplane);
    json.Key("server").String(server);
    json.EndObject();
    return json.str() + "\n";
  }
  return "gatewayctl " GATEWAY_BUILD_VERSION "\ncontrolplane " + controlplane + " at " +
         std::string(server) + "\n";
}

std::string RenderStatus(const gateway::v1::StatusResponse& status, std::string_view server,
                         OutputFormat format) {
  if (format == OutputFormat::kJson) {
    JsonWriter json;
    json.BeginObject();
    json.Key("version").Unsigned(status.config_version());
    json.Key("services").Unsigned(status.services());
    json.Key("routes").Unsigned(status.routes());
    json.Key("gateways_connected").Unsigned(status.gateways_connected());
    json.Key("gateways_total").Unsigned(status.gateways_total());
    json.Key("config_bytes").Unsigned(status.config_bytes());
    json.Key("max_config_bytes").Unsigned(status.max_config_bytes());
    json.Key("build_version").String(status.build_version());
    json.Key("store").String(status.store());
    json.Key("store_error").String(status.store_error());
    json.Key("replicas").BeginArray();
    for (const auto& replica : status.replicas()) {
      json.BeginObject();
      json.Key("id").String(replica.id());
      json.Key("address").String(replica.address());
      json.Key("build_version").String(replica.build_version());
      json.Key("loaded_version").Unsigned(replica.loaded_version());
      json.Key("gateways_connected").Unsigned(replica.gateways_connected());
      json.Key("heartbeat_unix_ms").Number(replica.heartbeat_unix_ms());
      json.Key("alive").Bool(replica.alive());
      json.Key("self").Bool(replica.self());
      json.EndObject();
    }
    json.EndArray();
    json.EndObject();
    return json.str() + "\n";
  }
  std::string replicas;
  if (!status.replicas().empty()) {
    const int64_t now = NowUnixMs();
    std::vector<std::vector<std::string>> rows = {
        {"REPLICA", "ADDRESS", "VERSION", "GATEWAYS", "HEARTBEAT"}};
    for (const auto& replica : status.replicas()) {
      const auto age =
          std::chrono::seconds(std::max<int64_t>(0, (now - replica.heartbeat_unix_ms()) / 1000));
      rows.push_back({Cell(replica.id()) + (replica.self() ? " (this one)" : ""),
                      Cell(replica.address()), std::to_string(replica.loaded_version()),
                      std::to_string(replica.gateways_connected()),
                      replica.alive() ? FormatElapsed(age) + " ago"
                                      : "DOWN since " + UtcTime(replica.heartbeat_unix_ms()) +
                                            " (" + FormatElapsed(age) + ")"});
    }
    replicas = "replicas:\n" + AlignColumns(rows);
  }
  return "server: " + std::string(server) + "\n" +
         (status.store().empty() ? std::string() : "store: " + OneLine(status.store()) + "\n") +
         "version: " + std::to_string(status.config_version()) + "\n" +
         "services: " + std::to_string(status.services()) + "\n" +
         "routes: " + std::to_string(status.routes()) + "\n" +
         "config size: " + DescribeByteSize(status.config_bytes()) + " of " +
         DescribeByteSize(status.max_config_bytes()) + "\n" +
         "gateways connected: " + std::to_string(status.gateways_connected()) + "\n" +
         "gateways total: " + std::to_string(status.gateways_total()) + "\n" + replicas;
}

std::string RenderRouteWrite(const Route& route, std::string_view verb, uint64_t version,
                             OutputFormat format) {
  if (format == OutputFormat::kJson) return RenderRoute(route, format);
  return DescribeRoute(route) + " " + std::string(verb) + " at version " + std::to_string(version) +
         "\n";
}

std::string RenderServiceWrite(const Service& service, std::string_view verb, uint64_t version,
                               OutputFormat format) {
  if (format == OutputFormat::kJson) return RenderService(service, format);
  std::string policies = DescribeServicePolicies(service);
  if (!policies.empty()) policies = " [" + OneLine(policies) + "]";
  return "service " + OneLine(service.name()) + " -> " + JoinEndpoints(service) + policies + " " +
         std::string(verb) + " at version " + std::to_string(version) + "\n";
}

std::string RenderConsumers(const ProtoList<gateway::v1::Consumer>& consumers,
                            OutputFormat format) {
  if (format == OutputFormat::kJson) {
    JsonWriter json;
    json.BeginArray();
    for (const auto& consumer : consumers) WriteConsumerJson(json, consumer);
    json.EndArray();
    return json.str() + "\n";
  }
  std::vector<std::vector<std::string>> rows = {kConsumerHeader};
  for (const auto& consumer : consumers) rows.push_back(ConsumerRow(consumer));
  return AlignColumns(rows);
}

std::string RenderConsumer(const gateway::v1::Consumer& consumer, OutputFormat format) {
  if (format == OutputFormat::kJson) {
    JsonWriter json;
    WriteConsumerJson(json, consumer);
    return json.str() + "\n";
  }
  return AlignColumns({kConsumerHeader, ConsumerRow(consumer)});
}

std::string RenderConsumerWrite(const gateway::v1::Consumer& consumer, std::string_view verb,
                                uint64_t version, OutputFormat format) {
  if (format == OutputFormat::kJson) return RenderConsumer(consumer, format);
  const int keys = consumer.api_key_sha256_size();
  std::string text = "consumer " + OneLine(consumer.name()) + " (" + std::to_string(keys) +
                     " api key" + (keys == 1 ? "" : "s");
  if (consumer.has_jwt()) text += ", jwt " + JwtCell(consumer);
  return text + ") " + std::string(verb) + " at version " + std::to_string(version) + "\n";
}

void WriteCertificateDocument(JsonWriter& json, const gateway::v1::Certificate& certificate) {
  json.BeginObject();
  json.Key("name").String(certificate.name());
  json.Key("cert_pem").String(certificate.cert_pem());
  // Never the key: the admin API answers its digest, which apply reads back as "keep the stored
  // key".
  json.Key("key_sha256").String(certificate.key_sha256());
  if (certificate.is_default()) json.Key("default").Bool(true);
  json.EndObject();
}

void WriteCertificateJson(JsonWriter& json, const gateway::v1::Certificate& certificate) {
  json.BeginObject();
  json.Key("name").String(certificate.name());
  json.Key("dns_names").BeginArray();
  for (const auto& name : certificate.dns_names()) json.String(name);
  json.EndArray();
  json.Key("not_after").String(UtcTime(certificate.not_after_unix_ms()));
  json.Key("default").Bool(certificate.is_default());
  json.Key("key_sha256").String(certificate.key_sha256());
  json.Key("cert_pem").String(certificate.cert_pem());
  json.Key("version").Unsigned(certificate.version());
  json.EndObject();
}

std::string RenderCertificates(const ProtoList<gateway::v1::Certificate>& certificates,
                               OutputFormat format) {
  if (format == OutputFormat::kJson) {
    JsonWriter json;
    json.BeginArray();
    for (const auto& certificate : certificates) WriteCertificateJson(json, certificate);
    json.EndArray();
    return json.str() + "\n";
  }
  std::vector<std::vector<std::string>> rows = {kCertificateHeader};
  for (const auto& certificate : certificates) rows.push_back(CertificateRow(certificate));
  return AlignColumns(rows);
}

std::string RenderCertificate(const gateway::v1::Certificate& certificate, OutputFormat format) {
  if (format == OutputFormat::kJson) {
    JsonWriter json;
    WriteCertificateJson(json, certificate);
    return json.str() + "\n";
  }
  return AlignColumns({kCertificateHeader, CertificateRow(certificate)}) + "\n" +
         AlignColumns({{"key sha256:", certificate.key_sha256()}});
}

std::string RenderCertificateWrite(const gateway::v1::Certificate& certificate,
                                   std::string_view verb, uint64_t version,
                                   std::string_view previous_default, OutputFormat format) {
  if (format == OutputFormat::kJson) return RenderCertificate(certificate, format);
  std::string text = "certificate " + OneLine(certificate.name()) + " (" +
                     OneLine(JoinList(certificate.dns_names(), ", ")) + "; until " +
                     UtcTime(certificate.not_after_unix_ms()) +
                     (certificate.is_default() ? "; default" : "") + ") " + std::string(verb) +
                     " at version " + std::to_string(version) + "\n";
  if (!previous_default.empty())
    text += "default moved from certificate " + OneLine(previous_default) + "\n";
  return text;
}

std::string RenderDeleted(std::string_view what, std::string_view key, uint64_t version,
                          OutputFormat format) {
  if (format == OutputFormat::kJson) {
    JsonWriter json;
    json.BeginObject().Key("deleted").String(key).Key("version").Unsigned(version).EndObject();
    return json.str() + "\n";
  }
  return OneLine(what) + " deleted at version " + std::to_string(version) + "\n";
}

}  // namespace gw::cli
