// Forwarder: the upstream side of one request, phase by phase, with the body left to stream.
//
// The one place where the gateway talks to upstreams. Open: pick an endpoint (a service's
// balancer over its healthy, non-ejected endpoints, within its circuit-breaking limits;
// round-robin for a DNS target), take a pooled keep-alive connection or resolve and connect
// (trying another endpoint when one is refused, unreachable or times out; connect errors and
// 5xx answers count toward passive ejection), and write the request head. The session then
// streams the request body into connection(). ReadResponse: read the final response header
// (1xx skipped; a 101 only when the request asked for an upgrade) into response_parser(); a
// route's retries resend a failed idempotent request elsewhere first. The session streams the
// body to its client. Release gives the connection back to the pool when the exchange ended
// cleanly and both sides allow keep-alive; TakeConnection hands it to a tunnel.
// A pooled connection found closed by the upstream is retried once on a fresh connection for
// idempotent methods, and only while no byte of a streamed request body was sent; a non-idempotent
// request, never resent, only reuses a connection idle for less than kNonIdempotentMaxIdle.
// Whether, where and when a request is sent again, RetryState decides (retry_state.h); the
// Forwarder does the I/O of each decision.
// Each Session owns one Forwarder and reuses it for every request of its connection; it runs on
// the session's worker thread and never throws.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/http/http_message.h"
#include "gateway/http/proxy_error.h"
#include "gateway/http/proxy_settings.h"
#include "gateway/net/net.h"
#include "gateway/proxy/retry_state.h"
#include "gateway/router/route_table.h"
#include "gateway/upstream/endpoint_state.h"
#include "gateway/upstream/load_balancer.h"
#include "gateway/upstream/upstream_pool.h"

namespace gw {

// Receives the outcome of each Forwarder phase, exactly once per call, on the worker thread.
// After an error the forwarder holds no connection any more; the client should get
// ReplyFor(error).
class ForwardSink {
 public:
  // Open: the request header was written to an upstream connection (kNone).
  virtual void OnUpstreamOpen(ProxyError error) = 0;
  // ReadResponse: the upstream's final response header is in response_parser() (kNone).
  virtual void OnResponseHeader(ProxyError error) = 0;

 protected:
  ~ForwardSink() = default;
};

// How often a request queued at a service's max_connections looks for a place.
inline constexpr std::chrono::milliseconds kPlacePollInterval{2};

// How long an upstream that stopped taking a request body may take to show its answer.
inline constexpr std::chrono::milliseconds kEarlyResponseWait{1000};

class Forwarder {
 public:
  // `seed` starts the random source of load balancing.
  Forwarder(const NetExecutor& executor, UpstreamPool& pool, const ProxySettings& settings,
            uint64_t seed);

  Forwarder(const Forwarder&) = delete;
  Forwarder& operator=(const Forwarder&) = delete;

  // Sends the header of `request` (already rewritten for the upstream hop) to one endpoint of
  // `target`. `owner` keeps `sink`, `request` and `target` alive until the exchange ends
  // (Release, TakeConnection or an error); it is held by pending operations, never stored.
  // With `set_host`, the Host header is set to the chosen endpoint (for HTTP/1.0 clients that
  // sent none). With `upgrade`, a 101 answer is the final response. The route's `policy`:
  // its `timeout` (zero: none) bounds the whole exchange, from now until the response is
  // complete: see exchange_deadline(). Each attempt waits `per_try_timeout` (zero:
  // --upstream-timeout) for the response header, and at most until the exchange deadline.
  // `retries` more attempts, on other endpoints of a service, are made for an idempotent
  // request whose body was not sent when an attempt fails (no response in time, a reset, or
  // 502/503/504 from the upstream) while the exchange deadline is ahead, after a jittered
  // backoff and within the service's retry budget (a share of the service's requests on routes
  // that retry). `body`, when not empty, is the request's whole body (already framed by its
  // Content-Length), written with the head and again with each resend; the caller keeps it
  // alive until OnResponseHeader and passes body_sent = false to ReadResponse.
  void Open(std::shared_ptr<void> owner, ForwardSink& sink, HttpRequest& request,
            const UpstreamTarget& target, bool set_host, bool upgrade,
            const ExchangePolicy& policy = {}, std::string_view body = {});

