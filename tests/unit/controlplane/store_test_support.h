// Small builders of the config model shared by the ConfigStore tests.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "gateway.pb.h"

namespace gw::testing {

// A service with one endpoint on 127.0.0.1.
inline gateway::v1::Service MakeService(const std::string& name, uint32_t port = 9101) {
  gateway::v1::Service service;
  service.set_name(name);
  auto* endpoint = service.add_endpoints();
  endpoint->set_host("127.0.0.1");
  endpoint->set_port(port);
  return service;
}

// A prefix route to one target.
inline gateway::v1::Route MakeRoute(const std::string& path, const std::string& target) {
  gateway::v1::Route route;
  route.set_path(path);
  route.set_match(gateway::v1::MATCH_PREFIX);
  route.set_target(target);
  return route;
}

// `route` as a split of `targets` (target, weight) instead of its target.
inline gateway::v1::Route WithSplit(gateway::v1::Route route,
                                    const std::vector<std::pair<std::string, uint32_t>>& targets) {
  route.clear_target();
  for (const auto& [target, weight] : targets) {
    auto* split = route.add_split();
    split->set_target(target);
    split->set_weight(weight);
  }
  return route;
}

}  // namespace gw::testing
