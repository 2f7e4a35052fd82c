// Config deltas: what changed between two configs, and a config rebuilt from a base and a delta.
//
// Objects are named as everywhere else: services, consumers and certificates by name, routes by
// their structural identity (common/route_identity.h). A delta upserts whole objects and removes
// by name or key. Both sides use it: the control plane's store writes a change as the rows of a
// delta and pushes deltas to gateways that announce the "delta" capability; a gateway rebuilds
// the config it would have received as a snapshot. Pure functions; any thread.
#pragma once

#include <string>

#include "gateway.pb.h"

namespace gw {

// Puts a config's lists in their one published order: services, consumers and certificates by
// name, routes by identity. Two stores holding the same rows publish byte-identical configs.
void SortConfig(gateway::v1::Config* config);

// What turns `before` into `after` (base_version = before.version()). An object whose version
// differs is upserted; with equal versions it is unchanged, unless both are 0 (objects that do
// not carry versions), which are compared byte by byte.
gateway::v1::ConfigDelta DiffConfigs(const gateway::v1::Config& before,
                                     const gateway::v1::Config& after);

bool DeltaIsEmpty(const gateway::v1::ConfigDelta& delta);

// `base` with `delta` applied, at `version`, in published order. "" or why it does not apply:
// base_version is not base's version, or a removal names an object base does not have.
std::string ApplyConfigDelta(const gateway::v1::Config& base, const gateway::v1::ConfigDelta& delta,
                             uint64_t version, gateway::v1::Config* out);

}  // namespace gw
