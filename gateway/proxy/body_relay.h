// BodyRelay: streams one message body from one connection to another through a fixed buffer.
//
// The core of a proxy that never holds a whole body: Beast's parser reads the body from `in`
// into the relay's buffer (buffer_body, which also takes the chunked coding off), and the relay
// writes that window to `out` framed the way the outgoing head announced (BodyFraming): as it
// is, or re-chunked, one chunk per window, ending with the last chunk and the trailers a
// trailer may carry (Trailers). The next read starts only when the write is done. Memory per
// relay: kRelayBufferSize for the body window (borrowed from the worker's RelayBuffers) and as
// much for the input's read buffer while it lasts, whatever the body size.
// The message head, when given, goes out in the first write, with the first body bytes: body
// bytes already in the input's buffer are parsed at once, without an asynchronous read, so a
// small message goes out in one write. A read idle for `read_timeout` ends the relay with
// kReadTimeout (the input socket stays open, so a client can still be answered 408); a write
// stalled for `write_timeout` ends it with kWriteFailed. `read_deadline`, when given, bounds
// every read: the body must be through by then.
// The client's side is a `ClientSide` (TimedSocket, or ClientStream for TLS): `in` for a
// request body, `out` for a response body; the upstream's is a TimedSocket.
// Owned by a Session, one per direction, reused for each message; runs on the session's
// worker thread; never throws.
#pragma once

#include <algorithm>
#include <boost/asio/buffer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>

#include "gateway/http/http_message.h"
#include "gateway/http/proxy_settings.h"
#include "gateway/http/trailers.h"
#include "gateway/http/wire_format.h"
#include "gateway/net/eager_write.h"
#include "gateway/net/timed_socket.h"
#include "gateway/proxy/relay_buffers.h"

namespace gw {

// How a relay frames the body on its output, as the outgoing head announced.
enum class BodyFraming {
  kNone,     // no body (a response to HEAD, 1xx, 204, 304): the head alone
  kRaw,      // byte for byte (a Content-Length, or the end of the connection)
  kChunked,  // re-chunked, then the last chunk with the forwardable trailers
};

struct RelayOutcome {
  enum class Result {
    kDone,         // the whole body went through and the message was completed on `out`
    kReadFailed,   // the input broke off, sent a malformed body or one over the parser's limit
    kReadTimeout,  // the input sent nothing for read_timeout
    kWriteFailed,  // the output is gone or stalled for write_timeout
  };
  Result result = Result::kDone;
  boost::system::error_code error;  // the failing operation's error, when any
  uint64_t bytes = 0;               // body bytes written to `out`
  bool head_written = false;        // the head given to Start went out whole
};

// Receives the end of a relay, exactly once per Start, on the worker thread.
class RelaySink {
 public:
  virtual void OnRelayed(bool request_body, const RelayOutcome& outcome) = 0;
  // The input message is read whole; its last bytes are about to be written.
  virtual void OnInputDone(bool request_body) {}

 protected:
  ~RelaySink() = default;
};

template <bool isRequest, typename ClientSide = TimedSocket>
class BodyRelay {
 public:
  using Parser = boost::beast::http::parser<isRequest, boost::beast::http::buffer_body>;
  using In = std::conditional_t<isRequest, ClientSide, TimedSocket>;
  using Out = std::conditional_t<isRequest, TimedSocket, ClientSide>;

  explicit BodyRelay(RelayBuffers& buffers) : buffers_(buffers) {}

  // The trailers of a chunked input: Watch its parser before any body byte is parsed (also
  // when the body is read before Start).
  Trailers& trailers() { return trailers_; }

  // Relays the body of the message whose header `parser` read from `in` (with `in_buffer`
  // holding what was read past it) to `out`, after `head` (empty when the head was written
  // already; it must stay valid until sink.OnRelayed). `buffer`, when given, is a buffer from
  // RelayBuffers holding the first `filled` body bytes, read already; they are written first.
  // `owner` keeps every referenced object alive until sink.OnRelayed; it is held by the
  // pending operation. The relay buffer is given back when the relay ends, so an idle
  // connection holds none.
  void Start(std::shared_ptr<void> owner, RelaySink& sink, In& in,
             boost::beast::flat_buffer& in_buffer, Parser& parser, Out& out, std::string_view head,
             BodyFraming framing, std::chrono::milliseconds read_timeout,
             std::chrono::milliseconds write_timeout, RelayBuffers::Buffer buffer = nullptr,
             size_t filled = 0,
             std::chrono::steady_clock::time_point read_deadline =
                 std::chrono::steady_clock::time_point::max()) {
    sink_ = &sink;
    in_ = &in;
    in_buffer_ = &in_buffer;
    parser_ = &parser;
    out_ = &out;
    head_ = head;
    framing_ = framing;
    read_timeout_ = read_timeout;
    read_deadline_ = read_deadline;
    write_timeout_ = write_timeout;
    outcome_ = {};
    outcome_.head_written = head.empty();
    buffer_ = std::move(buffer);
    grew_ = false;
    if (filled > 0 || parser.is_done()) return DoWrite(std::move(owner), filled);
    if (!buffer_) buffer_ = buffers_.Take();
    // Reads go through `in_buffer` and are as large as its free capacity: grown for a body that
    // is not all here yet, shrunk back at the end so an idle connection keeps a small buffer. A
    // small body that arrived with its header (the common case) needs neither.
    const auto remaining = parser.content_length();
    grew_ = !(remaining && *remaining <= in_buffer.size());
    if (grew_) in_buffer.reserve(kRelayBufferSize);
    DoRead(std::move(owner));
  }

