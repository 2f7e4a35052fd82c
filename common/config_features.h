// Config features and the protocol version: what lets old and new binaries run side by side
// during a rolling upgrade (replicas and gateways are upgraded one at a time).
//
// A gateway states in its Hello the protocol version it speaks and the config features it
// applies (Node.protocol_version, Node.features). The control plane pushes a version only
// to gateways that apply every feature it uses (FeaturesUsed); any other gateway keeps its last
// good config and is shown as behind, with the feature it lacks. A gateway that states no
// protocol version (0.2.0 and older) applies kBaselineFeatures.
//
// The compatibility rule: a feature is added with a new name, never by changing what an old
// one means, so a gateway of any version applies correctly every config it is sent; and a
// release may only start using a feature in configs (a new flag) that the gateways of the
// previous minor version apply, or the writes that use it warn, naming the gateways that
// lack it.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "gateway.pb.h"

namespace gw {

// Node.protocol_version of this build. 1: the Hello states features (0.3.0).
inline constexpr uint32_t kProtocolVersion = 1;

// The features a gateway of protocol 0 (0.2.0 and older, which states none) applies.
const std::vector<std::string>& BaselineFeatures();
// The features this build's gateway applies (Node.features).
const std::vector<std::string>& GatewayFeatures();

// The features `config` uses, e.g. {"cors", "split"}.
std::set<std::string> FeaturesUsed(const gateway::v1::Config& config);

// "0.2.0, protocol 0": what a gateway runs, as messages name it.
std::string DescribeBuild(const gateway::v1::Node& node);

// Those of `used` that the gateway `node` does not apply, sorted (empty: none).
std::vector<std::string> MissingFeatures(const std::set<std::string>& used,
                                         const gateway::v1::Node& node);

}  // namespace gw
