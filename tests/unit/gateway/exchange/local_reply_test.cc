#include "gateway/exchange/local_reply.h"

#include <gtest/gtest.h>

#include <string>

#include "gateway/policy/cors.h"

namespace gw {
namespace {

std::string Header(const RequestContext& ctx, std::string_view name) {
  for (const auto& [key, value] : ctx.reply_headers) {
    if (key == name) return value;
  }
  return "<none>";
}

TEST(LocalReplyTest, AnErrorIsJsonWithItsStatusAndReason) {
  RequestContext ctx;
  HttpRequestHeader request;
  const LocalReply reply = MakeErrorReply(ctx, ProxyError::kNoRoute, "/nowhere", &request, nullptr);
  EXPECT_EQ(reply.status, 404u);
  EXPECT_EQ(reply.content_type, "application/json");
  EXPECT_EQ(reply.body, R"({"error":"no route","path":"/nowhere"})");
  EXPECT_EQ(ctx.record.reason, ReplyFor(ProxyError::kNoRoute).code);
  EXPECT_TRUE(ctx.reply_headers.empty());
}

TEST(LocalReplyTest, AGrpcCallGetsAGrpcStatusInATrailersOnlyAnswer) {
  for (const char* type : {"application/grpc", "application/grpc+proto", "Application/GRPC+json",
                           "application/grpc; charset=utf-8"}) {
    RequestContext ctx;
    HttpRequestHeader request;
    request.set(boost::beast::http::field::content_type, type);
    const LocalReply reply =
        MakeErrorReply(ctx, ProxyError::kUpstreamTimeout, {}, &request, nullptr);
    EXPECT_EQ(reply.status, 200u) << type;
    EXPECT_EQ(reply.content_type, "application/grpc");
    EXPECT_EQ(reply.body, "");
    EXPECT_EQ(Header(ctx, "grpc-status"), "4");  // DEADLINE_EXCEEDED
    EXPECT_EQ(Header(ctx, "grpc-message"),
              PercentEncodeGrpcMessage(ReplyFor(ProxyError::kUpstreamTimeout).message));
  }
  for (ProxyError error : {ProxyError::kUpstreamUnavailable, ProxyError::kUnauthorized,
                           ProxyError::kRateLimited, ProxyError::kNoRoute}) {
    RequestContext ctx;
    HttpRequestHeader request;
    request.set(boost::beast::http::field::content_type, "application/grpc");
    MakeErrorReply(ctx, error, {}, &request, nullptr);
    EXPECT_EQ(Header(ctx, "grpc-status"),
              std::to_string(static_cast<unsigned>(GrpcStatusFor(error))));
  }
  EXPECT_EQ(static_cast<unsigned>(GrpcStatusFor(ProxyError::kUpstreamUnavailable)), 14u);
  EXPECT_EQ(static_cast<unsigned>(GrpcStatusFor(ProxyError::kUnauthorized)), 16u);
  EXPECT_EQ(static_cast<unsigned>(GrpcStatusFor(ProxyError::kRateLimited)), 8u);
  EXPECT_EQ(static_cast<unsigned>(GrpcStatusFor(ProxyError::kNoRoute)), 12u);
}

TEST(LocalReplyTest, NotGrpcUnlessTheTypeSaysSo) {
  for (const char* type : {"application/grpc-web", "application/grpcx", "text/plain", ""}) {
    HttpRequestHeader request;
    if (*type) request.set(boost::beast::http::field::content_type, type);
    EXPECT_FALSE(IsGrpcRequest(request)) << type;
    RequestContext ctx;
    EXPECT_EQ(MakeErrorReply(ctx, ProxyError::kUpstreamUnavailable, {}, &request, nullptr).status,
              503u);
  }
}

TEST(LocalReplyTest, TheRoutesCorsHeadersGoOnAnErrorOnlyOnceItsHeaderWasRead) {
  RouteEntry route;
  CorsConfig config;
  config.origins = {"https://app.example.com"};
  std::string error;
  route.cors = CorsPolicy::Build(config, &error);
  ASSERT_TRUE(route.cors) << error;
  HttpRequestHeader request;
  request.set(boost::beast::http::field::origin, "https://app.example.com");

  RequestContext ctx;
  ctx.record.route = &route;
  MakeErrorReply(ctx, ProxyError::kUnauthorized, {}, &request, nullptr);
  EXPECT_EQ(Header(ctx, "Access-Control-Allow-Origin"), "https://app.example.com");

  RequestContext unread;
  unread.record.route = &route;
  MakeErrorReply(unread, ProxyError::kRequestTimeout, {}, nullptr, nullptr);
  EXPECT_TRUE(unread.reply_headers.empty());
}

}  // namespace
}  // namespace gw