 private:
  using Owner = std::shared_ptr<void>;

  auto& body() { return parser_->get().body(); }

  void DoRead(Owner owner) {
    body().data = buffer_.get();
    body().size = kRelayBufferSize;
    if (in_buffer_->size() > 0) {
      boost::beast::error_code ec;
      ParseBuffered(ec);
      if (ec) return Finish(RelayOutcome::Result::kReadFailed, ec);
      const size_t produced = kRelayBufferSize - body().size;
      if (produced > 0 || parser_->is_done()) return DoWrite(std::move(owner), produced);
    }
    in_->expires_at(std::min(std::chrono::steady_clock::now() + read_timeout_, read_deadline_));
    boost::beast::http::async_read_some(
        *in_, *in_buffer_, *parser_,
        [this, owner = std::move(owner)](boost::beast::error_code ec, size_t) mutable {
          OnRead(std::move(owner), ec);
        });
  }

  void OnRead(Owner owner, boost::beast::error_code ec) {
    in_->expires_never();
    if (ec == boost::beast::http::error::need_buffer) ec = {};
    if (ec) {
      return Finish(ec == boost::beast::error::timeout ? RelayOutcome::Result::kReadTimeout
                                                       : RelayOutcome::Result::kReadFailed,
                    ec);
    }
    const size_t produced = kRelayBufferSize - body().size;
    // Nothing for the body yet (a chunk header, say): read on.
    if (produced == 0 && !parser_->is_done()) return DoRead(std::move(owner));
    DoWrite(std::move(owner), produced);
  }

  // Feeds the parser what the input's buffer already holds, until the body window is full, the
  // message ends or more input is needed.
  void ParseBuffered(boost::beast::error_code& ec) {
    namespace http = boost::beast::http;
    while (in_buffer_->size() > 0 && body().size > 0 && !parser_->is_done()) {
      const size_t used = parser_->put(in_buffer_->data(), ec);
      in_buffer_->consume(used);
      if (ec == http::error::need_more || ec == http::error::need_buffer) {
        ec = {};
        return;
      }
      if (ec || used == 0) return;
    }
  }

  // Writes the head (if not yet written), the `bytes` of body in the window, framed, and when
  // the input message is complete, the end of the output message.
  void DoWrite(Owner owner, size_t bytes) {
    namespace asio = boost::asio;
    const bool last = parser_->is_done();
    if (last && sink_) sink_->OnInputDone(isRequest);
    const bool chunked = framing_ == BodyFraming::kChunked;
    WireBuffers buffers;
    size_t count = 0;
    if (!head_.empty()) buffers[count++] = asio::buffer(head_.data(), head_.size());
    if (bytes > 0 && framing_ != BodyFraming::kNone) {
      if (chunked) {
        buffers[count++] = asio::buffer(size_line_, FormatChunkSizeLine(bytes, size_line_));
      }
      buffers[count++] = asio::buffer(buffer_.get(), bytes);
      if (chunked) buffers[count++] = asio::buffer(kCrlf.data(), kCrlf.size());
    }
    if (last && chunked) {
      trailers_.Collect();
      tail_.assign(kLastChunk);
      tail_.append(trailers_.wire());
      tail_.append(kCrlf);
      buffers[count++] = asio::buffer(tail_);
    }
    EagerWrite(*out_, buffers, write_timeout_,
               [this, owner = std::move(owner), bytes, last](boost::system::error_code ec) mutable {
                 if (ec) return Finish(RelayOutcome::Result::kWriteFailed, ec);
                 head_ = {};
                 outcome_.head_written = true;
                 outcome_.bytes += bytes;
                 if (last) return Finish(RelayOutcome::Result::kDone, {});
                 DoRead(std::move(owner));
               });
  }

  // Called last: the sink may start the next relay on this object.
  void Finish(RelayOutcome::Result result, boost::beast::error_code ec) {
    outcome_.result = result;
    outcome_.error = ec;
    buffers_.Give(std::move(buffer_));
    if (grew_) in_buffer_->shrink_to_fit();
    body().data = nullptr;
    body().size = 0;
    trailers_.Clear();
    RelaySink* sink = sink_;
    sink_ = nullptr;
    sink->OnRelayed(isRequest, outcome_);
  }

  RelayBuffers& buffers_;
  Trailers trailers_;
  bool grew_ = false;  // in_buffer was grown for this body
  RelaySink* sink_ = nullptr;
  In* in_ = nullptr;
  boost::beast::flat_buffer* in_buffer_ = nullptr;
  Parser* parser_ = nullptr;
  Out* out_ = nullptr;
  std::string_view head_;  // still to write
  BodyFraming framing_ = BodyFraming::kRaw;
  std::chrono::milliseconds read_timeout_{0};
  // No read may end later than this (a route's timeout for the whole exchange).
  std::chrono::steady_clock::time_point read_deadline_;
  std::chrono::milliseconds write_timeout_{0};
  RelayOutcome outcome_;
  RelayBuffers::Buffer buffer_;
  char size_line_[kMaxChunkSizeLine];
  std::string tail_;  // the last chunk and the trailers
};

}  // namespace gw
