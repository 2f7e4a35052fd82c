// ClientStream: the client side of a connection, plain TCP or TLS.
//
// A TimedSocket (its deadlines, its Explain) and, for TLS, an OpenSSL SSL object driven directly
// on the socket's descriptor (SSL_set_fd, non-blocking), as nginx and HAProxy do. Not
// asio::ssl::stream: it encrypts into memory BIOs and cannot write synchronously on a
// non-blocking socket (a would_block after SSL_write took the plaintext loses it), and
// EagerWrite, one system call for a head and its first body bytes, is part of the data path's
// speed. Plain TCP runs the TimedSocket's own code behind one `if (tls_)`.
//
// TLS: each operation calls OpenSSL first (a read may find bytes decrypted already); when OpenSSL
// wants the socket readable or writable, the operation waits for that (socket().async_wait) under
// the deadline (beast::error::timeout when it passes, as for plain reads) and calls again. Writes
// go out one record (at most kTlsRecordSize bytes) per call, small buffers gathered into one record
// as nginx's ngx_ssl_send_chain does; the record is taken from the buffers the same way each time,
// so a write OpenSSL could not finish (WANT_WRITE) is retried with the same bytes, as it requires.
// Errors: a close_notify ends reads with asio::error::eof; a peer closing without one with
// asio::ssl::error::stream_truncated (a reset, for the session; a context with
// SSL_OP_IGNORE_UNEXPECTED_EOF makes it eof); socket errors as errno says; other TLS failures in
// asio's ssl category, whose message() is OpenSSL's reason string (for logs).
// A model of Beast's AsyncReadStream and AsyncWriteStream: Beast's HTTP operations, BodyRelay,
// Tunnel and EagerWrite take it. Completion handlers never run inside the call that started
// them (except EagerWrite's, as documented there). At most one read and one write in flight, as
// on a socket. OpenSSL writes with write(2): SIGPIPE must be ignored (main does).
// Owned by whoever owns the connection (a Session); used on its worker's thread only.
#pragma once

#include <openssl/ssl.h>

#include <algorithm>
#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <chrono>
#include <cstddef>
#include <cstring>
#include <iterator>
#include <memory>
#include <utility>

#include "gateway/net/eager_write.h"
#include "gateway/net/net.h"
#include "gateway/net/ssl_ptr.h"
#include "gateway/net/timed_socket.h"

namespace gw {

// The plaintext of one TLS record at most (TLS's maximum fragment).
inline constexpr size_t kTlsRecordSize = 16 * 1024;

class ClientStream {
 public:
  using executor_type = NetExecutor;
  using Clock = TimedSocket::Clock;

  // Plain TCP.
  explicit ClientStream(TcpSocket socket);
  // TLS on `socket`, the server's end: AsyncHandshake comes first. Makes the socket
  // non-blocking. A null `ssl`: plain TCP. An `ssl` whose handshake is done (taken from another
  // stream on this socket by ReleaseSsl) goes on where it was: no handshake, and bytes OpenSSL
  // already read are the first ones read.
  ClientStream(TcpSocket socket, SslPtr ssl);
  ~ClientStream();

  ClientStream(const ClientStream&) = delete;
  ClientStream& operator=(const ClientStream&) = delete;

  // Null for plain TCP.
  SSL* ssl() const { return tls_ ? tls_->ssl.get() : nullptr; }
  // Gives up the TLS state, with no operation in flight, so that another ClientStream on this
  // socket (moved out of socket()) carries on the connection (HTTP/2 chosen by ALPN). Plain TCP
  // from here on; null for plain TCP.
  SslPtr ReleaseSsl();
  TimedSocket& timed() { return timed_; }
  TcpSocket& socket() { return timed_.socket(); }
  executor_type get_executor() { return timed_.get_executor(); }

  void expires_after(Clock::duration timeout) { timed_.expires_after(timeout); }
  void expires_at(Clock::time_point when) { timed_.expires_at(when); }
  void expires_never() { timed_.expires_never(); }
  bool expired() const { return timed_.expired(); }
  boost::system::error_code Explain(const boost::system::error_code& ec) const {
    return timed_.Explain(ec);
  }
  // Closes the socket at once, without a close_notify: an abort (a reset must not look like
  // the clean end of a close-delimited body). Shutdown first for a clean end.
  void close() { timed_.close(); }

