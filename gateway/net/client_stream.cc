#include "gateway/net/client_stream.h"

#include <openssl/err.h>

#include <boost/asio/ssl/error.hpp>
#include <boost/beast/core/buffers_suffix.hpp>
#include <cerrno>
#include <utility>

namespace gw {

namespace asio = boost::asio;

ClientStream::ClientStream(TcpSocket socket) : timed_(std::move(socket)) {}

ClientStream::ClientStream(TcpSocket socket, SslPtr ssl) : timed_(std::move(socket)) {
  if (!ssl) return;
  boost::system::error_code ignored;
  timed_.socket().non_blocking(true, ignored);
  SSL* raw = ssl.get();
  if (SSL_is_init_finished(raw) != 1) {
    // A failure here (no memory for the BIO) leaves the SSL without one: the handshake fails.
    SSL_set_fd(raw, timed_.socket().native_handle());
    SSL_set_accept_state(raw);
  }
  // A write returns once one record went out (not after all of them), and its retry may pass
  // the same bytes from another address (a staging buffer on the stack).
  SSL_set_mode(raw, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  // One read(2) takes what the socket holds, up to a full record's buffer, instead of a
  // record's 5-byte header and then its body in a second call (nginx does the same). Every read
  // attempt calls SSL_read first, so bytes read ahead are never left waiting for the socket.
  SSL_set_read_ahead(raw, 1);
  tls_ = std::make_shared<Tls>(Tls{std::move(ssl), this, false, false, {}});
}

ClientStream::~ClientStream() {
  if (tls_) tls_->stream = nullptr;
}

SslPtr ClientStream::ReleaseSsl() {
  if (!tls_) return nullptr;
  SslPtr ssl = std::move(tls_->ssl);
  tls_->stream = nullptr;
  tls_.reset();
  return ssl;
}

void ClientStream::Shutdown() {
  boost::system::error_code ignored;
  if (tls_) tls_->SendCloseNotify(ignored);
  socket().shutdown(TcpSocket::shutdown_send, ignored);
}

size_t ClientStream::TryWriteTls(const WireBuffers& buffers, boost::system::error_code& ec) {
  boost::beast::buffers_suffix<WireBuffers> rest(buffers);
  size_t total = 0;
  char staging[kTlsRecordSize];
  for (;;) {
    const asio::const_buffer record = GatherRecord(rest, staging);
    if (record.size() == 0) return total;
    size_t written = 0;
    if (tls_->Write(record, written, ec) != Want::kNothing) {
      ec = asio::error::would_block;
      return total;
    }
    if (ec) return total;
    total += written;
    rest.consume(written);
  }
}

bool ClientStream::Tls::Usable(boost::system::error_code& ec) const {
  if (stream->socket().is_open()) return true;
  ec = asio::error::bad_descriptor;
  return false;
}

ClientStream::Want ClientStream::Tls::Handshake(boost::system::error_code& ec) {
  if (!Usable(ec)) return Want::kNothing;
  ERR_clear_error();
  errno = 0;
  const int result = SSL_do_handshake(ssl.get());
  if (result == 1) {
    stream->expires_never();
    return Want::kNothing;
  }
  return Classify(result, errno, ec);
}

ClientStream::Want ClientStream::Tls::Read(asio::mutable_buffer buffer, size_t& bytes,
                                           boost::system::error_code& ec) {
  if (!Usable(ec) || buffer.size() == 0) return Want::kNothing;
  if (deferred) {
    ec = std::exchange(deferred, {});
    return Want::kNothing;
  }
  ERR_clear_error();
  errno = 0;
  const int result = SSL_read_ex(ssl.get(), buffer.data(), buffer.size(), &bytes);
  if (result != 1) return Classify(result, errno, ec);
  // SSL_read gives one record at a time: more records read ahead fill the rest of the buffer
  // now rather than one completion each. A record only partly read ahead costs one read(2);
  // its would-block ends the loop, and an end or an error (a close_notify, an alert, a reset)
  // is kept for the next read as it is, since OpenSSL would not say it the same way twice.
  while (bytes < buffer.size() && SSL_has_pending(ssl.get()) == 1) {
    size_t more = 0;
    ERR_clear_error();
    errno = 0;
    const int next = SSL_read_ex(ssl.get(), static_cast<char*>(buffer.data()) + bytes,
                                 buffer.size() - bytes, &more);
    if (next != 1) {
      Classify(next, errno, deferred);  // a want: nothing kept, the next read waits for it
      break;
    }
    bytes += more;
  }
  return Want::kNothing;
}

ClientStream::Want ClientStream::Tls::Write(asio::const_buffer record, size_t& bytes,
                                            boost::system::error_code& ec) {
  if (!Usable(ec) || record.size() == 0) return Want::kNothing;
  ERR_clear_error();
  errno = 0;
  const int result = SSL_write_ex(ssl.get(), record.data(), record.size(), &bytes);
  if (result == 1) return Want::kNothing;
  return Classify(result, errno, ec);
}

ClientStream::Want ClientStream::Tls::SendCloseNotify(boost::system::error_code& ec) {
  // Not before the handshake ended nor after a fatal error (OpenSSL refuses both), and once.
  if (close_notify_sent || failed || !SSL_is_init_finished(ssl.get()) || !Usable(ec)) {
    return Want::kNothing;
  }
  ERR_clear_error();
  errno = 0;
  // 0: sent, the peer's not received yet (not waited for); 1: both.
  const int result = SSL_shutdown(ssl.get());
  if (result >= 0) {
    close_notify_sent = true;
    return Want::kNothing;
  }
  return Classify(result, errno, ec);
}

ClientStream::Want ClientStream::Tls::Classify(int result, int error,
                                               boost::system::error_code& ec) {
  switch (SSL_get_error(ssl.get(), result)) {
    case SSL_ERROR_WANT_READ:
      return Want::kRead;
    case SSL_ERROR_WANT_WRITE:
      return Want::kWrite;
    case SSL_ERROR_ZERO_RETURN:  // the peer's close_notify
      ec = asio::error::eof;
      return Want::kNothing;
    case SSL_ERROR_SYSCALL:
      failed = true;
      ec = error != 0 ? boost::system::error_code(error, boost::system::system_category())
                      : asio::ssl::error::stream_truncated;
      break;
    case SSL_ERROR_SSL: {
      failed = true;
      const unsigned long reason = ERR_peek_error();
      // OpenSSL 3 reports a TCP end without close_notify so (unless the context sets
      // SSL_OP_IGNORE_UNEXPECTED_EOF, which makes it a close_notify).
      if (ERR_GET_LIB(reason) == ERR_LIB_SSL &&
          ERR_GET_REASON(reason) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
        ec = asio::ssl::error::stream_truncated;
      } else if (reason == 0) {
        ec = asio::ssl::error::unexpected_result;  // never an error that reads as success
      } else {
        ec = boost::system::error_code(static_cast<int>(reason), asio::error::get_ssl_category());
      }
      break;
    }
    default:
      failed = true;
      ec = asio::ssl::error::unexpected_result;
      break;
  }
  ERR_clear_error();  // nothing left for the next connection's calls on this thread
  return Want::kNothing;
}

}  // namespace gw