  // For an upstream that carries many requests per connection (h2c): picks an endpoint of
  // `target` as Open does (its balancer, health, ejection and circuit-breaking limits, failover
  // when a connect fails, the connect timeout) and, unless `at_hand` says the caller has a
  // connection to it that takes the request, connects, writing nothing. OnUpstreamOpen(kNone)
  // then: endpoint() is the pick and TakeConnection() the new connection, null when one was at
  // hand. `request` gives the balancer's hash key; `owner` as for Open.
  void OpenMultiplexed(std::shared_ptr<void> owner, ForwardSink& sink, HttpRequest& request,
                       const UpstreamTarget& target, const ExchangePolicy& policy,
                       std::function<bool(const HostPort&)> at_hand);

  // For OpenMultiplexed, whose caller reads the answer itself: the outcome of the request with
  // the endpoint picked last of `target` (the one the request was opened on), for passive
  // ejection as Open's exchanges count theirs: a stream reset or no response header in time, or
  // a 5xx answer, is a failure. Valid after OnUpstreamOpen(kNone), also after TakeConnection.
  void RecordStreamOutcome(const UpstreamTarget& target, bool success);

  // When the exchange must be over (time_point::max(): no bound but the per-step timeouts).
  std::chrono::steady_clock::time_point exchange_deadline() const {
    return retry_ ? retry_->exchange_deadline() : std::chrono::steady_clock::time_point::max();
  }

  // After OnUpstreamOpen(kNone) and the request body: reads the response header. `body_sent`:
  // some request body byte went out, so the request can no longer be resent.
  void ReadResponse(std::shared_ptr<void> owner, bool body_sent);

  // After the request body could not be written whole (the upstream closed or stopped
  // reading): reads the response the upstream may have sent before that, waiting at most
  // kEarlyResponseWait for it; without one, OnResponseHeader(`otherwise`). The connection is
  // never reused after such an exchange.
  void ReadEarlyResponse(std::shared_ptr<void> owner, ProxyError otherwise);

  // The upstream's response is read whole (its last bytes may still be on their way to the
  // client): the connection is no longer in use, so it stops counting under the service's
  // max_connections now; a client's next request, on another worker, must not find it taken.
  void ResponseRead();
  // Ends the exchange. The connection returns to the pool when `response_complete` (the whole
  // response body was read) and the upstream allows keep-alive; otherwise it is closed.
  void Release(bool response_complete);

  // Ends the exchange for a tunnel: the connection, never pooled.
  UpstreamConnectionPtr TakeConnection();

  // The client is gone (its HTTP/2 stream was reset) while Open, OpenMultiplexed or
  // ReadResponse is pending: whatever step that is (a wait for a place, a backoff, a resolve, a
  // connect, the head's write, the response header's read) ends now instead of at its timeout,
  // as kUpstreamFailed through the usual callback, with no retry and no failure counted against
  // the endpoint. The connection in use is closed. A DNS lookup already running finishes first
  // (getaddrinfo cannot be interrupted). Only while such a call is pending.
  void Cancel();

  // Valid between OnUpstreamOpen(kNone) and the end of the exchange.
  UpstreamConnection& connection() { return *connection_; }
  // Valid after OnResponseHeader(kNone) until the next Open.
  ResponseParser& response_parser() { return *parser_; }
  bool active() const { return endpoint_ != nullptr; }
  // Route retries made since the last Open.
  uint32_t retries_done() const { return retry_ ? retry_->retries_done() : 0; }
  // After kCircuitOpen: the service limit that refused the request ("max_connections", ...).
  std::string_view circuit_refusal() const { return circuit_refusal_; }
  // The endpoint of the exchange in progress; null outside one.
  const HostPort* endpoint() const { return endpoint_ ? &endpoint_->endpoint : nullptr; }

