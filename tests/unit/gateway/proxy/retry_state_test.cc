// RetryState: what the Forwarder does after each outcome of an exchange, without sockets. Each
// case plays what a Forwarder would report, in order, and the decision expected after each.
#include "gateway/proxy/retry_state.h"

#include <gtest/gtest.h>

#include <cctype>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace gw {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;
using Decision = RetryState::Decision;
using Next = RetryState::Next;
using TimePoint = RetryState::TimePoint;

const TimePoint kStart = TimePoint() + std::chrono::hours(1);

// Always the same bits: each backoff is kBackoff (below every cap of RetryBackoff).
class FixedRandom final : public RandomSource {
 public:
  uint64_t Next() override { return 1000; }
};
constexpr microseconds kBackoff{1000};

const Decision kOther{Next::kOtherEndpoint};
const Decision kFresh{Next::kSameEndpointFresh};
const Decision kRetry{Next::kAfterBackoff, kBackoff};
const Decision kAnswer{Next::kUseAnswer};
Decision Failed(ProxyError error) { return {Next::kFail, {}, error}; }

enum class Target { kService, kDns };

std::unique_ptr<UpstreamTarget> MakeTarget(Target kind, size_t endpoints,
                                           RetryBudgetConfig budget = {}) {
  auto target = std::make_unique<UpstreamTarget>();
  ServicePolicy policy;
  for (size_t i = 0; i < endpoints; ++i) {
    policy.endpoints.push_back({"10.0.0." + std::to_string(i + 1), 8080});
  }
  target->endpoints = policy.endpoints;
  if (kind == Target::kService) {
    target->is_service = true;
    target->name = "order-svc";
    policy.retry_budget = budget;
    target->balancer = std::make_shared<const LoadBalancer>(
        std::make_shared<ServiceEndpoints>("order-svc", std::move(policy)));
  } else {
    target->name = "order.internal:8080";
  }
  return target;
}

// What the Forwarder reports.
enum class Event {
  kChoose,              // picked `endpoint` (decides nothing)
  kOpened,              // the head went out, the client was told (decides nothing)
  kBodySent,            // a streamed body byte went out, or an early response (decides nothing)
  kNoEndpointLeft,      // nothing left to pick
  kResolveFailed,       // the endpoint's name did not resolve
  kConnectFailed,       // refused, unreachable, connect timeout
  kSendFailed,          // writing the head failed, not by a timeout (stale if `reused`)
  kSendTimedOut,        // writing the head timed out
  kClosedBeforeAnswer,  // the connection closed before any byte of an answer (stale if `reused`)
  kNoAnswerInTime,      // no response header within the attempt's deadline
  kBadAnswer,           // an invalid or cut response header
  kStatus,              // the upstream answered `status`
  kStreamRefused,       // an HTTP/2 upstream refused the stream
  kBackoffEnded,        // a route retry's backoff is over
};

struct Step {
  Event event;
  std::optional<Decision> expected{};  // none for the events that decide nothing
  milliseconds at{0};                  // since the exchange started
  unsigned status = 0;
  bool reused = true;
  size_t endpoint = 0;
};

Step Choose(size_t endpoint) { return {Event::kChoose, std::nullopt, {}, 0, true, endpoint}; }
Step Do(Event event) { return {event, std::nullopt}; }
Step On(Event event, Decision expected, milliseconds at = {}) { return {event, expected, at}; }
// The same on a connection made for this request, not taken from the pool.
Step OnNew(Event event, Decision expected) { return {event, expected, {}, 0, false}; }
Step Status(unsigned status, Decision expected, milliseconds at = {}) {
  return {Event::kStatus, expected, at, status};
}

std::optional<Decision> Play(RetryState& state, const Step& step) {
  const TimePoint now = kStart + step.at;
  switch (step.event) {
    case Event::kChoose:
      state.EndpointChosen(step.endpoint);
      return std::nullopt;
    case Event::kOpened:
      state.Opened();
      return std::nullopt;
    case Event::kBodySent:
      state.BodySent();
      return std::nullopt;
    case Event::kNoEndpointLeft:
      return state.OnNoEndpointLeft(now);
    case Event::kResolveFailed:
      return state.OnResolveFailed();
    case Event::kConnectFailed:
      return state.OnConnectFailed(now);
    case Event::kSendFailed:
      return state.OnSendFailed(ProxyError::kUpstreamFailed, true, step.reused);
    case Event::kSendTimedOut:
      return state.OnSendFailed(ProxyError::kUpstreamTimeout, false, step.reused);
    case Event::kClosedBeforeAnswer:
      return state.OnAttemptFailed(ProxyError::kUpstreamFailed, true, step.reused, now);
    case Event::kNoAnswerInTime:
      return state.OnAttemptFailed(ProxyError::kUpstreamTimeout, false, step.reused, now);
    case Event::kBadAnswer:
      return state.OnAttemptFailed(ProxyError::kUpstreamFailed, false, step.reused, now);
    case Event::kStatus:
      return state.OnUpstreamStatus(step.status, now);
    case Event::kStreamRefused:
      return state.OnStreamRefused();
    case Event::kBackoffEnded:
      return state.OnBackoffEnded(now);
  }
  return std::nullopt;
}

