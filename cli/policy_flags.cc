#include "cli/policy_flags.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <optional>

#include "common/byte_size.h"
#include "common/duration.h"
#include "common/validation.h"

namespace gw::cli {
namespace {

using gateway::v1::Route;
using gateway::v1::Service;

std::string Bad(std::string_view flag, const std::string& why) {
  return "bad " + std::string(flag) + ": " + why;
}

void Name(google::protobuf::FieldMask* mask, std::string_view path) {
  if (mask) mask->add_paths(std::string(path));
}

std::optional<uint64_t> ParseWhole(std::string_view flag, const std::string& text, uint64_t max,
                                   std::string* error) {
  uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
    *error = Bad(flag, Quote(text) + " is not a whole number");
    return std::nullopt;
  }
  if (value > max) {
    *error = Bad(flag, Quote(text) + " is more than " + std::to_string(max));
    return std::nullopt;
  }
  return value;
}

std::optional<uint64_t> ParseMs(std::string_view flag, const std::string& text,
                                std::string* error) {
  std::string why;
  const auto duration = ParseDuration(text, &why);
  if (!duration) {
    *error = Bad(flag, "invalid duration " + Quote(text) + " (write e.g. 250ms, 2s, 1m, 1h)");
    return std::nullopt;
  }
  return static_cast<uint64_t>(duration->count());
}

// "NAME=VALUE" -> (NAME, VALUE).
bool SplitAssignment(std::string_view flag, const std::string& text, std::string* name,
                     std::string* value, std::string* error) {
  const size_t eq = text.find('=');
  if (eq == std::string::npos || eq == 0) {
    *error = Bad(flag, Quote(text) + " is not NAME=VALUE");
    return false;
  }
  *name = text.substr(0, eq);
  *value = text.substr(eq + 1);
  return true;
}

std::vector<std::string> SplitCommas(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = std::min(text.find(',', start), text.size());
    if (comma > start) out.push_back(text.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

template <size_t N>
std::string_view ResetPath(const ResetField (&fields)[N], std::string_view name) {
  for (const ResetField& field : fields)
    if (field.name == name) return field.mask_path;
  return {};
}

}  // namespace

std::string ParseAggregatePart(const std::string& text, gateway::v1::AggregatePart* part) {
  const std::string expected = " (expected KEY=TARGET[:PATH_PREFIX])";
  const size_t eq = text.find('=');
  if (eq == std::string::npos) return Bad("--aggregate", Quote(text) + " has no '='" + expected);
  if (eq == 0) return Bad("--aggregate", Quote(text) + " has no KEY before '='" + expected);
  const std::string rest = text.substr(eq + 1);
  if (rest.find("://") != std::string::npos)
    return Bad("--aggregate",
               Quote(text) + ": TARGET is a service or HOST:PORT, not a URL" + expected);
  const size_t prefix = rest.find(":/");
  const std::string target = rest.substr(0, prefix);
  if (target.empty()) return Bad("--aggregate", Quote(text) + " has no TARGET" + expected);
  part->set_key(text.substr(0, eq));
  part->set_target(target);
  part->set_path_prefix(prefix == std::string::npos ? "" : rest.substr(prefix + 1));
  return "";
}

std::string BuildRouteMatch(const Command& command, Route* route) {
  route->set_path(command.path);
  route->set_match(command.match);
  route->set_host(command.host);
  for (const std::string& method : command.methods) route->add_methods(method);
  for (const std::string& text : command.headers) {
    std::string name, value, error;
    if (!SplitAssignment("--header", text, &name, &value, &error)) return error;
    auto* header = route->add_headers();
    header->set_name(name);
    header->set_value(value);
  }
  return "";
}

gateway::v1::RouteKey BuildRouteKey(const Command& command, std::string* error) {
  Route route;
  *error = BuildRouteMatch(command, &route);
  gateway::v1::RouteKey key;
  key.set_path(route.path());
  key.set_match(route.match());
  key.set_host(route.host());
  *key.mutable_methods() = route.methods();
  *key.mutable_headers() = route.headers();
  return key;
}

std::string BuildRoutePolicies(const Command& command, Route* route,
                               google::protobuf::FieldMask* mask) {
  std::string error;
  // Targets: a lone TARGET is the target; several TARGET=WEIGHT are a split. A lone weighted
  // one would be a split of one, its weight meaningless: refused rather than dropped.
  if (command.targets.size() == 1) {
    const std::string& target = command.targets.front();
    if (const size_t eq = target.find('='); eq != std::string::npos)
      return "a lone TARGET=WEIGHT (" + Quote(target) + ") is no split: give the TARGET alone (" +
             Quote(target.substr(0, eq)) + "), or two or more TARGET=WEIGHT";
    route->set_target(target);
    Name(mask, "target");
  } else if (command.targets.size() > 1) {
    for (const std::string& text : command.targets) {
      auto* target = route->add_split();
      const size_t eq = text.find('=');
      target->set_target(text.substr(0, eq));
      uint64_t weight = 100;
      if (eq != std::string::npos) {
        const auto parsed =
            ParseWhole("TARGET=WEIGHT " + Quote(text), text.substr(eq + 1), UINT32_MAX, &error);
        if (!parsed) return error;
        weight = *parsed;
      }
      target->set_weight(static_cast<uint32_t>(weight));
    }
    Name(mask, "split");
  }
  // Aggregate parts, in the order given (the answer's key order); they replace the target.
  for (const std::string& text : command.aggregate_parts)
    if (std::string e = ParseAggregatePart(text, route->add_aggregate()); !e.empty()) return e;
  if (!command.aggregate_parts.empty()) Name(mask, "aggregate");
  if (command.aggregate_timeout) {
    const auto ms = ParseMs("--aggregate-timeout", *command.aggregate_timeout, &error);
    if (!ms) return error;
    route->set_aggregate_timeout_ms(*ms);
    Name(mask, "aggregate_timeout_ms");
  }
  if (command.aggregate_partial) {
    route->set_aggregate_partial(true);
    Name(mask, "aggregate_partial");
  }
  if (command.max_body_size) {
    const auto bytes = ParseByteSize(*command.max_body_size, &error);
    if (!bytes) return "bad --max-body-size: " + error;
    route->set_max_body_size(*bytes);
    Name(mask, "max_body_size");
  }
  if (command.strip_prefix) {
    route->set_strip_prefix(true);
    Name(mask, "strip_prefix");
  }
  if (command.rewrite_prefix) {
    route->set_rewrite_prefix(*command.rewrite_prefix);
    Name(mask, "rewrite_prefix");
  }
  struct HeaderSets {
    const char* flag;
    const std::vector<std::string>& values;
    google::protobuf::RepeatedPtrField<gateway::v1::HeaderValue>* out;
    const char* path;
  };
  for (const HeaderSets& set :
       {HeaderSets{"--set-request-header", command.set_request_headers,
                   route->mutable_set_request_headers(), "set_request_headers"},
        HeaderSets{"--set-response-header", command.set_response_headers,
                   route->mutable_set_response_headers(), "set_response_headers"}}) {
    for (const std::string& text : set.values) {
      std::string name, value;
      if (!SplitAssignment(set.flag, text, &name, &value, &error)) return error;
      auto* header = set.out->Add();
      header->set_name(name);
      header->set_value(value);
    }
    if (!set.values.empty()) Name(mask, set.path);
  }
  for (const std::string& name : command.remove_request_headers)
    route->add_remove_request_headers(name);
  if (!command.remove_request_headers.empty()) Name(mask, "remove_request_headers");
  for (const std::string& name : command.remove_response_headers)
    route->add_remove_response_headers(name);
  if (!command.remove_response_headers.empty()) Name(mask, "remove_response_headers");
  if (command.route_timeout) {
    const auto ms = ParseMs("--timeout", *command.route_timeout, &error);
    if (!ms) return error;
    route->set_timeout_ms(*ms);
    Name(mask, "timeout_ms");
  }
  if (command.per_try_timeout) {
    const auto ms = ParseMs("--per-try-timeout", *command.per_try_timeout, &error);
    if (!ms) return error;
    route->set_per_try_timeout_ms(*ms);
    Name(mask, "per_try_timeout_ms");
  }
  if (command.retries) {
    const auto retries = ParseWhole("--retries", *command.retries, UINT32_MAX, &error);
    if (!retries) return error;
    route->set_retries(static_cast<uint32_t>(*retries));
    Name(mask, "retries");
  }
  if (command.rate_limit) {
    const std::string& text = *command.rate_limit;
    const size_t slash = text.find('/');
    const std::string unit = slash == std::string::npos ? "" : text.substr(slash + 1);
    const uint32_t period = unit == "s" ? 1 : unit == "m" ? 60 : unit == "h" ? 3600 : 0;
    if (period == 0) return Bad("--rate-limit", Quote(text) + " is not N/s, N/m or N/h");
    const auto requests = ParseWhole("--rate-limit", text.substr(0, slash), UINT64_MAX, &error);
    if (!requests) return error;
    route->mutable_rate_limit()->set_requests(*requests);
    route->mutable_rate_limit()->set_period_seconds(period);
    Name(mask, "rate_limit.requests");
    Name(mask, "rate_limit.period_seconds");
  }
  if (command.burst) {
    const auto burst = ParseWhole("--burst", *command.burst, UINT64_MAX, &error);
    if (!burst) return error;
    route->mutable_rate_limit()->set_burst(*burst);
    Name(mask, "rate_limit.burst");
  }
  if (command.rate_limit_by) {
    route->mutable_rate_limit()->set_key(*command.rate_limit_by);
    Name(mask, "rate_limit.key");
  }
  if (command.rate_limit_scope) {
    const std::string& scope = *command.rate_limit_scope;
    if (scope == "gateway")
      route->mutable_rate_limit()->set_scope(gateway::v1::RateLimit::SCOPE_GATEWAY);
    else if (scope == "cluster")
      route->mutable_rate_limit()->set_scope(gateway::v1::RateLimit::SCOPE_CLUSTER);
    else
      return Bad("--rate-limit-scope", Quote(scope) + " is not gateway or cluster");
    Name(mask, "rate_limit.scope");
  }
  if (command.auth) {
    const std::string& auth = *command.auth;
    if (auth == "api-key")
      route->set_auth(gateway::v1::AUTH_API_KEY);
    else if (auth == "jwt")
      route->set_auth(gateway::v1::AUTH_JWT);
    else if (auth == "none")
      route->set_auth(gateway::v1::AUTH_NONE);
    else
      return Bad("--auth", Quote(auth) + " is not api-key, jwt or none");
    Name(mask, "auth");
  }
  if (!command.cors_origins.empty()) {
    for (const std::string& origin : command.cors_origins)
      route->mutable_cors()->add_origins(origin);
    Name(mask, "cors.origins");
  }
  if (command.cors_methods) {
    for (auto& method : SplitCommas(*command.cors_methods))
      route->mutable_cors()->add_methods(method);
    Name(mask, "cors.methods");
  }
  if (command.cors_headers) {
    for (auto& header : SplitCommas(*command.cors_headers))
      route->mutable_cors()->add_headers(header);
    Name(mask, "cors.headers");
  }
  if (command.cors_max_age) {
    const auto ms = ParseMs("--cors-max-age", *command.cors_max_age, &error);
    if (!ms) return error;
    if (*ms % 1000 != 0)
      return Bad("--cors-max-age", Quote(*command.cors_max_age) + " is not whole seconds");
    route->mutable_cors()->set_max_age_seconds(
        static_cast<uint32_t>(std::min<uint64_t>(*ms / 1000, UINT32_MAX)));
    Name(mask, "cors.max_age_seconds");
  }
  if (command.https_redirect) {
    route->set_https_redirect(true);
    Name(mask, "https_redirect");
  }
  if (command.hsts) {
    // "0" (no header) needs no unit.
    const auto ms = *command.hsts == "0" ? std::optional<uint64_t>(0)
                                         : ParseMs("--hsts", *command.hsts, &error);
    if (!ms) return error;
    if (*ms % 1000 != 0)
      return Bad("--hsts", "max-age is whole seconds, not " + Quote(*command.hsts));
    route->set_hsts_max_age_s(*ms / 1000);
    Name(mask, "hsts_max_age_s");
  }
  for (const std::string& name : command.resets) Name(mask, ResetPath(kRouteResetFields, name));
  return "";
}

std::string BuildServicePolicies(const Command& command, Service* service,
                                 google::protobuf::FieldMask* mask) {
  service->set_name(command.name);
  std::string error;
  for (const std::string& text : command.endpoints) {
    const auto endpoint = ParseHostPort(text, &error);
    if (!endpoint) {
      // Name the value once: most of ParseHostPort's reasons quote it already.
      if (error.find(Quote(text)) != std::string::npos) return "bad --endpoint: " + error;
      return "bad --endpoint " + Quote(text) + ": " + error;
    }
    auto* out = service->add_endpoints();
    out->set_host(endpoint->host);
    out->set_port(endpoint->port);
  }
  if (!command.endpoints.empty()) Name(mask, "endpoints");
  if (command.lb) {
    std::string lb = *command.lb;
    for (char& c : lb)
      if (c == '-') c = '_';
    gateway::v1::LoadBalancing kind;
    if (!gateway::v1::LoadBalancing_Parse(
            "LB_" +
                [&] {
                  std::string upper = lb;
                  for (char& c : upper)
                    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
                  return upper;
                }(),
            &kind))
      return Bad("--lb",
                 Quote(*command.lb) + " is not round_robin, least_request, random or ring_hash");
    service->set_lb(kind);
    Name(mask, "lb");
  }
  if (command.hash_header) {
    service->set_hash_header(*command.hash_header);
    Name(mask, "hash_header");
  }
  if (command.health_path) {
    service->mutable_health_check()->set_path(*command.health_path);
    Name(mask, "health_check.path");
  }
  if (command.health_interval) {
    const auto ms = ParseMs("--health-interval", *command.health_interval, &error);
    if (!ms) return error;
    service->mutable_health_check()->set_interval_ms(*ms);
    Name(mask, "health_check.interval_ms");
  }
  struct Whole {
    const char* flag;
    const std::optional<std::string>& text;
    void (*set)(Service*, uint32_t);
    const char* path;
    uint32_t min = 0;
  };
  for (const Whole& field : {
           Whole{
               "--unhealthy-threshold", command.unhealthy_threshold,
               [](Service*s, uint32_t v) { s->mutable_health_check()->set_unhealthy_threshold(v); },
               "health_check.unhealthy_threshold", 1},
           Whole{"--healthy-threshold", command.healthy_threshold,
                 [](Service*s, uint32_t v) { s->mutable_health_check()->set_healthy_threshold(v); },
                 "health_check.healthy_threshold", 1},
           Whole{"--eject-after", command.eject_after,
                 [](Service*s, uint32_t v) { s->set_eject_after(v); }, "eject_after"},
           Whole{"--max-connections", command.max_connections,
                 [](Service*s, uint32_t v) { s->set_max_connections(v); }, "max_connections"},
           Whole{"--max-pending", command.max_pending,
                 [](Service*s, uint32_t v) { s->set_max_pending(v); }, "max_pending"},
       }) {
    if (!field.text) continue;
    const auto value = ParseWhole(field.flag, *field.text, UINT32_MAX, &error);
    if (!value) return error;
    if (*value < field.min) return Bad(field.flag, "must be at least " + std::to_string(field.min));
    field.set(service, static_cast<uint32_t>(*value));
    Name(mask, field.path);
  }
  if (command.eject_for) {
    const auto ms = ParseMs("--eject-for", *command.eject_for, &error);
    if (!ms) return error;
    service->set_eject_for_ms(*ms);
    Name(mask, "eject_for_ms");
  }
  if (command.connect_timeout) {
    const auto ms = ParseMs("--connect-timeout", *command.connect_timeout, &error);
    if (!ms) return error;
    service->set_connect_timeout_ms(*ms);
    Name(mask, "connect_timeout_ms");
  }
  if (command.protocol) {
    if (*command.protocol == "http1")
      service->set_protocol(gateway::v1::UPSTREAM_HTTP1);
    else if (*command.protocol == "h2c")
      service->set_protocol(gateway::v1::UPSTREAM_H2C);
    else
      return Bad("--protocol", Quote(*command.protocol) + " is not http1 or h2c");
    Name(mask, "protocol");
  }
  for (const std::string& name : command.resets) Name(mask, ResetPath(kServiceResetFields, name));
  // Ejection switched off (--eject-after 0 or --reset eject) takes its duration with it.
  const bool eject_off =
      mask && service->eject_after() == 0 &&
      std::find(mask->paths().begin(), mask->paths().end(), "eject_after") != mask->paths().end();
  if (eject_off && !command.eject_for) Name(mask, "eject_for_ms");
  return "";
}

}  // namespace gw::cli
