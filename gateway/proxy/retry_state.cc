#include "gateway/proxy/retry_state.h"

#include <algorithm>

namespace gw {

namespace {

using Next = RetryState::Next;

RetryState::Decision Fail(ProxyError error) { return {Next::kFail, {}, error}; }

}  // namespace

RetryState::RetryState(const ExchangePolicy& policy, const UpstreamTarget& target, bool idempotent,
                       const ProxySettings& settings, RandomSource& random, TimePoint now)
    : target_(target),
      random_(random),
      idempotent_(idempotent),
      exchange_deadline_(policy.timeout.count() > 0 ? now + policy.timeout : TimePoint::max()),
      attempt_timeout_(policy.per_try_timeout.count() > 0 ? policy.per_try_timeout
                                                          : settings.upstream_timeout),
      retries_left_(policy.retries) {
  // Shared counters cost a contended cache line per request: only routes that retry count.
  if (target.balancer && policy.retries > 0) {
    budget_request_ = target.balancer->endpoints().retry_budget().StartRequest();
  }
}

RetryState::TimePoint RetryState::AttemptDeadline(TimePoint now) const {
  return std::min(now + attempt_timeout_, exchange_deadline_);
}

RetryState::Decision RetryState::OnNoEndpointLeft(TimePoint now) {
  // Every available endpoint failed to connect: another attempt, if the route has one.
  if (!tried_.empty() && MayRetry(now)) return StartRetry();
  // Never routed to an endpoint known to be down: 503 when none was available at all.
  return Fail(tried_.empty() && retries_done_ == 0 ? ProxyError::kUpstreamUnavailable
                                                   : FinalError(now));
}

RetryState::Decision RetryState::OnResolveFailed() {
  // A fresh send found no way back to its endpoint; a route retry tries another one.
  if (opened_ && retries_done_ == 0) return Fail(ProxyError::kUpstreamFailed);
  return {Next::kOtherEndpoint};  // 503 unless another endpoint is reachable
}

RetryState::Decision RetryState::OnConnectFailed(TimePoint now) {
  if (now >= exchange_deadline_) {
    return Fail(ProxyError::kUpstreamTimeout);  // the route's time ran out while connecting
  }
  // A fresh send goes to the same endpoint only; a route retry tries another one.
  if (opened_ && retries_done_ == 0) return Fail(ProxyError::kUpstreamConnect);
  any_connect_failure_ = true;
  return {Next::kOtherEndpoint};
}

RetryState::Decision RetryState::OnSendFailed(ProxyError error, bool stale, bool reused) {
  if (stale && MayResendFresh(reused)) {
    resent_ = true;
    return {Next::kSameEndpointFresh};
  }
  return Fail(error);
}

RetryState::Decision RetryState::OnAttemptFailed(ProxyError error, bool stale, bool reused,
                                                 TimePoint now) {
  if (stale && MayResendFresh(reused)) {
    resent_ = true;
    return {Next::kSameEndpointFresh};
  }
  if (MayRetry(now)) return StartRetry();
  return Fail(error);
}

RetryState::Decision RetryState::OnUpstreamStatus(unsigned status, TimePoint now) {
  if ((status == 502 || status == 503 || status == 504) && MayRetry(now)) {
    // The answer is dropped with its connection; should no later attempt get one, the client
    // gets this status from the gateway.
    retried_answer_ = status == 502   ? ProxyError::kUpstreamFailed
                      : status == 503 ? ProxyError::kUpstreamUnavailable
                                      : ProxyError::kUpstreamTimeout;
    return StartRetry();
  }
  return {Next::kUseAnswer};
}

RetryState::Decision RetryState::OnStreamRefused() {
  if (!body_sent_ && !resent_) {
    resent_ = true;
    return {Next::kSameEndpointFresh};
  }
  return Fail(ProxyError::kUpstreamUnavailable);
}

RetryState::Decision RetryState::OnBackoffEnded(TimePoint now) {
  if (now >= exchange_deadline_) {
    return Fail(ProxyError::kUpstreamTimeout);  // the route's time ran out during the backoff
  }
  any_connect_failure_ = false;
  return {Next::kOtherEndpoint};
}

void RetryState::EndExchange() {
  budget_retry_.Release();
  budget_request_.Release();
}

bool RetryState::MayRetry(TimePoint now) {
  if (retries_left_ == 0 || !idempotent_ || body_sent_ || !target_.balancer ||
      now >= exchange_deadline_) {
    return false;
  }
  // Within the budget: retries must not multiply the load on a service that is failing.
  budget_retry_ = target_.balancer->endpoints().retry_budget().TryStartRetry();
  return static_cast<bool>(budget_retry_);
}

RetryState::Decision RetryState::StartRetry() {
  --retries_left_;
  ++retries_done_;
  // Another endpoint when one is left; else the same ones again.
  if (tried_.size() >= target_.endpoints.size()) tried_.clear();
  return {Next::kAfterBackoff, RetryBackoff(retries_done_, random_.Next())};
}

bool RetryState::MayResendFresh(bool reused) const {
  return reused && idempotent_ && !resent_ && !body_sent_;
}

ProxyError RetryState::FinalError(TimePoint now) const {
  if (now >= exchange_deadline_) return ProxyError::kUpstreamTimeout;
  if (retried_answer_ != ProxyError::kNone) return retried_answer_;
  return FinalUpstreamError(any_connect_failure_);
}

}  // namespace gw
