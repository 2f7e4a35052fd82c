#include "gateway/server/h2c_bridge.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "gateway/exchange/local_reply.h"
#include "gateway/exchange/phases.h"
#include "gateway/http/trailers.h"
#include "gateway/server/worker.h"

namespace gw {

namespace http = boost::beast::http;

HttpFields ParseWireFields(std::string_view wire) {
  HttpFields fields;
  while (!wire.empty()) {
    const size_t end = wire.find("\r\n");
    const std::string_view line = wire.substr(0, end);
    wire.remove_prefix(end == std::string_view::npos ? wire.size() : end + 2);
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
      value.remove_prefix(1);
    }
    fields.insert(ToBeast(line.substr(0, colon)), ToBeast(value));
  }
  return fields;
}

H2cBridge::H2cBridge(Worker& worker, Forwarder& forwarder, RequestContext& ctx,
                     HttpRequest& request, H2cClient& client)
    : worker_(worker),
      forwarder_(forwarder),
      ctx_(ctx),
      request_(request),
      client_(client),
      timer_(worker.executor()),
      body_timer_(worker.executor()) {}

H2cBridge::~H2cBridge() { worker_.relay_buffers().Give(std::move(buffer_)); }

void H2cBridge::Start(std::shared_ptr<void> owner, uint64_t body_limit) {
  owner_ = std::move(owner);
  body_limit_ = body_limit;
  request_.target(ToBeast(ctx_.upstream_target));
  grpc_ = IsGrpcRequest(request_);
  // gRPC's servers require it; the hop-by-hop rules dropped the client's.
  if (grpc_) request_.set(http::field::te, "trailers");
  ctx_.record.upstream_opened = Clock::now();
  Open();
}

void H2cBridge::Open() {
  phase_ = Phase::kOpening;
  forwarder_pending_ = true;
  forwarder_.OpenMultiplexed(owner_, *this, request_, *ctx_.upstream, ctx_.record.route->exchange,
                             [this](const HostPort& endpoint) {
                               h2_ = worker_.h2_pool().Acquire(endpoint);
                               if (h2_ == refused_) h2_.reset();
                               return h2_ != nullptr;
                             });
}

void H2cBridge::OnUpstreamOpen(ProxyError error) {
  forwarder_pending_ = false;
  if (cancelled_) return BecomeIdle();
  if (abort_error_ != ProxyError::kNone) {
    forwarder_.Release(false);  // a new connection, if any, carried nothing
    return Fail(abort_error_);
  }
  if (error == ProxyError::kCircuitOpen) {
    ctx_.reply_headers.emplace_back("X-Circuit-Breaker", forwarder_.circuit_refusal());
  }
  if (error != ProxyError::kNone) return Fail(error);
  if (worker_.access_log()) {
    ctx_.record.upstream = FormatHostPort(forwarder_.endpoint()->host, forwarder_.endpoint()->port);
  }
  Submit();
}

void H2cBridge::OnResponseHeader(ProxyError error) {
  // OpenMultiplexed reads no response; a failure after the pick comes here all the same.
  forwarder_pending_ = false;
  if (cancelled_) return BecomeIdle();
  Fail(error == ProxyError::kNone ? ProxyError::kUpstreamFailed : error);
}

void H2cBridge::Submit() {
  const HostPort endpoint = *forwarder_.endpoint();
  if (UpstreamConnectionPtr connection = forwarder_.TakeConnection()) {
    h2_ = MakeH2ClientConnection(std::move(connection->stream.socket()), worker_.h2_settings());
    // What is left of the connection record, its place under the service's max_connections
    // and its count in gateway_upstream_connections, lives as long as the h2c connection.
    h2_->HoldUntilClosed(std::shared_ptr<UpstreamConnection>(std::move(connection)));
    worker_.h2_pool().Add(endpoint, h2_);
  }
  const bool end = client_.RequestEnded() && client_.RequestBody().empty();
  const int32_t id = h2_->Submit(request_.base(), end, *this);
  if (id < 0) {
    // The connection went or filled up since the pick.
    if (Retry()) return;
    return Fail(ProxyError::kUpstreamFailed);
  }
  id_ = id;
  open_ = true;
  phase_ = Phase::kResponseHeader;
  const auto per_try = ctx_.record.route->exchange.per_try_timeout;
  const auto wait = per_try.count() > 0 ? per_try : worker_.settings().upstream_timeout;
  ArmTimer(std::min(Clock::now() + wait, forwarder_.exchange_deadline()));
}

