#include "gateway/tls/client_hello.h"

#include <cstddef>
#include <cstdint>

namespace gw {
namespace {

constexpr uint8_t kHostNameType = 0;  // RFC 6066 §3 NameType host_name
constexpr size_t kMaxDnsName = 253;   // RFC 1035 §2.3.4, written without the trailing dot
constexpr size_t kMaxLabel = 63;

bool IsLetterOrDigit(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// RFC 1123 §2.1 host name; the last label not all digits (RFC 3696 §2), which also keeps
// IPv4 literals out (RFC 6066: "Literal IPv4 and IPv6 addresses are not permitted").
bool IsDnsName(std::string_view name) {
  if (name.empty() || name.size() > kMaxDnsName) return false;
  bool all_digits = true;
  size_t start = 0;
  while (true) {
    const size_t dot = name.find('.', start);
    const std::string_view label =
        name.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (label.empty() || label.size() > kMaxLabel) return false;
    if (label.front() == '-' || label.back() == '-') return false;
    all_digits = true;
    for (const char c : label) {
      if (!IsLetterOrDigit(c) && c != '-') return false;
      if (c < '0' || c > '9') all_digits = false;
    }
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return !all_digits;
}

size_t ReadUint16(std::string_view bytes, size_t at) {
  return static_cast<size_t>(static_cast<uint8_t>(bytes[at])) << 8 |
         static_cast<uint8_t>(bytes[at + 1]);
}

}  // namespace

std::optional<std::string> ParseSniExtension(std::string_view extension) {
  // opaque ServerNameList<1..2^16-1> { NameType name_type; opaque HostName<1..2^16-1>; }
  if (extension.size() < 2 || ReadUint16(extension, 0) != extension.size() - 2) return {};
  const std::string_view list = extension.substr(2);
  if (list.size() < 3 || static_cast<uint8_t>(list[0]) != kHostNameType) return {};
  if (ReadUint16(list, 1) != list.size() - 3) return {};  // one entry, nothing after it
  const std::string_view name = list.substr(3);
  if (!IsDnsName(name)) return {};
  std::string lower(name);
  for (char& c : lower) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return lower;
}

}  // namespace gw
