#include "gateway/http/header_rewrite.h"

#include <boost/beast/http/field.hpp>
#include <boost/beast/http/rfc7230.hpp>
#include <charconv>
#include <iterator>

namespace gw {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;

constexpr std::string_view kForwardedFor = "X-Forwarded-For";
constexpr std::string_view kForwardedProto = "X-Forwarded-Proto";
constexpr std::string_view kForwardedHost = "X-Forwarded-Host";
constexpr std::string_view kRequestId = "X-Request-Id";

bool IsHopByHop(http::field field) {
  switch (field) {
    case http::field::connection:
    case http::field::keep_alive:
    case http::field::proxy_connection:
    case http::field::te:
    case http::field::transfer_encoding:
    case http::field::upgrade:
      return true;
    default:
      return false;
  }
}

// Sets `field` to the decimal `value`, leaving it alone when it says that already (the common
// case of a Content-Length passed on): no allocation either way.
void SetNumber(HttpFields& fields, http::field field, uint64_t value) {
  char digits[20];
  const auto end = std::to_chars(digits, digits + sizeof digits, value).ptr;
  const std::string_view text(digits, static_cast<size_t>(end - digits));
  const auto it = fields.find(field);
  if (it != fields.end() && ToStd(it->value()) == text) {
    auto next = std::next(it);
    if (next == fields.end() || next->name() != field) return;  // one line, the right value
  }
  fields.set(field, ToBeast(text));
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

// tchar, RFC 9110 section 5.6.2.
bool IsTokenChar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool IsToken(std::string_view text) {
  if (text.empty()) return false;
  for (const char c : text) {
    if (!IsTokenChar(c)) return false;
  }
  return true;
}

std::string_view TrimSpace(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

}  // namespace

ProxyError CheckTransferEncoding(const HttpFields& fields, unsigned version) {
  auto it = fields.find(http::field::transfer_encoding);
  if (it == fields.end()) return ProxyError::kNone;
  if (version < 11) return ProxyError::kBadRequest;
  size_t codings = 0;
  size_t chunked = 0;
  bool last_is_chunked = false;
  // Lines of one name are adjacent in Beast's list (see StripHopByHop).
  for (; it != fields.end() && it->name() == http::field::transfer_encoding; ++it) {
    const std::string_view value = ToStd(it->value());
    size_t start = 0;
    while (start <= value.size()) {
      size_t comma = value.find(',', start);
      if (comma == std::string_view::npos) comma = value.size();
      const std::string_view element = TrimSpace(value.substr(start, comma - start));
      start = comma + 1;
      if (element.empty()) continue;
      const size_t semicolon = element.find(';');
      const std::string_view name = TrimSpace(element.substr(0, semicolon));
      if (!IsToken(name)) return ProxyError::kBadRequest;
      const bool is_chunked = EqualsIgnoreCase(name, "chunked");
      ++codings;
      if (is_chunked) ++chunked;
      // chunked takes no parameters; the parser would not treat "chunked;x" as chunked.
      last_is_chunked = is_chunked && semicolon == std::string_view::npos;
    }
  }
  if (chunked != 1 || !last_is_chunked) return ProxyError::kBadRequest;
  if (codings > 1) return ProxyError::kNotImplemented;
  return ProxyError::kNone;
}

size_t StripUnderscoreHeaders(HttpFields& fields, bool remove) {
  size_t found = 0;
  for (auto it = fields.begin(); it != fields.end();) {
    // Names Beast knows never hold '_': only unknown ones need a look.
    const bool underscore = it->name() == http::field::unknown &&
                            it->name_string().find('_') != beast::string_view::npos;
    if (!underscore) {
      ++it;
      continue;
    }
    ++found;
    it = remove ? fields.erase(it) : std::next(it);
  }
  return found;
}

void StripHopByHop(HttpFields& fields) {
  // Headers named by Connection first, while the Connection values are still alive. Fields of
  // one name are adjacent in Beast's list; erasing other fields leaves `it` valid (an end
  // iterator from equal_range would not be: it may point at a field erased here).
  for (auto it = fields.find(http::field::connection);
       it != fields.end() && it->name() == http::field::connection; ++it) {
    for (const auto token : http::token_list(it->value())) {
      const std::string_view name = ToStd(token);
      if (EqualsIgnoreCase(name, "connection") || EqualsIgnoreCase(name, "host")) continue;
      fields.erase(token);
    }
  }
  // Then the hop-by-hop fields themselves, in one pass rather than one lookup per name.
  for (auto it = fields.begin(); it != fields.end();) {
    it = IsHopByHop(it->name()) ? fields.erase(it) : std::next(it);
  }
}

bool KeepAlive(const HttpFields& fields, unsigned version) {
  bool close = false;
  bool keep_alive = false;
  for (auto it = fields.find(http::field::connection);
       it != fields.end() && it->name() == http::field::connection; ++it) {
    for (const auto token : http::token_list(it->value())) {
      if (EqualsIgnoreCase(ToStd(token), "close")) close = true;
      if (EqualsIgnoreCase(ToStd(token), "keep-alive")) keep_alive = true;
    }
  }
  if (close) return false;
  return version >= 11 || keep_alive;
}

bool ForwardedForChain(const HttpFields& fields, std::string_view client_ip, std::string& out) {
  out.clear();
  auto [begin, end] = fields.equal_range(ToBeast(kForwardedFor));
  for (auto it = begin; it != end; ++it) {
    std::string_view value = ToStd(it->value());
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
      value.remove_prefix(1);
    if (value.empty()) continue;
    if (!out.empty()) out.append(", ");
    out.append(value);
  }
  if (!out.empty()) out.append(", ");
  out.append(client_ip);
  return out.size() <= kMaxHeaderValueSize;
}

std::string_view ClientRequestId(const HttpFields& fields) {
  auto it = fields.find(ToBeast(kRequestId));
  if (it == fields.end()) return {};
  const std::string_view id = ToStd(it->value());
  return IsAcceptableRequestId(id) ? id : std::string_view{};
}

bool RewriteRequestHeaders(HttpFields& fields, std::string_view client_ip, RequestIdGenerator& ids,
                           std::string& request_id, std::string& scratch, bool tls) {
  StripHopByHop(fields);
  fields.erase(http::field::expect);

  if (const std::string_view client_id = ClientRequestId(fields); !client_id.empty()) {
    request_id.assign(client_id);
  } else {
    ids.Next(request_id);
  }

  if (!ForwardedForChain(fields, client_ip, scratch)) return false;
  fields.set(ToBeast(kForwardedFor), ToBeast(scratch));
  fields.set(ToBeast(kForwardedProto), tls ? "https" : "http");
  if (auto host = fields.find(http::field::host); host != fields.end()) {
    fields.set(ToBeast(kForwardedHost), host->value());  // a different field: stays valid
  } else {
    fields.erase(ToBeast(kForwardedHost));
  }
  fields.set(ToBeast(kRequestId), ToBeast(request_id));
  return true;
}

void RewriteResponseHeaders(HttpFields& fields, std::string_view request_id) {
  StripHopByHop(fields);
  fields.set(ToBeast(kRequestId), ToBeast(request_id));
}

void FrameUpstreamRequest(HttpRequestHeader& request, std::string_view target,
                          std::optional<uint64_t> content_length, bool chunked) {
  request.version(11);
  request.target(ToBeast(target));
  if (chunked) {
    request.erase(http::field::content_length);
    request.set(http::field::transfer_encoding, "chunked");
    return;
  }
  request.erase(http::field::transfer_encoding);
  request.erase(http::field::trailer);  // no trailer section follows a body that is not chunked
  const http::verb method = request.method();
  const bool carries_body =
      method == http::verb::post || method == http::verb::put || method == http::verb::patch;
  const uint64_t length = content_length.value_or(0);
  if (length > 0 || carries_body) {
    SetNumber(request, http::field::content_length, length);
  } else {
    request.erase(http::field::content_length);
  }
}

bool FrameClientResponse(HttpResponseHeader& response, bool head_request, unsigned client_version,
                         bool keep_alive, std::optional<uint64_t> content_length) {
  response.version(client_version);
  const unsigned status = response.result_int();
  const bool bodiless_status = (status >= 100 && status < 200) || status == 204 || status == 304;
  bool chunked = false;
  if (!head_request && !bodiless_status) {
    response.erase(http::field::transfer_encoding);
    if (content_length) {
      SetNumber(response, http::field::content_length, *content_length);
    } else {
      response.erase(http::field::content_length);
      if (client_version >= 11) {
        response.set(http::field::transfer_encoding, "chunked");
        chunked = true;
      } else {
        keep_alive = false;  // the end of the body is the end of the connection
      }
    }
  }
  // Trailers are forwarded only after a chunked body: announce them only then.
  if (!chunked) response.erase(http::field::trailer);
  // HTTP/1.0 without keep-alive closes by default: no Connection header needed.
  if (keep_alive && client_version < 11) {
    response.set(http::field::connection, "keep-alive");
  } else if (!keep_alive && client_version >= 11) {
    response.set(http::field::connection, "close");
  } else {
    response.erase(http::field::connection);
  }
  return keep_alive;
}

std::string_view RequestedUpgrade(const HttpFields& fields, unsigned version) {
  if (version < 11) return {};
  auto upgrade = fields.find(http::field::upgrade);
  if (upgrade == fields.end() || upgrade->value().empty()) return {};
  for (auto it = fields.find(http::field::connection);
       it != fields.end() && it->name() == http::field::connection; ++it) {
    for (const auto token : http::token_list(it->value())) {
      if (EqualsIgnoreCase(ToStd(token), "upgrade")) return ToStd(upgrade->value());
    }
  }
  return {};
}

}  // namespace gw
