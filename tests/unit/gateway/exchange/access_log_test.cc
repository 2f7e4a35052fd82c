#include "gateway/exchange/access_log.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/unit/support/temp_dir.h"

namespace gw {
namespace {

using namespace std::chrono_literals;
using gw::testing::TempDir;

AccessLogRecord SampleRecord() {
  AccessLogRecord record;
  record.time =
      std::chrono::sys_days{std::chrono::year{2026} / 11 / 26} + 5h + 44min + 48s + 123ms + 900us;
  record.request_id = "0123456789abcdef0123456789abcdef";
  record.method = "GET";
  record.path = "/api/orders/7?x=1";
  record.protocol = "HTTP/1.1";
  record.route = "/api";
  record.upstream = "127.0.0.1:9101";
  record.status = 200;
  record.bytes_in = 12;
  record.bytes_out = 512;
  record.duration = 1234567ns;
  record.upstream_duration = 987654ns;
  return record;
}

std::string FormatLine(const AccessLogRecord& record) {
  std::string line;
  FormatAccessLogLine(record, line);
  return line;
}

// Parses one JSON object with protobuf's JSON parser (a strict RFC 8259 reader).
google::protobuf::Struct ParseJson(const std::string& text) {
  google::protobuf::Struct parsed;
  const auto status = google::protobuf::util::JsonStringToMessage(text, &parsed);
  EXPECT_TRUE(status.ok()) << status.ToString() << " in " << text;
  return parsed;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// Polls `done` until it holds or `timeout` passes.
template <typename Done>
bool WaitUntil(Done done, std::chrono::milliseconds timeout = 5000ms) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return done();
}

TEST(AccessLogLine, HasEveryFieldInOrder) {
  EXPECT_EQ(FormatLine(SampleRecord()),
            R"({"time":"2026-11-26T05:44:48.123Z","request_id":"0123456789abcdef0123456789abcdef",)"
            R"("method":"GET","path":"/api/orders/7?x=1","protocol":"HTTP/1.1","tls":false,)"
            R"("route":"/api",)"
            R"("upstream":"127.0.0.1:9101","consumer":null,"status":200,"reason":null,)"
            R"("retries":0,"bytes_in":12,"bytes_out":512,"duration_ms":1.234,"upstream_ms":0.987})"
            "\n");
}

TEST(AccessLogLine, ConsumerReasonAndRetries) {
  AccessLogRecord record = SampleRecord();
  record.consumer = "mobile-app";
  record.status = 429;
  record.reason = "rate_limited";
  record.retries = 2;
  const auto parsed = ParseJson(FormatLine(record));
  EXPECT_EQ(parsed.fields().at("consumer").string_value(), "mobile-app");
  EXPECT_EQ(parsed.fields().at("reason").string_value(), "rate_limited");
  EXPECT_EQ(parsed.fields().at("retries").number_value(), 2);
}

TEST(AccessLogLine, NoRouteNoUpstreamAreNull) {
  AccessLogRecord record = SampleRecord();
  record.route = {};
  record.upstream = {};
  record.upstream_duration.reset();
  record.status = 404;
  record.duration = 50us;
  const std::string line = FormatLine(record);
  EXPECT_NE(line.find(R"("route":null,"upstream":null,"consumer":null,"status":404,)"),
            std::string::npos)
      << line;
  EXPECT_NE(line.find(R"("duration_ms":0.050,"upstream_ms":null})"), std::string::npos) << line;
  const auto parsed = ParseJson(line);
  EXPECT_EQ(parsed.fields().at("route").kind_case(), google::protobuf::Value::kNullValue);
  EXPECT_EQ(parsed.fields().at("status").number_value(), 404);
}

TEST(AccessLogLine, OddPathsStayValidJson) {
  AccessLogRecord record = SampleRecord();
  const std::string path = std::string("/a\"b\\c\n\r\t") + '\x01' + '\x7f' + "/caf\xc3\xa9" +
                           "/bad\xff\xc3" + "/surrogate\xed\xa0\x80" + "/emoji\xf0\x9f\x98\x80";
  record.path = path;
  record.method = "G\"ET";
  const std::string line = FormatLine(record);
  ASSERT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1);  // one line, whatever the path holds
  const auto parsed = ParseJson(line);
  // Valid UTF-8 comes back as sent; invalid bytes as their Latin-1 reading.
  EXPECT_EQ(parsed.fields().at("path").string_value(),
            std::string("/a\"b\\c\n\r\t") + '\x01' + '\x7f' + "/caf\xc3\xa9" +
                "/bad\xc3\xbf\xc3\x83" + "/surrogate\xc3\xad\xc2\xa0\xc2\x80" +
                "/emoji\xf0\x9f\x98\x80");
  EXPECT_EQ(parsed.fields().at("method").string_value(), "G\"ET");
  for (const char* field :
       {"time", "request_id", "method", "path", "protocol", "tls", "route", "upstream", "status",
        "bytes_in", "bytes_out", "duration_ms", "upstream_ms"}) {
    EXPECT_TRUE(parsed.fields().contains(field)) << field;
  }
}

TEST(AccessLog, FlushesEverythingOnStop) {
  TempDir dir;
  AccessLogOptions options;
  options.path = dir.File("access.log");
  options.flush_interval = 60s;  // only Stop writes
  std::string error;
  auto log = AccessLog::Open(options, &error);
  ASSERT_TRUE(log) << error;
  AccessLogBuffer& first = log->AddWorker();
  AccessLogBuffer& second = log->AddWorker();

  std::thread a([&] {
    AccessLogRecord record = SampleRecord();
    for (int i = 0; i < 100; ++i) {
      const std::string id = "a" + std::to_string(i);
      record.request_id = id;
      first.Append(record);
    }
  });
  std::thread b([&] {
    AccessLogRecord record = SampleRecord();
    for (int i = 0; i < 50; ++i) {
      const std::string id = "b" + std::to_string(i);
      record.request_id = id;
      second.Append(record);
    }
  });
  a.join();
  b.join();
  log->Stop();

  const auto lines = Lines(ReadFile(options.path));
  ASSERT_EQ(lines.size(), 150u);
  int next_a = 0;
  int next_b = 0;
  for (const std::string& line : lines) {
    const std::string id = ParseJson(line).fields().at("request_id").string_value();
    // Each worker's lines keep their order.
    if (id[0] == 'a') {
      EXPECT_EQ(id, "a" + std::to_string(next_a++));
    } else {
      EXPECT_EQ(id, "b" + std::to_string(next_b++));
    }
  }
  EXPECT_EQ(next_a, 100);
  EXPECT_EQ(next_b, 50);
  EXPECT_EQ(log->dropped_lines(), 0u);
}

TEST(AccessLog, BuffersUntilTheIntervalOrTheSizeThreshold) {
  TempDir dir;
  AccessLogOptions options;
  options.path = dir.File("access.log");
  options.flush_interval = 60s;
  const size_t line_size = FormatLine(SampleRecord()).size();
  options.flush_bytes = line_size * 10;
  std::string error;
  auto log = AccessLog::Open(options, &error);
  ASSERT_TRUE(log) << error;
  AccessLogBuffer& buffer = log->AddWorker();

  for (int i = 0; i < 9; ++i) buffer.Append(SampleRecord());
  std::this_thread::sleep_for(200ms);  // nothing is due: the writer must not have written
  EXPECT_EQ(ReadFile(options.path), "");

  buffer.Append(SampleRecord());  // the 10th line reaches flush_bytes: written long before 60 s
  EXPECT_TRUE(WaitUntil([&] { return Lines(ReadFile(options.path)).size() == 10; }));
  log->Stop();
  EXPECT_EQ(Lines(ReadFile(options.path)).size(), 10u);
}

TEST(AccessLog, FlushesOnTheInterval) {
  TempDir dir;
  AccessLogOptions options;
  options.path = dir.File("access.log");
  options.flush_interval = 20ms;
  std::string error;
  auto log = AccessLog::Open(options, &error);
  ASSERT_TRUE(log) << error;
  AccessLogBuffer& buffer = log->AddWorker();
  buffer.Append(SampleRecord());
  EXPECT_TRUE(WaitUntil([&] { return Lines(ReadFile(options.path)).size() == 1; }));
  buffer.Append(SampleRecord());
  EXPECT_TRUE(WaitUntil([&] { return Lines(ReadFile(options.path)).size() == 2; }));
}

TEST(AccessLog, AppendsToAnExistingFile) {
  TempDir dir;
  const std::string path = dir.File("access.log");
  std::ofstream(path) << "earlier line\n";
  std::string error;
  auto log = AccessLog::Open(AccessLogOptions{path}, &error);
  ASSERT_TRUE(log) << error;
  log->AddWorker().Append(SampleRecord());
  log->Stop();
  const auto lines = Lines(ReadFile(path));
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], "earlier line");
}

