// RetryState: every decision about sending a request again, for one upstream exchange.
//
// A request may go out more than once, for three reasons, each with its own rule:
//   failover    a connect failure (refused, unreachable, timed out) or a name that does not
//               resolve: the next endpoint not tried yet, at once;
//   fresh send  a pooled keep-alive connection the upstream had closed while it sat idle: the
//               same endpoint once more on a fresh connection, at once, for an idempotent
//               request whose streamed body was not sent (one per request);
//   route retry the route's `retries`: an attempt that failed after connecting (no answer in
//               time, a reset, a 502/503/504 answer) or found no endpoint left to try, is made
//               again on another endpoint of the service after a jittered backoff, for an
//               idempotent request whose body was not sent, while the exchange deadline is
//               ahead and within the service's retry budget.
// The Forwarder does the I/O and reports each outcome here; the Decision says what it does
// next. The answer when nothing is left: 504 past the exchange deadline, else the status of a
// 502/503/504 answer dropped for a retry, else 502 when an endpoint refused, else 503.
//
// Pure: no sockets, the clock passed in, the randomness of the backoff drawn from a
// RandomSource. It holds the retry budget's counts of this request and of its retry in flight
// until EndExchange (the ServiceEndpoints that holds the budget lives no longer than the route
// table the exchange pins). One per exchange, made by Forwarder::Open on its worker thread.
#pragma once

#include <boost/container/small_vector.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>

#include "gateway/http/proxy_error.h"
#include "gateway/http/proxy_settings.h"
#include "gateway/router/route_table.h"
#include "gateway/upstream/load_balancer.h"
#include "gateway/upstream/retry_budget.h"

namespace gw {

class RetryState {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  enum class Next {
    kOtherEndpoint,      // pick an endpoint not tried yet and connect to it
    kSameEndpointFresh,  // send again to the same endpoint on a new connection
    kAfterBackoff,       // a route retry: wait `backoff`, then OnBackoffEnded
    kFail,               // give the client `error`
    kUseAnswer,          // the response header just read is the one the client gets
  };

  struct Decision {
    Next next;
    std::chrono::microseconds backoff{0};  // kAfterBackoff
    ProxyError error = ProxyError::kNone;  // kFail

    friend bool operator==(const Decision&, const Decision&) = default;
  };

  // The route's `policy` for a request to `target` starting at `now`: its timeout bounds the
  // exchange, its per-try timeout (else settings.upstream_timeout) each attempt, its retries
  // count route retries (for a service only; each request of such a route counts in the
  // service's retry budget). `random` draws the backoffs and must outlive this state.
  RetryState(const ExchangePolicy& policy, const UpstreamTarget& target, bool idempotent,
             const ProxySettings& settings, RandomSource& random, TimePoint now);

  RetryState(const RetryState&) = delete;
  RetryState& operator=(const RetryState&) = delete;

  // When the exchange must be over (time_point::max(): no bound but the per-step timeouts).
  TimePoint exchange_deadline() const { return exchange_deadline_; }
  // When an attempt starting at `now` must have its response header.
  TimePoint AttemptDeadline(TimePoint now) const;

  // Endpoints tried by this request (indexes in target.endpoints), in order; a route retry
  // forgets them once every endpoint was tried, so its attempt may go to any again.
  std::span<const size_t> tried() const { return {tried_.data(), tried_.size()}; }
  void EndpointChosen(size_t index) { tried_.push_back(index); }
  uint32_t retries_done() const { return retries_done_; }

  // The request head was written and the client told the upstream is open: from now on a
  // connection that cannot be made ends the request, unless a route retry is under way.
  void Opened() { opened_ = true; }
  bool opened() const { return opened_; }
  // Some request body byte went out after the head (streamed, or written before the upstream
  // stopped reading it: an early response), so the request can no longer be sent again.
  void BodySent() { body_sent_ = true; }

  // No endpoint is left to pick: every one was tried, or (a service) none is available.
  Decision OnNoEndpointLeft(TimePoint now);
  // The chosen endpoint's name did not resolve.
  Decision OnResolveFailed();
  // The connection to the chosen endpoint could not be made.
  Decision OnConnectFailed(TimePoint now);
  // The request could not be written. `stale`: it failed the way a connection the upstream
  // closed while pooled fails (not a timeout); `reused`: the connection came from the pool.
  Decision OnSendFailed(ProxyError error, bool stale, bool reused);
  // No valid response header came (`error` its classification). `stale` as above: nothing of
  // an answer was received before the connection closed.
  Decision OnAttemptFailed(ProxyError error, bool stale, bool reused, TimePoint now);
  // The upstream answered `status` (a final status): a 502/503/504 is dropped for a route
  // retry while one may be made, and stays the answer should no later attempt get one.
  Decision OnUpstreamStatus(unsigned status, TimePoint now);
  // An HTTP/2 upstream refused the request's stream (REFUSED_STREAM, or a GOAWAY below its
  // id): it did not process it (RFC 9113 section 8.7), so the request goes once more on a
  // fresh connection whatever its method, unless body bytes went out that cannot be replayed.
  Decision OnStreamRefused();
  // A route retry's backoff ended: its attempt starts unless the exchange deadline passed.
  Decision OnBackoffEnded(TimePoint now);

  // The exchange ended: this request and its retry no longer count in the service's budget.
  void EndExchange();

 private:
  // A route retry may start: retries left, an idempotent request whose body was not sent, a
  // service (a DNS target has no budget), time left, and a place in the service's budget.
  bool MayRetry(TimePoint now);
  Decision StartRetry();
  bool MayResendFresh(bool reused) const;
  ProxyError FinalError(TimePoint now) const;

  const UpstreamTarget& target_;
  RandomSource& random_;
  const bool idempotent_;
  const TimePoint exchange_deadline_;
  const std::chrono::milliseconds attempt_timeout_;
  uint32_t retries_left_;
  uint32_t retries_done_ = 0;
  bool opened_ = false;
  bool body_sent_ = false;
  bool resent_ = false;                            // the one send on a fresh connection is spent
  bool any_connect_failure_ = false;               // in this route attempt: 502 rather than 503
  ProxyError retried_answer_ = ProxyError::kNone;  // what a dropped 502/503/504 answer said
  // Inline for the few endpoints most requests try: no allocation per request.
  boost::container::small_vector<size_t, 4> tried_;
  RetryBudget::ActiveRequest budget_request_;  // this request, on a route that retries
  RetryBudget::ActiveRetry budget_retry_;      // the route retry in progress, if any
};

}  // namespace gw
