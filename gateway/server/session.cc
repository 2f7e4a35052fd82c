#include "gateway/server/session.h"

#include <boost/asio/buffer.hpp>
#include <boost/asio/socket_base.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/read_size.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <charconv>
#include <chrono>
#include <cstring>
#include <span>
#include <system_error>
#include <utility>

#include "common/path.h"
#include "gateway/exchange/local_reply.h"
#include "gateway/exchange/phases.h"
#include "gateway/http/header_rewrite.h"
#include "gateway/http/request_target.h"
#include "gateway/http/trailers.h"
#include "gateway/http/wire_format.h"
#include "gateway/http2/preface.h"
#include "gateway/net/eager_write.h"
#include "gateway/server/worker.h"

namespace gw {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

// After answering a request that was not read to its end (413, 400), the gateway reads and
// discards what the client still sends for this long before closing, so that closing does not
// reset the connection and destroy the answer before the client reads it.
constexpr auto kLingerTime = std::chrono::seconds(2);

// The most a read of the next request's first bytes asks for.
constexpr size_t kMaxHeaderRead = 64 * 1024;

bool ExpectsContinue(const HttpRequest& request) {
  if (request.version() < 11) return false;
  const auto value = request[http::field::expect];
  return beast::iequals(value, "100-continue");
}

// The client takes trailers after a chunked response (RFC 9110 section 10.1.4).
bool AcceptsTrailers(const HttpRequestHeader& request) {
  for (const auto& token : http::token_list(request[http::field::te])) {
    if (beast::iequals(token, "trailers")) return true;
  }
  return false;
}

template <typename T>
std::optional<uint64_t> ToStdOptional(const boost::optional<T>& value) {
  if (!value) return std::nullopt;
  return *value;
}

}  // namespace

Session::Session(Worker& worker, TcpSocket socket, SslPtr ssl)
    : worker_(worker),
      stream_(std::move(socket), std::move(ssl)),
      forwarder_(stream_.get_executor(), worker.pool(), worker.settings(), worker.Random()),
      request_relay_(worker.relay_buffers()),
      response_relay_(worker.relay_buffers()) {
  buffer_.max_size(ReadBufferLimit(worker.settings()));
  if (WorkerMetrics* metrics = worker_.metrics()) metrics->client_connections.Increment();
}

Session::~Session() {
  if (WorkerMetrics* metrics = worker_.metrics()) metrics->client_connections.Decrement();
}

void Session::Start() {
  beast::error_code ec;
  const auto remote = stream_.socket().remote_endpoint(ec);
  if (ec) return;  // already gone
  client_ip_ = remote.address().to_string();
  stream_.socket().set_option(tcp::no_delay(true), ec);
  stream_.socket().non_blocking(true, ec);  // reads and writes are tried at once (EagerWrite)
  if (!stream_.ssl()) return DoReadRequest();
  preface_checked_ = true;  // HTTP/2 over TLS is chosen by ALPN, not by a preface
  // TLS: the handshake first, under its own deadline; a failed one just closes (nobody to
  // answer in HTTP).
  stream_.AsyncHandshake(worker_.settings().handshake_timeout,
                         [self = shared_from_this()](const boost::system::error_code& ec) {
                           if (WorkerMetrics* metrics = self->worker_.metrics()) {
                             metrics->RecordTlsHandshake(
                                 !ec, !ec && SSL_session_reused(self->stream_.ssl()) == 1);
                           }
                           if (!ec) self->OnHandshake();
                         });
}

void Session::OnHandshake() {
  const unsigned char* alpn = nullptr;
  unsigned int alpn_size = 0;
  SSL_get0_alpn_selected(stream_.ssl(), &alpn, &alpn_size);
  if (std::string_view(reinterpret_cast<const char*>(alpn), alpn_size) != "h2") {
    return DoReadRequest();  // http/1.1, or no ALPN at all
  }
  // HTTP/2 chosen by ALPN: the connection, its TLS state included, is the worker's
  // http2::Connection from here on, and this session ends with the handler.
  SslPtr ssl = stream_.ReleaseSsl();
  worker_.ServeHttp2(std::move(stream_.socket()), std::move(ssl), {}, client_ip_);
}

void Session::CloseIfIdle() {
  if (awaiting_request_ && parser_ && !parser_->got_some() && buffer_.size() == 0) {
    stream_.close();  // the pending read ends with operation_aborted
  }
}

// 1. The request header ---------------------------------------------------------------------

void Session::DoReadRequest() {
  if (worker_.draining()) return;  // drop the connection: no further requests
  const ProxySettings& settings = worker_.settings();
  parser_.emplace();
  parser_->header_limit(settings.max_header_size);
  // No body limit while the header is read: the route, known once the header is, sets it
  // (HandleRequest), and a route may allow more than --max-body-size. A limit taken from the
  // table now could refuse what the table in force when the header arrives allows. No limit is
  // the largest one: Beast 1.74 compares a Content-Length with an empty limit as if exceeded.
  parser_->body_limit(UINT64_MAX);
  message_ = {};
  worker_.relay_buffers().Give(std::move(body_start_));
  body_start_size_ = 0;
  awaiting_request_ = true;
  if (buffer_.size() > 0) return DoReadHeader();  // pipelined: already here
  // A new connection must send its first byte within --header-timeout; one that served a
  // request waits --idle-timeout for the next. The header timeout then runs from that byte.
  stream_.expires_after(requests_ == 0 ? settings.header_timeout : settings.idle_timeout);
  DoWaitForRequest();
}

