#include "fuzz/request_checks.h"

#include <cstdio>
#include <cstdlib>

#include "common/path.h"
#include "gateway/http/request_target.h"

namespace gw::fuzz {
namespace {

bool IsUnreserved(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

int UpperHexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// pchar without pct-encoded (RFC 3986 section 3.3), and '/'.
bool IsPathChar(char c) {
  return IsUnreserved(c) || std::string_view("!$&'()*+,;=:@/").find(c) != std::string_view::npos;
}

// A path that is already in normal form by construction: path characters only, no escape, no
// empty, "." or ".." segment.
bool IsPlainPath(std::string_view path) {
  if (path.empty() || path.front() != '/') return false;
  for (const char c : path) {
    if (!IsPathChar(c)) return false;
  }
  if (path.find("//") != std::string_view::npos) return false;
  size_t start = 1;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    const std::string_view segment = path.substr(start, end - start);
    if (segment == "." || segment == "..") return false;
    start = end + 1;
  }
  return true;
}

void AddRoute(gateway::v1::Config& config, const char* path, gateway::v1::MatchKind match,
              const char* target) {
  auto* route = config.add_routes();
  route->set_path(path);
  route->set_match(match);
  route->set_target(target);
}

std::shared_ptr<const RouteTable> BuildFuzzRouteTable() {
  using gateway::v1::MATCH_EXACT;
  using gateway::v1::MATCH_PREFIX;
  gateway::v1::Config config;
  config.set_version(7);
  auto* orders = config.add_services();
  orders->set_name("orders");
  auto* endpoint = orders->add_endpoints();
  endpoint->set_host("127.0.0.1");
  endpoint->set_port(9001);
  auto* users = config.add_services();
  users->set_name("users");
  endpoint = users->add_endpoints();
  endpoint->set_host("::1");
  endpoint->set_port(9002);
  // Sorted by (path, match), as the control plane sends them.
  AddRoute(config, "/", MATCH_EXACT, "orders");
  AddRoute(config, "/api", MATCH_PREFIX, "orders");
  AddRoute(config, "/api/orders", MATCH_PREFIX, "orders");
  AddRoute(config, "/api/orders/export", MATCH_EXACT, "users");
  AddRoute(config, "/api/users", MATCH_PREFIX, "users");
  AddRoute(config, "/api/users", MATCH_EXACT, "orders");
  AddRoute(config, "/caf%C3%A9", MATCH_PREFIX, "orders");
  AddRoute(config, "/files/a%2Fb", MATCH_PREFIX, "static.internal:8080");
  AddRoute(config, "/health", MATCH_EXACT, "users");
  AddRoute(config, "/static", MATCH_PREFIX, "static.internal:8080");
  AddRoute(config, "/v1/~user/x:y@z", MATCH_PREFIX, "10.0.0.7:81");
  AddRoute(config, "/v1/~user/x:y@z/a.b", MATCH_EXACT, "users");
  std::string error;
  auto table = RouteTable::Build(config, 100, &error);
  if (!table) {
    std::fprintf(stderr, "fuzz route table refused: %s\n", error.c_str());
    std::abort();
  }
  return table;
}

}  // namespace

void InvariantFailed(const char* condition, const char* file, int line) {
  std::fprintf(stderr, "fuzz invariant failed: %s (%s:%d)\n", condition, file, line);
  std::abort();
}

const RouteTable& FuzzRouteTable() {
  static const std::shared_ptr<const RouteTable> table = BuildFuzzRouteTable();
  return *table;
}

void CheckNormalizedPath(std::string_view input, const std::optional<std::string>& output) {
  if (!output) {
    FUZZ_CHECK(!IsPlainPath(input));
    return;
  }
  const std::string& path = *output;
  FUZZ_CHECK(!path.empty() && path.front() == '/');
  FUZZ_CHECK(path.find("//") == std::string::npos);
  for (size_t start = 1; start < path.size();) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    const std::string_view segment = std::string_view(path).substr(start, end - start);
    FUZZ_CHECK(segment != "." && segment != "..");
    start = end + 1;
  }
  for (size_t i = 0; i < path.size(); ++i) {
    if (path[i] != '%') {
      FUZZ_CHECK(IsPathChar(path[i]));
      continue;
    }
    // An escape stays only for a byte that is not unreserved, in upper-case hex; "%2F" is
    // never turned into a separator.
    FUZZ_CHECK(i + 2 < path.size());
    const int hi = UpperHexValue(path[i + 1]);
    const int lo = UpperHexValue(path[i + 2]);
    FUZZ_CHECK(hi >= 0 && lo >= 0);
    FUZZ_CHECK(!IsUnreserved(static_cast<char>(hi * 16 + lo)));
    i += 2;
  }
  const auto again = NormalizePath(path);
  FUZZ_CHECK(again.has_value() && *again == path);
  if (IsPlainPath(input)) FUZZ_CHECK(path == input);
}

