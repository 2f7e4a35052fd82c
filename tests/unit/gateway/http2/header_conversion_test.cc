#include "gateway/http2/header_conversion.h"

#include <gtest/gtest.h>

#include <boost/beast/http/field.hpp>
#include <initializer_list>
#include <string>
#include <utility>

namespace gw::http2 {
namespace {

namespace http = boost::beast::http;
using Fields = std::initializer_list<std::pair<std::string, std::string>>;

const Fields kGet = {
    {":method", "GET"}, {":scheme", "https"}, {":authority", "api.test"}, {":path", "/a?b=1"}};

RequestVerdict Convert(RequestHeaderBuilder& builder, Fields fields) {
  for (const auto& [name, value] : fields) builder.Add(name, value);
  return builder.Finish();
}

RequestVerdict Verdict(Fields fields, size_t max_bytes = 16384) {
  RequestHeaderBuilder builder(max_bytes);
  return Convert(builder, fields);
}

// kGet with `extra` after its pseudo-headers.
RequestVerdict VerdictWith(std::string name, std::string value) {
  RequestHeaderBuilder builder(16384);
  for (const auto& [n, v] : kGet) builder.Add(n, v);
  builder.Add(name, value);
  return builder.Finish();
}

TEST(RequestHeaderBuilderTest, PseudoHeadersBecomeMethodTargetHostAndScheme) {
  RequestHeaderBuilder builder(16384);
  ASSERT_EQ(Convert(builder, {{":method", "POST"},
                              {":scheme", "https"},
                              {":authority", "api.test:8443"},
                              {":path", "/v1/items?x=%20"},
                              {"content-type", "application/json"},
                              {"x-trace", "a"},
                              {"x-trace", "b"}}),
            RequestVerdict::kOk);
  const auto& h = builder.header();
  EXPECT_EQ(h.method(), http::verb::post);
  EXPECT_EQ(h.target(), "/v1/items?x=%20");
  EXPECT_EQ(h[http::field::host], "api.test:8443");
  EXPECT_EQ(h.version(), 20);
  EXPECT_EQ(builder.scheme(), "https");
  EXPECT_EQ(h[http::field::content_type], "application/json");
  EXPECT_EQ(h.count("x-trace"), 2U);
}

TEST(RequestHeaderBuilderTest, HostIsKeptWithoutAuthorityAndMustAgreeWithIt) {
  RequestHeaderBuilder builder(16384);
  ASSERT_EQ(
      Convert(builder,
              {{":method", "GET"}, {":scheme", "http"}, {":path", "/"}, {"host", "origin.test"}}),
      RequestVerdict::kOk);
  EXPECT_EQ(builder.header()[http::field::host], "origin.test");
  EXPECT_EQ(VerdictWith("host", "API.test"), RequestVerdict::kOk);
  EXPECT_EQ(VerdictWith("host", "other.test"), RequestVerdict::kMalformed);
  // The Host standing in for :authority follows its rules: no userinfo.
  EXPECT_EQ(
      Verdict(
          {{":method", "GET"}, {":scheme", "http"}, {":path", "/"}, {"host", "user@origin.test"}}),
      RequestVerdict::kMalformed);
  // http and https need an authority from one of them.
  EXPECT_EQ(Verdict({{":method", "GET"}, {":scheme", "https"}, {":path", "/"}}),
            RequestVerdict::kMalformed);
}

TEST(RequestHeaderBuilderTest, CookieCrumbsAreJoinedWithSemicolons) {
  RequestHeaderBuilder builder(16384);
  for (const auto& [n, v] : kGet) builder.Add(n, v);
  builder.Add("cookie", "a=1");
  builder.Add("cookie", "b=2");
  builder.Add("cookie", "c=3");
  ASSERT_EQ(builder.Finish(), RequestVerdict::kOk);
  EXPECT_EQ(builder.header().count(http::field::cookie), 1U);
  EXPECT_EQ(builder.header()[http::field::cookie], "a=1; b=2; c=3");
}

TEST(RequestHeaderBuilderTest, PseudoHeaderRulesMakeRequestsMalformed) {
  // Missing :method, :scheme or :path; empty :path.
  EXPECT_EQ(Verdict({{":scheme", "https"}, {":authority", "a"}, {":path", "/"}}),
            RequestVerdict::kMalformed);
  EXPECT_EQ(Verdict({{":method", "GET"}, {":authority", "a"}, {":path", "/"}}),
            RequestVerdict::kMalformed);
  EXPECT_EQ(Verdict({{":method", "GET"}, {":scheme", "https"}, {":authority", "a"}}),
            RequestVerdict::kMalformed);
  EXPECT_EQ(Verdict({{":method", "GET"}, {":scheme", "https"}, {":authority", "a"}, {":path", ""}}),
            RequestVerdict::kMalformed);
  // Duplicated, unknown, a response's, or after a regular field.
  EXPECT_EQ(Verdict({{":method", "GET"},
                     {":method", "GET"},
                     {":scheme", "https"},
                     {":authority", "a"},
                     {":path", "/"}}),
            RequestVerdict::kMalformed);
  EXPECT_EQ(VerdictWith(":protocol", "websocket"), RequestVerdict::kMalformed);
  EXPECT_EQ(VerdictWith(":status", "200"), RequestVerdict::kMalformed);
  EXPECT_EQ(Verdict({{":method", "GET"},
                     {":scheme", "https"},
                     {"accept", "*/*"},
                     {":authority", "a"},
                     {":path", "/"}}),
            RequestVerdict::kMalformed);
  // A path that is not origin-form, or "*" outside OPTIONS.
  EXPECT_EQ(
      Verdict({{":method", "GET"}, {":scheme", "https"}, {":authority", "a"}, {":path", "x"}}),
      RequestVerdict::kMalformed);
  EXPECT_EQ(
      Verdict({{":method", "GET"}, {":scheme", "https"}, {":authority", "a"}, {":path", "*"}}),
      RequestVerdict::kMalformed);
  EXPECT_EQ(
      Verdict({{":method", "OPTIONS"}, {":scheme", "https"}, {":authority", "a"}, {":path", "*"}}),
      RequestVerdict::kOk);
  // Bytes that would split an HTTP/1.1 request line or Host.
  EXPECT_EQ(Verdict({{":method", "GET"},
                     {":scheme", "https"},
                     {":authority", "a"},
                     {":path", "/a b HTTP/1.1\r\nX: y"}}),
            RequestVerdict::kMalformed);
  EXPECT_EQ(
      Verdict({{":method", "G ET"}, {":scheme", "https"}, {":authority", "a"}, {":path", "/"}}),
      RequestVerdict::kMalformed);
  EXPECT_EQ(
      Verdict({{":method", "GET"}, {":scheme", "https"}, {":authority", "u@a"}, {":path", "/"}}),
      RequestVerdict::kMalformed);
}

TEST(RequestHeaderBuilderTest, FieldRulesMakeRequestsMalformed) {
  EXPECT_EQ(VerdictWith("X-Upper", "1"), RequestVerdict::kMalformed);
  EXPECT_EQ(VerdictWith("", "1"), RequestVerdict::kMalformed);
  EXPECT_EQ(VerdictWith("bad name", "1"), RequestVerdict::kMalformed);
  EXPECT_EQ(VerdictWith("x-a", "line\r\nbreak"), RequestVerdict::kMalformed);
  EXPECT_EQ(VerdictWith("x-a", std::string("nul\0", 4)), RequestVerdict::kMalformed);
  EXPECT_EQ(VerdictWith("x-a", " padded"), RequestVerdict::kMalformed);
  for (const char* name :
       {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"}) {
    EXPECT_EQ(VerdictWith(name, "x"), RequestVerdict::kMalformed) << name;
  }
  EXPECT_EQ(VerdictWith("te", "trailers"), RequestVerdict::kOk);
  EXPECT_EQ(VerdictWith("te", "gzip"), RequestVerdict::kMalformed);
  EXPECT_EQ(VerdictWith("content-length", "12"), RequestVerdict::kOk);
  EXPECT_EQ(VerdictWith("content-length", "-1"), RequestVerdict::kMalformed);
  EXPECT_EQ(VerdictWith("x-empty", ""), RequestVerdict::kOk);
}

TEST(RequestHeaderBuilderTest, ConnectIsNotServedOverHttp2) {
  EXPECT_EQ(Verdict({{":method", "CONNECT"}, {":authority", "db.internal:5432"}}),
            RequestVerdict::kConnect);
  // With :path or :scheme it is not even a CONNECT request (RFC 9113 section 8.5).
  EXPECT_EQ(Verdict({{":method", "CONNECT"}, {":authority", "a:1"}, {":path", "/"}}),
            RequestVerdict::kMalformed);
}

TEST(RequestHeaderBuilderTest, ListOverTheByteLimitIsTooLargeAndStopsBeingStored) {
  // Each field counts name + value + 32.
  const size_t base = 7 + 3 + 7 + 5 + 10 + 8 + 5 + 6 + 4 * kFieldOverhead;
  RequestHeaderBuilder exact(base + 3 + 1 + kFieldOverhead);
  for (const auto& [n, v] : kGet) exact.Add(n, v);
  exact.Add("x-a", "1");
  EXPECT_EQ(exact.Finish(), RequestVerdict::kOk);

  RequestHeaderBuilder over(base + 3 + 1 + kFieldOverhead - 1);
  for (const auto& [n, v] : kGet) over.Add(n, v);
  over.Add("x-a", "1");
  for (int i = 0; i < 1000; ++i) over.Add("x-flood", std::string(100, 'f'));
  EXPECT_EQ(over.Finish(), RequestVerdict::kTooLarge);
  EXPECT_EQ(over.header().count("x-flood"), 0U);
}

TEST(TrailerBuilderTest, RegularFieldsOnly) {
  TrailerBuilder ok(1024);
  ok.Add("grpc-status", "0");
  ok.Add("x-checksum", "abc");
  EXPECT_EQ(ok.Finish(), RequestVerdict::kOk);
  EXPECT_EQ(ok.fields()["x-checksum"], "abc");

  TrailerBuilder pseudo(1024);
  pseudo.Add(":path", "/");
  EXPECT_EQ(pseudo.Finish(), RequestVerdict::kMalformed);
  TrailerBuilder upper(1024);
  upper.Add("X-A", "1");
  EXPECT_EQ(upper.Finish(), RequestVerdict::kMalformed);
  TrailerBuilder large(40);
  large.Add("x-a", std::string(10, 'a'));
  EXPECT_EQ(large.Finish(), RequestVerdict::kTooLarge);
}

TEST(ResponseFieldsTest, StatusFirstNamesLowerCasedConnectionFieldsDropped) {
  HttpResponseHeader header;
  header.result(http::status::ok);
  header.set(http::field::content_type, "text/plain");
  header.set(http::field::connection, "keep-alive, X-Hop");
  header.set(http::field::keep_alive, "timeout=5");
  header.set("Proxy-Connection", "keep-alive");
  header.set(http::field::transfer_encoding, "chunked");
  header.set(http::field::upgrade, "websocket");
  header.set("X-Hop", "dropped: named by Connection");
  header.set("X-Request-Id", "r1");
  header.set(http::field::te, "gzip");

  const ResponseFields fields(header);
  ASSERT_EQ(fields.size(), 3U);
  EXPECT_EQ(fields.name(0), ":status");
  EXPECT_EQ(fields.value(0), "200");
  EXPECT_EQ(fields.name(1), "content-type");
  EXPECT_EQ(fields.value(1), "text/plain");
  EXPECT_EQ(fields.name(2), "x-request-id");
  EXPECT_EQ(fields.value(2), "r1");
  EXPECT_EQ(fields.data()[0].namelen, 7U);
}

TEST(ResponseFieldsTest, TrailersHaveNoStatusAndKeepTeTrailers) {
  HttpFields trailers;
  trailers.set("Grpc-Status", "0");
  trailers.set(http::field::te, "trailers");
  const ResponseFields fields(trailers);
  ASSERT_EQ(fields.size(), 2U);
  EXPECT_EQ(fields.name(0), "grpc-status");
  EXPECT_EQ(fields.name(1), "te");
  EXPECT_EQ(fields.value(1), "trailers");
}

}  // namespace
}  // namespace gw::http2
