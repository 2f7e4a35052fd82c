#include "common/policy_validation.h"

#include <algorithm>
#include <cctype>
#include <utility>
#include <vector>

#include "common/api_key.h"
#include "common/duration.h"
#include "common/jwt.h"
#include "common/route_identity.h"
#include "common/validation.h"

namespace gw {
namespace {

using gateway::v1::Consumer;
using gateway::v1::Route;
using gateway::v1::Service;

// Visible ASCII and spaces inside, no control characters: what a header value may hold.
bool IsFieldValue(std::string_view value) {
  for (char c : value)
    if (c < 0x20 || c > 0x7e) return false;
  return value.empty() || (value.front() != ' ' && value.back() != ' ');
}

// Why a header value cannot be used ("longer than 4096 characters", ...), or "".
std::string CheckHeaderValue(std::string_view value) {
  if (value.size() > kMaxHeaderValueLength)
    return "longer than " + std::to_string(kMaxHeaderValueLength) + " characters";
  if (!IsFieldValue(value))
    return "that is not visible ASCII (no tabs or control characters, no space at either end)";
  return "";
}

// Fields a route may never set or remove: hop-by-hop and message framing are the gateway's.
bool IsReservedHeader(std::string_view lower_name) {
  static constexpr std::string_view kReserved[] = {"host",
                                                   "content-length",
                                                   "transfer-encoding",
                                                   "connection",
                                                   "keep-alive",
                                                   "proxy-connection",
                                                   "te",
                                                   "trailer",
                                                   "upgrade",
                                                   "proxy-authorization",
                                                   "proxy-authenticate"};
  return std::find(std::begin(kReserved), std::end(kReserved), lower_name) != std::end(kReserved);
}

// "*.example.com" or an exact host name (or IPv4 address), lower-case.
std::string ValidateHostCondition(std::string_view host) {
  std::string_view name = host;
  if (host.starts_with("*.")) name = host.substr(2);
  if (ValidateHost(name).empty() && name.find(':') == std::string_view::npos &&
      name == AsciiLower(name))
    return "";
  return "host " + Quote(host) +
         " is neither a host name nor '*.' followed by one (e.g. *.example.com)";
}

std::string ValidateHeaderName(std::string_view what, std::string_view name) {
  if (name.empty()) return std::string(what) + " has an empty header name";
  if (!IsHttpToken(name)) return std::string(what) + " " + Quote(name) + " is not a header name";
  return "";
}

std::string ValidateHeaderList(
    std::string_view route_name, std::string_view flag,
    const google::protobuf::RepeatedPtrField<std::string>* removes,
    const google::protobuf::RepeatedPtrField<gateway::v1::HeaderValue>* sets, bool request_side) {
  const int count = removes ? removes->size() : sets->size();
  if (count > kMaxHeaderRewrites)
    return std::string(route_name) + ": more than " + std::to_string(kMaxHeaderRewrites) + " " +
           std::string(flag) + " headers";
  std::set<std::string> seen;
  for (int i = 0; i < count; ++i) {
    const std::string& name = removes ? (*removes)[i] : (*sets)[i].name();
    const std::string what = std::string(route_name) + ": " + std::string(flag) + " header";
    if (std::string e = ValidateHeaderName(what, name); !e.empty()) return e;
    const std::string lower = AsciiLower(name);
    if (IsReservedHeader(lower))
      return what + " " + Quote(name) + " is hop-by-hop or framing; the gateway manages it";
    if (request_side && lower == "x-consumer")
      return what + " " + Quote(name) + " is set by the gateway from the authenticated consumer";
    if (!seen.insert(lower).second) return what + " " + Quote(name) + " is given twice";
    if (sets) {
      const std::string& value = (*sets)[i].value();
      if (std::string e = CheckHeaderValue(value); !e.empty())
        return what + " " + Quote(name) + " has a value " + e;
    }
  }
  return "";
}

std::string ValidateRateLimit(std::string_view name, const Route& route) {
  const auto& limit = route.rate_limit();
  if (limit.requests() == 0)
    return std::string(name) + ": rate limit must be > 0 requests (e.g. --rate-limit 100/s)";
  if (limit.requests() > kMaxRateLimitRequests)
    return std::string(name) + ": rate limit " + std::to_string(limit.requests()) +
           " is more than " + std::to_string(kMaxRateLimitRequests) + " requests per period";
  if (limit.period_seconds() != 1 && limit.period_seconds() != 60 && limit.period_seconds() != 3600)
    return std::string(name) + ": rate limit period must be 1s, 1m or 1h, not " +
           std::to_string(limit.period_seconds()) + "s";
  if (limit.burst() > kMaxRateLimitRequests)
    return std::string(name) + ": burst " + std::to_string(limit.burst()) + " is more than " +
           std::to_string(kMaxRateLimitRequests);
  if (!gateway::v1::RateLimit::Scope_IsValid(limit.scope()))
    return std::string(name) + ": rate limit scope " + std::to_string(limit.scope()) +
           " is neither gateway nor cluster";
  const std::string& key = limit.key();
  if (key == "ip") return "";
  if (key == "consumer") {
    if (route.auth() == gateway::v1::AUTH_NONE)
      return std::string(name) +
             ": rate limit by consumer needs authentication on the route (--auth api-key|jwt)";
    return "";
  }
  if (key.starts_with("header:")) {
    const std::string_view header = std::string_view(key).substr(7);
    if (IsHttpToken(header)) return "";
    return std::string(name) + ": rate limit key " + Quote(key) + " names no valid header";
  }
  return std::string(name) + ": rate limit key " + Quote(key) +
         " must be ip, header:NAME or consumer";
}

std::string ValidateCors(std::string_view name, const gateway::v1::Cors& cors) {
  if (cors.origins().empty()) return std::string(name) + ": cors needs at least one origin";
  if (cors.origins_size() > kMaxCorsOrigins)
    return std::string(name) + ": more than " + std::to_string(kMaxCorsOrigins) + " cors origins";
  for (const std::string& origin : cors.origins()) {
    if (origin == "*") {
      if (cors.origins_size() > 1)
        return std::string(name) + ": cors origin '*' allows every origin; give it alone";
      continue;
    }
    if (CanonicalOrigin(origin).empty())
      return std::string(name) + ": cors origin " + Quote(origin) +
             " is not an origin (scheme://host[:port], or *)";
  }
  for (const std::string& method : cors.methods())
    if (!IsHttpToken(method))
      return std::string(name) + ": cors method " + Quote(method) + " is not a method name";
  for (const std::string& header : cors.headers())
    if (!IsHttpToken(header))
      return std::string(name) + ": cors header " + Quote(header) + " is not a header name";
  if (cors.max_age_seconds() > kMaxCorsMaxAgeSeconds)
    return std::string(name) + ": cors max age " +
           FormatDurationMs(uint64_t{cors.max_age_seconds()} * 1000) + " is more than 24h";
  return "";
}

std::string RouteLabel(const Route& route) { return "route " + Quote(route.path()); }

bool IsAggregateKey(std::string_view key) {
  if (key.empty() || key.size() > kMaxAggregateKeyLength) return false;
  return std::all_of(key.begin(), key.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
  });
}

// The parts of an aggregate route (there is at least one) and what such a route may not have.
std::string ValidateAggregate(std::string_view name, const Route& route) {
  const std::string label(name);
  if (!route.target().empty()) return label + " has both a target and aggregate parts; give one";
  if (route.split_size() > 0) return label + " has both a split and aggregate parts; give one";
  if (route.aggregate_size() < kMinAggregateParts || route.aggregate_size() > kMaxAggregateParts)
    return label + ": an aggregate has " + std::to_string(kMinAggregateParts) + " to " +
           std::to_string(kMaxAggregateParts) + " parts, not " +
           std::to_string(route.aggregate_size());
  std::set<std::string, std::less<>> keys;
  for (const auto& part : route.aggregate()) {
    if (!IsAggregateKey(part.key()))
      return label + ": aggregate key " + Quote(part.key()) + " must be 1 to " +
             std::to_string(kMaxAggregateKeyLength) + " letters, digits, '_' or '-'";
    if (!keys.insert(part.key()).second)
      return label + ": aggregate lists key " + Quote(part.key()) + " twice";
    const std::string what = label + ": aggregate part " + Quote(part.key());
    if (part.target().empty()) return what + " has no target";
    if (std::string e = ValidateTarget(part.target()); !e.empty()) return what + ": " + e;
    if (!part.path_prefix().empty()) {
      if (std::string e = ValidateRoutePath(part.path_prefix()); !e.empty())
        return what + ": path prefix: " + e.substr(e.starts_with("route ") ? 6 : 0);
    }
  }
  // Each part is asked with GET (HEAD too: the answer's length depends on the parts' bodies).
  for (const std::string& method : route.methods())
    if (method != "GET" && method != "HEAD")
      return label + ": an aggregate route takes GET and HEAD only, not " + method;
  if (route.aggregate_timeout_ms() != 0 && (route.aggregate_timeout_ms() < kMinRouteTimeoutMs ||
                                            route.aggregate_timeout_ms() > kMaxRouteTimeoutMs))
    return label + ": aggregate timeout " + FormatDurationMs(route.aggregate_timeout_ms()) +
           " is outside 1ms..1h";
  return "";
}

}  // namespace

