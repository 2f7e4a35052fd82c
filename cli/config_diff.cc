#include "cli/config_diff.h"

#include <algorithm>

#include "cli/config_document.h"
#include "common/byte_size.h"
#include "common/duration.h"
#include "common/validation.h"

namespace gw::cli {
namespace {

using gateway::v1::ObjectChange;

bool IsWholeNumber(std::string_view text) {
  return !text.empty() && text.size() <= 19 &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// "5000 (5s)" for a field counted in milliseconds or seconds, "10485760 (10m)" for a size.
std::string Readable(std::string_view key, const std::string& value) {
  if (!IsWholeNumber(value)) return value;
  const uint64_t number = std::stoull(value);
  if (key.ends_with("_ms") && number != 0) return value + " (" + FormatDurationMs(number) + ")";
  if (key.ends_with("max_age_seconds") && number != 0)
    return value + " (" + FormatDurationMs(number * 1000) + ")";
  if (key.ends_with("max_body_size") && number != 0)
    return value + " (" + FormatByteSize(number) + ")";
  return value;
}

DocumentFields BeforeFields(const ObjectChange& change) {
  if (change.has_service_before()) return FieldsOf(change.service_before());
  if (change.has_route_before()) return FieldsOf(change.route_before());
  if (change.has_consumer_before()) return FieldsOf(change.consumer_before());
  if (change.has_certificate_before()) return FieldsOf(change.certificate_before());
  return {};
}

DocumentFields AfterFields(const ObjectChange& change) {
  if (change.has_service_after()) return FieldsOf(change.service_after());
  if (change.has_route_after()) return FieldsOf(change.route_after());
  if (change.has_consumer_after()) return FieldsOf(change.consumer_after());
  if (change.has_certificate_after()) return FieldsOf(change.certificate_after());
  return {};
}

const std::string* Find(const DocumentFields& fields, const std::string& key) {
  for (const auto& [name, value] : fields)
    if (name == key) return &value;
  return nullptr;
}

std::string_view Kind(const ObjectChange& change) {
  if (change.has_service_before() || change.has_service_after()) return "service";
  if (change.has_route_before() || change.has_route_after()) return "route";
  if (change.has_consumer_before() || change.has_consumer_after()) return "consumer";
  return "certificate";
}

// The object's key as its kind names it: a service, consumer or certificate name, a route's
// match.
std::string KeyOf(const ObjectChange& change) {
  if (change.has_service_after()) return change.service_after().name();
  if (change.has_service_before()) return change.service_before().name();
  if (change.has_route_after()) return DescribeRouteMatch(change.route_after());
  if (change.has_route_before()) return DescribeRouteMatch(change.route_before());
  if (change.has_consumer_after()) return change.consumer_after().name();
  if (change.has_consumer_before()) return change.consumer_before().name();
  if (change.has_certificate_after()) return change.certificate_after().name();
  return change.certificate_before().name();
}

}  // namespace

std::string ChangedObjectName(const ObjectChange& change) {
  return std::string(Kind(change)) + " " + OneLine(KeyOf(change));
}

std::string_view ChangeVerb(ObjectChange::Action action) {
  switch (action) {
    case ObjectChange::CREATED:
      return "created";
    case ObjectChange::CHANGED:
      return "changed";
    case ObjectChange::DELETED:
      return "deleted";
    default:
      return "changed";
  }
}

std::string RenderChangeLines(const ObjectChanges& changes, std::string_view prefix) {
  std::string out;
  for (const ObjectChange& change : changes)
    out += std::string(prefix) + ChangedObjectName(change) + " " +
           std::string(ChangeVerb(change.action())) + "\n";
  return out;
}

std::string RenderChangeDiff(const ObjectChanges& changes) {
  std::string out;
  for (const ObjectChange& change : changes) {
    const std::string name = ChangedObjectName(change);
    switch (change.action()) {
      case ObjectChange::CREATED:
        out += "+ " + name + "\n";
        for (const auto& [key, value] : AfterFields(change))
          out += "    " + key + ": " + Readable(key, value) + "\n";
        break;
      case ObjectChange::DELETED:
        out += "- " + name + "\n";
        break;
      default: {
        out += "~ " + name + "\n";
        const DocumentFields before = BeforeFields(change);
        const DocumentFields after = AfterFields(change);
        // In the document's field order: the fields after, then those only before.
        for (const auto& [key, value] : after) {
          const std::string* was = Find(before, key);
          if (was && *was == value) continue;
          out += "    " + key + ": " + (was ? Readable(key, *was) : "(unset)") + " -> " +
                 Readable(key, value) + "\n";
        }
        for (const auto& [key, value] : before)
          if (!Find(after, key))
            out += "    " + key + ": " + Readable(key, value) + " -> (unset)\n";
        break;
      }
    }
  }
  return out;
}

void WriteChangesJson(JsonWriter& json, const ObjectChanges& changes) {
  json.BeginArray();
  for (const ObjectChange& change : changes) {
    json.BeginObject();
    json.Key("action").String(ChangeVerb(change.action()));
    json.Key("kind").String(Kind(change));
    json.Key("name").String(KeyOf(change));
    if (change.has_service_before())
      WriteServiceJson(json.Key("before"), change.service_before(), false);
    if (change.has_route_before()) WriteRouteJson(json.Key("before"), change.route_before(), false);
    if (change.has_consumer_before())
      WriteConsumerJson(json.Key("before"), change.consumer_before(), false);
    if (change.has_certificate_before())
      WriteCertificateDocument(json.Key("before"), change.certificate_before());
    if (change.has_service_after())
      WriteServiceJson(json.Key("after"), change.service_after(), false);
    if (change.has_route_after()) WriteRouteJson(json.Key("after"), change.route_after(), false);
    if (change.has_consumer_after())
      WriteConsumerJson(json.Key("after"), change.consumer_after(), false);
    if (change.has_certificate_after())
      WriteCertificateDocument(json.Key("after"), change.certificate_after());
    json.EndObject();
  }
  json.EndArray();
}

}  // namespace gw::cli
