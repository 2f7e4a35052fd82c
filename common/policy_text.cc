#include "common/policy_text.h"

#include <chrono>

#include "common/duration.h"

namespace gw {
namespace {

void Append(std::string& out, const std::string& item) {
  if (!out.empty()) out += ' ';
  out += item;
}

}  // namespace

std::string FormatAggregateParts(const gateway::v1::Route& route) {
  std::string out;
  for (const auto& part : route.aggregate()) {
    if (!out.empty()) out += ',';
    out += part.key() + "=" + part.target();
    if (!part.path_prefix().empty()) out += ":" + part.path_prefix();
  }
  return out;
}

std::string FormatRouteTargets(const gateway::v1::Route& route) {
  if (!route.aggregate().empty()) return "aggregate(" + FormatAggregateParts(route) + ")";
  if (route.split().empty()) return route.target();
  std::string out;
  for (const auto& target : route.split()) {
    if (!out.empty()) out += ',';
    out += target.target() + "=" + std::to_string(target.weight());
  }
  return out;
}

std::string FormatRateLimit(const gateway::v1::RateLimit& limit) {
  std::string out = std::to_string(limit.requests()) + "/";
  switch (limit.period_seconds()) {
    case 1:
      out += "s";
      break;
    case 60:
      out += "m";
      break;
    case 3600:
      out += "h";
      break;
    default:
      out += std::to_string(limit.period_seconds()) + "s";
  }
  if (limit.burst() != 0) out += " burst " + std::to_string(limit.burst());
  if (!limit.key().empty() && limit.key() != "ip") out += " by " + limit.key();
  if (limit.scope() == gateway::v1::RateLimit::SCOPE_CLUSTER) out += " cluster-wide";
  return out;
}

std::string_view RateLimitScopeName(gateway::v1::RateLimit::Scope scope) {
  return scope == gateway::v1::RateLimit::SCOPE_CLUSTER ? "cluster" : "gateway";
}

std::string_view AuthName(gateway::v1::AuthKind auth) {
  switch (auth) {
    case gateway::v1::AUTH_API_KEY:
      return "api-key";
    case gateway::v1::AUTH_JWT:
      return "jwt";
    default:
      return "none";
  }
}

std::string_view LoadBalancingName(gateway::v1::LoadBalancing lb) {
  switch (lb) {
    case gateway::v1::LB_LEAST_REQUEST:
      return "least_request";
    case gateway::v1::LB_RANDOM:
      return "random";
    case gateway::v1::LB_RING_HASH:
      return "ring_hash";
    default:
      return "round_robin";
  }
}

std::string DescribeRoutePolicies(const gateway::v1::Route& route) {
  std::string out;
  if (route.auth() != gateway::v1::AUTH_NONE)
    Append(out, "auth=" + std::string(AuthName(route.auth())));
  if (route.has_rate_limit()) {
    const auto& limit = route.rate_limit();
    gateway::v1::RateLimit rate;
    rate.set_requests(limit.requests());
    rate.set_period_seconds(limit.period_seconds());
    Append(out, "rl=" + FormatRateLimit(rate));
    if (limit.burst() != 0) Append(out, "burst=" + std::to_string(limit.burst()));
    if (!limit.key().empty() && limit.key() != "ip") Append(out, "rl-by=" + limit.key());
    if (limit.scope() != gateway::v1::RateLimit::SCOPE_GATEWAY)
      Append(out, "rl-scope=" + std::string(RateLimitScopeName(limit.scope())));
  }
  if (route.retries() != 0) Append(out, "retries=" + std::to_string(route.retries()));
  if (route.timeout_ms() != 0) Append(out, "timeout=" + FormatDurationMs(route.timeout_ms()));
  if (route.per_try_timeout_ms() != 0)
    Append(out, "per-try-timeout=" + FormatDurationMs(route.per_try_timeout_ms()));
  if (route.aggregate_timeout_ms() != 0)
    Append(out, "aggregate-timeout=" + FormatDurationMs(route.aggregate_timeout_ms()));
  if (route.aggregate_partial()) Append(out, "aggregate-partial");
  if (route.strip_prefix()) Append(out, "strip-prefix");
  if (!route.rewrite_prefix().empty()) Append(out, "rewrite=" + route.rewrite_prefix());
  if (!route.set_request_headers().empty())
    Append(out, "set-req=" + std::to_string(route.set_request_headers_size()));
  if (!route.remove_request_headers().empty())
    Append(out, "rm-req=" + std::to_string(route.remove_request_headers_size()));
  if (!route.set_response_headers().empty())
    Append(out, "set-resp=" + std::to_string(route.set_response_headers_size()));
  if (!route.remove_response_headers().empty())
    Append(out, "rm-resp=" + std::to_string(route.remove_response_headers_size()));
  if (route.has_cors()) {
    std::string origins;
    for (const auto& origin : route.cors().origins())
      origins += (origins.empty() ? "" : ",") + origin;
    Append(out, "cors=" + origins);
  }
  if (route.https_redirect()) Append(out, "https-redirect");
  if (route.hsts_max_age_s() != 0)
    Append(out, "hsts=" + FormatDurationMs(route.hsts_max_age_s() * 1000));
  return out;
}

std::string_view UpstreamProtocolName(gateway::v1::UpstreamProtocol protocol) {
  return protocol == gateway::v1::UPSTREAM_H2C ? "h2c" : "http1";
}

std::string DescribeServicePolicies(const gateway::v1::Service& service) {
  std::string out;
  if (service.lb() != gateway::v1::LB_ROUND_ROBIN || !service.hash_header().empty()) {
    std::string lb = "lb=" + std::string(LoadBalancingName(service.lb()));
    if (!service.hash_header().empty()) lb += "(" + service.hash_header() + ")";
    Append(out, lb);
  }
  if (service.has_health_check())
    Append(out, "health=" + service.health_check().path() + "/" +
                    FormatDurationMs(service.health_check().interval_ms()));
  if (service.eject_after() != 0)
    Append(out, "eject=" + std::to_string(service.eject_after()) + "/" +
                    FormatDurationMs(service.eject_for_ms()));
  if (service.max_connections() != 0)
    Append(out, "max-conn=" + std::to_string(service.max_connections()));
  if (service.max_pending() != 0)
    Append(out, "max-pending=" + std::to_string(service.max_pending()));
  if (service.connect_timeout_ms() != 0)
    Append(out, "connect-timeout=" + FormatDurationMs(service.connect_timeout_ms()));
  if (service.protocol() != gateway::v1::UPSTREAM_HTTP1)
    Append(out, "protocol=" + std::string(UpstreamProtocolName(service.protocol())));
  return out;
}

}  // namespace gw