std::string CanonicalOrigin(std::string_view origin) {
  const size_t separator = origin.find("://");
  if (separator == std::string_view::npos || separator == 0) return {};
  const std::string_view scheme = origin.substr(0, separator);
  if (!std::isalpha(static_cast<unsigned char>(scheme.front()))) return {};
  for (const char c : scheme) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '-' && c != '.') return {};
  }
  const std::string_view authority = origin.substr(separator + 3);
  if (authority.empty() || authority.find_first_of("/?#@ ") != std::string_view::npos) return {};
  const auto host_port = ParseHostPort(authority, nullptr, uint16_t{80});
  if (!host_port) return {};
  const size_t bracket = authority.rfind(']');
  const bool port_given = authority.find(':', bracket == std::string_view::npos ? 0 : bracket) !=
                          std::string_view::npos;
  const std::string lower_scheme = AsciiLower(scheme);
  const bool v6 = host_port->host.find(':') != std::string::npos;
  std::string canonical =
      lower_scheme + "://" + (v6 ? "[" : "") + AsciiLower(host_port->host) + (v6 ? "]" : "");
  const bool default_port = (lower_scheme == "http" && host_port->port == 80) ||
                            (lower_scheme == "https" && host_port->port == 443);
  if (port_given && !default_port) canonical += ":" + std::to_string(host_port->port);
  return canonical;
}