void Session::DoWaitForRequest() {
  stream_.async_read_some(buffer_.prepare(beast::read_size(buffer_, kMaxHeaderRead)),
                          [self = shared_from_this()](beast::error_code ec, size_t n) {
                            self->buffer_.commit(n);
                            // Timeout, EOF, drained: nobody to answer.
                            if (ec) return self->OnReadError(ec);
                            if (!self->preface_checked_) return self->CheckPreface();
                            self->DoReadHeader();
                          });
}

void Session::CheckPreface() {
  const auto data = buffer_.data();
  const std::string_view bytes(static_cast<const char*>(data.data()), data.size());
  switch (http2::IsHttp2Preface(bytes)) {
    case http2::PrefaceMatch::kNo:
      preface_checked_ = true;
      return DoReadHeader();
    case http2::PrefaceMatch::kNeedMore:
      return DoWaitForRequest();  // still within the first byte's --header-timeout
    case http2::PrefaceMatch::kYes:
      break;
  }
  // HTTP/2 with prior knowledge: the connection is the worker's http2::Connection from here
  // on, and this session ends with the handler.
  stream_.expires_never();
  worker_.ServeHttp2(std::move(stream_.socket()), nullptr, bytes, client_ip_);
}

void Session::DoReadHeader() {
  header_started_ = std::chrono::steady_clock::now();
  // Nearly every request header arrives whole in one read: parse it at once.
  beast::error_code ec;
  buffer_.consume(parser_->put(buffer_.data(), ec));
  if (ec != http::error::need_more && (ec || parser_->is_header_done())) return OnReadHeader(ec);
  stream_.expires_after(worker_.settings().header_timeout);
  http::async_read_header(
      stream_, buffer_, *parser_,
      [self = shared_from_this()](beast::error_code ec, size_t) { self->OnReadHeader(ec); });
}

void Session::OnReadHeader(const boost::system::error_code& ec) {
  stream_.expires_never();
  awaiting_request_ = false;
  if (ec == beast::error::timeout) {
    // A header begun and not finished in time: 408. Nothing begun: just close.
    if (parser_->got_some() || buffer_.size() > 0) {
      BeginRequest();
      return ReplyError(ProxyError::kRequestTimeout, true);
    }
    return OnReadError(beast::error::timeout);
  }
  if (ec && !IsAnswerableReadError(ec)) return OnReadError(ec);
  BeginRequest();
  if (ec) return OnReadError(ec);
  // Before any byte of the body is read: a Transfer-Encoding the parser does not frame as
  // chunked would leave the body to be read as the next request (request smuggling).
  message_.client_version = parser_->get().version();
  ctx_->http_version = message_.client_version;
  ctx_->head_request = parser_->get().method() == http::verb::head;
  if (const ProxyError framing = CheckTransferEncoding(parser_->get(), message_.client_version);
      framing != ProxyError::kNone) {
    return ReplyError(framing, true);
  }
  message_.expects_continue = !parser_->is_done() && ExpectsContinue(parser_->get());
  HandleRequest();
}

void Session::BeginRequest() {
  ++requests_;
  ctx_.emplace();
  ctx_->client_ip = client_ip_;
  ctx_->tls = stream_.ssl() != nullptr;
  ctx_->record.started = header_started_;
}

void Session::OnReadError(const boost::system::error_code& ec) {
  // Answer what broke the rules or a limit, then close: the rest of the stream cannot be
  // trusted. Otherwise (EOF, timeout, reset, drained) there is nobody to answer.
  if (IsAnswerableReadError(ec)) {
    const auto unparsed = buffer_.data();
    return ReplyError(
        ClassifyRequestReadError(
            ec, std::string_view(static_cast<const char*>(unparsed.data()), unparsed.size()),
            !parser_->get().target().empty()),
        true);
  }
  if (ctx_) CompleteRequest(RequestRecord::End::kClientGone);
  beast::error_code ignored;
  stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
}

// 2-3. Header decisions, then the upstream -----------------------------------------------------

