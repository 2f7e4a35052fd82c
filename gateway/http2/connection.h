// Connection: the server side of one HTTP/2 connection on nghttp2 (RFC 9113), the carrier of
// its streams' exchanges.
//
// Connection holds the nghttp2 session, its streams, the limits and the timers; the I/O object
// it runs on is a template parameter of SocketConnection below (TimedSocket for h2c, the TLS
// ClientStream for h2 over TLS: any stream with async_read_some, async_write_some and close()),
// so the protocol code is compiled once and each transport costs one virtual call per read or
// write. The loop is nghttp2-asio's with back pressure: read 16 KiB → nghttp2_session_mem_recv →
// Flush(); Flush() gathers nghttp2_session_mem_send output up to 64 KiB into one write when none
// is in flight, and flushes again when it completes; the connection closes when nghttp2 wants
// neither to read nor to write. The next read is armed only while the output in flight is under
// 64 KiB (a client that does not read its answers queues no new work) and while streams reset
// by the client but not yet released by their handlers keep the stream count under the limit.
//
// Limits and attacks: SETTINGS and nghttp2 options as gateway/EDGE_PLAN.md section 3 lists them
// (connection.cc); rapid reset (CVE-2023-44487): nghttp2's RST_STREAM token bucket, the read
// pause above, and a premature-reset rule (of at least 100 streams, half or more reset by the
// client before their response HEADERS went out → GOAWAY(ENHANCE_YOUR_CALM), close);
// CONTINUATION flood (CVE-2024-27316): at most 8 CONTINUATIONs, and header bytes bounded by
// the request header builder; the client's first SETTINGS within `settings_timeout`; no stream
// for `idle_timeout` → GOAWAY(NO_ERROR), close; Drain() for a graceful shutdown.
//
// Owned through shared_ptr by its pending operations and by its streams until released; one
// worker's thread only. Counters go to an Http2Counters of the worker's.
#pragma once

#include <nghttp2/nghttp2.h>

#include <array>
#include <atomic>
#include <boost/asio/buffer.hpp>
#include <boost/asio/write.hpp>
#include <boost/system/error_code.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include "gateway/http2/stream.h"
#include "gateway/net/net.h"

