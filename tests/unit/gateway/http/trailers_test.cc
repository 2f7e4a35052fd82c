#include "gateway/http/trailers.h"

#include <gtest/gtest.h>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "gateway/http/wire_format.h"

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

// "Name: value\r\n" lines back into pairs.
Fields WireList(std::string_view wire) {
  Fields list;
  while (!wire.empty()) {
    const size_t end = wire.find("\r\n");
    if (end == std::string_view::npos) {
      ADD_FAILURE() << "unterminated trailer line: " << wire;
      break;
    }
    const std::string_view line = wire.substr(0, end);
    const size_t colon = line.find(": ");
    EXPECT_NE(colon, std::string_view::npos) << line;
    list.emplace_back(std::string(line.substr(0, colon)), std::string(line.substr(colon + 2)));
    wire.remove_prefix(end + 2);
  }
  return list;
}

// Fields grouped by name, each name's values in order: what RFC 9110 section 5.3 says a
// forwarder must keep (the order between fields of different names is not significant).
std::map<std::string, std::vector<std::string>> ByName(const Fields& fields) {
  std::map<std::string, std::vector<std::string>> grouped;
  for (const auto& [name, value] : fields) grouped[name].push_back(value);
  return grouped;
}

// Reads a message the way the gateway does: the header first, then (after `before_body`, where
// the gateway calls Watch) the body through a small buffer_body window, as BodyRelay does.
template <bool isRequest>
class Reader {
 public:
  using Parser = http::parser<isRequest, http::buffer_body>;

  explicit Reader(std::string_view wire) : wire_(wire) { parser_.body_limit(UINT64_MAX); }

  Parser& parser() { return parser_; }

  // Parses the header; the header fields as they are then.
  Fields ReadHeader() {
    boost::beast::error_code ec;
    used_ += parser_.put(boost::asio::buffer(wire_.data(), wire_.size()), ec);
    EXPECT_FALSE(ec) << ec.message();
    EXPECT_TRUE(parser_.is_header_done());
    return FieldList(parser_.get());
  }

  // Parses the body to its end, or to the first error (returned). `stop_after` bytes of input
  // at most (the rest: later).
  boost::beast::error_code ReadBody(size_t stop_after = std::string_view::npos) {
    const size_t end = stop_after == std::string_view::npos ? wire_.size() : used_ + stop_after;
    boost::beast::error_code ec;
    while (!parser_.is_done() && used_ < end) {
      auto& body = parser_.get().body();
      body.data = window_;
      body.size = sizeof window_;
      const size_t used = parser_.put(boost::asio::buffer(wire_.data() + used_, end - used_), ec);
      used_ += used;
      body_.append(window_, sizeof window_ - body.size);
      if (ec == http::error::need_more && used == 0) return {};  // the rest comes later
      if (ec == http::error::need_buffer || ec == http::error::need_more) {
        ec = {};
        continue;
      }
      if (ec) return ec;
    }
    return ec;
  }

  const std::string& body() const { return body_; }
  bool consumed_all() const { return used_ == wire_.size(); }

 private:
  std::string_view wire_;
  Parser parser_;
  size_t used_ = 0;
  char window_[7];  // small: bodies take several windows
  std::string body_;
};

constexpr std::string_view kHead =
    "POST /upload HTTP/1.1\r\n"
    "Host: shop.example\r\n"
    "X-Sum: from-header\r\n"
    "Transfer-Encoding: chunked\r\n"
    "Trailer: X-Checksum, X-Sum\r\n"
    "\r\n";

constexpr std::string_view kChunks = "5\r\nhello\r\n10\r\n, chunked world!\r\n";

