#include "common/route_identity.h"

#include <algorithm>

#include "common/validation.h"

namespace gw {
namespace {

void AppendPart(std::string& out, std::string_view part) {
  out += std::to_string(part.size());
  out += ':';
  out += part;
}

template <typename Message>  // Route or RouteKey
RouteIdentity IdentityOfMessage(const Message& route) {
  RouteIdentity identity;
  identity.path = route.path();
  identity.match = route.match();
  identity.host = AsciiLower(route.host());
  for (const std::string& method : route.methods()) identity.methods.push_back(AsciiUpper(method));
  std::sort(identity.methods.begin(), identity.methods.end());
  identity.methods.erase(std::unique(identity.methods.begin(), identity.methods.end()),
                         identity.methods.end());
  for (const auto& header : route.headers())
    identity.headers.emplace_back(AsciiLower(header.name()), header.value());
  std::sort(identity.headers.begin(), identity.headers.end());
  identity.headers.erase(std::unique(identity.headers.begin(), identity.headers.end()),
                         identity.headers.end());
  return identity;
}

}  // namespace

RouteIdentity IdentityOf(const gateway::v1::Route& route) { return IdentityOfMessage(route); }
RouteIdentity IdentityOf(const gateway::v1::RouteKey& key) { return IdentityOfMessage(key); }

std::string IdentityKey(const RouteIdentity& identity) {
  std::string key;
  AppendPart(key, identity.path);
  AppendPart(key, std::to_string(static_cast<int>(identity.match)));
  AppendPart(key, identity.host);
  AppendPart(key, std::to_string(identity.methods.size()));
  for (const std::string& method : identity.methods) AppendPart(key, method);
  AppendPart(key, std::to_string(identity.headers.size()));
  for (const auto& [name, value] : identity.headers) {
    AppendPart(key, name);
    AppendPart(key, value);
  }
  return key;
}

}  // namespace gw
