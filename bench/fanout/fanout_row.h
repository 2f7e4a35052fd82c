// RunRow: one row of the fan-out bench. It starts the replicas on a database the bench already
// filled, makes two warm-up changes with no stream connected and reads the replicas' idle RSS,
// opens the fleet of simulated gateways and waits for all of them to ACK the current config,
// then times each change (an UpdateRoute on the replicas in turn) until every stream ACKed the
// version it made, and reads RSS and CPU again. Everything it started is stopped before it
// returns, also when something fails (RowResult::error says what).
//
// Threads: the bench's main thread; progress lines go to stderr.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>

#include "bench/fanout/row_result.h"

namespace gw::bench {

struct RowSettings {
  std::string controlplane;  // path of the controlplane binary
  std::string dir;           // scratch dir: replica logs
  std::string db;            // SQLite path or PostgreSQL URL, shared by the replicas
  std::string backend;       // "sqlite" or "postgres", for the table
  pid_t database_root = 0;   // PostgreSQL's process tree, for its CPU; 0: none (SQLite)
  size_t replicas = 1;
  size_t streams = 0;
  size_t routes = 0;  // how many the database holds (checked before the row)
  size_t changes = 20;
  size_t streams_per_channel = 100;
  bool full_parse = false;
  std::chrono::milliseconds start_timeout{30000};    // a replica's start
  std::chrono::milliseconds sync_timeout{600000};    // every stream ACKs the first config
  std::chrono::milliseconds change_timeout{120000};  // every stream ACKs one change
  std::chrono::milliseconds call_timeout{30000};     // one admin call
};

// `change_counter` numbers the changes of the whole run, so every change sets a target never
// set before (a change that repeats a value is a no-op that makes no version).
RowResult RunRow(const RowSettings& settings, uint64_t& change_counter);

// The target the change numbered `counter` sets: "10.a.b.c:8080".
std::string ChangeTarget(uint64_t counter);

}  // namespace gw::bench
