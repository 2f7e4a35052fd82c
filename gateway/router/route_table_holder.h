// RouteTableHolder: the one published RouteTable of a gateway process.
//
// The config thread stores each newly built table; workers load it once per request. Loading
// returns a shared_ptr copy, so a request keeps the table it started with for its whole life.
#pragma once

#include <atomic>
#include <memory>

#include "gateway/router/route_table.h"

namespace gw {

class RouteTableHolder {
 public:
  RouteTableConstSharedPtr Load() const { return table_.load(std::memory_order_acquire); }
  void Store(RouteTableConstSharedPtr table) {
    table_.store(std::move(table), std::memory_order_release);
  }

 private:
  std::atomic<RouteTableConstSharedPtr> table_;
};

}  // namespace gw
