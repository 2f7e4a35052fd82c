#include "gateway/router/route_table.h"

#include <map>

namespace gw {

std::shared_ptr<const RouteTable> RouteTable::Build(const gateway::v1::Config& config,
                                                    size_t max_routes, std::string* error) {
  if (std::string e = ValidateConfig(config); !e.empty()) {
    *error = e;
    return nullptr;
  }
  if (static_cast<size_t>(config.routes_size()) > max_routes) {
    *error = "config has " + std::to_string(config.routes_size()) +
             " routes, more than this gateway's limit of " + std::to_string(max_routes) +
             " (--max-routes)";
    return nullptr;
  }

  auto table = std::make_shared<RouteTable>();
  table->version_ = config.version();
  table->service_count_ = static_cast<size_t>(config.services_size());

  std::map<std::string, std::shared_ptr<const UpstreamTarget>, std::less<>> upstreams;
  for (const auto& service : config.services()) {
    auto upstream = std::make_shared<UpstreamTarget>();
    upstream->name = service.name();
    upstream->is_service = true;
    for (const auto& endpoint : service.endpoints())
      upstream->endpoints.push_back({endpoint.host(), static_cast<uint16_t>(endpoint.port())});
    upstreams.emplace(service.name(), std::move(upstream));
  }

  table->routes_.reserve(static_cast<size_t>(config.routes_size()));
  for (const auto& route : config.routes()) {
    RouteEntry entry;
    entry.path = route.path();
    entry.match = route.match();
    entry.target = route.target();
    entry.max_body_size = route.max_body_size();
    auto it = upstreams.find(route.target());
    if (it == upstreams.end()) {
      // Not a registered service: a host[:port] resolved by DNS (validated above).
      auto hp = ParseHostPort(route.target(), nullptr, kDefaultTargetPort);
      auto upstream = std::make_shared<UpstreamTarget>();
      upstream->name = FormatHostPort(hp->host, hp->port);
      upstream->endpoints.push_back(std::move(*hp));
      it = upstreams.emplace(route.target(), std::move(upstream)).first;
    }
    entry.upstream = it->second;
    const size_t index = table->routes_.size();
    auto& index_map = route.match() == gateway::v1::MATCH_EXACT ? table->exact_ : table->prefix_;
    index_map.emplace(route.path(), index);
    table->routes_.push_back(std::move(entry));
  }
  return table;
}

const RouteEntry* RouteTable::Match(std::string_view path) const {
  if (!exact_.empty()) {
    if (auto it = exact_.find(path); it != exact_.end()) return &routes_[it->second];
  }
  if (prefix_.empty() || path.empty() || path.front() != '/') return nullptr;
  // Walk from the whole path up to "/", one segment at a time: the first hit is the longest
  // prefix that covers the path on a segment boundary.
  std::string_view candidate = path;
  while (true) {
    if (auto it = prefix_.find(candidate); it != prefix_.end()) return &routes_[it->second];
    if (candidate.size() <= 1) return nullptr;
    const size_t slash = candidate.rfind('/');
    candidate = candidate.substr(0, slash == 0 ? 1 : slash);
  }
}

}  // namespace gw
