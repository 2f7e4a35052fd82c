// ControlPlaneReplica: one `controlplane` process the bench started on 127.0.0.1 (port picked
// by the control plane, read from its log), on a SQLite file or a PostgreSQL URL.
//
// Owned by the row that runs it; the process is stopped (SIGTERM, then SIGKILL) when the
// object dies. Threads: one owner.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "bench/fanout/child_process.h"
#include "bench/fanout/process_stats.h"

namespace gw::bench {

class ControlPlaneReplica {
 public:
  // Starts `binary --listen 127.0.0.1:0 --db DB` in `dir` (its log: dir/<name>.log) and waits
  // up to `timeout` for its "grpc listening on" line. nullptr with *error set (the reason and
  // its log's tail) when it exits first or stays silent.
  static std::unique_ptr<ControlPlaneReplica> Start(const std::string& binary,
                                                    const std::string& db, const std::string& dir,
                                                    const std::string& name,
                                                    std::chrono::milliseconds timeout,
                                                    std::string* error);
  ~ControlPlaneReplica();

  const std::string& name() const { return process_->name(); }
  const std::string& address() const { return address_; }  // 127.0.0.1:PORT
  pid_t pid() const { return process_->pid(); }
  bool Running() { return process_->Running(); }
  std::optional<ProcessStats> Stats() const { return ReadProcessStats(process_->pid()); }
  std::string LogTail(size_t lines = 20) const { return process_->LogTail(lines); }

  // SIGTERM (the control plane's clean shutdown), SIGKILL after `grace`.
  int Stop(std::chrono::milliseconds grace = std::chrono::seconds(10));

 private:
  ControlPlaneReplica(std::unique_ptr<ChildProcess> process, std::string address)
      : process_(std::move(process)), address_(std::move(address)) {}

  std::unique_ptr<ChildProcess> process_;
  std::string address_;
};

}  // namespace gw::bench
