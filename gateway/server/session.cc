#include "gateway/server/session.h"

#include <boost/asio/buffer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <chrono>
#include <utility>

#include "common/path.h"
#include "gateway/proxy/header_rewrite.h"
#include "gateway/proxy/request_target.h"
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

bool ExpectsContinue(const HttpRequest& request) {
  if (request.version() < 11) return false;
  const auto value = request[http::field::expect];
  return beast::iequals(value, "100-continue");
}

}  // namespace

Session::Session(Worker& worker, tcp::socket socket)
    : worker_(worker),
      stream_(std::move(socket)),
      forwarder_(stream_.get_executor(), worker.pool(), worker.settings()) {}

void Session::Start() {
  beast::error_code ec;
  const auto remote = stream_.socket().remote_endpoint(ec);
  if (ec) return;  // already gone
  client_ip_ = remote.address().to_string();
  stream_.socket().set_option(tcp::no_delay(true), ec);
  DoReadHeader();
}

void Session::CloseIfIdle() {
  if (awaiting_request_ && parser_ && !parser_->got_some() && buffer_.size() == 0) {
    stream_.close();  // the pending read ends with operation_aborted
  }
}

void Session::DoReadHeader() {
  if (worker_.draining()) return;  // drop the connection: no further requests
  const ProxySettings& settings = worker_.settings();
  parser_.emplace();
  parser_->header_limit(settings.max_header_size);
  parser_->body_limit(settings.max_body_size);
  request_id_.clear();
  client_version_ = 11;
  client_keep_alive_ = true;
  head_ = false;
  awaiting_request_ = true;
  stream_.expires_after(settings.idle_timeout);
  http::async_read_header(
      stream_, buffer_, *parser_,
      [self = shared_from_this()](beast::error_code ec, size_t) { self->OnReadHeader(ec); });
}

void Session::OnReadHeader(const boost::system::error_code& ec) {
  awaiting_request_ = false;
  if (ec) return OnReadError(ec);
  // Before any byte of the body is read: a Transfer-Encoding the parser does not frame as
  // chunked would leave the body to be read as the next request (request smuggling).
  client_version_ = parser_->get().version();
  head_ = parser_->get().method() == http::verb::head;
  if (const ProxyError framing = CheckTransferEncoding(parser_->get(), client_version_);
      framing != ProxyError::kNone) {
    return ReplyError(framing, true);
  }
  if (parser_->is_done()) return HandleRequest();
  if (!ExpectsContinue(parser_->get())) return DoReadBody();
  stream_.expires_after(worker_.settings().idle_timeout);
  asio::async_write(stream_, asio::buffer(kContinue.data(), kContinue.size()),
                    [self = shared_from_this()](beast::error_code ec, size_t) {
                      if (!ec) self->DoReadBody();
                    });
}

void Session::DoReadBody() {
  stream_.expires_after(worker_.settings().idle_timeout);
  http::async_read(
      stream_, buffer_, *parser_,
      [self = shared_from_this()](beast::error_code ec, size_t) { self->OnReadBody(ec); });
}

void Session::OnReadBody(const boost::system::error_code& ec) {
  if (ec) return OnReadError(ec);
  HandleRequest();
}

void Session::OnReadError(const boost::system::error_code& ec) {
  // Answer what broke the rules or a limit, then close: the rest of the stream cannot be
  // trusted. Otherwise (EOF, timeout, reset, drained) there is nobody to answer.
  if (IsAnswerableReadError(ec)) return ReplyError(ClassifyRequestReadError(ec), true);
  beast::error_code ignored;
  stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
}