TEST(AccessLog, DropsAndCountsLinesPastTheBufferCap) {
  TempDir dir;
  AccessLogOptions options;
  options.path = dir.File("access.log");
  options.flush_interval = 60s;
  const size_t line_size = FormatLine(SampleRecord()).size();
  options.flush_bytes = 1 << 20;
  options.max_buffered_bytes = line_size * 5;
  std::string error;
  auto log = AccessLog::Open(options, &error);
  ASSERT_TRUE(log) << error;
  AccessLogBuffer& buffer = log->AddWorker();
  for (int i = 0; i < 5; ++i) buffer.Append(SampleRecord());
  EXPECT_EQ(log->dropped_lines(), 0u);
  // The 6th does not fit: dropped, and the writer is woken to make room for what follows.
  buffer.Append(SampleRecord());
  EXPECT_EQ(log->dropped_lines(), 1u);
  for (int i = 0; i < 4; ++i) buffer.Append(SampleRecord());
  log->Stop();
  // Every line is either written or counted as dropped.
  EXPECT_GE(log->dropped_lines(), 1u);
  EXPECT_EQ(Lines(ReadFile(options.path)).size() + log->dropped_lines(), 10u);
}

TEST(AccessLog, AWriteErrorCountsTheLinesAndDoesNotStopTheLog) {
  std::string error;
  AccessLogOptions options;
  options.path = "/dev/full";  // every write fails with ENOSPC
  options.flush_interval = 10ms;
  ::testing::internal::CaptureStderr();
  auto log = AccessLog::Open(options, &error);
  ASSERT_TRUE(log) << error;
  AccessLogBuffer& buffer = log->AddWorker();
  buffer.Append(SampleRecord());
  buffer.Append(SampleRecord());
  EXPECT_TRUE(WaitUntil([&] { return log->dropped_lines() == 2; }));
  buffer.Append(SampleRecord());  // the writer is still there, still counting
  EXPECT_TRUE(WaitUntil([&] { return log->dropped_lines() == 3; }));
  log->Stop();
  const std::string stderr_text = ::testing::internal::GetCapturedStderr();
  // Reported once, however many writes fail.
  const std::string report = "access log /dev/full: write failed (No space left on device)";
  const size_t first = stderr_text.find(report);
  EXPECT_NE(first, std::string::npos) << stderr_text;
  EXPECT_EQ(stderr_text.find(report, first + 1), std::string::npos) << stderr_text;
}

TEST(AccessLog, OpenFailsWithAReason) {
  TempDir dir;
  std::string error;
  auto log = AccessLog::Open(AccessLogOptions{dir.File("missing/dir/access.log")}, &error);
  EXPECT_FALSE(log);
  EXPECT_NE(error.find("missing/dir/access.log"), std::string::npos) << error;
  EXPECT_NE(error.find("No such file"), std::string::npos) << error;
}

}  // namespace
}  // namespace gw