void Session::HandleRequest() {
  HttpRequest& request = parser_->get();
  // Unless every byte of the body was read, an early answer must close the connection.
  const bool unread_body = !parser_->is_done();
  message_.client_keep_alive = KeepAlive(request, message_.client_version);

  // TE is hop-by-hop, gone after the phases: an h2c service's response keeps its trailers for
  // a client that takes them.
  h2c_.accepts_trailers = request.count(http::field::te) > 0 && AcceptsTrailers(request);

  // Before anything reads a header: a field named X_Consumer must not pass for X-Consumer.
  if (const UnderscoreHeaders policy = worker_.settings().underscore_headers;
      policy != UnderscoreHeaders::kAllow) {
    if (const size_t found = StripUnderscoreHeaders(request, policy == UnderscoreHeaders::kDrop)) {
      WorkerMetrics* metrics = worker_.metrics();
      if (policy == UnderscoreHeaders::kReject) {
        if (metrics) metrics->underscore_headers_rejected.Add(found);
        return ReplyError(ProxyError::kUnderscoreHeader, unread_body);
      }
      if (metrics) metrics->underscore_headers_dropped.Add(found);
    }
  }

  // RFC 9112 section 3.2: one Host with a valid value; only HTTP/1.0 may send none (or empty).
  const size_t hosts = request.count(http::field::host);
  if (hosts > 1 || (message_.client_version >= 11 && hosts == 0)) {
    return ReplyError(ProxyError::kBadRequest, true);
  }
  if (hosts == 1) {
    const std::string_view host = ToStd(request[http::field::host]);
    if (host.empty() && message_.client_version < 11) {
      request.erase(http::field::host);  // then set to the upstream endpoint (OpenUpstream)
    } else if (!IsValidHost(host)) {
      return ReplyError(ProxyError::kBadRequest, true);
    }
  }
  const auto target = SplitRequestTarget(ToStd(request.target()));
  if (!target) return ReplyError(ProxyError::kBadRequest, unread_body);
  const auto path = NormalizePath(target->path);
  if (!path) return ReplyError(ProxyError::kInvalidPath, unread_body);
  if (target->absolute_form) {
    // RFC 9112 section 3.2.2: the Host header is ignored, the target's authority replaces it.
    scratch_.assign(target->authority);
    request.set(http::field::host, ToBeast(scratch_));
  }

  // The exchange's phases up to the upstream.
  if (const ProxyError error = RouteRequest(*ctx_, request, *path, worker_.routes());
      error != ProxyError::kNone) {
    return ReplyError(error, unread_body, *path);
  }
  ctx_->upgrade.assign(RequestedUpgrade(request, message_.client_version));  // before stripping
  if (const Verdict verdict = RequestFilter(*ctx_, request, worker_.exchange(), scratch_);
      verdict.answered()) {
    if (verdict.error != ProxyError::kNone) return ReplyError(verdict.error, unread_body);
    LocalReply answer;  // no error: a CORS preflight, an HTTPS redirect
    answer.status = verdict.status;
    return ReplyLocal(std::move(answer), unread_body);
  }
  if (ctx_->record.route->is_aggregate()) return StartAggregate(*path, *target, unread_body);
  PickUpstream(*ctx_, worker_.Random());
  const bool h2c = ctx_->upstream->protocol == gateway::v1::UPSTREAM_H2C;
  if (h2c && !ctx_->upgrade.empty()) {
    // An upgraded connection (WebSocket) has no HTTP/2 stream to become: told why rather than
    // sent to a service that would not understand it.
    ctx_->record.reason = "h2c_upstream";
    return ReplyLocal(
        {502, R"({"error":"the service speaks h2c (gRPC): it takes no protocol upgrade"})"},
        unread_body);
  }
  UpstreamRequestFilter(*ctx_, request, *path, *target, scratch_);
  const RouteEntry& route = *ctx_->record.route;

  // The route's body limit, else --max-body-size, else none. A Content-Length over it: 413
  // before any body byte is read. A chunked body: the parser counts every chunk it parses from
  // here on against the limit and fails with body_limit (413) when one crosses it.
  const uint64_t body_limit = route.BodyLimit(worker_.settings().max_body_size);
  if (body_limit != 0) {
    if (parser_->content_length().value_or(0) > body_limit) {
      return ReplyError(ProxyError::kBodyTooLarge, unread_body);
    }
    parser_->body_limit(body_limit);
  }
  if (h2c) return StartH2c(body_limit);

  if (parser_->chunked()) {
    request_relay_.trailers().Watch(*parser_);
    return DoReadShortBody();
  }
  // A small body of a request the route may resend is read whole first: it goes upstream with
  // the head, and again with a retry (a streamed body never is resent).
  if (const uint64_t length = parser_->content_length().value_or(0);
      route.exchange.retries > 0 && length > 0 && length <= kRelayBufferSize &&
      ctx_->upgrade.empty() && IsIdempotentMethod(ToStd(request.method_string()))) {
    return DoReadShortBody();
  }
  OpenUpstream(ToStdOptional(parser_->content_length()), false);
}

void Session::DoReadShortBody() {
  if (!body_start_) {
    body_start_ = worker_.relay_buffers().Take();
    body_start_size_ = 0;
    auto& body = parser_->get().body();
    body.data = body_start_.get();
    body.size = kRelayBufferSize;
  }
  if (message_.expects_continue) {
    message_.expects_continue = false;  // answered here, before any upstream is involved
    stream_.expires_after(worker_.settings().body_timeout);
    asio::async_write(stream_, asio::buffer(kContinue.data(), kContinue.size()),
                      [self = shared_from_this()](beast::error_code ec, size_t) {
                        if (ec) return self->OnReadError(ec);
                        self->DoReadShortBody();
                      });
    return;
  }
  stream_.expires_after(worker_.settings().body_timeout);
  http::async_read_some(
      stream_, buffer_, *parser_,
      [self = shared_from_this()](beast::error_code ec, size_t) { self->OnReadShortBody(ec); });
}

