#include "gateway/http/header_rewrite.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace gw {
namespace {

namespace http = boost::beast::http;

std::string Get(const HttpFields& fields, std::string_view name) {
  auto it = fields.find(ToBeast(name));
  return it == fields.end() ? "<absent>" : std::string(ToStd(it->value()));
}

std::vector<std::string> Names(const HttpFields& fields) {
  std::vector<std::string> names;
  for (const auto& field : fields) names.emplace_back(ToStd(field.name_string()));
  return names;
}

// Fields with one Transfer-Encoding line per value, in order.
HttpFields WithTransferEncoding(std::initializer_list<const char*> lines) {
  HttpFields fields;
  fields.set("Host", "h");
  for (const char* line : lines) fields.insert(http::field::transfer_encoding, line);
  return fields;
}

TEST(CheckTransferEncoding, AcceptsChunkedAloneOrNoTransferEncoding) {
  EXPECT_EQ(CheckTransferEncoding(WithTransferEncoding({}), 11), ProxyError::kNone);
  EXPECT_EQ(CheckTransferEncoding(WithTransferEncoding({"chunked"}), 11), ProxyError::kNone);
  EXPECT_EQ(CheckTransferEncoding(WithTransferEncoding({"Chunked"}), 11), ProxyError::kNone);
  EXPECT_EQ(CheckTransferEncoding(WithTransferEncoding({" , chunked ,"}), 11), ProxyError::kNone);
  EXPECT_EQ(CheckTransferEncoding(WithTransferEncoding({}), 10), ProxyError::kNone);
}

TEST(CheckTransferEncoding, OtherCodingsBeforeChunkedAreNotImplemented) {
  EXPECT_EQ(CheckTransferEncoding(WithTransferEncoding({"gzip, chunked"}), 11),
            ProxyError::kNotImplemented);
  EXPECT_EQ(CheckTransferEncoding(WithTransferEncoding({"gzip", "chunked"}), 11),
            ProxyError::kNotImplemented);
  EXPECT_EQ(CheckTransferEncoding(WithTransferEncoding({"x-custom;q=1, deflate,CHUNKED"}), 11),
            ProxyError::kNotImplemented);
}

TEST(CheckTransferEncoding, AnythingElseIsABadRequest) {
  for (const auto& lines : std::vector<std::vector<const char*>>{
           {"gzip"},
           {"xchunked"},
           {"chunkedx"},
           {"chunked, chunked"},
           {"chunked", "chunked"},
           {"chunked", "gzip"},
           {"chunked, gzip"},
           {"chunked;ext=1"},
           {""},
           {","},
           {"identity"},
           {"chu nked"},
           {"\"chunked\""},
           {"gzip, chunked, chunked"},
       }) {
    HttpFields fields;
    for (const char* line : lines) fields.insert(http::field::transfer_encoding, line);
    std::string shown;
    for (const char* line : lines) shown += std::string("[") + line + "]";
    EXPECT_EQ(CheckTransferEncoding(fields, 11), ProxyError::kBadRequest) << shown;
  }
  // HTTP/1.0 has no transfer codings: the framing is faulty (RFC 9112 section 6.1).
  EXPECT_EQ(CheckTransferEncoding(WithTransferEncoding({"chunked"}), 10), ProxyError::kBadRequest);
}

TEST(KeepAlive, EveryConnectionLineCounts) {
  HttpFields fields;
  EXPECT_TRUE(KeepAlive(fields, 11));
  EXPECT_FALSE(KeepAlive(fields, 10));
  fields.insert(http::field::connection, "X-Hop-A");
  fields.insert(http::field::connection, "Close");
  EXPECT_FALSE(KeepAlive(fields, 11));

  HttpFields one_zero;
  one_zero.insert(http::field::connection, "foo, Keep-Alive");
  EXPECT_TRUE(KeepAlive(one_zero, 10));
  one_zero.insert(http::field::connection, "close");
  EXPECT_FALSE(KeepAlive(one_zero, 10));
}

TEST(StripHopByHop, RemovesTheFixedHopByHopHeaders) {
  HttpFields fields;
  fields.set("Connection", "keep-alive");
  fields.set("Keep-Alive", "timeout=5");
  fields.set("Proxy-Connection", "keep-alive");
  fields.set("TE", "trailers");
  fields.set("Trailer", "X-Checksum");  // end-to-end: left to the framing
  fields.set("Transfer-Encoding", "chunked");
  fields.set("Upgrade", "websocket");
  fields.set("Accept", "*/*");
  StripHopByHop(fields);
  EXPECT_EQ(Names(fields), (std::vector<std::string>{"Trailer", "Accept"}));
}

TEST(StripHopByHop, RemovesHeadersNamedInConnectionAnyCase) {
  HttpFields fields;
  fields.set("Host", "example.com");
  fields.insert("Connection", "x-drop-one, keep-alive");
  fields.insert("Connection", "X-DROP-TWO");
  // Right after the Connection headers: erasing it must not derail the walk over them.
  fields.set("X-Drop-One", "1");
  fields.set("X-Keep", "2");
  fields.set("x-drop-two", "3");
  StripHopByHop(fields);
  EXPECT_EQ(Names(fields), (std::vector<std::string>{"Host", "X-Keep"}));
}

TEST(StripHopByHop, NeverRemovesHostThroughConnection) {
  HttpFields fields;
  fields.set("Host", "example.com");
  fields.set("Connection", "Host, close");
  StripHopByHop(fields);
  EXPECT_EQ(Get(fields, "Host"), "example.com");
  EXPECT_EQ(Get(fields, "Connection"), "<absent>");
}

TEST(StripHopByHop, ToleratesEmptyAndOddConnectionLists) {
  HttpFields fields;
  fields.set("Connection", " , ,close,, ");
  fields.set("X-A", "a");
  StripHopByHop(fields);
  EXPECT_EQ(Names(fields), std::vector<std::string>{"X-A"});
}

// A client could smuggle "X_Consumer" past the gateway's own X-Consumer to an upstream that maps
// '-' and '_' alike (CGI, WSGI, PHP): names with '_' are counted and, when asked, removed.
TEST(StripUnderscoreHeaders, CountsAndRemovesEveryNameWithAnUnderscore) {
  HttpFields fields;
  fields.set("Host", "h");
  fields.insert("X_Consumer", "evil");
  fields.insert("X-Consumer", "also stripped later, but not here");
  fields.insert("x_forwarded_for", "1.2.3.4");
  fields.insert("x_forwarded_for", "5.6.7.8");
  fields.insert("_", "odd");
  HttpFields kept = fields;
  EXPECT_EQ(StripUnderscoreHeaders(kept, false), 4u);
  EXPECT_EQ(Names(kept), Names(fields));  // counted only
  EXPECT_EQ(StripUnderscoreHeaders(fields, true), 4u);
  EXPECT_EQ(Names(fields), (std::vector<std::string>{"Host", "X-Consumer"}));
  EXPECT_EQ(StripUnderscoreHeaders(fields, true), 0u);
}

TEST(ForwardedForChain, StartsAChainWhenThereIsNone) {
  HttpFields fields;
  std::string out;
  ForwardedForChain(fields, "192.0.2.7", out);
  EXPECT_EQ(out, "192.0.2.7");
}

TEST(ForwardedForChain, AppendsToEveryExistingValueInOrder) {
  HttpFields fields;
  fields.insert("X-Forwarded-For", "10.0.0.1, 10.0.0.2 ");
  fields.insert("X-Forwarded-For", " 10.0.0.3");
  fields.insert("X-Forwarded-For", "");
  std::string out;
  ForwardedForChain(fields, "::1", out);
  EXPECT_EQ(out, "10.0.0.1, 10.0.0.2, 10.0.0.3, ::1");
}

TEST(ForwardedForChain, RefusesAChainTooLongForOneHeader) {
  HttpFields fields;
  fields.insert("X-Forwarded-For", std::string(40000, '1'));
  fields.insert("X-Forwarded-For", std::string(30000, '2'));
  std::string out;
  EXPECT_FALSE(ForwardedForChain(fields, "192.0.2.7", out));

  RequestIdGenerator ids(1);
  std::string request_id;
  EXPECT_FALSE(RewriteRequestHeaders(fields, "192.0.2.7", ids, request_id, out));
}

TEST(ClientRequestId, KeepsOnlyAcceptableIds) {
  HttpFields fields;
  EXPECT_EQ(ClientRequestId(fields), "");
  fields.set("X-Request-Id", "abc-123");
  EXPECT_EQ(ClientRequestId(fields), "abc-123");
  fields.set("X-Request-Id", "has space");
  EXPECT_EQ(ClientRequestId(fields), "");
  fields.set("X-Request-Id", std::string(129, 'a'));
  EXPECT_EQ(ClientRequestId(fields), "");
}

class RewriteRequestHeadersTest : public ::testing::Test {
 protected:
  RequestIdGenerator ids_{42};
  std::string request_id_;
  std::string scratch_;
};

TEST_F(RewriteRequestHeadersTest, AddsForwardingHeadersAndKeepsHost) {
  HttpFields fields;
  fields.set("Host", "shop.example:8080");
  fields.set("X-Forwarded-For", "203.0.113.9");
  fields.set("X-Forwarded-Proto", "https");  // what the client claims is replaced
  fields.set("Expect", "100-continue");
  EXPECT_TRUE(RewriteRequestHeaders(fields, "192.0.2.7", ids_, request_id_, scratch_));
  EXPECT_EQ(Get(fields, "Host"), "shop.example:8080");
  EXPECT_EQ(Get(fields, "X-Forwarded-For"), "203.0.113.9, 192.0.2.7");
  EXPECT_EQ(Get(fields, "X-Forwarded-Proto"), "http");
  EXPECT_EQ(Get(fields, "X-Forwarded-Host"), "shop.example:8080");
  EXPECT_EQ(Get(fields, "Expect"), "<absent>");
  EXPECT_EQ(Get(fields, "X-Request-Id"), request_id_);
}

TEST_F(RewriteRequestHeadersTest, KeepsTheClientsRequestId) {
  HttpFields fields;
  fields.set("Host", "a");
  fields.set("X-Request-Id", "client-id-1");
  RewriteRequestHeaders(fields, "192.0.2.7", ids_, request_id_, scratch_);
  EXPECT_EQ(request_id_, "client-id-1");
  EXPECT_EQ(Get(fields, "X-Request-Id"), "client-id-1");
}

TEST_F(RewriteRequestHeadersTest, GeneratesARequestIdWhenMissingOrUnacceptable) {
  HttpFields fields;
  fields.set("Host", "a");
  RewriteRequestHeaders(fields, "192.0.2.7", ids_, request_id_, scratch_);
  ASSERT_EQ(request_id_.size(), 32u);
  EXPECT_EQ(request_id_.find_first_not_of("0123456789abcdef"), std::string::npos);
  const std::string first = request_id_;

  HttpFields bad;
  bad.set("Host", "a");
  bad.set("X-Request-Id", "bad\tid");
  RewriteRequestHeaders(bad, "192.0.2.7", ids_, request_id_, scratch_);
  EXPECT_EQ(request_id_.size(), 32u);
  EXPECT_NE(request_id_, first);
  EXPECT_EQ(Get(bad, "X-Request-Id"), request_id_);
}

TEST_F(RewriteRequestHeadersTest, ConnectionCannotRemoveTheGatewaysOwnHeaders) {
  HttpFields fields;
  fields.set("Host", "a");
  fields.set("Connection", "X-Forwarded-For, X-Request-Id, X-Forwarded-Proto, X-Forwarded-Host");
  fields.set("X-Forwarded-For", "10.9.9.9");
  fields.set("X-Request-Id", "client-id");
  RewriteRequestHeaders(fields, "192.0.2.7", ids_, request_id_, scratch_);
  // The client declared its own values hop-by-hop: they go; the gateway's are set afterwards.
  EXPECT_EQ(Get(fields, "X-Forwarded-For"), "192.0.2.7");
  EXPECT_EQ(Get(fields, "X-Forwarded-Proto"), "http");
  EXPECT_EQ(Get(fields, "X-Forwarded-Host"), "a");
  EXPECT_EQ(request_id_.size(), 32u);
  EXPECT_EQ(Get(fields, "X-Request-Id"), request_id_);
  EXPECT_EQ(Get(fields, "Connection"), "<absent>");
}

TEST_F(RewriteRequestHeadersTest, DropsAClaimedForwardedHostWhenThereIsNoHost) {
  HttpFields fields;  // an HTTP/1.0 request without Host
  fields.set("X-Forwarded-Host", "evil.example");
  RewriteRequestHeaders(fields, "192.0.2.7", ids_, request_id_, scratch_);
  EXPECT_EQ(Get(fields, "X-Forwarded-Host"), "<absent>");
}

TEST(RewriteResponseHeaders, StripsHopByHopAndAddsTheRequestId) {
  HttpFields fields;
  fields.set("Connection", "close, X-Internal");
  fields.set("X-Internal", "secret");
  fields.set("Keep-Alive", "timeout=5");
  fields.set("Content-Type", "text/plain");
  RewriteResponseHeaders(fields, "id-7");
  EXPECT_EQ(Names(fields), (std::vector<std::string>{"Content-Type", "X-Request-Id"}));
  EXPECT_EQ(Get(fields, "X-Request-Id"), "id-7");
}

TEST(FrameUpstreamRequest, SendsHttp11WithTheNewTargetAndTheBodyLength) {
  HttpRequest request{http::verb::post, "/old/../path", 10};
  FrameUpstreamRequest(request, "/path?x=1", 5, false);
  EXPECT_EQ(request.version(), 11u);
  EXPECT_EQ(ToStd(request.target()), "/path?x=1");
  EXPECT_EQ(Get(request, "Content-Length"), "5");
  EXPECT_TRUE(request.keep_alive());
}

TEST(FrameUpstreamRequest, KeepsAChunkedBodyChunked) {
  HttpRequest request{http::verb::put, "/", 11};
  request.set("Content-Length", "9");  // never both: the chunked framing wins
  FrameUpstreamRequest(request, "/", std::nullopt, true);
  EXPECT_EQ(Get(request, "Transfer-Encoding"), "chunked");
  EXPECT_EQ(Get(request, "Content-Length"), "<absent>");
}

TEST(FrameUpstreamRequest, AnnouncesNoBodyOnlyWhereNoneIsExpected) {
  HttpRequest get{http::verb::get, "/", 11};
  get.set("Content-Length", "0");
  FrameUpstreamRequest(get, "/", 0, false);
  EXPECT_EQ(Get(get, "Content-Length"), "<absent>");

  HttpRequest get_with_body{http::verb::get, "/", 11};
  FrameUpstreamRequest(get_with_body, "/", 3, false);
  EXPECT_EQ(Get(get_with_body, "Content-Length"), "3");

  HttpRequest post{http::verb::post, "/", 11};
  FrameUpstreamRequest(post, "/", std::nullopt, false);
  EXPECT_EQ(Get(post, "Content-Length"), "0");
}

TEST(FrameUpstreamRequest, AnnouncesTrailersOnlyForAChunkedBody) {
  HttpRequest chunked{http::verb::post, "/", 11};
  chunked.set("Trailer", "X-Checksum");
  FrameUpstreamRequest(chunked, "/", std::nullopt, true);
  EXPECT_EQ(Get(chunked, "Trailer"), "X-Checksum");

  HttpRequest sized{http::verb::post, "/", 11};
  sized.set("Trailer", "X-Checksum");
  FrameUpstreamRequest(sized, "/", 4, false);
  EXPECT_EQ(Get(sized, "Trailer"), "<absent>");
}

TEST(FrameClientResponse, AnnouncesTrailersOnlyForAChunkedBody) {
  HttpResponse chunked{http::status::ok, 11};
  chunked.set("Trailer", "Server-Timing");
  FrameClientResponse(chunked, false, 11, true, std::nullopt);
  EXPECT_EQ(Get(chunked, "Trailer"), "Server-Timing");

  for (const unsigned version : {10u, 11u}) {  // close-delimited, or a known length
    HttpResponse response{http::status::ok, 11};
    response.set("Trailer", "Server-Timing");
    FrameClientResponse(response, false, version, true,
                        version == 10 ? std::nullopt : std::optional<uint64_t>(3));
    EXPECT_EQ(Get(response, "Trailer"), "<absent>") << version;
  }
}

TEST(FrameClientResponse, KeepsTheUpstreamsLength) {
  HttpResponse response{http::status::ok, 11};
  EXPECT_TRUE(FrameClientResponse(response, false, 11, true, 3));
  EXPECT_EQ(Get(response, "Content-Length"), "3");
  EXPECT_EQ(Get(response, "Transfer-Encoding"), "<absent>");
  EXPECT_EQ(Get(response, "Connection"), "<absent>");
}

TEST(FrameClientResponse, ChunksABodyOfUnknownLengthForHttp11) {
  HttpResponse response{http::status::ok, 11};
  EXPECT_TRUE(FrameClientResponse(response, false, 11, true, std::nullopt));
  EXPECT_EQ(Get(response, "Transfer-Encoding"), "chunked");
  EXPECT_EQ(Get(response, "Content-Length"), "<absent>");
}

TEST(FrameClientResponse, ClosesAfterABodyOfUnknownLengthForHttp10) {
  HttpResponse response{http::status::ok, 11};
  EXPECT_FALSE(FrameClientResponse(response, false, 10, true, std::nullopt));
  EXPECT_EQ(response.version(), 10u);
  EXPECT_EQ(Get(response, "Transfer-Encoding"), "<absent>");
  EXPECT_EQ(Get(response, "Content-Length"), "<absent>");
  EXPECT_EQ(Get(response, "Connection"), "<absent>");  // HTTP/1.0 closes by default
}

TEST(FrameClientResponse, KeepsTheAnnouncedLengthForHead) {
  HttpResponse response{http::status::ok, 11};
  response.set("Content-Length", "1234");
  EXPECT_TRUE(FrameClientResponse(response, true, 11, true, std::nullopt));
  EXPECT_EQ(Get(response, "Content-Length"), "1234");
  EXPECT_EQ(Get(response, "Transfer-Encoding"), "<absent>");
}

TEST(FrameClientResponse, AddsNoLengthToBodilessStatuses) {
  for (const auto status : {http::status::no_content, http::status::not_modified}) {
    HttpResponse response{status, 11};
    FrameClientResponse(response, false, 11, true, std::nullopt);
    EXPECT_EQ(Get(response, "Content-Length"), "<absent>") << static_cast<int>(status);
    EXPECT_EQ(Get(response, "Transfer-Encoding"), "<absent>") << static_cast<int>(status);
  }
}

TEST(FrameClientResponse, SpeaksTheClientsVersionAndKeepAlive) {
  HttpResponse keep{http::status::ok, 11};
  EXPECT_TRUE(FrameClientResponse(keep, false, 10, true, 0));
  EXPECT_EQ(keep.version(), 10u);
  EXPECT_EQ(Get(keep, "Connection"), "keep-alive");

  HttpResponse close{http::status::ok, 11};
  EXPECT_FALSE(FrameClientResponse(close, false, 11, false, 0));
  EXPECT_EQ(Get(close, "Connection"), "close");

  HttpResponse plain10{http::status::ok, 11};
  EXPECT_FALSE(FrameClientResponse(plain10, false, 10, false, 0));
  EXPECT_EQ(Get(plain10, "Connection"), "<absent>");
}

TEST(RequestedUpgrade, NeedsConnectionUpgradeAndHttp11) {
  HttpFields fields;
  fields.set("Upgrade", "websocket");
  EXPECT_EQ(RequestedUpgrade(fields, 11), "");
  fields.set("Connection", "keep-alive, Upgrade");
  EXPECT_EQ(RequestedUpgrade(fields, 11), "websocket");
  EXPECT_EQ(RequestedUpgrade(fields, 10), "");
  fields.erase("Upgrade");
  EXPECT_EQ(RequestedUpgrade(fields, 11), "");
}

}  // namespace
}  // namespace gw
