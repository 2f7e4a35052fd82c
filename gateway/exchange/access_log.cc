#include "gateway/exchange/access_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>

#include "common/log.h"
#include "common/utf8.h"

namespace gw {
namespace {

void AppendUnsigned(std::string& out, uint64_t value) {
  char buffer[24];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  out.append(buffer, result.ptr);
}

// `value` as exactly `width` decimal digits, zero-padded, at `at` (value < 10^width).
void WritePadded(char* at, uint64_t value, int width) {
  for (int i = width - 1; i >= 0; --i) {
    at[i] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
}

// RFC 3339, UTC, milliseconds: 2026-11-26T05:44:48.123Z. Calendar arithmetic only: gmtime_r
// would take glibc's time zone lock on every request.
void AppendTime(std::string& out, std::chrono::system_clock::time_point time) {
  using namespace std::chrono;
  const auto ms = time_point_cast<milliseconds>(time);
  const auto day = floor<days>(ms);
  const year_month_day date{day};
  const hh_mm_ss clock{ms - day};
  char text[] = "0000-00-00T00:00:00.000Z";
  WritePadded(text, static_cast<uint64_t>(std::clamp(static_cast<int>(date.year()), 0, 9999)), 4);
  WritePadded(text + 5, static_cast<unsigned>(date.month()), 2);
  WritePadded(text + 8, static_cast<unsigned>(date.day()), 2);
  WritePadded(text + 11, static_cast<uint64_t>(clock.hours().count()), 2);
  WritePadded(text + 14, static_cast<uint64_t>(clock.minutes().count()), 2);
  WritePadded(text + 17, static_cast<uint64_t>(clock.seconds().count()), 2);
  WritePadded(text + 20, static_cast<uint64_t>(clock.subseconds().count()), 3);
  out.append(text, sizeof text - 1);
}

// A duration in milliseconds with microsecond precision: 1.234, 0.050.
void AppendMillis(std::string& out, std::chrono::nanoseconds elapsed) {
  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count();
  const uint64_t us = micros > 0 ? static_cast<uint64_t>(micros) : 0;
  AppendUnsigned(out, us / 1000);
  char fraction[4] = {'.'};
  WritePadded(fraction + 1, us % 1000, 3);
  out.append(fraction, sizeof fraction);
}

constexpr bool NeedsNoEscape(unsigned char c) {
  return c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
}

// A JSON string (RFC 8259), appended in place; runs of plain characters in one append.
void AppendJsonString(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  const auto escape_byte = [&](unsigned char c) {
    const char escaped[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xf]};
    out.append(escaped, sizeof escaped);
  };
  out.push_back('"');
  size_t i = 0;
  while (i < s.size()) {
    size_t run = i;
    while (run < s.size() && NeedsNoEscape(static_cast<unsigned char>(s[run]))) ++run;
    out.append(s.data() + i, run - i);
    i = run;
    if (i == s.size()) break;
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      const size_t length = Utf8SequenceLength(s, i);
      if (length == 0) {
        escape_byte(c);
        ++i;
      } else {
        out.append(s.data() + i, length);
        i += length;
      }
      continue;
    }
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        escape_byte(c);  // other controls and DEL
    }
    ++i;
  }
  out.push_back('"');
}

void AppendJsonStringOrNull(std::string& out, std::string_view s) {
  if (s.empty()) {
    out += "null";
  } else {
    AppendJsonString(out, s);
  }
}

}  // namespace

void FormatAccessLogLine(const AccessLogRecord& record, std::string& out) {
  // The fixed part and the numbers fit in 256 bytes; escaping may grow strings up to 6x.
  out.reserve(out.size() + 256 +
              6 * (record.request_id.size() + record.method.size() + record.path.size() +
                   record.protocol.size() + record.route.size() + record.upstream.size() +
                   record.consumer.size() + record.reason.size()));
  out += "{\"time\":\"";
  AppendTime(out, record.time);
  out += "\",\"request_id\":";
  AppendJsonString(out, record.request_id);
  out += ",\"method\":";
  AppendJsonString(out, record.method);
  out += ",\"path\":";
  AppendJsonString(out, record.path);
  out += ",\"protocol\":";
  AppendJsonString(out, record.protocol);
  out += record.tls ? ",\"tls\":true" : ",\"tls\":false";
  out += ",\"route\":";
  AppendJsonStringOrNull(out, record.route);
  out += ",\"upstream\":";
  AppendJsonStringOrNull(out, record.upstream);
  out += ",\"consumer\":";
  AppendJsonStringOrNull(out, record.consumer);
  out += ",\"status\":";
  AppendUnsigned(out, record.status);
  out += ",\"reason\":";
  AppendJsonStringOrNull(out, record.reason);
  out += ",\"retries\":";
  AppendUnsigned(out, record.retries);
  out += ",\"bytes_in\":";
  AppendUnsigned(out, record.bytes_in);
  out += ",\"bytes_out\":";
  AppendUnsigned(out, record.bytes_out);
  out += ",\"duration_ms\":";
  AppendMillis(out, record.duration);
  out += ",\"upstream_ms\":";
  if (record.upstream_duration) {
    AppendMillis(out, *record.upstream_duration);
  } else {
    out += "null";
  }
  out += "}\n";
}