void Session::OnReadShortBody(const boost::system::error_code& ec) {
  stream_.expires_never();
  auto& body = parser_->get().body();
  body_start_size_ = kRelayBufferSize - body.size;
  const bool full = body.size == 0;
  if (ec && ec != http::error::need_buffer) {
    worker_.relay_buffers().Give(std::move(body_start_));
    if (ec == beast::error::timeout) return ReplyError(ProxyError::kRequestTimeout, true);
    return OnReadError(ec);
  }
  if (parser_->is_done()) {
    // Whole: it goes with a Content-Length, unless it has trailers to pass on (and they must
    // not stay among the header fields, where the parser put them).
    if (!parser_->chunked()) return OpenUpstream(body_start_size_, false);
    request_relay_.trailers().Collect();
    if (!request_relay_.trailers().empty()) return OpenUpstream(std::nullopt, true);
    return OpenUpstream(body_start_size_, false);
  }
  if (full && !message_.short_body_probed) {
    // Exactly one buffer's worth so far: the last chunk may be all that follows. One more
    // read into the full window finishes the message if so, and leaves body bytes unread if
    // not.
    message_.short_body_probed = true;
    return DoReadShortBody();
  }
  if (full) return OpenUpstream(std::nullopt, true);  // longer: it streams chunked
  DoReadShortBody();
}

void Session::OpenUpstream(std::optional<uint64_t> content_length, bool chunked) {
  HttpRequest& request = parser_->get();
  const bool host_missing = request.count(http::field::host) == 0;
  FrameUpstreamRequest(request, ctx_->upstream_target, content_length, chunked);
  message_.upstream_chunked = chunked;
  if (!ctx_->upgrade.empty()) {  // the two hop-by-hop headers an upgrade needs on the next hop
    request.set(http::field::connection, "Upgrade");
    request.set(http::field::upgrade, ToBeast(ctx_->upgrade));
  }
  // A whole body read before (DoReadShortBody) of a request that may be resent goes with the
  // head: the forwarder can send both again.
  message_.body_with_head = !chunked && body_start_size_ > 0 && parser_->is_done() &&
                            IsIdempotentMethod(ToStd(request.method_string()));
  const std::string_view body = message_.body_with_head
                                    ? std::string_view(body_start_.get(), body_start_size_)
                                    : std::string_view();
  ctx_->record.upstream_opened = std::chrono::steady_clock::now();
  forwarder_.Open(shared_from_this(), *this, request, *ctx_->upstream, host_missing,
                  !ctx_->upgrade.empty(), ctx_->record.route->exchange, body);
}

void Session::OnUpstreamOpen(ProxyError error) {
  if (error == ProxyError::kCircuitOpen) {
    ctx_->reply_headers.emplace_back("X-Circuit-Breaker", forwarder_.circuit_refusal());
  }
  if (error != ProxyError::kNone) return ReplyError(error, !parser_->is_done());
  if (worker_.access_log()) {  // only the access log names it: no string per request otherwise
    ctx_->record.upstream =
        FormatHostPort(forwarder_.endpoint()->host, forwarder_.endpoint()->port);
  }
  if (!message_.expects_continue) return StartRequestBody();
  // The body is wanted now that it has somewhere to go.
  stream_.expires_after(worker_.settings().body_timeout);
  asio::async_write(stream_, asio::buffer(kContinue.data(), kContinue.size()),
                    [self = shared_from_this()](beast::error_code ec, size_t) {
                      if (ec) {
                        self->forwarder_.Release(false);
                        return self->CompleteRequest(RequestRecord::End::kClientGone);
                      }
                      self->StartRequestBody();
                    });
}

// 4. The request body --------------------------------------------------------------------------

void Session::StartRequestBody() {
  if (message_.body_with_head) {  // sent with the head; kept for resends until the response
    ctx_->record.bytes_in = body_start_size_;
    return forwarder_.ReadResponse(shared_from_this(), false);
  }
  if (parser_->is_done() && body_start_size_ == 0 && !message_.upstream_chunked) {
    // No body, or an empty one: the head said it all.
    worker_.relay_buffers().Give(std::move(body_start_));
    return forwarder_.ReadResponse(shared_from_this(), false);
  }
  const ProxySettings& settings = worker_.settings();
  const size_t filled = body_start_size_;
  body_start_size_ = 0;
  request_relay_.Start(
      shared_from_this(), *this, stream_, buffer_, *parser_, forwarder_.connection().stream, {},
      message_.upstream_chunked ? BodyFraming::kChunked : BodyFraming::kRaw, settings.body_timeout,
      settings.upstream_timeout, std::move(body_start_), filled);
}

void Session::OnRelayed(bool request_body, const RelayOutcome& outcome) {
  if (request_body) return OnRequestBodyRelayed(outcome);
  OnResponseBodyRelayed(outcome);
}

