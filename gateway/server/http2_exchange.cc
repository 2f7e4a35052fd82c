#include "gateway/server/http2_exchange.h"

#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <array>
#include <boost/asio/buffer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <charconv>
#include <chrono>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include "common/path.h"
#include "gateway/aggregate/aggregator.h"
#include "gateway/exchange/local_reply.h"
#include "gateway/exchange/phases.h"
#include "gateway/http/header_rewrite.h"
#include "gateway/http/request_target.h"
#include "gateway/http/trailers.h"
#include "gateway/http/wire_format.h"
#include "gateway/proxy/forwarder.h"
#include "gateway/server/h2c_bridge.h"
#include "gateway/server/worker.h"

namespace gw {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using Clock = std::chrono::steady_clock;

class Http2Exchange final : public std::enable_shared_from_this<Http2Exchange>,
                            public ForwardSink,
                            private H2cClient {
 public:
  Http2Exchange(Worker& worker, http2::Stream& stream, const std::string& client_ip, bool tls)
      : worker_(worker),
        stream_(&stream),
        client_ip_(client_ip),
        tls_(tls),
        forwarder_(worker.executor(), worker.pool(), worker.settings(), worker.Random()),
        body_timer_(worker.executor()) {}

  void Start();

  // StreamHandler, through ExchangeHandler.
  void OnRequestBody() {
    if (bridge_) return bridge_->OnRequestBody();
    if (phase_ == Phase::kRequestBody) PumpRequest();
  }
  void OnRequestEnd() { OnRequestBody(); }
  http2::BodyPull PullResponseBody(std::span<uint8_t> out);
  void OnClose(uint32_t error_code);

 private:
  enum class Phase {
    kHeader,          // the request header is being decided on
    kOpening,         // Forwarder::Open in progress
    kRequestBody,     // the request body goes upstream
    kResponseHeader,  // Forwarder::ReadResponse in progress
    kResponseBody,    // the response body goes to the client
    kAggregate,       // an aggregate route's parts are being fetched
    kLocal,           // the gateway's own answer goes to the client
    kDone,            // nothing left but the stream's close
  };

  UpstreamConnection& upstream() { return forwarder_.connection(); }
  auto& response_body() { return forwarder_.response_parser().get().body(); }

  void OpenUpstream(bool chunked);
  void OnAggregateAnswer(AggregateAnswer& answer, std::string_view upstreams);
  // H2cClient: an h2c service (gRPC) gets the request through the bridge (h2c_bridge.h).
  std::string_view RequestBody() const override { return stream_->body(); }
  bool RequestEnded() const override { return stream_->request_ended(); }
  const HttpFields& RequestTrailers() const override { return stream_->request_trailers(); }
  void ConsumeRequest(size_t n) override { stream_->Consume(n); }
  void OnBridgeError(ProxyError error) override { ReplyError(error); }
  void OnBridgeResponse(HttpResponseHeader& header, bool has_body) override;
  void OnBridgeResponseBody() override;
  void OnBridgeAbort(uint32_t error_code) override;
  void OnBridgeIdle() override { MaybeFinish(); }
  void OnUpstreamOpen(ProxyError error) override;
  void PumpRequest();
  // The client sends no more of the body for --body-timeout: 408, as over HTTP/1.1.
  void AwaitRequestBody();
  // Writes write_buffers_[0, count); `consume`: the request body bytes among them.
  void WriteUpstream(size_t count, size_t consume);
  void OnRequestWritten(const boost::system::error_code& ec, size_t consume);
  void OnResponseHeader(ProxyError error) override;
  // Parses what the upstream connection's buffer holds into the response window; true when
  // that produced body bytes or ended the body (false with an error, too).
  bool ParseBuffered(beast::error_code& ec);
  void ReadUpstream();
  void OnUpstreamRead(beast::error_code ec);
  void OnUpstreamBody(size_t produced);
  // The client takes none of the response window for --body-timeout (its flow control window
  // stays shut): the stream is reset and the upstream connection closed, as HTTP/1.1 aborts a
  // stalled write.
  void AwaitPull();
  // Whether the client has taken every response body byte the gateway holds for it.
  bool ResponseDrained() const {
    if (phase_ == Phase::kLocal) return offset_ == local_body_.size();
    return bridge_ ? bridge_->ResponseBody().empty() : offset_ == filled_;
  }
  void FailMidResponse();
  void ReplyError(ProxyError error, std::string_view path = {});
  // The gateway's own answer (LocalReply's), with ctx_.reply_headers.
  void ReplyLocal(unsigned status, std::string body,
                  std::string_view content_type = "application/json");
  // Ends the exchange once the stream is closed and no operation of its own is pending: the
  // upstream released (closed unless the exchange completed), the log line, the stream freed.
  void MaybeFinish();

  Worker& worker_;
  http2::Stream* stream_;  // null once released
  std::string client_ip_;
  bool tls_;
  RequestContext ctx_;
  HttpRequest request_;
  std::string method_, target_;  // as the client sent them, for the log
  std::string scratch_;
  Forwarder forwarder_;
  SteadyTimer body_timer_;
  Phase phase_ = Phase::kHeader;
  bool forwarder_pending_ = false;  // Open or ReadResponse will call back
  bool writing_ = false;            // a write to the upstream is in flight
  bool reading_ = false;            // a read from the upstream is in flight
  bool closed_ = false;             // OnClose came
  bool aborted_ = false;            // the gateway reset the stream mid-response
  bool client_reset_ = false;       // the stream closed with an error
  bool finished_ = false;
  // Request body.
  bool upstream_chunked_ = false;
  bool request_tail_sent_ = false;
  uint64_t body_limit_ = 0;  // 0: none
  char size_line_[kMaxChunkSizeLine];
  std::array<asio::const_buffer, 3> write_buffers_;  // of the write in flight
  std::string tail_;                                 // the last chunk and the trailers
  // Response body: the window [offset_, filled_) of buffer_ not yet pulled.
  RelayBuffers::Buffer buffer_;
  size_t offset_ = 0;
  size_t filled_ = 0;
  uint64_t pulls_ = 0;          // PullResponseBody calls that took bytes
  bool upstream_done_ = false;  // the upstream's response body is read whole
  Trailers trailers_;
  std::string local_body_;
  std::optional<H2cBridge> bridge_;  // the target is an h2c service
  // An aggregate route's fan-out; kept until the exchange ends (its answer counts against the
  // worker's budget until then).
  std::shared_ptr<Aggregator> aggregate_;
};

void Http2Exchange::Start() {
  ctx_.client_ip = client_ip_;
  ctx_.tls = tls_;
  ctx_.http_version = 20;
  ctx_.record.started = Clock::now();
  request_.base() = stream_->TakeRequest();
  method_.assign(ToStd(request_.method_string()));
  target_.assign(ToStd(request_.target()));
  ctx_.head_request = request_.method() == http::verb::head;

  if (const UnderscoreHeaders policy = worker_.settings().underscore_headers;
      policy != UnderscoreHeaders::kAllow) {
    if (const size_t found = StripUnderscoreHeaders(request_, policy == UnderscoreHeaders::kDrop)) {
      WorkerMetrics* metrics = worker_.metrics();
      if (policy == UnderscoreHeaders::kReject) {
        if (metrics) metrics->underscore_headers_rejected.Add(found);
        return ReplyError(ProxyError::kUnderscoreHeader);
      }
      if (metrics) metrics->underscore_headers_dropped.Add(found);
    }
  }
  const auto target = SplitRequestTarget(target_);
  // :path is origin-form (RFC 9113 section 8.3.1); the authority is :authority's alone.
  if (!target || target->absolute_form) return ReplyError(ProxyError::kBadRequest);
  const auto path = NormalizePath(target->path);
  if (!path) return ReplyError(ProxyError::kInvalidPath);

  if (const ProxyError error = RouteRequest(ctx_, request_, *path, worker_.routes());
      error != ProxyError::kNone) {
    return ReplyError(error, *path);
  }
  if (const Verdict verdict = RequestFilter(ctx_, request_, worker_.exchange(), scratch_);
      verdict.answered()) {
    if (verdict.error != ProxyError::kNone) return ReplyError(verdict.error);
    return ReplyLocal(verdict.status, {});
  }
  if (ctx_.record.route->is_aggregate()) {
    UpstreamRequestFilter(ctx_, request_, *path, *target, scratch_);  // the route's header rules
    phase_ = Phase::kAggregate;
    ctx_.record.upstream_opened = Clock::now();
    aggregate_ = Aggregator::Start(
        worker_.aggregate_services(), worker_.Random(), ctx_.table, *ctx_.record.route, request_,
        *path, *target,
        [self = shared_from_this()](AggregateAnswer& answer, std::string_view upstreams) {
          self->OnAggregateAnswer(answer, upstreams);
        });
    return;
  }
  PickUpstream(ctx_, worker_.Random());
  UpstreamRequestFilter(ctx_, request_, *path, *target, scratch_);

  body_limit_ = ctx_.record.route->BodyLimit(worker_.settings().max_body_size);
  std::optional<uint64_t> length;
  if (const auto value = request_[http::field::content_length]; !value.empty()) {
    // nghttp2 holds the DATA to it: a mismatch or a malformed value resets the stream.
    uint64_t parsed = 0;
    if (std::from_chars(value.data(), value.data() + value.size(), parsed).ec != std::errc()) {
      return ReplyError(ProxyError::kBadRequest);
    }
    length = parsed;
  }
  if (stream_->request_ended()) length = 0;  // END_STREAM on the HEADERS: no body
  if (body_limit_ != 0 && length.value_or(0) > body_limit_) {
    return ReplyError(ProxyError::kBodyTooLarge);
  }
  if (ctx_.upstream->protocol == gateway::v1::UPSTREAM_H2C) {
    bridge_.emplace(worker_, forwarder_, ctx_, request_, static_cast<H2cClient&>(*this));
    return bridge_->Start(shared_from_this(), body_limit_);
  }
  request_.version(11);
  FrameUpstreamRequest(request_, ctx_.upstream_target, length, !length);
  OpenUpstream(!length);
}

void Http2Exchange::OnAggregateAnswer(AggregateAnswer& answer, std::string_view upstreams) {
  phase_ = Phase::kDone;
  RequestRecord& record = ctx_.record;
  record.upstream_answered = Clock::now();
  record.upstream.assign(upstreams);
  record.reason = answer.reason;
  if (closed_) return MaybeFinish();
  for (auto& header : answer.headers) ctx_.reply_headers.push_back(std::move(header));
  FilterComposedReply(ctx_, answer.status, ToStd(request_[http::field::origin]));
  ReplyLocal(answer.status, std::move(answer.body));
}

void Http2Exchange::OnBridgeResponse(HttpResponseHeader& header, bool has_body) {
  phase_ = has_body ? Phase::kResponseBody : Phase::kDone;
  stream_->SubmitResponse(header, has_body);
}

void Http2Exchange::OnBridgeResponseBody() {
  if (const HttpFields& trailers = bridge_->response_trailers();
      bridge_->response_done() && trailers.begin() != trailers.end()) {
    stream_->SetResponseTrailers(trailers);
  }
  if (!bridge_->ResponseBody().empty()) AwaitPull();
  stream_->Resume();
}

void Http2Exchange::OnBridgeAbort(uint32_t error_code) {
  body_timer_.cancel();
  aborted_ = true;
  phase_ = Phase::kDone;
  stream_->Reset(error_code);
}

void Http2Exchange::OpenUpstream(bool chunked) {
  upstream_chunked_ = chunked;
  phase_ = Phase::kOpening;
  forwarder_pending_ = true;
  ctx_.record.upstream_opened = Clock::now();
  forwarder_.Open(shared_from_this(), *this, request_, *ctx_.upstream,
                  request_.count(http::field::host) == 0, false, ctx_.record.route->exchange);
}

void Http2Exchange::OnUpstreamOpen(ProxyError error) {
  forwarder_pending_ = false;
  if (closed_) return MaybeFinish();
  if (error == ProxyError::kCircuitOpen) {
    ctx_.reply_headers.emplace_back("X-Circuit-Breaker", forwarder_.circuit_refusal());
  }
  if (error != ProxyError::kNone) return ReplyError(error);
  if (worker_.access_log()) {
    ctx_.record.upstream = FormatHostPort(forwarder_.endpoint()->host, forwarder_.endpoint()->port);
  }
  phase_ = Phase::kRequestBody;
  PumpRequest();
}

void Http2Exchange::PumpRequest() {
  if (writing_ || closed_) return;
  const std::string_view body = stream_->body();
  if (!body.empty()) {
    const size_t n = std::min(body.size(), kRelayBufferSize);
    if (body_limit_ != 0 && ctx_.record.bytes_in + n > body_limit_) {
      forwarder_.Release(false);  // the upstream got part of a request: never reused
      return ReplyError(ProxyError::kBodyTooLarge);
    }
    if (!buffer_) buffer_ = worker_.relay_buffers().Take();
    std::memcpy(buffer_.get(), body.data(), n);
    size_t count = 0;
    if (upstream_chunked_) {
      write_buffers_[count++] = asio::buffer(size_line_, FormatChunkSizeLine(n, size_line_));
    }
    write_buffers_[count++] = asio::buffer(buffer_.get(), n);
    if (upstream_chunked_) write_buffers_[count++] = asio::buffer(kCrlf.data(), kCrlf.size());
    return WriteUpstream(count, n);
  }
  if (!stream_->request_ended()) return AwaitRequestBody();  // OnRequestBody calls again
  if (upstream_chunked_ && !request_tail_sent_) {
    request_tail_sent_ = true;
    tail_.assign(kLastChunk);
    for (const auto& field : stream_->request_trailers()) {
      if (!IsForwardableTrailer(ToStd(field.name_string()))) continue;
      tail_.append(ToStd(field.name_string())).append(": ").append(ToStd(field.value()));
      tail_.append(kCrlf);
    }
    tail_.append(kCrlf);
    write_buffers_[0] = asio::buffer(tail_);
    return WriteUpstream(1, 0);
  }
  worker_.relay_buffers().Give(std::move(buffer_));
  phase_ = Phase::kResponseHeader;
  forwarder_pending_ = true;
  forwarder_.ReadResponse(shared_from_this(), ctx_.record.bytes_in > 0);
}

void Http2Exchange::AwaitRequestBody() {
  body_timer_.expires_after(worker_.settings().body_timeout);  // cancels the previous wait
  body_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (ec || self->closed_ || self->phase_ != Phase::kRequestBody || self->writing_) return;
    self->forwarder_.Release(false);  // the upstream got part of a request: never reused
    self->ReplyError(ProxyError::kRequestTimeout);
  });
}

