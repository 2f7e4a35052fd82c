// AccessLog: --access-log PATH|-, one JSON line per request, written off the request path.
//
// A worker formats each record into its own AccessLogBuffer (no system call, no allocation once
// the buffers have grown, a mutex shared only with the writer's swap); a writer thread swaps
// every buffer out every `flush_interval`, or sooner once a buffer holds `flush_bytes`, and
// writes it to the file (opened for append) or stdout. Lines of one worker keep their order;
// lines of different workers interleave whole, so times are not strictly sorted across workers.
// When the writer cannot keep up, a worker's buffer stops at `max_buffered_bytes` and further
// lines are dropped and counted (dropped_lines(), exported on /metrics); a failed write is
// reported once on stderr, its lines counted as dropped, and writing goes on.
//
// A line:
//   {"time":"2026-11-26T05:44:48.123Z","request_id":"...","method":"GET","path":"/api/x?y=1",
//    "route":"/api","upstream":"10.0.0.7:8080","consumer":"mobile-app","status":200,
//    "reason":null,"retries":0,"bytes_in":0,"bytes_out":512,"duration_ms":1.234,
//    "upstream_ms":0.987}
// route and upstream are null when there was none (no route matched, no upstream contacted);
// consumer is null unless the route authenticated one; reason is null when the upstream
// answered, else why the gateway did ("unauthorized", "rate_limited", "circuit_open",
// "upstream_unavailable", "upstream_timeout", "cors_preflight", ...: ErrorReply::code);
// retries counts the route's retries; upstream_ms is null when no upstream answered. Strings are
// JSON-escaped; bytes that are not valid UTF-8 are written as \u00XX (their Latin-1 reading) so
// every line stays valid JSON.
//
// Wiring (what main and the session do):
//   main, start-up, when --access-log is given:
//       std::string error;
//       auto log = AccessLog::Open(AccessLogOptions{path}, &error);  // null: exit 1 with error
//       then one `AccessLogBuffer& b = log->AddWorker();` per worker, before Worker::Start.
//   session, on its worker's thread, once per request when its response is written (or its
//       connection aborted): b.Append(AccessLogRecord{...}); the string_views need only live
//       for the call.
//   main, shutdown, after every Worker::Join: log->Stop() (writes whatever is buffered); the
//       destructor does the same. With "-", SIGPIPE must stay ignored (main does) so that a
//       closed stdout is a reported write error, not the end of the process.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace gw {

// One request, as the session saw it. Borrowed views: valid for the Append call only.
struct AccessLogRecord {
  std::chrono::system_clock::time_point time;  // when the request's headers were read
  std::string_view request_id;
  std::string_view method;
  std::string_view path;      // the request target as the client sent it
  std::string_view protocol;  // "HTTP/1.0", "HTTP/1.1" or "HTTP/2"
  bool tls = false;           // the request came over TLS
  std::string_view route;     // the matched route's path; empty: none matched
  std::string_view upstream;  // the upstream endpoint contacted, "host:port"; empty: none
  std::string_view consumer;  // authenticated by the route; empty: none
  std::string_view reason;    // why the gateway answered itself; empty: the upstream did
  uint32_t retries = 0;       // route retries made
  unsigned status = 0;
  uint64_t bytes_in = 0;                 // request body bytes read from the client
  uint64_t bytes_out = 0;                // response body bytes written to the client
  std::chrono::nanoseconds duration{0};  // headers read -> response written
  std::optional<std::chrono::nanoseconds> upstream_duration;  // upstream exchange, if any
};

// Appends `record` as one JSON line, '\n' included, to `out`. Pure; used by AccessLogBuffer.
void FormatAccessLogLine(const AccessLogRecord& record, std::string& out);

struct AccessLogOptions {
  std::string path;  // a file, created if missing (0644) and appended to; "-" for stdout
  std::chrono::milliseconds flush_interval{100};
  size_t flush_bytes = 64 * 1024;       // a buffer this full wakes the writer early
  size_t max_buffered_bytes = 4 << 20;  // per worker; past it lines are dropped
};

class AccessLog;

// One worker's buffer. Append only from that worker's thread.
class AccessLogBuffer {
 public:
  explicit AccessLogBuffer(AccessLog& log) : log_(log) {}

  AccessLogBuffer(const AccessLogBuffer&) = delete;
  AccessLogBuffer& operator=(const AccessLogBuffer&) = delete;

  void Append(const AccessLogRecord& record);

 private:
  friend class AccessLog;

  AccessLog& log_;
  std::string line_;  // the worker's scratch line
  std::mutex mutex_;  // pending_: the worker appends, the writer swaps it out
  std::string pending_;
  std::string writing_;  // the writer thread's side of the swap
};

class AccessLog {
 public:
  // Start-up: opens the destination and starts the writer thread. Null, with the reason in
  // *error, when the file cannot be opened.
  static std::unique_ptr<AccessLog> Open(AccessLogOptions options, std::string* error);
  ~AccessLog();  // Stop()

  AccessLog(const AccessLog&) = delete;
  AccessLog& operator=(const AccessLog&) = delete;

  // Start-up, before the worker runs: that worker's buffer, owned by this log.
  AccessLogBuffer& AddWorker();

  // Writes everything buffered and ends the writer thread; later appends are never written.
  // Call once the workers have stopped. Idempotent.
  void Stop();

  uint64_t dropped_lines() const { return dropped_lines_.load(std::memory_order_relaxed); }
  const AccessLogOptions& options() const { return options_; }

 private:
  friend class AccessLogBuffer;

  AccessLog(AccessLogOptions options, int fd, bool owns_fd);
  void Run();
  void FlushAll();
  void Write(std::string& data);
  void RequestFlush();  // from a worker whose buffer reached flush_bytes

  const AccessLogOptions options_;
  const int fd_;
  const bool owns_fd_;
  std::atomic<uint64_t> dropped_lines_{0};
  bool reported_write_error_ = false;  // writer thread only

  std::mutex buffers_mutex_;  // AddWorker vs the writer's pass
  std::vector<std::unique_ptr<AccessLogBuffer>> buffers_;

  std::mutex wake_mutex_;
  std::condition_variable wake_;
  std::atomic<bool> flush_requested_{false};
  bool stop_ = false;  // under wake_mutex_
  std::thread writer_;
};

}  // namespace gw