TEST(Trailers, CollectLeavesTheHeaderFieldsAndKeepsTheForwardableTrailers) {
  const std::string wire = std::string(kHead) + std::string(kChunks) +
                           "0\r\n"
                           "X-Checksum: abc123\r\n"
                           "Host: evil.example\r\n"
                           "X-Sum: from-trailer\r\n"
                           "Set-Cookie: session=1\r\n"
                           "Authorization: Basic eA==\r\n"
                           "X-Late: 1\r\n"
                           "X-Late: 2\r\n"
                           "\r\n";
  Reader<true> reader(wire);
  const Fields header = reader.ReadHeader();
  Trailers trailers;
  trailers.Watch(reader.parser());
  ASSERT_FALSE(reader.ReadBody());
  ASSERT_TRUE(reader.parser().is_done());
  EXPECT_TRUE(reader.consumed_all());
  EXPECT_EQ(reader.body(), "hello, chunked world!");
  // Beast put the trailers among the header fields.
  EXPECT_GT(FieldList(reader.parser().get()).size(), header.size());

  trailers.Collect();
  EXPECT_EQ(FieldList(reader.parser().get()), header);
  EXPECT_FALSE(trailers.empty());
  const Fields forwarded = WireList(trailers.wire());
  // Exactly the forwardable ones, each name's values in the order received (Beast keeps the
  // trailer X-Sum next to the header's X-Sum, so it may come before X-Checksum).
  EXPECT_EQ(forwarded.size(), 4u) << trailers.wire();
  EXPECT_EQ(ByName(forwarded),
            (std::map<std::string, std::vector<std::string>>{
                {"X-Checksum", {"abc123"}}, {"X-Late", {"1", "2"}}, {"X-Sum", {"from-trailer"}}}));
}

TEST(Trailers, TrailersWithNamesOfTheirOwnKeepTheirOrderExactly) {
  const std::string wire = std::string(kHead) + std::string(kChunks) +
                           "0\r\n"
                           "X-Zeta: z\r\n"
                           "Server-Timing: db;dur=53\r\n"
                           "X-Alpha: a\r\n"
                           "X-Zeta: zz\r\n"
                           "\r\n";
  Reader<true> reader(wire);
  const Fields header = reader.ReadHeader();
  Trailers trailers;
  trailers.Watch(reader.parser());
  ASSERT_FALSE(reader.ReadBody());
  trailers.Collect();
  EXPECT_EQ(FieldList(reader.parser().get()), header);
  // Beast groups fields of one name: the second X-Zeta joins the first.
  EXPECT_EQ(trailers.wire(),
            "X-Zeta: z\r\n"
            "X-Zeta: zz\r\n"
            "Server-Timing: db;dur=53\r\n"
            "X-Alpha: a\r\n");
}

TEST(Trailers, ForbiddenTrailersAreDropped) {
  const std::string wire = std::string(kHead) + std::string(kChunks) +
                           "0\r\n"
                           "Host: evil.example\r\n"
                           "Set-Cookie: a=b\r\n"
                           "Cookie: c=d\r\n"
                           "Authorization: Bearer t\r\n"
                           "Proxy-Authorization: Basic eA==\r\n"
                           "Cache-Control: no-store\r\n"
                           "Content-Type: text/plain\r\n"
                           "Content-Encoding: gzip\r\n"
                           "Content-Range: bytes 0-1/2\r\n"
                           "Trailer: X-A\r\n"
                           "TE: trailers\r\n"
                           "Keep-Alive: timeout=5\r\n"
                           "Expect: 100-continue\r\n"
                           "Max-Forwards: 3\r\n"
                           "Range: bytes=0-1\r\n"
                           "If-Match: *\r\n"
                           "\r\n";
  Reader<true> reader(wire);
  const Fields header = reader.ReadHeader();
  Trailers trailers;
  trailers.Watch(reader.parser());
  ASSERT_FALSE(reader.ReadBody());
  trailers.Collect();
  EXPECT_EQ(FieldList(reader.parser().get()), header);
  EXPECT_TRUE(trailers.empty()) << trailers.wire();
  EXPECT_EQ(trailers.wire(), "");
}

TEST(Trailers, FramingTrailersAreRefusedByTheParser) {
  // A Content-Length or Transfer-Encoding in the trailer section of a chunked message fails the
  // parse (the gateway answers 400, or aborts a response): never collected, never forwarded.
  for (const std::string_view line :
       {"Content-Length: 5\r\n", "Transfer-Encoding: chunked\r\n", "content-length: 0\r\n"}) {
    const std::string wire =
        std::string(kHead) + std::string(kChunks) + "0\r\n" + std::string(line) + "\r\n";
    Reader<true> reader(wire);
    reader.ReadHeader();
    Trailers trailers;
    trailers.Watch(reader.parser());
    const boost::beast::error_code ec = reader.ReadBody();
    EXPECT_TRUE(ec) << line;
    EXPECT_FALSE(reader.parser().is_done()) << line;
    trailers.Collect();
    EXPECT_TRUE(trailers.empty()) << line;
  }
}

