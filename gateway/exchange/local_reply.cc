#include "gateway/exchange/local_reply.h"

#include "gateway/admin/metrics.h"
#include "gateway/policy/cors.h"

namespace gw {

LocalReply MakeErrorReply(RequestContext& ctx, ProxyError error, std::string_view path,
                          const HttpRequestHeader* request, WorkerMetrics* metrics) {
  const ErrorReply reply = ReplyFor(error);
  ctx.record.reason = reply.code;
  if (metrics) metrics->RecordGatewayReply(error);
  if (request && ctx.record.route && ctx.record.route->cors) {
    const std::string_view origin = ToStd((*request)[boost::beast::http::field::origin]);
    for (const CorsHeader& header : CorsResponseHeaders(*ctx.record.route->cors, origin)) {
      ctx.reply_headers.emplace_back(header.name, header.value);
    }
  }
  return {reply.status, ErrorBody(error, path)};
}

}  // namespace gw