namespace gw::http2 {

struct ConnectionSettings {
  using Duration = std::chrono::steady_clock::duration;
  uint32_t max_concurrent_streams = 100;  // --http2-max-concurrent-streams
  uint32_t initial_window_size = 65535;   // per stream: one relay buffer of request body
  uint32_t max_header_list_size = 16384;  // --max-header-size: over it → 431
  int32_t connection_window = 1 << 20;    // --http2-connection-window: request bytes buffered
  Duration settings_timeout = std::chrono::seconds(10);  // --header-timeout
  Duration idle_timeout = std::chrono::seconds(60);      // --idle-timeout
  Duration drain_delay = std::chrono::seconds(1);        // between the shutdown notice and GOAWAY
  // A connection told to go away (GOAWAY with an error, idle) whose peer does not read it is
  // closed after this long.
  Duration close_grace = std::chrono::seconds(1);
};

// Why the gateway sent a GOAWAY, for gateway_http2_goaway_total{reason}.
enum class GoawayReason {
  kIdle,             // no stream for the idle timeout
  kDrain,            // Drain(): the gateway is shutting down
  kAbuse,            // premature resets, nghttp2's RST_STREAM rate or another flood
  kProtocolError,    // a frame nghttp2 found invalid
  kSettingsTimeout,  // no SETTINGS from the client in time
};
inline constexpr size_t kGoawayReasonCount = 5;
std::string_view GoawayReasonName(GoawayReason reason);

// A count written by one worker's thread only and read by the metrics page's: relaxed loads
// and stores, no locked instruction on the write.
class Http2Count {
 public:
  void operator++() {
    value_.store(value_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  operator uint64_t() const { return value_.load(std::memory_order_relaxed); }  // NOLINT

 private:
  std::atomic<uint64_t> value_{0};
};

// The counters of the connections of one worker, exported by its WorkerMetrics.
struct Http2Counters {
  Http2Count connections;
  Http2Count streams;                                    // gateway_http2_streams_total
  Http2Count resets_by_client;                           // gateway_http2_resets_total{by="client"}
  Http2Count resets_by_gateway;                          // gateway_http2_resets_total{by="gateway"}
  std::array<Http2Count, kGoawayReasonCount> goaways{};  // by GoawayReason
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  using Clock = std::chrono::steady_clock;

  Connection(const NetExecutor& executor, const ConnectionSettings& settings,
             StreamHandlerFactory factory, Http2Counters& counters);
  virtual ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Sends the server's SETTINGS and starts reading. `received`: bytes already read from the
  // connection (the preface the HTTP/1.1 session sniffed), fed to nghttp2 first.
  void Start(std::string_view received = {});
  // Graceful shutdown: a shutdown notice now, GOAWAY with the last stream taken after
  // `drain_delay`, close once the streams finished.
  void Drain();

  bool closed() const { return closed_; }
  // Streams not yet released by their handlers, closed ones included.
  size_t live_streams() const { return streams_.size(); }

 protected:
  // The transport, implemented by SocketConnection: each completes with OnRead / OnWritten.
  virtual void ReadSome(std::span<uint8_t> buffer) = 0;
  virtual void WriteAll(std::span<const uint8_t> bytes) = 0;
  virtual void CloseSocket() = 0;
  void OnRead(const boost::system::error_code& ec, size_t bytes);
  void OnWritten(const boost::system::error_code& ec);

 private:
  friend class Stream;
  struct Callbacks;

  // The nghttp2_data_source_read_callback of every response body: asks the stream's handler.
  static ssize_t ReadBody(nghttp2_session* session, int32_t stream_id, uint8_t* buf, size_t length,
                          uint32_t* data_flags, nghttp2_data_source* source, void* user_data);

  void Receive(const uint8_t* data, size_t size);
  void Flush();
  void MaybeRead();
  void Close();
  // GOAWAY with `error_code` (nghttp2_session_terminate_session), close once sent.
  void Terminate(uint32_t error_code, GoawayReason reason);

  void OnRequestHeader(Stream& stream, bool end_stream);
  void OnRequestTrailers(Stream& stream);
  void OnRequestEnd(Stream& stream);
  void LocalReply(Stream& stream, unsigned status, bool end_stream);
  void CloseStream(Stream& stream, uint32_t error_code);
  void ReleaseStream(int32_t id);

  Clock::time_point NextDeadline() const;
  void ArmTimer(Clock::time_point when);
  void OnTimer();

  ConnectionSettings settings_;
  StreamHandlerFactory factory_;
  Http2Counters& counters_;
  SteadyTimer timer_;
  nghttp2_session* session_ = nullptr;
  std::map<int32_t, std::shared_ptr<Stream>> streams_;  // until released
  size_t open_streams_ = 0;                             // of streams_, not closed yet
  uint64_t streams_opened_ = 0;
  uint64_t premature_resets_ = 0;
  std::array<uint8_t, 16384> read_buffer_;
  std::vector<uint8_t> output_;                // the write in flight
  std::optional<GoawayReason> goaway_reason_;  // of the GOAWAY we submitted
  Clock::time_point settings_deadline_ = Clock::time_point::max();
  Clock::time_point idle_deadline_ = Clock::time_point::max();
  Clock::time_point goaway_at_ = Clock::time_point::max();
  Clock::time_point close_deadline_ = Clock::time_point::max();
  Clock::time_point timer_at_ = Clock::time_point::max();
  bool settings_received_ = false;
  bool reading_ = false;
  bool writing_ = false;
  bool in_receive_ = false;  // inside mem_recv: callbacks may not mem_send, Flush comes after
  bool in_send_ = false;
  bool draining_ = false;
  bool closed_ = false;
};

// A Connection on `Socket`, which it owns (built in place from `socket_args`).
template <typename Socket>
class SocketConnection final : public Connection {
 public:
  template <typename... SocketArgs>
  SocketConnection(const NetExecutor& executor, const ConnectionSettings& settings,
                   StreamHandlerFactory factory, Http2Counters& counters,
                   SocketArgs&&... socket_args)
      : Connection(executor, settings, std::move(factory), counters),
        socket_(std::forward<SocketArgs>(socket_args)...) {}

  Socket& socket() { return socket_; }

 private:
  std::shared_ptr<SocketConnection> self() {
    return std::static_pointer_cast<SocketConnection>(shared_from_this());
  }
  void ReadSome(std::span<uint8_t> buffer) override {
    socket_.async_read_some(
        boost::asio::buffer(buffer.data(), buffer.size()),
        [self = self()](const boost::system::error_code& ec, size_t n) { self->OnRead(ec, n); });
  }
  void WriteAll(std::span<const uint8_t> bytes) override {
    boost::asio::async_write(
        socket_, boost::asio::buffer(bytes.data(), bytes.size()),
        [self = self()](const boost::system::error_code& ec, size_t) { self->OnWritten(ec); });
  }
  void CloseSocket() override {
    // TLS (ClientStream): a close_notify first, best effort, so the client sees a clean end.
    if constexpr (requires { socket_.Shutdown(); }) socket_.Shutdown();
    socket_.close();
  }

  Socket socket_;
};

}  // namespace gw::http2
