#include "cli/output.h"

#include <algorithm>

#include "common/byte_size.h"
#include "common/json.h"
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

void WriteRoute(JsonWriter& json, const Route& route) {
  json.BeginObject();
  json.Key("path").String(route.path());
  json.Key("match").String(MatchName(route.match()));
  json.Key("target").String(route.target());
  // Like protobuf's JSON mapping, only when set: without it the gateway's --max-body-size applies.
  if (route.max_body_size() != 0) json.Key("max_body_size").Unsigned(route.max_body_size());
  json.Key("version").Unsigned(route.version());
  json.EndObject();
}

// "10m", or "default": the gateway's own --max-body-size.
std::string MaxBodySizeCell(const Route& route) {
  return route.max_body_size() == 0 ? "default" : FormatByteSize(route.max_body_size());
}

void WriteService(JsonWriter& json, const Service& service) {
  json.BeginObject();
  json.Key("name").String(service.name());
  json.Key("endpoints").BeginArray();
  for (const auto& endpoint : service.endpoints())
    json.String(FormatHostPort(endpoint.host(), endpoint.port()));
  json.EndArray();
  json.Key("version").Unsigned(service.version());
  json.EndObject();
}

void WriteGateway(JsonWriter& json, const GatewayStatus& gateway) {
  json.BeginObject();
  json.Key("node_id").String(gateway.node_id());
  json.Key("address").String(gateway.address());
  json.Key("peer").String(gateway.peer());
  json.Key("build_version").String(gateway.build_version());
  json.Key("version").Unsigned(gateway.acked_version());
  json.Key("connected").Bool(gateway.connected());
  json.Key("error").String(gateway.error());
  json.Key("nacked_version").Unsigned(gateway.nacked_version());
  json.Key("last_seen_unix_ms").Number(gateway.last_seen_unix_ms());
  json.EndObject();
}

std::vector<std::string> RouteRow(const Route& route) {
  return {Cell(route.path()), Cell(MatchName(route.match())), Cell(route.target()),
          MaxBodySizeCell(route), std::to_string(route.version())};
}

std::vector<std::string> ServiceRow(const Service& service) {
  return {Cell(service.name()), Cell(JoinEndpoints(service)), std::to_string(service.version())};
}

const std::vector<std::string> kRouteHeader = {"PATH", "MATCH", "TARGET", "MAX BODY", "VERSION"};
const std::vector<std::string> kServiceHeader = {"NAME", "ENDPOINTS", "VERSION"};

std::string DescribeRoute(const Route& route) {
  std::string text = "route " + OneLine(route.path()) + " (" +
                     std::string(MatchName(route.match())) + ") -> " + OneLine(route.target());
  if (route.max_body_size() != 0) text += " (max body " + MaxBodySizeCell(route) + ")";
  return text;
}

}  // namespace

std::string OneLine(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) out.push_back(c == '\n' || c == '\r' || c == '\t' ? ' ' : c);
  const size_t begin = out.find_first_not_of(' ');
  if (begin == std::string::npos) return "";
  const size_t end = out.find_last_not_of(' ');
  return out.substr(begin, end - begin + 1);
}

std::string AlignColumns(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    if (widths.size() < row.size()) widths.resize(row.size(), 0);
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], OneLine(row[i]).size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      const std::string cell = OneLine(row[i]);
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
    for (const auto& route : routes) WriteRoute(json, route);
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
    for (const auto& service : services) WriteService(json, service);
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
  std::vector<std::vector<std::string>> rows = {
      {"NODE", "ADDRESS", "VERSION", "CONNECTED", "ERROR"}};
  for (const auto& gateway : gateways) {
    std::string error = OneLine(gateway.error());
    if (!error.empty() && gateway.nacked_version() != 0)
      error = "version " + std::to_string(gateway.nacked_version()) + ": " + error;
    rows.push_back({Cell(gateway.node_id()), Cell(gateway.address()),
                    std::to_string(gateway.acked_version()), gateway.connected() ? "yes" : "no",
                    Cell(error)});
  }
  return AlignColumns(rows);
}

std::string RenderRoute(const Route& route, OutputFormat format) {
  if (format == OutputFormat::kJson) {
    JsonWriter json;
    WriteRoute(json, route);
    return json.str() + "\n";
  }
  return AlignColumns({kRouteHeader, RouteRow(route)});
}

std::string RenderService(const Service& service, OutputFormat format) {
  if (format == OutputFormat::kJson) {
    JsonWriter json;
    WriteService(json, service);
    return json.str() + "\n";
  }
  return AlignColumns({kServiceHeader, ServiceRow(service)});
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
    json.EndObject();
    return json.str() + "\n";
  }
  return "server: " + std::string(server) + "\n" +
         "version: " + std::to_string(status.config_version()) + "\n" +
         "services: " + std::to_string(status.services()) + "\n" +
         "routes: " + std::to_string(status.routes()) + "\n" +
         "gateways connected: " + std::to_string(status.gateways_connected()) + "\n" +
         "gateways total: " + std::to_string(status.gateways_total()) + "\n";
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
  return "service " + OneLine(service.name()) + " -> " + JoinEndpoints(service) + " " +
         std::string(verb) + " at version " + std::to_string(version) + "\n";
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
