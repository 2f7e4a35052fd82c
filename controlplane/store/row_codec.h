// How both backends lay a config out in rows: a route's identity in five text columns (the
// primary key), its policies in one column holding a serialized Route with only the policy
// fields (so a new policy field needs no migration); a service's policies likewise; a
// certificate as one serialized body.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "gateway.pb.h"

namespace gw::rows {

// The identity columns' encoding. Unambiguous, so that the primary key is the structural
// identity: methods are tokens (no ','), header names tokens (no '='), header values visible
// ASCII (no '\n'); the parts come in canonical order (CanonicalizeRoute).
std::string JoinMethods(const google::protobuf::RepeatedPtrField<std::string>& methods);
std::string JoinHeaders(
    const google::protobuf::RepeatedPtrField<gateway::v1::HeaderMatch>& headers);

// The policy columns: the object without its identity and without the fields that have columns.
std::string RoutePolicyBytes(const gateway::v1::Route& route);
std::string ServicePolicyBytes(const gateway::v1::Service& service);
// A certificate's body column: the Certificate without name and version (which have columns),
// key included: the store keeps it for the pushed configs.
std::string CertificateBytes(const gateway::v1::Certificate& certificate);
// A certificate from its columns. False when the body does not parse.
bool ReadCertificate(std::string_view name, int64_t version, std::string_view body,
                     gateway::v1::Certificate* certificate);

// The identity columns of a route (or route key) as the statements bind them.
struct RouteColumns {
  std::string path;
  int64_t match;
  std::string host, methods, headers;
};
RouteColumns ColumnsOf(const gateway::v1::Route& route);
RouteColumns ColumnsOf(const gateway::v1::RouteKey& key);

// A route from its columns: path, match, host, methods, headers, target, version,
// max_body_size, policy. False when the policy does not parse.
bool ReadRoute(std::string_view path, int64_t match, std::string_view host,
               std::string_view methods, std::string_view headers, std::string_view target,
               int64_t version, int64_t max_body_size, std::string_view policy,
               gateway::v1::Route* route);

}  // namespace gw::rows