const RouteEntry* CheckRouteMatch(std::string_view normalized_path) {
  const RouteTable& table = FuzzRouteTable();
  const RouteEntry* matched = table.Match(normalized_path);
  const RouteEntry* expected = nullptr;
  for (const RouteEntry& route : table.routes()) {
    if (route.match == gateway::v1::MATCH_EXACT && route.path == normalized_path) {
      expected = &route;
    }
  }
  if (!expected) {
    for (const RouteEntry& route : table.routes()) {
      if (route.match == gateway::v1::MATCH_PREFIX && PrefixCovers(route.path, normalized_path) &&
          (!expected || route.path.size() > expected->path.size())) {
        expected = &route;
      }
    }
  }
  FUZZ_CHECK(matched == expected);
  if (matched) {
    FUZZ_CHECK(matched->match == gateway::v1::MATCH_EXACT
                   ? matched->path == normalized_path
                   : PrefixCovers(matched->path, normalized_path));
    FUZZ_CHECK(matched->upstream && !matched->upstream->endpoints.empty());
  }
  return matched;
}

bool CheckHost(std::string_view value) {
  const bool valid = IsValidHost(value);
  if (!valid) return false;
  FUZZ_CHECK(!value.empty());
  for (const char c : value) {
    // unreserved, sub-delims, '%' of an escape, ':' before the port, brackets of an IP-literal:
    // never whitespace, a control byte, '/', '?', '#' or '@' (no userinfo).
    FUZZ_CHECK(IsUnreserved(c) ||
               std::string_view("!$&'()*+,;=%:[]").find(c) != std::string_view::npos);
  }
  if (value.front() != '[') FUZZ_CHECK(value.find_first_of("[]") == std::string_view::npos);
  return true;
}

std::optional<AcceptedTarget> CheckRequestTarget(std::string_view target) {
  const auto parts = SplitRequestTarget(target);
  if (!parts) {
    FUZZ_CHECK(target.empty() || target.front() != '/');  // origin-form always splits
    return std::nullopt;
  }
  FUZZ_CHECK(!parts->path.empty() && parts->path.front() == '/');
  FUZZ_CHECK(parts->path.find('?') == std::string_view::npos);
  FUZZ_CHECK(parts->has_query || parts->query.empty());
  if (parts->absolute_form) {
    FUZZ_CHECK(CheckHost(parts->authority));
  } else {
    FUZZ_CHECK(parts->authority.empty());
    std::string rebuilt(parts->path);
    if (parts->has_query) rebuilt.append("?").append(parts->query);
    FUZZ_CHECK(rebuilt == target);
  }

  std::string error;
  const auto normalized = NormalizePath(parts->path, &error);
  CheckNormalizedPath(parts->path, normalized);
  if (!normalized) {
    FUZZ_CHECK(!error.empty());
    return std::nullopt;
  }

  AcceptedTarget accepted;
  accepted.path = *normalized;
  BuildUpstreamTarget(accepted.upstream_target, accepted.path, *parts);
  accepted.authority = parts->authority;
  accepted.absolute_form = parts->absolute_form;
  // The upstream routes what it receives the way the gateway did: an origin-form target with
  // the normalized path and the client's query, untouched.
  const auto upstream = SplitRequestTarget(accepted.upstream_target);
  FUZZ_CHECK(upstream.has_value() && !upstream->absolute_form);
  FUZZ_CHECK(upstream->path == accepted.path);
  FUZZ_CHECK(upstream->has_query == parts->has_query && upstream->query == parts->query);
  accepted.route = CheckRouteMatch(accepted.path);
  return accepted;
}

}  // namespace gw::fuzz
