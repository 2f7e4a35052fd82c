#include "gateway/proxy/forwarder.h"

#include <boost/asio/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <string>
#include <utility>

#include "common/log.h"
#include "gateway/proxy/header_rewrite.h"
#include "gateway/upstream/round_robin.h"

namespace gw {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

void LogUpstreamFailure(std::string_view what, const UpstreamEndpoint& endpoint,
                        const boost::system::error_code& ec) {
  std::string line(what);
  line += ' ';
  line += FormatHostPort(endpoint.endpoint.host, endpoint.endpoint.port);
  line += ": ";
  line += ec.message();
  Log(LogLevel::kDebug, line);
}

}  // namespace

Forwarder::Forwarder(const asio::any_io_executor& executor, UpstreamPool& pool,
                     const ProxySettings& settings)
    : executor_(executor), pool_(pool), settings_(settings), resolver_(executor) {}

void Forwarder::Forward(Owner owner, ForwardSink& sink, HttpRequest& request,
                        const UpstreamTarget& target, bool set_host) {
  sink_ = &sink;
  request_ = &request;
  target_ = &target;
  set_host_ = set_host;
  head_ = request.method() == http::verb::head;
  idempotent_ = IsIdempotentMethod(ToStd(request.method_string()));
  attempt_ = 0;
  any_connect_failure_ = false;
  retried_ = false;
  if (target.endpoints.empty()) return Finish(ProxyError::kUpstreamUnavailable);
  first_ = RoundRobinNext(target);
  TryEndpoint(std::move(owner));
}

void Forwarder::TryEndpoint(Owner owner) {
  const auto& endpoints = target_->endpoints;
  if (attempt_ == endpoints.size()) return Finish(FinalUpstreamError(any_connect_failure_));
  const HostPort& chosen = endpoints[(first_ + attempt_) % endpoints.size()];
  endpoint_ = &pool_.Use(chosen);
  if (set_host_) request_->set(http::field::host, FormatHostPort(chosen.host, chosen.port));
  connection_ = pool_.Acquire(*endpoint_, idempotent_);
  if (connection_) {
    reused_ = true;
    return DoWrite(std::move(owner));
  }
  Connect(std::move(owner));
}

void Forwarder::NextEndpoint(Owner owner) {
  connection_.reset();
  pool_.Unuse(*endpoint_);
  endpoint_ = nullptr;
  ++attempt_;
  TryEndpoint(std::move(owner));
}

void Forwarder::Connect(Owner owner) {
  reused_ = false;
  connection_ = std::make_unique<UpstreamConnection>(executor_);
  if (endpoint_->address) {
    connection_->stream.expires_after(settings_.connect_timeout);
    connection_->stream.async_connect(
        *endpoint_->address, [this, owner = std::move(owner)](beast::error_code ec) mutable {
          OnConnect(std::move(owner), ec);
        });
    return;
  }
  resolver_.async_resolve(endpoint_->endpoint.host, endpoint_->port_text,
                          tcp::resolver::numeric_service,
                          [this, owner = std::move(owner)](
                              beast::error_code ec, tcp::resolver::results_type results) mutable {
                            OnResolve(std::move(owner), ec, results);
                          });
}

void Forwarder::OnResolve(Owner owner, const boost::system::error_code& ec,
                          const tcp::resolver::results_type& results) {
  if (ec || results.empty()) {
    LogUpstreamFailure("cannot resolve upstream", *endpoint_, ec);
    return NextEndpoint(std::move(owner));  // 503 unless another endpoint is reachable
  }
  connection_->stream.expires_after(settings_.connect_timeout);
  connection_->stream.async_connect(
      results,
      [this, owner = std::move(owner)](beast::error_code ec, const tcp::endpoint&) mutable {
        OnConnect(std::move(owner), ec);
      });
}

void Forwarder::OnConnect(Owner owner, const boost::system::error_code& ec) {
  if (ec) {
    LogUpstreamFailure("cannot connect to upstream", *endpoint_, ec);
    any_connect_failure_ = true;
    return NextEndpoint(std::move(owner));
  }
  beast::error_code ignored;
  connection_->stream.socket().set_option(tcp::no_delay(true), ignored);
  DoWrite(std::move(owner));
}

void Forwarder::DoWrite(Owner owner) {
  deadline_ = std::chrono::steady_clock::now() + settings_.upstream_timeout;
  connection_->stream.expires_at(deadline_);
  http::async_write(connection_->stream, *request_,
                    [this, owner = std::move(owner)](beast::error_code ec, size_t) mutable {
                      OnWrite(std::move(owner), ec);
                    });
}

void Forwarder::OnWrite(Owner owner, const boost::system::error_code& ec) {
  if (ec) {
    // A pooled connection the upstream closed fails here or in the read that follows.
    if (ec != beast::error::timeout && CanRetry()) return Retry(std::move(owner));
    LogUpstreamFailure("cannot send request to upstream", *endpoint_, ec);
    return Finish(ClassifyUpstreamError(UpstreamStage::kExchange, ec));
  }
  DoRead(std::move(owner));
}

void Forwarder::DoRead(Owner owner) {
  parser_.emplace();
  parser_->header_limit(settings_.max_header_size);
  parser_->body_limit(settings_.max_response_body_size);
  if (head_) parser_->skip(true);  // a response to HEAD has no body, whatever it announces
  connection_->stream.expires_at(deadline_);
  http::async_read(connection_->stream, connection_->buffer, *parser_,
                   [this, owner = std::move(owner)](beast::error_code ec, size_t) mutable {
                     OnRead(std::move(owner), ec);
                   });
}

void Forwarder::OnRead(Owner owner, const boost::system::error_code& ec) {
  if (ec) {
    if (!parser_->got_some() && connection_->buffer.size() == 0 && IsStaleConnectionError(ec) &&
        CanRetry()) {
      return Retry(std::move(owner));
    }
    LogUpstreamFailure("no valid response from upstream", *endpoint_, ec);
    return Finish(ClassifyUpstreamError(UpstreamStage::kExchange, ec));
  }
  const unsigned status = parser_->get().result_int();
  if (status == 101) {  // the gateway strips Upgrade, so no switch was asked for
    return Finish(ProxyError::kUpstreamFailed);
  }
  if (status >= 100 && status < 200) return DoRead(std::move(owner));  // interim: skip it

  const bool reusable = KeepAlive(parser_->get(), parser_->get().version()) &&
                        !parser_->need_eof() && connection_->buffer.size() == 0;
  if (reusable) pool_.Release(*endpoint_, std::move(connection_));
  Finish(ProxyError::kNone);
}

bool Forwarder::CanRetry() const { return reused_ && idempotent_ && !retried_; }

void Forwarder::Retry(Owner owner) {
  retried_ = true;
  connection_.reset();
  Connect(std::move(owner));
}

void Forwarder::Finish(ProxyError error) {
  connection_.reset();  // after an error it is never pooled; on success it was released
  if (endpoint_) {
    pool_.Unuse(*endpoint_);
    endpoint_ = nullptr;
  }
  ForwardSink* sink = sink_;
  sink_ = nullptr;
  request_ = nullptr;
  target_ = nullptr;
  sink->OnForwarded(error);
}

}  // namespace gw