// ---- AccessLogBuffer ----

void AccessLogBuffer::Append(const AccessLogRecord& record) {
  line_.clear();
  FormatAccessLogLine(record, line_);
  bool wake = false;
  {
    std::lock_guard lock(mutex_);
    if (pending_.size() + line_.size() > log_.options_.max_buffered_bytes) {
      log_.dropped_lines_.fetch_add(1, std::memory_order_relaxed);
      wake = true;
    } else {
      const bool below = pending_.size() < log_.options_.flush_bytes;
      pending_ += line_;
      wake = below && pending_.size() >= log_.options_.flush_bytes;
    }
  }
  if (wake) log_.RequestFlush();
}

// ---- AccessLog ----

std::unique_ptr<AccessLog> AccessLog::Open(AccessLogOptions options, std::string* error) {
  if (options.path == "-") {
    return std::unique_ptr<AccessLog>(new AccessLog(std::move(options), STDOUT_FILENO, false));
  }
  const int fd = ::open(options.path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) {
    *error = "cannot open access log " + options.path + ": " + std::strerror(errno);
    return nullptr;
  }
  return std::unique_ptr<AccessLog>(new AccessLog(std::move(options), fd, true));
}

AccessLog::AccessLog(AccessLogOptions options, int fd, bool owns_fd)
    : options_(std::move(options)), fd_(fd), owns_fd_(owns_fd) {
  writer_ = std::thread([this] { Run(); });
}

AccessLog::~AccessLog() {
  Stop();
  if (owns_fd_) ::close(fd_);
}

AccessLogBuffer& AccessLog::AddWorker() {
  std::lock_guard lock(buffers_mutex_);
  buffers_.push_back(std::make_unique<AccessLogBuffer>(*this));
  return *buffers_.back();
}

void AccessLog::Stop() {
  {
    std::lock_guard lock(wake_mutex_);
    stop_ = true;
  }
  wake_.notify_one();
  if (writer_.joinable()) writer_.join();
}

void AccessLog::RequestFlush() {
  // Once per flush_bytes at most. The flag is set under wake_mutex_ (held by the writer only
  // around its wait, never while writing) so the wake-up cannot fall between the writer's
  // check and its sleep.
  if (flush_requested_.load(std::memory_order_relaxed)) return;
  {
    std::lock_guard lock(wake_mutex_);
    flush_requested_.store(true, std::memory_order_relaxed);
  }
  wake_.notify_one();
}

void AccessLog::Run() {
  std::unique_lock lock(wake_mutex_);
  for (;;) {
    wake_.wait_for(lock, options_.flush_interval,
                   [&] { return stop_ || flush_requested_.load(std::memory_order_relaxed); });
    const bool stopping = stop_;
    flush_requested_.store(false, std::memory_order_relaxed);
    lock.unlock();
    FlushAll();
    lock.lock();
    if (stopping) return;
  }
}

void AccessLog::FlushAll() {
  std::lock_guard buffers_lock(buffers_mutex_);
  for (const auto& buffer : buffers_) {
    {
      std::lock_guard lock(buffer->mutex_);
      buffer->pending_.swap(buffer->writing_);
    }
    Write(buffer->writing_);
    buffer->writing_.clear();
    // Keep a burst's memory only while bursts last: the worker's side keeps its capacity.
    if (buffer->writing_.capacity() > 4 * options_.flush_bytes) buffer->writing_.shrink_to_fit();
  }
}

void AccessLog::Write(std::string& data) {
  size_t written = 0;
  while (written < data.size()) {
    const ssize_t n = ::write(fd_, data.data() + written, data.size() - written);
    if (n > 0) {
      written += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    const std::string reason = n < 0 ? std::strerror(errno) : "nothing written";
    const auto lost =
        std::count(data.begin() + static_cast<std::ptrdiff_t>(written), data.end(), '\n');
    dropped_lines_.fetch_add(static_cast<uint64_t>(lost), std::memory_order_relaxed);
    if (!reported_write_error_) {
      reported_write_error_ = true;
      LogError("access log " + options_.path + ": write failed (" + reason +
               "); lines are dropped while it fails");
    }
    return;
  }
}

}  // namespace gw