void Http2Exchange::WriteUpstream(size_t count, size_t consume) {
  writing_ = true;
  upstream().stream.expires_after(worker_.settings().upstream_timeout);
  asio::async_write(
      upstream().stream, std::span(write_buffers_.data(), count),
      [self = shared_from_this(), consume](const boost::system::error_code& ec, size_t) {
        self->OnRequestWritten(ec, consume);
      });
}

void Http2Exchange::OnRequestWritten(const boost::system::error_code& ec, size_t consume) {
  writing_ = false;
  if (closed_) return MaybeFinish();
  upstream().stream.expires_never();
  if (ec) {
    // The upstream stopped taking the body, often because it answered already (401, 413...):
    // that answer goes to the client, the rest of the request body is not passed on.
    worker_.relay_buffers().Give(std::move(buffer_));
    phase_ = Phase::kResponseHeader;
    forwarder_pending_ = true;
    return forwarder_.ReadEarlyResponse(shared_from_this(),
                                        ClassifyUpstreamError(UpstreamStage::kExchange, ec));
  }
  ctx_.record.bytes_in += consume;
  stream_->Consume(consume);  // the client may send the next window
  PumpRequest();
}

void Http2Exchange::OnResponseHeader(ProxyError error) {
  forwarder_pending_ = false;
  if (closed_) return MaybeFinish();
  RequestRecord& record = ctx_.record;
  record.retries = forwarder_.retries_done();
  if (WorkerMetrics* metrics = worker_.metrics(); metrics && record.retries > 0) {
    metrics->upstream_retries.Add(record.retries);
  }
  if (error != ProxyError::kNone) return ReplyError(error);
  record.upstream_answered = Clock::now();
  if (WorkerMetrics* metrics = worker_.metrics()) {
    metrics->ObserveUpstreamLatency(record.upstream_answered - record.upstream_opened);
  }
  ResponseParser& parser = forwarder_.response_parser();
  HttpResponse& response = parser.get();
  ResponseFilter(ctx_, response, ToStd(request_[http::field::origin]));
  const unsigned status = response.result_int();
  record.status = status;
  const HttpResponseHeader& header = response.base();  // its version is HTTP/1.1's: unused
  if (ctx_.head_request || status < 200 || status == 204 || status == 304) {
    // No body: the upstream connection is free before the client has the answer.
    forwarder_.ResponseRead();
    forwarder_.Release(parser.is_done());
    phase_ = Phase::kDone;
    return stream_->SubmitResponse(header, false);
  }
  phase_ = Phase::kResponseBody;
  if (parser.is_done()) {  // an empty body (Content-Length: 0)
    OnUpstreamBody(0);
    return stream_->SubmitResponse(header, false);
  }
  if (parser.chunked()) trailers_.Watch(parser);
  if (!buffer_) buffer_ = worker_.relay_buffers().Take();
  offset_ = filled_ = 0;
  upstream_done_ = false;
  stream_->SubmitResponse(header, true);
}