  // The TLS handshake, within `timeout` (a silent peer ends with beast::error::timeout);
  // handler(error_code). Plain TCP: completes at once without error.
  template <typename Handler>
  void AsyncHandshake(Clock::duration timeout, Handler&& handler);

  // The end of what this side sends: a close_notify (TLS; sent once, best effort, without
  // waiting for the socket), then a TCP half-close. Reads may go on (a lingering close).
  void Shutdown();
  // The same, waiting up to `timeout` for the socket to take the close_notify;
  // handler(error_code).
  template <typename Handler>
  void AsyncShutdown(Clock::duration timeout, Handler&& handler);

  // EagerWrite's synchronous part: writes what the socket takes now, and returns how much of
  // `buffers` that was; `ec` is would_block when the socket took no more. Plain TCP: one
  // gathering write(s) as boost::asio::write does. TLS: one record per write call, up to 16 KiB
  // gathered from the buffers; when OpenSSL is left holding a record the socket did not take
  // whole, the next write (async_write_some with the rest of `buffers`) finishes it.
  size_t TryWrite(const WireBuffers& buffers, boost::system::error_code& ec) {
    if (!tls_) return boost::asio::write(timed_.socket(), buffers, ec);
    return TryWriteTls(buffers, ec);
  }

  template <typename MutableBuffers, typename Handler>
  void async_read_some(const MutableBuffers& buffers, Handler&& handler) {
    if (!tls_) return timed_.async_read_some(buffers, std::forward<Handler>(handler));
    StartTls([buffer = FirstBuffer<boost::asio::mutable_buffer>(buffers)](
                 Tls& tls, size_t& bytes,
                 boost::system::error_code& ec) { return tls.Read(buffer, bytes, ec); },
             std::forward<Handler>(handler));
  }

  template <typename ConstBuffers, typename Handler>
  void async_write_some(const ConstBuffers& buffers, Handler&& handler) {
    if (!tls_) return timed_.async_write_some(buffers, std::forward<Handler>(handler));
    StartTls(
        [buffers](Tls& tls, size_t& bytes, boost::system::error_code& ec) {
          char staging[kTlsRecordSize];
          return tls.Write(GatherRecord(buffers, staging), bytes, ec);
        },
        std::forward<Handler>(handler));
  }

 private:
  // What an OpenSSL call needs before it can go on.
  enum class Want { kNothing, kRead, kWrite };

  // The TLS state, shared with pending operations: a stream destroyed with one pending still
  // completes it (operation_aborted) later, without touching the stream.
  struct Tls {
    SslPtr ssl;
    ClientStream* stream;  // null once the stream is gone
    bool failed = false;   // a fatal error: no close_notify may follow (OpenSSL's rule)
    bool close_notify_sent = false;
    // What ended a read that had produced bytes already (Read's loop): the next read's outcome.
    boost::system::error_code deferred;

    // Each makes one attempt: kNothing when done (`ec` says how), else what to wait for.
    Want Handshake(boost::system::error_code& ec);
    Want Read(boost::asio::mutable_buffer buffer, size_t& bytes, boost::system::error_code& ec);
    Want Write(boost::asio::const_buffer record, size_t& bytes, boost::system::error_code& ec);
    Want SendCloseNotify(boost::system::error_code& ec);
    // The outcome of an OpenSSL call that returned `result` <= 0, errno being `error`.
    Want Classify(int result, int error, boost::system::error_code& ec);
    // False (with `ec` set) when the socket was closed: its descriptor may be another's now.
    bool Usable(boost::system::error_code& ec) const;
  };

  // One TLS operation: attempts until done, waiting on the socket between attempts.
  template <typename Attempt, typename Handler>
  struct TlsOperation {
    std::shared_ptr<Tls> tls;
    Attempt attempt;
    Handler handler;

    // The first attempt runs in the initiating call: a completion then is posted.
    void Run(bool initiating) {
      boost::system::error_code ec;
      size_t bytes = 0;
      const Want want = attempt(*tls, bytes, ec);
      if (want == Want::kNothing) {
        if (!initiating) return handler(ec, bytes);
        return boost::asio::post(tls->stream->get_executor(),
                                 boost::beast::bind_front_handler(std::move(handler), ec, bytes));
      }
      TcpSocket& socket = tls->stream->socket();
      socket.async_wait(want == Want::kRead ? TcpSocket::wait_read : TcpSocket::wait_write,
                        std::move(*this));
    }

