#include "gateway/aggregate/aggregator.h"

#include <algorithm>
#include <boost/beast/http/read.hpp>
#include <optional>
#include <utility>

#include "common/json.h"
#include "common/utf8.h"
#include "gateway/admin/metrics.h"
#include "gateway/http/header_rewrite.h"
#include "gateway/proxy/forwarder.h"

namespace gw {

namespace beast = boost::beast;
namespace http = beast::http;
using Clock = std::chrono::steady_clock;

namespace {

// The first read of a body of unknown length gets this much room; it doubles from there.
constexpr size_t kFirstBodyRoom = 16 * 1024;

// Fields a part must not get: its answer is pasted whole, in identity coding, whatever the
// client may have cached or asked a range of.
constexpr http::field kDroppedFields[] = {
    http::field::accept_encoding,
    http::field::range,
    http::field::if_range,
    http::field::if_match,
    http::field::if_none_match,
    http::field::if_modified_since,
    http::field::if_unmodified_since,
    http::field::content_type,
    http::field::expect,
};

// JSON text exchanged between systems is UTF-8 (RFC 8259 section 8.1); IsStrictJson leaves it
// unchecked.
bool IsJsonText(std::string_view body) { return IsStrictJson(body) && IsUtf8(body); }

static_assert(static_cast<size_t>(PartOutcome::kBusy) + 1 == kAggregatePartOutcomes.size(),
              "gateway_aggregate_parts_total has a label per outcome");

// A part's body limit: the route's --max-body-size, else kDefaultPartLimit, and never more than
// the gateway's --max-response-body-size.
uint64_t PartLimit(const RouteEntry& route, const ProxySettings& settings) {
  const uint64_t limit = route.max_body_size != 0 ? route.max_body_size : kDefaultPartLimit;
  const uint64_t gateway = settings.max_response_body_size;
  return gateway != 0 ? std::min(limit, gateway) : limit;
}

}  // namespace

// ---------------------------------------------------------------- the answer

AggregateAnswer ComposeAggregate(const RouteEntry& route, std::vector<PartResult>& results) {
  AggregateAnswer answer;
  std::string statuses, failed_keys;
  std::vector<size_t> failed;
  bool busy = false;
  bool all_by_time = true;
  size_t size = 2;
  for (size_t i = 0; i < results.size(); ++i) {
    const PartResult& result = results[i];
    const std::string& key = route.aggregate[i].key;
    size += key.size() + 4 + std::max<size_t>(result.body.size(), 4);
    if (result.outcome == PartOutcome::kStatus) {
      if (!statuses.empty()) statuses += ", ";
      statuses += key + "=" + std::to_string(result.status);
    }
    if (result.outcome == PartOutcome::kOk || result.outcome == PartOutcome::kStatus) continue;
    busy = busy || result.outcome == PartOutcome::kBusy;
    all_by_time = all_by_time && result.outcome == PartOutcome::kTimedOut;
    if (!failed_keys.empty()) failed_keys += ", ";
    failed_keys += key;
    failed.push_back(i);
  }
  if (busy) {
    answer.status = 503;
    answer.reason = "aggregate_busy";
    answer.body = R"({"error":"aggregate_busy"})";
    return answer;
  }
  if (!statuses.empty()) answer.headers.emplace_back("X-Aggregate-Status", std::move(statuses));
  if (!failed.empty()) answer.headers.emplace_back("X-Aggregate-Failed", std::move(failed_keys));
  if (!failed.empty() && !route.aggregate_partial) {
    answer.status = all_by_time ? 504 : 502;
    answer.reason = all_by_time ? "aggregate_timeout" : "aggregate_part_failed";
    JsonWriter json;
    json.BeginObject().Key("error").String(answer.reason).Key("failed").BeginArray();
    for (const size_t i : failed) json.String(route.aggregate[i].key);
    json.EndArray().Key("reasons").BeginObject();
    for (const size_t i : failed) json.Key(route.aggregate[i].key).String(results[i].reason);
    json.EndObject().EndObject();
    answer.body = json.str();
    return answer;
  }
  answer.body.reserve(size);
  answer.body += '{';
  for (size_t i = 0; i < results.size(); ++i) {
    if (i > 0) answer.body += ',';
    answer.body += JsonQuote(route.aggregate[i].key);
    answer.body += ':';
    answer.body += results[i].body.empty() ? std::string_view("null") : results[i].body;
  }
  answer.body += '}';
  answer.reason = failed.empty() ? "aggregate" : "aggregate_partial";
  return answer;
}

// ---------------------------------------------------------------- the fan-out

struct Aggregator::Part final : ForwardSink {
  Part(Aggregator& aggregator, const AggregatePartEntry& entry, const AggregateServices& services,
       uint64_t seed)
      : aggregator(aggregator),
        entry(entry),
        forwarder(services.executor, services.pool, services.settings, seed) {}

