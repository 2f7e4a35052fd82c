// Shared by the gateway config tests: small configs and a temp directory that cleans up.
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

class TempDir {
 public:
  TempDir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "gateway-config-test.XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  std::string File(const std::string& name) const { return (path_ / name).string(); }
  std::vector<std::string> Entries() const {
    std::vector<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(path_))
      names.push_back(entry.path().filename().string());
    return names;
  }

 private:
  std::filesystem::path path_;
};

inline void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace gw::testing
