// Fuzzes the HTTP/2 header conversion (gateway/http2/header_conversion.h) on the field lists a
// client could send after HPACK decoding: the input is a mode byte, then fields as a one-byte
// name length, the name, a one-byte value length and the value. Mode bit 0 feeds them as a
// trailer section instead of a request header; bits 1-3 pick the byte limit.
//
// Properties: a request header accepted (kOk) is one an HTTP/1.1 upstream reads as sent: a token
// method, an origin-form target (or "*" for OPTIONS) and a Host without whitespace, control bytes
// or userinfo, no connection-specific field, at most one Cookie; a list whose bytes (name + value
// + 32 each) exceed the limit is kTooLarge unless an earlier field already made it malformed;
// kTooLarge never comes under the limit. Then the accepted fields go back out as a response
// (ResponseFields): ":status" first, every name lower-case and not connection-specific.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "gateway/http2/header_conversion.h"

namespace {

using gw::http2::RequestVerdict;

[[noreturn]] void Fail(const char* condition, int line) {
  std::fprintf(stderr, "h2_headers_fuzzer: %s (line %d)\n", condition, line);
  std::abort();
}
#define H2_CHECK(condition)                       \
  do {                                            \
    if (!(condition)) Fail(#condition, __LINE__); \
  } while (0)

bool IsConnectionSpecific(std::string_view name) {
  return name == "connection" || name == "keep-alive" || name == "proxy-connection" ||
         name == "transfer-encoding" || name == "upgrade";
}

bool IsPlain(std::string_view s) {
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f) return false;
  }
  return true;
}

void CheckAccepted(const gw::HttpRequestHeader& header) {
  const std::string_view method = gw::ToStd(header.method_string());
  const std::string_view target = gw::ToStd(header.target());
  H2_CHECK(!method.empty() && IsPlain(method));
  H2_CHECK(!target.empty() && IsPlain(target));
  H2_CHECK(target.front() == '/' || (target == "*" && method == "OPTIONS"));
  const auto host = header.find(boost::beast::http::field::host);
  H2_CHECK(host != header.end());
  const std::string_view host_value = gw::ToStd(host->value());
  H2_CHECK(!host_value.empty() && IsPlain(host_value));
  H2_CHECK(host_value.find('@') == std::string_view::npos);
  H2_CHECK(header.count(boost::beast::http::field::host) == 1);
  H2_CHECK(header.count(boost::beast::http::field::cookie) <= 1);
  for (const auto& field : header) {
    const std::string_view name = gw::ToStd(field.name_string());
    H2_CHECK(!name.empty() && name.front() != ':');
    H2_CHECK(!IsConnectionSpecific(name));
  }

  gw::HttpResponseHeader response;
  response.result(200);
  for (const auto& field : header) response.insert(field.name_string(), field.value());
  const gw::http2::ResponseFields fields(response);
  H2_CHECK(fields.size() >= 1 && fields.name(0) == ":status" && fields.value(0) == "200");
  for (size_t i = 1; i < fields.size(); ++i) {
    const std::string_view name = fields.name(i);
    for (const char c : name) H2_CHECK(!(c >= 'A' && c <= 'Z'));
    H2_CHECK(!IsConnectionSpecific(name));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t mode = data[0];
  const size_t limit = size_t{64} << ((mode >> 1) & 7);  // 64 B .. 8 KiB
  std::vector<std::pair<std::string, std::string>> fields;
  size_t at = 1;
  const auto take = [&](std::string& out) {
    if (at >= size) return false;
    const size_t n = data[at++];
    if (n > size - at) return false;
    out.assign(reinterpret_cast<const char*>(data + at), n);
    at += n;
    return true;
  };
  for (;;) {
    std::string name, value;
    if (!take(name) || !take(value)) break;
    fields.emplace_back(std::move(name), std::move(value));
  }
  size_t bytes = 0;
  for (const auto& [name, value] : fields) {
    bytes += name.size() + value.size() + gw::http2::kFieldOverhead;
  }

  if ((mode & 1) != 0) {
    gw::http2::TrailerBuilder trailers(limit);
    for (const auto& [name, value] : fields) trailers.Add(name, value);
    const RequestVerdict verdict = trailers.Finish();
    H2_CHECK(verdict != RequestVerdict::kConnect);
    H2_CHECK(verdict != RequestVerdict::kTooLarge || bytes > limit);
    if (verdict == RequestVerdict::kOk) {
      H2_CHECK(bytes <= limit);
      const gw::http2::ResponseFields out(trailers.fields());
      for (size_t i = 0; i < out.size(); ++i) H2_CHECK(out.name(i).front() != ':');
    }
    return 0;
  }

  gw::http2::RequestHeaderBuilder builder(limit);
  for (const auto& [name, value] : fields) builder.Add(name, value);
  const RequestVerdict verdict = builder.Finish();
  H2_CHECK(verdict != RequestVerdict::kTooLarge || bytes > limit);
  if (verdict == RequestVerdict::kOk) {
    H2_CHECK(bytes <= limit);
    CheckAccepted(builder.header());
  }
  return 0;
}
