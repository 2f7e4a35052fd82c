// ProcessStats: what /proc says about one process: resident memory and CPU time used. The
// fan-out bench reads it for each control-plane replica before and after a row.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>

namespace gw::bench {

struct ProcessStats {
  uint64_t rss_kib = 0;       // VmRSS, /proc/PID/status
  uint64_t peak_rss_kib = 0;  // VmHWM, /proc/PID/status
  double cpu_seconds = 0;     // utime + stime, /proc/PID/stat (all threads)
};

// nullopt when the process is gone or /proc cannot be read.
std::optional<ProcessStats> ReadProcessStats(pid_t pid);

// CPU seconds (utime + stime, plus cutime + cstime: the children each has reaped) of `root`
// and every process descended from it (PostgreSQL's postmaster and backends, which leave the
// postmaster's process group).
double ProcessTreeCpuSeconds(pid_t root);

}  // namespace gw::bench