http2::BodyPull Http2Exchange::PullResponseBody(std::span<uint8_t> out) {
  if (phase_ == Phase::kLocal) {
    const size_t n = std::min(out.size(), local_body_.size() - offset_);
    std::memcpy(out.data(), local_body_.data() + offset_, n);
    if (n > 0) ++pulls_;
    offset_ += n;
    const bool last = offset_ == local_body_.size();
    if (last) body_timer_.cancel();  // AwaitPull's watch ends with the body
    return {n, last};
  }
  if (bridge_) {
    const auto body = bridge_->ResponseBody();
    const size_t n = std::min(out.size(), body.size());
    if (n > 0) {
      std::memcpy(out.data(), body.data(), n);
      ++pulls_;
      ctx_.record.bytes_out += n;
      bridge_->ConsumeResponse(n);  // the client took them: the upstream may send more
    }
    return {n, bridge_->response_done() && bridge_->ResponseBody().empty()};
  }
  if (offset_ == filled_ && !upstream_done_ && !reading_) {
    // Drained: refill from what the upstream connection holds, else read more.
    beast::error_code ec;
    if (ParseBuffered(ec)) {
      if (ec) {
        FailMidResponse();
        return {};
      }
      OnUpstreamBody(kRelayBufferSize - response_body().size);
    } else {
      ReadUpstream();
    }
  }
  const size_t n = std::min(out.size(), filled_ - offset_);
  if (n > 0) {
    std::memcpy(out.data(), buffer_.get() + offset_, n);
    ++pulls_;
  }
  offset_ += n;
  ctx_.record.bytes_out += n;
  return {n, upstream_done_ && offset_ == filled_};
}