std::string Describe(const Decision& decision) {
  static constexpr const char* kNames[] = {"other endpoint", "same endpoint, fresh connection",
                                           "after backoff", "fail", "use the answer"};
  std::string text = kNames[static_cast<int>(decision.next)];
  if (decision.next == Next::kAfterBackoff) {
    text += " " + std::to_string(decision.backoff.count()) + "us";
  }
  if (decision.next == Next::kFail) text += std::string(" ") += ReplyFor(decision.error).code;
  return text;
}

struct Case {
  std::string name;
  Target target = Target::kService;
  size_t endpoints = 2;
  uint32_t retries = 0;
  milliseconds timeout{0};  // the route's, for the whole exchange; 0: none
  bool idempotent = true;   // GET; false: POST
  RetryBudgetConfig budget{};
  std::vector<Step> steps{};
  uint32_t retries_done = 0;
};

const RetryBudgetConfig kNoBudget{0, 0};  // no retry may start

const std::vector<Case>& Cases() {
  static const std::vector<Case> cases = {
      // (a) Failover on connect failure.
      {.name = "a refusing endpoint: the next one",
       .endpoints = 3,
       .steps = {Choose(0), On(Event::kConnectFailed, kOther), Choose(1), Do(Event::kOpened),
                 Status(200, kAnswer)}},
      {.name = "every endpoint refusing: 502",
       .steps = {Choose(0), On(Event::kConnectFailed, kOther), Choose(1),
                 On(Event::kConnectFailed, kOther),
                 On(Event::kNoEndpointLeft, Failed(ProxyError::kUpstreamConnect))}},
      {.name = "no endpoint available at all: 503, even with retries",
       .retries = 2,
       .steps = {On(Event::kNoEndpointLeft, Failed(ProxyError::kUpstreamUnavailable))}},
      {.name = "names that do not resolve: 503",
       .steps = {Choose(0), On(Event::kResolveFailed, kOther), Choose(1),
                 On(Event::kResolveFailed, kOther),
                 On(Event::kNoEndpointLeft, Failed(ProxyError::kUpstreamUnavailable))}},
      {.name = "every endpoint refusing: a route retry within the budget, on any endpoint again",
       .retries = 1,
       .steps = {Choose(0), On(Event::kConnectFailed, kOther), Choose(1),
                 On(Event::kConnectFailed, kOther), On(Event::kNoEndpointLeft, kRetry),
                 On(Event::kBackoffEnded, kOther), Choose(0), Do(Event::kOpened),
                 Status(200, kAnswer)},
       .retries_done = 1},
      {.name = "a route retry forgets the last attempt's connect failures",
       .retries = 1,
       .steps = {Choose(0), On(Event::kConnectFailed, kOther), Choose(1),
                 On(Event::kConnectFailed, kOther), On(Event::kNoEndpointLeft, kRetry),
                 On(Event::kBackoffEnded, kOther), Choose(0), On(Event::kResolveFailed, kOther),
                 Choose(1), On(Event::kResolveFailed, kOther),
                 On(Event::kNoEndpointLeft, Failed(ProxyError::kUpstreamUnavailable))},
       .retries_done = 1},

      // (b) One send on a fresh connection for a pooled one the upstream had closed.
      {.name = "stale pooled connection at the read: one fresh send to the same endpoint",
       .steps = {Choose(0), Do(Event::kOpened), On(Event::kClosedBeforeAnswer, kFresh),
                 Status(200, kAnswer)}},
      {.name = "stale pooled connection at the write: one fresh send",
       .steps = {Choose(0), On(Event::kSendFailed, kFresh), Do(Event::kOpened),
                 Status(200, kAnswer)}},
      {.name = "one fresh send per request",
       .retries = 1,
       .steps = {Choose(0), Do(Event::kOpened), On(Event::kClosedBeforeAnswer, kFresh),
                 On(Event::kSendFailed, Failed(ProxyError::kUpstreamFailed))}},
      {.name = "a connection made for the request is not stale: a route retry instead",
       .retries = 1,
       .steps = {Choose(0), Do(Event::kOpened), OnNew(Event::kClosedBeforeAnswer, kRetry)},
       .retries_done = 1},
      {.name = "never a fresh send after body bytes went out",
       .steps = {Choose(0), Do(Event::kOpened), Do(Event::kBodySent),
                 On(Event::kClosedBeforeAnswer, Failed(ProxyError::kUpstreamFailed))}},
      {.name = "never a fresh send of a non-idempotent request",
       .idempotent = false,
       .steps = {Choose(0), On(Event::kSendFailed, Failed(ProxyError::kUpstreamFailed))}},
      {.name = "a write that timed out is not stale",
       .steps = {Choose(0), On(Event::kSendTimedOut, Failed(ProxyError::kUpstreamTimeout))}},
      {.name = "an opened request's fresh send that cannot connect ends it",
       .steps = {Choose(0), Do(Event::kOpened), On(Event::kClosedBeforeAnswer, kFresh),
                 On(Event::kConnectFailed, Failed(ProxyError::kUpstreamConnect))}},
      {.name = "an opened request's fresh send that cannot resolve ends it",
       .steps = {Choose(0), Do(Event::kOpened), On(Event::kClosedBeforeAnswer, kFresh),
                 On(Event::kResolveFailed, Failed(ProxyError::kUpstreamFailed))}},
      {.name = "a fresh send before the open fails over like a first connect",
       .steps = {Choose(0), On(Event::kSendFailed, kFresh), On(Event::kConnectFailed, kOther)}},

      // (c) Route retries.
      {.name = "503 dropped for a retry, the next answer kept when retries are spent",
       .retries = 1,
       .steps = {Choose(0), Do(Event::kOpened), Status(503, kRetry),
                 On(Event::kBackoffEnded, kOther), Choose(1), Status(503, kAnswer)},
       .retries_done = 1},
      {.name = "a dropped 503 is the final answer when no later attempt gets one",
       .retries = 1,
       .steps = {Choose(0), Do(Event::kOpened), Status(503, kRetry),
                 On(Event::kBackoffEnded, kOther), Choose(1), On(Event::kConnectFailed, kOther),
                 On(Event::kNoEndpointLeft, Failed(ProxyError::kUpstreamUnavailable))},
       .retries_done = 1},
      {.name = "a dropped 502 is the final answer",
       .retries = 1,
       .steps = {Choose(0), Do(Event::kOpened), Status(502, kRetry),
                 On(Event::kBackoffEnded, kOther), Choose(1), On(Event::kConnectFailed, kOther),
                 On(Event::kNoEndpointLeft, Failed(ProxyError::kUpstreamFailed))},
       .retries_done = 1},
      {.name = "a dropped 504 is the final answer",
       .retries = 1,
       .steps = {Choose(0), Do(Event::kOpened), Status(504, kRetry),
                 On(Event::kBackoffEnded, kOther), Choose(1), On(Event::kConnectFailed, kOther),
                 On(Event::kNoEndpointLeft, Failed(ProxyError::kUpstreamTimeout))},
       .retries_done = 1},
      {.name = "other 5xx answers are never retried",
       .retries = 2,
       .steps = {Choose(0), Do(Event::kOpened), Status(500, kAnswer)}},
      {.name = "no answer in time, then a bad one: retried, then the last failure",
       .retries = 2,
       .steps = {Choose(0), Do(Event::kOpened), On(Event::kNoAnswerInTime, kRetry),
                 On(Event::kBackoffEnded, kOther), Choose(1), On(Event::kBadAnswer, kRetry),
                 On(Event::kBackoffEnded, kOther), Choose(0),
                 On(Event::kNoAnswerInTime, Failed(ProxyError::kUpstreamTimeout))},
       .retries_done = 2},
      {.name = "a non-idempotent request is never retried",
       .retries = 2,
       .idempotent = false,
       .steps = {Choose(0), Do(Event::kOpened), Status(503, kAnswer),
                 On(Event::kNoAnswerInTime, Failed(ProxyError::kUpstreamTimeout))}},
      {.name = "body sent or an early response: never retried",
       .retries = 2,
       .steps = {Choose(0), Do(Event::kOpened), Do(Event::kBodySent), Status(503, kAnswer),
                 On(Event::kBadAnswer, Failed(ProxyError::kUpstreamFailed))}},
      {.name = "a DNS target fails over but has no route retries",
       .target = Target::kDns,
       .retries = 2,
       .steps = {Choose(0), On(Event::kConnectFailed, kOther), Choose(1),
                 On(Event::kConnectFailed, kOther),
                 On(Event::kNoEndpointLeft, Failed(ProxyError::kUpstreamConnect))}},
      {.name = "a DNS target's 503 goes to the client",
       .target = Target::kDns,
       .retries = 2,
       .steps = {Choose(0), Do(Event::kOpened), Status(503, kAnswer),
                 On(Event::kNoAnswerInTime, Failed(ProxyError::kUpstreamTimeout))}},
      {.name = "budget spent: the failure goes to the client",
       .retries = 2,
       .budget = kNoBudget,
       .steps = {Choose(0), Do(Event::kOpened), Status(503, kAnswer),
                 On(Event::kNoAnswerInTime, Failed(ProxyError::kUpstreamTimeout))}},
      {.name = "budget spent: every endpoint refusing is 502",
       .retries = 2,
       .budget = kNoBudget,
       .steps = {Choose(0), On(Event::kConnectFailed, kOther), Choose(1),
                 On(Event::kConnectFailed, kOther),
                 On(Event::kNoEndpointLeft, Failed(ProxyError::kUpstreamConnect))}},

      // The exchange deadline (the route's timeout): 504 once it passed.
      {.name = "deadline passed while connecting: 504",
       .timeout = milliseconds(100),
       .steps = {Choose(0), On(Event::kConnectFailed, Failed(ProxyError::kUpstreamTimeout),
                               milliseconds(100))}},
      {.name = "deadline passed during the backoff: 504",
       .retries = 1,
       .timeout = milliseconds(100),
       .steps = {Choose(0), Do(Event::kOpened), Status(503, kRetry, milliseconds(50)),
                 On(Event::kBackoffEnded, Failed(ProxyError::kUpstreamTimeout), milliseconds(120))},
       .retries_done = 1},
      {.name = "no retry past the deadline",
       .retries = 2,
       .timeout = milliseconds(100),
       .steps = {Choose(0), Do(Event::kOpened), Status(503, kAnswer, milliseconds(150))}},
      {.name = "deadline passed with no endpoint left: 504 over the dropped answer",
       .retries = 1,
       .timeout = milliseconds(100),
       .steps = {Choose(0), Do(Event::kOpened), Status(503, kRetry, milliseconds(10)),
                 On(Event::kBackoffEnded, kOther, milliseconds(20)), Choose(1),
                 On(Event::kResolveFailed, kOther),
                 On(Event::kNoEndpointLeft, Failed(ProxyError::kUpstreamTimeout),
                    milliseconds(100))},
       .retries_done = 1},

      // HTTP/2 upstreams: a refused stream was not processed.
      {.name = "a refused stream goes once more, even a POST",
       .idempotent = false,
       .steps = {Choose(0), Do(Event::kOpened), On(Event::kStreamRefused, kFresh),
                 On(Event::kStreamRefused, Failed(ProxyError::kUpstreamUnavailable))}},
      {.name = "a refused stream whose body went out is not sent again",
       .steps = {Choose(0), Do(Event::kOpened), Do(Event::kBodySent),
                 On(Event::kStreamRefused, Failed(ProxyError::kUpstreamUnavailable))}},
  };
  return cases;
}

