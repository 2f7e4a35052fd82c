#include "gateway/router/route_table.h"

#include <algorithm>
#include <boost/beast/core/string.hpp>
#include <map>
#include <tuple>

#include "common/route_identity.h"

namespace gw {

namespace {

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool HostMatches(const RouteEntry& route, std::string_view host) {
  if (!route.host_wildcard) return boost::beast::iequals(ToBeast(host), ToBeast(route.host));
  // ".example.com" covers "a.example.com" and "a.b.example.com", not "example.com".
  const std::string_view suffix = route.host;
  return host.size() > suffix.size() &&
         boost::beast::iequals(ToBeast(host.substr(host.size() - suffix.size())), ToBeast(suffix));
}

// Larger is more specific (see RouteTable::Match).
auto Specificity(const RouteEntry& route) {
  const int host_rank = route.host.empty() ? 0 : route.host_wildcard ? 1 : 2;
  return std::make_tuple(host_rank, route.host.size(), route.headers.size(),
                         !route.methods.empty());
}

}  // namespace

bool RouteEntry::Accepts(const RequestTraits& request) const {
  if (!host.empty() && !HostMatches(*this, request.host)) return false;
  if (!methods.empty() &&
      std::find(methods.begin(), methods.end(), request.method) == methods.end()) {
    return false;
  }
  for (const auto& [name, value] : headers) {
    if (!request.fields) return false;
    bool found = false;
    for (auto [it, end] = request.fields->equal_range(ToBeast(name)); it != end; ++it) {
      if (ToStd(it->value()) == value) {
        found = true;
        break;
      }
    }
    if (!found) return false;
  }
  return true;
}

namespace {

// `request_path` with the prefix `route_path` matched replaced by `base` (empty: removed),
// keeping at least "/".
std::string_view ReplacePrefix(std::string_view route_path, std::string_view request_path,
                               std::string_view base, std::string& out) {
  out.clear();
  // What follows the matched prefix: empty or "/..." (prefixes match on segment boundaries;
  // "/" covers everything).
  std::string_view rest = route_path == "/" ? request_path : request_path.substr(route_path.size());
  if (!base.empty() && base.back() == '/' && !rest.empty()) base.remove_suffix(1);
  out.append(base);
  out.append(rest);
  if (out.empty() || out.front() != '/') out.insert(out.begin(), '/');
  return out;
}

}  // namespace

std::string_view RouteEntry::RewritePath(std::string_view request_path, std::string& out) const {
  if (!strip_prefix && rewrite_prefix.empty()) return request_path;
  return ReplacePrefix(path, request_path, rewrite_prefix, out);
}

std::string_view RouteEntry::RewritePartPath(const AggregatePartEntry& part,
                                             std::string_view request_path,
                                             std::string& out) const {
  if (part.path_prefix.empty()) return RewritePath(request_path, out);
  return ReplacePrefix(path, request_path, part.path_prefix, out);
}

const UpstreamTarget& RouteEntry::PickUpstream(uint64_t draw) const {
  if (split.empty()) return *upstream;
  uint64_t point = draw % split_total;
  for (const WeightedUpstream& target : split) {
    if (point < target.weight) return *target.upstream;
    point -= target.weight;
  }
  return *split.back().upstream;  // not reached: the weights sum to split_total
}

std::shared_ptr<const RouteTable> RouteTable::Build(const gateway::v1::Config& config,
                                                    size_t max_routes, std::string* error,
                                                    PolicyRegistries* registries) {
  if (std::string e = ValidateConfig(config); !e.empty()) {
    *error = e;
    return nullptr;
  }
  if (static_cast<size_t>(config.routes_size()) > max_routes) {
    *error = "config has " + std::to_string(config.routes_size()) +
             " routes, more than this gateway's limit of " + std::to_string(max_routes) +
             " (--max-routes)";
    return nullptr;
  }

  auto table = std::make_shared<RouteTable>();
  table->version_ = config.version();

  std::vector<ApiKeyConsumer> key_consumers;
  std::vector<JwtConsumer> jwt_consumers;
  for (const auto& consumer : config.consumers()) {
    if (consumer.api_key_sha256_size() > 0) {
      key_consumers.push_back(
          {consumer.name(), {consumer.api_key_sha256().begin(), consumer.api_key_sha256().end()}});
    }
    if (consumer.has_jwt()) {
      jwt_consumers.push_back(
          {consumer.name(),
           {consumer.jwt().issuer(), consumer.jwt().secret(), consumer.jwt().public_key_pem()}});
    }
  }
  if (!key_consumers.empty() && !(table->api_keys_ = ApiKeySet::Build(key_consumers, error))) {
    return nullptr;
  }
  if (!jwt_consumers.empty() && !(table->jwt_keys_ = JwtKeySet::Build(jwt_consumers, error))) {
    return nullptr;
  }
  RateLimiterRegistry fresh_limiters;
  RateLimiterRegistry& limiters = registries ? registries->rate_limiters : fresh_limiters;
  ClusterRateLimiterRegistry fresh_cluster_limiters;
  ClusterRateLimiterRegistry& cluster_limiters =
      registries ? registries->cluster_rate_limiters : fresh_cluster_limiters;
  table->service_count_ = static_cast<size_t>(config.services_size());

  std::map<std::string, std::shared_ptr<const UpstreamTarget>, std::less<>> upstreams;
  EndpointStateRegistry fresh_states;
  EndpointStateRegistry& states = registries ? registries->endpoint_states : fresh_states;
  for (const auto& service : config.services()) {
    auto upstream = std::make_shared<UpstreamTarget>();
    upstream->name = service.name();
    upstream->is_service = true;
    for (const auto& endpoint : service.endpoints())
      upstream->endpoints.push_back({endpoint.host(), static_cast<uint16_t>(endpoint.port())});
    ServicePolicy policy;
    policy.endpoints = upstream->endpoints;
    switch (service.lb()) {
      case gateway::v1::LB_LEAST_REQUEST:
        policy.balancing = Balancing::kLeastRequest;
        break;
      case gateway::v1::LB_RANDOM:
        policy.balancing = Balancing::kRandom;
        break;
      case gateway::v1::LB_RING_HASH:
        policy.balancing = Balancing::kRingHash;
        break;
      default:
        policy.balancing = Balancing::kRoundRobin;
        break;
    }
    if (service.has_health_check()) {
      const auto& check = service.health_check();
      policy.health_check = HealthCheckPolicy{
          check.path(), std::chrono::milliseconds(check.interval_ms()),
          std::max(1u, check.unhealthy_threshold()), std::max(1u, check.healthy_threshold()),
          service.protocol() == gateway::v1::UPSTREAM_H2C};
    }
    policy.eject_after = service.eject_after();
    policy.eject_for = std::chrono::milliseconds(service.eject_for_ms());
    policy.max_connections = service.max_connections();
    policy.max_pending = service.max_pending();
    ServiceEndpointsSharedPtr state = states.Get(service.name(), policy);
    table->service_states_.push_back(state);
    upstream->balancer = std::make_shared<const LoadBalancer>(std::move(state));
    upstream->hash_header = Lower(service.hash_header());
    upstream->connect_timeout = std::chrono::milliseconds(service.connect_timeout_ms());
    upstream->protocol = service.protocol();
    upstreams.emplace(service.name(), std::move(upstream));
  }

  table->routes_.reserve(static_cast<size_t>(config.routes_size()));
  for (const auto& route : config.routes()) {
    RouteEntry entry;
    entry.path = route.path();
    entry.match = route.match();
    entry.max_body_size = route.max_body_size();
    // A target is a registered service, else a host[:port] resolved by DNS (validated above).
    auto upstream_for = [&upstreams](const std::string& target) {
      auto it = upstreams.find(target);
      if (it == upstreams.end()) {
        auto hp = ParseHostPort(target, nullptr, kDefaultTargetPort);
        auto upstream = std::make_shared<UpstreamTarget>();
        upstream->name = FormatHostPort(hp->host, hp->port);
        upstream->endpoints.push_back(std::move(*hp));
        it = upstreams.emplace(target, std::move(upstream)).first;
      }
      return it->second;
    };
    if (route.aggregate_size() > 0) {
      entry.target = "aggregate(";
      for (const auto& part : route.aggregate()) {
        if (!entry.aggregate.empty()) entry.target += ',';
        entry.target += part.key();
        entry.aggregate.push_back({part.key(), upstream_for(part.target()), part.path_prefix()});
      }
      entry.target += ')';
      entry.aggregate_timeout = std::chrono::milliseconds(route.aggregate_timeout_ms());
      entry.aggregate_partial = route.aggregate_partial();
    } else if (route.split_size() == 0) {
      entry.target = route.target();
      entry.upstream = upstream_for(route.target());
    } else {
      for (const auto& weighted : route.split()) {
        if (!entry.target.empty()) entry.target += ' ';
        entry.target += weighted.target() + "=" + std::to_string(weighted.weight());
        entry.split.push_back({upstream_for(weighted.target()), weighted.weight()});
        entry.split_total += weighted.weight();
      }
    }
    if (const std::string_view host = route.host(); host.starts_with("*.")) {
      entry.host = Lower(host.substr(1));
      entry.host_wildcard = true;
    } else {
      entry.host = Lower(host);
    }
    entry.methods.assign(route.methods().begin(), route.methods().end());
    entry.strip_prefix = route.strip_prefix();
    entry.rewrite_prefix = route.rewrite_prefix();
    for (const auto& header : route.set_request_headers()) {
      entry.set_request_headers.emplace_back(header.name(), header.value());
    }
    entry.remove_request_headers.assign(route.remove_request_headers().begin(),
                                        route.remove_request_headers().end());
    for (const auto& header : route.set_response_headers()) {
      entry.set_response_headers.emplace_back(header.name(), header.value());
    }
    entry.remove_response_headers.assign(route.remove_response_headers().begin(),
                                         route.remove_response_headers().end());
    entry.exchange.timeout = std::chrono::milliseconds(route.timeout_ms());
    entry.exchange.per_try_timeout = std::chrono::milliseconds(route.per_try_timeout_ms());
    entry.exchange.retries = route.retries();
    entry.auth = route.auth();
    entry.https_redirect = route.https_redirect();
    entry.hsts_max_age_s = route.hsts_max_age_s();
    if (route.has_cors()) {
      CorsConfig cors;
      cors.origins.assign(route.cors().origins().begin(), route.cors().origins().end());
      cors.methods.assign(route.cors().methods().begin(), route.cors().methods().end());
      cors.headers.assign(route.cors().headers().begin(), route.cors().headers().end());
      cors.max_age_seconds = route.cors().max_age_seconds();
      if (!(entry.cors = CorsPolicy::Build(cors, error))) return nullptr;
    }
    if (route.has_rate_limit()) {
      const auto& limit = route.rate_limit();
      RateLimitConfig config_limit;
      config_limit.requests = limit.requests();
      config_limit.period_seconds = limit.period_seconds();
      config_limit.burst = limit.burst();
      if (std::string reason = CheckRateLimitConfig(config_limit); !reason.empty()) {
        *error = "route " + route.path() + ": " + reason;
        return nullptr;
      }
      const std::string_view by = limit.key();
      if (by.starts_with("header:")) {
        entry.rate_limit_by = Lower(by.substr(7));
        entry.rate_limit_by_header = true;
      } else {
        entry.rate_limit_by = by;
      }
      if (limit.scope() == gateway::v1::RateLimit::SCOPE_CLUSTER) {
        entry.cluster_rate_limiter = cluster_limiters.Get(
            IdentityKey(IdentityOf(route)), DescribeRouteMatch(route), by, config_limit);
      } else {
        entry.rate_limiter = limiters.Get(IdentityKey(IdentityOf(route)), by, config_limit);
      }
    }
    for (const auto& header : route.headers()) {
      entry.headers.emplace_back(header.name(), header.value());
    }
    const size_t index = table->routes_.size();
    auto& index_map = route.match() == gateway::v1::MATCH_EXACT ? table->exact_ : table->prefix_;
    index_map[route.path()].push_back(index);
    table->routes_.push_back(std::move(entry));
  }
  // Most specific first; the config's order (sorted by the control plane) breaks ties.
  for (Index* index : {&table->exact_, &table->prefix_}) {
    for (auto& [path, candidates] : *index) {
      std::stable_sort(candidates.begin(), candidates.end(), [&table](size_t a, size_t b) {
        return Specificity(table->routes_[a]) > Specificity(table->routes_[b]);
      });
    }
  }
  return table;
}

const RouteEntry* RouteTable::First(const std::vector<size_t>& candidates,
                                    const RequestTraits& request) const {
  for (const size_t index : candidates) {
    if (routes_[index].Accepts(request)) return &routes_[index];
  }
  return nullptr;
}

const RouteEntry* RouteTable::Match(std::string_view path, const RequestTraits& request) const {
  if (!exact_.empty()) {
    if (auto it = exact_.find(path); it != exact_.end()) {
      if (const RouteEntry* route = First(it->second, request)) return route;
    }
  }
  if (prefix_.empty() || path.empty() || path.front() != '/') return nullptr;
  // Walk from the whole path up to "/", one segment at a time: the first hit is the longest
  // prefix that covers the path on a segment boundary.
  std::string_view candidate = path;
  while (true) {
    if (auto it = prefix_.find(candidate); it != prefix_.end()) {
      if (const RouteEntry* route = First(it->second, request)) return route;
    }
    if (candidate.size() <= 1) return nullptr;
    const size_t slash = candidate.rfind('/');
    candidate = candidate.substr(0, slash == 0 ? 1 : slash);
  }
}

}  // namespace gw
