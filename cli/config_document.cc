#include "cli/config_document.h"

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <set>

#include "common/json.h"
#include "common/policy_text.h"
#include "common/validation.h"

namespace gw::cli {
namespace {

using gateway::v1::Certificate;
using gateway::v1::Consumer;
using gateway::v1::ConsumerSpec;
using gateway::v1::Route;
using gateway::v1::Service;
using YAML::Node;

// ---------------------------------------------------------------- scalars

// YAML 1.2 core schema: what a plain (unquoted) scalar means. A quoted scalar, and every JSON
// string, is a string.
bool IsCoreNull(std::string_view s) {
  return s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL";
}
bool IsCoreBool(std::string_view s) {
  return s == "true" || s == "True" || s == "TRUE" || s == "false" || s == "False" || s == "FALSE";
}
bool IsDigits(std::string_view s, std::string_view digits) {
  return !s.empty() && s.find_first_not_of(digits) == std::string_view::npos;
}
bool IsCoreNumber(std::string_view s) {
  if (s.starts_with("0o")) return IsDigits(s.substr(2), "01234567");
  if (s.starts_with("0x")) return IsDigits(s.substr(2), "0123456789abcdefABCDEF");
  std::string_view rest = s;
  if (!rest.empty() && (rest[0] == '-' || rest[0] == '+')) rest.remove_prefix(1);
  for (std::string_view special : {".inf", ".Inf", ".INF"})
    if (rest == special) return true;
  if (s == ".nan" || s == ".NaN" || s == ".NAN") return true;
  // [0-9]+(\.[0-9]*)? or \.[0-9]+, then an optional exponent.
  size_t i = 0;
  const size_t int_start = i;
  while (i < rest.size() && rest[i] >= '0' && rest[i] <= '9') ++i;
  const bool int_digits = i > int_start;
  bool frac_digits = false;
  if (i < rest.size() && rest[i] == '.') {
    ++i;
    const size_t frac_start = i;
    while (i < rest.size() && rest[i] >= '0' && rest[i] <= '9') ++i;
    frac_digits = i > frac_start;
  }
  if (!int_digits && !frac_digits) return false;
  if (i < rest.size() && (rest[i] == 'e' || rest[i] == 'E')) {
    ++i;
    if (i < rest.size() && (rest[i] == '-' || rest[i] == '+')) ++i;
    if (!IsDigits(rest.substr(i), "0123456789")) return false;
    return true;
  }
  return i == rest.size();
}

// A plain scalar: the node was neither quoted nor tagged.
bool IsPlain(const Node& node) { return node.Tag() == "?"; }

// What a scalar node holds, for "expected a string, got a number" messages; "" for a string.
std::string_view NonStringKind(const Node& node) {
  if (node.IsNull()) return "null";
  if (node.IsSequence()) return "a list";
  if (node.IsMap()) return "an object";
  if (!IsPlain(node)) return "";
  const std::string& s = node.Scalar();
  if (IsCoreNull(s)) return "null";
  if (IsCoreBool(s)) return "a boolean";
  if (IsCoreNumber(s)) return "a number";
  return "";
}

// A string that YAML would read back as something else (or not at all) when written plain.
bool NeedsQuotesInYaml(std::string_view s) {
  return IsCoreNull(s) || IsCoreBool(s) || IsCoreNumber(s);
}

std::string LineOf(const Node& node) {
  const YAML::Mark mark = node.Mark();
  if (mark.is_null() || mark.line < 0) return "";
  return " (line " + std::to_string(mark.line + 1) + ")";
}

std::string Join(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

// ---------------------------------------------------------------- reading

// Reads nodes into protobuf fields, stopping at the first error, which names its place.
class DocumentReader {
 public:
  using FieldVisitor =
      std::function<bool(std::string_view key, const Node& value, const std::string& path)>;

  const std::string& error() const { return error_; }

  bool Fail(const std::string& path, const Node& node, std::string_view message) {
    error_ = (path.empty() ? std::string() : path + ": ") + std::string(message) + LineOf(node);
    return false;
  }

  // A mapping whose keys are all in `fields`, each once; `visit` reads each value.
  bool Object(const Node& node, const std::string& path,
              std::initializer_list<std::string_view> fields, const FieldVisitor& visit,
              std::string_view unknown_hint = "") {
    if (!node.IsMap()) return Fail(path, node, "expected an object, got " + Describe(node));
    std::set<std::string, std::less<>> seen;
    for (auto it = node.begin(); it != node.end(); ++it) {
      // A copy: yaml-cpp's iterator hands out its pair through a temporary.
      const Node key_node = it->first;
      if (!key_node.IsScalar()) return Fail(path, key_node, "a key must be a name");
      const std::string& key = key_node.Scalar();
      const std::string where = Join(path, key);
      if (std::find(fields.begin(), fields.end(), key) == fields.end())
        return Fail(
            where, key_node,
            "unknown field" + (unknown_hint.empty() ? "" : " (" + std::string(unknown_hint) + ")"));
      if (!seen.insert(key).second) return Fail(where, key_node, "given twice");
      if (!visit(key, it->second, where)) return false;
    }
    return true;
  }

  // A list (null or absent: empty); `item` reads each element.
  bool List(const Node& node, const std::string& path,
            const std::function<bool(const Node& item, const std::string& path)>& item) {
    if (node.IsNull()) return true;
    if (!node.IsSequence()) return Fail(path, node, "expected a list, got " + Describe(node));
    for (size_t i = 0; i < node.size(); ++i)
      if (!item(node[i], path + "[" + std::to_string(i) + "]")) return false;
    return true;
  }

  bool String(const Node& node, const std::string& path, std::string* out) {
    if (!node.IsScalar() || !NonStringKind(node).empty())
      return Fail(path, node,
                  "expected a string, got " + Describe(node) +
                      (node.IsScalar() ? " (quote it to make it a string)" : ""));
    *out = node.Scalar();
    return true;
  }

  bool Strings(const Node& node, const std::string& path,
               google::protobuf::RepeatedPtrField<std::string>* out) {
    return List(node, path, [&](const Node& item, const std::string& at) {
      return String(item, at, out->Add());
    });
  }

  bool Whole(const Node& node, const std::string& path, uint64_t max, uint64_t* out) {
    const std::string& text = node.IsScalar() ? node.Scalar() : std::string();
    if (!node.IsScalar() || !IsPlain(node) || !IsDigits(text, "0123456789"))
      return Fail(path, node, "expected a whole number, got " + Describe(node));
    uint64_t value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || value > max)
      return Fail(path, node, Quote(text) + " is more than " + std::to_string(max));
    *out = value;
    return true;
  }

  template <typename Setter>
  bool Whole32(const Node& node, const std::string& path, Setter set) {
    uint64_t value = 0;
    if (!Whole(node, path, UINT32_MAX, &value)) return false;
    set(static_cast<uint32_t>(value));
    return true;
  }

  template <typename Setter>
  bool Whole64(const Node& node, const std::string& path, Setter set) {
    uint64_t value = 0;
    if (!Whole(node, path, UINT64_MAX, &value)) return false;
    set(value);
    return true;
  }

  bool Bool(const Node& node, const std::string& path, bool* out) {
    if (!node.IsScalar() || !IsPlain(node) || !IsCoreBool(node.Scalar()))
      return Fail(path, node, "expected true or false, got " + Describe(node));
    *out = node.Scalar()[0] == 't' || node.Scalar()[0] == 'T';
    return true;
  }

  // One of `names` (as -o json prints them).
  template <typename Enum>
  bool Name(const Node& node, const std::string& path,
            const std::vector<std::pair<std::string_view, Enum>>& names, Enum* out) {
    std::string text;
    if (!String(node, path, &text)) return false;
    std::vector<std::string> spellings;
    for (const auto& [name, value] : names) {
      if (name == text) {
        *out = value;
        return true;
      }
      spellings.emplace_back(name);
    }
    return Fail(
        path, node,
        Quote(text) + " is not one of " + JoinForMessage(spellings, ", ", spellings.size()));
  }

 private:
  static std::string Describe(const Node& node) {
    if (node.IsScalar()) {
      const std::string_view kind = NonStringKind(node);
      if (kind.empty()) return "the string " + Quote(node.Scalar());
      if (kind == "null") return "null";
      return std::string(kind) + " (" + node.Scalar() + ")";
    }
    return std::string(NonStringKind(node));
  }

  std::string error_;
};

// The names -o json prints for each enum (the same functions print them).
const std::vector<std::pair<std::string_view, gateway::v1::MatchKind>>& MatchNames() {
  static const std::vector<std::pair<std::string_view, gateway::v1::MatchKind>> names = {
      {MatchName(gateway::v1::MATCH_PREFIX), gateway::v1::MATCH_PREFIX},
      {MatchName(gateway::v1::MATCH_EXACT), gateway::v1::MATCH_EXACT}};
  return names;
}
const std::vector<std::pair<std::string_view, gateway::v1::LoadBalancing>>& LoadBalancingNames() {
  static const auto names = [] {
    std::vector<std::pair<std::string_view, gateway::v1::LoadBalancing>> out;
    for (int i = gateway::v1::LoadBalancing_MIN; i <= gateway::v1::LoadBalancing_MAX; ++i)
      if (gateway::v1::LoadBalancing_IsValid(i)) {
        const auto lb = static_cast<gateway::v1::LoadBalancing>(i);
        out.emplace_back(LoadBalancingName(lb), lb);
      }
    return out;
  }();
  return names;
}
const std::vector<std::pair<std::string_view, gateway::v1::UpstreamProtocol>>& ProtocolNames() {
  static const std::vector<std::pair<std::string_view, gateway::v1::UpstreamProtocol>> names = {
      {UpstreamProtocolName(gateway::v1::UPSTREAM_HTTP1), gateway::v1::UPSTREAM_HTTP1},
      {UpstreamProtocolName(gateway::v1::UPSTREAM_H2C), gateway::v1::UPSTREAM_H2C}};
  return names;
}
const std::vector<std::pair<std::string_view, gateway::v1::AuthKind>>& AuthNames() {
  static const auto names = [] {
    std::vector<std::pair<std::string_view, gateway::v1::AuthKind>> out;
    for (int i = gateway::v1::AuthKind_MIN; i <= gateway::v1::AuthKind_MAX; ++i)
      if (gateway::v1::AuthKind_IsValid(i)) {
        const auto auth = static_cast<gateway::v1::AuthKind>(i);
        out.emplace_back(AuthName(auth), auth);
      }
    return out;
  }();
  return names;
}
const std::vector<std::pair<std::string_view, gateway::v1::RateLimit::Scope>>& ScopeNames() {
  static const auto names = [] {
    std::vector<std::pair<std::string_view, gateway::v1::RateLimit::Scope>> out;
    for (int i = gateway::v1::RateLimit::Scope_MIN; i <= gateway::v1::RateLimit::Scope_MAX; ++i)
      if (gateway::v1::RateLimit::Scope_IsValid(i)) {
        const auto scope = static_cast<gateway::v1::RateLimit::Scope>(i);
        out.emplace_back(RateLimitScopeName(scope), scope);
      }
    return out;
  }();
  return names;
}

// [{name, value}] into HeaderMatch or HeaderValue.
template <typename Header>
bool ReadHeaders(DocumentReader& r, const Node& node, const std::string& path,
                 google::protobuf::RepeatedPtrField<Header>* out) {
  return r.List(node, path, [&](const Node& item, const std::string& at) {
    Header* header = out->Add();
    bool named = false;
    if (!r.Object(item, at, {"name", "value"},
                  [&](std::string_view key, const Node& value, const std::string& where) {
                    if (key == "name") {
                      named = true;
                      return r.String(value, where, header->mutable_name());
                    }
                    return r.String(value, where, header->mutable_value());
                  }))
      return false;
    return named || r.Fail(Join(at, "name"), item, "missing");
  });
}

bool IgnoredVersion(DocumentReader& r, const Node& value, const std::string& where) {
  uint64_t ignored = 0;  // `get -o json` prints it; the control plane sets it
  return r.Whole(value, where, UINT64_MAX, &ignored);
}

bool ReadService(DocumentReader& r, const Node& node, const std::string& path, Service* s) {
  bool named = false;
  const bool ok = r.Object(
      node, path,
      {"name", "endpoints", "lb", "hash_header", "health_check", "eject_after", "eject_for_ms",
       "max_connections", "max_pending", "connect_timeout_ms", "protocol", "version"},
      [&](std::string_view key, const Node& value, const std::string& where) {
        if (key == "name") {
          named = true;
          return r.String(value, where, s->mutable_name());
        }
        if (key == "endpoints")
          return r.List(value, where, [&](const Node& item, const std::string& at) {
            std::string text, error;
            if (!r.String(item, at, &text)) return false;
            const auto endpoint = ParseHostPort(text, &error);
            if (!endpoint) return r.Fail(at, item, error);
            auto* out = s->add_endpoints();
            out->set_host(endpoint->host);
            out->set_port(endpoint->port);
            return true;
          });
        if (key == "lb") {
          gateway::v1::LoadBalancing lb{};
          if (!r.Name(value, where, LoadBalancingNames(), &lb)) return false;
          s->set_lb(lb);
          return true;
        }
        if (key == "hash_header") return r.String(value, where, s->mutable_hash_header());
        if (key == "health_check") {
          auto* health = s->mutable_health_check();
          return r.Object(
              value, where, {"path", "interval_ms", "unhealthy_threshold", "healthy_threshold"},
              [&](std::string_view k, const Node& v, const std::string& w) {
                if (k == "path") return r.String(v, w, health->mutable_path());
                if (k == "interval_ms")
                  return r.Whole64(v, w, [&](uint64_t x) { health->set_interval_ms(x); });
                if (k == "unhealthy_threshold")
                  return r.Whole32(v, w, [&](uint32_t x) { health->set_unhealthy_threshold(x); });
                return r.Whole32(v, w, [&](uint32_t x) { health->set_healthy_threshold(x); });
              });
        }
        if (key == "eject_after")
          return r.Whole32(value, where, [&](uint32_t x) { s->set_eject_after(x); });
        if (key == "eject_for_ms")
          return r.Whole64(value, where, [&](uint64_t x) { s->set_eject_for_ms(x); });
        if (key == "max_connections")
          return r.Whole32(value, where, [&](uint32_t x) { s->set_max_connections(x); });
        if (key == "max_pending")
          return r.Whole32(value, where, [&](uint32_t x) { s->set_max_pending(x); });
        if (key == "connect_timeout_ms")
          return r.Whole64(value, where, [&](uint64_t x) { s->set_connect_timeout_ms(x); });
        if (key == "protocol") {
          gateway::v1::UpstreamProtocol protocol{};
          if (!r.Name(value, where, ProtocolNames(), &protocol)) return false;
          s->set_protocol(protocol);
          return true;
        }
        return IgnoredVersion(r, value, where);
      });
  if (!ok) return false;
  return named || r.Fail(Join(path, "name"), node, "missing");
}

bool ReadRoute(DocumentReader& r, const Node& node, const std::string& path, Route* route) {
  bool has_path = false;
  route->set_match(gateway::v1::MATCH_PREFIX);  // as `route add` without --exact
  const bool ok = r.Object(
      node, path,
      {"path",
       "match",
       "host",
       "methods",
       "headers",
       "target",
       "split",
       "aggregate",
       "aggregate_timeout_ms",
       "aggregate_partial",
       "max_body_size",
       "strip_prefix",
       "rewrite_prefix",
       "set_request_headers",
       "remove_request_headers",
       "set_response_headers",
       "remove_response_headers",
       "timeout_ms",
       "retries",
       "per_try_timeout_ms",
       "rate_limit",
       "auth",
       "cors",
       "https_redirect",
       "hsts_max_age_s",
       "version"},
      [&](std::string_view key, const Node& value, const std::string& where) {
        if (key == "path") {
          has_path = true;
          return r.String(value, where, route->mutable_path());
        }
        if (key == "match") {
          gateway::v1::MatchKind match{};
          if (!r.Name(value, where, MatchNames(), &match)) return false;
          route->set_match(match);
          return true;
        }
        if (key == "host") return r.String(value, where, route->mutable_host());
        if (key == "methods") return r.Strings(value, where, route->mutable_methods());
        if (key == "headers") return ReadHeaders(r, value, where, route->mutable_headers());
        if (key == "target") return r.String(value, where, route->mutable_target());
        if (key == "split")
          return r.List(value, where, [&](const Node& item, const std::string& at) {
            auto* target = route->add_split();
            return r.Object(item, at, {"target", "weight"},
                            [&](std::string_view k, const Node& v, const std::string& w) {
                              if (k == "target") return r.String(v, w, target->mutable_target());
                              return r.Whole32(v, w, [&](uint32_t x) { target->set_weight(x); });
                            });
          });
        if (key == "aggregate")
          return r.List(value, where, [&](const Node& item, const std::string& at) {
            auto* part = route->add_aggregate();
            bool keyed = false;
            bool targeted = false;
            if (!r.Object(item, at, {"key", "target", "path_prefix"},
                          [&](std::string_view k, const Node& v, const std::string& w) {
                            if (k == "key") {
                              keyed = true;
                              return r.String(v, w, part->mutable_key());
                            }
                            if (k == "target") {
                              targeted = true;
                              return r.String(v, w, part->mutable_target());
                            }
                            return r.String(v, w, part->mutable_path_prefix());
                          }))
              return false;
            if (!keyed) return r.Fail(Join(at, "key"), item, "missing");
            return targeted || r.Fail(Join(at, "target"), item, "missing");
          });
        if (key == "aggregate_timeout_ms")
          return r.Whole64(value, where, [&](uint64_t x) { route->set_aggregate_timeout_ms(x); });
        if (key == "aggregate_partial") {
          bool partial = false;
          if (!r.Bool(value, where, &partial)) return false;
          route->set_aggregate_partial(partial);
          return true;
        }
        if (key == "max_body_size")
          return r.Whole64(value, where, [&](uint64_t x) { route->set_max_body_size(x); });
        if (key == "strip_prefix") {
          bool strip = false;
          if (!r.Bool(value, where, &strip)) return false;
          route->set_strip_prefix(strip);
          return true;
        }
        if (key == "https_redirect") {
          bool redirect = false;
          if (!r.Bool(value, where, &redirect)) return false;
          route->set_https_redirect(redirect);
          return true;
        }
        if (key == "hsts_max_age_s")
          return r.Whole64(value, where, [&](uint64_t x) { route->set_hsts_max_age_s(x); });
        if (key == "rewrite_prefix") return r.String(value, where, route->mutable_rewrite_prefix());
        if (key == "set_request_headers")
          return ReadHeaders(r, value, where, route->mutable_set_request_headers());
        if (key == "remove_request_headers")
          return r.Strings(value, where, route->mutable_remove_request_headers());
        if (key == "set_response_headers")
          return ReadHeaders(r, value, where, route->mutable_set_response_headers());
        if (key == "remove_response_headers")
          return r.Strings(value, where, route->mutable_remove_response_headers());
        if (key == "timeout_ms")
          return r.Whole64(value, where, [&](uint64_t x) { route->set_timeout_ms(x); });
        if (key == "retries")
          return r.Whole32(value, where, [&](uint32_t x) { route->set_retries(x); });
        if (key == "per_try_timeout_ms")
          return r.Whole64(value, where, [&](uint64_t x) { route->set_per_try_timeout_ms(x); });
        if (key == "rate_limit") {
          auto* limit = route->mutable_rate_limit();
          return r.Object(value, where, {"requests", "period_seconds", "burst", "key", "scope"},
                          [&](std::string_view k, const Node& v, const std::string& w) {
                            if (k == "requests")
                              return r.Whole64(v, w, [&](uint64_t x) { limit->set_requests(x); });
                            if (k == "period_seconds")
                              return r.Whole32(v, w,
                                               [&](uint32_t x) { limit->set_period_seconds(x); });
                            if (k == "burst")
                              return r.Whole64(v, w, [&](uint64_t x) { limit->set_burst(x); });
                            if (k == "key") return r.String(v, w, limit->mutable_key());
                            gateway::v1::RateLimit::Scope scope{};
                            if (!r.Name(v, w, ScopeNames(), &scope)) return false;
                            limit->set_scope(scope);
                            return true;
                          });
        }
        if (key == "auth") {
          gateway::v1::AuthKind auth{};
          if (!r.Name(value, where, AuthNames(), &auth)) return false;
          route->set_auth(auth);
          return true;
        }
        if (key == "cors") {
          auto* cors = route->mutable_cors();
          return r.Object(value, where, {"origins", "methods", "headers", "max_age_seconds"},
                          [&](std::string_view k, const Node& v, const std::string& w) {
                            if (k == "origins") return r.Strings(v, w, cors->mutable_origins());
                            if (k == "methods") return r.Strings(v, w, cors->mutable_methods());
                            if (k == "headers") return r.Strings(v, w, cors->mutable_headers());
                            return r.Whole32(v, w,
                                             [&](uint32_t x) { cors->set_max_age_seconds(x); });
                          });
        }
        return IgnoredVersion(r, value, where);
      });
  if (!ok) return false;
  return has_path || r.Fail(Join(path, "path"), node, "missing");
}

bool ReadConsumer(DocumentReader& r, const Node& node, const std::string& path,
                  ConsumerSpec* spec) {
  Consumer* consumer = spec->mutable_consumer();
  bool named = false;
  const bool ok = r.Object(
      node, path, {"name", "api_keys", "api_key_sha256", "jwt", "version"},
      [&](std::string_view key, const Node& value, const std::string& where) {
        if (key == "name") {
          named = true;
          return r.String(value, where, consumer->mutable_name());
        }
        if (key == "api_keys") return r.Strings(value, where, spec->mutable_api_keys());
        if (key == "api_key_sha256")
          return r.Strings(value, where, consumer->mutable_api_key_sha256());
        if (key == "jwt") {
          auto* jwt = consumer->mutable_jwt();
          return r.Object(value, where, {"issuer", "secret", "secret_sha256", "public_key_pem"},
                          [&](std::string_view k, const Node& v, const std::string& w) {
                            if (k == "issuer") return r.String(v, w, jwt->mutable_issuer());
                            if (k == "secret") return r.String(v, w, jwt->mutable_secret());
                            if (k == "secret_sha256")
                              return r.String(v, w, jwt->mutable_secret_sha256());
                            return r.String(v, w, jwt->mutable_public_key_pem());
                          });
        }
        return IgnoredVersion(r, value, where);
      });
  if (!ok) return false;
  return named || r.Fail(Join(path, "name"), node, "missing");
}

bool ReadCertificate(DocumentReader& r, const Node& node, const std::string& path,
                     Certificate* certificate) {
  bool named = false;
  bool has_chain = false;
  const bool ok = r.Object(
      node, path,
      {"name", "cert_pem", "key_pem", "key_sha256", "default", "dns_names", "not_after", "version"},
      [&](std::string_view key, const Node& value, const std::string& where) {
        if (key == "name") {
          named = true;
          return r.String(value, where, certificate->mutable_name());
        }
        if (key == "cert_pem") {
          has_chain = true;
          return r.String(value, where, certificate->mutable_cert_pem());
        }
        if (key == "key_pem") return r.String(value, where, certificate->mutable_key_pem());
        if (key == "key_sha256") return r.String(value, where, certificate->mutable_key_sha256());
        if (key == "default") {
          bool is_default = false;
          if (!r.Bool(value, where, &is_default)) return false;
          certificate->set_is_default(is_default);
          return true;
        }
        // What `cert get -o json` shows of the chain; the control plane reads it from cert_pem.
        if (key == "dns_names") {
          google::protobuf::RepeatedPtrField<std::string> ignored;
          return r.Strings(value, where, &ignored);
        }
        if (key == "not_after") {
          std::string ignored;
          return r.String(value, where, &ignored);
        }
        return IgnoredVersion(r, value, where);
      });
  if (!ok) return false;
  if (!named) return r.Fail(Join(path, "name"), node, "missing");
  if (!has_chain) return r.Fail(Join(path, "cert_pem"), node, "missing");
  if (certificate->key_pem().empty() && certificate->key_sha256().empty())
    return r.Fail(Join(path, "key_pem"), node,
                  "missing (give the key, or key_sha256 to keep the stored one)");
  return true;
}

// yaml-cpp's "yaml-cpp: error at line 3, column 5: end of map not found" as
// "line 3, column 5: end of map not found".
std::string DescribeYamlError(const YAML::Exception& error) {
  if (error.mark.is_null()) return error.msg;
  return "line " + std::to_string(error.mark.line + 1) + ", column " +
         std::to_string(error.mark.column + 1) + ": " + error.msg;
}

// ---------------------------------------------------------------- writing

// The document as -o json writes it (compact), read back as a tree to write out again.
Node DocumentTree(const gateway::v1::Config& config) {
  JsonWriter json;
  json.BeginObject();
  json.Key("services").BeginArray();
  for (const Service& service : config.services()) WriteServiceJson(json, service, false);
  json.EndArray();
  json.Key("routes").BeginArray();
  for (const Route& route : config.routes()) WriteRouteJson(json, route, false);
  json.EndArray();
  json.Key("consumers").BeginArray();
  for (const Consumer& consumer : config.consumers()) WriteConsumerJson(json, consumer, false);
  json.EndArray();
  if (!config.certificates().empty()) {  // only when there are any, as in /config
    json.Key("certificates").BeginArray();
    for (const Certificate& certificate : config.certificates())
      WriteCertificateDocument(json, certificate);
    json.EndArray();
  }
  json.EndObject();
  return YAML::Load(json.str());
}

void EmitYaml(YAML::Emitter& out, const Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      out << YAML::BeginMap;
      for (auto it = node.begin(); it != node.end(); ++it) {
        out << YAML::Key << it->first.Scalar() << YAML::Value;
        EmitYaml(out, it->second);
      }
      out << YAML::EndMap;
      return;
    case YAML::NodeType::Sequence:
      if (node.size() == 0) {
        out << YAML::Flow << YAML::BeginSeq << YAML::EndSeq;
        return;
      }
      out << YAML::BeginSeq;
      for (const Node& item : node) EmitYaml(out, item);
      out << YAML::EndSeq;
      return;
    case YAML::NodeType::Scalar: {
      const std::string& text = node.Scalar();
      if (IsPlain(node)) {
        out << text;  // a number or a boolean, as the JSON writer wrote it
      } else if (text.find('\n') != std::string::npos && text.ends_with('\n') &&
                 !text.ends_with("\n\n") && text.find_first_of("\r\t") == std::string::npos &&
                 text.front() != ' ') {
        // A PEM key, one line each. The block's "|" gives back the one final line break, which
        // the emitter would otherwise write as a blank line.
        out << YAML::Literal << text.substr(0, text.size() - 1);
      } else if (NeedsQuotesInYaml(text) || text.find('\n') != std::string::npos) {
        out << YAML::DoubleQuoted << text;
      } else {
        out << text;  // the emitter quotes what must be
      }
      return;
    }
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      out << YAML::Null;
      return;
  }
}

void EmitJson(std::string& out, const Node& node, size_t indent) {
  const std::string pad(indent + 2, ' ');
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      if (node.size() == 0) {
        out += "{}";
        return;
      }
      out += "{\n";
      bool first = true;
      for (auto it = node.begin(); it != node.end(); ++it) {
        out += (first ? "" : ",\n") + pad + JsonQuote(it->first.Scalar()) + ": ";
        first = false;
        EmitJson(out, it->second, indent + 2);
      }
      out += "\n" + std::string(indent, ' ') + "}";
      return;
    }
    case YAML::NodeType::Sequence: {
      if (node.size() == 0) {
        out += "[]";
        return;
      }
      out += "[\n";
      for (size_t i = 0; i < node.size(); ++i) {
        out += (i == 0 ? "" : ",\n") + pad;
        EmitJson(out, node[i], indent + 2);
      }
      out += "\n" + std::string(indent, ' ') + "]";
      return;
    }
    case YAML::NodeType::Scalar:
      out += IsPlain(node) ? node.Scalar() : JsonQuote(node.Scalar());
      return;
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      out += "null";
      return;
  }
}