class RetryStateCase : public testing::TestWithParam<Case> {};

TEST_P(RetryStateCase, DecidesEachStep) {
  const Case& c = GetParam();
  const auto target = MakeTarget(c.target, c.endpoints, c.budget);
  const ExchangePolicy policy{c.timeout, milliseconds(0), c.retries};
  FixedRandom random;
  RetryState state(policy, *target, c.idempotent, ProxySettings{}, random, kStart);
  for (size_t i = 0; i < c.steps.size(); ++i) {
    const Step& step = c.steps[i];
    const std::optional<Decision> decision = Play(state, step);
    ASSERT_EQ(decision.has_value(), step.expected.has_value()) << "step " << i;
    if (decision) {
      ASSERT_EQ(*decision, *step.expected) << "step " << i << ": " << Describe(*decision)
                                           << ", expected " << Describe(*step.expected);
    }
  }
  EXPECT_EQ(state.retries_done(), c.retries_done);
}

INSTANTIATE_TEST_SUITE_P(Table, RetryStateCase, testing::ValuesIn(Cases()),
                         [](const testing::TestParamInfo<Case>& info) {
                           std::string name;
                           for (const char ch : info.param.name) {
                             if (std::isalnum(static_cast<unsigned char>(ch))) name += ch;
                           }
                           return name;
                         });

