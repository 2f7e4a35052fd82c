// Fuzzes a client connection's bytes through the decisions a Session makes on them: Beast's
// request parser (buffer_body, as the gateway reads) with the gateway's header limit and no body
// limit while the header is read, then the framing check (Transfer-Encoding), the Host checks,
// request-target splitting, path normalization, routing, the body limit of the route matched
// (else --max-body-size), the header rewrite for the upstream hop, the body with its trailers
// (Trailers), and the request as the gateway writes it upstream (AppendRequestHead, the chunked
// framing of BodyRelay). Up to kMaxRequests pipelined requests are read from one input, as long
// as the connection would stay open.
//
// Besides the properties in request_checks.h: a request whose framing the gateway accepts is
// framed by the parser the same way (no Transfer-Encoding it does not read as chunked), every
// parse error is answered 400/413/431, no body over the limit is forwarded, no hop-by-hop header
// or header named in Connection goes upstream while the gateway's own X-Forwarded-* and
// X-Request-Id always do, a trailer never ends up among the header fields, and the request sent
// upstream parses back, alone and whole, into the same method, target, fields, body and
// forwardable trailers.
#include <algorithm>
#include <boost/asio/buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/rfc7230.hpp>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fuzz/request_checks.h"
#include "gateway/http/header_rewrite.h"
#include "gateway/http/http_message.h"
#include "gateway/http/proxy_error.h"
#include "gateway/http/proxy_settings.h"
#include "gateway/http/request_id.h"
#include "gateway/http/request_target.h"
#include "gateway/http/trailers.h"
#include "gateway/http/wire_format.h"

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using gw::ProxyError;
using gw::ToStd;
using Parser = gw::RequestParser;  // the gateway's: the body goes through a buffer_body window
using FieldList = std::vector<std::pair<std::string, std::string>>;

constexpr int kMaxRequests = 4;
constexpr std::string_view kClientIp = "192.0.2.1";

// The gateway's settings, as run with --max-body-size 2k: fuzz inputs are small, and a limit
// they can cross exercises the 413 paths (Content-Length and chunked). The fuzz route table's
// routes have no limit of their own, so this one applies to every routed request.
const gw::ProxySettings& Settings() {
  static const gw::ProxySettings settings = [] {
    gw::ProxySettings s;
    s.max_body_size = 2048;
    return s;
  }();
  return settings;
}

// Collects the body a parser produces through a small buffer_body window, as BodyRelay does
// through its relay buffer (smaller here, so bodies take several windows).
class BodyWindow {
 public:
  explicit BodyWindow(Parser& parser) : parser_(parser) { Arm(); }

  // Moves what the window holds to body() and offers the whole window again.
  void Drain() {
    body_.append(window_, sizeof window_ - parser_.get().body().size);
    Arm();
  }

  const std::string& body() const { return body_; }

 private:
  void Arm() {
    parser_.get().body().data = window_;
    parser_.get().body().size = sizeof window_;
  }

  Parser& parser_;
  char window_[512];
  std::string body_;
};

// Feeds `input` from `used` to `parser` until `done(parser)` or an error. The end of `input` is
// the end of the stream, as when the client closes.
template <class Done>
beast::error_code Feed(Parser& parser, BodyWindow& window, std::string_view input, size_t& used,
                       Done done) {
  beast::error_code ec;
  while (!done(parser)) {
    size_t n = 0;
    if (used < input.size()) {
      n = parser.put(boost::asio::buffer(input.data() + used, input.size() - used), ec);
      used += n;
      window.Drain();
      if (ec == http::error::need_buffer) {  // the window was full: drained, read on
        ec = {};
        continue;
      }
      if (ec && ec != http::error::need_more) return ec;
      ec = {};
    }
    if (n == 0) {
      // The parser wants bytes the client never sent: the stream ends here.
      parser.put_eof(ec);
      if (!ec) FUZZ_CHECK(done(parser));
      return ec;
    }
  }
  return ec;
}

