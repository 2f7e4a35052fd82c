// H2ClientConnection: the client side of one HTTP/2 cleartext (h2c, prior knowledge) connection
// to one upstream endpoint, on nghttp2 (RFC 9113): the carrier of gRPC calls to a service whose
// protocol is UPSTREAM_H2C. H2ClientPool: one worker's live connections, per endpoint.
//
// The caller connects the socket (the TCP connect, its deadline and address choice are the
// same as for HTTP/1.1 upstreams) and hands it to MakeH2ClientConnection; the connection then
// sends the preface and its SETTINGS (ENABLE_PUSH 0, a 64 KiB stream window, the header list
// limit) and carries streams: Submit() sends a request header, the body is pulled from the
// stream's H2UpstreamStream as the peer's window allows, and the response comes back to it
// piece by piece. Flow control is manual both ways, so a body of any size moves in constant
// memory: response DATA is handed to OnResponseData straight from the read buffer and the
// window opens only when the caller says it passed the bytes on (ConsumeResponse).
//
// The I/O loop is the server Connection's (gateway/http2/connection.h): read 16 KiB →
// nghttp2_session_mem_recv → Flush(); Flush() gathers nghttp2_session_mem_send output up to
// 64 KiB into one write when none is in flight; the connection closes when nghttp2 wants
// neither to read nor to write. Liveness: while streams are open, a PING after `ping_interval`
// without a byte from the peer, and the connection closed when its ACK does not come within
// `ping_timeout` (a gRPC stream may be silent for minutes; a dead peer must not hold it).
//
// Threading and ownership: one worker's thread only. The connection is owned through
// shared_ptr by the pool and by its own pending operations; handlers are the caller's and must
// outlive their stream's OnClose. Handler callbacks run from the connection's I/O (reads,
// writes, timers, and a flush posted by the calls below), never inside a call the caller makes,
// except Close(). Nothing here throws; failures reach the handler as OnClose codes.
#pragma once

#include <nghttp2/nghttp2.h>

#include <array>
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
#include <string>
#include <utility>
#include <vector>

#include "common/validation.h"
#include "gateway/http/http_message.h"
#include "gateway/http2/stream.h"
#include "gateway/net/net.h"
#include "gateway/net/timed_socket.h"

namespace gw {

struct H2ClientSettings {
  using Duration = std::chrono::steady_clock::duration;
  uint32_t initial_window_size = 65535;   // per stream: response bytes the caller may hold
  int32_t connection_window = 1 << 20;    // response bytes of all streams not yet consumed
  uint32_t max_header_list_size = 16384;  // --max-header-size: a larger response header resets
  Duration ping_interval = std::chrono::seconds(30);  // of silence with streams open
  Duration ping_timeout = std::chrono::seconds(10);   // for its ACK
};

// Submit's refusals (negative; a stream id is positive). The caller opens or picks another
// connection for all of them.
inline constexpr int32_t kSubmitClosing = -1;       // closed, closing, or the peer sent GOAWAY
inline constexpr int32_t kSubmitNoCapacity = -2;    // at the peer's MAX_CONCURRENT_STREAMS
inline constexpr int32_t kSubmitIdsExhausted = -3;  // every stream id of the connection was used
inline constexpr int32_t kSubmitFailed = -4;        // nghttp2 refused the request header

// One request/response exchange on an H2ClientConnection, as the caller (the exchange) sees it.
class H2UpstreamStream {
 public:
  virtual ~H2UpstreamStream() = default;
  // Up to out.size() bytes of request body (Submit without end_stream). {0, false} defers until
  // ResumeRequest; `end` ends the body, followed by trailers if SubmitRequestTrailers came.
  virtual http2::BodyPull PullRequestBody(std::span<uint8_t> out) = 0;
  // The final response header (1xx are skipped). `end_stream`: the response is this header
  // alone (a gRPC trailers-only answer: grpc-status is among `fields`).
  virtual void OnResponseHeader(unsigned status, const HttpFields& fields, bool end_stream) = 0;
  // Response body bytes, valid during the call only. The stream's window stays shut for them
  // until ConsumeResponse: the caller consumes what it passed on.
  virtual void OnResponseData(std::span<const uint8_t> data) = 0;
  // The response's trailer section, which ends it (grpc-status, grpc-message).
  virtual void OnResponseTrailers(const HttpFields& fields) = 0;
  // The stream is over, exactly once; no callback follows. NGHTTP2_NO_ERROR exactly when the
  // whole response arrived; NGHTTP2_REFUSED_STREAM when the peer never processed the request
  // (GOAWAY below its id, its RST_STREAM, or the connection lost before the header was
  // written): safe to send again elsewhere, RFC 9113 section 8.7; otherwise the peer's
  // RST_STREAM code, ours from Reset, INTERNAL_ERROR for a response header over the limit or a
  // stream that ended without a complete response, CANCEL when the connection was lost.
  virtual void OnClose(uint32_t error_code) = 0;
};

class H2ClientConnection : public std::enable_shared_from_this<H2ClientConnection> {
 public:
  using Clock = std::chrono::steady_clock;

