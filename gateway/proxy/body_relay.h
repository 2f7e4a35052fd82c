// BodyRelay: streams one message body from one connection to another through a fixed buffer.
//
// The core of a proxy that never holds a whole body (after Beast's `relay` example in
// http_examples.hpp): the parser reads the body from `in` into the relay's buffer
// (buffer_body), the serializer writes that window to `out` in the framing its message header
// announces (Content-Length as is, chunked re-chunked, close-delimited raw), and the next read
// starts only when the write is done. Memory per relay: kRelayBufferSize for the body window
// and as much for the input's read buffer while it lasts, whatever the body size. A read idle
// for `read_timeout` ends the relay with kReadTimeout (the input socket stays open, so a client
// can still be answered 408); a write idle for `write_timeout` ends it with kWriteFailed.
// Owned by a Session, one per direction, reused for each request; runs on the session's worker
// thread; never throws.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <chrono>
#include <cstdint>
#include <memory>

#include "gateway/proxy/http_message.h"
#include "gateway/proxy/proxy_settings.h"
#include "gateway/proxy/read_deadline.h"

namespace gw {

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
};

// Receives the end of a relay, exactly once per Start, on the worker thread.
class RelaySink {
 public:
  virtual void OnRelayed(bool request_body, const RelayOutcome& outcome) = 0;

 protected:
  ~RelaySink() = default;
};

template <bool isRequest>
class BodyRelay {
 public:
  using Parser = boost::beast::http::parser<isRequest, boost::beast::http::buffer_body>;
  using Serializer = boost::beast::http::serializer<isRequest, boost::beast::http::buffer_body>;

  explicit BodyRelay(const boost::asio::any_io_executor& executor) : deadline_(executor) {}

  // Relays the body of the message whose header `parser` read from `in` (with `in_buffer`
  // holding what was read past it) and whose header `serializer` (over the parser's message)
  // already wrote to `out`. `owner` keeps every referenced object alive until
  // sink.OnRelayed; it is held by the pending operation. The relay buffer is allocated here and
  // freed when the relay ends, so an idle connection holds none.
  void Start(std::shared_ptr<void> owner, RelaySink& sink, boost::beast::tcp_stream& in,
             boost::beast::flat_buffer& in_buffer, Parser& parser, boost::beast::tcp_stream& out,
             Serializer& serializer, std::chrono::milliseconds read_timeout,
             std::chrono::milliseconds write_timeout) {
    Start(std::move(owner), sink, in, in_buffer, parser, out, serializer, read_timeout,
          write_timeout, nullptr, 0);
  }

  // The same, with the first `filled` body bytes already read into `buffer` (of
  // kRelayBufferSize bytes, taken over by the relay): they are written first.
  void Start(std::shared_ptr<void> owner, RelaySink& sink, boost::beast::tcp_stream& in,
             boost::beast::flat_buffer& in_buffer, Parser& parser, boost::beast::tcp_stream& out,
             Serializer& serializer, std::chrono::milliseconds read_timeout,
             std::chrono::milliseconds write_timeout, std::unique_ptr<char[]> buffer,
             size_t filled) {
    sink_ = &sink;
    in_ = &in;
    in_buffer_ = &in_buffer;
    parser_ = &parser;
    out_ = &out;
    serializer_ = &serializer;
    read_timeout_ = read_timeout;
    write_timeout_ = write_timeout;
    outcome_ = {};
    // Not value-initialized: every byte is written by a read before it is sent.
    buffer_ = buffer ? std::move(buffer) : std::make_unique_for_overwrite<char[]>(kRelayBufferSize);
    // Reads go through `in_buffer` and are as large as its free capacity: grown for a body that
    // is not all here yet, shrunk back at the end so an idle connection keeps a small buffer. A
    // small body that arrived with its header (the common case) needs neither.
    const auto remaining = parser.content_length();
    grew_ = !(remaining && *remaining <= in_buffer.size());
    if (grew_) in_buffer.reserve(kRelayBufferSize);
    if (filled == 0) return DoRead(std::move(owner));
    body().data = buffer_.get();
    body().size = filled;
    body().more = !parser_->is_done();
    DoWrite(std::move(owner), filled);
  }

 private:
  using Owner = std::shared_ptr<void>;

  auto& body() { return parser_->get().body(); }

  void DoRead(Owner owner) {
    if (parser_->is_done()) {  // complete the message on `out` (a last chunk, or nothing)
      body().data = nullptr;
      body().size = 0;
      body().more = false;
      return DoWrite(std::move(owner), 0);
    }
    body().data = buffer_.get();
    body().size = kRelayBufferSize;
    in_->expires_never();
    deadline_.Arm(owner, in_->socket(), read_timeout_);
    boost::beast::http::async_read_some(
        *in_, *in_buffer_, *parser_,
        [this, owner = std::move(owner)](boost::beast::error_code ec, size_t) mutable {
          OnRead(std::move(owner), ec);
        });
  }

  void OnRead(Owner owner, boost::beast::error_code ec) {
    deadline_.Disarm();
    if (ec == boost::beast::http::error::need_buffer) ec = {};
    if (ec) {
      return Finish(deadline_.expired() ? RelayOutcome::Result::kReadTimeout
                                        : RelayOutcome::Result::kReadFailed,
                    ec);
    }
    const size_t produced = kRelayBufferSize - body().size;
    // Nothing for the body yet (a chunk header, say): a zero-size window with more to come
    // must not reach the serializer, which could take it for the last chunk.
    if (produced == 0 && !parser_->is_done()) return DoRead(std::move(owner));
    body().data = produced == 0 ? nullptr : buffer_.get();
    body().size = produced;
    body().more = !parser_->is_done();
    DoWrite(std::move(owner), produced);
  }

  void DoWrite(Owner owner, size_t bytes) {
    out_->expires_after(write_timeout_);
    boost::beast::http::async_write(
        *out_, *serializer_,
        [this, owner = std::move(owner), bytes](boost::beast::error_code ec, size_t) mutable {
          if (ec == boost::beast::http::error::need_buffer) ec = {};
          if (ec) return Finish(RelayOutcome::Result::kWriteFailed, ec);
          outcome_.bytes += bytes;
          if (serializer_->is_done() || (parser_->is_done() && bytes == 0)) {
            return Finish(RelayOutcome::Result::kDone, {});
          }
          DoRead(std::move(owner));
        });
  }

  // Called last: the sink may start the next relay on this object.
  void Finish(RelayOutcome::Result result, boost::beast::error_code ec) {
    outcome_.result = result;
    outcome_.error = ec;
    buffer_.reset();
    if (grew_) in_buffer_->shrink_to_fit();
    body().data = nullptr;
    body().size = 0;
    RelaySink* sink = sink_;
    sink_ = nullptr;
    sink->OnRelayed(isRequest, outcome_);
  }

  ReadDeadline deadline_;
  bool grew_ = false;  // in_buffer was grown for this body
  RelaySink* sink_ = nullptr;
  boost::beast::tcp_stream* in_ = nullptr;
  boost::beast::flat_buffer* in_buffer_ = nullptr;
  Parser* parser_ = nullptr;
  boost::beast::tcp_stream* out_ = nullptr;
  Serializer* serializer_ = nullptr;
  std::chrono::milliseconds read_timeout_{0};
  std::chrono::milliseconds write_timeout_{0};
  RelayOutcome outcome_;
  std::unique_ptr<char[]> buffer_;
};

}  // namespace gw