// One value on one line, as a diff shows it: strings bare unless they would read as something
// else or hold blanks and punctuation, lists as [a, b], objects as {k: v}.
std::string FlowText(const Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      std::string out = "{";
      for (auto it = node.begin(); it != node.end(); ++it)
        out += (out.size() > 1 ? ", " : "") + it->first.Scalar() + ": " + FlowText(it->second);
      return out + "}";
    }
    case YAML::NodeType::Sequence: {
      std::string out = "[";
      for (size_t i = 0; i < node.size(); ++i) out += (i == 0 ? "" : ", ") + FlowText(node[i]);
      return out + "]";
    }
    case YAML::NodeType::Scalar: {
      const std::string& text = node.Scalar();
      if (IsPlain(node)) return text;
      const bool bare =
          !NeedsQuotesInYaml(text) && text.find_first_of(",[]{}\"'\n\r\t\\") == std::string::npos &&
          text.find(": ") == std::string::npos && text.find(" #") == std::string::npos &&
          text.front() != ' ' && text.back() != ' ' && text.back() != ':';
      return bare ? text : JsonQuote(text);
    }
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      break;
  }
  return "null";
}

void Flatten(const Node& node, const std::string& prefix, DocumentFields* out) {
  for (auto it = node.begin(); it != node.end(); ++it) {
    const std::string key = Join(prefix, it->first.Scalar());
    if (it->second.IsMap() && it->second.size() > 0)
      Flatten(it->second, key, out);
    else
      out->emplace_back(key, FlowText(it->second));
  }
}