FieldList Fields(const gw::HttpFields& fields) {
  FieldList list;
  for (const auto& field : fields) {
    list.emplace_back(ToStd(field.name_string()), ToStd(field.value()));
  }
  return list;
}

// A failed read: answered with a 4xx when the client broke a rule or a limit, else (the client
// stopped sending) the connection is dropped.
void CheckReadError(const beast::error_code& ec) {
  if (!gw::IsAnswerableReadError(ec)) {
    FUZZ_CHECK(ec == http::error::end_of_stream || ec == http::error::partial_message);
    return;
  }
  const ProxyError error = gw::ClassifyRequestReadError(ec);
  if (ec == http::error::header_limit) FUZZ_CHECK(error == ProxyError::kHeaderTooLarge);
  if (ec == http::error::body_limit) FUZZ_CHECK(error == ProxyError::kBodyTooLarge);
  const unsigned status = gw::ReplyFor(error).status;
  FUZZ_CHECK(status >= 400 && status < 500);
  FUZZ_CHECK(!gw::ErrorBody(error).empty());
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return beast::iequals(gw::ToBeast(a), gw::ToBeast(b));
}

std::vector<std::string> ConnectionTokens(const gw::HttpFields& fields) {
  std::vector<std::string> tokens;
  for (auto it = fields.find(http::field::connection);
       it != fields.end() && it->name() == http::field::connection; ++it) {
    for (const auto token : http::token_list(it->value())) tokens.emplace_back(ToStd(token));
  }
  return tokens;
}

// The headers of the upstream hop after RewriteRequestHeaders.
void CheckUpstreamHeaders(const gw::HttpFields& request, const std::vector<std::string>& named,
                          std::string_view request_id) {
  for (const http::field hop :
       {http::field::connection, http::field::keep_alive, http::field::proxy_connection,
        http::field::te, http::field::trailer, http::field::transfer_encoding, http::field::upgrade,
        http::field::expect}) {
    FUZZ_CHECK(request.count(hop) == 0);
  }
  const size_t hosts = request.count(http::field::host);
  FUZZ_CHECK(hosts <= 1);
  FUZZ_CHECK(request.count("X-Forwarded-Host") == hosts);
  if (hosts == 1) FUZZ_CHECK(request["X-Forwarded-Host"] == request[http::field::host]);
  FUZZ_CHECK(request.count("X-Forwarded-For") == 1);
  const std::string_view forwarded_for = ToStd(request["X-Forwarded-For"]);
  FUZZ_CHECK(forwarded_for.size() >= kClientIp.size() &&
             forwarded_for.substr(forwarded_for.size() - kClientIp.size()) == kClientIp);
  FUZZ_CHECK(request.count("X-Forwarded-Proto") == 1 && request["X-Forwarded-Proto"] == "http");
  FUZZ_CHECK(request.count("X-Request-Id") == 1 && ToStd(request["X-Request-Id"]) == request_id);
  FUZZ_CHECK(gw::IsAcceptableRequestId(request_id));
  // A header the client named in Connection is gone, unless the gateway set it itself.
  for (const std::string& name : named) {
    if (EqualsIgnoreCase(name, "host") || EqualsIgnoreCase(name, "x-forwarded-host") ||
        EqualsIgnoreCase(name, "x-forwarded-for") || EqualsIgnoreCase(name, "x-forwarded-proto") ||
        EqualsIgnoreCase(name, "x-request-id")) {
      continue;
    }
    FUZZ_CHECK(request.count(gw::ToBeast(name)) == 0);
  }
}