  void OnUpstreamOpen(ProxyError error) override { aggregator.OnOpen(*this, error); }
  void OnResponseHeader(ProxyError error) override { aggregator.OnHeader(*this, error); }

  enum class Step { kForwarding, kReading, kEnded };

  Aggregator& aggregator;
  const AggregatePartEntry& entry;
  Forwarder forwarder;
  HttpRequest request;
  Step step = Step::kForwarding;
  std::string body;  // [0, filled) read
  size_t filled = 0;
  size_t charged = 0;                 // of the budget, for `body`
  std::optional<uint64_t> announced;  // the response's Content-Length
  std::string endpoint;               // host:port answered, for the access log
  PartResult result;
};

std::shared_ptr<Aggregator> Aggregator::Start(const AggregateServices& services, uint64_t seed,
                                              RouteTableConstSharedPtr table,
                                              const RouteEntry& route,
                                              const HttpRequestHeader& request,
                                              std::string_view path, const RequestTarget& target,
                                              Done done) {
  auto aggregator =
      std::make_shared<Aggregator>(services, std::move(table), route, std::move(done));
  aggregator->Run(seed, request, path, target);
  return aggregator;
}

Aggregator::Aggregator(const AggregateServices& services, RouteTableConstSharedPtr table,
                       const RouteEntry& route, Done done)
    : services_(services),
      table_(std::move(table)),
      route_(route),
      done_(std::move(done)),
      part_limit_(PartLimit(route, services.settings)),
      timer_(services.executor) {}

Aggregator::~Aggregator() {
  for (const auto& part : parts_) services_.budget.Give(part->charged);
  services_.budget.Give(answer_bytes_);
}

void Aggregator::Run(uint64_t seed, const HttpRequestHeader& request, std::string_view path,
                     const RequestTarget& target) {
  const auto self = shared_from_this();
  const bool set_host = request.count(http::field::host) == 0;
  std::string scratch, upstream_target;
  parts_.reserve(route_.aggregate.size());
  for (const AggregatePartEntry& entry : route_.aggregate) {
    parts_.push_back(std::make_unique<Part>(*this, entry, services_, seed + parts_.size()));
  }
  out_ = parts_.size();
  if (route_.aggregate_timeout.count() > 0) {
    timer_.expires_after(route_.aggregate_timeout);
    timer_.async_wait([self](const boost::system::error_code& ec) {
      if (!ec && self->out_ > 0) self->Conclude(PartOutcome::kTimedOut, "aggregate_timeout");
    });
  }
  for (const auto& part : parts_) {
    if (part->entry.upstream->protocol != gateway::v1::UPSTREAM_HTTP1) {
      // Refused by validation; a service turned h2c under an older config is not sent JSON GETs.
      EndPart(*part, PartOutcome::kFailed, "h2c_upstream");
      continue;
    }
    HttpRequest& hop = part->request;
    hop.base() = request;
    hop.method(http::verb::get);  // also for HEAD: the answer's length depends on the bodies
    for (const http::field field : kDroppedFields) hop.erase(field);
    BuildUpstreamTarget(upstream_target, route_.RewritePartPath(part->entry, path, scratch),
                        target);
    FrameUpstreamRequest(hop, upstream_target, std::nullopt, false);
    part->forwarder.Open(self, *part, hop, *part->entry.upstream, set_host, false, route_.exchange);
  }
}

void Aggregator::OnOpen(Part& part, ProxyError error) {
  if (error != ProxyError::kNone) return EndPartWithError(part, error);
  part.forwarder.ReadResponse(shared_from_this(), false);
}

void Aggregator::OnHeader(Part& part, ProxyError error) {
  if (error != ProxyError::kNone) return EndPartWithError(part, error);
  if (const HostPort* endpoint = part.forwarder.endpoint()) {
    part.endpoint = FormatHostPort(endpoint->host, endpoint->port);
  }
  ResponseParser& parser = part.forwarder.response_parser();
  part.result.status = parser.get().result_int();
  if (part.result.status >= 500) return EndPart(part, PartOutcome::kFailed, "upstream_5xx");
  if (const auto length = parser.content_length()) part.announced = *length;
  if (part.announced && *part.announced > part_limit_) return EndTooLarge(part);
  part.step = Part::Step::kReading;
  ReadBody(part);
}

void Aggregator::ReadBody(Part& part) {
  ResponseParser& parser = part.forwarder.response_parser();
  if (parser.is_done()) {
    if (part.filled > part_limit_) return EndTooLarge(part);
    part.body.resize(part.filled);
    const std::string_view body = part.body;
    const unsigned status = part.result.status;
    if (status >= 200 && status < 300) {
      if (status == 204 || status == 205) {
        part.body.clear();
      } else if (!IsJsonText(body)) {
        return EndPart(part, PartOutcome::kFailed, "not_json", true);
      }
      return EndPart(part, PartOutcome::kOk, {}, true);
    }
    if (!IsJsonText(body)) part.body.clear();  // a 3xx or 4xx without JSON: null
    return EndPart(part, PartOutcome::kStatus, {}, true);
  }
  if (part.filled == part.body.size()) {  // room for more: within the limit and the budget
    if (part.filled > part_limit_) return EndTooLarge(part);
    // A Content-Length (checked against the limit with the header): room for the rest at once.
    size_t room = part.announced ? static_cast<size_t>(*part.announced) - part.filled
                                 : std::max(kFirstBodyRoom, part.filled);
    // One byte over the limit tells a body longer than it from one that fills it.
    room = std::min<size_t>(room, part_limit_ + 1 - part.filled);
    if (!services_.budget.Take(room)) return EndPart(part, PartOutcome::kBusy, "aggregate_busy");
    part.charged += room;
    part.body.resize(part.filled + room);
  }
  auto& window = parser.get().body();
  window.data = part.body.data() + part.filled;
  window.size = part.body.size() - part.filled;
  const size_t offered = window.size;
  UpstreamConnection& connection = part.forwarder.connection();
  connection.stream.expires_at(std::min(Clock::now() + services_.settings.upstream_timeout,
                                        part.forwarder.exchange_deadline()));
  http::async_read_some(connection.stream, connection.buffer, parser,
                        [self = shared_from_this(), &part, offered](beast::error_code ec, size_t) {
                          self->OnBodyRead(part, ec, offered);
                        });
}

void Aggregator::OnBodyRead(Part& part, const boost::system::error_code& ec, size_t offered) {
  if (part.step == Part::Step::kEnded) return;
  part.forwarder.connection().stream.expires_never();
  if (timed_out_ || cancelled_) {
    return EndPart(part, timed_out_ ? PartOutcome::kTimedOut : PartOutcome::kFailed,
                   timed_out_ ? "aggregate_timeout" : "cancelled");
  }
  if (ec && ec != http::error::need_buffer) {
    if (ec == beast::error::timeout)
      return EndPart(part, PartOutcome::kTimedOut, "upstream_timeout");
    if (ec == http::error::body_limit) return EndTooLarge(part);  // --max-response-body-size
    return EndPart(part, PartOutcome::kFailed, "upstream_failed");
  }
  part.filled += offered - part.forwarder.response_parser().get().body().size;
  ReadBody(part);
}

void Aggregator::EndPartWithError(Part& part, ProxyError error) {
  if (timed_out_) return EndPart(part, PartOutcome::kTimedOut, "aggregate_timeout");
  if (error == ProxyError::kUpstreamTimeout) {
    return EndPart(part, PartOutcome::kTimedOut, "upstream_timeout");
  }
  EndPart(part, PartOutcome::kFailed, cancelled_ ? "cancelled" : ReplyFor(error).code);
}

void Aggregator::EndPart(Part& part, PartOutcome outcome, std::string_view reason, bool complete) {
  part.step = Part::Step::kEnded;
  part.result.outcome = outcome;
  part.result.reason = reason;
  if (outcome == PartOutcome::kOk || outcome == PartOutcome::kStatus) {
    part.result.body = std::move(part.body);
  }
  part.body = std::string();
  part.forwarder.ResponseRead();
  part.forwarder.Release(complete);
  if (services_.metrics) {
    services_.metrics->aggregate_parts[static_cast<size_t>(outcome)].Add();
  }
  --out_;
  if (!done_) return;  // answered already (Conclude): the part only had to end
  // Out of budget: 503 at once, whatever the other parts would bring.
  if (outcome == PartOutcome::kBusy && out_ > 0) return Conclude(PartOutcome::kFailed, "cancelled");
  if (out_ == 0) Finish();
}

void Aggregator::EndTooLarge(Part& part) {
  part.body.clear();
  // A 3xx or 4xx is never a failure: too large to paste, it is null (and still listed).
  if (part.result.status >= 300) return EndPart(part, PartOutcome::kStatus, {});
  EndPart(part, PartOutcome::kFailed, "body_too_large");
}

void Aggregator::Conclude(PartOutcome outcome, std::string_view reason) {
  CancelParts(outcome == PartOutcome::kTimedOut);
  for (const auto& part : parts_) {
    if (part->step != Part::Step::kEnded) part->result = {outcome, 0, reason, {}};
  }
  Finish();
}

void Aggregator::CancelParts(bool timed_out) {
  timed_out_ = timed_out_ || timed_out;
  cancelled_ = true;
  for (const auto& part : parts_) {
    if (part->step == Part::Step::kForwarding) part->forwarder.Cancel();
    // The read in flight ends with an error (OnBodyRead).
    if (part->step == Part::Step::kReading) part->forwarder.connection().stream.close();
  }
}

void Aggregator::Cancel() {
  if (out_ > 0) CancelParts(false);
}

void Aggregator::Finish() {
  timer_.cancel();
  // Parts ended since (Conclude) keep what they hold until the aggregator goes.
  std::vector<PartResult> results;
  results.reserve(parts_.size());
  std::string upstreams;
  for (const auto& part : parts_) {
    if (!upstreams.empty()) upstreams += ',';
    upstreams += part->endpoint;
    results.push_back(std::move(part->result));
  }
  AggregateAnswer answer = ComposeAggregate(route_, results);
  // The answer takes the parts' place in the budget until the carrier drops the aggregator: it
  // is their bodies and the keys' few bytes, which the budget may refuse (then uncounted).
  for (const auto& part : parts_) services_.budget.Give(std::exchange(part->charged, 0));
  answer_bytes_ = services_.budget.Take(answer.body.size()) ? answer.body.size() : 0;
  Done done = std::move(done_);
  done(answer, upstreams);
}

}  // namespace gw
