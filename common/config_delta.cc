#include "common/config_delta.h"

#include <algorithm>
#include <map>
#include <string_view>
#include <utility>
#include <vector>

#include "common/route_identity.h"

namespace gw {
namespace {

using gateway::v1::Certificate;
using gateway::v1::Config;
using gateway::v1::ConfigDelta;
using gateway::v1::Consumer;
using gateway::v1::Route;
using gateway::v1::RouteKey;
using gateway::v1::Service;

RouteKey KeyOfRoute(const Route& route) {
  RouteKey key;
  key.set_path(route.path());
  key.set_match(route.match());
  key.set_host(route.host());
  *key.mutable_methods() = route.methods();
  *key.mutable_headers() = route.headers();
  return key;
}

template <typename T>
bool SameBytes(const T& a, const T& b) {
  return a.SerializeAsString() == b.SerializeAsString();
}

// The objects of a list by key, pointing into the list.
template <typename T, typename KeyFn>
std::map<std::string, const T*> ByKey(const google::protobuf::RepeatedPtrField<T>& items,
                                      KeyFn key) {
  std::map<std::string, const T*> out;
  for (const T& item : items) out.emplace(key(item), &item);
  return out;
}

const auto kServiceKey = [](const Service& s) { return s.name(); };
const auto kConsumerKey = [](const Consumer& c) { return c.name(); };
const auto kCertificateKey = [](const Certificate& c) { return c.name(); };
const auto kRouteKey = [](const Route& r) { return IdentityKey(IdentityOf(r)); };

// Whether an object changed. Objects of published configs carry the version that last changed
// them, so different versions mean changed and equal non-zero ones unchanged; objects without
// versions (0) are compared byte by byte.
template <typename T>
bool Changed(const T& before, const T& after) {
  if (before.version() != after.version()) return true;
  return before.version() == 0 && !SameBytes(before, after);
}

// Upserted: in `after` and changed from `before`; removed: in `before` only.
template <typename T, typename KeyFn, typename OnUpsert, typename OnRemove>
void DiffLists(const google::protobuf::RepeatedPtrField<T>& before,
               const google::protobuf::RepeatedPtrField<T>& after, KeyFn key, OnUpsert upsert,
               OnRemove remove) {
  const auto old_items = ByKey(before, key);
  const auto new_items = ByKey(after, key);
  for (const auto& [name, item] : new_items) {
    auto it = old_items.find(name);
    if (it == old_items.end() || Changed(*it->second, *item)) upsert(*item);
  }
  for (const auto& [name, item] : old_items)
    if (!new_items.count(name)) remove(*item);
}

}  // namespace

void SortConfig(Config* config) {
  auto* services = config->mutable_services();
  std::sort(services->begin(), services->end(),
            [](const Service& a, const Service& b) { return a.name() < b.name(); });
  auto* consumers = config->mutable_consumers();
  std::sort(consumers->begin(), consumers->end(),
            [](const Consumer& a, const Consumer& b) { return a.name() < b.name(); });
  auto* certificates = config->mutable_certificates();
  std::sort(certificates->begin(), certificates->end(),
            [](const Certificate& a, const Certificate& b) { return a.name() < b.name(); });
  // Routes by identity, each identity made once (not once per comparison); a list already in
  // order (every write but the one that adds a route) is left as it is.
  auto* routes = config->mutable_routes();
  std::vector<std::pair<RouteIdentity, int>> keyed;
  keyed.reserve(static_cast<size_t>(routes->size()));
  for (int i = 0; i < routes->size(); ++i) keyed.emplace_back(IdentityOf(routes->Get(i)), i);
  if (std::is_sorted(keyed.begin(), keyed.end())) return;
  std::sort(keyed.begin(), keyed.end());
  google::protobuf::RepeatedPtrField<Route> sorted;
  sorted.Reserve(routes->size());
  for (const auto& [identity, index] : keyed) *sorted.Add() = std::move(*routes->Mutable(index));
  routes->Swap(&sorted);
}

ConfigDelta DiffConfigs(const Config& before, const Config& after) {
  ConfigDelta delta;
  delta.set_base_version(before.version());
  DiffLists(
      before.services(), after.services(), kServiceKey,
      [&](const Service& s) { *delta.add_upserted_services() = s; },
      [&](const Service& s) { delta.add_removed_services(s.name()); });
  DiffLists(
      before.routes(), after.routes(), kRouteKey,
      [&](const Route& r) { *delta.add_upserted_routes() = r; },
      [&](const Route& r) { *delta.add_removed_routes() = KeyOfRoute(r); });
  DiffLists(
      before.consumers(), after.consumers(), kConsumerKey,
      [&](const Consumer& c) { *delta.add_upserted_consumers() = c; },
      [&](const Consumer& c) { delta.add_removed_consumers(c.name()); });
  DiffLists(
      before.certificates(), after.certificates(), kCertificateKey,
      [&](const Certificate& c) { *delta.add_upserted_certificates() = c; },
      [&](const Certificate& c) { delta.add_removed_certificates(c.name()); });
  return delta;
}

bool DeltaIsEmpty(const ConfigDelta& delta) {
  return delta.upserted_services().empty() && delta.removed_services().empty() &&
         delta.upserted_routes().empty() && delta.removed_routes().empty() &&
         delta.upserted_consumers().empty() && delta.removed_consumers().empty() &&
         delta.upserted_certificates().empty() && delta.removed_certificates().empty();
}

namespace {

// `items` keyed, with removals and upserts applied; "" or the first removal that names nothing.
template <typename T, typename KeyFn, typename RemovedKeys>
std::string ApplyList(const google::protobuf::RepeatedPtrField<T>& items,
                      const RemovedKeys& removed,
                      const google::protobuf::RepeatedPtrField<T>& upserted, KeyFn key,
                      std::string_view what, google::protobuf::RepeatedPtrField<T>* out) {
  std::map<std::string, const T*> merged = ByKey(items, key);
  for (const std::string& name : removed) {
    if (merged.erase(name) == 0)
      return std::string("the delta removes a ") + std::string(what) +
             " the base config does not have";
  }
  for (const T& item : upserted) merged[key(item)] = &item;
  out->Clear();
  out->Reserve(static_cast<int>(merged.size()));
  for (const auto& [name, item] : merged) *out->Add() = *item;
  return "";
}

}  // namespace

std::string ApplyConfigDelta(const Config& base, const ConfigDelta& delta, uint64_t version,
                             Config* out) {
  if (delta.base_version() != base.version())
    return "delta from version " + std::to_string(delta.base_version()) + ", but version " +
           std::to_string(base.version()) + " is live";
  Config result;
  result.set_version(version);
  std::vector<std::string> removed_routes;
  removed_routes.reserve(static_cast<size_t>(delta.removed_routes_size()));
  for (const RouteKey& key : delta.removed_routes())
    removed_routes.push_back(IdentityKey(IdentityOf(key)));
  std::string error =
      ApplyList(base.services(), delta.removed_services(), delta.upserted_services(), kServiceKey,
                "service", result.mutable_services());
  if (error.empty())
    error = ApplyList(base.routes(), removed_routes, delta.upserted_routes(), kRouteKey, "route",
                      result.mutable_routes());
  if (error.empty())
    error = ApplyList(base.consumers(), delta.removed_consumers(), delta.upserted_consumers(),
                      kConsumerKey, "consumer", result.mutable_consumers());
  if (error.empty())
    error =
        ApplyList(base.certificates(), delta.removed_certificates(), delta.upserted_certificates(),
                  kCertificateKey, "certificate", result.mutable_certificates());
  if (!error.empty()) return error;
  SortConfig(&result);  // routes were keyed by IdentityKey, whose order is not the identity's
  *out = std::move(result);
  return "";
}

}  // namespace gw