bool IsHttpToken(std::string_view text) {
  if (text.empty()) return false;
  for (char c : text) {
    if (std::isalnum(static_cast<unsigned char>(c))) continue;
    if (std::string_view("!#$%&'*+-.^_`|~").find(c) == std::string_view::npos) return false;
  }
  return true;
}

namespace {

template <typename Message>
void CanonicalizeConditions(Message* m) {
  RouteIdentity identity = IdentityOf(*m);
  m->set_host(std::move(identity.host));
  m->clear_methods();
  for (auto& method : identity.methods) m->add_methods(std::move(method));
  m->clear_headers();
  for (auto& [name, value] : identity.headers) {
    auto* header = m->add_headers();
    header->set_name(std::move(name));
    header->set_value(std::move(value));
  }
}

}  // namespace

void CanonicalizeRoute(Route* route) {
  CanonicalizeConditions(route);
  if (route->has_rate_limit() && route->rate_limit().key().empty())
    route->mutable_rate_limit()->set_key(std::string(kDefaultRateLimitKey));
  if (route->has_cors()) {
    auto* methods = route->mutable_cors()->mutable_methods();
    for (std::string& method : *methods) method = AsciiUpper(method);
  }
}

void CanonicalizeRouteKey(gateway::v1::RouteKey* key) { CanonicalizeConditions(key); }

