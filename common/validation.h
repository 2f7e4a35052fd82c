// Validation rules of the config model, shared by the control plane (before it writes) and
// the gateway (before it applies a pushed config). Every function returns "" when the input
// is valid, or else one sentence a person can act on.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gateway.pb.h"

namespace gw {

inline constexpr size_t kMaxRoutePathLength = 1024;
inline constexpr uint16_t kDefaultTargetPort = 80;
// The largest request body limit a route may set (1 TiB): past it a limit means nothing, and a
// typo such as "10000g" is caught. A route without a limit (0) gets the gateway's own.
inline constexpr uint64_t kMaxBodySizeLimit = uint64_t{1} << 40;

struct HostPort {
  std::string host;  // IPv6 literals without brackets
  uint16_t port = 0;
};

// "host:port", "1.2.3.4:port" or "[::1]:port"; the port must be 1..65535. With a default
// port, the ":port" part may be left out.
std::optional<HostPort> ParseHostPort(std::string_view text, std::string* error,
                                      std::optional<uint16_t> default_port = std::nullopt);
std::string FormatHostPort(std::string_view host, uint32_t port);

// "HOST:PORT[,HOST:PORT...]": the control-plane replicas a gateway or gatewayctl may use, each
// as ParseHostPort (no default port), in the order given, none twice. Returns them formatted
// (FormatHostPort), or nullopt with the reason in *error.
std::optional<std::vector<std::string>> ParseAddressList(std::string_view text, std::string* error);
// The items of a comma-separated list such as one ParseAddressList accepted, unchecked.
std::vector<std::string> SplitList(std::string_view text);

// "HOST:PORT" for an address to listen on: like ParseHostPort, but port 0 ("pick one") is
// allowed.
std::optional<HostPort> ParseListenAddress(std::string_view text, std::string* error);

std::string ValidateServiceName(std::string_view name);  // RFC 1035 label, lower case
std::string ValidateHost(std::string_view host);         // DNS name, IPv4 or IPv6 literal
std::string ValidateRoutePath(std::string_view path);    // normalized, no trailing '/'
// A route target: HOST[:PORT] (port 80 by default). Every valid service name is also a valid
// HOST, so this accepts service names too; which one it is depends on the config's services.
std::string ValidateTarget(std::string_view target);
// A route's max_body_size: 0 (the gateway's --max-body-size) or 1..kMaxBodySizeLimit bytes.
std::string ValidateMaxBodySize(uint64_t bytes);

// Name, endpoints and policies (common/policy_validation.h).
std::string ValidateService(const gateway::v1::Service& service);
// Path, match (must be set), conditions and policies; a split's services are checked against
// the config's by ValidateSplitTargets (ValidateConfig, or the control plane's store).
std::string ValidateRoute(const gateway::v1::Route& route);
// A value as one-line messages quote it: in single quotes, control characters shown as '?', and
// cut after kMaxQuotedSize bytes with "..." (a 5000-byte value is not echoed whole).
inline constexpr size_t kMaxQuotedSize = 80;
std::string Quote(std::string_view value);

// ASCII case mapping (other bytes unchanged): host names, header names, methods, schemes.
std::string AsciiLower(std::string_view text);
std::string AsciiUpper(std::string_view text);

// "2,597": a count as messages write it.
std::string FormatCount(uint64_t count);
// At most `max_items` of `items` joined by `separator`, then " ... and 2,597 more", each item
// cut after kMaxItemSize bytes ("..."): a message that names the routes using a service stays
// one short line however large the config and however long its paths.
inline constexpr size_t kMaxItemsInMessage = 5;
inline constexpr size_t kMaxItemSize = 160;
std::string JoinForMessage(const std::vector<std::string>& items, std::string_view separator,
                           size_t max_items = kMaxItemsInMessage);

// "/api (prefix, host a.example, method GET,POST, header x-v=2)": a route's identity, as
// messages name it (a header value with a space, comma or quote in it is quoted). Text for
// people: compare routes with RouteIdentity (common/route_identity.h), never with this.
std::string DescribeRouteMatch(const gateway::v1::Route& route);
// "x-v=2", or "x='1, header y=2'": one header condition, its value quoted when it holds a space,
// comma or quote (or is empty), so that no condition reads as several.
std::string DescribeHeaderMatch(const gateway::v1::HeaderMatch& header);
// The limits of Config.certificates.
inline constexpr size_t kMaxCertificatePemBytes = 64 * 1024;  // cert_pem and key_pem each
inline constexpr size_t kMaxCertificates = 1000;
// A certificate as stored and pushed: name, PEM sizes, the chain and key parse, the key is the
// leaf's, at least one DNS name. Its validity dates are not judged here: a check that depends on
// the clock would refuse tomorrow a config accepted today (the control plane's store refuses
// expired certificates when they are written).
std::string ValidateCertificate(const gateway::v1::Certificate& certificate);
// A whole snapshot: every service, route, consumer and certificate valid; service, consumer and
// certificate names, route identities (RouteIdentity) and api keys unique; split services
// defined; no aggregate part on an h2c service; one default certificate at most. This is every
// check a gateway makes of a pushed config but its own --max-routes; the control plane makes it
// of the config each write would produce, inside the write's transaction, so that what it
// stores the gateways accept.
std::string ValidateConfig(const gateway::v1::Config& config);

std::string_view MatchName(gateway::v1::MatchKind match);  // "prefix" / "exact" / "unspecified"

}  // namespace gw