    // The socket is ready, or the wait failed (the deadline cancelled it, the socket closed).
    void operator()(boost::system::error_code ec) {
      if (!tls->stream) return handler(boost::asio::error::operation_aborted, 0);
      if (ec) return handler(tls->stream->Explain(ec), 0);
      Run(false);
    }
  };

  template <typename Attempt, typename Handler>
  void StartTls(Attempt&& attempt, Handler&& handler) {
    TlsOperation<std::decay_t<Attempt>, std::decay_t<Handler>>{tls_, std::forward<Attempt>(attempt),
                                                               std::forward<Handler>(handler)}
        .Run(true);
  }

  // The first non-empty buffer of `buffers` (empty when there is none).
  template <typename Buffer, typename Buffers>
  static Buffer FirstBuffer(const Buffers& buffers) {
    const auto end = boost::asio::buffer_sequence_end(buffers);
    for (auto it = boost::asio::buffer_sequence_begin(buffers); it != end; ++it) {
      const Buffer buffer(*it);
      if (buffer.size() > 0) return buffer;
    }
    return {};
  }

  // The next record's plaintext, taken from `buffers` the same way for the same bytes: the first
  // non-empty buffer itself when it is alone or fills a record, else up to kTlsRecordSize bytes
  // gathered into `staging`.
  template <typename ConstBuffers>
  static boost::asio::const_buffer GatherRecord(const ConstBuffers& buffers,
                                                char (&staging)[kTlsRecordSize]) {
    const auto end = boost::asio::buffer_sequence_end(buffers);
    auto it = boost::asio::buffer_sequence_begin(buffers);
    while (it != end && boost::asio::const_buffer(*it).size() == 0) ++it;
    if (it == end) return {};
    const boost::asio::const_buffer first(*it);
    auto next = std::next(it);
    while (next != end && boost::asio::const_buffer(*next).size() == 0) ++next;
    if (next == end || first.size() >= kTlsRecordSize) {
      return {first.data(), std::min(first.size(), kTlsRecordSize)};
    }
    size_t used = 0;
    for (; it != end && used < kTlsRecordSize; ++it) {
      const boost::asio::const_buffer buffer(*it);
      const size_t n = std::min(buffer.size(), kTlsRecordSize - used);
      if (n > 0) std::memcpy(staging + used, buffer.data(), n);
      used += n;
    }
    return {staging, used};
  }

  size_t TryWriteTls(const WireBuffers& buffers, boost::system::error_code& ec);

  std::shared_ptr<Tls> tls_;  // null: plain TCP
  TimedSocket timed_;
};

// EagerWrite's synchronous part on a client connection.
inline size_t TryWrite(ClientStream& out, const WireBuffers& buffers,
                       boost::system::error_code& ec) {
  return out.TryWrite(buffers, ec);
}

template <typename Handler>
void ClientStream::AsyncHandshake(Clock::duration timeout, Handler&& handler) {
  auto complete = [handler = std::forward<Handler>(handler)](boost::system::error_code ec,
                                                             size_t) mutable { handler(ec); };
  if (!tls_) {
    return boost::asio::post(
        get_executor(), boost::beast::bind_front_handler(std::move(complete),
                                                         boost::system::error_code(), size_t{0}));
  }
  timed_.expires_after(timeout);
  StartTls([](Tls& tls, size_t&, boost::system::error_code& ec) { return tls.Handshake(ec); },
           std::move(complete));
}

template <typename Handler>
void ClientStream::AsyncShutdown(Clock::duration timeout, Handler&& handler) {
  auto complete = [tls = tls_, handler = std::forward<Handler>(handler)](
                      boost::system::error_code ec, size_t) mutable {
    if (tls && tls->stream) {
      boost::system::error_code ignored;
      tls->stream->socket().shutdown(TcpSocket::shutdown_send, ignored);
    }
    handler(ec);
  };
  if (!tls_) {
    boost::system::error_code ignored;
    socket().shutdown(TcpSocket::shutdown_send, ignored);
    return boost::asio::post(
        get_executor(), boost::beast::bind_front_handler(std::move(complete),
                                                         boost::system::error_code(), size_t{0}));
  }
  timed_.expires_after(timeout);
  StartTls([](Tls& tls, size_t&, boost::system::error_code& ec) { return tls.SendCloseNotify(ec); },
           std::move(complete));
}

}  // namespace gw
