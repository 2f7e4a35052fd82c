#include "controlplane/config_json.h"

#include "common/json.h"
#include "common/validation.h"

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
    json.EndArray().EndObject();
  }
  json.EndArray();
  json.Key("routes").BeginArray();
  for (const auto& route : config.routes()) {
    json.BeginObject().Key("path").String(route.path());
    json.Key("match").String(MatchName(route.match()));
    json.Key("target").String(route.target());
    // Like protobuf's JSON mapping, only when set: 0 means the gateway's own --max-body-size.
    if (route.max_body_size() != 0) json.Key("max_body_size").Unsigned(route.max_body_size());
    json.Key("version").Unsigned(route.version()).EndObject();
  }
  json.EndArray().EndObject();
  return json.str();
}

}  // namespace gw
