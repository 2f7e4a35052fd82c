#include "bench/fanout/row_result.h"

#include <algorithm>
#include <cmath>

namespace gw::bench {
namespace {

constexpr double kSmallRowP99Ms = 100;   // up to kSmallRowStreams streams
constexpr double kLargeRowP99Ms = 1000;  // above
constexpr size_t kSmallRowStreams = 1000;
constexpr double kRssPerGatewayKib = 100;

std::string Fixed(double value, int decimals) {
  char text[64];
  std::snprintf(text, sizeof text, "%.*f", decimals, value);
  return text;
}

}  // namespace

double RowResult::rss_per_gateway_kib() const {
  if (streams == 0) return 0;
  return (static_cast<double>(rss_synced_kib) - static_cast<double>(rss_idle_kib)) /
         static_cast<double>(streams);
}

double Percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const double rank = std::ceil(p / 100.0 * static_cast<double>(values.size()));
  const size_t index = rank < 1 ? 0 : static_cast<size_t>(rank) - 1;
  return values[std::min(index, values.size() - 1)];
}

std::string WithCommas(uint64_t value) {
  std::string digits = std::to_string(value);
  for (int i = static_cast<int>(digits.size()) - 3; i > 0; i -= 3) digits.insert(i, ",");
  return digits;
}

std::string RowName(size_t replicas, size_t streams) {
  return std::to_string(replicas) + (replicas == 1 ? " replica, " : " replicas, ") +
         WithCommas(streams) + " streams";
}

std::vector<TargetCheck> CheckTargets(const RowResult& row) {
  const std::string name = RowName(row.replicas, row.streams);
  const double p99_limit = row.streams <= kSmallRowStreams ? kSmallRowP99Ms : kLargeRowP99Ms;
  const std::string p99_target = "p99 < " + (p99_limit >= 1000 ? Fixed(p99_limit / 1000, 0) + " s"
                                                               : Fixed(p99_limit, 0) + " ms");
  const std::string rss_target = "RSS per gateway < " + Fixed(kRssPerGatewayKib, 0) + " KiB";
  if (!row.completed()) {
    return {{name, p99_target, "did not complete", false},
            {name, rss_target, "did not complete", false}};
  }
  const double p99 = Percentile(row.change_ms, 99);
  const double per_gateway = row.rss_per_gateway_kib();
  return {{name, p99_target, Fixed(p99, 1) + " ms", p99 < p99_limit},
          {name, rss_target, Fixed(per_gateway, 1) + " KiB", per_gateway < kRssPerGatewayKib}};
}

void PrintTable(std::FILE* out, const std::vector<RowResult>& rows) {
  std::fprintf(out,
               "| replicas | streams | channels | sync s | p50 ms | p99 ms | max ms | admin p50 ms "
               "| KiB/change | KiB/change/stream | pushes (snap/delta) | NACKs | RSS idle MiB "
               "| RSS MiB | KiB/gateway | CPU s | CPU ms/change | result |\n");
  std::fprintf(
      out,
      "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
      "| ---: | ---: | ---: | ---: | ---: | --- |\n");
  for (const RowResult& row : rows) {
    const std::string replicas = std::to_string(row.replicas) + " (" + row.backend + ")";
    const bool changes = !row.change_ms.empty();
    const double count = static_cast<double>(std::max<size_t>(1, row.change_ms.size()));
    const double kib_per_change = static_cast<double>(row.change_bytes) / 1024.0 / count;
    const auto dash_or = [changes](const std::string& text) { return changes ? text : "-"; };
    std::string result = "PASS";
    for (const TargetCheck& check : CheckTargets(row))
      if (!check.pass) result = "FAIL";
    if (!row.error.empty()) result = "FAIL: " + row.error;
    std::fprintf(
        out,
        "| %s | %s | %zu | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | "
        "%s |\n",
        replicas.c_str(), WithCommas(row.streams).c_str(), row.channels,
        row.sync_seconds > 0 ? Fixed(row.sync_seconds, 1).c_str() : "-",
        dash_or(Fixed(Percentile(row.change_ms, 50), 1)).c_str(),
        dash_or(Fixed(Percentile(row.change_ms, 99), 1)).c_str(),
        dash_or(Fixed(Percentile(row.change_ms, 100), 1)).c_str(),
        dash_or(Fixed(Percentile(row.admin_ms, 50), 1)).c_str(),
        dash_or(WithCommas(static_cast<uint64_t>(kib_per_change + 0.5))).c_str(),
        dash_or(Fixed(kib_per_change / static_cast<double>(std::max<size_t>(1, row.streams)), 1))
            .c_str(),
        dash_or(WithCommas(row.change_pushes) + " (" + WithCommas(row.change_snapshots) + "/" +
                WithCommas(row.change_deltas) + ")")
            .c_str(),
        WithCommas(row.nacks).c_str(), Fixed(row.rss_idle_kib / 1024.0, 1).c_str(),
        row.rss_kib ? Fixed(row.rss_kib / 1024.0, 1).c_str() : "-",
        row.rss_kib ? Fixed(row.rss_per_gateway_kib(), 1).c_str() : "-",
        dash_or(Fixed(row.replica_cpu_changes_s, 2)).c_str(),
        dash_or(Fixed(row.replica_cpu_changes_s * 1000 / count, 1)).c_str(), result.c_str());
  }
  std::fprintf(out, "\n");
  for (const RowResult& row : rows) {
    for (const TargetCheck& check : CheckTargets(row)) {
      std::fprintf(out, "%s %s: %s, measured %s\n", check.pass ? "PASS" : "FAIL", check.row.c_str(),
                   check.target.c_str(), check.measured.c_str());
    }
  }
}

}  // namespace gw::bench
