#include "controlplane/config_json.h"

#include "common/json.h"
#include "common/policy_text.h"
#include "common/validation.h"
#include "controlplane/admin_service.h"

namespace gw {

std::string ConfigToJson(const gateway::v1::Config& config) {
  JsonWriter json;
  json.BeginObject().Key("version").Unsigned(config.version());
  json.Key("services").BeginArray();
  for (const auto& service : config.services()) {
    json.BeginObject().Key("name").String(service.name());
    json.Key("version").Unsigned(service.version());
    json.Key("endpoints").BeginArray();
    for (const auto& endpoint : service.endpoints()) {
      json.BeginObject().Key("host").String(endpoint.host());
      json.Key("port").Unsigned(endpoint.port()).EndObject();
    }
    json.EndArray();
    if (std::string policies = DescribeServicePolicies(service); !policies.empty())
      json.Key("policies").String(policies);
    json.EndObject();
  }
  json.EndArray();
  json.Key("routes").BeginArray();
  for (const auto& route : config.routes()) {
    json.BeginObject().Key("path").String(route.path());
    json.Key("match").String(MatchName(route.match()));
    // Issue 4's fields only when set, as their short spellings (gatewayctl shows them whole).
    if (!route.host().empty()) json.Key("host").String(route.host());
    if (!route.methods().empty()) {
      json.Key("methods").BeginArray();
      for (const auto& method : route.methods()) json.String(method);
      json.EndArray();
    }
    if (!route.headers().empty()) {
      json.Key("headers").BeginArray();
      for (const auto& header : route.headers()) json.String(header.name() + "=" + header.value());
      json.EndArray();
    }
    json.Key("target").String(route.target());
    if (!route.split().empty()) json.Key("split").String(FormatRouteTargets(route));
    // "user=users-svc:/users,cart=cart-svc", as --aggregate takes each part.
    if (!route.aggregate().empty()) json.Key("aggregate").String(FormatAggregateParts(route));
    if (std::string policies = DescribeRoutePolicies(route); !policies.empty())
      json.Key("policies").String(policies);
    // Like protobuf's JSON mapping, only when set: 0 means the gateway's own --max-body-size.
    if (route.max_body_size() != 0) json.Key("max_body_size").Unsigned(route.max_body_size());
    json.Key("version").Unsigned(route.version()).EndObject();
  }
  json.EndArray();
  // Consumers only when there are any: names, key counts and issuers, never keys or secrets.
  if (!config.consumers().empty()) {
    json.Key("consumers").BeginArray();
    for (const auto& consumer : config.consumers()) {
      json.BeginObject().Key("name").String(consumer.name());
      json.Key("api_keys").Unsigned(static_cast<uint64_t>(consumer.api_key_sha256_size()));
      if (consumer.has_jwt()) json.Key("jwt_issuer").String(consumer.jwt().issuer());
      json.Key("version").Unsigned(consumer.version()).EndObject();
    }
    json.EndArray();
  }
  // Certificates only when there are any, as the admin API shows them (Redacted): names, DNS
  // names, expiry and the default flag, never a key.
  if (!config.certificates().empty()) {
    json.Key("certificates").BeginArray();
    for (const auto& stored : config.certificates()) {
      const gateway::v1::Certificate certificate = Redacted(stored);
      json.BeginObject().Key("name").String(certificate.name());
      json.Key("dns_names").BeginArray();
      for (const auto& name : certificate.dns_names()) json.String(name);
      json.EndArray();
      json.Key("not_after_unix_ms").Number(certificate.not_after_unix_ms());
      if (certificate.is_default()) json.Key("default").Bool(true);
      json.Key("version").Unsigned(certificate.version()).EndObject();
    }
    json.EndArray();
  }
  json.EndObject();
  return json.str();
}

}  // namespace gw