void Session::OnRequestBodyRelayed(const RelayOutcome& outcome) {
  ctx_->record.bytes_in = outcome.bytes;
  using Result = RelayOutcome::Result;
  if (outcome.result == Result::kDone) {
    return forwarder_.ReadResponse(shared_from_this(), outcome.bytes > 0);
  }
  if (outcome.result == Result::kWriteFailed) {
    // The upstream stopped taking the body: often because it answered already (401, 413...)
    // and closed. That answer goes to the client, whose connection then closes: the rest of
    // its body is never read.
    message_.request_unfinished = true;
    return forwarder_.ReadEarlyResponse(
        shared_from_this(), ClassifyUpstreamError(UpstreamStage::kExchange, outcome.error));
  }
  forwarder_.Release(false);  // the upstream got part of a request: never reused
  switch (outcome.result) {
    case Result::kReadTimeout:
      return ReplyError(ProxyError::kRequestTimeout, true);
    case Result::kReadFailed:
      return OnReadError(outcome.error);  // over the limit or malformed: answered; else gone
    case Result::kWriteFailed:
    case Result::kDone:
      break;
  }
}

// 5-6. The response ----------------------------------------------------------------------------

void Session::OnResponseHeader(ProxyError error) {
  ReleaseBodyStart();  // the request will not be resent any more
  RequestRecord& record = ctx_->record;
  record.retries = forwarder_.retries_done();
  if (WorkerMetrics* metrics = worker_.metrics(); metrics && record.retries > 0) {
    metrics->upstream_retries.Add(record.retries);
  }
  if (error != ProxyError::kNone) return ReplyError(error, message_.request_unfinished);
  record.upstream_answered = std::chrono::steady_clock::now();
  if (WorkerMetrics* metrics = worker_.metrics())
    metrics->ObserveUpstreamLatency(record.upstream_answered - record.upstream_opened);
  ResponseParser& upstream = forwarder_.response_parser();
  if (upstream.get().result_int() == 101) return StartTunnel();
  HttpResponse& response = upstream.get();
  ResponseFilter(*ctx_, response, ToStd(parser_->get()[http::field::origin]));
  // Draining may have begun while the upstream answered: then say so rather than advertise a
  // keep-alive the gateway will not honour.
  const bool head_request = ctx_->head_request;
  message_.response_keep_alive = FrameClientResponse(
      response, head_request, message_.client_version,
      message_.client_keep_alive && !worker_.draining() && !message_.request_unfinished,
      head_request ? std::nullopt : ToStdOptional(upstream.content_length()));
  const unsigned status = response.result_int();
  record.status = status;
  const bool bodiless = head_request || status < 200 || status == 204 || status == 304;
  message_.response_framing = bodiless             ? BodyFraming::kNone
                              : response.chunked() ? BodyFraming::kChunked
                                                   : BodyFraming::kRaw;
  if (upstream.chunked()) response_relay_.trailers().Watch(upstream);
  response_head_.clear();
  AppendResponseHead(response, response_head_);
  // When body bytes are already here, the head goes out with the first of them (one write for
  // a small response); else at once, so a client of a slow or open-ended body (events, long
  // polling) is not kept waiting for it.
  if (upstream.is_done() || forwarder_.connection().buffer.size() > 0) {
    return StartResponseBody(response_head_);
  }
  WireBuffers head{asio::buffer(response_head_)};
  EagerWrite(stream_, head, worker_.settings().body_timeout,
             [self = shared_from_this()](beast::error_code ec) {
               if (!ec) {
                 self->message_.response_head_sent = true;
                 return self->StartResponseBody({});
               }
               self->forwarder_.Release(false);
               self->CompleteRequest(RequestRecord::End::kClientGone);
             });
}

void Session::StartResponseBody(std::string_view head) {
  const ProxySettings& settings = worker_.settings();
  UpstreamConnection& connection = forwarder_.connection();
  response_relay_.Start(shared_from_this(), *this, connection.stream, connection.buffer,
                        forwarder_.response_parser(), stream_, head, message_.response_framing,
                        settings.upstream_timeout, settings.body_timeout, nullptr, 0,
                        forwarder_.exchange_deadline());
}

void Session::OnInputDone(bool request_body) {
  if (!request_body) forwarder_.ResponseRead();
}

void Session::OnResponseBodyRelayed(const RelayOutcome& outcome) {
  ctx_->record.bytes_out = outcome.bytes;
  const bool complete = outcome.result == RelayOutcome::Result::kDone;
  const bool header_sent = message_.response_head_sent || outcome.head_written;
  forwarder_.Release(complete);
  if (!complete && !header_sent && outcome.result != RelayOutcome::Result::kWriteFailed) {
    // The upstream failed before the client got anything: it can still be told so.
    return ReplyError(outcome.result == RelayOutcome::Result::kReadTimeout
                          ? ProxyError::kUpstreamTimeout
                          : ProxyError::kUpstreamFailed,
                      false);
  }
  if (!complete) {
    // The client has the header and part of the body: only a reset tells it the message is
    // incomplete (a close would end a close-delimited body as if it were whole).
    AbortConnection();
    return CompleteRequest(RequestRecord::End::kAborted);
  }
  CompleteRequest(RequestRecord::End::kResponded);
  if (message_.request_unfinished) return DoLingeringClose();  // the client may still send
  ContinueOrClose(message_.response_keep_alive);
}

