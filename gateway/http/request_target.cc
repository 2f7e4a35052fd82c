#include "gateway/http/request_target.h"

#include <boost/asio/ip/address_v6.hpp>
#include <cstddef>

namespace gw {
namespace {

bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsHexDigit(char c) { return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

// RFC 3986 section 2.3 and 2.2.
bool IsUnreserved(char c) {
  return IsAlpha(c) || IsDigit(c) || c == '-' || c == '.' || c == '_' || c == '~';
}
bool IsSubDelim(char c) {
  return std::string_view("!$&'()*+,;=").find(c) != std::string_view::npos;
}

// reg-name = *( unreserved / pct-encoded / sub-delims ), here non-empty.
bool IsRegName(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    if (IsUnreserved(c) || IsSubDelim(c)) continue;
    if (c == '%' && i + 2 < name.size() && IsHexDigit(name[i + 1]) && IsHexDigit(name[i + 2])) {
      i += 2;
      continue;
    }
    return false;
  }
  return true;
}

// IPvFuture = "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" )
bool IsIpFuture(std::string_view text) {
  if (text.size() < 4 || (text[0] != 'v' && text[0] != 'V')) return false;
  size_t i = 1;
  while (i < text.size() && IsHexDigit(text[i])) ++i;
  if (i == 1 || i >= text.size() || text[i] != '.') return false;
  if (++i == text.size()) return false;
  for (; i < text.size(); ++i) {
    const char c = text[i];
    if (!IsUnreserved(c) && !IsSubDelim(c) && c != ':') return false;
  }
  return true;
}

// The inside of an IP-literal's brackets: an IPv6 address (no zone) or an IPvFuture.
bool IsIpLiteralBody(std::string_view text) {
  if (IsIpFuture(text)) return true;
  if (text.empty() || text.size() > 45) return false;
  for (const char c : text) {
    if (!IsHexDigit(c) && c != ':' && c != '.') return false;  // no zone ("%25eth0")
  }
  boost::system::error_code ec;
  boost::asio::ip::make_address_v6(std::string(text), ec);
  return !ec;
}

bool IsPort(std::string_view port) {
  if (port.size() > 5) return false;
  unsigned value = 0;
  for (const char c : port) {
    if (!IsDigit(c)) return false;
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  return value <= 65535;
}

bool StartsWithIgnoreCase(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    char c = text[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != prefix[i]) return false;
  }
  return true;
}

void SplitPathAndQuery(std::string_view path_and_query, RequestTarget& parts) {
  const size_t question = path_and_query.find('?');
  if (question == std::string_view::npos) {
    parts.path = path_and_query;
    return;
  }
  parts.path = path_and_query.substr(0, question);
  parts.query = path_and_query.substr(question + 1);
  parts.has_query = true;
}

}  // namespace

bool IsValidHost(std::string_view value) {
  std::string_view port;
  if (!value.empty() && value.front() == '[') {
    const size_t close = value.find(']');
    if (close == std::string_view::npos || !IsIpLiteralBody(value.substr(1, close - 1))) {
      return false;
    }
    const std::string_view rest = value.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return false;
      port = rest.substr(1);
    }
    return IsPort(port);
  }
  const size_t colon = value.find(':');
  if (colon != std::string_view::npos) port = value.substr(colon + 1);
  return IsRegName(value.substr(0, colon)) && IsPort(port);
}

std::string_view HostWithoutPort(std::string_view host) {
  if (!host.empty() && host.front() == '[') return host.substr(0, host.find(']') + 1);
  return host.substr(0, host.find(':'));
}

std::optional<RequestTarget> SplitRequestTarget(std::string_view target) {
  RequestTarget parts;
  if (!target.empty() && target.front() == '/') {
    SplitPathAndQuery(target, parts);
    return parts;
  }
  // absolute-form (RFC 9112 section 3.2.2): a server MUST accept it.
  size_t scheme_end = 0;
  if (StartsWithIgnoreCase(target, "http://")) {
    scheme_end = 7;
  } else if (StartsWithIgnoreCase(target, "https://")) {
    scheme_end = 8;
  } else {
    return std::nullopt;  // authority-form, asterisk-form, another scheme, garbage
  }
  const std::string_view rest = target.substr(scheme_end);
  const size_t authority_end = rest.find_first_of("/?");
  parts.authority = rest.substr(0, authority_end);
  if (!IsValidHost(parts.authority)) return std::nullopt;  // empty, userinfo, fragment...
  parts.absolute_form = true;
  if (authority_end != std::string_view::npos) SplitPathAndQuery(rest.substr(authority_end), parts);
  if (parts.path.empty()) parts.path = "/";  // RFC 9110 section 4.2.3: empty path means "/"
  return parts;
}

void BuildUpstreamTarget(std::string& out, std::string_view normalized_path,
                         const RequestTarget& original) {
  out.assign(normalized_path);
  if (original.has_query) {
    out.push_back('?');
    out.append(original.query);
  }
}

}  // namespace gw
