// Turns the route and service flags of gatewayctl (as typed, in a Command) into the contract's
// fields: durations ("250ms", "2s", "1m"), rates ("100/s"), TARGET=WEIGHT splits,
// KEY=TARGET[:PATH_PREFIX] aggregate parts, NAME=VALUE headers, enum names. A value that does not
// parse is an invalid value (exit 1), reported as "bad --FLAG: why"; ranges are the control plane's
// to check. On update, every field given is also named in the update mask, so it replaces the
// stored one and the others are kept. Pure functions, owned by cli/.
#pragma once

#include <google/protobuf/field_mask.pb.h>

#include <string>

#include "cli/command_line.h"
#include "gateway.pb.h"

namespace gw::cli {

// PATH, --exact/--prefix, --host, --method, --header into the route's match.
std::string BuildRouteMatch(const Command& command, gateway::v1::Route* route);
gateway::v1::RouteKey BuildRouteKey(const Command& command, std::string* error);

// `--aggregate KEY=TARGET[:PATH_PREFIX]`: KEY is up to the first '=', and PATH_PREFIX starts at
// the first ":/" after it ("cart=10.0.0.5:8080:/carts": target 10.0.0.5:8080, prefix /carts;
// "[::1]:8080:/x" works). Returns "" or "bad --aggregate: ..." for a missing KEY or TARGET; what
// the KEY, TARGET and PATH_PREFIX may be is the control plane's to check.
std::string ParseAggregatePart(const std::string& text, gateway::v1::AggregatePart* part);

// TARGETs (one: target; several: split) or --aggregate parts, and every route policy flag, then
// --reset (update).
// `mask` is null on add.
std::string BuildRoutePolicies(const Command& command, gateway::v1::Route* route,
                               google::protobuf::FieldMask* mask);

// --endpoint and every service policy flag, then --reset (update). `mask` is null on add.
std::string BuildServicePolicies(const Command& command, gateway::v1::Service* service,
                                 google::protobuf::FieldMask* mask);

}  // namespace gw::cli