void CanonicalizeService(Service* service) {
  if (service->has_health_check()) {
    auto* health = service->mutable_health_check();
    if (health->interval_ms() == 0) health->set_interval_ms(kDefaultHealthIntervalMs);
    if (health->unhealthy_threshold() == 0)
      health->set_unhealthy_threshold(kDefaultUnhealthyThreshold);
    if (health->healthy_threshold() == 0) health->set_healthy_threshold(kDefaultHealthyThreshold);
  }
  if (service->eject_after() > 0 && service->eject_for_ms() == 0)
    service->set_eject_for_ms(kDefaultEjectForMs);
}

std::string ValidateRouteConditions(const Route& route) {
  const std::string name = RouteLabel(route);
  if (!route.host().empty()) {
    if (std::string e = ValidateHostCondition(route.host()); !e.empty()) return name + ": " + e;
  }
  if (route.methods_size() > kMaxMatchMethods)
    return name + ": more than " + std::to_string(kMaxMatchMethods) + " methods";
  for (const std::string& method : route.methods())
    if (!IsHttpToken(method)) return name + ": method " + Quote(method) + " is not a method name";
  if (route.headers_size() > kMaxMatchHeaders)
    return name + ": more than " + std::to_string(kMaxMatchHeaders) + " header conditions";
  for (const auto& header : route.headers()) {
    if (std::string e = ValidateHeaderName(name + ": header condition", header.name()); !e.empty())
      return e;
    if (std::string e = CheckHeaderValue(header.value()); !e.empty())
      return name + ": header condition " + Quote(header.name()) + " has a value " + e;
  }
  return "";
}