template <typename Object, typename Write>
DocumentFields FieldsVia(const Object& object, Write write) {
  JsonWriter json;
  write(json, object, false);
  DocumentFields fields;
  Flatten(YAML::Load(json.str()), "", &fields);
  return fields;
}

}  // namespace

std::string ParseConfigDocument(std::string_view text, gateway::v1::ApplyRequest* request) {
  const size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos)
    return "the document is empty (expected services:, routes:, consumers: or certificates:)";
  std::vector<Node> documents;
  try {
    documents = YAML::LoadAll(std::string(text));
  } catch (const YAML::DeepRecursion& error) {
    return std::string(text[first] == '{' ? "not valid JSON: " : "not valid YAML: ") +
           "nested too deep at line " + std::to_string(error.mark.line + 1);
  } catch (const YAML::Exception& error) {
    return (text[first] == '{' ? "not valid JSON: " : "not valid YAML: ") +
           DescribeYamlError(error);
  }
  if (text[first] == '{' && !IsStrictJson(text))
    return "not valid JSON (RFC 8259): a trailing comma, a comment, single quotes, an unquoted "
           "key, text after the closing brace, or more than 64 levels of nesting?";
  if (documents.size() != 1)
    return "expected one document, found " + std::to_string(documents.size());
  const Node& root = documents.front();
  if (root.IsNull())
    return "the document is empty (expected services:, routes:, consumers: or certificates:)";

  DocumentReader r;
  const bool ok = r.Object(
      root, "", {"services", "routes", "consumers", "certificates"},
      [&](std::string_view key, const Node& value, const std::string& where) {
        if (key == "services")
          return r.List(value, where, [&](const Node& item, const std::string& at) {
            return ReadService(r, item, at, request->add_services());
          });
        if (key == "routes")
          return r.List(value, where, [&](const Node& item, const std::string& at) {
            return ReadRoute(r, item, at, request->add_routes());
          });
        if (key == "consumers")
          return r.List(value, where, [&](const Node& item, const std::string& at) {
            return ReadConsumer(r, item, at, request->add_consumers());
          });
        return r.List(value, where, [&](const Node& item, const std::string& at) {
          return ReadCertificate(r, item, at, request->add_certificates());
        });
      },
      "expected services, routes, consumers or certificates");
  if (!ok) {
    if (!root.IsMap())
      return "the document must be a mapping with services:, routes:, consumers: or certificates:" +
             LineOf(root);
    return r.error();
  }
  return "";
}

std::string RenderConfigDocument(const gateway::v1::Config& config, DocumentFormat format) {
  const Node tree = DocumentTree(config);
  if (format == DocumentFormat::kJson) {
    std::string out;
    EmitJson(out, tree, 0);
    return out + "\n";
  }
  YAML::Emitter out;
  out.SetIndent(2);
  EmitYaml(out, tree);
  return std::string(out.c_str()) + "\n";
}

DocumentFields FieldsOf(const Service& service) {
  return FieldsVia(
      service, [](JsonWriter& json, const Service& s, bool v) { WriteServiceJson(json, s, v); });
}
DocumentFields FieldsOf(const Route& route) {
  return FieldsVia(route,
                   [](JsonWriter& json, const Route& r, bool v) { WriteRouteJson(json, r, v); });
}
DocumentFields FieldsOf(const Certificate& certificate) {
  return FieldsVia(certificate, [](JsonWriter& json, const Certificate& c, bool) {
    WriteCertificateDocument(json, c);
  });
}
DocumentFields FieldsOf(const Consumer& consumer) {
  return FieldsVia(
      consumer, [](JsonWriter& json, const Consumer& c, bool v) { WriteConsumerJson(json, c, v); });
}

}  // namespace gw::cli
