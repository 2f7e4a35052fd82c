// Fuzzes a client connection's bytes through the decisions a Session makes on them: Beast's
// request parser with the gateway's default limits, then the framing check (Transfer-Encoding),
// the Host checks, request-target splitting, path normalization, routing, the header rewrite
// for the upstream hop, and the request as it would be framed upstream. Up to kMaxRequests
// pipelined requests are read from one input, as long as the connection would stay open.
//
// Besides the properties in request_checks.h: a request whose framing the gateway accepts is
// framed by the parser the same way (no Transfer-Encoding it does not read as chunked), every
// parse error is answered 400/413/431, no hop-by-hop header or header named in Connection goes
// upstream while the gateway's own X-Forwarded-* and X-Request-Id always do, and the request
// sent upstream parses back, alone and whole, into the same method, target, fields and body.
#include <boost/asio/buffer.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/dynamic_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/rfc7230.hpp>
#include <boost/beast/http/write.hpp>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/request_checks.h"
#include "gateway/proxy/header_rewrite.h"
#include "gateway/proxy/http_message.h"
#include "gateway/proxy/proxy_error.h"
#include "gateway/proxy/proxy_settings.h"
#include "gateway/proxy/request_id.h"
#include "gateway/proxy/request_target.h"

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using gw::ProxyError;
using gw::ToStd;
// The body is collected whole here (inputs are small) so the upstream's view of it can be
// compared; the gateway streams it through gateway/proxy/http_message.h's buffer_body. A
// dynamic_body, unlike a string_body, reserves nothing for an announced Content-Length.
using BufferedRequest = http::request<http::dynamic_body>;
using Parser = http::request_parser<http::dynamic_body>;

constexpr int kMaxRequests = 4;
constexpr std::string_view kClientIp = "192.0.2.1";

// Feeds `input` from `used` to `parser` until `done(parser)` or an error. The end of `input` is
// the end of the stream, as when the client closes.
template <class Done>
beast::error_code Feed(Parser& parser, std::string_view input, size_t& used, Done done) {
  beast::error_code ec;
  while (!done(parser)) {
    size_t n = 0;
    if (used < input.size()) {
      n = parser.put(boost::asio::buffer(input.data() + used, input.size() - used), ec);
      used += n;
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
void CheckUpstreamHeaders(const BufferedRequest& request, const std::vector<std::string>& named,
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

// The request framed for the upstream parses back as exactly one complete message equal to it.
// The header is written by Beast's field writer, as the serializer does; the body is framed here
// the way the relay sends it (chunks as they arrive, then the last chunk).
void CheckUpstreamWire(const BufferedRequest& request) {
  std::ostringstream out;
  out << request.base();
  FUZZ_CHECK(out.good());
  std::string wire = out.str();
  const std::string body = beast::buffers_to_string(request.body().data());
  const bool chunked = request.count(http::field::transfer_encoding) > 0;
  if (chunked) {
    if (!body.empty()) {
      std::ostringstream size;
      size << std::hex << body.size();
      wire.append(size.str()).append("\r\n").append(body).append("\r\n");
    }
    wire.append("0\r\n\r\n");
  } else {
    wire.append(body);
  }

  Parser parser;
  parser.header_limit(std::numeric_limits<std::uint32_t>::max());
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());
  parser.eager(true);
  size_t used = 0;
  const beast::error_code ec =
      Feed(parser, wire, used, [](const Parser& p) { return p.is_done(); });
  FUZZ_CHECK(!ec);
  FUZZ_CHECK(parser.is_done() && used == wire.size());
  FUZZ_CHECK(parser.chunked() == chunked);
  const BufferedRequest& parsed = parser.get();
  FUZZ_CHECK(parsed.version() == 11);
  FUZZ_CHECK(parsed.method_string() == request.method_string());
  FUZZ_CHECK(parsed.target() == request.target());
  FUZZ_CHECK(beast::buffers_to_string(parsed.body().data()) == body);
  auto a = parsed.begin();
  auto b = request.begin();
  for (; a != parsed.end() && b != request.end(); ++a, ++b) {
    FUZZ_CHECK(a->name_string() == b->name_string());
    FUZZ_CHECK(a->value() == b->value());
  }
  FUZZ_CHECK(a == parsed.end() && b == request.end());
}

// One request from `input` at `used`, as a Session reads and handles it: every decision on the
// header, then the body, then the request as the upstream would receive it. False when the
// connection would be closed after it (or nothing more can be read from it).
bool HandleOneRequest(std::string_view input, size_t& used) {
  static const gw::ProxySettings settings;
  Parser parser;
  parser.header_limit(settings.max_header_size);
  parser.body_limit(settings.max_body_size != 0 ? settings.max_body_size
                                                : std::numeric_limits<std::uint64_t>::max());

  // The header section, then the framing check before any body byte.
  beast::error_code ec =
      Feed(parser, input, used, [](const Parser& p) { return p.is_header_done(); });
  if (ec) {
    CheckReadError(ec);
    return false;
  }
  BufferedRequest& request = parser.get();
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
  const auto target = gw::fuzz::CheckRequestTarget(ToStd(request.target()));
  bool forwarded = false;
  if (target) {
    if (target->absolute_form) request.set(http::field::host, gw::ToBeast(target->authority));
    gw::RequestIdGenerator ids(1);
    std::string request_id;
    std::string scratch;
    if (gw::RewriteRequestHeaders(request, kClientIp, ids, request_id, scratch)) {
      CheckUpstreamHeaders(request, connection_tokens, request_id);
      forwarded = target->route != nullptr;  // else 404
    } else {
      FUZZ_CHECK(scratch.size() > gw::kMaxHeaderValueSize);  // 431
    }
  }

  // The body, streamed upstream as it arrives (or read and dropped after an error answer).
  parser.eager(true);
  ec = Feed(parser, input, used, [](const Parser& p) { return p.is_done(); });
  if (ec) {
    CheckReadError(ec);
    return false;
  }
  if (forwarded) {
    std::optional<uint64_t> content_length;
    if (parser.content_length()) content_length = *parser.content_length();
    gw::FrameUpstreamRequest(request, target->upstream_target, content_length, parser.chunked());
    FUZZ_CHECK(request.count(http::field::content_length) <= 1);
    FUZZ_CHECK(request.count(http::field::transfer_encoding) <= 1);
    CheckUpstreamWire(request);
  }
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
