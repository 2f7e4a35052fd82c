// Stream: one request/response exchange on an HTTP/2 connection, as its handler sees it.
//
// The connection makes a Stream when a request's HEADERS begin, and asks its StreamHandlerFactory
// for the stream's handler once the header block is complete and converted (header_conversion.h).
// From then on the handler is told about the request body, its end (and trailers) and the
// stream's close; it answers through the Stream: SubmitResponse, a body it is asked for piece by
// piece (PullResponseBody, which may defer until Resume), trailers, or Reset.
//
// Flow control is manual: received body bytes wait in the stream's window, body(), until the
// handler has passed them on and calls Consume(n), which is what lets nghttp2 send WINDOW_UPDATE.
// A handler that never consumes stalls its own stream only (65535 bytes), never the connection.
//
// Lifetime: the connection owns its streams and each stream owns its handler. OnClose comes
// exactly once (answered, reset by either side, or the connection gone); the stream then still
// counts against the connection's stream limit until the handler calls Release(), when nothing of
// its own (an upstream exchange being torn down, a timer) uses the stream any more: a client that
// resets streams cannot start work faster than the gateway tears it down (CVE-2023-44487). A
// stream holds its connection alive until it is released. All on the connection's thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "gateway/http/http_message.h"
#include "gateway/http2/header_conversion.h"

namespace gw::http2 {

class Connection;
class Stream;

// What one PullResponseBody produced: `size` bytes written, `end` when the body is complete.
// {0, false} defers: nothing is sent until Stream::Resume().
struct BodyPull {
  size_t size = 0;
  bool end = false;
};

// What the gateway does with one request. Implemented by the exchange; the tests have their own.
class StreamHandler {
 public:
  virtual ~StreamHandler() = default;
  // More request body arrived in stream.body().
  virtual void OnRequestBody() = 0;
  // The request is complete (END_STREAM); its trailers, if any, are in stream.request_trailers().
  virtual void OnRequestEnd() = 0;
  // After SubmitResponse(…, true): up to out.size() bytes of the response body.
  virtual BodyPull PullResponseBody(std::span<uint8_t> out) = 0;
  // The stream is closed: answered, reset (NGHTTP2_NO_ERROR when the response completed, the
  // RST_STREAM code otherwise) or the connection is gone (NGHTTP2_CANCEL). Exactly once; the
  // Stream's answering calls are no-ops from here on. Call stream.Release() when done with it.
  virtual void OnClose(uint32_t error_code) = 0;
};

// Makes the handler of a stream whose request header is complete. Returns non-null; it may
// answer at once (SubmitResponse from inside the factory is fine).
using StreamHandlerFactory = std::function<std::unique_ptr<StreamHandler>(Stream&)>;

class Stream {
 public:
  Stream(std::shared_ptr<Connection> connection, int32_t id, size_t max_header_bytes);
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  int32_t id() const { return id_; }
  // The converted request header (header_conversion.h) and its :scheme.
  const HttpRequestHeader& request() const { return request_.header(); }
  // The request header moved out, for the handler that keeps it (request() is empty after).
  HttpRequestHeader TakeRequest() { return std::move(request_.header()); }
  const std::string& scheme() const { return request_.scheme(); }
  // END_STREAM came: the body in body() is the last of it.
  bool request_ended() const { return request_ended_; }
  const HttpFields& request_trailers() const;
  // Received request body not yet consumed; at most the stream's window.
  std::string_view body() const { return body_; }
  bool closed() const { return closed_; }

  // The first `n` bytes of body() were passed on: they leave body() and the peer may send more.
  void Consume(size_t n);
  // The response header; `has_body`: PullResponseBody is asked for the body, else the response
  // ends with the header. Once per stream.
  void SubmitResponse(const HttpResponseHeader& header, bool has_body);
  // Sent after the body, whose last DATA frame then does not end the stream. Before the pull
  // that reports the end.
  void SetResponseTrailers(HttpFields trailers);
  // PullResponseBody deferred and has something now.
  void Resume();
  // RST_STREAM with `error_code` (an nghttp2_error_code).
  void Reset(uint32_t error_code);
  // After OnClose: the handler no longer uses the stream; the connection frees it (posted, so
  // the handler may call this from inside its own callbacks).
  void Release();

 private:
  friend class Connection;

  std::shared_ptr<Connection> connection_;  // until released
  int32_t id_;
  RequestHeaderBuilder request_;
  std::optional<TrailerBuilder> trailers_;  // from the second HEADERS on
  std::string body_;                        // received, not yet consumed
  std::unique_ptr<StreamHandler> handler_;  // null until the header is complete, or never
  std::optional<HttpFields> response_trailers_;
  bool request_ended_ = false;
  bool discard_body_ = false;  // answered locally or refused: body bytes are consumed on arrival
  bool response_submitted_ = false;
  bool response_headers_sent_ = false;
  bool reset_by_peer_ = false;
  bool closed_ = false;
  bool released_ = false;
};

}  // namespace gw::http2
