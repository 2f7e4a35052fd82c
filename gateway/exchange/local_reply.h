// The gateway's own answers to a request (404, 401, 429, 502...), whatever carries it.
#pragma once

#include <string>
#include <string_view>

#include "gateway/exchange/request_context.h"
#include "gateway/http/http_message.h"
#include "gateway/http/proxy_error.h"

namespace gw {

struct LocalReply {
  unsigned status = 0;
  std::string body;                                    // none for a 204
  std::string_view content_type = "application/json";  // of the body (a 204 has none)
};

// Whether `request` is a gRPC call (Content-Type application/grpc, application/grpc+proto...).
bool IsGrpcRequest(const HttpRequestHeader& request);

// The answer for `error`: ReplyFor's status, with its code as the record's reason (counted on
// `metrics`), and ErrorBody naming `path` (a 404's). A browser reads the gateway's own answers
// only with the route's CORS headers, as it would the upstream's: they are added to
// ctx.reply_headers for the `request` (null when its header was not read).
// A gRPC client understands only gRPC's status: for a gRPC `request` the answer is HTTP 200,
// application/grpc, no body, with grpc-status (GrpcStatusFor) and grpc-message in its header
// (gRPC's trailers-only response); metrics and the access log count the 200 it is, its
// reason says why.
LocalReply MakeErrorReply(RequestContext& ctx, ProxyError error, std::string_view path,
                          const HttpRequestHeader* request, WorkerMetrics* metrics);

}  // namespace gw