// The request framed for the upstream parses back as exactly one complete message equal to it:
// the head as the gateway writes it (AppendRequestHead), the body as BodyRelay frames it (raw,
// or a chunk per relay window, the last chunk and the forwardable `trailers`).
void CheckUpstreamWire(const gw::HttpRequest& request, const std::string& body,
                       std::string_view trailers, bool chunked) {
  std::string wire;
  gw::AppendRequestHead(request, wire);
  if (chunked) {
    for (size_t at = 0; at < body.size(); at += gw::kRelayBufferSize) {
      const size_t n = std::min(gw::kRelayBufferSize, body.size() - at);
      char size_line[gw::kMaxChunkSizeLine];
      wire.append(size_line, gw::FormatChunkSizeLine(n, size_line));
      wire.append(body, at, n);
      wire.append(gw::kCrlf);
    }
    wire.append(gw::kLastChunk).append(trailers).append(gw::kCrlf);
  } else {
    FUZZ_CHECK(trailers.empty());  // trailers go only with a chunked body
    wire.append(body);
  }

  Parser parser;
  parser.header_limit(std::numeric_limits<std::uint32_t>::max());
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());
  BodyWindow window(parser);
  size_t used = 0;
  beast::error_code ec =
      Feed(parser, window, wire, used, [](const Parser& p) { return p.is_header_done(); });
  FUZZ_CHECK(!ec);
  gw::Trailers parsed_trailers;
  if (parser.chunked()) parsed_trailers.Watch(parser);
  parser.eager(true);
  ec = Feed(parser, window, wire, used, [](const Parser& p) { return p.is_done(); });
  FUZZ_CHECK(!ec);
  FUZZ_CHECK(parser.is_done() && used == wire.size());
  FUZZ_CHECK(parser.chunked() == chunked);
  parsed_trailers.Collect();
  const gw::HttpRequest& parsed = parser.get();
  FUZZ_CHECK(parsed.version() == 11);
  FUZZ_CHECK(parsed.method_string() == request.method_string());
  FUZZ_CHECK(parsed.target() == request.target());
  FUZZ_CHECK(window.body() == body);
  FUZZ_CHECK(Fields(parsed) == Fields(request));
  FUZZ_CHECK(parsed_trailers.wire() == trailers);
}

