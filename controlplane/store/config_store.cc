#include "controlplane/store/config_store.h"

#include <google/protobuf/util/field_mask_util.h>
#include <google/protobuf/util/message_differencer.h>

#include <algorithm>
#include <iterator>
#include <map>
#include <optional>
#include <random>
#include <stdexcept>
#include <thread>
#include <type_traits>
#include <utility>

#include "common/api_key.h"
#include "common/byte_size.h"
#include "common/certificate.h"
#include "common/config_delta.h"
#include "common/duration.h"
#include "common/policy_text.h"
#include "common/policy_validation.h"
#include "common/route_identity.h"
#include "common/validation.h"

namespace gw {
namespace {

using gateway::v1::Certificate;
using gateway::v1::Config;
using gateway::v1::Consumer;
using gateway::v1::MatchKind;
using gateway::v1::Route;
using gateway::v1::RouteKey;
using gateway::v1::Service;

StoreError Invalid(std::string message) {
  return {StoreCode::kInvalidArgument, std::move(message)};
}

// A request's object without the fields this control plane does not know (a newer client's, or
// junk): the store keeps only what it validated, and its rows could not keep them all
// (endpoints, header conditions and consumers are columns), so the config re-read after a
// restart would differ from the one published at the same version.
template <typename Message>
Message Known(const Message& request) {
  Message known = request;
  known.DiscardUnknownFields();
  return known;
}

RouteKey KeyOf(const Route& route) {
  RouteKey key;
  key.set_path(route.path());
  key.set_match(route.match());
  key.set_host(route.host());
  *key.mutable_methods() = route.methods();
  *key.mutable_headers() = route.headers();
  return key;
}

Route RouteOfKey(const RouteKey& key) {
  Route route;
  route.set_path(key.path());
  route.set_match(key.match());
  route.set_host(key.host());
  *route.mutable_methods() = key.methods();
  *route.mutable_headers() = key.headers();
  return route;
}

bool HasConditions(const RouteKey& key) {
  return !key.host().empty() || !key.methods().empty() || !key.headers().empty();
}

// Whether `route` has every condition the key names (all of them when `exactly`, no others).
bool HasKeyConditions(const Route& route, const RouteKey& key, bool exactly) {
  if (exactly) {
    const RouteIdentity stored = IdentityOf(route);
    const RouteIdentity named = IdentityOf(key);
    return stored.host == named.host && stored.methods == named.methods &&
           stored.headers == named.headers;
  }
  if (!key.host().empty() && route.host() != key.host()) return false;
  for (const auto& method : key.methods())
    if (std::find(route.methods().begin(), route.methods().end(), method) == route.methods().end())
      return false;
  for (const auto& header : key.headers()) {
    const bool found = std::any_of(route.headers().begin(), route.headers().end(), [&](auto& h) {
      return h.name() == header.name() && h.value() == header.value();
    });
    if (!found) return false;
  }
  return true;
}

// ---------------------------------------------------------------- update masks

// The policy fields `route update` may change, as UpdateRouteRequest.update_mask names them;
// rate_limit and cors also take one sub-field ("rate_limit.burst"). The match is the route's
// identity and is never updated.
constexpr std::string_view kUpdatableRouteFields[] = {"target",
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
                                                      "hsts_max_age_s"};
constexpr std::string_view kUpdatableCertificateFields[] = {"cert_pem", "key_pem", "is_default"};
constexpr std::string_view kUpdatableServiceFields[] = {
    "endpoints",          "lb",           "hash_header",     "health_check",
    "eject_after",        "eject_for_ms", "max_connections", "max_pending",
    "connect_timeout_ms", "protocol"};

template <size_t N>
std::string JoinNames(const std::string_view (&names)[N]) {
  std::string out;
  for (std::string_view name : names) out += (out.empty() ? "" : ", ") + std::string(name);
  return out;
}

// Checks each path of `mask` against the updatable fields of `descriptor`: a top-level name of
// `allowed`, or "<message field>.<its field>".
template <size_t N>
std::optional<StoreError> CheckMask(const google::protobuf::FieldMask& mask,
                                    const google::protobuf::Descriptor* descriptor,
                                    const std::string_view (&allowed)[N], std::string_view what) {
  for (const std::string& path : mask.paths()) {
    const size_t dot = path.find('.');
    const std::string top = path.substr(0, dot);
    const bool known = std::find(std::begin(allowed), std::end(allowed), top) != std::end(allowed);
    const auto* field = descriptor->FindFieldByName(top);
    bool ok = known && field != nullptr;
    if (ok && dot != std::string::npos) {
      const std::string sub = path.substr(dot + 1);
      ok = field->message_type() != nullptr && !field->is_repeated() &&
           sub.find('.') == std::string::npos &&
           field->message_type()->FindFieldByName(sub) != nullptr;
    }
    if (!ok)
      return Invalid(std::string(what) + " field " + Quote(path) +
                     " cannot be updated (updatable: " + JoinNames(allowed) + ")");
  }
  return std::nullopt;
}

// `to` with the fields `mask` names taken from `from` (a named field absent from `from` is
// cleared; lists are replaced, not appended to).
template <typename Message>
void ApplyMask(const Message& from, const google::protobuf::FieldMask& mask, Message* to) {
  google::protobuf::util::FieldMaskUtil::MergeOptions options;
  options.set_replace_message_fields(true);
  options.set_replace_repeated_fields(true);
  google::protobuf::util::FieldMaskUtil::MergeMessageTo(from, mask, options, to);
}

std::string EndpointList(const Service& service) {
  std::string out;
  for (const auto& endpoint : service.endpoints()) {
    if (!out.empty()) out += ",";
    out += FormatHostPort(endpoint.host(), endpoint.port());
  }
  return out;
}

// A route key as the admin API sends it: a valid path, a match kind that is prefix, exact or
// unspecified, and valid conditions.
std::optional<StoreError> CheckRouteKey(const RouteKey& key) {
  if (std::string e = ValidateRoutePath(key.path()); !e.empty()) return Invalid(e);
  if (key.match() != gateway::v1::MATCH_UNSPECIFIED && key.match() != gateway::v1::MATCH_PREFIX &&
      key.match() != gateway::v1::MATCH_EXACT)
    return Invalid("match kind " + std::to_string(key.match()) + " is neither prefix nor exact");
  if (std::string e = ValidateRouteConditions(RouteOfKey(key)); !e.empty()) return Invalid(e);
  return std::nullopt;
}

// ---------------------------------------------------------------- history text

std::string DescribeRoute(const Route& route) {
  std::string out = DescribeRouteMatch(route) + " -> " + FormatRouteTargets(route);
  if (route.max_body_size() != 0) out += ", max_body_size " + FormatByteSize(route.max_body_size());
  if (std::string policies = DescribeRoutePolicies(route); !policies.empty())
    out += ", " + policies;
  return out;
}

// "/api (prefix) -> b (was -> a), retries=2 (was none)" for the history.
std::string DescribeRouteChange(const Route& before, const Route& after) {
  std::string out = DescribeRouteMatch(after) + " -> " + FormatRouteTargets(after);
  if (FormatRouteTargets(after) != FormatRouteTargets(before))
    out += " (was " + FormatRouteTargets(before) + ")";
  if (after.max_body_size() != before.max_body_size()) {
    auto limit = [](uint64_t bytes) {
      return bytes == 0 ? std::string("the gateway's") : FormatByteSize(bytes);
    };
    out += ", max_body_size " + limit(after.max_body_size()) + " (was " +
           limit(before.max_body_size()) + ")";
  }
  const std::string was = DescribeRoutePolicies(before);
  const std::string now = DescribeRoutePolicies(after);
  if (was != now)
    out += ", policies " + (now.empty() ? std::string("none") : now) + " (was " +
           (was.empty() ? std::string("none") : was) + ")";
  return out;
}

std::string DescribeService(const Service& service) {
  std::string out = service.name() + " " + EndpointList(service);
  if (std::string policies = DescribeServicePolicies(service); !policies.empty())
    out += " " + policies;
  return out;
}

std::string DescribeConsumer(const Consumer& consumer) {
  std::string out = consumer.name() + ": " + std::to_string(consumer.api_key_sha256_size()) +
                    " api key" + (consumer.api_key_sha256_size() == 1 ? "" : "s");
  if (consumer.has_jwt())
    out += ", jwt issuer " + consumer.jwt().issuer() +
           (consumer.jwt().secret().empty() ? " (public key)" : " (HS256 secret)");
  return out;
}

// "api: api.example.com, www.example.com until 2027-01-02 (default)"; never key material.
std::string DescribeCertificate(const Certificate& certificate) {
  const CertificateInfo info = ParseCertificate(certificate.cert_pem(), certificate.key_pem());
  std::string out = certificate.name() + ": " + JoinForMessage(info.dns_names, ", ") + " until " +
                    FormatUtcDate(info.not_after_unix_ms);
  if (certificate.is_default()) out += " (default)";
  return out;
}

// Edits (insert, delete, substitute) from `a` to `b`.
size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// The service a misspelt name most likely meant: the same letters but for case and '-', or at
// most two edits away. "" when none is close.
std::string ClosestService(std::string_view target,
                           const std::set<std::string, std::less<>>& services) {
  const auto squeeze = [](std::string_view text) {
    std::string out;
    for (char c : AsciiLower(text))
      if (c != '-' && c != '_') out += c;
    return out;
  };
  std::string best;
  size_t best_distance = 3;
  for (const std::string& service : services) {
    if (squeeze(service) == squeeze(target)) return service;
    const size_t distance = EditDistance(AsciiLower(target), service);
    if (distance < best_distance) {
      best_distance = distance;
      best = service;
    }
  }
  return best;
}

// Finds objects in a config (sorted: see SortConfig).
template <typename T>
const T* FindNamed(const google::protobuf::RepeatedPtrField<T>& items, std::string_view name) {
  for (const T& item : items)
    if (item.name() == name) return &item;
  return nullptr;
}

template <typename T>
T* FindNamed(google::protobuf::RepeatedPtrField<T>* items, std::string_view name) {
  for (T& item : *items)
    if (item.name() == name) return &item;
  return nullptr;
}

template <typename T>
void EraseNamed(google::protobuf::RepeatedPtrField<T>* items, std::string_view name) {
  for (int i = 0; i < items->size(); ++i)
    if (items->Get(i).name() == name) {
      items->DeleteSubrange(i, 1);
      return;
    }
}

std::set<std::string, std::less<>> ServiceNames(const Config& config) {
  std::set<std::string, std::less<>> names;
  for (const auto& service : config.services()) names.insert(service.name());
  return names;
}

// The services that speak h2c to their endpoints, which no aggregate part may target.
std::set<std::string, std::less<>> H2cServiceNames(const Config& config) {
  std::set<std::string, std::less<>> names;
  for (const auto& service : config.services())
    if (service.protocol() == gateway::v1::UPSTREAM_H2C) names.insert(service.name());
  return names;
}

Route* FindRouteByIdentity(Config* config, const RouteIdentity& identity) {
  for (Route& route : *config->mutable_routes())
    if (IdentityOf(route) == identity) return &route;
  return nullptr;
}

// The route a key names: the one with exactly the key's conditions (and kind, unless
// MATCH_UNSPECIFIED); else the only one that has them all; else kNotFound, or
// kFailedPrecondition naming the candidates. `key` is canonical.
StoreResult<Route> FindRoute(const Config& config, const RouteKey& key) {
  const bool any_kind = key.match() == gateway::v1::MATCH_UNSPECIFIED;
  std::vector<Route> candidates;  // every route with the key's conditions, and maybe more
  std::vector<Route> exact;       // those with exactly the key's conditions
  for (const Route& route : config.routes()) {
    if (route.path() != key.path() || (!any_kind && route.match() != key.match())) continue;
    if (!HasKeyConditions(route, key, false)) continue;
    if (HasKeyConditions(route, key, true)) exact.push_back(route);
    candidates.push_back(route);
  }
  if (exact.size() == 1) return std::move(exact.front());
  if (candidates.empty()) {
    if (HasConditions(key))
      return StoreError{StoreCode::kNotFound,
                        "no route " + DescribeRouteMatch(RouteOfKey(key)) + " exists"};
    if (any_kind) return StoreError{StoreCode::kNotFound, "no route has path " + key.path()};
    return StoreError{
        StoreCode::kNotFound,
        "route " + key.path() + " (" + std::string(MatchName(key.match())) + ") does not exist"};
  }
  if (candidates.size() == 1) return std::move(candidates.front());
  if (exact.size() == 2 && candidates.size() == 2 && !HasConditions(key))
    return StoreError{StoreCode::kFailedPrecondition,
                      "path " + key.path() +
                          " has both a prefix and an exact route; choose one with --prefix or "
                          "--exact"};
  std::vector<std::string> names;
  for (const auto& route : (exact.empty() ? candidates : exact))
    names.push_back(DescribeRouteMatch(route));
  return StoreError{StoreCode::kFailedPrecondition,
                    "path " + key.path() + " names " + FormatCount(names.size()) +
                        " routes: " + JoinForMessage(names, "; ") +
                        "; name one with --exact/--prefix, --host, --method or --header"};
}

// A split's bare names must be registered services; an aggregate part's service must not speak
// h2c.
std::optional<StoreError> CheckRouteAgainstServices(const Config& config, const Route& route) {
  if (!route.split().empty()) {
    if (std::string e = ValidateSplitTargets(route, ServiceNames(config)); !e.empty())
      return Invalid(e);
  }
  if (!route.aggregate().empty()) {
    if (std::string e = ValidateAggregateTargets(route, H2cServiceNames(config)); !e.empty())
      return Invalid(e);
  }
  return std::nullopt;
}

// The warning for one target of a plain route or an aggregate part ("" when none): no service
// by that name, and no dot or port. `what` names it ("target", "aggregate part 'user' target").
std::string TargetWarning(const std::set<std::string, std::less<>>& services,
                          const std::string& target, const std::string& what) {
  // A dot or a port says "a host"; only a bare name could be a service somebody misspelt.
  if (target.empty() || target.find_first_of(".:[") != std::string::npos) return "";
  if (services.count(target)) return "";
  std::string warning = what + " " + Quote(target) +
                        " is not a registered service: every gateway will resolve it by DNS "
                        "(port 80), as a Kubernetes Service name";
  if (std::string closest = ClosestService(target, services); !closest.empty())
    warning += "; did you mean service " + Quote(closest) + "?";
  return warning;
}

// Warnings for a route's single target and for each aggregate part's, which follow the same
// rules.
std::vector<std::string> TargetWarnings(const Config& config, const Route& route) {
  const auto services = ServiceNames(config);
  std::vector<std::string> warnings;
  if (std::string warning = TargetWarning(services, route.target(), "target"); !warning.empty())
    warnings.push_back(std::move(warning));
  for (const auto& part : route.aggregate())
    if (std::string warning = TargetWarning(services, part.target(),
                                            "aggregate part " + Quote(part.key()) + " target");
        !warning.empty())
      warnings.push_back(std::move(warning));
  return warnings;
}

std::optional<StoreError> ConsumerNameError(std::string_view name) {
  if (std::string e = ValidateServiceName(name); !e.empty())
    return Invalid("consumer" + e.substr(std::string_view("service").size()));
  return std::nullopt;
}

StoreError ConsumerNotFound(std::string_view name) {
  return {StoreCode::kNotFound, "consumer " + std::string(name) + " does not exist"};
}

std::optional<StoreError> CertificateNameError(std::string_view name) {
  if (std::string e = ValidateServiceName(name); !e.empty())
    return Invalid("certificate" + e.substr(std::string_view("service").size()));
  return std::nullopt;
}

StoreError CertificateNotFound(std::string_view name) {
  return {StoreCode::kNotFound, "certificate " + std::string(name) + " does not exist"};
}

// A certificate of a request with only the fields the store keeps: key_sha256, dns_names and
// not_after_unix_ms are for answers (and apply's key_sha256 is resolved before this).
Certificate StoredForm(const Certificate& request) {
  Certificate certificate = Known(request);
  certificate.clear_version();
  certificate.clear_key_sha256();
  certificate.clear_dns_names();
  certificate.clear_not_after_unix_ms();
  return certificate;
}

// The write rule on validity dates, which ValidateConfig leaves out (a refusal that depends on
// the clock would make gateways refuse tomorrow what they took today): a certificate written
// that is expired or not yet valid is refused, or with !refuse (a rollback restores what was)
// warned about; one that expires within kCertificateExpiryWarningDays is a warning.
std::optional<StoreError> CheckValidityNow(const Certificate& certificate, bool refuse,
                                           std::vector<std::string>* warnings) {
  const CertificateInfo info = ParseCertificate(certificate.cert_pem(), certificate.key_pem());
  if (!info.error.empty()) return Invalid("certificate " + certificate.name() + ": " + info.error);
  const int64_t now = NowUnixMs();
  std::string problem;
  if (info.not_after_unix_ms < now)
    problem = "certificate " + certificate.name() + " expired on " +
              FormatUtcDate(info.not_after_unix_ms);
  else if (info.not_before_unix_ms > now)
    problem = "certificate " + certificate.name() + " is not valid before " +
              FormatUtcDate(info.not_before_unix_ms);
  if (!problem.empty()) {
    if (refuse) return Invalid(problem + "; nothing was written");
    warnings->push_back(problem);
    return std::nullopt;
  }
  constexpr int64_t kDayMs = 86'400'000;
  const int64_t days_left = (info.not_after_unix_ms - now) / kDayMs;
  if (days_left < kCertificateExpiryWarningDays)
    warnings->push_back("certificate " + certificate.name() + " expires on " +
                        FormatUtcDate(info.not_after_unix_ms) + ", in " +
                        (days_left == 0 ? std::string("less than a day")
                                        : FormatCount(static_cast<uint64_t>(days_left)) +
                                              (days_left == 1 ? " day" : " days")) +
                        "; renew it with `gatewayctl cert update " + certificate.name() +
                        " --cert FILE --key FILE`");
  return std::nullopt;
}

// Takes the default flag from the certificate of `config` that has it, unless that is `name`;
// returns that certificate's name ("" when none lost it). Its version becomes `version`.
std::string TakeDefault(Config* config, std::string_view name, uint64_t version) {
  for (Certificate& certificate : *config->mutable_certificates())
    if (certificate.is_default() && certificate.name() != name) {
      certificate.set_is_default(false);
      certificate.set_version(version);
      return certificate.name();
    }
  return "";
}

// A service that an aggregate part targets cannot speak h2c: the part reads its answer whole as
// HTTP/1.1 JSON. (ValidateConfig refuses the config too; this says it in the service's terms.)
std::optional<StoreError> AggregatePartsRefuseH2c(const Config& config, const Service& service) {
  if (service.protocol() != gateway::v1::UPSTREAM_H2C) return std::nullopt;
  for (const Route& route : config.routes())
    for (const auto& part : route.aggregate())
      if (part.target() == service.name())
        return Invalid("service " + Quote(service.name()) + " cannot speak h2c: aggregate part " +
                       Quote(part.key()) + " of route " + DescribeRouteMatch(route) +
                       " uses it, and a part must speak HTTP/1.1");
  return std::nullopt;
}

StoreError ServiceNotFound(std::string_view name) {
  return {StoreCode::kNotFound, "service " + std::string(name) + " does not exist"};
}

// kFailedPrecondition naming the routes that send traffic to service `name` (as their target,
// as one target of a split, or as an aggregate part's); nullopt when none does.
std::optional<StoreError> ServiceInUse(const Config& config, std::string_view name) {
  std::vector<std::string> users;
  for (const Route& route : config.routes()) {
    bool uses = route.target() == name;
    for (const auto& target : route.split()) uses = uses || target.target() == name;
    for (const auto& part : route.aggregate()) uses = uses || part.target() == name;
    if (!uses) continue;
    std::string user = route.path();
    if (route.match() == gateway::v1::MATCH_EXACT) user += " (exact)";
    if (route.host() != "" || !route.methods().empty() || !route.headers().empty())
      user = DescribeRouteMatch(route);
    if (!route.split().empty()) user += " (split)";
    if (!route.aggregate().empty()) user += " (aggregate)";
    users.push_back(std::move(user));
  }
  if (users.empty()) return std::nullopt;
  const bool one = users.size() == 1;
  return StoreError{StoreCode::kFailedPrecondition,
                    "service " + std::string(name) + " is used by " +
                        (one ? std::string("route ") : FormatCount(users.size()) + " routes: ") +
                        JoinForMessage(users, ", ") + "; move or delete " + (one ? "it" : "them") +
                        " first"};
}

// ---------------------------------------------------------------- declarative writes

using gateway::v1::ConfigDelta;
using gateway::v1::ObjectChange;

template <typename T>
bool SameButVersion(const T& a, const T& b) {
  T x = a, y = b;
  x.clear_version();
  y.clear_version();
  return google::protobuf::util::MessageDifferencer::Equals(x, y);
}

std::string NameOf(const Service& service) { return service.name(); }
std::string NameOf(const Consumer& consumer) { return consumer.name(); }
std::string NameOf(const Certificate& certificate) { return certificate.name(); }
RouteIdentity NameOf(const Route& route) { return IdentityOf(route); }
RouteIdentity NameOf(const RouteKey& key) { return IdentityOf(key); }
const std::string& NameOf(const std::string& name) { return name; }

// `stored` with each object of `desired` in place of the stored one of its name (or added), and
// with `prune` without the objects `desired` does not name. An object equal to the stored one
// but for its version keeps it; the others take `version`.
template <typename T>
void MergeList(const google::protobuf::RepeatedPtrField<T>& desired, bool prune, uint64_t version,
               google::protobuf::RepeatedPtrField<T>* stored) {
  using Name = decltype(NameOf(std::declval<const T&>()));
  std::map<std::decay_t<Name>, int> index;
  for (int i = 0; i < stored->size(); ++i) index.emplace(NameOf(stored->Get(i)), i);
  std::set<std::decay_t<Name>> wanted;
  for (const T& object : desired) {
    wanted.insert(NameOf(object));
    auto it = index.find(NameOf(object));
    T* slot = it != index.end() ? stored->Mutable(it->second) : nullptr;
    if (slot && SameButVersion(*slot, object)) continue;
    if (!slot) slot = stored->Add();
    *slot = object;
    slot->set_version(version);
  }
  if (prune)
    stored->erase(std::remove_if(stored->begin(), stored->end(),
                                 [&](const T& object) { return !wanted.count(NameOf(object)); }),
                  stored->end());
}

// The ObjectChanges of one kind of object, from a version's change both ways, in name order:
// upserted objects are CHANGED when the reverse change holds their earlier state, else CREATED;
// removed ones are DELETED, with their last state from the reverse change.
template <typename T, typename Removed>
void AddChanges(const google::protobuf::RepeatedPtrField<T>& upserted, const Removed& removed,
                const google::protobuf::RepeatedPtrField<T>& earlier, T* (ObjectChange::*before)(),
                T* (ObjectChange::*after)(), std::vector<ObjectChange>* out) {
  using Name = std::decay_t<decltype(NameOf(std::declval<const T&>()))>;
  std::map<Name, const T*> was;
  for (const T& object : earlier) was.emplace(NameOf(object), &object);
  std::map<Name, ObjectChange> changes;
  for (const T& object : upserted) {
    ObjectChange& change = changes[NameOf(object)];
    auto it = was.find(NameOf(object));
    change.set_action(it == was.end() ? ObjectChange::CREATED : ObjectChange::CHANGED);
    if (it != was.end()) *(change.*before)() = *it->second;
    *(change.*after)() = object;
  }
  for (const auto& key : removed) {
    auto it = was.find(NameOf(key));
    if (it == was.end()) continue;  // (a reverse change always holds what was removed)
    ObjectChange& change = changes[it->first];
    change.set_action(ObjectChange::DELETED);
    *(change.*before)() = *it->second;
  }
  for (auto& [name, change] : changes) out->push_back(std::move(change));
}

std::vector<ObjectChange> ChangesOf(const ConfigDelta& forward, const ConfigDelta& reverse) {
  std::vector<ObjectChange> changes;
  AddChanges(forward.upserted_services(), forward.removed_services(), reverse.upserted_services(),
             &ObjectChange::mutable_service_before, &ObjectChange::mutable_service_after, &changes);
  AddChanges(forward.upserted_routes(), forward.removed_routes(), reverse.upserted_routes(),
             &ObjectChange::mutable_route_before, &ObjectChange::mutable_route_after, &changes);
  AddChanges(forward.upserted_consumers(), forward.removed_consumers(),
             reverse.upserted_consumers(), &ObjectChange::mutable_consumer_before,
             &ObjectChange::mutable_consumer_after, &changes);
  AddChanges(forward.upserted_certificates(), forward.removed_certificates(),
             reverse.upserted_certificates(), &ObjectChange::mutable_certificate_before,
             &ObjectChange::mutable_certificate_after, &changes);
  return changes;
}

// "service cart created; route /api (prefix) changed; ..." for the history (the first few).
std::string SummarizeChanges(const std::vector<ObjectChange>& changes) {
  constexpr size_t kNamed = 10;
  std::vector<std::string> parts;
  for (const ObjectChange& change : changes) {
    if (parts.size() == kNamed) {
      parts.push_back("and " + FormatCount(changes.size() - kNamed) + " more");
      break;
    }
    std::string part;
    if (change.has_service_after() || change.has_service_before())
      part = "service " + (change.has_service_after() ? change.service_after().name()
                                                      : change.service_before().name());
    else if (change.has_route_after() || change.has_route_before())
      part = "route " + DescribeRouteMatch(change.has_route_after() ? change.route_after()
                                                                    : change.route_before());
    else if (change.has_consumer_after() || change.has_consumer_before())
      part = "consumer " + (change.has_consumer_after() ? change.consumer_after().name()
                                                        : change.consumer_before().name());
    else
      part = "certificate " + (change.has_certificate_after() ? change.certificate_after().name()
                                                              : change.certificate_before().name());
    part += change.action() == ObjectChange::CREATED   ? " created"
            : change.action() == ObjectChange::CHANGED ? " changed"
                                                       : " deleted";
    parts.push_back(std::move(part));
  }
  return JoinForMessage(parts, "; ");
}

// Retries of a write that lost a race with another replica's, before it is refused.
constexpr int kWriteAttempts = 8;

}  // namespace

std::unique_ptr<ConfigStore> ConfigStore::Open(const std::string& db,
                                               const ConfigStoreOptions& options) {
  auto store =
      std::make_unique<ConfigStore>(OpenStoreBackend(db, std::chrono::seconds(30)), options);
  auto snapshot = store->LoadSnapshot();
  if (!snapshot) throw std::runtime_error(snapshot.error().message);
  return store;
}

ConfigStore::ConfigStore(std::unique_ptr<StoreBackend> backend, const ConfigStoreOptions& options)
    : backend_(std::move(backend)), options_(options) {}

void ConfigStore::Learn(const ConfigPtr& config, bool local) {
  if (known_ && config->version() <= known_->version()) return;
  known_ = config;
  if (on_change_) on_change_(config, local);
}

StoreResult<ConfigPtr> ConfigStore::ReadCurrent() {
  auto version = backend_->ReadVersion();
  if (!version) return version.error();
  if (known_ && known_->version() == *version) return known_;
  return backend_->ReadConfig();
}

template <typename T>
StoreResult<T> ConfigStore::Read(const std::function<StoreResult<T>(const Config&)>& read) {
  if (auto e = backend_->Begin(false)) return *e;
  auto current = ReadCurrent();
  backend_->Rollback();  // read only: nothing to commit
  if (!current) return current.error();
  Learn(*current, false);
  return read(**current);
}

StoreResult<ConfigPtr> ConfigStore::LoadSnapshot() {
  return Read<ConfigPtr>([this](const Config&) -> StoreResult<ConfigPtr> { return known_; });
}

std::optional<StoreError> ConfigStore::Refresh() {
  auto current = LoadSnapshot();
  if (!current) return current.error();
  return std::nullopt;
}

StoreResult<ConfigPtr> ConfigStore::Write(const WriteContext& context, const Rule& rule) {
  std::mt19937 random(std::random_device{}());
  for (int attempt = 1;; ++attempt) {
    auto result = WriteOnce(context, rule);
    if (result || result.error().code != StoreCode::kConflict) return result;
    if (attempt == kWriteAttempts)
      return StoreError{StoreCode::kUnavailable,
                        backend_->name() + ": the write lost " + std::to_string(attempt) +
                            " races with other replicas' writes; retry it"};
    // Writers that collided start again at different times.
    std::this_thread::sleep_for(std::chrono::milliseconds(
        std::uniform_int_distribution<int>(1, 5 << std::min(attempt, 4))(random)));
  }
}

StoreResult<ConfigPtr> ConfigStore::WriteOnce(const WriteContext& context, const Rule& rule) {
  if (auto e = backend_->Begin(true)) return *e;
  struct RollbackUnlessCommitted {
    StoreBackend& backend;
    bool done = false;
    ~RollbackUnlessCommitted() {
      if (!done) backend.Rollback();
    }
  } guard{*backend_};

  auto current = ReadCurrent();
  if (!current) return current.error();
  const Config& before = **current;
  if (context.if_version && *context.if_version != before.version())
    return StoreError{StoreCode::kFailedPrecondition,
                      "the config is at version " + std::to_string(before.version()) + ", not " +
                          std::to_string(*context.if_version) +
                          " (--if-version): it changed since; nothing was written"};
  const uint64_t version = before.version() + 1;
  Config next = before;
  HistoryEntry history;
  if (auto e = rule(before, version, &next, &history)) return *e;
  history.actor = context.actor;
  history.command = context.command;
  SortConfig(&next);
  gateway::v1::ConfigDelta delta = DiffConfigs(before, next);
  if (DeltaIsEmpty(delta)) {  // a no-op: no version, no history
    Learn(*current, false);
    return *current;
  }
  next.set_version(version);
  // What every gateway will check of it, checked before anything is stored: a config they
  // would refuse must never become the newest version (each later one would be refused too).
  if (std::string e = ValidateConfig(next); !e.empty())
    return Invalid("refused: the gateways would refuse the config this makes: " + e);
  // A write that does not grow the config passes even over the limit (it may have been
  // lowered since): the way back under it must stay open.
  const uint64_t bytes = next.ByteSizeLong();
  if (bytes > options_.max_config_bytes && bytes > before.ByteSizeLong()) {
    std::string size = DescribeByteSize(bytes), limit = DescribeByteSize(options_.max_config_bytes);
    if (size == limit) {  // rounded alike: say it exactly
      size = FormatCount(bytes) + " bytes";
      limit = FormatCount(options_.max_config_bytes) + " bytes";
    }
    return StoreError{StoreCode::kResourceExhausted,
                      "refused: the config would be " + size + ", more than the " + limit +
                          " gateways are sent (--max-config-size); remove routes or header "
                          "rules first"};
  }
  if (context.dry_run) return ConfigPtr(std::make_shared<const Config>(std::move(next)));
  history.reverse = DiffConfigs(next, before);
  if (auto e = backend_->WriteChange(delta, version, history)) return *e;
  if (version > options_.history_keep)
    if (auto e = backend_->ForgetHistory(version - options_.history_keep)) return *e;
  if (auto e = backend_->Commit()) return *e;
  guard.done = true;
  auto after = std::make_shared<const Config>(std::move(next));
  Learn(after, true);
  return ConfigPtr(after);
}

// ---------------------------------------------------------------- services

StoreResult<ServiceWrite> ConfigStore::CreateService(const Service& request,
                                                     const WriteContext& context) {
  Service service = Known(request);
  service.clear_version();
  CanonicalizeService(&service);
  if (std::string e = ValidateService(service); !e.empty()) return Invalid(e);
  auto after =
      Write(context,
            [&](const Config& current, uint64_t version, Config* next,
                HistoryEntry* history) -> std::optional<StoreError> {
              if (FindNamed(current.services(), service.name()))
                return StoreError{StoreCode::kAlreadyExists,
                                  "service " + service.name() +
                                      " already exists; use `service update` to change it"};
              service.set_version(version);
              *next->add_services() = service;
              history->action = "create_service";
              history->detail = DescribeService(service);
              return std::nullopt;
            });
  if (!after) return after.error();
  return ServiceWrite{std::move(service), std::move(*after)};
}

StoreResult<ServiceWrite> ConfigStore::UpdateService(const Service& request,
                                                     const google::protobuf::FieldMask& mask,
                                                     const WriteContext& context) {
  if (std::string e = ValidateServiceName(request.name()); !e.empty()) return Invalid(e);
  google::protobuf::FieldMask fields = mask;
  if (fields.paths().empty()) fields.add_paths("endpoints");  // clients from before the mask
  if (auto e = CheckMask(fields, Service::descriptor(), kUpdatableServiceFields, "service"))
    return *e;
  Service service;
  auto after = Write(context,
                     [&](const Config&, uint64_t version, Config* next,
                         HistoryEntry* history) -> std::optional<StoreError> {
                       Service* stored = FindNamed(next->mutable_services(), request.name());
                       if (!stored) return ServiceNotFound(request.name());
                       service = *stored;  // the stored service with the named fields changed
                       ApplyMask(Known(request), fields, &service);
                       CanonicalizeService(&service);
                       if (std::string e = ValidateService(service); !e.empty()) return Invalid(e);
                       if (auto e = AggregatePartsRefuseH2c(*next, service)) return *e;
                       if (google::protobuf::util::MessageDifferencer::Equals(service, *stored))
                         return std::nullopt;  // a no-op
                       service.set_version(version);
                       *stored = service;
                       history->action = "update_service";
                       history->detail = DescribeService(service);
                       return std::nullopt;
                     });
  if (!after) return after.error();
  return ServiceWrite{std::move(service), std::move(*after)};
}

StoreResult<ServiceRead> ConfigStore::GetService(std::string_view name) {
  if (std::string e = ValidateServiceName(name); !e.empty()) return Invalid(e);
  return Read<ServiceRead>([&](const Config& config) -> StoreResult<ServiceRead> {
    const Service* service = FindNamed(config.services(), name);
    if (!service) return ServiceNotFound(name);
    return ServiceRead{*service, config.version()};
  });
}

StoreResult<ConfigPtr> ConfigStore::ListServices() { return LoadSnapshot(); }

StoreResult<ConfigPtr> ConfigStore::DeleteService(std::string_view name,
                                                  const WriteContext& context) {
  if (std::string e = ValidateServiceName(name); !e.empty()) return Invalid(e);
  return Write(context,
               [&](const Config& current, uint64_t, Config* next,
                   HistoryEntry* history) -> std::optional<StoreError> {
                 if (!FindNamed(current.services(), name)) return ServiceNotFound(name);
                 if (auto e = ServiceInUse(current, name)) return *e;
                 EraseNamed(next->mutable_services(), name);
                 history->action = "delete_service";
                 history->detail = std::string(name);
                 return std::nullopt;
               });
}

// ---------------------------------------------------------------- routes

StoreResult<RouteWrite> ConfigStore::CreateRoute(const Route& request,
                                                 const WriteContext& context) {
  Route route = Known(request);
  route.clear_version();
  CanonicalizeRoute(&route);
  if (std::string e = ValidateRoute(route); !e.empty()) return Invalid(e);
  std::vector<std::string> warnings;
  auto after =
      Write(context,
            [&](const Config& current, uint64_t version, Config* next,
                HistoryEntry* history) -> std::optional<StoreError> {
              if (auto e = CheckRouteAgainstServices(current, route)) return *e;
              warnings = TargetWarnings(current, route);
              if (const Route* existing = FindRouteByIdentity(next, IdentityOf(route)))
                return StoreError{StoreCode::kAlreadyExists, "route " + DescribeRouteMatch(route) +
                                                                 " already exists -> " +
                                                                 FormatRouteTargets(*existing)};
              route.set_version(version);
              *next->add_routes() = route;
              history->action = "create_route";
              history->detail = DescribeRoute(route);
              return std::nullopt;
            });
  if (!after) return after.error();
  return RouteWrite{std::move(route), std::move(*after), std::move(warnings)};
}

StoreResult<RouteWrite> ConfigStore::UpdateRoute(const Route& request,
                                                 const google::protobuf::FieldMask& mask,
                                                 const WriteContext& context) {
  RouteKey key = KeyOf(request);
  CanonicalizeRouteKey(&key);
  if (auto e = CheckRouteKey(key)) return *e;
  google::protobuf::FieldMask fields = mask;
  if (fields.paths().empty()) {  // a client from before update_mask: the fields it set
    if (!request.target().empty()) fields.add_paths("target");
    if (request.max_body_size() != 0) fields.add_paths("max_body_size");
    if (fields.paths().empty())
      return Invalid("nothing to update on route " + request.path() +
                     ": give a new target or a max_body_size");
  }
  if (auto e = CheckMask(fields, Route::descriptor(), kUpdatableRouteFields, "route")) return *e;
  // "target", "split" and "aggregate" replace each other: one of them per update.
  bool names_target = false;
  bool names_split = false;
  bool names_aggregate = false;
  bool names_aggregate_policy = false;  // aggregate_timeout_ms or aggregate_partial
  for (const auto& path : fields.paths()) {
    names_target = names_target || path == "target";
    names_split = names_split || path == "split";
    names_aggregate = names_aggregate || path == "aggregate";
    names_aggregate_policy =
        names_aggregate_policy || path == "aggregate_timeout_ms" || path == "aggregate_partial";
  }
  if (names_target + names_split + names_aggregate > 1) {
    std::vector<std::string> named;
    if (names_target) named.push_back("the target");
    if (names_split) named.push_back("the split");
    if (names_aggregate) named.push_back("the aggregate parts");
    return Invalid("route " + request.path() + ": update either " + named[0] + " or " +
                   (named.size() == 2 ? named[1] : named[1] + " or " + named[2]) +
                   " (each replaces the others)");
  }

  Route route;
  std::vector<std::string> warnings;
  auto after = Write(context,
                     [&](const Config& current, uint64_t version, Config* next,
                         HistoryEntry* history) -> std::optional<StoreError> {
                       auto found = FindRoute(current, key);
                       if (!found) return found.error();
                       const Route& before = *found;
                       route = before;  // the stored route with the named fields changed
                       ApplyMask(Known(request), fields, &route);
                       // "target", "split" and "aggregate" replace each other; a route that stops
                       // being an aggregate loses the aggregate's policies too, unless the update
                       // names them.
                       if (names_target || names_split) {
                         route.clear_aggregate();
                         if (!names_aggregate_policy) {
                           route.clear_aggregate_timeout_ms();
                           route.clear_aggregate_partial();
                         }
                       }
                       if (names_target || names_aggregate) route.clear_split();
                       if (names_split || names_aggregate) route.clear_target();
                       CanonicalizeRoute(&route);
                       if (std::string e = ValidateRoute(route); !e.empty()) return Invalid(e);
                       if (auto e = CheckRouteAgainstServices(current, route)) return *e;
                       // Warned about when the update names the target or the parts; a route kept
                       // on a DNS name is not news.
                       warnings = names_target || names_aggregate ? TargetWarnings(current, route)
                                                                  : std::vector<std::string>{};
                       if (google::protobuf::util::MessageDifferencer::Equals(route, before))
                         return std::nullopt;
                       route.set_version(version);
                       *FindRouteByIdentity(next, IdentityOf(before)) = route;
                       history->action = "update_route";
                       history->detail = DescribeRouteChange(before, route);
                       return std::nullopt;
                     });
  if (!after) return after.error();
  return RouteWrite{std::move(route), std::move(*after), std::move(warnings)};
}

StoreResult<RouteRead> ConfigStore::GetRoute(const RouteKey& request) {
  RouteKey key = request;
  CanonicalizeRouteKey(&key);
  if (auto e = CheckRouteKey(key)) return *e;
  return Read<RouteRead>([&](const Config& config) -> StoreResult<RouteRead> {
    auto found = FindRoute(config, key);
    if (!found) return found.error();
    return RouteRead{std::move(*found), config.version()};
  });
}

StoreResult<ConfigPtr> ConfigStore::ListRoutes() { return LoadSnapshot(); }

StoreResult<RouteWrite> ConfigStore::DeleteRoute(const RouteKey& request,
                                                 const WriteContext& context) {
  RouteKey key = request;
  CanonicalizeRouteKey(&key);
  if (auto e = CheckRouteKey(key)) return *e;
  Route deleted;
  auto after = Write(
      context,
      [&](const Config& current, uint64_t, Config* next,
          HistoryEntry* history) -> std::optional<StoreError> {
        auto found = FindRoute(current, key);
        if (!found) return found.error();
        deleted = std::move(*found);
        const RouteIdentity identity = IdentityOf(deleted);
        auto* routes = next->mutable_routes();
        routes->erase(std::remove_if(routes->begin(), routes->end(),
                                     [&](const Route& r) { return IdentityOf(r) == identity; }),
                      routes->end());
        history->action = "delete_route";
        history->detail = DescribeRoute(deleted);
        return std::nullopt;
      });
  if (!after) return after.error();
  return RouteWrite{std::move(deleted), std::move(*after), {}};
}

// ---------------------------------------------------------------- consumers

StoreResult<ConsumerWrite> ConfigStore::CreateConsumer(const Consumer& request,
                                                       const std::vector<std::string>& api_keys,
                                                       const WriteContext& context) {
  Consumer consumer = Known(request);
  consumer.clear_version();
  if (consumer.has_jwt()) consumer.mutable_jwt()->clear_secret_sha256();  // answers only
  for (const std::string& key : api_keys) {
    std::string error;
    if (!ValidateApiKey(key, &error))
      return Invalid("consumer " + Quote(consumer.name()) + ": " + error);
    consumer.add_api_key_sha256(ApiKeySha256Hex(key));
  }
  if (std::string e = ValidateConsumer(consumer); !e.empty()) return Invalid(e);
  // A text column ends at a NUL byte (PostgreSQL's, as libpq sends it): a credential holding
  // one would be published whole but stored cut, another key after a restart.
  // (The issuer is refused any control character already.)
  if (consumer.jwt().secret().find('\0') != std::string::npos ||
      consumer.jwt().public_key_pem().find('\0') != std::string::npos)
    return Invalid("consumer " + Quote(consumer.name()) +
                   ": a jwt secret or public key cannot hold a NUL byte");
  auto after = Write(
      context,
      [&](const Config& current, uint64_t version, Config* next,
          HistoryEntry* history) -> std::optional<StoreError> {
        if (FindNamed(current.consumers(), consumer.name()))
          return StoreError{StoreCode::kAlreadyExists,
                            "consumer " + consumer.name() +
                                " already exists; delete it first to change its credentials"};
        for (const std::string& digest : consumer.api_key_sha256())
          for (const Consumer& other : current.consumers())
            if (std::find(other.api_key_sha256().begin(), other.api_key_sha256().end(), digest) !=
                other.api_key_sha256().end())
              return StoreError{StoreCode::kAlreadyExists,
                                "an api key given is already a key of consumer " + other.name()};
        consumer.set_version(version);
        *next->add_consumers() = consumer;
        history->action = "create_consumer";
        history->detail = DescribeConsumer(consumer);
        return std::nullopt;
      });
  if (!after) return after.error();
  return ConsumerWrite{std::move(consumer), std::move(*after)};
}

StoreResult<ConsumerRead> ConfigStore::GetConsumer(std::string_view name) {
  if (auto e = ConsumerNameError(name)) return *e;
  return Read<ConsumerRead>([&](const Config& config) -> StoreResult<ConsumerRead> {
    const Consumer* consumer = FindNamed(config.consumers(), name);
    if (!consumer) return ConsumerNotFound(name);
    return ConsumerRead{*consumer, config.version()};
  });
}

StoreResult<ConfigPtr> ConfigStore::ListConsumers() { return LoadSnapshot(); }

StoreResult<ConfigPtr> ConfigStore::DeleteConsumer(std::string_view name,
                                                   const WriteContext& context) {
  if (auto e = ConsumerNameError(name)) return *e;
  return Write(context,
               [&](const Config& current, uint64_t, Config* next,
                   HistoryEntry* history) -> std::optional<StoreError> {
                 if (!FindNamed(current.consumers(), name)) return ConsumerNotFound(name);
                 EraseNamed(next->mutable_consumers(), name);
                 history->action = "delete_consumer";
                 history->detail = std::string(name);
                 return std::nullopt;
               });
}

// ---------------------------------------------------------------- certificates

StoreResult<CertificateWrite> ConfigStore::CreateCertificate(const Certificate& request,
                                                             const WriteContext& context) {
  Certificate certificate = StoredForm(request);
  if (std::string e = ValidateCertificate(certificate); !e.empty()) return Invalid(e);
  std::vector<std::string> warnings;
  if (auto e = CheckValidityNow(certificate, /*refuse=*/true, &warnings)) return *e;
  std::string previous_default;
  auto after = Write(context,
                     [&](const Config& current, uint64_t version, Config* next,
                         HistoryEntry* history) -> std::optional<StoreError> {
                       if (FindNamed(current.certificates(), certificate.name()))
                         return StoreError{StoreCode::kAlreadyExists,
                                           "certificate " + certificate.name() +
                                               " already exists; use `cert update` to change it"};
                       previous_default = certificate.is_default()
                                              ? TakeDefault(next, certificate.name(), version)
                                              : "";
                       certificate.set_version(version);
                       *next->add_certificates() = certificate;
                       history->action = "create_certificate";
                       history->detail = DescribeCertificate(certificate);
                       if (!previous_default.empty())
                         history->detail += ", default before: " + previous_default;
                       return std::nullopt;
                     });
  if (!after) return after.error();
  return CertificateWrite{std::move(certificate), std::move(*after), std::move(warnings),
                          std::move(previous_default)};
}

StoreResult<CertificateWrite> ConfigStore::UpdateCertificate(
    const Certificate& request, const google::protobuf::FieldMask& mask,
    const WriteContext& context) {
  if (auto e = CertificateNameError(request.name())) return *e;
  if (mask.paths().empty())
    return Invalid("nothing to update on certificate " + request.name() +
                   ": give --cert, --key, --default or --no-default");
  if (auto e =
          CheckMask(mask, Certificate::descriptor(), kUpdatableCertificateFields, "certificate"))
    return *e;
  // New key material must be valid now; a flag changed on a stored certificate is only warned
  // about (it is served already).
  const bool new_material =
      std::any_of(mask.paths().begin(), mask.paths().end(),
                  [](const std::string& path) { return path == "cert_pem" || path == "key_pem"; });
  Certificate certificate;
  std::vector<std::string> warnings;
  std::string previous_default;
  auto after =
      Write(context,
            [&](const Config&, uint64_t version, Config* next,
                HistoryEntry* history) -> std::optional<StoreError> {
              Certificate* stored = FindNamed(next->mutable_certificates(), request.name());
              if (!stored) return CertificateNotFound(request.name());
              certificate = *stored;  // the stored certificate with the named fields changed
              ApplyMask(StoredForm(request), mask, &certificate);
              if (std::string e = ValidateCertificate(certificate); !e.empty()) return Invalid(e);
              warnings.clear();
              if (auto e = CheckValidityNow(certificate, new_material, &warnings)) return *e;
              previous_default.clear();
              if (google::protobuf::util::MessageDifferencer::Equals(certificate, *stored))
                return std::nullopt;  // a no-op
              if (certificate.is_default() && !stored->is_default())
                previous_default = TakeDefault(next, certificate.name(), version);
              certificate.set_version(version);
              *stored = certificate;
              history->action = "update_certificate";
              history->detail = DescribeCertificate(certificate);
              if (!previous_default.empty())
                history->detail += ", default before: " + previous_default;
              return std::nullopt;
            });
  if (!after) return after.error();
  return CertificateWrite{std::move(certificate), std::move(*after), std::move(warnings),
                          std::move(previous_default)};
}

StoreResult<CertificateRead> ConfigStore::GetCertificate(std::string_view name) {
  if (auto e = CertificateNameError(name)) return *e;
  return Read<CertificateRead>([&](const Config& config) -> StoreResult<CertificateRead> {
    const Certificate* certificate = FindNamed(config.certificates(), name);
    if (!certificate) return CertificateNotFound(name);
    return CertificateRead{*certificate, config.version()};
  });
}

StoreResult<ConfigPtr> ConfigStore::ListCertificates() { return LoadSnapshot(); }

StoreResult<ConfigPtr> ConfigStore::DeleteCertificate(std::string_view name,
                                                      const WriteContext& context) {
  if (auto e = CertificateNameError(name)) return *e;
  return Write(context,
               [&](const Config& current, uint64_t, Config* next,
                   HistoryEntry* history) -> std::optional<StoreError> {
                 if (!FindNamed(current.certificates(), name)) return CertificateNotFound(name);
                 EraseNamed(next->mutable_certificates(), name);
                 history->action = "delete_certificate";
                 history->detail = std::string(name);
                 return std::nullopt;
               });
}

// ---------------------------------------------------------------- declarative writes

StoreResult<ApplyWrite> ConfigStore::WriteDesired(
    const WriteContext& context, const std::string& action, const std::string& summary_prefix,
    const std::function<StoreResult<Config>(const Config& current)>& desired, bool prune,
    bool restore) {
  ApplyWrite result;
  const Rule rule = [&](const Config& current, uint64_t version, Config* next,
                        HistoryEntry* history) -> std::optional<StoreError> {
    auto wanted = desired(current);
    if (!wanted) return wanted.error();
    MergeList(wanted->services(), prune, version, next->mutable_services());
    MergeList(wanted->routes(), prune, version, next->mutable_routes());
    MergeList(wanted->consumers(), prune, version, next->mutable_consumers());
    MergeList(wanted->certificates(), prune, version, next->mutable_certificates());
    // A service deleted under a route that keeps its name as target would turn the route to
    // DNS, which is refused as `service delete` refuses it; a rollback restores a config that
    // was (a route may have named a service created only later).
    if (!restore)
      for (const Service& service : current.services())
        if (!FindNamed(next->services(), service.name()))
          if (auto e = ServiceInUse(*next, service.name())) return *e;
    for (const Service& service : next->services())
      if (service.version() == version)  // written by this version
        if (auto e = AggregatePartsRefuseH2c(*next, service)) return *e;
    result.warnings.clear();
    for (const Certificate& certificate : next->certificates())
      if (certificate.version() == version)  // written by this version
        if (auto e = CheckValidityNow(certificate, /*refuse=*/!restore, &result.warnings))
          return *e;
    for (const Route& route : next->routes()) {
      if (route.version() != version) continue;
      if (auto e = CheckRouteAgainstServices(*next, route)) return *e;
      for (auto& warning : TargetWarnings(*next, route))
        result.warnings.push_back(std::move(warning));
    }
    SortConfig(next);
    next->set_version(version);
    result.changes = ChangesOf(DiffConfigs(current, *next), DiffConfigs(*next, current));
    result.summary = summary_prefix + SummarizeChanges(result.changes);
    history->action = action;
    history->detail = result.summary;
    return std::nullopt;
  };
  auto after = Write(context, rule);
  if (!after) return after.error();
  result.snapshot = std::move(*after);
  return result;
}

StoreResult<ApplyWrite> ConfigStore::Apply(const gateway::v1::ApplyRequest& request,
                                           const WriteContext& context) {
  // Each object canonical and valid on its own, and given once; refusals say where it is.
  Config given;
  std::set<std::string, std::less<>> names;
  for (int i = 0; i < request.services_size(); ++i) {
    Service service = Known(request.services(i));
    service.clear_version();
    CanonicalizeService(&service);
    const std::string where = "services[" + std::to_string(i) + "]: ";
    if (std::string e = ValidateService(service); !e.empty()) return Invalid(where + e);
    if (!names.insert(service.name()).second)
      return Invalid(where + "service " + service.name() + " is given twice");
    *given.add_services() = std::move(service);
  }
  std::set<RouteIdentity> routes;
  for (int i = 0; i < request.routes_size(); ++i) {
    Route route = Known(request.routes(i));
    route.clear_version();
    CanonicalizeRoute(&route);
    const std::string where = "routes[" + std::to_string(i) + "]: ";
    if (std::string e = ValidateRoute(route); !e.empty()) return Invalid(where + e);
    if (!routes.insert(IdentityOf(route)).second)
      return Invalid(where + "route " + DescribeRouteMatch(route) + " is given twice");
    *given.add_routes() = std::move(route);
  }
  names.clear();
  std::vector<Consumer> consumers;
  for (int i = 0; i < request.consumers_size(); ++i) {
    Consumer consumer = Known(request.consumers(i).consumer());
    consumer.clear_version();
    const std::string where = "consumers[" + std::to_string(i) + "]: ";
    if (auto e = ConsumerNameError(consumer.name())) return Invalid(where + e->message);
    if (!names.insert(consumer.name()).second)
      return Invalid(where + "consumer " + consumer.name() + " is given twice");
    for (const std::string& key : request.consumers(i).api_keys()) {
      std::string error;
      if (!ValidateApiKey(key, &error))
        return Invalid(where + "consumer " + consumer.name() + ": " + error);
      consumer.add_api_key_sha256(ApiKeySha256Hex(key));
    }
    if (consumer.jwt().secret().find('\0') != std::string::npos ||
        consumer.jwt().public_key_pem().find('\0') != std::string::npos)
      return Invalid(where + "consumer " + consumer.name() +
                     ": a jwt secret or public key cannot hold a NUL byte");
    consumers.push_back(std::move(consumer));
  }
  names.clear();
  std::vector<Certificate> certificates;
  for (int i = 0; i < request.certificates_size(); ++i) {
    const Certificate& given_certificate = request.certificates(i);
    const std::string where = "certificates[" + std::to_string(i) + "]: ";
    Certificate certificate = StoredForm(given_certificate);
    if (auto e = CertificateNameError(certificate.name())) return Invalid(where + e->message);
    if (!names.insert(certificate.name()).second)
      return Invalid(where + "certificate " + certificate.name() + " is given twice");
    if (!given_certificate.key_sha256().empty() && !certificate.key_pem().empty())
      return Invalid(where + "certificate " + certificate.name() +
                     ": give key_pem or key_sha256, not both");
    if (given_certificate.key_sha256().empty()) {
      if (std::string e = ValidateCertificate(certificate); !e.empty()) return Invalid(where + e);
    } else {
      certificate.set_key_sha256(AsciiLower(given_certificate.key_sha256()));  // resolved below
    }
    certificates.push_back(std::move(certificate));
  }
  return WriteDesired(
      context, "apply", "",
      [&](const Config& current) -> StoreResult<Config> {
        Config desired = given;
        for (size_t i = 0; i < consumers.size(); ++i) {
          Consumer consumer = consumers[i];
          const std::string where = "consumers[" + std::to_string(i) + "]: ";
          if (consumer.has_jwt() && !consumer.jwt().secret_sha256().empty()) {
            // The stored secret, kept: it is never shown, only its digest.
            const Consumer* stored = FindNamed(current.consumers(), consumer.name());
            if (!consumer.jwt().secret().empty())
              return Invalid(where + "consumer " + consumer.name() +
                             ": give jwt.secret or jwt.secret_sha256, not both");
            if (!stored || stored->jwt().secret().empty() ||
                ApiKeySha256Hex(stored->jwt().secret()) !=
                    AsciiLower(consumer.jwt().secret_sha256()))
              return Invalid(where + "consumer " + consumer.name() +
                             ": jwt.secret_sha256 is not the digest of its stored secret; give "
                             "the secret itself as jwt.secret");
            consumer.mutable_jwt()->set_secret(stored->jwt().secret());
          }
          if (consumer.has_jwt()) consumer.mutable_jwt()->clear_secret_sha256();
          if (std::string e = ValidateConsumer(consumer); !e.empty()) return Invalid(where + e);
          *desired.add_consumers() = std::move(consumer);
        }
        for (size_t i = 0; i < certificates.size(); ++i) {
          Certificate certificate = certificates[i];
          if (certificate.key_sha256().empty()) {
            *desired.add_certificates() = std::move(certificate);
            continue;
          }
          // The stored key, kept: answers and exports show its digest only.
          const std::string where = "certificates[" + std::to_string(i) + "]: ";
          const Certificate* stored = FindNamed(current.certificates(), certificate.name());
          if (!stored || ApiKeySha256Hex(stored->key_pem()) != certificate.key_sha256())
            return Invalid(where + "certificate " + certificate.name() +
                           ": key_sha256 is not the digest of its stored key; give the key "
                           "itself as key_pem");
          certificate.set_key_pem(stored->key_pem());
          certificate.clear_key_sha256();
          if (std::string e = ValidateCertificate(certificate); !e.empty())
            return Invalid(where + e);
          *desired.add_certificates() = std::move(certificate);
        }
        return desired;
      },
      request.prune(), /*restore=*/false);
}

StoreResult<ApplyWrite> ConfigStore::Rollback(uint64_t version, const WriteContext& context) {
  return WriteDesired(
      context, "rollback", "to version " + std::to_string(version) + ": ",
      [&](const Config& current) -> StoreResult<Config> {
        if (version > current.version())
          return StoreError{StoreCode::kNotFound, "there is no version " + std::to_string(version) +
                                                      " (the config is at version " +
                                                      std::to_string(current.version()) + ")"};
        auto rows =
            backend_->ReadHistory({.after = version, .up_to = current.version(), .changes = true});
        if (!rows) return rows.error();
        // Walked back from the newest: each row's reverse change turns its version into the
        // one before.
        Config config = current;
        uint64_t expected = current.version();
        for (const HistoryRow& row : *rows) {
          if (row.record.version() != expected) break;
          if (!row.record.has_changes())
            return StoreError{StoreCode::kFailedPrecondition,
                              "cannot roll back to version " + std::to_string(version) +
                                  ": version " + std::to_string(expected) +
                                  " was made before the control plane kept whole changes "
                                  "(its history has the summary only)"};
          Config earlier;
          if (std::string e = ApplyConfigDelta(config, row.reverse, expected - 1, &earlier);
              !e.empty())
            return StoreError{
                StoreCode::kInternal,
                "the history of version " + std::to_string(expected) + " does not apply: " + e};
          config = std::move(earlier);
          --expected;
        }
        if (expected != version)
          return StoreError{StoreCode::kFailedPrecondition,
                            "cannot roll back to version " + std::to_string(version) +
                                ": the history kept (--history-keep) reaches back to version " +
                                std::to_string(expected) + " only"};
        return config;
      },
      /*prune=*/true, /*restore=*/true);
}

StoreResult<std::vector<gateway::v1::HistoryRecord>> ConfigStore::ListHistory(uint32_t limit) {
  if (auto e = backend_->Begin(false)) return *e;
  auto rows = backend_->ReadHistory({.limit = limit});
  backend_->Rollback();
  if (!rows) return rows.error();
  std::vector<gateway::v1::HistoryRecord> records;
  for (HistoryRow& row : *rows) records.push_back(std::move(row.record));
  return records;
}

StoreResult<uint64_t> ConfigStore::OldestHistoryVersion() {
  if (auto e = backend_->Begin(false)) return *e;
  auto oldest = backend_->ReadOldestHistoryVersion();
  backend_->Rollback();
  return oldest;
}

StoreResult<HistoryChange> ConfigStore::GetHistory(uint64_t version) {
  const StoreError not_kept{StoreCode::kNotFound,
                            "the history has no version " + std::to_string(version) +
                                " (see `gatewayctl history`; --history-keep bounds what is kept)"};
  if (version == 0) return not_kept;
  if (auto e = backend_->Begin(false)) return *e;
  auto rows = backend_->ReadHistory({.after = version - 1, .up_to = version, .changes = true});
  backend_->Rollback();
  if (!rows) return rows.error();
  if (rows->empty()) return not_kept;
  HistoryRow& row = rows->front();
  HistoryChange change{std::move(row.record), {}};
  if (change.record.has_changes()) change.changes = ChangesOf(row.forward, row.reverse);
  return change;
}

}  // namespace gw
