// Short, stable spellings of a route's targets and policies and of a service's policies, for
// people: gatewayctl's POLICIES column and `get` output, and the control plane's history lines.
// "auth=jwt rl=100/s retries=2". Pure functions; any thread.
#pragma once

#include <string>

#include "gateway.pb.h"

namespace gw {

// "payment-svc", "a=90,b=10" for a split, or
// "aggregate(user=users-svc:/users,cart=cart-svc)" for an aggregate route.
std::string FormatRouteTargets(const gateway::v1::Route& route);
// "user=users-svc:/users,cart=cart-svc": an aggregate route's parts in their order, each
// KEY=TARGET[:PATH_PREFIX] as `--aggregate` takes it ("" for a route without parts).
std::string FormatAggregateParts(const gateway::v1::Route& route);
// "100/s", "5/m burst 10 by header:x-user cluster-wide" (burst, key and scope only when not
// the default).
std::string FormatRateLimit(const gateway::v1::RateLimit& limit);
// "gateway" or "cluster", as --rate-limit-scope takes it.
std::string_view RateLimitScopeName(gateway::v1::RateLimit::Scope scope);
std::string_view AuthName(gateway::v1::AuthKind auth);              // "none", "api-key", "jwt"
std::string_view LoadBalancingName(gateway::v1::LoadBalancing lb);  // "round_robin", ...
std::string_view UpstreamProtocolName(gateway::v1::UpstreamProtocol protocol);  // "http1", "h2c"
// Every policy set on the route, space-separated ("" when none): auth=jwt rl=100/s burst=200
// rl-by=header:x-user rl-scope=cluster retries=2 timeout=2s aggregate-timeout=2s
// aggregate-partial strip-prefix rewrite=/v2 set-req=1 rm-req=1 set-resp=1 rm-resp=1
// cors=https://a.example https-redirect hsts=8760h
std::string DescribeRoutePolicies(const gateway::v1::Route& route);
// lb=ring_hash(x-user) health=/healthz/10s eject=5/30s max-conn=100 max-pending=10
// connect-timeout=1s protocol=h2c ("" when every field has its default).
std::string DescribeServicePolicies(const gateway::v1::Service& service);

}  // namespace gw
