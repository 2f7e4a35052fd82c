// The phases of an exchange: what happens to every request between its header and its log
// line, in this order, as plain calls made by the connection that carries it (http1 Session,
// an HTTP/2 stream). Each is in phases.cc under its own name; the carrier does only what its
// protocol needs (framing, Host and request-target checks, reading and writing bodies).
//
//   1. RouteRequest           the config version pinned, the route matched (404, 503 not ready)
//   2. RequestFilter          the gateway's request header rules (hop-by-hop, request id,
//                             X-Forwarded-*), then the route's policies: HTTPS redirect, CORS
//                             preflight, authentication (policy/auth.h), rate limit
//   3. PickUpstream           the route's target, or a split's draw (an aggregate route's
//                             parts are each fetched by aggregate/aggregator.h instead)
//   4. UpstreamRequestFilter  the route's request header rules and path rewrite
//   5. forwarding             proxy/forwarder.h (retries: proxy/retry_state.h), bodies streamed
//                             by the carrier
//   6. ResponseFilter         the gateway's response header rules, the route's, HSTS over TLS,
//                             RateLimit-*, CORS (FilterComposedReply: the same for an
//                             aggregate's answer, aggregate/aggregator.h)
//   7. LogExchange            metrics and the access-log line: every request ends here, once
// A phase that answers the request itself returns a Verdict; the carrier then writes
// MakeLocalReply's answer (local_reply.h) and goes to LogExchange.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "gateway/exchange/request_context.h"
#include "gateway/http/http_message.h"
#include "gateway/http/proxy_error.h"
#include "gateway/http/request_target.h"

namespace gw {

// How a phase ended: go on (no error, no status), an error answer, or an answer of `status`
// made without an error (a CORS preflight). Headers for the answer are in ctx.reply_headers.
struct Verdict {
  ProxyError error = ProxyError::kNone;
  unsigned status = 0;
  bool answered() const { return error != ProxyError::kNone || status != 0; }
};

// 1. Pins the current table in ctx and matches the request (its normalized `path`, Host,
// method and headers) against it into ctx.record.route.
ProxyError RouteRequest(RequestContext& ctx, const HttpRequestHeader& request,
                        std::string_view path, const RouteTableHolder& routes);

// 2. Rewrites the request's header for the upstream hop (RewriteRequestHeaders: 431 when the
// X-Forwarded-For chain grows too long), then the route's policies in order: a cleartext request
// on a route with --https-redirect is answered 308 to its https:// URL; a CORS preflight
// is answered (before credentials: browsers send none); an aggregate route answers any method
// but GET and HEAD 405 with Allow; the consumer is authenticated (401 with
// a challenge), set as X-Consumer and never taken from the client; the rate limit is taken by
// address, header or consumer (429 with RateLimit-*).
Verdict RequestFilter(RequestContext& ctx, HttpRequestHeader& request, ExchangeServices& services,
                      std::string& scratch);

// 3. The upstream of this request: the route's single target, or its split's pick for `draw`.
void PickUpstream(RequestContext& ctx, uint64_t draw);

// 4. The route's request header rules, and the upstream request-target (ctx.upstream_target)
// from the normalized `path` (rewritten by the route) and the client's `target` (its query).
void UpstreamRequestFilter(RequestContext& ctx, HttpRequestHeader& request, std::string_view path,
                           const RequestTarget& target, std::string& scratch);

// 6. The response header for the client: hop-by-hop fields dropped and X-Request-Id (the
// gateway's rules), the route's response header rules, Strict-Transport-Security (--hsts) when
// the request came over TLS, what is left of the rate limit, and the
// route's CORS headers for the request's `origin` (the only CORS the browser sees).
void ResponseFilter(const RequestContext& ctx, HttpResponseHeader& response,
                    std::string_view origin);

// 6, for an answer the gateway composed from its upstreams' (an aggregate route's): the
// ResponseFilter over ctx.reply_headers (the answer's own, e.g. X-Aggregate-Status) for a
// response of `status`, left in ctx.reply_headers for the carrier's local reply.
void FilterComposedReply(RequestContext& ctx, unsigned status, std::string_view origin);

// 7. The end of a request, whatever happened: its metrics and access-log line. `method` and
// `target` are the request line as the client sent it (empty when no header was read).
void LogExchange(RequestContext& ctx, RequestRecord::End end, ExchangeServices& services,
                 std::string_view method, std::string_view target);

}  // namespace gw
