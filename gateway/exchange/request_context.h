// RequestContext: everything one request (an exchange) knows about itself, from its header to
// its log line, whatever connection carries it (HTTP/1.1 today, an HTTP/2 stream next).
//
// A carrier makes a fresh one for each request and hands it to the phases (exchange/phases.h);
// nothing in it is reset by hand, and nothing of the connection (buffers, framing, keep-alive)
// is in it. ExchangeServices are the worker's parts the phases use.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "gateway/policy/rate_limiter.h"
#include "gateway/router/route_table.h"
#include "gateway/router/route_table_holder.h"

namespace gw {

class AccessLogBuffer;
class RequestIdGenerator;
class VerifiedTokens;
struct ProxySettings;
class WorkerMetrics;

// What is known about a request when it completes: filled in along its phases, read in one
// place (LogExchange).
struct RequestRecord {
  enum class End {
    kResponded,   // a whole response (from the upstream or the gateway) reached the client
    kAborted,     // the client connection was reset mid-response (upstream or write failure)
    kClientGone,  // the client left or stalled before a response could be written
    kUpgraded,    // 101 relayed: the connection became a tunnel
  };
  std::chrono::steady_clock::time_point started;            // the request header began
  std::chrono::steady_clock::time_point upstream_opened;    // upstream chosen, request going
  std::chrono::steady_clock::time_point upstream_answered;  // its response header arrived
  unsigned status = 0;                                      // sent to the client; 0 when none was
  uint64_t bytes_in = 0;                                    // request body bytes sent upstream
  uint64_t bytes_out = 0;             // response body bytes sent to the client
  const RouteEntry* route = nullptr;  // the matched route, if any (valid until LogExchange)
  std::string upstream;               // host:port of the endpoint used (with --access-log)
  std::string consumer;               // authenticated by the route's policy; empty: none
  // Why the gateway answered itself (ErrorReply::code, or "cors_preflight"); empty: the
  // upstream answered.
  std::string_view reason;
  uint32_t retries = 0;  // route retries made for this request
  // The route's rate limit let the request through: its RateLimit-* go on the response.
  std::optional<RateLimitDecision> rate_limit;
  End end = End::kResponded;
};

struct RequestContext {
  std::string_view client_ip;  // the connection's peer address; outlives the request
  bool tls = false;            // the request came over TLS (X-Forwarded-Proto: https)
  unsigned http_version = 11;  // of the client's request: 10, 11 or 20 (HTTP/2)
  // Taken once when the request is routed and kept until it completes: a new config swapped
  // in meanwhile never changes the route, or frees it, under a request.
  RouteTableConstSharedPtr table;
  const UpstreamTarget* upstream = nullptr;  // picked (a split's draw) before forwarding
  std::string request_id;                    // sent upstream and back as X-Request-Id
  std::string upstream_target;               // the request-target for the upstream hop
  std::string upgrade;  // the protocol the request asks to switch to, if any (HTTP/1.1)
  // Headers of an answer the gateway makes itself (a challenge, RateLimit-*, CORS).
  std::vector<std::pair<std::string, std::string>> reply_headers;
  bool head_request = false;
  RequestRecord record;
};

// The parts of a worker that the phases use; they outlive every request on it.
struct ExchangeServices {
  const ProxySettings& settings;
  const RouteTableHolder& routes;
  RequestIdGenerator& request_ids;
  VerifiedTokens& verified_tokens;
  uint16_t https_port = 0;           // --listen-tls's port, where --https-redirect sends; 0: none
  WorkerMetrics* metrics = nullptr;  // null when not observed
  AccessLogBuffer* access_log = nullptr;  // null without --access-log
};

}  // namespace gw
