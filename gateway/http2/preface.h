// IsHttp2Preface: whether a cleartext connection's first bytes open HTTP/2 with prior knowledge
// (RFC 9113 section 3.3), so the HTTP/1.1 session can hand the connection to http2::Connection.
// Pure; HTTP/1.1 pays one short compare per connection.
#pragma once

#include <algorithm>
#include <string_view>

namespace gw::http2 {

// The client connection preface (RFC 9113 section 3.4).
inline constexpr std::string_view kClientPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

enum class PrefaceMatch { kYes, kNo, kNeedMore };

// kYes when `bytes` start with the whole preface; kNeedMore when they are a proper prefix of it
// (read more before deciding); kNo as soon as one byte differs.
inline PrefaceMatch IsHttp2Preface(std::string_view bytes) {
  const size_t n = std::min(bytes.size(), kClientPreface.size());
  if (bytes.substr(0, n) != kClientPreface.substr(0, n)) return PrefaceMatch::kNo;
  return n == kClientPreface.size() ? PrefaceMatch::kYes : PrefaceMatch::kNeedMore;
}

}  // namespace gw::http2
