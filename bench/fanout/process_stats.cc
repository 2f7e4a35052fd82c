#include "bench/fanout/process_stats.h"

#include <unistd.h>

#include <fstream>
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

}  // namespace gw::bench
