// Aggregator: one client request fanned out to every part of an aggregate route, in parallel,
// and answered with one JSON object made of the parts' answers.
//
// Each part is an upstream exchange of its own: a Forwarder (proxy/forwarder.h) with the route's
// timeouts and retries sends a GET for the part's path (RouteEntry::RewritePartPath plus the
// client's query) with the client's header as the route's phases left it (X-Request-Id,
// X-Consumer, X-Forwarded-*, the route's header rules), minus what would make the part's
// answer something else than its whole JSON representation (Accept-Encoding, Range and the
// conditional fields). Its response body is read whole, at most the part limit (the route's
// --max-body-size, else kDefaultPartLimit; at most --max-response-body-size), into memory
// counted against the worker's AggregateBudget.
//
// The answer (ComposeAggregate):
//   - every part 2xx with a JSON body (checked with IsStrictJson, pasted verbatim; a 204 is
//     null): 200 {"<key>":<body>,...} in the route's part order;
//   - a part that answered 3xx or 4xx is not a failure: its JSON body is used (null when the
//     body is not JSON or over the limit), and X-Aggregate-Status lists such parts as
//     key=status;
//   - a part that failed (no endpoint, connect error, reset, a 5xx, its timeouts, the
//     aggregate's timeout, a 2xx body that is not JSON, a body over the limit) makes the answer
//     502 {"error":"aggregate_part_failed","failed":[...],"reasons":{...}}, or 504 with
//     "aggregate_timeout" when every failed part failed by time; with the route's
//     aggregate_partial, 200 with those keys null instead. X-Aggregate-Failed lists them;
//   - the budget exhausted: 503 {"error":"aggregate_busy"} at once.
// --aggregate-timeout bounds the whole fan-out: the answer goes then, the parts still out
// cancelled (Forwarder::Cancel, or their body read closed) and counted as failed by time.
//
// Runs on the worker's thread; its pending operations hold it (shared_ptr), and it holds the
// route's table. Done is called exactly once, also after Cancel.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "gateway/http/http_message.h"
#include "gateway/http/proxy_error.h"
#include "gateway/http/proxy_settings.h"
#include "gateway/http/request_target.h"
#include "gateway/net/net.h"
#include "gateway/router/route_table.h"

namespace gw {

class UpstreamPool;
class WorkerMetrics;

// A part's body limit when its route sets no --max-body-size.
inline constexpr uint64_t kDefaultPartLimit = 1024 * 1024;

// The bytes a worker's aggregates may hold at once: the part bodies as they are read and the
// composed answers until they are sent. On the worker's thread only.
class AggregateBudget {
 public:
  explicit AggregateBudget(size_t limit) : limit_(limit) {}
  bool Take(size_t bytes) {
    if (bytes > limit_ - used_) return false;
    used_ += bytes;
    return true;
  }
  void Give(size_t bytes) { used_ -= bytes; }
  size_t used() const { return used_; }

 private:
  size_t limit_;
  size_t used_ = 0;
};

// How a part ended.
enum class PartOutcome {
  kOk,        // 2xx with a JSON body (or a 204)
  kStatus,    // 3xx or 4xx: kept, noted in X-Aggregate-Status
  kFailed,    // see PartResult::reason
  kTimedOut,  // its own timeouts, or the aggregate's
  kBusy,      // the worker's budget could not hold its body
};

struct PartResult {
  PartOutcome outcome = PartOutcome::kFailed;
  unsigned status = 0;      // the part's HTTP status; 0 when none came
  std::string_view reason;  // why it failed: "upstream_5xx", "not_json", ... (static text)
  std::string body;         // its JSON, when it is used; empty: null
};

// What the client gets.
struct AggregateAnswer {
  unsigned status = 200;
  std::string body;         // application/json
  std::string_view reason;  // the access log's: empty, or why the answer is not a 200
  std::vector<std::pair<std::string, std::string>> headers;  // X-Aggregate-Status, -Failed
};

// The answer for `results` (one per part of `route`, in its order). Pure; unit-tested.
AggregateAnswer ComposeAggregate(const RouteEntry& route, std::vector<PartResult>& results);

// What an aggregator uses of its worker; everything outlives it.
struct AggregateServices {
  NetExecutor executor;
  UpstreamPool& pool;
  const ProxySettings& settings;
  AggregateBudget& budget;
  WorkerMetrics* metrics = nullptr;  // gateway_aggregate_parts_total; null: not counted
};

class Aggregator : public std::enable_shared_from_this<Aggregator> {
 public:
  // The answer; the string of the parts' endpoints ("host:port,..."; empty where none was
  // reached) for the access log.
  using Done = std::function<void(AggregateAnswer& answer, std::string_view upstreams)>;

  // Sends `request` (the client's header after the route's request phases) to every part of
  // `route` (in `table`) for the normalized `path` and the client's `target` (its query).
  static std::shared_ptr<Aggregator> Start(const AggregateServices& services, uint64_t seed,
                                           RouteTableConstSharedPtr table, const RouteEntry& route,
                                           const HttpRequestHeader& request, std::string_view path,
                                           const RequestTarget& target, Done done);

  // The client is gone: the parts still out are cancelled; Done still comes.
  void Cancel();

  Aggregator(const AggregateServices& services, RouteTableConstSharedPtr table,
             const RouteEntry& route, Done done);
  ~Aggregator();  // gives back to the budget what the composed answer held
  Aggregator(const Aggregator&) = delete;
  Aggregator& operator=(const Aggregator&) = delete;

 private:
  struct Part;

  void Run(uint64_t seed, const HttpRequestHeader& request, std::string_view path,
           const RequestTarget& target);
  void OnOpen(Part& part, ProxyError error);
  void OnHeader(Part& part, ProxyError error);
  void ReadBody(Part& part);
  void OnBodyRead(Part& part, const boost::system::error_code& ec, size_t offered);
  void EndPart(Part& part, PartOutcome outcome, std::string_view reason, bool complete = false);
  void EndPartWithError(Part& part, ProxyError error);
  // A body over the part limit: a failure for a 2xx, null for a 3xx or 4xx.
  void EndTooLarge(Part& part);
  // Cancels the parts still out; they end as kTimedOut when `timed_out`.
  void CancelParts(bool timed_out);
  // Answers now (the aggregate's timeout, the budget exhausted): the parts still out are
  // cancelled and counted as `outcome`. They end on their own later (a DNS lookup cannot be
  // interrupted), holding the aggregator until then.
  void Conclude(PartOutcome outcome, std::string_view reason);
  // Composes the answer and calls done_ (then empty: at most once).
  void Finish();

  AggregateServices services_;
  RouteTableConstSharedPtr table_;  // keeps `route_` and its upstreams
  const RouteEntry& route_;
  Done done_;
  uint64_t part_limit_;
  std::vector<std::unique_ptr<Part>> parts_;
  size_t out_ = 0;  // parts not ended yet
  SteadyTimer timer_;
  bool timed_out_ = false;
  bool cancelled_ = false;
  size_t answer_bytes_ = 0;  // of the budget, held by the composed answer
};

}  // namespace gw