bool Http2Exchange::ParseBuffered(beast::error_code& ec) {
  ResponseParser& parser = forwarder_.response_parser();
  if (upstream_done_) return false;
  response_body().data = buffer_.get();
  response_body().size = kRelayBufferSize;
  auto& in = upstream().buffer;
  while (in.size() > 0 && response_body().size > 0 && !parser.is_done()) {
    const size_t used = parser.put(in.data(), ec);
    in.consume(used);
    if (ec == http::error::need_more || ec == http::error::need_buffer) {
      ec = {};
      break;
    }
    if (ec) return true;
    if (used == 0) break;
  }
  return response_body().size < kRelayBufferSize || parser.is_done();
}

void Http2Exchange::ReadUpstream() {
  reading_ = true;
  UpstreamConnection& connection = upstream();
  connection.stream.expires_at(
      std::min(Clock::now() + worker_.settings().upstream_timeout, forwarder_.exchange_deadline()));
  http::async_read_some(
      connection.stream, connection.buffer, forwarder_.response_parser(),
      [self = shared_from_this()](beast::error_code ec, size_t) { self->OnUpstreamRead(ec); });
}

void Http2Exchange::OnUpstreamRead(beast::error_code ec) {
  reading_ = false;
  if (closed_) return MaybeFinish();
  upstream().stream.expires_never();
  if (ec == http::error::need_buffer) ec = {};
  if (ec) return FailMidResponse();
  const size_t produced = kRelayBufferSize - response_body().size;
  if (produced == 0 && !forwarder_.response_parser().is_done()) return ReadUpstream();
  OnUpstreamBody(produced);
  stream_->Resume();
}

