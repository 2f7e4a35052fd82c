// RouteTable: the gateway's immutable routing decision for one config version.
//
// Built once per pushed config (on the config thread), then only read. Workers hold it through
// a shared_ptr<const RouteTable> taken once per request, so a swap never touches a request in
// flight. The one exception to "only read": each upstream's round-robin cursor (see
// UpstreamTarget::next_endpoint).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/api_key.h"
#include "common/jwt.h"
#include "common/validation.h"
#include "gateway.pb.h"
#include "gateway/http/http_message.h"
#include "gateway/policy/cluster_rate_limiter.h"
#include "gateway/policy/cors.h"
#include "gateway/policy/rate_limiter.h"
#include "gateway/upstream/endpoint_state.h"
#include "gateway/upstream/load_balancer.h"

namespace gw {

// Where a route sends its requests: a registered service's endpoints, or one host[:port]
// that the gateway resolves by DNS.
struct UpstreamTarget {
  std::string name;  // service name, or "host:port" for a DNS target
  bool is_service = false;
  std::vector<HostPort> endpoints;  // hosts may be IP literals or DNS names
  // The one piece of mutable state in a table: a relaxed counter, shared by workers so
  // round-robin is exact across them (gateway/proxy/round_robin.h). For a DNS target.
  mutable std::atomic<uint64_t> next_endpoint{0};
  // A service's balancing over its endpoints (same order as `endpoints`), with their health,
  // ejections and circuit-breaking counters, shared by every worker and kept across tables
  // while the service does not change. Null for a DNS target.
  std::shared_ptr<const LoadBalancer> balancer;
  std::string hash_header;                       // lower-case; ring_hash's key, if any
  std::chrono::milliseconds connect_timeout{0};  // 0: the gateway's --connect-timeout
  // What the service speaks: HTTP/1.1, or h2c (gRPC), whose requests go as streams on the
  // worker's H2ClientPool. A DNS target speaks HTTP/1.1.
  gateway::v1::UpstreamProtocol protocol = gateway::v1::UPSTREAM_HTTP1;
};

// What a request offers to be matched on besides its path.
struct RequestTraits {
  std::string_view host;               // the Host header without its port, any case
  std::string_view method;             // "GET", ...
  const HttpFields* fields = nullptr;  // for header conditions; null: none match
};

// How long a route's upstream exchange may take and how its failed attempts are retried (see
// Forwarder::Open).
struct ExchangePolicy {
  std::chrono::milliseconds timeout{0};          // the whole exchange; 0: no bound but the steps'
  std::chrono::milliseconds per_try_timeout{0};  // each attempt's answer; 0: --upstream-timeout
  uint32_t retries = 0;                          // more attempts for a failed idempotent request
};

// One target of a weighted split.
struct WeightedUpstream {
  std::shared_ptr<const UpstreamTarget> upstream;
  uint32_t weight = 0;
};

// One part of an aggregate route: where it is fetched, and the key its answer goes under.
struct AggregatePartEntry {
  std::string key;
  std::shared_ptr<const UpstreamTarget> upstream;
  std::string path_prefix;  // replaces the matched prefix; empty: the route's own rewriting
};

struct RouteEntry {
  std::string path;
  gateway::v1::MatchKind match = gateway::v1::MATCH_PREFIX;
  // As configured ("a=90 b=10" for a split, "aggregate(user,cart)" for an aggregate).
  std::string target;
  std::shared_ptr<const UpstreamTarget> upstream;  // the single target; null otherwise
  std::vector<WeightedUpstream> split;             // weight > 0 each; empty: `upstream`
  uint32_t split_total = 0;                        // the sum of the split's weights
  uint64_t max_body_size = 0;  // request body limit in bytes; 0: the gateway's --max-body-size

  // An aggregate route (then `upstream` is null and `split` empty): a GET or HEAD goes to every
  // part in parallel and is answered with one JSON object (gateway/aggregate/aggregator.h).
  std::vector<AggregatePartEntry> aggregate;
  std::chrono::milliseconds aggregate_timeout{0};  // the whole answer; 0: the parts' own
  bool aggregate_partial = false;                  // a failed part is null in a 200, not a 502/504

  // Conditions besides the path (all must hold).
  std::string host;                  // lower-case exact host, or the suffix ".example.com" of a
  bool host_wildcard = false;        // "*.example.com" (one or more labels before it)
  std::vector<std::string> methods;  // empty: any
  std::vector<std::pair<std::string, std::string>> headers;  // (name, exact value)

  // Rewriting (see RewritePath and session.cc's request and response phases).
  bool strip_prefix = false;
  std::string rewrite_prefix;  // empty: none
  std::vector<std::pair<std::string, std::string>> set_request_headers;
  std::vector<std::string> remove_request_headers;
  std::vector<std::pair<std::string, std::string>> set_response_headers;
  std::vector<std::string> remove_response_headers;
  ExchangePolicy exchange;  // timeouts and retries of the upstream exchange