bool H2cBridge::Retry() {
  if (refused_ || ctx_.record.bytes_in != replay_) return false;
  ctx_.record.bytes_in = 0;
  replay_ = 0;
  refused_ = std::move(h2_);
  id_ = 0;
  ctx_.record.retries = 1;
  if (WorkerMetrics* metrics = worker_.metrics()) metrics->upstream_retries.Add(1);
  Open();
  return true;
}

void H2cBridge::OnRequestBody() {
  if (!open_) return;  // pulled once the stream is open
  if (body_limit_ != 0 &&
      ctx_.record.bytes_in - replay_ + client_.RequestBody().size() > body_limit_) {
    return Abort(ProxyError::kBodyTooLarge);
  }
  h2_->ResumeRequest(id_);
}

http2::BodyPull H2cBridge::PullRequestBody(std::span<uint8_t> out) {
  if (cancelled_) return {};
  const std::string_view body = client_.RequestBody().substr(replay_);
  const size_t n = std::min(out.size(), body.size());
  const bool last = n == body.size() && client_.RequestEnded();
  if (n == 0 && !last) {
    // A gRPC stream may be quiet for as long as the route allows (its --timeout); any other
    // request's body keeps to --body-timeout, as over HTTP/1.1.
    if (!grpc_) {
      body_timer_.expires_after(worker_.settings().body_timeout);
      body_timer_.async_wait(
          [this, owner = owner_, sent = ctx_.record.bytes_in](const boost::system::error_code& ec) {
            if (ec || !open_ || ctx_.record.bytes_in != sent) return;
            if (client_.RequestEnded() || client_.RequestBody().size() > replay_) return;
            Abort(ProxyError::kRequestTimeout);
          });
    }
    return {};
  }
  std::memcpy(out.data(), body.data(), n);
  ctx_.record.bytes_in += n;
  if (!refused_ && phase_ == Phase::kResponseHeader && replay_ + n <= kReplayWindow) {
    replay_ += n;  // kept unconsumed until the upstream answers
  } else {
    client_.ConsumeRequest(std::exchange(replay_, 0) + n);  // the client may send more
  }
  if (last) {
    HttpFields trailers;
    for (const auto& field : client_.RequestTrailers()) {
      if (IsForwardableTrailer(ToStd(field.name_string()))) {
        trailers.insert(field.name_string(), field.value());
      }
    }
    if (trailers.begin() != trailers.end()) {
      (void)h2_->SubmitRequestTrailers(id_, std::move(trailers));
    }
  }
  return {n, last};
}

void H2cBridge::OnResponseHeader(unsigned status, const HttpFields& fields, bool end_stream) {
  RequestRecord& record = ctx_.record;
  record.upstream_answered = Clock::now();
  if (WorkerMetrics* metrics = worker_.metrics()) {
    metrics->ObserveUpstreamLatency(record.upstream_answered - record.upstream_opened);
  }
  forwarder_.RecordStreamOutcome(*ctx_.upstream, status < 500);
  HttpResponseHeader header;
  header.version(20);
  header.result(status);
  for (const auto& field : fields) header.insert(field.name_string(), field.value());
  ResponseFilter(ctx_, header, ToStd(request_[http::field::origin]));
  record.status = status;
  client_.ConsumeRequest(std::exchange(replay_, 0));  // the upstream processes the request
  // From here the route's --timeout alone bounds the exchange: a stream may be quiet.
  ArmTimer(forwarder_.exchange_deadline());
  if (end_stream || ctx_.head_request) {  // a trailers-only answer is one header, as it came
    phase_ = Phase::kDone;
    return client_.OnBridgeResponse(header, false);
  }
  phase_ = Phase::kResponseBody;
  if (!buffer_) buffer_ = worker_.relay_buffers().Take();
  offset_ = filled_ = 0;
  client_.OnBridgeResponse(header, true);
}