void Http2Exchange::AwaitPull() {
  body_timer_.expires_after(worker_.settings().body_timeout);
  body_timer_.async_wait(
      [self = shared_from_this(), pulls = pulls_](const boost::system::error_code& ec) {
        if (ec || self->closed_ || self->ResponseDrained()) return;
        if (self->pulls_ != pulls) return self->AwaitPull();  // slow, not stalled
        self->FailMidResponse();
      });
}

void Http2Exchange::OnUpstreamBody(size_t produced) {
  offset_ = 0;
  filled_ = produced;
  if (produced > 0) AwaitPull();
  ResponseParser& parser = forwarder_.response_parser();
  if (!parser.is_done()) return;
  upstream_done_ = true;
  trailers_.Collect();
  if (!trailers_.empty()) stream_->SetResponseTrailers(ParseWireFields(trailers_.wire()));
  forwarder_.ResponseRead();
  forwarder_.Release(true);
  phase_ = Phase::kDone;
}

void Http2Exchange::FailMidResponse() {
  if (bridge_ && bridge_->busy()) return bridge_->Abort(ProxyError::kUpstreamFailed);
  // The client has the header: only a reset tells it the body is incomplete.
  body_timer_.cancel();
  forwarder_.Release(false);
  aborted_ = true;
  phase_ = Phase::kDone;
  stream_->Reset(NGHTTP2_INTERNAL_ERROR);
}

