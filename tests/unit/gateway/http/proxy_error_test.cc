#include "gateway/http/proxy_error.h"

#include <gtest/gtest.h>

#include <boost/asio/error.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>
#include <map>
#include <string>
#include <string_view>

namespace gw {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

TEST(ReplyFor, MapsEachFailureToItsStatus) {
  EXPECT_EQ(ReplyFor(ProxyError::kBadRequest).status, 400u);
  EXPECT_EQ(ReplyFor(ProxyError::kInvalidPath).status, 400u);
  EXPECT_EQ(ReplyFor(ProxyError::kNoRoute).status, 404u);
  EXPECT_EQ(ReplyFor(ProxyError::kMethodNotAllowed).status, 405u);
  EXPECT_EQ(ReplyFor(ProxyError::kRequestTimeout).status, 408u);
  EXPECT_EQ(ReplyFor(ProxyError::kBodyTooLarge).status, 413u);
  EXPECT_EQ(ReplyFor(ProxyError::kHeaderTooLarge).status, 431u);
  EXPECT_EQ(ReplyFor(ProxyError::kNotImplemented).status, 501u);
  EXPECT_EQ(ReplyFor(ProxyError::kNotReady).status, 503u);
  EXPECT_EQ(ReplyFor(ProxyError::kUpstreamUnavailable).status, 503u);
  EXPECT_EQ(ReplyFor(ProxyError::kUpstreamConnect).status, 502u);
  EXPECT_EQ(ReplyFor(ProxyError::kUpstreamFailed).status, 502u);
  EXPECT_EQ(ReplyFor(ProxyError::kUpstreamTimeout).status, 504u);
}

TEST(ErrorBody, IsSmallJson) {
  EXPECT_EQ(ErrorBody(ProxyError::kUpstreamTimeout), R"({"error":"upstream timeout"})");
  EXPECT_EQ(ErrorBody(ProxyError::kNoRoute, "/api/\"x\""),
            R"({"error":"no route","path":"/api/\"x\""})");
}

TEST(ClassifyRequestReadError, LimitsAndMalformedRequests) {
  EXPECT_EQ(ClassifyRequestReadError(http::error::body_limit), ProxyError::kBodyTooLarge);
  EXPECT_EQ(ClassifyRequestReadError(http::error::header_limit, "GET /a HTTP/1.1\r\nX: aaaa"),
            ProxyError::kHeaderTooLarge);
  EXPECT_EQ(ClassifyRequestReadError(http::error::header_limit, "GET /aaaaaaaaaaaaaaaaaaaa"),
            ProxyError::kUriTooLong);
  EXPECT_EQ(ReplyFor(ProxyError::kUriTooLong).status, 414u);
  // One long header line sent in pieces: the bytes left unparsed are all header, no line end
  // in sight, but the request line was parsed long before: 431, not 414 (issue 9).
  EXPECT_EQ(ClassifyRequestReadError(http::error::header_limit, "aaaaaaaaaaaaaaaaaaaaaaaa", true),
            ProxyError::kHeaderTooLarge);
  EXPECT_EQ(ReplyFor(ProxyError::kHeaderTooLarge).status, 431u);
  EXPECT_EQ(ClassifyRequestReadError(http::error::bad_method), ProxyError::kBadRequest);
  EXPECT_EQ(ClassifyRequestReadError(http::error::bad_transfer_encoding), ProxyError::kBadRequest);
}

TEST(IsAnswerableReadError, OnlyWhenSomeoneIsThereToHearIt) {
  EXPECT_TRUE(IsAnswerableReadError(http::error::bad_version));
  EXPECT_TRUE(IsAnswerableReadError(http::error::body_limit));
  EXPECT_FALSE(IsAnswerableReadError(http::error::end_of_stream));
  EXPECT_FALSE(IsAnswerableReadError(http::error::partial_message));
  EXPECT_FALSE(IsAnswerableReadError(beast::error::timeout));
  EXPECT_FALSE(IsAnswerableReadError(asio::error::connection_reset));
  EXPECT_FALSE(IsAnswerableReadError(asio::error::operation_aborted));
}

TEST(ClassifyUpstreamError, ByStage) {
  EXPECT_EQ(ClassifyUpstreamError(UpstreamStage::kResolve, asio::error::host_not_found),
            ProxyError::kUpstreamUnavailable);
  EXPECT_EQ(ClassifyUpstreamError(UpstreamStage::kConnect, asio::error::connection_refused),
            ProxyError::kUpstreamConnect);
  EXPECT_EQ(ClassifyUpstreamError(UpstreamStage::kConnect, beast::error::timeout),
            ProxyError::kUpstreamConnect);
  EXPECT_EQ(ClassifyUpstreamError(UpstreamStage::kExchange, beast::error::timeout),
            ProxyError::kUpstreamTimeout);
  EXPECT_EQ(ClassifyUpstreamError(UpstreamStage::kExchange, http::error::bad_status),
            ProxyError::kUpstreamFailed);
}