void Session::StartTunnel() {
  HttpResponse& response = forwarder_.response_parser().get();
  scratch_.assign(ToStd(response[http::field::upgrade]));  // before hop-by-hop stripping
  RewriteResponseHeaders(response, ctx_->request_id);
  response.set(http::field::connection, "Upgrade");
  if (!scratch_.empty()) response.set(http::field::upgrade, ToBeast(scratch_));
  ctx_->record.status = 101;
  response_head_.clear();
  AppendResponseHead(response, response_head_);
  WireBuffers head{asio::buffer(response_head_)};
  EagerWrite(stream_, head, worker_.settings().body_timeout,
             [self = shared_from_this()](beast::error_code ec) {
               if (ec) {
                 self->forwarder_.Release(false);
                 return self->CompleteRequest(RequestRecord::End::kClientGone);
               }
               self->tunnel_ = std::make_unique<BasicTunnel<ClientStream>>(
                   self->stream_, self->buffer_, self->forwarder_.TakeConnection(),
                   self->worker_.settings().tunnel_idle_timeout);
               self->CompleteRequest(RequestRecord::End::kUpgraded);
               self->tunnel_->Start(self);
             });
}

// 3-6 for an h2c service ----------------------------------------------------------------------

void Session::StartH2c(uint64_t body_limit) {
  const bool accepts_trailers = h2c_.accepts_trailers;
  h2c_ = {};
  h2c_.accepts_trailers = accepts_trailers;
  HttpRequest& request = parser_->get();
  request.erase(http::field::expect);  // answered here: the body is read at once
  if (parser_->chunked()) request_relay_.trailers().Watch(*parser_);
  body_start_ = worker_.relay_buffers().Take();
  body_start_size_ = 0;
  bridge_.emplace(worker_, forwarder_, *ctx_, request, static_cast<H2cClient&>(*this));
  bridge_->Start(shared_from_this(), body_limit);
  if (!message_.expects_continue) return ReadH2cBody();
  message_.expects_continue = false;
  h2c_.writing = true;
  stream_.expires_after(worker_.settings().body_timeout);
  asio::async_write(
      stream_, asio::buffer(kContinue.data(), kContinue.size()),
      [self = shared_from_this()](beast::error_code ec, size_t) {
        self->h2c_.writing = false;
        if (self->h2c_.then) return self->MaybeAfterH2c();
        if (ec) {
          return self->AfterH2c([self] { self->CompleteRequest(RequestRecord::End::kClientGone); });
        }
        self->ReadH2cBody();
        self->WriteH2cResponse();  // an answer that came meanwhile
      });
}

void Session::ReadH2cBody() {
  if (h2c_.then || h2c_.reading || parser_->is_done()) return;
  if (h2c_.consumed == body_start_size_) h2c_.consumed = body_start_size_ = 0;
  if (body_start_size_ == kRelayBufferSize) {
    if (h2c_.consumed == 0) return;  // full: ConsumeRequest reads on
    std::memmove(body_start_.get(), body_start_.get() + h2c_.consumed,
                 body_start_size_ - h2c_.consumed);
    body_start_size_ -= h2c_.consumed;
    h2c_.consumed = 0;
  }
  auto& body = parser_->get().body();
  body.data = body_start_.get() + body_start_size_;
  body.size = kRelayBufferSize - body_start_size_;
  h2c_.reading = true;
  stream_.expires_after(worker_.settings().body_timeout);
  http::async_read_some(
      stream_, buffer_, *parser_,
      [self = shared_from_this()](beast::error_code ec, size_t) { self->OnH2cBodyRead(ec); });
}

void Session::OnH2cBodyRead(const boost::system::error_code& ec) {
  h2c_.reading = false;
  if (h2c_.then) return MaybeAfterH2c();  // cut short: the exchange ends
  if (!h2c_.writing) stream_.expires_never();
  body_start_size_ = kRelayBufferSize - parser_->get().body().size;
  if (ec && ec != http::error::need_buffer) {
    if (ec == beast::error::timeout) return bridge_->Abort(ProxyError::kRequestTimeout);
    if (IsAnswerableReadError(ec)) {  // over the body limit, or malformed
      return bridge_->Abort(ClassifyRequestReadError(ec, {}, true));
    }
    return AfterH2c([this] { CompleteRequest(RequestRecord::End::kClientGone); });
  }
  if (parser_->is_done() && parser_->chunked()) {
    request_relay_.trailers().Collect();
    h2c_.request_trailers = ParseWireFields(request_relay_.trailers().wire());
  }
  bridge_->OnRequestBody();
  ReadH2cBody();
}

std::string_view Session::RequestBody() const {
  return {body_start_.get() + h2c_.consumed, body_start_size_ - h2c_.consumed};
}

void Session::ConsumeRequest(size_t n) {
  h2c_.consumed += n;
  ReadH2cBody();
}

void Session::OnBridgeError(ProxyError error) {
  AfterH2c([this, error] { ReplyError(error, !parser_->is_done()); });
}

