// RouteTable: the gateway's immutable routing decision for one config version.
//
// Built once per pushed config (on the config thread), then only read. Workers hold it through
// a shared_ptr<const RouteTable> taken once per request, so a swap never touches a request in
// flight. The one exception to "only read": each upstream's round-robin cursor (see
// UpstreamTarget::next_endpoint).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/validation.h"
#include "gateway.pb.h"

namespace gw {

// Where a route sends its requests: a registered service's endpoints, or one host[:port]
// that the gateway resolves by DNS.
struct UpstreamTarget {
  std::string name;                // service name, or "host:port" for a DNS target
  bool is_service = false;
  std::vector<HostPort> endpoints; // hosts may be IP literals or DNS names
  // The one piece of mutable state in a table: a relaxed counter, shared by workers so
  // round-robin is exact across them (gateway/upstream/round_robin.h).
  mutable std::atomic<uint64_t> next_endpoint{0};
};

struct RouteEntry {
  std::string path;
  gateway::v1::MatchKind match = gateway::v1::MATCH_PREFIX;
  std::string target;                          // as configured
  std::shared_ptr<const UpstreamTarget> upstream;  // shared by routes with the same target
  uint64_t max_body_size = 0;  // request body limit in bytes; 0: the gateway's --max-body-size

  // The body limit of a request on this route: its own, else the gateway's; 0 means none.
  uint64_t BodyLimit(uint64_t gateway_max_body_size) const {
    return max_body_size != 0 ? max_body_size : gateway_max_body_size;
  }
};

class RouteTable {
 public:
  // Validates `config` (the shared rules plus `max_routes`) and builds the table. Returns
  // nullptr with the reason in *error when the config must be refused (NACKed).
  static std::shared_ptr<const RouteTable> Build(const gateway::v1::Config& config,
                                                 size_t max_routes, std::string* error);

  // The route for a normalized request path: an exact route for that path, else the longest
  // prefix route that covers it on a segment boundary. nullptr when none matches.
  const RouteEntry* Match(std::string_view normalized_path) const;

  uint64_t version() const { return version_; }
  size_t route_count() const { return routes_.size(); }
  size_t service_count() const { return service_count_; }
  const std::vector<RouteEntry>& routes() const { return routes_; }

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using Index = std::unordered_map<std::string, size_t, Hash, std::equal_to<>>;

  uint64_t version_ = 0;
  size_t service_count_ = 0;
  std::vector<RouteEntry> routes_;
  Index exact_;
  Index prefix_;
};

using RouteTableConstSharedPtr = std::shared_ptr<const RouteTable>;

}  // namespace gw