  H2ClientConnection(const NetExecutor& executor, const H2ClientSettings& settings);
  virtual ~H2ClientConnection();
  H2ClientConnection(const H2ClientConnection&) = delete;
  H2ClientConnection& operator=(const H2ClientConnection&) = delete;

  // Sends the preface and SETTINGS and starts reading. Once, right after construction.
  void Start();

  // Sends `head` as a request (`:authority` from Host, `:scheme` http; connection-specific
  // fields dropped, RFC 9113 section 8.2.2). `end_stream`: no body; otherwise the body is
  // pulled from `handler`. Returns the stream id, or a kSubmit* refusal (then `handler` is
  // never called).
  int32_t Submit(const HttpRequestHeader& head, bool end_stream, H2UpstreamStream& handler);
  // The request's trailer section, sent after the pull that reports the end. False when the
  // stream is unknown or its request already ended.
  [[nodiscard]] bool SubmitRequestTrailers(int32_t id, HttpFields fields);
  // PullRequestBody deferred and has something now.
  void ResumeRequest(int32_t id);
  // `n` bytes of the stream's response body were passed on: the peer may send that many more.
  void ConsumeResponse(int32_t id, size_t n);
  // RST_STREAM(`error_code`); the handler's OnClose(error_code) follows.
  void Reset(int32_t id, uint32_t error_code);
  // Closes the connection now: every open stream's OnClose(CANCEL) runs before this returns.
  void Close();
  // Keeps `lease` until the connection closes: what an open connection holds, such as its place
  // under the service's max_connections and its count in gateway_upstream_connections.
  void HoldUntilClosed(std::shared_ptr<void> lease) { lease_ = std::move(lease); }

  // Not closing, no GOAWAY, fewer streams than the peer's MAX_CONCURRENT_STREAMS, ids left.
  bool CanTakeStream() const;
  size_t active_streams() const { return streams_.size(); }
  bool closed() const { return closed_; }
  bool goaway_received() const { return goaway_received_; }
  // When the last stream ended (or the connection started), for CloseIdle.
  Clock::time_point idle_since() const { return idle_since_; }

 protected:
  // The transport, implemented by SocketH2ClientConnection: each completes with OnRead /
  // OnWritten.
  virtual void ReadSome(std::span<uint8_t> buffer) = 0;
  virtual void WriteAll(std::span<const uint8_t> bytes) = 0;
  virtual void CloseSocket() = 0;
  void OnRead(const boost::system::error_code& ec, size_t bytes);
  void OnWritten(const boost::system::error_code& ec);

 private:
  struct Callbacks;
  struct StreamState {
    H2UpstreamStream* handler;
    HttpFields fields;  // of the header block being received
    std::optional<HttpFields> request_trailers;
    size_t header_bytes = 0;  // of that block, as RFC 9113 section 6.5.2 counts them
    size_t unconsumed = 0;    // response bytes handed over, not yet consumed
    unsigned status = 0;
    bool header_sent = false;       // our HEADERS reached the socket's write
    bool request_ended = false;     // END_STREAM sent or queued
    bool response_started = false;  // the final header arrived
    bool response_ended = false;
    bool reset = false;  // Reset() was called: the handler hears of nothing but OnClose
  };

