// Fuzzes ParseSniExtension (gateway/tls/client_hello.h), which reads the server_name extension of
// every TLS ClientHello before OpenSSL answers it.
//
// Input: byte 0 picks the mode (modulo 2).
//   0  extension: bytes 1.. are the extension body, parsed as they are.
//   1  host name: bytes 1.. are a host name, wrapped in a well-formed extension of one host_name
//                 entry (so the name rules are reached on every run).
//
// Properties (a broken one aborts through FUZZ_CHECK, see request_checks.h):
// - parsing is deterministic;
// - an accepted name is a lower-case DNS name: 1 to 253 bytes of [a-z0-9.-] in labels of 1 to 63
//   bytes that neither start nor end with '-', the last not all digits;
// - an accepted extension is exactly one host_name entry whose bytes are the name up to case:
//   list length, type 0, name length, name, nothing else;
// - a wrapped name is accepted exactly when the rules above (checked here on their own) hold for
//   it lower-cased, and then comes back lower-cased.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "fuzz/request_checks.h"
#include "gateway/tls/client_hello.h"

namespace {

std::string Uint16(size_t value) {
  return {static_cast<char>((value >> 8) & 0xff), static_cast<char>(value & 0xff)};
}

std::string Wrap(std::string_view name) {
  std::string entry = std::string(1, '\0') + Uint16(name.size()) + std::string(name);
  return Uint16(entry.size()) + entry;
}

char Lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

// The name rules, written apart from the parser's.
bool IsLowerDnsName(std::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  std::string_view last;
  while (true) {
    const size_t dot = name.find('.');
    const std::string_view label = name.substr(0, dot);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
      return false;
    }
    if (!std::all_of(label.begin(), label.end(), [](char c) {
          return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
        })) {
      return false;
    }
    last = label;
    if (dot == std::string_view::npos) break;
    name.remove_prefix(dot + 1);
  }
  return !std::all_of(last.begin(), last.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::optional<std::string> Parse(std::string_view extension) {
  const std::optional<std::string> name = gw::ParseSniExtension(extension);
  FUZZ_CHECK(gw::ParseSniExtension(extension) == name);
  if (name) {
    FUZZ_CHECK(IsLowerDnsName(*name));
    // The input was exactly one host_name entry carrying this name, in any case.
    FUZZ_CHECK(extension.size() == name->size() + 5);
    FUZZ_CHECK(extension.substr(0, 5) == Wrap(*name).substr(0, 5));
    std::string lowered(extension.substr(5));
    std::transform(lowered.begin(), lowered.end(), lowered.begin(), Lower);
    FUZZ_CHECK(lowered == *name);
  }
  return name;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] % 2 == 0) {
    Parse(input);
    return 0;
  }
  std::string lowered(input);
  std::transform(lowered.begin(), lowered.end(), lowered.begin(), Lower);
  const std::optional<std::string> name = Parse(Wrap(input));
  FUZZ_CHECK(name.has_value() == IsLowerDnsName(lowered));
  if (name) FUZZ_CHECK(*name == lowered);
  return 0;
}
