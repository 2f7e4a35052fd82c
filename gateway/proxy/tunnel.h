// Tunnel: the two byte streams of an upgraded connection (WebSocket and any other protocol
// switched to by a 101 from the upstream).
//
// After the 101 the gateway no longer speaks HTTP on either connection: each direction reads
// what arrives (starting with bytes already buffered past the HTTP messages) and writes it to
// the other side, one buffer of kTunnelBufferSize per direction, one write in flight each. An
// end of stream on one side is passed on as a half-close to the other (a TLS client's
// connection is not half-closed: see PassEnd); the tunnel ends when both directions ended, on
// any error, or when no byte moved either way for `idle_timeout`, and then closes both
// connections. The upstream connection is owned here and never pooled.
// The client connection is a `ClientSide`: a TimedSocket, whose socket the tunnel reads and
// writes directly, or a ClientStream (WebSocket over TLS), to which the upstream's end of stream
// is passed on as a close_notify. The upstream's is a TimedSocket.
// Owned by a Session (which keeps the client connection); runs on its worker thread.
// Header-only, like BodyRelay: a small piece of the session's data path.
#pragma once

#include <array>
#include <boost/asio/buffer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <chrono>
#include <cstdint>
#include <memory>

#include "gateway/net/client_stream.h"
#include "gateway/net/timed_socket.h"
#include "gateway/upstream/upstream_pool.h"

namespace gw {

inline constexpr size_t kTunnelBufferSize = 16 * 1024;

template <typename ClientSide>
class BasicTunnel {
 public:
  // `client` and `client_buffer` (bytes the client sent past its request) belong to the
  // owner, which `owner` keeps alive while any operation of the tunnel is pending.
  BasicTunnel(ClientSide& client, boost::beast::flat_buffer& client_buffer,
              UpstreamConnectionPtr upstream, std::chrono::milliseconds idle_timeout)
      : client_(client),
        client_buffer_(client_buffer),
        upstream_(std::move(upstream)),
        idle_timeout_(idle_timeout),
        idle_timer_(client.get_executor()) {}

  void Start(const std::shared_ptr<void>& owner) {
    client_.expires_never();
    upstream_->stream.expires_never();
    last_activity_ = std::chrono::steady_clock::now();
    directions_[0].pending = &client_buffer_;
    directions_[1].pending = &upstream_->buffer;
    Begin(owner, directions_[0], Bytes(client_), upstream_->stream.socket());
    Begin(owner, directions_[1], upstream_->stream.socket(), Bytes(client_));
    ScheduleIdleCheck(owner, idle_timeout_);
  }

  bool closed() const { return closed_; }
  uint64_t bytes_to_upstream() const { return directions_[0].bytes; }
  uint64_t bytes_to_client() const { return directions_[1].bytes; }

 private:
  struct Direction {
    boost::beast::flat_buffer* pending = nullptr;  // read past the HTTP message, sent first
    std::unique_ptr<char[]> buffer;
    uint64_t bytes = 0;
    bool ended = false;
  };

  // The client's bytes: the socket itself for plain TCP, the stream (its TLS) for a
  // ClientStream. Neither has a deadline here: the idle check bounds the tunnel.
  static TcpSocket& Bytes(TimedSocket& client) { return client.socket(); }
  static ClientStream& Bytes(ClientStream& client) { return client; }

  // The end of one direction passed on. To the upstream, or to a plain TCP client: a TCP
  // half-close, and the tunnel ends once both directions ended. To a TLS client: a close_notify
  // (waited for, up to the idle timeout: a socket still full of the last bytes cannot take it at
  // once), then the tunnel ends, as nginx ends it: what a client sends after the gateway's
  // close_notify is not dependably read by OpenSSL (records were dropped in tests), so the
  // connection is not left half-open.
  void PassEnd(const std::shared_ptr<void>&, TcpSocket& to) {
    boost::system::error_code ignored;
    to.shutdown(TcpSocket::shutdown_send, ignored);
    if (directions_[0].ended && directions_[1].ended) Close();
  }
  void PassEnd(const std::shared_ptr<void>& owner, ClientStream& to) {
    to.AsyncShutdown(idle_timeout_, [this, owner](const boost::system::error_code&) {
      if (!closed_) Close();
    });
  }

  template <typename From, typename To>
  void Begin(const std::shared_ptr<void>& owner, Direction& direction, From& from, To& to) {
    direction.buffer = std::make_unique<char[]>(kTunnelBufferSize);
    if (direction.pending->size() > 0) {
      Write(owner, direction, from, to, direction.pending->data());
    } else {
      Read(owner, direction, from, to);
    }
  }

  template <typename From, typename To>
  void Read(std::shared_ptr<void> owner, Direction& direction, From& from, To& to) {
    from.async_read_some(
        boost::asio::buffer(direction.buffer.get(), kTunnelBufferSize),
        [this, owner, &direction, &from, &to](const boost::system::error_code& ec, size_t n) {
          if (closed_) return;
          if (ec == boost::asio::error::eof) {
            direction.ended = true;
            return PassEnd(owner, to);
          }
          if (ec) return Close();
          last_activity_ = std::chrono::steady_clock::now();
          Write(owner, direction, from, to, boost::asio::const_buffer(direction.buffer.get(), n));
        });
  }

  template <typename From, typename To>
  void Write(std::shared_ptr<void> owner, Direction& direction, From& from, To& to,
             boost::asio::const_buffer data) {
    boost::asio::async_write(
        to, data,
        [this, owner, &direction, &from, &to](const boost::system::error_code& ec, size_t n) {
          if (closed_) return;
          if (ec) return Close();
          direction.bytes += n;
          direction.pending->consume(direction.pending->size());  // the leftover, once sent
          last_activity_ = std::chrono::steady_clock::now();
          Read(owner, direction, from, to);
        });
  }

  void ScheduleIdleCheck(std::shared_ptr<void> owner, std::chrono::steady_clock::duration after) {
    idle_timer_.expires_after(after);
    idle_timer_.async_wait([this, owner](const boost::system::error_code& ec) {
      if (ec || closed_) return;
      const auto idle_for = std::chrono::steady_clock::now() - last_activity_;
      if (idle_for >= idle_timeout_) return Close();
      ScheduleIdleCheck(owner, idle_timeout_ - idle_for);
    });
  }

  void Close() {
    closed_ = true;
    idle_timer_.cancel();
    boost::system::error_code ignored;
    client_.socket().shutdown(TcpSocket::shutdown_both, ignored);
    client_.socket().close(ignored);
    upstream_->stream.socket().close(ignored);
  }

  ClientSide& client_;
  boost::beast::flat_buffer& client_buffer_;
  UpstreamConnectionPtr upstream_;
  std::chrono::milliseconds idle_timeout_;
  SteadyTimer idle_timer_;
  std::chrono::steady_clock::time_point last_activity_;
  std::array<Direction, 2> directions_;
  bool closed_ = false;
};

using Tunnel = BasicTunnel<TimedSocket>;

}  // namespace gw
