#include "bench/fanout/fanout_row.h"

#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <thread>
#include <vector>

#include "bench/fanout/admin_client.h"
#include "bench/fanout/control_plane_replica.h"
#include "bench/fanout/gateway_fleet.h"

namespace gw::bench {
namespace {

// Enough changes to fill the control plane's window of recent versions (kRecentVersions, 16, in
// controlplane/snapshot_publisher.h), a fixed cost, before the idle RSS is taken: what the rows
// then add is what the gateways cost.
constexpr size_t kWarmUpChanges = 17;

double Milliseconds(Clock::duration duration) {
  return std::chrono::duration<double, std::milli>(duration).count();
}

std::string Fixed(double value, int decimals) {
  char text[64];
  std::snprintf(text, sizeof text, "%.*f", decimals, value);
  return text;
}

double BenchCpuSeconds() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

// The replicas of one row, their admin clients, and a way to read them all at once.
struct Replicas {
  std::vector<std::unique_ptr<ControlPlaneReplica>> processes;
  std::vector<std::unique_ptr<AdminClient>> admins;

  std::vector<std::string> addresses() const {
    std::vector<std::string> out;
    for (const auto& replica : processes) out.push_back(replica->address());
    return out;
  }
  // Summed over the replicas; error set when one is gone.
  ProcessStats Stats(std::string* error) const {
    ProcessStats total;
    for (const auto& replica : processes) {
      const auto stats = replica->Stats();
      if (!stats) {
        *error = replica->name() + " is gone:\n" + replica->LogTail();
        continue;
      }
      total.rss_kib += stats->rss_kib;
      total.peak_rss_kib += stats->peak_rss_kib;
      total.cpu_seconds += stats->cpu_seconds;
    }
    return total;
  }
  // Waits until every replica serves `version` or newer (another replica's write reaches it
  // through the database); "" or what is missing at the deadline.
  std::string WaitVersion(uint64_t version, Clock::time_point deadline,
                          std::chrono::milliseconds call_timeout) const {
    for (size_t i = 0; i < admins.size(); ++i) {
      uint64_t seen = 0;
      while (true) {
        std::string error;
        const auto status = admins[i]->Status(call_timeout, &error);
        if (status) seen = status->config_version();
        if (seen >= version) break;
        if (Clock::now() >= deadline)
          return processes[i]->name() + " is at version " + std::to_string(seen) + ", not " +
                 std::to_string(version) + (error.empty() ? "" : " (" + error + ")");
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
    }
    return "";
  }
};

}  // namespace

std::string ChangeTarget(uint64_t counter) {
  return "10." + std::to_string((counter >> 16) & 255) + "." +
         std::to_string((counter >> 8) & 255) + "." + std::to_string(counter & 255) + ":8080";
}

RowResult RunRow(const RowSettings& settings, uint64_t& change_counter) {
  RowResult row;
  row.replicas = settings.replicas;
  row.streams = settings.streams;
  row.backend = settings.backend;
  const std::string name = RowName(settings.replicas, settings.streams);
  const auto progress = [&name](const std::string& line) {
    std::fprintf(stderr, "[%s] %s\n", name.c_str(), line.c_str());
  };

  Replicas replicas;
  for (size_t r = 0; r < settings.replicas; ++r) {
    std::string error;
    auto replica = ControlPlaneReplica::Start(settings.controlplane, settings.db, settings.dir,
                                              "cp" + std::to_string(r + 1) + "-of-" +
                                                  std::to_string(settings.replicas) + "-n" +
                                                  std::to_string(settings.streams),
                                              settings.start_timeout, &error);
    if (!replica) {
      row.error = "replica " + std::to_string(r + 1) + " did not start";
      progress(row.error + ": " + error);
      return row;
    }
    replicas.admins.push_back(std::make_unique<AdminClient>(replica->address()));
    replicas.processes.push_back(std::move(replica));
  }

  // The database holds the routes the run created before its first row.
  {
    std::string error;
    const auto status = replicas.admins[0]->Status(settings.call_timeout, &error);
    if (!status || status->routes() < settings.routes) {
      row.error = status ? "the config holds " + std::to_string(status->routes()) +
                               " routes, not " + std::to_string(settings.routes)
                         : error;
      progress(row.error);
      return row;
    }
    progress("replicas up (" + std::to_string(status->routes()) + " routes, config " +
             WithCommas(status->config_bytes()) + " bytes, version " +
             std::to_string(status->config_version()) + ")");
  }

  const auto change = [&](size_t replica, std::string* error) -> std::optional<uint64_t> {
    const uint64_t counter = change_counter++;
    const auto result = replicas.admins[replica]->UpdateRouteTarget(
        FanoutRoutePath((counter * 7919) % settings.routes), ChangeTarget(counter),
        settings.call_timeout);
    if (!result.error.empty()) {
      *error = result.error;
      return std::nullopt;
    }
    return result.version;
  };

  // Warm-up, no stream: what the replicas hold with the config loaded and changed a few times.
  uint64_t version = 0;
  for (size_t i = 0; i < kWarmUpChanges; ++i) {
    std::string error;
    const auto made = change(i % settings.replicas, &error);
    if (!made) {
      row.error = "warm-up change failed";
      progress(row.error + ": " + error);
      return row;
    }
    version = *made;
  }
  if (std::string error = replicas.WaitVersion(version, Clock::now() + settings.change_timeout,
                                               settings.call_timeout);
      !error.empty()) {
    row.error = "replicas did not converge";
    progress(row.error + ": " + error);
    return row;
  }
  // One gateway per replica, connected through the whole row: the first stream a replica
  // serves brings fixed costs (gRPC's threads and connection buffers) that are not any one
  // gateway's; the idle RSS includes them, so the rows measure what each further gateway adds.
  GatewayFleet first_streams({replicas.addresses(), settings.replicas, 1,
                              "fanout-first-" + std::to_string(settings.replicas), false});
  first_streams.Open();
  if (!first_streams.WaitAcked(version, Clock::now() + settings.sync_timeout)) {
    row.error = "the first stream of each replica did not sync";
    progress(row.error + ": " + first_streams.error());
    return row;
  }
  std::string stats_error;
  const ProcessStats idle = replicas.Stats(&stats_error);
  row.rss_idle_kib = idle.rss_kib;

  GatewayFleet fleet(
      {replicas.addresses(), settings.streams, settings.streams_per_channel,
       "fanout-" + std::to_string(settings.replicas) + "x" + std::to_string(settings.streams),
       settings.full_parse});
  const auto finish = [&](const std::string& error) {
    if (!error.empty()) {
      row.error = error;
      progress(error + (fleet.error().empty() ? "" : ": " + fleet.error()));
    }
    row.nacks = fleet.counters().nacks.load();
    if (row.nacks > 0) row.some_nack = fleet.SomeNack();
    if (!fleet.Close(Clock::now() + std::chrono::seconds(30)))
      progress("some streams did not end within 30 s of being cancelled");
    for (auto& replica : replicas.processes) {
      if (!replica->Running()) {
        row.error = replica->name() + " exited during the row";
        progress(row.error + ":\n" + replica->LogTail());
      }
    }
    return row;
  };

  // Sync: every stream says Hello with no version and gets the whole snapshot.
  const Clock::time_point opened = Clock::now();
  fleet.Open();
  row.channels = fleet.channels();
  progress("opened " + WithCommas(settings.streams) + " streams on " +
           std::to_string(fleet.channels()) + " channels; waiting for version " +
           std::to_string(version));
  if (!fleet.WaitAcked(version, opened + settings.sync_timeout)) {
    return finish("sync: " + WithCommas(fleet.Reached(version)) + " of " +
                  WithCommas(settings.streams) + " streams ACKed version " +
                  std::to_string(version));
  }
  row.sync_seconds = std::chrono::duration<double>(*fleet.LastFirstAck(version) - opened).count();
  row.sync_bytes = fleet.counters().bytes.load();
  const ProcessStats synced = replicas.Stats(&stats_error);
  row.rss_synced_kib = synced.rss_kib;
  row.replica_cpu_sync_s = synced.cpu_seconds - idle.cpu_seconds;
  progress("synced in " + Fixed(row.sync_seconds, 2) + " s");

  const auto& counters = fleet.counters();
  const uint64_t bytes_before = counters.bytes.load();
  const uint64_t pushes_before = counters.messages.load();
  const uint64_t snapshots_before = counters.snapshots.load();
  const uint64_t deltas_before = counters.deltas.load();
  const double bench_cpu_before = BenchCpuSeconds();
  const double database_cpu_before =
      settings.database_root ? ProcessTreeCpuSeconds(settings.database_root) : 0;
  for (size_t i = 0; i < settings.changes; ++i) {
    const size_t replica = i % settings.replicas;
    std::string error;
    const Clock::time_point start = Clock::now();
    const auto made = change(replica, &error);
    const Clock::time_point answered = Clock::now();
    if (!made) return finish("change " + std::to_string(i + 1) + ": " + error);
    if (!fleet.WaitAcked(*made, start + settings.change_timeout)) {
      return finish("change " + std::to_string(i + 1) + ": " + WithCommas(fleet.Reached(*made)) +
                    " of " + WithCommas(settings.streams) + " streams ACKed version " +
                    std::to_string(*made) + " within " +
                    std::to_string(settings.change_timeout.count() / 1000) + " s");
    }
    const double took = Milliseconds(*fleet.LastFirstAck(*made) - start);
    row.change_ms.push_back(took);
    row.admin_ms.push_back(Milliseconds(answered - start));
    progress("change " + std::to_string(i + 1) + "/" + std::to_string(settings.changes) +
             " (version " + std::to_string(*made) + ", replica " + std::to_string(replica + 1) +
             "): " + Fixed(took, 1) + " ms (admin call " + Fixed(row.admin_ms.back(), 1) + " ms)");
  }
  row.bench_cpu_changes_s = BenchCpuSeconds() - bench_cpu_before;
  if (settings.database_root)
    row.database_cpu_changes_s =
        ProcessTreeCpuSeconds(settings.database_root) - database_cpu_before;
  row.change_bytes = counters.bytes.load() - bytes_before;
  row.change_pushes = counters.messages.load() - pushes_before;
  row.change_snapshots = counters.snapshots.load() - snapshots_before;
  row.change_deltas = counters.deltas.load() - deltas_before;
  const ProcessStats loaded = replicas.Stats(&stats_error);
  row.replica_cpu_changes_s = loaded.cpu_seconds - synced.cpu_seconds;
  row.rss_kib = loaded.rss_kib;
  row.peak_rss_kib = loaded.peak_rss_kib;
  return finish(stats_error);
}

}  // namespace gw::bench
