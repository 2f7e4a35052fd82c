#include "gateway/policy/cors.h"

#include <algorithm>

#include "common/policy_validation.h"
#include "common/validation.h"

namespace gw {
namespace {

constexpr std::string_view kAllowOrigin = "Access-Control-Allow-Origin";
constexpr std::string_view kAllowCredentials = "Access-Control-Allow-Credentials";
constexpr std::string_view kAllowMethods = "Access-Control-Allow-Methods";
constexpr std::string_view kAllowHeaders = "Access-Control-Allow-Headers";
constexpr std::string_view kMaxAge = "Access-Control-Max-Age";
constexpr std::string_view kExposeHeaders = "Access-Control-Expose-Headers";
constexpr std::string_view kVary = "Vary";
constexpr std::string_view kVaryActual = "Origin";
constexpr std::string_view kVaryPreflight =
    "Origin, Access-Control-Request-Method, Access-Control-Request-Headers";

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool IEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                            [](char x, char y) { return Lower(x) == Lower(y); });
}

std::string_view TrimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) {
    if (!out.empty()) out += ", ";
    out += item;
  }
  return out;
}

bool Contains(const std::vector<std::string>& items, std::string_view item) {
  return std::find(items.begin(), items.end(), item) != items.end();
}

}  // namespace

std::shared_ptr<const CorsPolicy> CorsPolicy::Build(const CorsConfig& config, std::string* error) {
  auto fail = [error](std::string reason) -> std::shared_ptr<const CorsPolicy> {
    if (error != nullptr) *error = std::move(reason);
    return nullptr;
  };
  std::shared_ptr<CorsPolicy> policy(new CorsPolicy());
  if (config.origins.empty()) return fail("cors needs at least one origin");
  for (const std::string& origin : config.origins) {
    if (origin == "*") {
      policy->any_origin_ = true;
      continue;
    }
    std::string canonical = CanonicalOrigin(origin);
    if (canonical.empty()) return fail("cors origin \"" + origin + "\" is not an origin");
    if (!Contains(policy->origins_, canonical)) policy->origins_.push_back(std::move(canonical));
  }
  for (const std::string& method : config.methods) {
    if (!IsHttpToken(method)) return fail("cors method \"" + method + "\" is not a method");
    if (method == "*") policy->any_method_ = true;
    if (!Contains(policy->methods_, method)) policy->methods_.push_back(method);
  }
  if (config.methods.empty()) policy->methods_ = {"GET", "HEAD", "POST"};
  for (const std::string& header : config.headers) {
    if (!IsHttpToken(header)) return fail("cors header \"" + header + "\" is not a header name");
    if (header == "*") policy->any_header_ = true;
    std::string lower = AsciiLower(header);
    if (!Contains(policy->headers_, lower)) policy->headers_.push_back(std::move(lower));
  }
  for (const std::string& header : config.expose_headers) {
    if (!IsHttpToken(header)) return fail("cors header \"" + header + "\" is not a header name");
  }
  if (config.max_age_seconds > kMaxCorsMaxAgeSeconds) {
    return fail("cors max age must be at most " + std::to_string(kMaxCorsMaxAgeSeconds) +
                " seconds");
  }
  policy->allow_credentials_ = config.allow_credentials;
  if (policy->any_origin_ && !policy->allow_credentials_) policy->wildcard_origin_ = "*";
  policy->methods_value_ = Join(policy->methods_);
  policy->expose_value_ = Join(config.expose_headers);
  if (config.max_age_seconds != 0) policy->max_age_value_ = std::to_string(config.max_age_seconds);
  return policy;
}

bool CorsPolicy::AllowsOrigin(std::string_view origin) const {
  if (origin.empty()) return false;
  if (any_origin_) return !(allow_credentials_ && origin == "null");
  return std::any_of(origins_.begin(), origins_.end(),
                     [origin](const std::string& allowed) { return IEquals(origin, allowed); });
}

bool CorsPolicy::AllowsMethod(std::string_view method) const {
  if (method.empty()) return false;
  return any_method_ ? IsHttpToken(method) : Contains(methods_, method);
}

bool CorsPolicy::AllowsHeader(std::string_view name) const {
  if (!IsHttpToken(name)) return false;
  if (any_header_) return true;
  return std::any_of(headers_.begin(), headers_.end(),
                     [name](const std::string& allowed) { return IEquals(name, allowed); });
}

std::string_view CorsHeaders::Find(std::string_view name) const {
  for (const CorsHeader& field : *this) {
    if (field.name == name) return field.value;
  }
  return {};
}

void CorsHeaders::Add(std::string_view name, std::string_view value, bool append) {
  if (count_ < fields_.size()) fields_[count_++] = CorsHeader{name, value, append};
}

bool IsCorsPreflight(std::string_view method, std::string_view origin,
                     std::string_view access_control_request_method) {
  return method == "OPTIONS" && !origin.empty() && !access_control_request_method.empty();
}

CorsPreflightAnswer AnswerCorsPreflight(const CorsPolicy& policy, std::string_view origin,
                                        std::string_view request_method,
                                        std::string_view request_headers) {
  CorsPreflightAnswer answer;
  answer.headers.Add(kVary, kVaryPreflight, /*append=*/true);
  if (!policy.AllowsOrigin(origin)) {
    answer.refused = CorsRefusal::kOrigin;
    return answer;
  }
  request_method = TrimOws(request_method);
  if (!policy.AllowsMethod(request_method)) {
    answer.refused = CorsRefusal::kMethod;
    return answer;
  }
  request_headers = TrimOws(request_headers);
  bool any_requested = false;
  for (std::string_view rest = request_headers; !rest.empty();) {
    const size_t comma = rest.find(',');
    const std::string_view name = TrimOws(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    if (name.empty()) continue;  // "a, , b": empty list elements do not count (RFC 9110 5.6.1)
    if (!policy.AllowsHeader(name)) {
      answer.refused = CorsRefusal::kHeader;
      return answer;
    }
    any_requested = true;
  }

  const std::string_view wildcard = policy.wildcard_origin();
  answer.headers.Add(kAllowOrigin, wildcard.empty() ? origin : wildcard);
  if (policy.allow_credentials()) answer.headers.Add(kAllowCredentials, "true");
  // Under "*" the requested method is named: with credentials a browser reads "*" literally.
  answer.headers.Add(kAllowMethods, policy.any_method() ? request_method : policy.methods_value());
  if (any_requested) answer.headers.Add(kAllowHeaders, request_headers);
  if (!policy.max_age_value().empty()) answer.headers.Add(kMaxAge, policy.max_age_value());
  return answer;
}

CorsHeaders CorsResponseHeaders(const CorsPolicy& policy, std::string_view origin) {
  CorsHeaders headers;
  headers.Add(kVary, kVaryActual, /*append=*/true);
  if (!policy.AllowsOrigin(origin)) return headers;
  const std::string_view wildcard = policy.wildcard_origin();
  headers.Add(kAllowOrigin, wildcard.empty() ? origin : wildcard);
  if (policy.allow_credentials()) headers.Add(kAllowCredentials, "true");
  if (!policy.expose_value().empty()) headers.Add(kExposeHeaders, policy.expose_value());
  return headers;
}

const char* CorsRefusalName(CorsRefusal refusal) {
  switch (refusal) {
    case CorsRefusal::kOrigin:
      return "origin";
    case CorsRefusal::kMethod:
      return "method";
    case CorsRefusal::kHeader:
      return "header";
    case CorsRefusal::kNone:
      break;
  }
  return "";
}

}  // namespace gw