// One request from `input` at `used`, as a Session reads and handles it: every decision on the
// header, then the body, then the request as the upstream would receive it. False when the
// connection would be closed after it (or nothing more can be read from it).
bool HandleOneRequest(std::string_view input, size_t& used) {
  const gw::ProxySettings& settings = Settings();
  Parser parser;
  parser.header_limit(settings.max_header_size);
  // No body limit while the header is read: the route sets it once the header is matched.
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());
  BodyWindow window(parser);

  // The header section, then the framing check before any body byte.
  beast::error_code ec =
      Feed(parser, window, input, used, [](const Parser& p) { return p.is_header_done(); });
  if (ec) {
    CheckReadError(ec);
    return false;
  }
  FUZZ_CHECK(window.body().empty());  // not a byte of body before the header is handled
  gw::HttpRequest& request = parser.get();
  const unsigned version = request.version();
  const bool has_transfer_encoding = request.count(http::field::transfer_encoding) > 0;
  const ProxyError framing = gw::CheckTransferEncoding(request, version);
  FUZZ_CHECK(framing == ProxyError::kNone || framing == ProxyError::kBadRequest ||
             framing == ProxyError::kNotImplemented);
  if (parser.chunked()) FUZZ_CHECK(has_transfer_encoding);
  if (framing != ProxyError::kNone) return false;  // answered, then closed
  // Accepted framing is the parser's framing: chunked, or no Transfer-Encoding at all.
  if (has_transfer_encoding) FUZZ_CHECK(parser.chunked() && !parser.content_length());

  // Connection, Host, request-target, route, headers for the upstream hop.
  const std::vector<std::string> connection_tokens = ConnectionTokens(request);
  const bool keep_alive = gw::KeepAlive(request, version);
  bool close = false;
  bool keep_alive_token = false;
  bool upgrade_token = false;
  for (const std::string& token : connection_tokens) {
    if (EqualsIgnoreCase(token, "close")) close = true;
    if (EqualsIgnoreCase(token, "keep-alive")) keep_alive_token = true;
    if (EqualsIgnoreCase(token, "upgrade")) upgrade_token = true;
  }
  FUZZ_CHECK(keep_alive == (!close && (version >= 11 || keep_alive_token)));
  const std::string_view upgrade = gw::RequestedUpgrade(request, version);
  if (!upgrade.empty()) {
    FUZZ_CHECK(version >= 11 && upgrade_token && request.count(http::field::upgrade) > 0);
  }

  const size_t hosts = request.count(http::field::host);
  if (hosts > 1 || (version >= 11 && hosts == 0)) return false;  // 400, closed
  if (hosts == 1) {
    const std::string_view host = ToStd(request[http::field::host]);
    const bool valid = gw::fuzz::CheckHost(host);
    if (host.empty() && version < 11) {
      request.erase(http::field::host);
    } else if (!valid) {
      return false;  // 400, closed
    }
  }
  // Any answer before the body is read closes the connection, unless there is no body left.
  const bool answered_keep_alive = keep_alive && parser.is_done();
  const auto target = gw::fuzz::CheckRequestTarget(ToStd(request.target()));
  if (!target) return answered_keep_alive;  // 400
  if (target->absolute_form) request.set(http::field::host, gw::ToBeast(target->authority));
  gw::RequestIdGenerator ids(1);
  std::string request_id;
  std::string scratch;
  if (!gw::RewriteRequestHeaders(request, kClientIp, ids, request_id, scratch)) {
    FUZZ_CHECK(scratch.size() > gw::kMaxHeaderValueSize);
    return answered_keep_alive;  // 431
  }
  CheckUpstreamHeaders(request, connection_tokens, request_id);
  if (!target->route) return answered_keep_alive;  // 404

  // The route's body limit, else --max-body-size: a Content-Length over it is refused before
  // any body byte is read, a chunked body when its chunks cross it.
  const uint64_t body_limit = target->route->BodyLimit(settings.max_body_size);
  if (body_limit != 0) {
    if (parser.content_length().value_or(0) > body_limit) return false;  // 413, closed
    parser.body_limit(body_limit);
  }

  // The body (the trailers of a chunked one watched from its first byte), as streamed upstream.
  const FieldList header = Fields(request);
  gw::Trailers trailers;
  if (parser.chunked()) trailers.Watch(parser);
  parser.eager(true);
  ec = Feed(parser, window, input, used, [](const Parser& p) { return p.is_done(); });
  if (ec) {
    CheckReadError(ec);
    if (ec == http::error::body_limit) FUZZ_CHECK(body_limit != 0);
    return false;
  }
  const std::string& body = window.body();
  if (body_limit != 0) FUZZ_CHECK(body.size() <= body_limit);
  trailers.Collect();
  FUZZ_CHECK(Fields(request) == header);  // no trailer among the header fields
  if (!trailers.empty()) FUZZ_CHECK(parser.chunked());

  // Framed as the Session frames it: a chunked body that fits one relay buffer goes with a
  // Content-Length unless it has trailers to pass on; a longer one streams chunked.
  bool chunked = parser.chunked();
  std::optional<uint64_t> content_length;
  if (parser.content_length()) content_length = *parser.content_length();
  if (chunked && trailers.empty() && body.size() <= gw::kRelayBufferSize) {
    chunked = false;
    content_length = body.size();
  }
  if (content_length) FUZZ_CHECK(*content_length == body.size());
  gw::FrameUpstreamRequest(request, target->upstream_target, content_length, chunked);
  FUZZ_CHECK(request.count(http::field::content_length) <= 1);
  FUZZ_CHECK(request.count(http::field::transfer_encoding) <= 1);
  CheckUpstreamWire(request, body, trailers.wire(), chunked);
  return keep_alive;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  size_t used = 0;
  for (int i = 0; i < kMaxRequests && used < input.size(); ++i) {
    if (!HandleOneRequest(input, used)) break;
  }
  return 0;
}
