#include "gateway/exchange/phases.h"

#include <boost/beast/core/string.hpp>
#include <chrono>
#include <string>

#include "gateway/admin/metrics.h"
#include "gateway/exchange/access_log.h"
#include "gateway/http/header_rewrite.h"
#include "gateway/policy/auth.h"
#include "gateway/policy/cors.h"

namespace gw {

namespace http = boost::beast::http;

// 1. -----------------------------------------------------------------------------------------

ProxyError RouteRequest(RequestContext& ctx, const HttpRequestHeader& request,
                        std::string_view path, const RouteTableHolder& routes) {
  ctx.table = routes.Load();
  if (!ctx.table) return ProxyError::kNotReady;
  RequestTraits traits;
  traits.host = HostWithoutPort(ToStd(request[http::field::host]));
  traits.method = ToStd(request.method_string());
  traits.fields = &request;
  ctx.record.route = ctx.table->Match(path, traits);
  return ctx.record.route ? ProxyError::kNone : ProxyError::kNoRoute;
}

// 2. -----------------------------------------------------------------------------------------

namespace {

// A CORS preflight of the route: answered here. Null when the request is not one.
Verdict AnswerPreflight(RequestContext& ctx, const HttpRequestHeader& request) {
  const RouteEntry& route = *ctx.record.route;
  const std::string_view origin = ToStd(request[http::field::origin]);
  const std::string_view wanted = ToStd(request[http::field::access_control_request_method]);
  if (!route.cors || !IsCorsPreflight(ToStd(request.method_string()), origin, wanted)) return {};
  const CorsPreflightAnswer answer = AnswerCorsPreflight(
      *route.cors, origin, wanted, ToStd(request[http::field::access_control_request_headers]));
  for (const CorsHeader& header : answer.headers) {
    ctx.reply_headers.emplace_back(header.name, header.value);
  }
  ctx.record.reason = "cors_preflight";
  return {ProxyError::kNone, answer.status};
}

// --https-redirect for a request that came in cleartext: 308 (the method and body are kept,
// RFC 9110 section 15.4.9) to the same host and target over HTTPS, on the gateway's TLS port
// (none named when it is 443 or unknown).
Verdict RedirectToHttps(RequestContext& ctx, const HttpRequestHeader& request,
                        uint16_t https_port) {
  const std::string_view host = HostWithoutPort(ToStd(request[http::field::host]));
  if (host.empty()) return {ProxyError::kBadRequest};  // HTTP/1.0 without Host: no URL to give
  std::string location = "https://";
  location.append(host);
  if (https_port != 0 && https_port != 443) location.append(":").append(std::to_string(https_port));
  const std::string_view target = ToStd(request.target());
  if (target.starts_with('/')) {
    location.append(target);
  } else if (const auto split = SplitRequestTarget(target)) {  // absolute-form
    location.append(split->path);
    if (split->has_query) location.append("?").append(split->query);
  }
  ctx.reply_headers.emplace_back("Location", std::move(location));
  ctx.record.reason = "https_redirect";
  return {ProxyError::kNone, 308};
}

// The rate limit's key: the client address, a header (the address when it is missing) or the
// consumer (the address without one).
std::string_view RateLimitKey(const RequestContext& ctx, const HttpRequestHeader& request) {
  const RouteEntry& route = *ctx.record.route;
  if (route.rate_limit_by_header) {
    const std::string_view value = ToStd(request[ToBeast(route.rate_limit_by)]);
    return value.empty() ? ctx.client_ip : value;
  }
  if (route.rate_limit_by == "consumer" && !ctx.record.consumer.empty()) {
    return ctx.record.consumer;
  }
  return ctx.client_ip;
}

}  // namespace

Verdict RequestFilter(RequestContext& ctx, HttpRequestHeader& request, ExchangeServices& services,
                      std::string& scratch) {
  if (!RewriteRequestHeaders(request, ctx.client_ip, services.request_ids, ctx.request_id, scratch,
                             ctx.tls)) {
    return {ProxyError::kHeaderTooLarge};
  }
  const RouteEntry& route = *ctx.record.route;
  if (route.https_redirect && !ctx.tls) return RedirectToHttps(ctx, request, services.https_port);
  if (const Verdict preflight = AnswerPreflight(ctx, request); preflight.answered()) {
    return preflight;
  }

  // An aggregate's parts are fetched with GET: any other method is refused before credentials,
  // as a route that never takes it (RFC 9110 section 15.5.6).
  if (route.is_aggregate() && request.method() != http::verb::get &&
      request.method() != http::verb::head) {
    ctx.reply_headers.emplace_back("Allow", "GET, HEAD");
    return {ProxyError::kMethodNotAllowed};
  }

  request.erase("X-Consumer");
  AuthResult auth =
      Authenticate(route.auth, request,
                   AuthKeys{ctx.table->api_keys(), ctx.table->jwt_keys(), ctx.table->version()},
                   services.verified_tokens, std::chrono::system_clock::now());
  if (!auth.ok) {
    ctx.reply_headers.emplace_back("WWW-Authenticate", std::move(auth.challenge));
    return {ProxyError::kUnauthorized};
  }
  if (route.auth == gateway::v1::AUTH_API_KEY) request.erase("X-API-Key");  // never upstream
  ctx.record.consumer = std::move(auth.consumer);
  if (!ctx.record.consumer.empty()) request.set("X-Consumer", ToBeast(ctx.record.consumer));

  if (route.rate_limited()) {
    const RateLimitDecision decision =
        route.TakeRateLimit(RateLimitKey(ctx, request), std::chrono::steady_clock::now());
    if (services.metrics) services.metrics->RecordRateLimitSource(decision.source);
    if (!decision.allowed) {
      for (const RateLimitHeader& header : FormatRateLimitHeaders(decision)) {
        ctx.reply_headers.emplace_back(header.name, header.value);
      }
      return {ProxyError::kRateLimited};
    }
    ctx.record.rate_limit = decision;
  }
  return {};
}

// 3. -----------------------------------------------------------------------------------------

void PickUpstream(RequestContext& ctx, uint64_t draw) {
  ctx.upstream = &ctx.record.route->PickUpstream(draw);
}

// 4. -----------------------------------------------------------------------------------------

void UpstreamRequestFilter(RequestContext& ctx, HttpRequestHeader& request, std::string_view path,
                           const RequestTarget& target, std::string& scratch) {
  const RouteEntry& route = *ctx.record.route;
  for (const std::string& name : route.remove_request_headers) request.erase(ToBeast(name));
  for (const auto& [name, value] : route.set_request_headers) {
    request.set(ToBeast(name), ToBeast(value));
  }
  BuildUpstreamTarget(ctx.upstream_target, route.RewritePath(path, scratch), target);
}

// 6. -----------------------------------------------------------------------------------------

void ResponseFilter(const RequestContext& ctx, HttpResponseHeader& response,
                    std::string_view origin) {
  RewriteResponseHeaders(response, ctx.request_id);
  const RouteEntry& route = *ctx.record.route;
  for (const std::string& name : route.remove_response_headers) response.erase(ToBeast(name));
  for (const auto& [name, value] : route.set_response_headers) {
    response.set(ToBeast(name), ToBeast(value));
  }
  if (ctx.tls && route.hsts_max_age_s > 0) {  // never over cleartext (RFC 6797 section 7.2)
    response.set(http::field::strict_transport_security,
                 "max-age=" + std::to_string(route.hsts_max_age_s));
  }
  if (ctx.record.rate_limit) {  // what is left of the client's quota, as on a 429
    for (const RateLimitHeader& header : FormatRateLimitHeaders(*ctx.record.rate_limit)) {
      response.set(ToBeast(header.name), ToBeast(header.value));
    }
  }
  if (route.cors) {
    for (const http::field field :
         {http::field::access_control_allow_origin, http::field::access_control_allow_credentials,
          http::field::access_control_expose_headers, http::field::access_control_allow_methods,
          http::field::access_control_allow_headers, http::field::access_control_max_age}) {
      response.erase(field);
    }
    for (const CorsHeader& header : CorsResponseHeaders(*route.cors, origin)) {
      if (header.append) {
        response.insert(ToBeast(header.name), ToBeast(header.value));
      } else {
        response.set(ToBeast(header.name), ToBeast(header.value));
      }
    }
  }
}

void FilterComposedReply(RequestContext& ctx, unsigned status, std::string_view origin) {
  HttpResponseHeader response;
  response.result(status);
  for (const auto& [name, value] : ctx.reply_headers) {
    response.insert(ToBeast(name), ToBeast(value));
  }
  ResponseFilter(ctx, response, origin);
  ctx.reply_headers.clear();
  for (const auto& field : response) {
    if (boost::beast::iequals(field.name_string(), "X-Request-Id")) continue;  // the reply's own
    ctx.reply_headers.emplace_back(ToStd(field.name_string()), ToStd(field.value()));
  }
}

// 7. -----------------------------------------------------------------------------------------

void LogExchange(RequestContext& ctx, RequestRecord::End end, ExchangeServices& services,
                 std::string_view method, std::string_view target) {
  RequestRecord& record = ctx.record;
  record.end = end;
  if (services.metrics) services.metrics->RecordRequest(record.route, record.status);
  if (!services.access_log) return;
  const auto now = std::chrono::steady_clock::now();
  AccessLogRecord line;
  line.duration = now - record.started;
  line.time = std::chrono::system_clock::now() -
              std::chrono::duration_cast<std::chrono::system_clock::duration>(line.duration);
  line.request_id = ctx.request_id;
  line.method = method;
  line.path = target;
  line.protocol = ctx.http_version == 20   ? "HTTP/2"
                  : ctx.http_version == 10 ? "HTTP/1.0"
                                           : "HTTP/1.1";
  line.tls = ctx.tls;
  if (record.route) line.route = record.route->path;
  line.upstream = record.upstream;
  line.consumer = record.consumer;
  line.reason = record.reason;
  line.retries = record.retries;
  line.status = record.status;
  line.bytes_in = record.bytes_in;
  line.bytes_out = record.bytes_out;
  if (record.upstream_answered != std::chrono::steady_clock::time_point{})
    line.upstream_duration = record.upstream_answered - record.upstream_opened;
  services.access_log->Append(line);
}

}  // namespace gw
