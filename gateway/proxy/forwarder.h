// Forwarder: sends one client request to a route's upstream and reads the response.
//
// The one place where the gateway talks to upstreams, phase by phase: pick an endpoint
// (round-robin, one cursor shared by all workers), take a pooled keep-alive connection or resolve
// and connect (trying the next endpoint when one is refused, unreachable or times out), write the
// request, read the response, and give the connection back to the pool when both sides allow
// keep-alive. A pooled connection found closed by the upstream is retried once on a fresh
// connection for idempotent methods; a non-idempotent request, never resent, only reuses a
// connection idle for less than kNonIdempotentMaxIdle (the upstream is unlikely to be closing
// it just then). Each Session owns one Forwarder and reuses it for every request of its connection;
// it runs on the session's worker thread and never throws.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http/parser.hpp>
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>

#include "gateway/proxy/http_message.h"
#include "gateway/proxy/proxy_error.h"
#include "gateway/proxy/proxy_settings.h"
#include "gateway/router/route_table.h"
#include "gateway/upstream/upstream_pool.h"

namespace gw {

// Receives the outcome of Forwarder::Forward.
class ForwardSink {
 public:
  // Called exactly once per Forward, on the worker thread. With ProxyError::kNone the upstream's
  // response is in Forwarder::response(); otherwise the client should get ReplyFor(error).
  virtual void OnForwarded(ProxyError error) = 0;

 protected:
  ~ForwardSink() = default;
};

class Forwarder {
 public:
  Forwarder(const boost::asio::any_io_executor& executor, UpstreamPool& pool,
            const ProxySettings& settings);

  Forwarder(const Forwarder&) = delete;
  Forwarder& operator=(const Forwarder&) = delete;

  // Forwards `request` (already rewritten for the upstream hop) to one endpoint of `target`.
  // `owner` keeps `sink`, `request` and `target` alive until sink.OnForwarded has been called;
  // it is held by the pending operation, never stored. With `set_host`, the Host header is set
  // to the chosen endpoint (for HTTP/1.0 clients that sent none).
  void Forward(std::shared_ptr<void> owner, ForwardSink& sink, HttpRequest& request,
               const UpstreamTarget& target, bool set_host);

  // The upstream's final response, valid after OnForwarded(kNone) until the next Forward.
  HttpResponse& response() { return parser_->get(); }

 private:
  using Owner = std::shared_ptr<void>;

  void TryEndpoint(Owner owner);
  void NextEndpoint(Owner owner);
  void Connect(Owner owner);
  void OnResolve(Owner owner, const boost::system::error_code& ec,
                 const boost::asio::ip::tcp::resolver::results_type& results);
  void OnConnect(Owner owner, const boost::system::error_code& ec);
  void DoWrite(Owner owner);
  void OnWrite(Owner owner, const boost::system::error_code& ec);
  void DoRead(Owner owner);
  void OnRead(Owner owner, const boost::system::error_code& ec);
  bool CanRetry() const;
  void Retry(Owner owner);
  void Finish(ProxyError error);

  boost::asio::any_io_executor executor_;
  UpstreamPool& pool_;
  const ProxySettings& settings_;
  boost::asio::ip::tcp::resolver resolver_;

  // The request in flight.
  ForwardSink* sink_ = nullptr;
  HttpRequest* request_ = nullptr;
  const UpstreamTarget* target_ = nullptr;
  bool set_host_ = false;
  bool head_ = false;
  bool idempotent_ = false;
  size_t first_ = 0;    // endpoint index chosen by round-robin
  size_t attempt_ = 0;  // endpoints tried so far
  bool any_connect_failure_ = false;
  bool reused_ = false;                   // the connection came from the pool
  bool retried_ = false;                  // the one retry on a fresh connection is spent
  UpstreamEndpoint* endpoint_ = nullptr;  // in use while not null
  UpstreamConnectionPtr connection_;
  std::chrono::steady_clock::time_point deadline_;
  std::optional<boost::beast::http::response_parser<boost::beast::http::string_body>> parser_;
};

}  // namespace gw
