// The gateway's own answers to a request (404, 401, 429, 502...), whatever carries it.
#pragma once

#include <string>
#include <string_view>

#include "gateway/exchange/request_context.h"
#include "gateway/proxy/http_message.h"
#include "gateway/proxy/proxy_error.h"

namespace gw {

struct LocalReply {
  unsigned status = 0;
  std::string body;  // JSON; empty for a 204
};

// The answer for `error`: ReplyFor's status, with its code as the record's reason (counted on
// `metrics`), and ErrorBody naming `path` (a 404's). A browser reads the gateway's own answers
// only with the route's CORS headers, as it would the upstream's: they are added to
// ctx.reply_headers for the `request` (null when its header was not read).
LocalReply MakeErrorReply(RequestContext& ctx, ProxyError error, std::string_view path,
                          const HttpRequestHeader* request, WorkerMetrics* metrics);

}  // namespace gw