void Http2Exchange::ReplyError(ProxyError error, std::string_view path) {
  LocalReply reply = MakeErrorReply(ctx_, error, path, &request_.base(), worker_.metrics());
  ReplyLocal(reply.status, std::move(reply.body), reply.content_type);
}

void Http2Exchange::ReplyLocal(unsigned status, std::string body, std::string_view content_type) {
  phase_ = Phase::kLocal;
  worker_.relay_buffers().Give(std::move(buffer_));
  ctx_.record.status = status;
  HttpResponseHeader header;
  header.version(20);
  header.result(status);
  if (!ctx_.request_id.empty()) header.set("X-Request-Id", ToBeast(ctx_.request_id));
  for (const auto& [name, value] : ctx_.reply_headers) header.insert(ToBeast(name), ToBeast(value));
  if (status != 204) {
    header.set(http::field::content_type, ToBeast(content_type));
    header.set(http::field::content_length, std::to_string(body.size()));
  }
  // For HEAD the length is announced, the body not sent.
  if (ctx_.head_request) body.clear();
  local_body_ = std::move(body);
  offset_ = 0;
  ctx_.record.bytes_out = local_body_.size();
  stream_->SubmitResponse(header, !local_body_.empty());
  // A client that takes none of it (its window kept shut) is reset as for a proxied body: an
  // aggregate's answer holds the worker's --aggregate-buffer until the stream ends.
  // (SubmitResponse may have sent it all already.)
  if (!ResponseDrained()) AwaitPull();
}

void Http2Exchange::OnClose(uint32_t error_code) {
  closed_ = true;
  client_reset_ = error_code != NGHTTP2_NO_ERROR;
  // An operation on the upstream connection in flight ends at once: the connection closes.
  if (writing_ || reading_) upstream().stream.close();
  // So does the forwarder's step in progress (a connect, a wait for a place, the response
  // header's read): the stream's place is not held until that step's timeout.
  if (forwarder_pending_) forwarder_.Cancel();
  // An upstream stream still open is cancelled; MaybeFinish waits for the bridge.
  if (bridge_) bridge_->Cancel();
  if (phase_ == Phase::kAggregate) aggregate_->Cancel();
  MaybeFinish();
}

void Http2Exchange::MaybeFinish() {
  if (!closed_ || finished_ || forwarder_pending_ || writing_ || reading_ ||
      phase_ == Phase::kAggregate || (bridge_ && bridge_->busy())) {
    return;
  }
  finished_ = true;
  body_timer_.cancel();
  forwarder_.Release(false);  // still active: the exchange did not complete, never pooled
  const RequestRecord::End end = aborted_        ? RequestRecord::End::kAborted
                                 : client_reset_ ? RequestRecord::End::kClientGone
                                                 : RequestRecord::End::kResponded;
  LogExchange(ctx_, end, worker_.exchange(), method_, target_);
  worker_.relay_buffers().Give(std::move(buffer_));
  trailers_.Clear();
  aggregate_.reset();
  http2::Stream* stream = std::exchange(stream_, nullptr);
  stream->Release();
}

// Owned by the stream; the exchange is shared with its pending operations, which may outlive
// the handler by the time they take to complete.
class ExchangeHandler final : public http2::StreamHandler {
 public:
  explicit ExchangeHandler(std::shared_ptr<Http2Exchange> exchange)
      : exchange_(std::move(exchange)) {}
  void OnRequestBody() override { exchange_->OnRequestBody(); }
  void OnRequestEnd() override { exchange_->OnRequestEnd(); }
  http2::BodyPull PullResponseBody(std::span<uint8_t> out) override {
    return exchange_->PullResponseBody(out);
  }
  void OnClose(uint32_t error_code) override { exchange_->OnClose(error_code); }

 private:
  std::shared_ptr<Http2Exchange> exchange_;
};

}  // namespace

http2::StreamHandlerFactory MakeExchangeHandlerFactory(Worker& worker, std::string client_ip,
                                                       bool tls) {
  return [&worker, client_ip = std::move(client_ip), tls](http2::Stream& stream) {
    auto exchange = std::make_shared<Http2Exchange>(worker, stream, client_ip, tls);
    auto handler = std::make_unique<ExchangeHandler>(exchange);
    exchange->Start();
    return handler;
  };
}

}  // namespace gw
