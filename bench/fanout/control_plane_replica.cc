#include "bench/fanout/control_plane_replica.h"

#include <csignal>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

namespace gw::bench {
namespace {

constexpr std::string_view kListening = "grpc listening on ";

// The address in the control plane's "grpc listening on HOST:PORT" line, if logged yet.
std::optional<std::string> ListeningAddress(const std::string& log_path) {
  std::ifstream log(log_path);
  std::string line;
  while (std::getline(log, line)) {
    const auto at = line.find(kListening);
    if (at == std::string::npos) continue;
    // "grpc listening on 127.0.0.1:PORT", possibly followed by more words.
    const std::string address = line.substr(at + kListening.size());
    return address.substr(0, address.find_first_of(" \r\t"));
  }
  return std::nullopt;
}

}  // namespace

std::unique_ptr<ControlPlaneReplica> ControlPlaneReplica::Start(
    const std::string& binary, const std::string& db, const std::string& dir,
    const std::string& name, std::chrono::milliseconds timeout, std::string* error) {
  const std::string log_path = dir + "/" + name + ".log";
  std::remove(log_path.c_str());  // a replica restarted under the same name: only this run counts
  auto process =
      ChildProcess::Spawn(name, {binary, "--listen", "127.0.0.1:0", "--db", db}, log_path, dir);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (auto address = ListeningAddress(log_path)) {
      return std::unique_ptr<ControlPlaneReplica>(
          new ControlPlaneReplica(std::move(process), std::move(*address)));
    }
    if (!process->Running()) {
      *error = name + " exited with status " + std::to_string(process->exit_status().value_or(-1)) +
               " before listening:\n" + process->LogTail();
      return nullptr;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      *error = name + " did not log \"grpc listening on\" within " +
               std::to_string(timeout.count()) + " ms:\n" + process->LogTail();
      return nullptr;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

ControlPlaneReplica::~ControlPlaneReplica() { Stop(); }

int ControlPlaneReplica::Stop(std::chrono::milliseconds grace) {
  return process_->Stop(SIGTERM, grace);
}

}  // namespace gw::bench
