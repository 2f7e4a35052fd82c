#include "common/config_features.h"

#include <algorithm>

namespace gw {
namespace {

// One name per feature a config can use; a new one is added, never renamed.
constexpr const char* kSplit = "split";                       // Route.split
constexpr const char* kConditions = "match_conditions";       // Route host, methods, headers
constexpr const char* kBodyLimit = "body_limit";              // Route.max_body_size
constexpr const char* kPathRewrite = "path_rewrite";          // strip_prefix, rewrite_prefix
constexpr const char* kHeaderRules = "header_rules";          // set/remove request/response headers
constexpr const char* kTimeouts = "timeouts";                 // timeout_ms, per_try_timeout_ms
constexpr const char* kRetries = "retries";                   // Route.retries
constexpr const char* kRateLimit = "rate_limit";              // Route.rate_limit
constexpr const char* kAuth = "auth";                         // Route.auth, consumers
constexpr const char* kCors = "cors";                         // Route.cors
constexpr const char* kLoadBalancing = "load_balancing";      // Service lb, hash_header
constexpr const char* kHealthChecks = "health_checks";        // Service.health_check
constexpr const char* kEjection = "ejection";                 // eject_after, eject_for_ms
constexpr const char* kCircuitBreaking = "circuit_breaking";  // max_connections, max_pending
constexpr const char* kConnectTimeout = "connect_timeout";    // Service.connect_timeout_ms
// Added in 0.3.0 (not in the baseline): RateLimit.scope cluster.
constexpr const char* kClusterRateLimit = "cluster_rate_limit";
// Issue 13, the TLS edge and gRPC: h2c_service joined GatewayFeatures when the gateway began to
// speak h2c to upstreams; an older gateway is shown behind for a config that uses it rather
// than serving it half.
constexpr const char* kTlsCertificates = "tls_certificates";     // Config.certificates
constexpr const char* kHttpsRoutePolicy = "https_route_policy";  // https_redirect, hsts_max_age_s
constexpr const char* kH2cService = "h2c_service";               // Service.protocol h2c
// Health checks of an h2c service go over HTTP/2: a gateway that probes it with HTTP/1.1 would
// take every endpoint of a gRPC service out.
constexpr const char* kH2cHealthChecks = "h2c_health_checks";  // health_check on an h2c service
// Issue 14: a route that answers with the JSON of several parts (Route.aggregate,
// aggregate_timeout_ms, aggregate_partial). A gateway without it would take the route for one
// with no target.
constexpr const char* kAggregateRoutes = "aggregate_routes";

}  // namespace

const std::vector<std::string>& BaselineFeatures() {
  // Every feature 0.2.0 applied.
  static const std::vector<std::string> features = {
      kAuth,        kBodyLimit, kCircuitBreaking, kConditions,   kConnectTimeout,
      kCors,        kEjection,  kHeaderRules,     kHealthChecks, kLoadBalancing,
      kPathRewrite, kRateLimit, kRetries,         kSplit,        kTimeouts};
  return features;
}

const std::vector<std::string>& GatewayFeatures() {
  static const std::vector<std::string> features = [] {
    std::vector<std::string> all = BaselineFeatures();
    all.push_back(kClusterRateLimit);
    all.push_back(kTlsCertificates);
    all.push_back(kHttpsRoutePolicy);
    all.push_back(kH2cService);
    all.push_back(kH2cHealthChecks);
    all.push_back(kAggregateRoutes);
    return all;
  }();
  return features;
}

std::set<std::string> FeaturesUsed(const gateway::v1::Config& config) {
  std::set<std::string> used;
  for (const auto& route : config.routes()) {
    if (route.split_size() > 0) used.insert(kSplit);
    if (!route.host().empty() || route.methods_size() > 0 || route.headers_size() > 0)
      used.insert(kConditions);
    if (route.max_body_size() > 0) used.insert(kBodyLimit);
    if (route.strip_prefix() || !route.rewrite_prefix().empty()) used.insert(kPathRewrite);
    if (route.set_request_headers_size() > 0 || route.remove_request_headers_size() > 0 ||
        route.set_response_headers_size() > 0 || route.remove_response_headers_size() > 0)
      used.insert(kHeaderRules);
    if (route.timeout_ms() > 0 || route.per_try_timeout_ms() > 0) used.insert(kTimeouts);
    if (route.retries() > 0) used.insert(kRetries);
    if (route.has_rate_limit()) used.insert(kRateLimit);
    if (route.has_rate_limit() &&
        route.rate_limit().scope() == gateway::v1::RateLimit::SCOPE_CLUSTER)
      used.insert(kClusterRateLimit);
    if (route.auth() != gateway::v1::AUTH_NONE) used.insert(kAuth);
    if (route.has_cors()) used.insert(kCors);
    if (route.https_redirect() || route.hsts_max_age_s() > 0) used.insert(kHttpsRoutePolicy);
    if (route.aggregate_size() > 0 || route.aggregate_timeout_ms() > 0 || route.aggregate_partial())
      used.insert(kAggregateRoutes);
  }
  for (const auto& service : config.services()) {
    if (service.lb() != gateway::v1::LB_ROUND_ROBIN || !service.hash_header().empty())
      used.insert(kLoadBalancing);
    if (service.has_health_check()) used.insert(kHealthChecks);
    if (service.eject_after() > 0) used.insert(kEjection);
    if (service.max_connections() > 0 || service.max_pending() > 0) used.insert(kCircuitBreaking);
    if (service.connect_timeout_ms() > 0) used.insert(kConnectTimeout);
    if (service.protocol() == gateway::v1::UPSTREAM_H2C) used.insert(kH2cService);
    if (service.protocol() == gateway::v1::UPSTREAM_H2C && service.has_health_check())
      used.insert(kH2cHealthChecks);
  }
  if (config.consumers_size() > 0) used.insert(kAuth);
  if (config.certificates_size() > 0) used.insert(kTlsCertificates);
  return used;
}

std::string DescribeBuild(const gateway::v1::Node& node) {
  return (node.build_version().empty() ? std::string("unknown build") : node.build_version()) +
         ", protocol " + std::to_string(node.protocol_version());
}

std::vector<std::string> MissingFeatures(const std::set<std::string>& used,
                                         const gateway::v1::Node& node) {
  const auto applies = [&node](const std::string& feature) {
    if (node.protocol_version() == 0) {
      const auto& baseline = BaselineFeatures();
      return std::find(baseline.begin(), baseline.end(), feature) != baseline.end();
    }
    return std::find(node.features().begin(), node.features().end(), feature) !=
           node.features().end();
  };
  std::vector<std::string> missing;
  for (const std::string& feature : used)
    if (!applies(feature)) missing.push_back(feature);
  return missing;
}

}  // namespace gw
