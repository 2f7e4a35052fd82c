#include "common/validation.h"

#include <arpa/inet.h>

#include <algorithm>
#include <set>
#include <utility>

#include "common/api_key.h"
#include "common/byte_size.h"
#include "common/certificate.h"
#include "common/path.h"
#include "common/policy_validation.h"
#include "common/route_identity.h"

namespace gw {
namespace {

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool IsAlnum(char c) { return IsLowerAlnum(c) || (c >= 'A' && c <= 'Z'); }

bool IsIPv4(std::string_view s) {
  in_addr addr;
  return inet_pton(AF_INET, std::string(s).c_str(), &addr) == 1;
}
bool IsIPv6(std::string_view s) {
  in6_addr addr;
  return inet_pton(AF_INET6, std::string(s).c_str(), &addr) == 1;
}

bool IsDnsName(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  if (s.back() == '.') s.remove_suffix(1);  // fully qualified
  size_t start = 0;
  while (start <= s.size()) {
    const size_t dot = std::min(s.find('.', start), s.size());
    const std::string_view label = s.substr(start, dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-')
      return false;
    for (char c : label)
      if (!IsAlnum(c) && c != '-') return false;
    start = dot + 1;
  }
  // An all-numeric last label would be mistaken for an IPv4 address.
  const std::string_view last =
      s.substr(s.rfind('.') == std::string_view::npos ? 0 : s.rfind('.') + 1);
  for (char c : last)
    if (!(c >= '0' && c <= '9')) return true;
  return false;
}

}  // namespace

std::string Quote(std::string_view value) {
  std::string out = "'";
  for (const char c : value.substr(0, kMaxQuotedSize)) {
    const auto byte = static_cast<unsigned char>(c);
    out += byte < 0x20 || byte == 0x7f ? '?' : c;
  }
  out += value.size() > kMaxQuotedSize ? "...'" : "'";
  return out;
}

std::string AsciiLower(std::string_view text) {
  std::string out(text);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

std::string AsciiUpper(std::string_view text) {
  std::string out(text);
  for (char& c : out)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  return out;
}

std::string FormatCount(uint64_t count) {
  const std::string digits = std::to_string(count);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string JoinForMessage(const std::vector<std::string>& items, std::string_view separator,
                           size_t max_items) {
  std::string out;
  const size_t shown = std::min(items.size(), std::max<size_t>(max_items, 1));
  for (size_t i = 0; i < shown; ++i) {
    if (i > 0) out += separator;
    if (items[i].size() > kMaxItemSize) {
      out.append(items[i], 0, kMaxItemSize - 3);
      out += "...";
    } else {
      out += items[i];
    }
  }
  if (items.size() > shown) out += " ... and " + FormatCount(items.size() - shown) + " more";
  return out;
}

std::string ValidateHost(std::string_view host) {
  if (host.empty()) return "host is empty";
  if (IsIPv4(host) || IsIPv6(host) || IsDnsName(host)) return "";
  return "host " + Quote(host) + " is neither a DNS name nor an IP address";
}

std::optional<HostPort> ParseHostPort(std::string_view text, std::string* error,
                                      std::optional<uint16_t> default_port) {
  auto fail = [&](std::string message) -> std::optional<HostPort> {
    if (error) *error = std::move(message);
    return std::nullopt;
  };
  const std::string expected = default_port ? "HOST[:PORT]" : "HOST:PORT";
  HostPort out;
  std::string_view port_text;
  bool has_port = false;
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos) return fail(Quote(text) + " has '[' without ']'");
    out.host = std::string(text.substr(1, close - 1));
    if (!IsIPv6(out.host)) return fail(Quote(out.host) + " is not an IPv6 address");
    std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return fail(Quote(text) + " is not " + expected);
      port_text = rest.substr(1);
      has_port = true;
    }
  } else {
    const size_t colon = text.rfind(':');
    if (colon != std::string_view::npos && text.find(':') != colon)
      return fail(Quote(text) + " is not " + expected + " (write IPv6 addresses as [ADDR]:PORT)");
    if (colon == std::string_view::npos) {
      out.host = std::string(text);
    } else {
      out.host = std::string(text.substr(0, colon));
      port_text = text.substr(colon + 1);
      has_port = true;
    }
    if (out.host.empty()) return fail(Quote(text) + " is not " + expected + ": the host is empty");
    if (std::string e = ValidateHost(out.host); !e.empty()) return fail(e);
  }
  if (!has_port) {
    if (!default_port) return fail(Quote(text) + " is not " + expected + ": the port is missing");
    out.port = *default_port;
    return out;
  }
  if (port_text.empty() || port_text.size() > 5)
    return fail("port " + Quote(port_text) + " in " + Quote(text) + " is not a number in 1-65535");
  uint32_t port = 0;
  for (char c : port_text) {
    if (c < '0' || c > '9')
      return fail("port " + Quote(port_text) + " in " + Quote(text) +
                  " is not a number in 1-65535");
    port = port * 10 + static_cast<uint32_t>(c - '0');
  }
  if (port < 1 || port > 65535)
    return fail("port " + std::to_string(port) + " in " + Quote(text) + " is outside 1-65535");
  out.port = static_cast<uint16_t>(port);
  return out;
}

std::string FormatHostPort(std::string_view host, uint32_t port) {
  const bool v6 = host.find(':') != std::string_view::npos;
  std::string out = v6 ? "[" + std::string(host) + "]" : std::string(host);
  return out + ":" + std::to_string(port);
}

std::optional<std::vector<std::string>> ParseAddressList(std::string_view text,
                                                         std::string* error) {
  const std::vector<std::string> items = SplitList(text);
  std::vector<std::string> out;
  for (const std::string& item : items) {
    std::string why;
    const auto address = ParseHostPort(item, &why);
    if (!address) {
      if (error)
        *error = items.size() == 1
                     ? why
                     : "address " + std::to_string(out.size() + 1) + " of the list: " + why;
      return std::nullopt;
    }
    std::string formatted = FormatHostPort(address->host, address->port);
    if (std::find(out.begin(), out.end(), formatted) != out.end()) {
      if (error) *error = formatted + " is listed twice";
      return std::nullopt;
    }
    out.push_back(std::move(formatted));
  }
  return out;
}

std::vector<std::string> SplitList(std::string_view text) {
  std::vector<std::string> items;
  while (true) {
    const size_t comma = std::min(text.find(','), text.size());
    items.emplace_back(text.substr(0, comma));
    if (comma == text.size()) return items;
    text.remove_prefix(comma + 1);
  }
}

std::optional<HostPort> ParseListenAddress(std::string_view text, std::string* error) {
  if (text.size() >= 2 && text.substr(text.size() - 2) == ":0") {
    // Validate everything but the port with a stand-in port, then pick-one it.
    std::string with_port(text.substr(0, text.size() - 1));
    with_port += '1';
    auto parsed = ParseHostPort(with_port, error);
    if (parsed) parsed->port = 0;
    return parsed;
  }
  return ParseHostPort(text, error);
}

std::string ValidateServiceName(std::string_view name) {
  if (name.empty()) return "service name is empty";
  // RFC 1035 labels, as Kubernetes Service names are: a name that starts with a letter can never
  // be mistaken for an IP address or a port, so it is also a valid DNS target.
  const std::string why = "service name " + Quote(name) +
                          " must be a DNS label: 1-63 lower-case letters, digits or '-', "
                          "starting with a letter and ending with a letter or digit";
  if (name.size() > 63 || !(name.front() >= 'a' && name.front() <= 'z') || name.back() == '-')
    return why;
  for (char c : name)
    if (!IsLowerAlnum(c) && c != '-') return why;
  return "";
}

std::string ValidateRoutePath(std::string_view path) {
  if (path.empty()) return "route path is empty";
  if (path.front() != '/') return "route path " + Quote(path) + " must start with '/'";
  if (path.size() > kMaxRoutePathLength)
    return "route path is longer than " + std::to_string(kMaxRoutePathLength) + " characters";
  if (path.find_first_of("?#") != std::string_view::npos)
    return "route path " + Quote(path) + " must not hold a query ('?') or fragment ('#')";
  std::string error;
  auto normalized = NormalizePath(path, &error);
  if (!normalized) return "route path " + Quote(path) + ": " + error;
  if (path.size() > 1 && path.back() == '/') {
    std::string suggestion = *normalized;
    while (suggestion.size() > 1 && suggestion.back() == '/') suggestion.pop_back();
    return "route path " + Quote(path) + " must not end with '/' (use " + Quote(suggestion) + ")";
  }
  if (*normalized != path)
    return "route path " + Quote(path) + " is not in normal form (use " + Quote(*normalized) + ")";
  return "";
}

std::string ValidateTarget(std::string_view target) {
  if (target.empty()) return "route target is empty";
  std::string error;
  if (!ParseHostPort(target, &error, kDefaultTargetPort))
    return "target " + Quote(target) + " is neither a service name nor HOST[:PORT]: " + error;
  return "";
}

std::string ValidateMaxBodySize(uint64_t bytes) {
  if (bytes <= kMaxBodySizeLimit) return "";
  std::string size = std::to_string(bytes) + " bytes";
  if (const std::string short_form = FormatByteSize(bytes); short_form != std::to_string(bytes))
    size += " (" + short_form + ")";
  return "max body size " + size + " is larger than a route may allow, " +
         FormatByteSize(kMaxBodySizeLimit) + " (0 means the gateway's --max-body-size)";
}

std::string ValidateService(const gateway::v1::Service& service) {
  if (std::string e = ValidateServiceName(service.name()); !e.empty()) return e;
  if (service.endpoints().empty())
    return "service " + Quote(service.name()) + " needs at least one endpoint";
  std::set<std::pair<std::string, uint32_t>> seen;
  for (const auto& endpoint : service.endpoints()) {
    if (std::string e = ValidateHost(endpoint.host()); !e.empty())
      return "service " + Quote(service.name()) + ": " + e;
    if (endpoint.port() < 1 || endpoint.port() > 65535)
      return "service " + Quote(service.name()) + ": port " + std::to_string(endpoint.port()) +
             " is outside 1-65535";
    if (!seen.emplace(endpoint.host(), endpoint.port()).second)
      return "service " + Quote(service.name()) + " lists endpoint " +
             FormatHostPort(endpoint.host(), endpoint.port()) + " twice";
  }
  return ValidateServicePolicies(service);
}

std::string ValidateRoute(const gateway::v1::Route& route) {
  if (std::string e = ValidateRoutePath(route.path()); !e.empty()) return e;
  if (route.match() != gateway::v1::MATCH_PREFIX && route.match() != gateway::v1::MATCH_EXACT)
    return "route " + Quote(route.path()) + " has no match kind (prefix or exact)";
  if (std::string e = ValidateRouteConditions(route); !e.empty()) return e;
  return ValidateRoutePolicies(route);
}

std::string DescribeRouteMatch(const gateway::v1::Route& route) {
  // A key that leaves the match kind to the control plane names none.
  std::string conditions;
  if (route.match() != gateway::v1::MATCH_UNSPECIFIED) conditions = MatchName(route.match());
  const auto add = [&conditions](const std::string& condition) {
    conditions += (conditions.empty() ? "" : ", ") + condition;
  };
  if (!route.host().empty()) add("host " + route.host());
  if (!route.methods().empty()) {
    std::string methods = "method";
    char sep = ' ';
    for (const auto& method : route.methods()) {
      methods += sep + method;
      sep = ',';
    }
    add(methods);
  }
  for (const auto& header : route.headers()) add("header " + DescribeHeaderMatch(header));
  return conditions.empty() ? route.path() : route.path() + " (" + conditions + ")";
}

std::string DescribeHeaderMatch(const gateway::v1::HeaderMatch& header) {
  // A value that could read as more conditions ("1, header y=2") or as none is quoted.
  const std::string& value = header.value();
  const bool plain = !value.empty() && value.find_first_of(" ,'\"") == std::string::npos;
  return header.name() + "=" + (plain ? value : Quote(value));
}

std::string ValidateCertificate(const gateway::v1::Certificate& certificate) {
  if (std::string e = ValidateServiceName(certificate.name()); !e.empty())
    return "certificate" + e.substr(std::string_view("service").size());
  const std::string name = "certificate " + Quote(certificate.name());
  if (certificate.cert_pem().empty()) return name + " has no certificate (cert_pem)";
  if (certificate.key_pem().empty()) return name + " has no private key (key_pem)";
  for (const std::string* pem : {&certificate.cert_pem(), &certificate.key_pem()})
    if (pem->size() > kMaxCertificatePemBytes)
      return name + ": " + (pem == &certificate.cert_pem() ? "the certificate" : "the key") +
             " is larger than 64 KiB";
  const CertificateInfo info = ParseCertificate(certificate.cert_pem(), certificate.key_pem());
  if (!info.error.empty()) return name + ": " + info.error;
  if (info.dns_names.empty())
    return name +
           ": the certificate names no DNS name (no DNS subject alternative name, no "
           "common name)";
  return "";
}

std::string ValidateConfig(const gateway::v1::Config& config) {
  std::set<std::string, std::less<>> services;
  std::set<std::string, std::less<>> h2c_services;  // no aggregate part may target one
  for (const auto& service : config.services()) {
    if (std::string e = ValidateService(service); !e.empty()) return e;
    if (!services.insert(service.name()).second)
      return "service " + Quote(service.name()) + " is defined twice";
    if (service.protocol() == gateway::v1::UPSTREAM_H2C) h2c_services.insert(service.name());
  }
  std::set<RouteIdentity> routes;  // compared field by field, never as text
  for (const auto& route : config.routes()) {
    if (std::string e = ValidateRoute(route); !e.empty()) return e;
    if (std::string e = ValidateSplitTargets(route, services); !e.empty()) return e;
    if (std::string e = ValidateAggregateTargets(route, h2c_services); !e.empty()) return e;
    if (!routes.insert(IdentityOf(route)).second)
      return "route " + DescribeRouteMatch(route) + " is defined twice";
  }
  if (config.certificates_size() > static_cast<int>(kMaxCertificates))
    return "the config has " + FormatCount(static_cast<uint64_t>(config.certificates_size())) +
           " certificates, more than " + FormatCount(kMaxCertificates);
  std::set<std::string> certificates;
  std::string default_certificate;
  for (const auto& certificate : config.certificates()) {
    if (std::string e = ValidateCertificate(certificate); !e.empty()) return e;
    if (!certificates.insert(certificate.name()).second)
      return "certificate " + Quote(certificate.name()) + " is defined twice";
    if (!certificate.is_default()) continue;
    if (!default_certificate.empty())
      return "certificates " + Quote(default_certificate) + " and " + Quote(certificate.name()) +
             " are both the default; one default at most";
    default_certificate = certificate.name();
  }
  std::set<std::string> consumers;
  std::set<std::string> api_keys;
  for (const auto& consumer : config.consumers()) {
    if (std::string e = ValidateConsumer(consumer); !e.empty()) return e;
    if (!consumers.insert(consumer.name()).second)
      return "consumer " + Quote(consumer.name()) + " is defined twice";
    for (const auto& digest : consumer.api_key_sha256())
      if (!api_keys.insert(digest).second)
        return "consumer " + Quote(consumer.name()) + " has an api key another consumer has";
  }
  return "";
}

std::string_view MatchName(gateway::v1::MatchKind match) {
  switch (match) {
    case gateway::v1::MATCH_PREFIX:
      return "prefix";
    case gateway::v1::MATCH_EXACT:
      return "exact";
    default:
      return "unspecified";
  }
}

}  // namespace gw