std::string ValidateRoutePolicies(const Route& route) {
  const std::string name = RouteLabel(route);
  if (route.aggregate_size() > 0) {
    if (std::string e = ValidateAggregate(name, route); !e.empty()) return e;
  } else if (route.aggregate_timeout_ms() != 0) {
    return name + ": --aggregate-timeout needs aggregate parts (--aggregate KEY=TARGET)";
  } else if (route.aggregate_partial()) {
    return name + ": --aggregate-partial needs aggregate parts (--aggregate KEY=TARGET)";
  } else if (route.split_size() > 0) {
    if (!route.target().empty()) return name + " has both a target and a split; give one";
    if (route.split_size() < kMinSplitTargets || route.split_size() > kMaxSplitTargets)
      return name + ": a split has " + std::to_string(kMinSplitTargets) + " to " +
             std::to_string(kMaxSplitTargets) + " targets, not " +
             std::to_string(route.split_size());
    std::set<std::string> seen;
    for (const auto& target : route.split()) {
      if (std::string e = ValidateTarget(target.target()); !e.empty()) return name + ": " + e;
      if (!seen.insert(target.target()).second)
        return name + ": split lists " + Quote(target.target()) + " twice";
      if (target.weight() < kMinSplitWeight || target.weight() > kMaxSplitWeight)
        return name + ": split weight " + std::to_string(target.weight()) + " of " +
               Quote(target.target()) + " is outside " + std::to_string(kMinSplitWeight) + ".." +
               std::to_string(kMaxSplitWeight) +
               (target.weight() == 0 ? " (to stop its traffic, leave the target out)" : "");
    }
  } else if (std::string e = ValidateTarget(route.target()); !e.empty()) {
    return e;
  }
  if (std::string e = ValidateMaxBodySize(route.max_body_size()); !e.empty())
    return name + ": " + e;
  if (route.strip_prefix() && !route.rewrite_prefix().empty())
    return name +
           ": --strip-prefix and --rewrite-prefix cannot be used together "
           "(--rewrite-prefix / strips too)";
  if (!route.rewrite_prefix().empty()) {
    if (std::string e = ValidateRoutePath(route.rewrite_prefix()); !e.empty())
      return name + ": rewrite prefix: " + e.substr(e.starts_with("route ") ? 6 : 0);
  }
  if (std::string e =
          ValidateHeaderList(name, "set-request", nullptr, &route.set_request_headers(), true);
      !e.empty())
    return e;
  if (std::string e = ValidateHeaderList(name, "remove-request", &route.remove_request_headers(),
                                         nullptr, true);
      !e.empty())
    return e;
  if (std::string e =
          ValidateHeaderList(name, "set-response", nullptr, &route.set_response_headers(), false);
      !e.empty())
    return e;
  if (std::string e = ValidateHeaderList(name, "remove-response", &route.remove_response_headers(),
                                         nullptr, false);
      !e.empty())
    return e;
  if (route.timeout_ms() != 0 &&
      (route.timeout_ms() < kMinRouteTimeoutMs || route.timeout_ms() > kMaxRouteTimeoutMs))
    return name + ": timeout " + FormatDurationMs(route.timeout_ms()) + " is outside 1ms..1h";
  if (route.per_try_timeout_ms() != 0 && (route.per_try_timeout_ms() < kMinRouteTimeoutMs ||
                                          route.per_try_timeout_ms() > kMaxRouteTimeoutMs))
    return name + ": per-try timeout " + FormatDurationMs(route.per_try_timeout_ms()) +
           " is outside 1ms..1h";
  if (route.per_try_timeout_ms() != 0 && route.timeout_ms() != 0 &&
      route.per_try_timeout_ms() > route.timeout_ms())
    return name + ": per-try timeout " + FormatDurationMs(route.per_try_timeout_ms()) +
           " is longer than the route timeout " + FormatDurationMs(route.timeout_ms());
  if (route.retries() > kMaxRetries)
    return name + ": retries " + std::to_string(route.retries()) + " is more than " +
           std::to_string(kMaxRetries);
  if (!gateway::v1::AuthKind_IsValid(route.auth()))
    return name + ": auth kind " + std::to_string(route.auth()) + " is unknown";
  if (route.hsts_max_age_s() > kMaxHstsMaxAgeSeconds)
    return name + ": hsts max-age " + FormatDurationMs(route.hsts_max_age_s() * 1000) +
           " is more than 2 years";
  if (route.has_rate_limit()) {
    if (std::string e = ValidateRateLimit(name, route); !e.empty()) return e;
  }
  if (route.has_cors()) {
    if (std::string e = ValidateCors(name, route.cors()); !e.empty()) return e;
  }
  return "";
}

std::string ValidateSplitTargets(const Route& route,
                                 const std::set<std::string, std::less<>>& services) {
  for (const auto& target : route.split()) {
    if (target.target().find(':') != std::string::npos || target.target().find('[') == 0)
      continue;  // HOST:PORT
    if (!services.count(target.target()))
      return RouteLabel(route) + ": unknown service " + Quote(target.target()) +
             " in split (register it, or give HOST:PORT)";
  }
  return "";
}

std::string ValidateAggregateTargets(const Route& route,
                                     const std::set<std::string, std::less<>>& h2c_services) {
  for (const auto& part : route.aggregate())
    if (h2c_services.count(part.target()))
      return RouteLabel(route) + ": aggregate part " + Quote(part.key()) + " targets service " +
             Quote(part.target()) + " which speaks h2c; a part must speak HTTP/1.1";
  return "";
}