TEST(RetryState, AttemptDeadlineIsThePerTryTimeoutWithinTheExchange) {
  const auto target = MakeTarget(Target::kService, 2);
  FixedRandom random;
  ProxySettings settings;
  settings.upstream_timeout = milliseconds(300);

  const RetryState unbounded({}, *target, true, settings, random, kStart);
  EXPECT_EQ(unbounded.exchange_deadline(), TimePoint::max());
  EXPECT_EQ(unbounded.AttemptDeadline(kStart), kStart + milliseconds(300));

  const RetryState per_try({milliseconds(1000), milliseconds(200), 1}, *target, true, settings,
                           random, kStart);
  EXPECT_EQ(per_try.exchange_deadline(), kStart + milliseconds(1000));
  EXPECT_EQ(per_try.AttemptDeadline(kStart + milliseconds(100)), kStart + milliseconds(300));
  EXPECT_EQ(per_try.AttemptDeadline(kStart + milliseconds(900)), kStart + milliseconds(1000));
}

TEST(RetryState, ARetryGoesToAnEndpointNotTriedWhileOneIsLeft) {
  const auto target = MakeTarget(Target::kService, 3);
  FixedRandom random;
  RetryState state({milliseconds(0), milliseconds(0), 2}, *target, true, ProxySettings{}, random,
                   kStart);
  state.EndpointChosen(2);
  state.Opened();
  ASSERT_EQ(state.OnUpstreamStatus(503, kStart), kRetry);
  EXPECT_EQ(std::vector<size_t>(state.tried().begin(), state.tried().end()),
            std::vector<size_t>{2});  // the balancer skips it
  state.EndpointChosen(0);
  state.EndpointChosen(1);
  ASSERT_EQ(state.OnUpstreamStatus(503, kStart), kRetry);
  EXPECT_TRUE(state.tried().empty());  // all were tried: any of them again
}