TEST(Trailers, NoTrailersNothingToCollect) {
  const std::string wire = std::string(kHead) + std::string(kChunks) + "0\r\n\r\n";
  Reader<true> reader(wire);
  const Fields header = reader.ReadHeader();
  Trailers trailers;
  trailers.Watch(reader.parser());
  ASSERT_FALSE(reader.ReadBody());
  trailers.Collect();
  EXPECT_TRUE(trailers.empty());
  EXPECT_EQ(trailers.wire(), "");
  EXPECT_EQ(FieldList(reader.parser().get()), header);
}

TEST(Trailers, CollectBeforeTheLastChunkDoesNothingThenCollectsAtTheEnd) {
  const std::string wire = std::string(kHead) + std::string(kChunks) + "0\r\nX-A: 1\r\n\r\n";
  Reader<true> reader(wire);
  const Fields header = reader.ReadHeader();
  Trailers trailers;
  trailers.Watch(reader.parser());
  ASSERT_FALSE(reader.ReadBody(8));  // part of the first chunk only
  ASSERT_FALSE(reader.parser().is_done());
  trailers.Collect();
  EXPECT_TRUE(trailers.empty());
  ASSERT_FALSE(reader.ReadBody());
  trailers.Collect();
  EXPECT_EQ(trailers.wire(), "X-A: 1\r\n");
  EXPECT_EQ(FieldList(reader.parser().get()), header);
}

TEST(Trailers, CollectIsIdempotent) {
  const std::string wire = std::string(kHead) + std::string(kChunks) + "0\r\nX-A: 1\r\n\r\n";
  Reader<true> reader(wire);
  const Fields header = reader.ReadHeader();
  Trailers trailers;
  trailers.Watch(reader.parser());
  ASSERT_FALSE(reader.ReadBody());
  trailers.Collect();
  trailers.Collect();
  EXPECT_EQ(trailers.wire(), "X-A: 1\r\n");
  EXPECT_EQ(FieldList(reader.parser().get()), header);
}

TEST(Trailers, NothingWatchedNothingCollected) {
  Trailers trailers;
  trailers.Collect();
  EXPECT_TRUE(trailers.empty());
  // A body with a Content-Length: no chunk, so no last chunk either.
  const std::string wire = "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc";
  Reader<true> reader(wire);
  const Fields header = reader.ReadHeader();
  trailers.Watch(reader.parser());
  ASSERT_FALSE(reader.ReadBody());
  trailers.Collect();
  EXPECT_TRUE(trailers.empty());
  EXPECT_EQ(FieldList(reader.parser().get()), header);
}

TEST(Trailers, WatchForgetsThePreviousMessage) {
  Trailers trailers;  // one per relay, reused for each message
  {
    const std::string wire = std::string(kHead) + std::string(kChunks) + "0\r\nX-First: 1\r\n\r\n";
    Reader<true> reader(wire);
    reader.ReadHeader();
    trailers.Watch(reader.parser());
    ASSERT_FALSE(reader.ReadBody());
    trailers.Collect();
    EXPECT_EQ(trailers.wire(), "X-First: 1\r\n");
    // The next message is watched while this parser is still alive (as in a Session).
    const std::string next = std::string(kHead) + std::string(kChunks) + "0\r\n\r\n";
    Reader<true> second(next);
    const Fields header = second.ReadHeader();
    trailers.Watch(second.parser());
    EXPECT_TRUE(trailers.empty());
    ASSERT_FALSE(second.ReadBody());
    trailers.Collect();
    EXPECT_TRUE(trailers.empty()) << trailers.wire();
    EXPECT_EQ(FieldList(second.parser().get()), header);
  }
  const std::string third =
      std::string(kHead) + std::string(kChunks) + "0\r\nX-Third: 3\r\nX-Sum: t\r\n\r\n";
  Reader<true> reader(third);
  const Fields header = reader.ReadHeader();
  trailers.Watch(reader.parser());
  ASSERT_FALSE(reader.ReadBody());
  trailers.Collect();
  EXPECT_EQ(ByName(WireList(trailers.wire())), (std::map<std::string, std::vector<std::string>>{
                                                   {"X-Sum", {"t"}}, {"X-Third", {"3"}}}));
  EXPECT_EQ(FieldList(reader.parser().get()), header);
  trailers.Clear();
  EXPECT_TRUE(trailers.empty());
}