void Session::OnBridgeResponse(HttpResponseHeader& header, bool has_body) {
  const bool head_request = ctx_->head_request;
  std::optional<uint64_t> length;
  if (!has_body) {
    length = 0;  // a trailers-only answer: no body follows, whatever the upstream said
  } else if (!h2c_.accepts_trailers) {
    // Otherwise chunked, so that the trailers can follow the body.
    if (const auto value = ToStd(header[http::field::content_length]); !value.empty()) {
      uint64_t parsed = 0;
      if (std::from_chars(value.data(), value.data() + value.size(), parsed).ec == std::errc()) {
        length = parsed;
      }
    }
  }
  message_.response_keep_alive =
      FrameClientResponse(header, head_request, message_.client_version,
                          message_.client_keep_alive && !worker_.draining(), length);
  message_.response_framing = !has_body || head_request                ? BodyFraming::kNone
                              : length || message_.client_version < 11 ? BodyFraming::kRaw
                                                                       : BodyFraming::kChunked;
  response_head_.clear();
  AppendResponseHead(header, response_head_);
  h2c_.responding = true;
  h2c_.head_due = true;
  WriteH2cResponse();
}

void Session::WriteH2cResponse() {
  if (!h2c_.responding || h2c_.writing || h2c_.then || h2c_.ended) return;
  auto& buffers = h2c_.buffers;
  size_t count = 0;
  if (h2c_.head_due) buffers[count++] = asio::buffer(response_head_);
  const bool chunked = message_.response_framing == BodyFraming::kChunked;
  size_t body_bytes = 0;
  bool last = true;
  if (message_.response_framing != BodyFraming::kNone) {
    const auto body = bridge_->ResponseBody();
    body_bytes = body.size();
    last = bridge_->response_done();
    if (body_bytes > 0) {
      if (chunked) {
        buffers[count++] =
            asio::buffer(h2c_.size_line, FormatChunkSizeLine(body_bytes, h2c_.size_line));
      }
      buffers[count++] = asio::buffer(body.data(), body_bytes);
      if (chunked) buffers[count++] = asio::buffer(kCrlf.data(), kCrlf.size());
    }
    if (last && chunked) {
      h2c_.tail.assign(kLastChunk);
      if (h2c_.accepts_trailers) {
        for (const auto& field : bridge_->response_trailers()) {
          if (!IsForwardableTrailer(ToStd(field.name_string()))) continue;
          h2c_.tail.append(ToStd(field.name_string())).append(": ").append(ToStd(field.value()));
          h2c_.tail.append(kCrlf);
        }
      }
      h2c_.tail.append(kCrlf);
      buffers[count++] = asio::buffer(h2c_.tail);
    }
  }
  if (count == 0 && !last) return;  // OnBridgeResponseBody calls again
  h2c_.head_due = false;
  h2c_.writing = true;
  stream_.expires_after(worker_.settings().body_timeout);
  asio::async_write(stream_, std::span(buffers.data(), count),
                    [self = shared_from_this(), body_bytes, last](beast::error_code ec, size_t) {
                      self->OnH2cWritten(ec, body_bytes, last);
                    });
}

void Session::OnH2cWritten(const boost::system::error_code& ec, size_t body_bytes, bool last) {
  h2c_.writing = false;
  if (h2c_.then) return MaybeAfterH2c();
  if (!h2c_.reading) stream_.expires_never();
  if (ec) {
    // The client left, or took nothing for --body-timeout: a reset says the body is cut.
    return AfterH2c([this] {
      AbortConnection();
      CompleteRequest(RequestRecord::End::kAborted);
    });
  }
  ctx_->record.bytes_out += body_bytes;
  bridge_->ConsumeResponse(body_bytes);  // the upstream may send more
  if (!last) return WriteH2cResponse();
  h2c_.ended = true;
  AfterH2c([this] {
    CompleteRequest(RequestRecord::End::kResponded);
    // The upstream answered before the whole request body came: the rest is not read.
    if (!parser_->is_done()) return DoLingeringClose();
    ContinueOrClose(message_.response_keep_alive);
  });
}

void Session::OnBridgeAbort(uint32_t) {
  // The client has the header and part of the body: only a reset tells it the body is cut.
  AbortConnection();
  AfterH2c([this] { CompleteRequest(RequestRecord::End::kAborted); });
}

void Session::OnBridgeIdle() { MaybeAfterH2c(); }

void Session::AfterH2c(std::function<void()> next) {
  if (h2c_.then) return;  // the first reason to end stands
  h2c_.then = std::move(next);
  if (bridge_) bridge_->Cancel();
  if (h2c_.reading) stream_.expires_at(std::chrono::steady_clock::now());  // cuts it short
  MaybeAfterH2c();
}

void Session::MaybeAfterH2c() {
  if (!h2c_.then || h2c_.posted || h2c_.reading || h2c_.writing || (bridge_ && bridge_->busy())) {
    return;
  }
  // Posted: the bridge may be calling from inside its own code, or from inside Start.
  h2c_.posted = true;
  asio::post(stream_.get_executor(), [self = shared_from_this()] {
    const std::function<void()> next = std::exchange(self->h2c_.then, nullptr);
    self->h2c_.posted = false;
    self->bridge_.reset();
    next();
  });
}

// 3-6 for an aggregate route -------------------------------------------------------------------