 private:
  using Owner = std::shared_ptr<void>;

  // Open's work, for both kinds of upstream.
  void Start(Owner owner, ForwardSink& sink, HttpRequest& request, const UpstreamTarget& target,
             bool set_host, bool upgrade, const ExchangePolicy& policy, std::string_view body);
  // Does what retry_ decided (see RetryState): the I/O of each next step.
  void Follow(Owner owner, const RetryState::Decision& decision);
  void TryEndpoint(Owner owner);
  void NextEndpoint(Owner owner);
  // A new connection to endpoint_, within the service's circuit-breaking limits: at
  // max_connections a service with max_pending lets the request wait (WaitForPlace), up to the
  // connect timeout, for a place or an idle pooled connection.
  void Connect(Owner owner);
  void WaitForPlace(Owner owner);
  void OpenConnection(Owner owner, CircuitSlot place);
  void OnResolve(Owner owner, const boost::system::error_code& ec,
                 const TcpResolver::results_type& results);
  void OnConnect(Owner owner, const boost::system::error_code& ec);
  void DoWriteHeader(Owner owner);
  void OnWriteHeader(Owner owner, const boost::system::error_code& ec);
  void DoRead(Owner owner);
  void OnRead(Owner owner, const boost::system::error_code& ec);
  void UseResponse();
  // A pooled connection taken for a service with max_connections counts under it while in
  // use: false (kCircuitOpen) when that would exceed the limit.
  bool CountReusedConnection();
  // A route retry: the failed attempt's connection and endpoint go now, the next attempt
  // after `backoff`.
  void RetryAfter(Owner owner, std::chrono::microseconds backoff);
  // The service's connect timeout, else --connect-timeout, within the exchange deadline.
  std::chrono::steady_clock::duration ConnectTimeout() const;
  // Passive ejection: the outcome of the exchange with the chosen endpoint of a service.
  void RecordOutcome(bool success);
  void Fail(ProxyError error);
  void EndExchange();

  NetExecutor executor_;
  UpstreamPool& pool_;
  const ProxySettings& settings_;
  TcpResolver resolver_;

  // The request in flight.
  ForwardSink* sink_ = nullptr;
  HttpRequest* request_ = nullptr;
  std::string_view body_;  // a whole body sent with the head; empty: the session streams it
  const UpstreamTarget* target_ = nullptr;
  bool set_host_ = false;
  bool upgrade_ = false;
  bool head_ = false;
  bool idempotent_ = false;
  std::function<bool(const HostPort&)> at_hand_;  // set: OpenMultiplexed, nothing is written
  bool early_ = false;  // reading a response to a request whose body did not all go out
  ProxyError early_otherwise_ = ProxyError::kNone;
  size_t first_ = 0;              // endpoint index chosen by round-robin (a DNS target)
  size_t endpoint_index_ = 0;     // in target_->endpoints
  std::optional<uint64_t> hash_;  // ring_hash's key for this request
  SplitMix64 random_;
  std::optional<RetryState> retry_;       // from Open; kept after the exchange for retries_done
  ServiceEndpoints::InFlight in_flight_;  // least_request's count for the chosen endpoint
  CircuitSlot pending_slot_;              // max_pending's count while waiting or connecting
  std::chrono::steady_clock::time_point wait_until_;  // the end of a wait for a place
  std::string_view circuit_refusal_;
  SteadyTimer retry_timer_;               // a route retry's backoff; the poll of a wait for a place
  bool reused_ = false;                   // the connection came from the pool
  bool upstream_keep_alive_ = false;      // the response allows reusing the connection
  bool cancelled_ = false;                // Cancel() came: the pending step fails, no more
  UpstreamEndpoint* endpoint_ = nullptr;  // in use while not null
  UpstreamConnectionPtr connection_;
  std::chrono::steady_clock::time_point deadline_;  // of the response header
  std::string request_head_;                        // the request head as written upstream
  std::optional<ResponseParser> parser_;
};

}  // namespace gw