TEST(Trailers, ResponsesToo) {
  const std::string wire =
      "HTTP/1.1 200 OK\r\n"
      "Transfer-Encoding: chunked\r\n"
      "Set-Cookie: a=1\r\n"
      "X-Sum: h\r\n"
      "\r\n"
      "3\r\nabc\r\n"
      "0\r\n"
      "X-Sum: t\r\n"
      "Set-Cookie: b=2\r\n"
      "Server-Timing: total;dur=1\r\n"
      "\r\n";
  Reader<false> reader(wire);
  const Fields header = reader.ReadHeader();
  Trailers trailers;
  trailers.Watch(reader.parser());
  ASSERT_FALSE(reader.ReadBody());
  EXPECT_EQ(reader.body(), "abc");
  trailers.Collect();
  EXPECT_EQ(FieldList(reader.parser().get()), header);
  EXPECT_EQ(ByName(WireList(trailers.wire())),
            (std::map<std::string, std::vector<std::string>>{{"Server-Timing", {"total;dur=1"}},
                                                             {"X-Sum", {"t"}}}));
}

TEST(Trailers, ManyBodyWindowsAndATrailerSectionSplitAcrossReads) {
  std::string wire(kHead);
  std::string expected;
  for (int i = 0; i < 40; ++i) {
    const std::string chunk(static_cast<size_t>(i % 9 + 1), static_cast<char>('a' + i % 26));
    char line[kMaxChunkSizeLine];
    wire.append(line, FormatChunkSizeLine(chunk.size(), line)).append(chunk).append("\r\n");
    expected += chunk;
  }
  wire += "0\r\nX-Checksum: ";
  const size_t split = wire.size();
  wire += "c0ffee\r\n\r\n";
  Reader<true> reader(wire);
  const Fields header = reader.ReadHeader();
  Trailers trailers;
  trailers.Watch(reader.parser());
  // Up to the middle of the trailer section, then the rest.
  ASSERT_FALSE(reader.ReadBody(split - kHead.size()));
  EXPECT_FALSE(reader.parser().is_done());
  ASSERT_FALSE(reader.ReadBody());
  ASSERT_TRUE(reader.parser().is_done());
  EXPECT_EQ(reader.body(), expected);
  trailers.Collect();
  EXPECT_EQ(trailers.wire(), "X-Checksum: c0ffee\r\n");
  EXPECT_EQ(FieldList(reader.parser().get()), header);
}

// Fields a trailer must not carry (RFC 9110 section 6.5.1), some in other cases.
// clang-format off
constexpr std::string_view kNeverTrailers[] = {
    "Content-Length", "content-length", "Host", "HOST", "Transfer-Encoding", "Set-Cookie",
    "set-cookie", "Cookie", "Authorization", "Proxy-Authorization", "Proxy-Authenticate",
    "Connection", "Keep-Alive", "Proxy-Connection", "TE", "te", "Trailer", "Upgrade",
    "Cache-Control", "Expect", "Max-Forwards", "Range", "If-Match", "If-None-Match",
    "If-Modified-Since", "If-Unmodified-Since", "If-Range", "Content-Type", "Content-Encoding",
    "Content-Range"};
// clang-format on

TEST(IsForwardableTrailer, RefusesFramingRoutingAuthAndHopByHopFieldsInAnyCase) {
  for (const std::string_view name : kNeverTrailers) {
    EXPECT_FALSE(IsForwardableTrailer(name)) << name;
  }
}

TEST(IsForwardableTrailer, AcceptsOtherFields) {
  for (const std::string_view name : {"X-Checksum", "Server-Timing", "Digest", "ETag", "X-Sum",
                                      "Content-MD5", "Hosts", "X-Content-Length", "Cookie2x"}) {
    EXPECT_TRUE(IsForwardableTrailer(name)) << name;
  }
}

}  // namespace
}  // namespace gw
