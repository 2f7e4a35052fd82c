// Shared by the gateway config tests: small configs, file helpers and the shared TempDir.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "gateway.pb.h"
#include "gateway/config/config_cache.h"
#include "tests/unit/support/temp_dir.h"

namespace gw::testing {

struct TestRoute {
  std::string path;
  std::string target;
  gateway::v1::MatchKind match = gateway::v1::MATCH_PREFIX;
};

// Services order-svc (127.0.0.1:9101) and payment-svc (127.0.0.1:9102), plus `routes`.
inline gateway::v1::Config MakeConfig(uint64_t version, const std::vector<TestRoute>& routes) {
  gateway::v1::Config config;
  config.set_version(version);
  const std::pair<const char*, uint32_t> services[] = {{"order-svc", 9101}, {"payment-svc", 9102}};
  for (const auto& [name, port] : services) {
    gateway::v1::Service* service = config.add_services();
    service->set_name(name);
    gateway::v1::Endpoint* endpoint = service->add_endpoints();
    endpoint->set_host("127.0.0.1");
    endpoint->set_port(port);
    service->set_version(version);
  }
  for (const TestRoute& r : routes) {
    gateway::v1::Route* route = config.add_routes();
    route->set_path(r.path);
    route->set_match(r.match);
    route->set_target(r.target);
    route->set_version(version);
  }
  return config;
}

// The user story's split: /api -> order-svc, /api/payment -> payment-svc.
inline gateway::v1::Config SplitConfig(uint64_t version) {
  return MakeConfig(version, {{"/api", "order-svc"}, {"/api/payment", "payment-svc"}});
}

// A config every validator refuses: a path without its leading slash.
inline gateway::v1::Config InvalidConfig(uint64_t version) {
  return MakeConfig(version, {{"api/payment", "payment-svc"}});
}

inline void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The config the cache file at `path` holds, serialized; "" when it does not load.
inline std::string CachedConfig(const std::string& path) {
  gateway::v1::Config config;
  std::string error;
  if (LoadConfigCache(path, &config, &error) != CacheLoad::kLoaded) return "";
  return config.SerializeAsString();
}

}  // namespace gw::testing
