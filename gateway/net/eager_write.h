// EagerWrite: writes buffers now, as far as the socket takes them, and only the rest
// asynchronously.
//
// A proxied message head, or a body window, is nearly always taken whole by the socket at
// once; writing it synchronously on the non-blocking socket then costs one system call, where
// an asynchronous write also costs an operation object and a trip through the scheduler. When
// the socket would block, the rest goes out asynchronously under `timeout`.
// `handler(error_code)` is called exactly once: inline when everything was written (or the
// write failed) at once, else from the asynchronous write. Callers must expect the inline call
// (nothing of theirs may run after EagerWrite returns). The socket must be non-blocking, and
// the memory the buffers point to must stay valid until the handler runs.
// `out` is a TimedSocket (an upstream connection, or a plain client one) or a ClientStream
// (client_stream.h: TLS writes a record at a time), found by TryWrite(out, ...).
#pragma once

#include <array>
#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_suffix.hpp>
#include <chrono>
#include <utility>

#include "gateway/net/timed_socket.h"

namespace gw {

// What one write sends: a message head, a chunk-size line, body data, a CRLF, the last chunk
// and trailers. Unused entries stay empty.
using WireBuffers = std::array<boost::asio::const_buffer, 5>;

// The synchronous part of EagerWrite on a TimedSocket: what the socket takes now.
inline size_t TryWrite(TimedSocket& out, const WireBuffers& buffers,
                       boost::system::error_code& ec) {
  return boost::asio::write(out.socket(), buffers, ec);
}

template <typename Stream, typename Handler>
void EagerWrite(Stream& out, const WireBuffers& buffers,
                std::chrono::steady_clock::duration timeout, Handler&& handler) {
  boost::system::error_code ec;
  const size_t written = TryWrite(out, buffers, ec);
  if (ec != boost::asio::error::would_block && ec != boost::asio::error::try_again) {
    return handler(ec);
  }
  boost::beast::buffers_suffix<WireBuffers> rest(buffers);
  rest.consume(written);
  out.expires_after(timeout);
  boost::asio::async_write(out, rest,
                           [handler = std::forward<Handler>(handler)](
                               boost::system::error_code ec, size_t) mutable { handler(ec); });
}

}  // namespace gw
