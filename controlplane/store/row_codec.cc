#include "controlplane/store/row_codec.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include <algorithm>

namespace gw::rows {

using gateway::v1::HeaderMatch;
using gateway::v1::Route;
using gateway::v1::Service;

std::string JoinMethods(const google::protobuf::RepeatedPtrField<std::string>& methods) {
  std::string out;
  for (const auto& method : methods) out += (out.empty() ? "" : ",") + method;
  return out;
}

std::string JoinHeaders(const google::protobuf::RepeatedPtrField<HeaderMatch>& headers) {
  std::string out;
  for (const auto& header : headers)
    out += (out.empty() ? "" : "\n") + header.name() + "=" + header.value();
  return out;
}

namespace {

void SplitMethods(std::string_view text, Route* route) {
  while (!text.empty()) {
    const size_t comma = std::min(text.find(','), text.size());
    route->add_methods(std::string(text.substr(0, comma)));
    text.remove_prefix(std::min(comma + 1, text.size()));
  }
}

void SplitHeaders(std::string_view text, Route* route) {
  while (!text.empty()) {
    const size_t end = std::min(text.find('\n'), text.size());
    const std::string_view line = text.substr(0, end);
    const size_t eq = std::min(line.find('='), line.size());
    auto* header = route->add_headers();
    header->set_name(std::string(line.substr(0, eq)));
    header->set_value(std::string(line.substr(std::min(eq + 1, line.size()))));
    text.remove_prefix(std::min(end + 1, text.size()));
  }
}

std::string Deterministic(const google::protobuf::Message& message) {
  std::string bytes;
  google::protobuf::io::StringOutputStream stream(&bytes);
  google::protobuf::io::CodedOutputStream coded(&stream);
  coded.SetSerializationDeterministic(true);
  message.SerializeToCodedStream(&coded);
  coded.Trim();
  return bytes;
}

}  // namespace

std::string RoutePolicyBytes(const Route& route) {
  Route policy = route;
  policy.clear_path();
  policy.clear_match();
  policy.clear_host();
  policy.clear_methods();
  policy.clear_headers();
  policy.clear_target();
  policy.clear_version();
  policy.clear_max_body_size();
  return Deterministic(policy);
}

std::string ServicePolicyBytes(const Service& service) {
  Service policy = service;
  policy.clear_name();
  policy.clear_endpoints();
  policy.clear_version();
  return Deterministic(policy);
}

std::string CertificateBytes(const gateway::v1::Certificate& certificate) {
  gateway::v1::Certificate body = certificate;
  body.clear_name();
  body.clear_version();
  return Deterministic(body);
}

bool ReadCertificate(std::string_view name, int64_t version, std::string_view body,
                     gateway::v1::Certificate* certificate) {
  certificate->Clear();
  if (!certificate->ParseFromArray(body.data(), static_cast<int>(body.size()))) return false;
  certificate->set_name(std::string(name));
  certificate->set_version(static_cast<uint64_t>(version));
  return true;
}

RouteColumns ColumnsOf(const Route& route) {
  return {route.path(), static_cast<int64_t>(route.match()), route.host(),
          JoinMethods(route.methods()), JoinHeaders(route.headers())};
}

RouteColumns ColumnsOf(const gateway::v1::RouteKey& key) {
  return {key.path(), static_cast<int64_t>(key.match()), key.host(), JoinMethods(key.methods()),
          JoinHeaders(key.headers())};
}

bool ReadRoute(std::string_view path, int64_t match, std::string_view host,
               std::string_view methods, std::string_view headers, std::string_view target,
               int64_t version, int64_t max_body_size, std::string_view policy, Route* route) {
  route->Clear();
  if (!route->ParseFromArray(policy.data(), static_cast<int>(policy.size()))) return false;
  route->set_path(std::string(path));
  route->set_match(static_cast<gateway::v1::MatchKind>(match));
  route->set_host(std::string(host));
  SplitMethods(methods, route);
  SplitHeaders(headers, route);
  route->set_target(std::string(target));
  route->set_version(static_cast<uint64_t>(version));
  route->set_max_body_size(static_cast<uint64_t>(max_body_size));
  return true;
}

}  // namespace gw::rows
