// The rules of issue 4's traffic policies in the config model: a route's match conditions and
// policies, a service's balancing/health/ejection/limits, a consumer's credentials, and the
// canonical forms the control plane stores (so that equal things compare equal). Shared by the
// control plane (before it writes) and the gateway (ValidateConfig on every pushed config).
// Every Validate* returns "" or one sentence a person can act on. Stateless; any thread.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <string_view>

#include "gateway.pb.h"

namespace gw {

// Limits of the policy fields (the proto comments give the meaning).
inline constexpr int kMinSplitTargets = 2;
inline constexpr int kMaxSplitTargets = 16;
inline constexpr uint32_t kMinSplitWeight = 1;  // a target with no traffic is left out
inline constexpr uint32_t kMaxSplitWeight = 10000;
inline constexpr int kMinAggregateParts = 1;
inline constexpr int kMaxAggregateParts = 16;
inline constexpr size_t kMaxAggregateKeyLength = 64;  // [A-Za-z0-9_-]
inline constexpr int kMaxMatchMethods = 16;
inline constexpr int kMaxMatchHeaders = 16;
inline constexpr int kMaxHeaderRewrites = 32;  // per list (set/remove, request/response)
inline constexpr size_t kMaxHeaderValueLength = 4096;
inline constexpr uint64_t kMinRouteTimeoutMs = 1;
inline constexpr uint64_t kMaxRouteTimeoutMs = 3'600'000;  // 1h
inline constexpr uint32_t kMaxRetries = 10;
inline constexpr uint64_t kMaxRateLimitRequests = 1'000'000'000;
inline constexpr uint32_t kMaxCorsMaxAgeSeconds = 86400;
inline constexpr int kMaxCorsOrigins = 64;
inline constexpr uint64_t kMinHealthIntervalMs = 100;
inline constexpr uint64_t kMaxHealthIntervalMs = 3'600'000;
inline constexpr uint32_t kMaxHealthThreshold = 100;
inline constexpr uint32_t kMaxEjectAfter = 1000;
inline constexpr uint64_t kMinEjectForMs = 1000;
inline constexpr uint64_t kMaxEjectForMs = 3'600'000;
inline constexpr uint32_t kMaxServiceConnections = 1'000'000;  // max_connections, max_pending
inline constexpr uint64_t kMaxConnectTimeoutMs = 60'000;
inline constexpr int kMaxApiKeysPerConsumer = 16;
inline constexpr uint64_t kMaxHstsMaxAgeSeconds = 63'072'000;  // 2 years (preload lists ask for 1)

// Defaults the control plane fills in when a policy is set without them.
inline constexpr uint64_t kDefaultHealthIntervalMs = 10'000;
inline constexpr uint32_t kDefaultUnhealthyThreshold = 3;
inline constexpr uint32_t kDefaultHealthyThreshold = 2;
inline constexpr uint64_t kDefaultEjectForMs = 30'000;
inline constexpr std::string_view kDefaultRateLimitKey = "ip";

// An HTTP token (RFC 9110 tchar+), as field names and methods are.
bool IsHttpToken(std::string_view text);

// A CORS origin of the config, "scheme://host[:port]" (a DNS name or IP literal, port
// 1..65535, nothing after it), in canonical form: scheme and host lower-case, a default port
// (http 80, https 443) left out ("HTTPS://App.Example:443" -> "https://app.example"). Empty
// when `origin` is not one. The one rule for both the control plane's validation and the
// gateway's CorsPolicy.
std::string CanonicalOrigin(std::string_view origin);

// Canonical forms, applied by the control plane before it validates and stores: methods
// upper-case, sorted, unique; header condition names lower-case, sorted by (name, value); host
// lower-case; CORS methods upper-case; defaults above filled in where a policy is set.
void CanonicalizeRoute(gateway::v1::Route* route);
void CanonicalizeRouteKey(gateway::v1::RouteKey* key);
void CanonicalizeService(gateway::v1::Service* service);

// The route's match conditions only: host, methods, headers.
std::string ValidateRouteConditions(const gateway::v1::Route& route);
// Everything after `version`: target, split or aggregate parts (their shape only; an aggregate
// route takes GET and HEAD only), rewrites, timeout, retries, rate limit, auth, CORS. Names the
// route in each message.
std::string ValidateRoutePolicies(const gateway::v1::Route& route);
// A split's bare names (no ":PORT") must be services of `services`; HOST:PORT may be anything.
std::string ValidateSplitTargets(const gateway::v1::Route& route,
                                 const std::set<std::string, std::less<>>& services);
// An aggregate part's target that is a service of `h2c_services` (Service.protocol h2c) is
// refused: a part is read whole as HTTP/1.1 JSON. Bare names that are no service are DNS
// names, as a plain route's target.
std::string ValidateAggregateTargets(const gateway::v1::Route& route,
                                     const std::set<std::string, std::less<>>& h2c_services);
// lb, hash_header, health_check, ejection, limits, connect timeout.
std::string ValidateServicePolicies(const gateway::v1::Service& service);
// A consumer as stored: name, api key digests, JWT credential (the public key parsed).
std::string ValidateConsumer(const gateway::v1::Consumer& consumer);

}  // namespace gw