std::string ValidateServicePolicies(const Service& service) {
  const std::string name = "service " + Quote(service.name());
  if (!gateway::v1::LoadBalancing_IsValid(service.lb()))
    return name + ": load balancing " + std::to_string(service.lb()) + " is unknown";
  if (!service.hash_header().empty()) {
    if (service.lb() != gateway::v1::LB_RING_HASH)
      return name + ": a hash header needs --lb ring_hash";
    if (!IsHttpToken(service.hash_header()))
      return name + ": hash header " + Quote(service.hash_header()) + " is not a header name";
  }
  if (!gateway::v1::UpstreamProtocol_IsValid(service.protocol()))
    return name + ": protocol " + std::to_string(service.protocol()) + " is unknown";
  if (service.has_health_check()) {
    const auto& health = service.health_check();
    const std::string& path = health.path();
    if (path.empty())
      return name + ": a health check needs a path to check (--health-path, e.g. /healthz)";
    if (path.front() != '/' || path.size() > kMaxRoutePathLength || !IsFieldValue(path) ||
        path.find(' ') != std::string::npos)
      return name + ": health check path " + Quote(path) + " must be an absolute path";
    if (health.interval_ms() < kMinHealthIntervalMs || health.interval_ms() > kMaxHealthIntervalMs)
      return name + ": health check interval " + FormatDurationMs(health.interval_ms()) +
             " is outside 100ms..1h";
    for (auto [what, value] : {std::pair{"unhealthy", health.unhealthy_threshold()},
                               std::pair{"healthy", health.healthy_threshold()}}) {
      if (value < 1 || value > kMaxHealthThreshold)
        return name + ": " + what + " threshold " + std::to_string(value) + " is outside 1..100";
    }
  }
  if (service.eject_after() > kMaxEjectAfter)
    return name + ": eject after " + std::to_string(service.eject_after()) + " is more than " +
           std::to_string(kMaxEjectAfter) + " failures";
  if (service.eject_after() > 0 &&
      (service.eject_for_ms() < kMinEjectForMs || service.eject_for_ms() > kMaxEjectForMs))
    return name + ": eject for " + FormatDurationMs(service.eject_for_ms()) + " is outside 1s..1h";
  if (service.eject_after() == 0 && service.eject_for_ms() != 0)
    return name +
           ": eject for needs eject after (--eject-after: the failures that eject an "
           "endpoint)";
  if (service.max_connections() > kMaxServiceConnections)
    return name + ": max connections " + std::to_string(service.max_connections()) +
           " is more than " + std::to_string(kMaxServiceConnections);
  if (service.max_pending() > kMaxServiceConnections)
    return name + ": max pending " + std::to_string(service.max_pending()) + " is more than " +
           std::to_string(kMaxServiceConnections);
  if (service.connect_timeout_ms() > kMaxConnectTimeoutMs)
    return name + ": connect timeout " + FormatDurationMs(service.connect_timeout_ms()) +
           " is outside 1ms..1m";
  return "";
}

std::string ValidateConsumer(const Consumer& consumer) {
  if (std::string e = ValidateServiceName(consumer.name()); !e.empty())
    return "consumer" + e.substr(std::string_view("service").size());
  const std::string name = "consumer " + Quote(consumer.name());
  if (consumer.api_key_sha256_size() > kMaxApiKeysPerConsumer)
    return name + " has more than " + std::to_string(kMaxApiKeysPerConsumer) + " api keys";
  std::set<std::string> seen;
  for (const std::string& digest : consumer.api_key_sha256()) {
    if (!IsApiKeySha256Hex(digest)) return name + ": an api key digest is not SHA-256 hex";
    if (!seen.insert(digest).second) return name + " has the same api key twice";
  }
  if (consumer.has_jwt()) {
    const auto& jwt = consumer.jwt();
    if (jwt.issuer().empty()) return name + ": jwt issuer is empty";
    const bool secret = !jwt.secret().empty();
    const bool key = !jwt.public_key_pem().empty();
    if (secret == key)
      return name + ": jwt needs exactly one of a secret (HS256) or a public key (RS256/ES256)";
    std::string error;
    if (!JwtVerifier::Create({jwt.issuer(), jwt.secret(), jwt.public_key_pem()}, &error))
      return name + ": " + error;
  }
  if (consumer.api_key_sha256().empty() && !consumer.has_jwt())
    return name + " has no credentials: give an api key or a jwt issuer with its key";
  return "";
}

}  // namespace gw