void Session::StartAggregate(std::string_view path, const RequestTarget& target, bool unread_body) {
  HttpRequest& request = parser_->get();
  UpstreamRequestFilter(*ctx_, request, path, target, scratch_);  // the route's header rules
  ctx_->record.upstream_opened = std::chrono::steady_clock::now();
  aggregate_ = Aggregator::Start(worker_.aggregate_services(), worker_.Random(), ctx_->table,
                                 *ctx_->record.route, request, path, target,
                                 [self = shared_from_this(), unread_body](
                                     AggregateAnswer& answer, std::string_view upstreams) {
                                   self->OnAggregateAnswer(answer, upstreams, unread_body);
                                 });
}

void Session::OnAggregateAnswer(AggregateAnswer& answer, std::string_view upstreams, bool close) {
  RequestRecord& record = ctx_->record;
  record.upstream_answered = std::chrono::steady_clock::now();
  record.upstream.assign(upstreams);
  record.reason = answer.reason;
  for (auto& header : answer.headers) ctx_->reply_headers.push_back(std::move(header));
  FilterComposedReply(*ctx_, answer.status, ToStd(parser_->get()[http::field::origin]));
  ReplyLocal({answer.status, std::move(answer.body)}, close);
}

// 7. The end of a request ----------------------------------------------------------------------

void Session::CompleteRequest(RequestRecord::End end) {
  if (!ctx_) return;
  std::string_view method, target;
  if (parser_ && parser_->is_header_done()) {
    method = ToStd(parser_->get().method_string());
    target = ToStd(parser_->get().target());
  }
  LogExchange(*ctx_, end, worker_.exchange(), method, target);
  ReleaseBodyStart();
  aggregate_.reset();
  ctx_.reset();  // the route's config may go now
}

void Session::ReleaseBodyStart() {
  message_.body_with_head = false;
  body_start_size_ = 0;
  worker_.relay_buffers().Give(std::move(body_start_));
}

void Session::ContinueOrClose(bool keep_alive) {
  if (!keep_alive) {
    // A close_notify (TLS), then FIN. Waited for, within kLingerTime: a socket whose send buffer
    // still holds the response's last bytes cannot take it at once, and a lost close_notify
    // makes a close-delimited body look truncated.
    return stream_.AsyncShutdown(kLingerTime, [self = shared_from_this()](beast::error_code) {});
  }
  DoReadRequest();
}

void Session::ReplyError(ProxyError error, bool close, std::string_view path) {
  const HttpRequestHeader* request =
      parser_ && parser_->is_header_done() ? &parser_->get() : nullptr;
  ReplyLocal(MakeErrorReply(*ctx_, error, path, request, worker_.metrics()), close);
}

void Session::ReplyLocal(LocalReply reply, bool close) {
  const unsigned status = reply.status;
  ctx_->record.status = status;
  error_response_ = {};
  error_response_.result(status);
  if (!ctx_->request_id.empty()) error_response_.set("X-Request-Id", ToBeast(ctx_->request_id));
  for (const auto& [name, value] : ctx_->reply_headers) {
    error_response_.insert(ToBeast(name), ToBeast(value));
  }
  if (status != 204) {
    error_response_.set(http::field::content_type, ToBeast(reply.content_type));
    error_response_.body() = std::move(reply.body);
    error_response_.content_length(error_response_.body().size());
  }
  // For HEAD the length is announced, the body not sent.
  if (ctx_->head_request) error_response_.body().clear();
  error_response_.version(message_.client_version >= 11 ? 11 : 10);
  error_response_.keep_alive(!close && message_.client_keep_alive && !worker_.draining());
  ctx_->record.bytes_out = error_response_.body().size();
  stream_.expires_after(worker_.settings().idle_timeout);
  http::async_write(stream_, error_response_,
                    [self = shared_from_this(), close](beast::error_code ec, size_t) {
                      self->OnErrorWritten(ec, close);
                    });
}

void Session::OnErrorWritten(const boost::system::error_code& ec, bool close) {
  CompleteRequest(ec ? RequestRecord::End::kClientGone : RequestRecord::End::kResponded);
  if (ec) return;  // the connection is gone; dropping the session closes the socket
  // The rest of this request was not read: let the client finish sending, then close.
  if (close) return DoLingeringClose();
  ContinueOrClose(error_response_.keep_alive());
}

void Session::AbortConnection() {
  beast::error_code ignored;
  stream_.socket().set_option(asio::socket_base::linger(true, 0), ignored);
  stream_.close();
}

void Session::DoLingeringClose() {
  stream_.Shutdown();
  buffer_.clear();
  stream_.expires_after(kLingerTime);
  // Each read discards what arrived; EOF, an error or the timer ends the session.
  struct Discard {
    std::shared_ptr<Session> self;
    void operator()(beast::error_code ec, size_t) {
      if (ec) return;
      self->buffer_.clear();
      auto& stream = self->stream_;
      auto& buffer = self->buffer_;
      stream.async_read_some(buffer.prepare(4096), Discard{std::move(self)});
    }
  };
  stream_.async_read_some(buffer_.prepare(4096), Discard{shared_from_this()});
}

}  // namespace gw
