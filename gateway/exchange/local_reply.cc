#include "gateway/exchange/local_reply.h"

#include <boost/beast/core/string.hpp>
#include <string>

#include "gateway/admin/metrics.h"
#include "gateway/policy/cors.h"

namespace gw {

bool IsGrpcRequest(const HttpRequestHeader& request) {
  const std::string_view type = ToStd(request[boost::beast::http::field::content_type]);
  constexpr std::string_view kGrpc = "application/grpc";
  if (type.size() < kGrpc.size() ||
      !boost::beast::iequals(ToBeast(type.substr(0, kGrpc.size())), ToBeast(kGrpc))) {
    return false;
  }
  return type.size() == kGrpc.size() || type[kGrpc.size()] == '+' || type[kGrpc.size()] == ';';
}

LocalReply MakeErrorReply(RequestContext& ctx, ProxyError error, std::string_view path,
                          const HttpRequestHeader* request, WorkerMetrics* metrics) {
  const ErrorReply reply = ReplyFor(error);
  ctx.record.reason = reply.code;
  if (metrics) metrics->RecordGatewayReply(error);
  if (request && IsGrpcRequest(*request)) {
    ctx.reply_headers.emplace_back("grpc-status",
                                   std::to_string(static_cast<unsigned>(GrpcStatusFor(error))));
    ctx.reply_headers.emplace_back("grpc-message", PercentEncodeGrpcMessage(reply.message));
    return {200, {}, "application/grpc"};
  }
  if (request && ctx.record.route && ctx.record.route->cors) {
    const std::string_view origin = ToStd((*request)[boost::beast::http::field::origin]);
    for (const CorsHeader& header : CorsResponseHeaders(*ctx.record.route->cors, origin)) {
      ctx.reply_headers.emplace_back(header.name, header.value);
    }
  }
  return {reply.status, ErrorBody(error, path)};
}

}  // namespace gw
