#include "gateway/http/wire_format.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/asio/buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cstdint>
#include <iterator>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gw {
namespace {

namespace http = boost::beast::http;

using Fields = std::vector<std::pair<std::string, std::string>>;

Fields FieldList(const HttpFields& fields) {
  Fields list;
  for (const auto& field : fields) {
    list.emplace_back(ToStd(field.name_string()), ToStd(field.value()));
  }
  return list;
}

std::string RequestHead(const HttpRequestHeader& request) {
  std::string out;
  AppendRequestHead(request, out);
  return out;
}

std::string ResponseHead(const HttpResponseHeader& response) {
  std::string out;
  AppendResponseHead(response, out);
  return out;
}

// A response header as the gateway gets it: parsed from what an upstream sent.
HttpResponseHeader ParseResponseHead(std::string_view wire) {
  http::response_parser<http::empty_body> parser;
  parser.skip(true);  // the head only
  boost::beast::error_code ec;
  const size_t used = parser.put(boost::asio::buffer(wire.data(), wire.size()), ec);
  EXPECT_FALSE(ec) << ec.message() << " parsing " << wire;
  EXPECT_EQ(used, wire.size());
  EXPECT_TRUE(parser.is_header_done());
  return parser.release().base();
}

std::string ChunkSizeLine(uint64_t size) {
  char line[kMaxChunkSizeLine];
  const size_t length = FormatChunkSizeLine(size, line);
  EXPECT_LE(length, kMaxChunkSizeLine);
  return std::string(line, length);
}

// --- request heads ---------------------------------------------------------------------------

TEST(AppendRequestHead, RequestLineThenFieldsInOrderThenEmptyLine) {
  HttpRequestHeader request;
  request.method(http::verb::post);
  request.target("/api/orders?id=7&x=%2F");
  request.version(11);
  request.insert("Host", "shop.example");
  request.insert("content-length", "12");  // the name's spelling is kept
  request.insert("X-Forwarded-For", "192.0.2.1");
  request.insert("X-Empty", "");
  EXPECT_EQ(RequestHead(request),
            "POST /api/orders?id=7&x=%2F HTTP/1.1\r\n"
            "Host: shop.example\r\n"
            "content-length: 12\r\n"
            "X-Forwarded-For: 192.0.2.1\r\n"
            "X-Empty: \r\n"
            "\r\n");
}

TEST(AppendRequestHead, DuplicateFieldsKeepTheirOrder) {
  HttpRequestHeader request;
  request.method(http::verb::get);
  request.target("/");
  request.version(11);
  request.insert("Host", "h");
  request.insert("X-Forwarded-For", "10.0.0.1");
  request.insert("Accept", "text/html");
  request.insert("X-Forwarded-For", "10.0.0.2");
  request.insert("Cookie", "a=1");
  request.insert("Cookie", "b=2");
  // Beast keeps fields of one name together (a later one goes after the last of its name):
  // the order among fields of the same name, the one that matters (RFC 9110 section 5.3), is
  // kept, and the head is exactly what the fields hold.
  EXPECT_EQ(RequestHead(request),
            "GET / HTTP/1.1\r\n"
            "Host: h\r\n"
            "X-Forwarded-For: 10.0.0.1\r\n"
            "X-Forwarded-For: 10.0.0.2\r\n"
            "Accept: text/html\r\n"
            "Cookie: a=1\r\n"
            "Cookie: b=2\r\n"
            "\r\n");
}

TEST(AppendRequestHead, NoFieldsAnExtensionMethodAndHttp10) {
  HttpRequestHeader request;
  request.method_string("PROPFIND-X");
  request.target("*");
  request.version(10);
  EXPECT_EQ(RequestHead(request), "PROPFIND-X * HTTP/1.0\r\n\r\n");
}

TEST(AppendRequestHead, AppendsToWhatTheBufferHolds) {
  HttpRequestHeader request;
  request.method(http::verb::delete_);
  request.target("/x");
  request.version(11);
  std::string out = "previous";
  AppendRequestHead(request, out);
  EXPECT_EQ(out, "previousDELETE /x HTTP/1.1\r\n\r\n");
}

TEST(AppendRequestHead, ParsesBackWithBeastIntoTheSameMessage) {
  HttpRequestHeader request;
  request.method(http::verb::patch);
  request.target("/v1/~user/x:y@z?q=a%20b");
  request.version(11);
  request.insert("Host", "[::1]:8080");
  request.insert("X-Custom", "value with  spaces, commas; and \"quotes\"");
  request.insert("X-Forwarded-For", "198.51.100.7");
  request.insert("x-lower", "1");
  request.insert("X-Forwarded-For", "192.0.2.1");
  request.insert("Content-Length", "3");
  request.insert("X-Tab", "a\tb");
  const std::string wire = RequestHead(request) + "abc";

  http::request_parser<http::empty_body> parser;
  parser.skip(true);
  boost::beast::error_code ec;
  const size_t used = parser.put(boost::asio::buffer(wire.data(), wire.size()), ec);
  ASSERT_FALSE(ec) << ec.message();
  ASSERT_TRUE(parser.is_header_done());
  EXPECT_EQ(used, wire.size() - 3);  // exactly the head
  const auto& parsed = parser.get();
  EXPECT_EQ(parsed.method(), http::verb::patch);
  EXPECT_EQ(ToStd(parsed.method_string()), "PATCH");
  EXPECT_EQ(ToStd(parsed.target()), "/v1/~user/x:y@z?q=a%20b");
  EXPECT_EQ(parsed.version(), 11u);
  EXPECT_EQ(FieldList(parsed), FieldList(request));
  EXPECT_EQ(parser.content_length().value_or(0), 3u);
}

TEST(AppendRequestHead, ParsesBackForAnExtensionMethodAndHttp10) {
  HttpRequestHeader request;
  request.method_string("FOO");
  request.target("/a");
  request.version(10);
  request.insert("Connection", "keep-alive");
  const std::string wire = RequestHead(request);
  http::request_parser<http::empty_body> parser;
  boost::beast::error_code ec;
  parser.put(boost::asio::buffer(wire.data(), wire.size()), ec);
  ASSERT_FALSE(ec) << ec.message();
  ASSERT_TRUE(parser.is_done());
  EXPECT_EQ(parser.get().method(), http::verb::unknown);
  EXPECT_EQ(ToStd(parser.get().method_string()), "FOO");
  EXPECT_EQ(parser.get().version(), 10u);
  EXPECT_EQ(FieldList(parser.get()), FieldList(request));
}

// --- response heads --------------------------------------------------------------------------

TEST(AppendResponseHead, Http11WithFieldsInOrder) {
  HttpResponseHeader response;
  response.result(http::status::ok);
  response.version(11);
  response.insert("Content-Type", "application/json");
  response.insert("Set-Cookie", "a=1");
  response.insert("Content-Length", "2");
  response.insert("Set-Cookie", "b=2");
  EXPECT_EQ(ResponseHead(response),
            "HTTP/1.1 200 OK\r\n"
            "Content-Type: application/json\r\n"
            "Set-Cookie: a=1\r\n"
            "Set-Cookie: b=2\r\n"
            "Content-Length: 2\r\n"
            "\r\n");
}

TEST(AppendResponseHead, Http10) {
  HttpResponseHeader response;
  response.result(http::status::not_found);
  response.version(10);
  response.insert("Connection", "keep-alive");
  EXPECT_EQ(ResponseHead(response), "HTTP/1.0 404 Not Found\r\nConnection: keep-alive\r\n\r\n");
}

TEST(AppendResponseHead, AReceivedReasonIsKept) {
  EXPECT_EQ(ResponseHead(ParseResponseHead("HTTP/1.1 200 Fine Thanks\r\nX-A: 1\r\n\r\n")),
            "HTTP/1.1 200 Fine Thanks\r\nX-A: 1\r\n\r\n");
  EXPECT_EQ(ResponseHead(ParseResponseHead("HTTP/1.1 404 Nope\r\n\r\n")),
            "HTTP/1.1 404 Nope\r\n\r\n");
  EXPECT_EQ(ResponseHead(ParseResponseHead("HTTP/1.0 599 Network Connect Timeout\r\n\r\n")),
            "HTTP/1.0 599 Network Connect Timeout\r\n\r\n");
  HttpResponseHeader set;
  set.result(http::status::service_unavailable);
  set.version(11);
  set.reason("Back Soon");
  EXPECT_EQ(ResponseHead(set), "HTTP/1.1 503 Back Soon\r\n\r\n");
}

TEST(AppendResponseHead, AnEmptyReasonGetsTheStandardOne) {
  EXPECT_EQ(ResponseHead(ParseResponseHead("HTTP/1.1 200 \r\n\r\n")), "HTTP/1.1 200 OK\r\n\r\n");
  EXPECT_EQ(ResponseHead(ParseResponseHead("HTTP/1.1 304 \r\nETag: \"x\"\r\n\r\n")),
            "HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n");
  EXPECT_EQ(ResponseHead(ParseResponseHead("HTTP/1.1 101 \r\nUpgrade: websocket\r\n\r\n")),
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n");
  HttpResponseHeader built;
  built.result(http::status::gateway_timeout);
  built.version(11);
  EXPECT_EQ(ResponseHead(built), "HTTP/1.1 504 Gateway Timeout\r\n\r\n");
}

TEST(AppendResponseHead, AnUnknownStatusWithoutAReasonGetsNone) {
  EXPECT_EQ(ResponseHead(ParseResponseHead("HTTP/1.1 570 \r\n\r\n")), "HTTP/1.1 570 \r\n\r\n");
  HttpResponseHeader built;
  built.result(570);
  built.version(11);
  EXPECT_EQ(ResponseHead(built), "HTTP/1.1 570 \r\n\r\n");
  built.result(299);
  built.version(10);
  EXPECT_EQ(ResponseHead(built), "HTTP/1.0 299 \r\n\r\n");
}

// Beast's table also names private codes (444, 499, 599) that no standard defines: the gateway
// makes up no reason for them.
TEST(AppendResponseHead, ANonStandardStatusBeastKnowsWithoutAReasonGetsNone) {
  for (const unsigned status : {444u, 499u, 599u}) {
    const std::string expected = "HTTP/1.1 " + std::to_string(status) + " \r\n\r\n";
    EXPECT_EQ(ResponseHead(ParseResponseHead(expected)), expected);
    HttpResponseHeader built;
    built.result(status);
    built.version(11);
    EXPECT_EQ(ResponseHead(built), expected);
  }
}

TEST(AppendResponseHead, EveryThreeDigitStatusIsWrittenAsIs) {
  for (const unsigned status : {100u, 102u, 204u, 308u, 418u, 451u, 500u, 999u}) {
    HttpResponseHeader response;
    response.result(status);
    response.version(11);
    const std::string head = ResponseHead(response);
    EXPECT_EQ(head.substr(0, 13), "HTTP/1.1 " + std::to_string(status) + " ") << head;
    EXPECT_EQ(head.substr(head.size() - 4), "\r\n\r\n") << head;
    // Parses back with the same status.
    EXPECT_EQ(ParseResponseHead(head).result_int(), status);
  }
}

TEST(AppendResponseHead, ParsesBackWithBeastIntoTheSameMessage) {
  const HttpResponseHeader original = ParseResponseHead(
      "HTTP/1.1 201 Created Here\r\nLocation: /o/1\r\nX-Dup: 1\r\nVary: a\r\nX-Dup: 2\r\n"
      "Transfer-Encoding: chunked\r\n\r\n");
  const HttpResponseHeader parsed = ParseResponseHead(ResponseHead(original));
  EXPECT_EQ(parsed.result_int(), 201u);
  EXPECT_EQ(parsed.version(), 11u);
  EXPECT_EQ(ToStd(parsed.reason()), "Created Here");
  EXPECT_EQ(FieldList(parsed), FieldList(original));
}

// --- chunk-size lines ------------------------------------------------------------------------

TEST(FormatChunkSizeLine, LowerCaseHexWithoutLeadingZerosThenCrlf) {
  EXPECT_EQ(ChunkSizeLine(0), "0\r\n");
  EXPECT_EQ(ChunkSizeLine(1), "1\r\n");
  EXPECT_EQ(ChunkSizeLine(0xf), "f\r\n");
  EXPECT_EQ(ChunkSizeLine(0x10), "10\r\n");
  EXPECT_EQ(ChunkSizeLine(0x1f40), "1f40\r\n");
  EXPECT_EQ(ChunkSizeLine(64 * 1024), "10000\r\n");
  EXPECT_EQ(ChunkSizeLine(64 * 1024 - 1), "ffff\r\n");
  EXPECT_EQ(ChunkSizeLine(UINT64_MAX), "ffffffffffffffff\r\n");
  EXPECT_EQ(ChunkSizeLine(UINT64_MAX).size(), kMaxChunkSizeLine);
  EXPECT_EQ(ChunkSizeLine(0x8000000000000000ull), "8000000000000000\r\n");
}

TEST(FormatChunkSizeLine, WritesNothingPastItsLength) {
  char line[kMaxChunkSizeLine + 4];
  std::fill(std::begin(line), std::end(line), '#');
  const size_t length = FormatChunkSizeLine(0xabc, line);
  EXPECT_EQ(std::string(line, length), "abc\r\n");
  for (size_t i = length; i < sizeof line; ++i) EXPECT_EQ(line[i], '#') << i;
}

TEST(ChunkedFraming, ParsesBackWithBeast) {
  // A body framed as BodyRelay frames it: one chunk per window, the last chunk, no trailers.
  const std::string a(0x1f, 'a');
  const std::string b(64 * 1024, 'b');
  std::string wire = "POST /u HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (const std::string* window : {&a, &b}) {
    wire.append(ChunkSizeLine(window->size())).append(*window).append(kCrlf);
  }
  wire.append(kLastChunk).append(kCrlf);
  http::request_parser<http::string_body> parser;
  parser.body_limit(UINT64_MAX);
  boost::beast::error_code ec;
  size_t used = 0;
  while (!ec && !parser.is_done() && used < wire.size()) {
    used += parser.put(boost::asio::buffer(wire.data() + used, wire.size() - used), ec);
    if (ec == http::error::need_more) ec = {};
  }
  ASSERT_FALSE(ec) << ec.message();
  ASSERT_TRUE(parser.is_done());
  EXPECT_EQ(used, wire.size());
  EXPECT_EQ(parser.get().body(), a + b);
}

}  // namespace
}  // namespace gw