TEST(RetryState, BackoffGrowsWithEachRetry) {
  const auto target = MakeTarget(Target::kService, 2);
  // Bits past the first retry's cap (25 ms): capped at 25 ms, then at 50 ms.
  class Large final : public RandomSource {
   public:
    uint64_t Next() override { return 40'000; }
  } random;
  RetryState state({milliseconds(0), milliseconds(0), 2}, *target, true, ProxySettings{}, random,
                   kStart);
  state.Opened();
  EXPECT_EQ(state.OnUpstreamStatus(503, kStart).backoff, microseconds(40'000 % 25'001));
  EXPECT_EQ(state.OnUpstreamStatus(503, kStart).backoff, microseconds(40'000));
}

// The budget's handles: a request counts while its exchange lasts, a retry while it is in
// flight; both are given back when the exchange ends, before the route table may go.
TEST(RetryState, HoldsTheBudgetOnlyDuringTheExchange) {
  const auto target = MakeTarget(Target::kService, 2, RetryBudgetConfig{0, 1});
  RetryBudget& budget = target->balancer->endpoints().retry_budget();
  FixedRandom random;
  const ExchangePolicy retrying{milliseconds(0), milliseconds(0), 1};

  RetryState first(retrying, *target, true, ProxySettings{}, random, kStart);
  RetryState second(retrying, *target, true, ProxySettings{}, random, kStart);
  EXPECT_EQ(budget.active_requests(), 2u);
  first.Opened();
  second.Opened();
  EXPECT_EQ(first.OnUpstreamStatus(503, kStart), kRetry);  // the one place
  EXPECT_EQ(second.OnUpstreamStatus(503, kStart), kAnswer);
  EXPECT_EQ(budget.active_retries(), 1u);

  first.EndExchange();
  EXPECT_EQ(budget.active_retries(), 0u);
  EXPECT_EQ(budget.active_requests(), 1u);
  RetryState third(retrying, *target, true, ProxySettings{}, random, kStart);
  third.Opened();
  EXPECT_EQ(third.OnUpstreamStatus(503, kStart), kRetry);

  // A route without retries, or a DNS target, never counts in a budget.
  RetryState no_retries({}, *target, true, ProxySettings{}, random, kStart);
  EXPECT_EQ(budget.active_requests(), 2u);
}

}  // namespace
}  // namespace gw
