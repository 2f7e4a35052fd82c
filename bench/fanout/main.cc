// fanout: how fast one config change reaches 10,000 gateways, and what each connected gateway
// costs the control plane. One process: N simulated gateways (real Subscribe streams: Hello,
// ACK/NACK) against 1 control plane on SQLite and against 3 sharing one PostgreSQL database.
//
//   fanout --build DIR [--streams 100,1000,10000] [--replicas 1,3] [--routes 5000]
//          [--changes 20] [--streams-per-channel 100] [--full-parse] [--keep-temp] ...
//
// With only --build it runs the standard rows and holds them to the targets (see row_result.h
// and bench/README.md). Everything runs on 127.0.0.1 with ports picked at run time; processes
// it started are killed and its temp dir removed at exit, on failure and on SIGINT/SIGTERM too.
//
// Exit status: 0 every row ran and met its targets; 1 a target was missed or a row failed;
// 2 usage or set-up error.
#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "bench/fanout/admin_client.h"
#include "bench/fanout/child_process.h"
#include "bench/fanout/control_plane_replica.h"
#include "bench/fanout/fanout_row.h"
#include "bench/fanout/postgres_server.h"
#include "bench/fanout/row_result.h"
#include "bench/fanout/scratch_dir.h"

namespace {

using Clock = std::chrono::steady_clock;
using gw::bench::RowResult;

// SIGINT/SIGTERM/SIGHUP are blocked in every thread and taken here: kill what the bench
// started, remove its temp dir, exit 130.
void StartSignalThread() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  std::thread([signals] {
    int number = 0;
    sigwait(&signals, &number);
    std::fprintf(stderr, "fanout: signal %d: stopping everything it started\n", number);
    gw::bench::KillAllChildren();
    gw::bench::RemoveAllScratchDirs();
    std::_Exit(130);
  }).detach();
}

// Raises the soft RLIMIT_NOFILE to the hard limit (the children inherit it); returns it.
rlim_t RaiseFileLimit(rlim_t* before) {
  rlimit limit{};
  ::getrlimit(RLIMIT_NOFILE, &limit);
  *before = limit.rlim_cur;
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
    ::getrlimit(RLIMIT_NOFILE, &limit);
  }
  return limit.rlim_cur;
}

