// RouteIdentity: what names a route — its path, match kind, host, methods and header
// conditions — as a value compared field by field. Duplicates in a config, the rows of the
// control plane's store and the policy state a gateway keeps from one table to the next are
// all keyed on it; text made for people (DescribeRouteMatch) is never compared, since two
// different routes can read alike ("header x=1, header y=2" is also the one header x with the
// value "1, header y=2"). Pure values; any thread.
#pragma once

#include <compare>
#include <string>
#include <utility>
#include <vector>

#include "gateway.pb.h"

namespace gw {

struct RouteIdentity {
  std::string path;
  gateway::v1::MatchKind match = gateway::v1::MATCH_UNSPECIFIED;
  std::string host;                                          // lower-case
  std::vector<std::string> methods;                          // upper-case, sorted, unique
  std::vector<std::pair<std::string, std::string>> headers;  // (lower-case name, value), sorted

  auto operator<=>(const RouteIdentity&) const = default;
};

// The identity of `route` in canonical form, so that routes a gateway treats alike are equal
// whatever case or order their conditions were written in.
// CanonicalizeRoute/CanonicalizeRouteKey (common/policy_validation.h) write this form back.
RouteIdentity IdentityOf(const gateway::v1::Route& route);
RouteIdentity IdentityOf(const gateway::v1::RouteKey& key);

// An injective encoding of an identity as bytes (every part length-prefixed): a map key that
// two different identities never share.
std::string IdentityKey(const RouteIdentity& identity);

}  // namespace gw