TEST(FinalUpstreamError, RefusedIs502NothingUsableIs503) {
  EXPECT_EQ(ReplyFor(FinalUpstreamError(true)).status, 502u);
  EXPECT_EQ(ReplyFor(FinalUpstreamError(false)).status, 503u);
}

TEST(IsStaleConnectionError, ClosedOrResetButNotTimeoutOrGarbage) {
  EXPECT_TRUE(IsStaleConnectionError(http::error::end_of_stream));
  EXPECT_TRUE(IsStaleConnectionError(asio::error::eof));
  EXPECT_TRUE(IsStaleConnectionError(asio::error::connection_reset));
  EXPECT_TRUE(IsStaleConnectionError(asio::error::broken_pipe));
  EXPECT_FALSE(IsStaleConnectionError(beast::error::timeout));
  EXPECT_FALSE(IsStaleConnectionError(http::error::bad_status));
}

TEST(IsIdempotentMethod, PerRfc9110) {
  for (const char* method : {"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
    EXPECT_TRUE(IsIdempotentMethod(method)) << method;
  for (const char* method : {"POST", "PATCH", "CONNECT", "get", "PURGE"})
    EXPECT_FALSE(IsIdempotentMethod(method)) << method;
}

TEST(GrpcStatusFor, EveryErrorHasTheCodeItsMeaningCalls) {
  const std::map<ProxyError, int> expected = {
      {ProxyError::kNone, 0},
      {ProxyError::kBadRequest, 13},  // gRPC's map of HTTP statuses: 400 -> INTERNAL
      {ProxyError::kInvalidPath, 13},
      {ProxyError::kUnderscoreHeader, 13},
      {ProxyError::kUnauthorized, 16},  // UNAUTHENTICATED
      {ProxyError::kRateLimited, 8},    // RESOURCE_EXHAUSTED: a quota, not an outage
      {ProxyError::kNoRoute, 12},       // UNIMPLEMENTED
      {ProxyError::kMethodNotAllowed, 12},
      {ProxyError::kRequestTimeout, 4},  // DEADLINE_EXCEEDED
      {ProxyError::kBodyTooLarge, 8},    // RESOURCE_EXHAUSTED, as gRPC's own servers
      {ProxyError::kUriTooLong, 8},
      {ProxyError::kHeaderTooLarge, 8},
      {ProxyError::kNotImplemented, 12},  // UNIMPLEMENTED
      {ProxyError::kNotReady, 14},        // UNAVAILABLE: worth a retry
      {ProxyError::kUpstreamUnavailable, 14},
      {ProxyError::kCircuitOpen, 14},
      {ProxyError::kUpstreamConnect, 14},
      {ProxyError::kUpstreamFailed, 14},
      {ProxyError::kUpstreamTimeout, 4},  // DEADLINE_EXCEEDED
  };
  for (size_t i = 0; i < kProxyErrorCount; ++i) {
    const auto error = static_cast<ProxyError>(i);
    SCOPED_TRACE(std::string(ReplyFor(error).code));
    const auto it = expected.find(error);
    ASSERT_NE(it, expected.end()) << "a ProxyError without an expected gRPC status";
    EXPECT_EQ(static_cast<int>(GrpcStatusFor(error)), it->second);
  }
  EXPECT_EQ(expected.size(), kProxyErrorCount);
}

TEST(PercentEncodeGrpcMessage, EncodesWhatIsNotPrintableAsciiAndThePercent) {
  EXPECT_EQ(PercentEncodeGrpcMessage(""), "");
  EXPECT_EQ(PercentEncodeGrpcMessage("upstream timeout"), "upstream timeout");
  EXPECT_EQ(PercentEncodeGrpcMessage(" !~{}\"/"), " !~{}\"/");  // 0x20 and 0x7E stay
  EXPECT_EQ(PercentEncodeGrpcMessage("100%"), "100%25");
  EXPECT_EQ(PercentEncodeGrpcMessage("a\r\nb\tc"), "a%0D%0Ab%09c");
  EXPECT_EQ(PercentEncodeGrpcMessage(std::string_view("\0\x1F\x7F", 3)), "%00%1F%7F");
  EXPECT_EQ(PercentEncodeGrpcMessage("caf\xC3\xA9"), "caf%C3%A9");  // UTF-8, byte by byte
  EXPECT_EQ(PercentEncodeGrpcMessage("\xFF"), "%FF");
}

}  // namespace
}  // namespace gw
