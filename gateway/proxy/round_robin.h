// RoundRobin: which of an upstream's endpoints a request tries first.
//
// The cursor is the UpstreamTarget's own relaxed atomic counter, in the published RouteTable and
// shared by every worker, so requests spread exactly evenly over the endpoints whichever worker
// accepted their connection. A new config version starts new cursors. Called by the Forwarder on
// any worker thread; lock-free.
#pragma once

#include <cstddef>

#include "gateway/router/route_table.h"

namespace gw {

// The index, in [0, endpoints.size()), of the endpoint to try first for `target`; advances the
// target's cursor. target.endpoints must not be empty.
size_t RoundRobinNext(const UpstreamTarget& target);

}  // namespace gw