void H2cBridge::OnResponseData(std::span<const uint8_t> data) {
  if (phase_ != Phase::kResponseBody) return;
  // The stream's window (H2ClientSettings::initial_window_size) holds what was handed over
  // and not consumed to the relay buffer's size.
  if (filled_ + data.size() > kRelayBufferSize) {
    std::memmove(buffer_.get(), buffer_.get() + offset_, filled_ - offset_);
    filled_ -= offset_;
    offset_ = 0;
  }
  std::memcpy(buffer_.get() + filled_, data.data(), data.size());
  const bool was_empty = offset_ == filled_;
  filled_ += data.size();
  if (was_empty) client_.OnBridgeResponseBody();
}

void H2cBridge::ConsumeResponse(size_t n) {
  if (n == 0) return;
  offset_ += n;
  if (offset_ == filled_) offset_ = filled_ = 0;
  if (open_) h2_->ConsumeResponse(id_, n);  // the client took them: the upstream may send more
}

void H2cBridge::OnResponseTrailers(const HttpFields& fields) {
  if (phase_ != Phase::kResponseBody) return;
  response_trailers_ = fields;
  response_done_ = true;
  phase_ = Phase::kDone;
  client_.OnBridgeResponseBody();
}

void H2cBridge::OnClose(uint32_t error_code) {
  open_ = false;
  timer_.cancel();
  body_timer_.cancel();
  if (cancelled_ || aborted_) return BecomeIdle();  // the client has its answer, or is gone
  if (error_code == NGHTTP2_NO_ERROR) {
    if (phase_ == Phase::kResponseBody) {
      response_done_ = true;
      phase_ = Phase::kDone;
      client_.OnBridgeResponseBody();
    }
    return BecomeIdle();
  }
  if (error_code == NGHTTP2_REFUSED_STREAM && phase_ == Phase::kResponseHeader && Retry()) {
    return;
  }
  if (phase_ == Phase::kResponseHeader) {
    // Refused twice means the upstream is shedding load, not that it failed.
    if (error_code != NGHTTP2_REFUSED_STREAM) forwarder_.RecordStreamOutcome(*ctx_.upstream, false);
    return Fail(ProxyError::kUpstreamFailed);
  }
  if (phase_ == Phase::kResponseBody) {
    phase_ = Phase::kDone;
    client_.OnBridgeAbort(error_code == NGHTTP2_CANCEL ? NGHTTP2_CANCEL : NGHTTP2_INTERNAL_ERROR);
  }
  BecomeIdle();
}

void H2cBridge::ArmTimer(Clock::time_point at) {
  if (at == Clock::time_point::max()) {
    timer_.cancel();
    return;
  }
  timer_.expires_at(at);
  timer_.async_wait([this, owner = owner_](const boost::system::error_code& ec) {
    if (ec || cancelled_ || !open_) return;
    if (phase_ == Phase::kResponseHeader) forwarder_.RecordStreamOutcome(*ctx_.upstream, false);
    Abort(ProxyError::kUpstreamTimeout);
  });
}

void H2cBridge::Abort(ProxyError error) {
  if (forwarder_pending_) {
    abort_error_ = error;  // told once the pick ends
    return;
  }
  if (!open_ || aborted_) return;
  aborted_ = true;
  h2_->Reset(id_, NGHTTP2_CANCEL);  // OnClose follows
  timer_.cancel();
  body_timer_.cancel();
  if (phase_ == Phase::kResponseHeader) return Fail(error);
  if (phase_ == Phase::kResponseBody) {
    phase_ = Phase::kDone;
    client_.OnBridgeAbort(NGHTTP2_CANCEL);
  }
}

void H2cBridge::Cancel() {
  if (cancelled_) return;
  cancelled_ = true;
  // A pick in progress ends with OnUpstreamOpen, at once (a connect or a wait for a place is
  // not waited out); an open stream with OnClose.
  if (forwarder_pending_) forwarder_.Cancel();
  if (open_) h2_->Reset(id_, NGHTTP2_CANCEL);
}

void H2cBridge::Fail(ProxyError error) {
  phase_ = Phase::kDone;
  client_.OnBridgeError(error);
  BecomeIdle();  // unless the reset stream's OnClose is still to come
}

void H2cBridge::BecomeIdle() {
  if (busy()) return;
  const std::shared_ptr<void> owner = std::move(owner_);  // `this` lives to the end
  timer_.cancel();
  body_timer_.cancel();
  h2_.reset();
  refused_.reset();
  forwarder_.Release(false);  // the pick, if the exchange still holds it
  client_.OnBridgeIdle();
}

}  // namespace gw