  static ssize_t ReadBody(nghttp2_session* session, int32_t stream_id, uint8_t* buf, size_t length,
                          uint32_t* data_flags, nghttp2_data_source* source, void* user_data);

  StreamState* Find(int32_t id);
  void Receive(const uint8_t* data, size_t size);
  void Flush();
  void PostFlush();
  void MaybeRead();
  void CloseStream(int32_t id, uint32_t error_code);
  void ArmTimer();
  void OnTimer();

  H2ClientSettings settings_;
  std::shared_ptr<void> lease_;  // until closed
  SteadyTimer timer_;
  nghttp2_session* session_ = nullptr;
  std::map<int32_t, StreamState> streams_;
  std::array<uint8_t, 16384> read_buffer_;
  std::vector<uint8_t> output_;  // the write in flight
  Clock::time_point idle_since_;
  Clock::time_point last_read_;
  Clock::time_point ping_deadline_ = Clock::time_point::max();  // max: no PING outstanding
  Clock::time_point timer_at_ = Clock::time_point::max();
  bool reading_ = false;
  bool writing_ = false;
  bool in_receive_ = false;  // inside mem_recv: callbacks may not mem_send, Flush comes after
  bool in_send_ = false;
  bool flush_posted_ = false;
  bool goaway_received_ = false;
  bool closed_ = false;
};

// An H2ClientConnection on `Socket` (TimedSocket for h2c), which it owns.
template <typename Socket>
class SocketH2ClientConnection final : public H2ClientConnection {
 public:
  template <typename... SocketArgs>
  SocketH2ClientConnection(const NetExecutor& executor, const H2ClientSettings& settings,
                           SocketArgs&&... socket_args)
      : H2ClientConnection(executor, settings), socket_(std::forward<SocketArgs>(socket_args)...) {}

  Socket& socket() { return socket_; }

 private:
  std::shared_ptr<SocketH2ClientConnection> self() {
    return std::static_pointer_cast<SocketH2ClientConnection>(shared_from_this());
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
  void CloseSocket() override { socket_.close(); }

  Socket socket_;
};

// A started connection on `socket`, already connected to the endpoint.
inline std::shared_ptr<H2ClientConnection> MakeH2ClientConnection(
    TcpSocket socket, const H2ClientSettings& settings) {
  const NetExecutor executor = socket.get_executor();
  auto connection = std::make_shared<SocketH2ClientConnection<TimedSocket>>(executor, settings,
                                                                            std::move(socket));
  connection->Start();
  return connection;
}

// One worker's h2c connections, per endpoint: a stream goes on a live connection that can take
// it, the busiest first (few connections, each well used); when none can, the caller connects
// a new one and Adds it. Closed connections are dropped as they are met. One thread only.
class H2ClientPool {
 public:
  using ConnectionPtr = std::shared_ptr<H2ClientConnection>;

  H2ClientPool() = default;
  ~H2ClientPool() { Close(); }
  H2ClientPool(const H2ClientPool&) = delete;
  H2ClientPool& operator=(const H2ClientPool&) = delete;

  // A connection to `endpoint` that can take a stream now, or null.
  ConnectionPtr Acquire(const HostPort& endpoint);
  // A new connection to `endpoint`; closed at once when the pool is closed.
  void Add(const HostPort& endpoint, ConnectionPtr connection);
  // Closes connections without streams since before `idle_before`, drops closed ones.
  void CloseIdle(H2ClientConnection::Clock::time_point idle_before);
  // Closes every connection (their open streams end with CANCEL); later Adds close theirs.
  void Close();

  size_t connection_count() const;

 private:
  using Key = std::pair<std::string, uint16_t>;
  std::map<Key, std::vector<ConnectionPtr>> connections_;
  bool closed_ = false;
};

}  // namespace gw