std::string FirstLine(const std::string& path, const std::string& key) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key, 0) == 0) {
      const auto colon = line.find(':');
      return colon == std::string::npos ? line : line.substr(colon + 2);
    }
  }
  return "";
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::string Trim(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

// Output of a short command run to its end (10 s at most), e.g. `controlplane --version`.
std::string RunForOutput(const std::vector<std::string>& argv, const gw::bench::ScratchDir& dir,
                         const std::string& name) {
  const std::string log = dir.Path(name + ".out");
  auto process = gw::bench::ChildProcess::Spawn(name, argv, log, dir.path());
  if (!process->Wait(std::chrono::seconds(10))) process->Stop(SIGKILL);
  return ReadAll(log);
}

// Creates the routes through a replica started on `db` for the purpose; "" or the error.
std::string Seed(const std::string& controlplane, const std::string& db,
                 const gw::bench::ScratchDir& dir, const std::string& name, size_t routes,
                 size_t in_flight) {
  std::string error;
  auto replica = gw::bench::ControlPlaneReplica::Start(controlplane, db, dir.path(), name,
                                                       std::chrono::seconds(30), &error);
  if (!replica) return error;
  gw::bench::AdminClient admin(replica->address());
  const auto started = Clock::now();
  error = admin.CreateRoutes(routes, in_flight, std::chrono::seconds(60));
  if (!error.empty()) return error;
  std::string status_error;
  const auto status = admin.Status(std::chrono::seconds(30), &status_error);
  if (!status) return status_error;
  std::fprintf(stderr, "seeded %s routes through %s in %.1f s: config version %llu, %s bytes\n",
               gw::bench::WithCommas(routes).c_str(), name.c_str(),
               std::chrono::duration<double>(Clock::now() - started).count(),
               static_cast<unsigned long long>(status->config_version()),
               gw::bench::WithCommas(status->config_bytes()).c_str());
  if (replica->Stop() != 0) return name + " did not stop cleanly:\n" + replica->LogTail();
  return "";
}

// ", PostgreSQL 1.23 s" for the rows on a database server, "" for SQLite.
std::string DatabaseCpu(const RowResult& row) {
  if (row.database_cpu_changes_s < 0) return "";
  char text[64];
  std::snprintf(text, sizeof text, ", PostgreSQL %.2f s", row.database_cpu_changes_s);
  return text;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "fanout: N simulated gateways against 1 or 3 control planes; time per change "
      "until every gateway ACKed, bytes pushed, replicas' RSS and CPU"};
  std::string build = "build";
  std::vector<size_t> streams = {100, 1000, 10000};
  std::vector<size_t> replica_counts = {1, 3};
  size_t routes = 5000;
  size_t changes = 20;
  size_t streams_per_channel = 100;
  size_t seed_in_flight = 32;
  double sync_timeout_s = 600;
  double change_timeout_s = 120;
  bool full_parse = false;
  bool keep_temp = false;
  std::string postgres_bin = "/usr/lib/postgresql/15/bin";
  app.add_option("--build", build, "build dir: its bin/controlplane is started")
      ->capture_default_str();
  app.add_option("--streams", streams, "simulated gateway streams per row (comma-separated)")
      ->delimiter(',')
      ->capture_default_str();
  app.add_option("--replicas", replica_counts,
                 "control-plane replicas per row: 1 (SQLite) and/or 3 (PostgreSQL)")
      ->delimiter(',')
      ->check(CLI::IsMember({1, 3}))
      ->capture_default_str();
  app.add_option("--routes", routes, "routes in the config (created before the rows)")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  app.add_option("--changes", changes, "timed changes per row")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  app.add_option("--streams-per-channel", streams_per_channel,
                 "streams sharing one gRPC channel (one HTTP/2 connection)")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  app.add_option("--seed-in-flight", seed_in_flight, "CreateRoute calls in flight while seeding")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  app.add_option("--sync-timeout", sync_timeout_s,
                 "seconds for every stream to ACK its first snapshot")
      ->capture_default_str();
  app.add_option("--change-timeout", change_timeout_s, "seconds for every stream to ACK one change")
      ->capture_default_str();
  app.add_flag("--full-parse", full_parse,
               "parse every push whole, as a real gateway does (else only its envelope)");
  app.add_flag("--keep-temp", keep_temp, "keep the temp dir (databases, logs)");
  app.add_option("--postgres-bin", postgres_bin, "PostgreSQL 15 binaries (initdb, postgres)")
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  for (size_t n : streams) {
    if (n == 0 || n > 100000) {
      std::fprintf(stderr, "fanout: --streams: %zu is not 1..100000\n", n);
      return 2;
    }
  }

  std::error_code ignored;
  const std::string controlplane =
      std::filesystem::absolute(build + "/bin/controlplane", ignored).lexically_normal().string();
  if (::access(controlplane.c_str(), X_OK) != 0) {
    std::fprintf(stderr, "fanout: %s not found: build first (scripts/build.sh, or ninja -C %s)\n",
                 controlplane.c_str(), build.c_str());
    return 2;
  }
  StartSignalThread();
  rlim_t files_before = 0;
  const rlim_t files = RaiseFileLimit(&files_before);
  size_t most_streams = 0;
  for (size_t n : streams) most_streams = std::max(most_streams, n);
  const size_t most_channels = (most_streams + streams_per_channel - 1) / streams_per_channel;
  if (most_channels + 256 > files) {
    std::fprintf(stderr,
                 "fanout: %zu connections need more than RLIMIT_NOFILE %llu: raise the hard "
                 "limit (ulimit -Hn) or --streams-per-channel\n",
                 most_channels, static_cast<unsigned long long>(files));
    return 2;
  }

  int status = 0;
  std::vector<RowResult> rows;
  {
    gw::bench::ScratchDir scratch("gw-fanout-");
    if (keep_temp) scratch.Keep();

    char when[64];
    const std::time_t now = std::time(nullptr);
    std::strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", std::gmtime(&now));
    const std::string version =
        Trim(RunForOutput({controlplane, "--version"}, scratch, "controlplane-version"));
    std::printf("fanout %s: %s; %u cores (%s); load average %s\n", when, version.c_str(),
                std::thread::hardware_concurrency(),
                FirstLine("/proc/cpuinfo", "model name").c_str(),
                Trim(ReadAll("/proc/loadavg")).c_str());
    std::printf(
        "%s routes, %zu changes per row, %zu streams per channel, pushes decoded %s; "
        "RLIMIT_NOFILE %llu (was %llu; the control planes inherit it)\n\n",
        gw::bench::WithCommas(routes).c_str(), changes, streams_per_channel,
        full_parse ? "whole" : "as envelope only", static_cast<unsigned long long>(files),
        static_cast<unsigned long long>(files_before));
    std::fflush(stdout);

    uint64_t change_counter = 1;
    const auto fail_all = [&](size_t replicas, const std::string& backend,
                              const std::string& reason) {
      for (size_t n : streams) {
        RowResult row;
        row.replicas = replicas;
        row.streams = n;
        row.backend = backend;
        row.error = reason;
        rows.push_back(row);
      }
    };

    for (size_t replicas : replica_counts) {
      gw::bench::RowSettings settings;
      settings.controlplane = controlplane;
      settings.dir = scratch.path();
      settings.replicas = replicas;
      settings.routes = routes;
      settings.changes = changes;
      settings.streams_per_channel = streams_per_channel;
      settings.full_parse = full_parse;
      settings.sync_timeout =
          std::chrono::milliseconds(static_cast<int64_t>(sync_timeout_s * 1000));
      settings.change_timeout =
          std::chrono::milliseconds(static_cast<int64_t>(change_timeout_s * 1000));

      std::unique_ptr<gw::bench::PostgresServer> postgres;
      if (replicas == 1) {
        settings.backend = "sqlite";
        settings.db = scratch.Path("controlplane.db");
      } else {
        settings.backend = "postgres";
        std::string error;
        postgres = gw::bench::PostgresServer::Start(postgres_bin, scratch.path(),
                                                    std::chrono::seconds(60), &error);
        if (!postgres) {
          std::fprintf(stderr, "PostgreSQL did not start: %s\n", error.c_str());
          fail_all(replicas, settings.backend, "PostgreSQL did not start");
          continue;
        }
        settings.db = postgres->url();
        settings.database_root = postgres->process_root();
      }
      const std::string seeded = Seed(controlplane, settings.db, scratch,
                                      "seed-" + settings.backend, routes, seed_in_flight);
      if (!seeded.empty()) {
        std::fprintf(stderr, "seeding the %s database failed: %s\n", settings.backend.c_str(),
                     seeded.c_str());
        fail_all(replicas, settings.backend, "seeding failed");
        continue;
      }
      for (size_t n : streams) {
        settings.streams = n;
        rows.push_back(gw::bench::RunRow(settings, change_counter));
      }
    }

    std::printf("\n");
    gw::bench::PrintTable(stdout, rows);
    std::printf("\nload average at the end: %s\n", Trim(ReadAll("/proc/loadavg")).c_str());
    for (const RowResult& row : rows) {
      if (row.completed())
        std::printf(
            "%s: sync %.1f s (%s KiB pushed, replicas' CPU %.2f s); during the changes "
            "the bench used %.2f s of CPU%s; replicas' peak RSS %.1f MiB%s%s\n",
            gw::bench::RowName(row.replicas, row.streams).c_str(), row.sync_seconds,
            gw::bench::WithCommas(row.sync_bytes / 1024).c_str(), row.replica_cpu_sync_s,
            row.bench_cpu_changes_s, DatabaseCpu(row).c_str(), row.peak_rss_kib / 1024.0,
            row.nacks ? "; a NACK: " : "", row.some_nack.c_str());
    }
    for (const RowResult& row : rows)
      for (const auto& check : gw::bench::CheckTargets(row))
        if (!check.pass) status = 1;
    if (status != 0 && !keep_temp) {
      std::fprintf(stderr,
                   "fanout: the logs (control planes, PostgreSQL) go with the temp dir; rerun "
                   "with --keep-temp to keep them\n");
    }
  }
  std::fflush(stdout);
  return status;
}
