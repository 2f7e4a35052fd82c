// PostgresServer: a throwaway PostgreSQL 15 server for the three-replica rows, as
// tests/integration/harness.py's PostgresServer runs it: its data in the bench's scratch dir,
// listening on 127.0.0.1 only on a port picked at run time, trust authentication, fsync off,
// run as `nobody` when the bench runs as root (PostgreSQL refuses root). url() names the
// database `gateway` of user `gateway`.
//
// Owned by main for the three-replica rows; the server gets a fast shutdown (SIGINT) when the
// object dies, SIGKILL after 10 s. Threads: one owner.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "bench/fanout/child_process.h"

namespace gw::bench {

class PostgresServer {
 public:
  // Runs initdb, starts the server and creates the database; nullptr with *error set when any
  // step fails or does not finish within `timeout`.
  static std::unique_ptr<PostgresServer> Start(const std::string& bin_dir, const std::string& dir,
                                               std::chrono::milliseconds timeout,
                                               std::string* error);
  ~PostgresServer();

  std::string url() const;  // postgresql://gateway@127.0.0.1:PORT/gateway
  int port() const { return port_; }
  // The root of its process tree: the watchdog, the server and its backends (see
  // ProcessTreeCpuSeconds).
  pid_t process_root() const { return process_->pid(); }

 private:
  PostgresServer(std::unique_ptr<ChildProcess> process, int port)
      : process_(std::move(process)), port_(port) {}

  std::unique_ptr<ChildProcess> process_;
  int port_;
};

}  // namespace gw::bench
