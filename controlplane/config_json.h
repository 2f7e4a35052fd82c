// The JSON form of a config snapshot, served by the control plane's admin page at /config:
// {"version":N,"services":[{"name","version","endpoints":[{"host","port"}]}],
//  "routes":[{"path","match":"prefix"|"exact","target","version"}]}
#pragma once

#include <string>

#include "gateway.pb.h"

namespace gw {

std::string ConfigToJson(const gateway::v1::Config& config);

}  // namespace gw
