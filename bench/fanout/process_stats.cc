#include "bench/fanout/process_stats.h"

#include <dirent.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

namespace gw::bench {

std::optional<ProcessStats> ReadProcessStats(pid_t pid) {
  const std::string dir = "/proc/" + std::to_string(pid);
  ProcessStats stats;
  {
    std::ifstream status(dir + "/status");
    if (!status) return std::nullopt;
    std::string line;
    while (std::getline(status, line)) {
      std::istringstream fields(line);
      std::string key;
      uint64_t kib = 0;
      fields >> key >> kib;
      if (key == "VmRSS:") stats.rss_kib = kib;
      if (key == "VmHWM:") stats.peak_rss_kib = kib;
    }
  }
  std::ifstream stat_file(dir + "/stat");
  std::string stat;
  if (!std::getline(stat_file, stat)) return std::nullopt;
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so count fields from
  // the last ')'. utime and stime are fields 14 and 15, i.e. the 12th and 13th after it.
  const auto close = stat.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream fields(stat.substr(close + 1));
  std::string field;
  uint64_t utime = 0, stime = 0;
  for (int i = 1; i <= 13 && fields >> field; ++i) {
    if (i == 12) utime = std::stoull(field);
    if (i == 13) stime = std::stoull(field);
  }
  stats.cpu_seconds =
      static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
  return stats;
}

double ProcessTreeCpuSeconds(pid_t root) {
  struct Entry {
    pid_t parent = 0;
    uint64_t ticks = 0;
  };
  std::map<pid_t, Entry> processes;
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return 0;
  while (const dirent* entry = ::readdir(proc)) {
    const char* name = entry->d_name;
    if (name[0] < '0' || name[0] > '9') continue;
    std::ifstream stat_file(std::string("/proc/") + name + "/stat");
    std::string stat;
    if (!std::getline(stat_file, stat)) continue;  // gone meanwhile
    const auto close = stat.rfind(')');
    if (close == std::string::npos) continue;
    // After the ')': state(1) ppid(2) ... utime(12) stime(13) cutime(14) cstime(15).
    std::istringstream fields(stat.substr(close + 1));
    std::string field;
    Entry process;
    for (int i = 1; i <= 15 && fields >> field; ++i) {
      if (i == 2) process.parent = static_cast<pid_t>(std::strtol(field.c_str(), nullptr, 10));
      if (i >= 12) process.ticks += std::strtoull(field.c_str(), nullptr, 10);
    }
    processes[static_cast<pid_t>(std::strtol(name, nullptr, 10))] = process;
  }
  ::closedir(proc);
  uint64_t ticks = 0;
  for (const auto& [pid, process] : processes) {
    // Walk up to `root` (or to init); the depth is bounded by the number of processes.
    pid_t at = pid;
    for (size_t depth = 0; at > 1 && at != root && depth < processes.size(); ++depth) {
      const auto parent = processes.find(at);
      at = parent == processes.end() ? 0 : parent->second.parent;
    }
    if (at == root) ticks += process.ticks;
  }
  return static_cast<double>(ticks) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

}  // namespace gw::bench
