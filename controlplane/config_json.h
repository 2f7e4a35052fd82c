// The JSON form of a config snapshot, served by the control plane's admin page at /config:
// {"version":N,"services":[{"name","version","endpoints":[{"host","port"}],"policies"?}],
//  "routes":[{"path","match":"prefix"|"exact","host"?,"methods"?,"headers"?,"target","split"?,
//             "policies"?,"max_body_size"?,"version"}],
//  "consumers"?:[{"name","api_keys":N,"jwt_issuer"?,"version"}],
//  "certificates"?:[{"name","dns_names":[...],"not_after_unix_ms","default"?,"version"}]}
// Fields marked ? appear only when set; "policies" is the short spelling of policy_text.h.
#pragma once

#include <string>

#include "gateway.pb.h"

namespace gw {

std::string ConfigToJson(const gateway::v1::Config& config);

}  // namespace gw