void Session::HandleRequest() {
  HttpRequest& request = parser_->get();
  client_keep_alive_ = KeepAlive(request, client_version_);  // version and head_: OnReadHeader

  // RFC 9112 section 3.2: one Host with a valid value; only HTTP/1.0 may send none (or empty).
  const size_t hosts = request.count(http::field::host);
  if (hosts > 1 || (client_version_ >= 11 && hosts == 0)) {
    return ReplyError(ProxyError::kBadRequest, true);
  }
  bool host_missing = hosts == 0;
  if (hosts == 1) {
    const std::string_view host = ToStd(request[http::field::host]);
    if (host.empty() && client_version_ < 11) {
      request.erase(http::field::host);
      host_missing = true;
    } else if (!IsValidHost(host)) {
      return ReplyError(ProxyError::kBadRequest, true);
    }
  }
  const auto target = SplitRequestTarget(ToStd(request.target()));
  if (!target) return ReplyError(ProxyError::kBadRequest, false);
  const auto path = NormalizePath(target->path);
  if (!path) return ReplyError(ProxyError::kInvalidPath, false);
  BuildUpstreamTarget(upstream_target_, *path, *target);  // before the request is changed
  if (target->absolute_form) {
    // RFC 9112 section 3.2.2: the Host header is ignored, the target's authority replaces it.
    scratch_.assign(target->authority);
    request.set(http::field::host, ToBeast(scratch_));
    host_missing = false;
  }

  if (!RewriteRequestHeaders(request, client_ip_, worker_.request_ids(), request_id_, scratch_)) {
    return ReplyError(ProxyError::kHeaderTooLarge, false);
  }

  table_ = worker_.routes().Load();
  if (!table_) return ReplyError(ProxyError::kNotReady, false);
  const RouteEntry* route = table_->Match(*path);
  if (!route) {
    table_.reset();
    return ReplyError(ProxyError::kNoRoute, false, *path);
  }

  FrameUpstreamRequest(request, upstream_target_);
  forwarder_.Forward(shared_from_this(), *this, request, *route->upstream, host_missing);
}

void Session::OnForwarded(ProxyError error) {
  table_.reset();  // the upstream side is done with the route
  if (error != ProxyError::kNone) return ReplyError(error, false);
  HttpResponse& response = forwarder_.response();
  RewriteResponseHeaders(response, request_id_);
  // Draining may have begun while the upstream answered: then say so rather than advertise a
  // keep-alive the gateway will not honour.
  FrameClientResponse(response, head_, client_version_, client_keep_alive_ && !worker_.draining());
  DoWrite(response);
}

void Session::ReplyError(ProxyError error, bool close, std::string_view path) {
  const ErrorReply reply = ReplyFor(error);
  error_response_ = {};
  error_response_.result(reply.status);
  error_response_.set(http::field::content_type, "application/json");
  if (!request_id_.empty()) error_response_.set("X-Request-Id", ToBeast(request_id_));
  error_response_.body() = ErrorBody(error, path);
  error_response_.content_length(error_response_.body().size());
  if (head_) error_response_.body().clear();  // the length is announced, the body not sent
  error_response_.version(client_version_ >= 11 ? 11 : 10);
  error_response_.keep_alive(!close && client_keep_alive_ && !worker_.draining());
  if (close) {
    // The rest of this request was not read: answer, then let the client finish sending.
    stream_.expires_after(worker_.settings().idle_timeout);
    http::async_write(stream_, error_response_,
                      [self = shared_from_this()](beast::error_code ec, size_t) {
                        if (ec) return;
                        self->DoLingeringClose();
                      });
    return;
  }
  DoWrite(error_response_);
}

void Session::DoWrite(HttpResponse& response) {
  stream_.expires_after(worker_.settings().idle_timeout);
  http::async_write(stream_, response,
                    [self = shared_from_this(), keep_alive = response.keep_alive()](
                        beast::error_code ec, size_t) { self->OnWrite(ec, keep_alive); });
}

void Session::OnWrite(const boost::system::error_code& ec, bool keep_alive) {
  if (ec) return;  // the connection is gone; dropping the session closes the socket
  if (!keep_alive) {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    return;
  }
  DoReadHeader();
}

void Session::DoLingeringClose() {
  beast::error_code ignored;
  stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
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
