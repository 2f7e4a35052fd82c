// RowResult: what one row of the fan-out bench measured (one replica count, one stream count),
// the targets it is held to, and the table that shows every row.
//
// Plain values; PrintTable and CheckTargets are pure functions of them.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace gw::bench {

struct RowResult {
  size_t replicas = 1;
  size_t streams = 0;
  std::string backend;  // "sqlite" or "postgres"
  size_t channels = 0;

  std::string error;  // why it stopped early; "" when it completed

  // Open until every stream ACKed the current version (each got a whole snapshot).
  double sync_seconds = 0;
  uint64_t sync_bytes = 0;

  // Per change: from just before the admin call until the last stream first ACKed the version
  // the call made; and the admin call alone.
  std::vector<double> change_ms;
  std::vector<double> admin_ms;

  // During the changes, summed over streams: ConfigMessage bytes, pushes, of which snapshots
  // and deltas; NACKs sent (the whole row).
  uint64_t change_bytes = 0;
  uint64_t change_pushes = 0;
  uint64_t change_snapshots = 0;
  uint64_t change_deltas = 0;
  uint64_t nacks = 0;
  std::string some_nack;  // one NACK's reason, when there were any

  // Replicas' VmRSS summed: idle (the config loaded, the window of recent versions full, one
  // stream per replica), with every stream connected and synced, and after the changes; the
  // highest VmHWM summed. Per gateway: (synced - idle) / streams; what the changes add after
  // that (heap churn of reading and publishing versions) does not grow with the gateways.
  uint64_t rss_idle_kib = 0;
  uint64_t rss_synced_kib = 0;
  uint64_t rss_kib = 0;
  uint64_t peak_rss_kib = 0;

  // CPU seconds: the replicas during the sync and during the changes; this bench process
  // during the changes; the database server during the changes.
  double replica_cpu_sync_s = 0;
  double replica_cpu_changes_s = 0;
  double bench_cpu_changes_s = 0;
  // PostgreSQL's CPU seconds (server and backends) during the changes; negative: no database
  // server (SQLite).
  double database_cpu_changes_s = -1;

  bool completed() const { return error.empty(); }
  // (RSS with N streams - RSS with 0) / N, in KiB; may be negative when memory was returned.
  double rss_per_gateway_kib() const;
};

// p-th percentile by nearest rank (p in 0..100) of `values`; 0 when empty.
double Percentile(std::vector<double> values, double p);

struct TargetCheck {
  std::string row;     // "1 replica, 1,000 streams"
  std::string target;  // "p99 < 100 ms"
  std::string measured;
  bool pass = false;
};

// The targets: change p99 < 100 ms for up to 1,000 streams, < 1 s above; < 100 KiB of replica
// RSS per connected gateway. A row that stopped early fails every target.
std::vector<TargetCheck> CheckTargets(const RowResult& row);

// One markdown table with every row, then one line per target check.
void PrintTable(std::FILE* out, const std::vector<RowResult>& rows);

// "1,234,567"
std::string WithCommas(uint64_t value);
// "1 replica, 1,000 streams"
std::string RowName(size_t replicas, size_t streams);

}  // namespace gw::bench
