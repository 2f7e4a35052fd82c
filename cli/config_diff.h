// What a change set does, for people and scripts: `apply` and `rollback` print one line per
// object ("route /api (prefix) changed"), `diff` and `history show` each object field by field
// in the document's spelling (cli/config_document.h):
//
//   + service cart
//       name: cart
//       endpoints: [10.0.0.5:8080]
//   ~ route /api (prefix)
//       timeout_ms: 5000 (5s) -> 10000 (10s)
//   - consumer bob
//
// Pure functions over the control plane's ObjectChange list, owned by cli/.
#pragma once

#include <string>
#include <string_view>

#include "cli/output.h"
#include "common/json.h"
#include "gateway.pb.h"

namespace gw::cli {

using ObjectChanges = ProtoList<gateway::v1::ObjectChange>;

// "service cart", "route /api (prefix, host a.example)", "consumer bob".
std::string ChangedObjectName(const gateway::v1::ObjectChange& change);
// "created", "changed" or "deleted".
std::string_view ChangeVerb(gateway::v1::ObjectChange::Action action);

// One "<object> <verb>" line per change, each after `prefix` (e.g. "(dry run) ").
std::string RenderChangeLines(const ObjectChanges& changes, std::string_view prefix = "");

// Field by field: "+ " objects with every field, "~ " objects with each field that differs
// ("    name: before -> after", "(unset)" for a field on one side only), "- " objects by name.
// Durations and sizes also read as people write them: "timeout_ms: 5000 (5s)".
std::string RenderChangeDiff(const ObjectChanges& changes);

// [{"action":"changed","kind":"route","name":"/api (prefix)","before":{...},"after":{...}}]:
// objects as the document spells them (no version).
void WriteChangesJson(JsonWriter& json, const ObjectChanges& changes);

}  // namespace gw::cli
