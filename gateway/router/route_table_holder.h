// RouteTableHolder: the one published RouteTable of a gateway process.
//
// The config thread stores each newly built table; workers load it once per request. Loading
// returns a shared_ptr copy, so a request keeps the table it started with for its whole life.
#pragma once

#include "common/published.h"
#include "gateway/router/route_table.h"

namespace gw {

using RouteTableHolder = Published<const RouteTable>;

}  // namespace gw