  // Protection (session.cc's phases: CORS preflight, authenticate, rate limit).
  std::shared_ptr<const CorsPolicy> cors;  // null: none
  gateway::v1::AuthKind auth = gateway::v1::AUTH_NONE;
  bool https_redirect = false;  // a cleartext request is answered 308 to its https:// URL
  uint64_t hsts_max_age_s = 0;  // Strict-Transport-Security on responses over TLS; 0: none
  // At most one of the two: a limit of scope gateway, or of scope cluster. Shared by every worker.
  RateLimiterSharedPtr rate_limiter;
  ClusterRateLimiterSharedPtr cluster_rate_limiter;
  std::string rate_limit_by;  // "ip", "consumer", or a header name (lower-case)
  bool rate_limit_by_header = false;

  bool rate_limited() const { return rate_limiter || cluster_rate_limiter; }
  // The limit phase's decision for a request of `key` (the route must be rate_limited()).
  RateLimitDecision TakeRateLimit(std::string_view key,
                                  std::chrono::steady_clock::time_point now) const {
    return cluster_rate_limiter ? cluster_rate_limiter->Take(key, now)
                                : rate_limiter->Take(key, now);
  }

  // The path sent upstream for the normalized request path `path` this route matched:
  // `path` itself, or, written into `scratch`, with the matched prefix removed (keeping at
  // least "/") or replaced by rewrite_prefix.
  std::string_view RewritePath(std::string_view path, std::string& scratch) const;
  // The path an aggregate's `part` is sent: with its path_prefix in place of the matched
  // prefix, else RewritePath's.
  std::string_view RewritePartPath(const AggregatePartEntry& part, std::string_view path,
                                   std::string& scratch) const;

  // Whether `request` meets this route's conditions.
  bool Accepts(const RequestTraits& request) const;

  // The upstream for one request: the single target, or a split's pick for `draw` (uniform
  // over uint64_t).
  const UpstreamTarget& PickUpstream(uint64_t draw) const;

  bool is_aggregate() const { return !aggregate.empty(); }

  // The body limit of a request on this route: its own, else the gateway's; 0 means none.
  uint64_t BodyLimit(uint64_t gateway_max_body_size) const {
    return max_body_size != 0 ? max_body_size : gateway_max_body_size;
  }
};

// Policy state that outlives a table: the next table built with the same registries reuses
// what its unchanged routes had (token buckets, leases). Owned by the config applier.
struct PolicyRegistries {
  RateLimiterRegistry rate_limiters;
  ClusterRateLimiterRegistry cluster_rate_limiters;  // SetBuckets: the gateway's --redis
  EndpointStateRegistry endpoint_states;
};

class RouteTable {
 public:
  // Validates `config` (the shared rules plus `max_routes`) and builds the table. Returns
  // nullptr with the reason in *error when the config must be refused (NACKed). Without
  // `registries`, policy state starts afresh.
  static std::shared_ptr<const RouteTable> Build(const gateway::v1::Config& config,
                                                 size_t max_routes, std::string* error,
                                                 PolicyRegistries* registries = nullptr);

  // Consumers' credentials (null when no consumer has one of that kind).
  const ApiKeySet* api_keys() const { return api_keys_.get(); }
  const JwtKeySet* jwt_keys() const { return jwt_keys_.get(); }
  // Every service's endpoint state, for the health checker.
  const std::vector<ServiceEndpointsSharedPtr>& service_states() const { return service_states_; }

  // The route for a request: among the routes whose conditions it meets, an exact route for
  // its normalized path, else the longest prefix route that covers the path on a segment
  // boundary; among routes with the same path and kind, the most specific (an exact host
  // before a wildcard host (the longer first) before none, then more header conditions, then
  // a method list before none). nullptr when none matches.
  const RouteEntry* Match(std::string_view normalized_path, const RequestTraits& request) const;
  // The same for a request that offers nothing but its path: routes with conditions never
  // match it.
  const RouteEntry* Match(std::string_view normalized_path) const {
    return Match(normalized_path, RequestTraits{});
  }

  uint64_t version() const { return version_; }
  size_t route_count() const { return routes_.size(); }
  size_t service_count() const { return service_count_; }
  const std::vector<RouteEntry>& routes() const { return routes_; }

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  // Path -> the routes with that path and kind, most specific first.
  using Index = std::unordered_map<std::string, std::vector<size_t>, Hash, std::equal_to<>>;

  const RouteEntry* First(const std::vector<size_t>& candidates,
                          const RequestTraits& request) const;

  uint64_t version_ = 0;
  std::unique_ptr<const ApiKeySet> api_keys_;
  std::unique_ptr<const JwtKeySet> jwt_keys_;
  std::vector<ServiceEndpointsSharedPtr> service_states_;
  size_t service_count_ = 0;
  std::vector<RouteEntry> routes_;
  Index exact_;
  Index prefix_;
};

using RouteTableConstSharedPtr = std::shared_ptr<const RouteTable>;

}  // namespace gw
