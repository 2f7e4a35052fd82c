#include "fuzz/admin_api.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include <algorithm>
#include <deque>
#include <exception>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <utility>
#include <vector>

#include "common/api_key.h"
#include "common/config_delta.h"
#include "common/policy_validation.h"
#include "common/route_identity.h"
#include "common/validation.h"
#include "common/wire_limits.h"
#include "controlplane/store/config_store.h"

namespace gw::fuzz {

AdminApiStats& AdminApiStats::operator+=(const AdminApiStats& other) {
  calls += other.calls;
  follow_ups += other.follow_ups;
  accepted += other.accepted;
  no_ops += other.no_ops;
  refused += other.refused;
  reads += other.reads;
  reopens += other.reopens;
  for (const auto& [code, count] : other.refusals) refusals[code] += count;
  return *this;
}

namespace {

using gateway::fuzz::AdminCall;
using gateway::v1::Config;
using gateway::v1::Consumer;
using gateway::v1::Route;
using gateway::v1::RouteKey;
using gateway::v1::Service;
using google::protobuf::FieldMask;
using google::protobuf::Message;

// Refused writes after which the store is opened again, among the first calls of an input
// (each reopen runs the backend's start-up: open, lock, migrations).
constexpr size_t kReopenCalls = 4;

// The fields an update may name, as proto/gateway.proto documents them (UpdateServiceRequest,
// UpdateRouteRequest): sending a stored object back with all of them must change nothing.
constexpr const char* kServiceFields[] = {"endpoints",       "lb",          "hash_header",
                                          "health_check",    "eject_after", "eject_for_ms",
                                          "max_connections", "max_pending", "connect_timeout_ms"};
constexpr const char* kRoutePolicyFields[] = {"max_body_size",
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
                                              "cors"};

// Deterministic bytes: equal messages give equal bytes.
std::string Bytes(const Message& message) {
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    message.SerializeToCodedStream(&coded);
  }
  return bytes;
}

// The config's bytes in published order (SortConfig): what "the same config" means.
std::string Canonical(const Config& config) {
  Config sorted = config;
  SortConfig(&sorted);
  return Bytes(sorted);
}

std::string OneLine(const Message& message, size_t max = 400) {
  std::string text = message.ShortDebugString();
  if (text.size() > max) text = text.substr(0, max) + "...";
  return text;
}

std::string CodeName(StoreCode code) {
  switch (code) {
    case StoreCode::kInvalidArgument:
      return "INVALID_ARGUMENT";
    case StoreCode::kAlreadyExists:
      return "ALREADY_EXISTS";
    case StoreCode::kNotFound:
      return "NOT_FOUND";
    case StoreCode::kFailedPrecondition:
      return "FAILED_PRECONDITION";
    case StoreCode::kResourceExhausted:
      return "RESOURCE_EXHAUSTED";
    case StoreCode::kUnavailable:
      return "UNAVAILABLE";
    case StoreCode::kConflict:
      return "CONFLICT";
    case StoreCode::kInternal:
      return "INTERNAL";
  }
  return "code " + std::to_string(static_cast<int>(code));
}

// "" when `text` is one line that names what it must without growing with the config: no
// control byte (a value is shown with Quote), at most kMaxStatusMessageBytes beyond what the
// request itself held (a message may name the request's own values; AdminService cuts it to
// kMaxStatusMessageBytes, StatusMessage).
std::string LineProblem(const std::string& text, size_t request_bytes) {
  if (text.empty()) return "is empty";
  if (text.size() > kMaxStatusMessageBytes + request_bytes)
    return "is " + std::to_string(text.size()) + " bytes, for a request of " +
           std::to_string(request_bytes);
  for (unsigned char c : text)
    if (c < 0x20 || c == 0x7f) return "holds control byte " + std::to_string(c);
  return "";
}

std::string RouteKeyOf(const Route& route) { return IdentityKey(IdentityOf(route)); }

RouteKey KeyOf(const Route& route) {
  RouteKey key;
  key.set_path(route.path());
  key.set_match(route.match());
  key.set_host(route.host());
  *key.mutable_methods() = route.methods();
  *key.mutable_headers() = route.headers();
  return key;
}

enum class Kind { kService, kRoute, kConsumer };
const char* KindName(Kind kind) {
  return kind == Kind::kService ? "service" : kind == Kind::kRoute ? "route" : "consumer";
}

// A config's objects by name (routes by identity): their bytes, version and how messages name
// them.
struct Object {
  std::string bytes;
  uint64_t version = 0;
  std::string label;
};
struct Objects {
  std::map<std::string, Object> of[3];
  std::string duplicate;  // an object named twice, if any
};

Objects ObjectsOf(const Config& config) {
  Objects objects;
  const auto add = [&](Kind kind, std::string key, const Message& message, uint64_t version,
                       std::string label) {
    auto [it, inserted] = objects.of[static_cast<int>(kind)].emplace(
        std::move(key), Object{Bytes(message), version, label});
    if (!inserted && objects.duplicate.empty())
      objects.duplicate = std::string(KindName(kind)) + " " + label;
  };
  for (const Service& service : config.services())
    add(Kind::kService, service.name(), service, service.version(), service.name());
  for (const Route& route : config.routes())
    add(Kind::kRoute, RouteKeyOf(route), route, route.version(), DescribeRouteMatch(route));
  for (const Consumer& consumer : config.consumers())
    add(Kind::kConsumer, consumer.name(), consumer, consumer.version(), consumer.name());
  return objects;
}

// What a write is expected to have done: `kind` object `key` added, changed (or left alone, for
// an accepted no-op) or removed; `bytes` the object as the call answered it.
enum class Effect { kAdded, kChanged, kRemoved };
struct Expected {
  Kind kind;
  Effect effect;
  std::string key;
  std::string bytes;
  std::string label;
};

// What AdminService makes of a request's WriteOptions.
WriteContext ContextOf(const gateway::v1::WriteOptions& options, bool dry_run) {
  WriteContext context;
  if (options.has_if_version()) context.if_version = options.if_version();
  context.dry_run = dry_run;
  return context;
}

Config WithoutVersions(Config config) {
  config.clear_version();
  for (auto& service : *config.mutable_services()) service.clear_version();
  for (auto& route : *config.mutable_routes()) route.clear_version();
  for (auto& consumer : *config.mutable_consumers()) consumer.clear_version();
  return config;
}

// The names an Apply request gives (routes by their canonical identity).
Objects NamesOf(const gateway::v1::ApplyRequest& request) {
  Config named;
  *named.mutable_services() = request.services();
  for (const Route& given : request.routes()) {
    Route route = given;
    CanonicalizeRoute(&route);
    *named.add_routes() = std::move(route);
  }
  for (const auto& spec : request.consumers()) *named.add_consumers() = spec.consumer();
  return ObjectsOf(named);
}

class Checker {
 public:
  Checker(std::string db, const ConfigStoreOptions& options)
      : db_(std::move(db)), options_(options) {
    store_ = ConfigStore::Open(db_, options_);
    auto snapshot = store_->LoadSnapshot();
    if (!snapshot) throw std::runtime_error(snapshot.error().message);
    Advance(*snapshot);
  }

  const std::string& failure() const { return failure_; }
  AdminApiStats& stats() { return stats_; }

  void Run(const AdminCall& call) {
    ++stats_.calls;
    const size_t refused_before = stats_.refused;
    Call(call, /*top=*/true);
    if (ok() && stats_.refused > refused_before && stats_.calls <= kReopenCalls) Reopen();
  }

  // Closes the store and opens the database again: it must hold the config the calls left.
  void Reopen() {
    if (!ok()) return;
    ++stats_.reopens;
    Note("(the store closed and opened again)");
    try {
      store_.reset();
      store_ = ConfigStore::Open(db_, options_);
    } catch (const std::exception& e) {
      return Fail(std::string("opening the store again failed: ") + e.what());
    }
    auto reopened = store_->LoadSnapshot();
    if (!reopened) return Fail("reading the reopened store failed: " + reopened.error().message);
    if (Canonical(**reopened) != Canonical(*current_))
      return Fail("the store opened again holds another config (version " +
                  std::to_string((*reopened)->version()) + ") than the calls left (version " +
                  std::to_string(current_->version()) + ")");
  }

 private:
  bool ok() const { return failure_.empty(); }

  void Note(std::string line) {
    log_.push_back(std::move(line));
    if (log_.size() > 16) log_.pop_front();
  }

  void Fail(const std::string& what) {
    if (!ok()) return;
    failure_ = what + "\nlast calls (first " + std::to_string(stats_.calls) + " of the input):";
    for (const std::string& line : log_) failure_ += "\n  " + line;
  }

  // The config as the database's rows hold it now: read through the backend in a read
  // transaction of its own, not from the store's memory.
  StoreResult<ConfigPtr> ReadRows() {
    StoreBackend& backend = store_->backend();
    if (auto e = backend.Begin(false)) return *e;
    auto config = backend.ReadConfig();
    backend.Rollback();
    return config;
  }

  // The store and the database both hold `expected`.
  void CheckStored(const Config& expected, const std::string& what) {
    const std::string want = Canonical(expected);
    auto loaded = store_->LoadSnapshot();
    if (!loaded) return Fail(what + ": LoadSnapshot failed: " + loaded.error().message);
    if (Canonical(**loaded) != want)
      return Fail(what + ": the store holds version " + std::to_string((*loaded)->version()) +
                  ", another config than version " + std::to_string(expected.version()) +
                  " it should (" + OneLine(**loaded, 1500) + ")");
    auto rows = ReadRows();
    if (!rows) return Fail(what + ": reading the database failed: " + rows.error().message);
    if (Canonical(**rows) != want)
      return Fail(what + ": the database's rows hold another config (version " +
                  std::to_string((*rows)->version()) + ") than the store (version " +
                  std::to_string(expected.version()) + "): " + OneLine(**rows, 1500));
  }

  // The call changed nothing.
  void CheckUnchanged(const std::string& what) { CheckStored(*current_, what); }

  // A refusal: a code a client can act on, one short line, nothing changed. A refusal the
  // config contradicts (NOT_FOUND of something it holds...) is checked by the caller.
  void Refused(const StoreError& error, bool write) {
    (write ? stats_.refused : stats_.reads) += 1;
    ++stats_.refusals[error.code];
    last_refusal_ = error.code;
    Note("  -> " + CodeName(error.code) + ": " + error.message.substr(0, 300));
    if (error.code == StoreCode::kInternal || error.code == StoreCode::kConflict ||
        error.code == StoreCode::kUnavailable)
      return Fail("refused with " + CodeName(error.code) +
                  " (the database, not a rule, refused it): " + error.message);
    if (std::string problem = LineProblem(error.message, request_bytes_); !problem.empty())
      return Fail("the refusal's message " + problem + ": " + error.message.substr(0, 600));
    CheckUnchanged("a refused call");
  }

  // An accepted write answered `written` (the config after it) and `expected` of the object.
  void Accepted(const ConfigPtr& written, const Expected& expected, bool may_be_no_op,
                const std::vector<std::string>& warnings = {}) {
    if (!written) return Fail("an accepted write answered no config");
    for (const std::string& warning : warnings)
      if (std::string problem = LineProblem(warning, request_bytes_); !problem.empty())
        return Fail("a warning " + problem + ": " + warning.substr(0, 600));
    const Config& before = *current_;
    const uint64_t version = written->version();
    Note("  -> ok, version " + std::to_string(version));
    if (version == before.version()) {
      ++stats_.no_ops;
      if (!may_be_no_op)
        return Fail(std::string("a write that must change the config was accepted without a "
                                "new version (") +
                    KindName(expected.kind) + " " + expected.label + ")");
      if (Canonical(*written) != Canonical(before))
        return Fail("a no-op answered another config than the one it started from");
      // The object it answered is the one stored.
      const Objects objects = ObjectsOf(before);
      const auto& named = objects.of[static_cast<int>(expected.kind)];
      auto it = named.find(expected.key);
      if (it == named.end() || it->second.bytes != expected.bytes)
        return Fail(std::string("a no-op update answered a ") + KindName(expected.kind) +
                    " other than the stored one: " + expected.label);
      return CheckUnchanged("a no-op");
    }
    CheckNewVersion(before, *written);
    if (!ok()) return;
    CheckOneChange(before, *written, expected);
    if (!ok()) return;
    CheckStored(*written, "an accepted write");
    if (!ok()) return;
    Advance(written);
  }

  // `written`, a new version made from `before`: one version more, in published order, valid as
  // gateways check it, holding no unknown field, within the size limit (unless it did not grow).
  void CheckNewVersion(const Config& before, const Config& written) {
    const uint64_t version = written.version();
    ++stats_.accepted;
    if (version != before.version() + 1)
      return Fail("the version went from " + std::to_string(before.version()) + " to " +
                  std::to_string(version));
    if (Bytes(written) != Canonical(written))
      return Fail("version " + std::to_string(version) + " is not in published order");
    if (std::string e = ValidateConfig(written); !e.empty())
      return Fail("version " + std::to_string(version) + " fails ValidateConfig: " + e);
    Config known = written;
    known.DiscardUnknownFields();
    if (Bytes(known) != Bytes(written))
      return Fail("version " + std::to_string(version) +
                  " holds fields this control plane does not know, taken from a request");
    const uint64_t bytes = written.ByteSizeLong();
    if (bytes > options_.max_config_bytes && bytes > before.ByteSizeLong())
      return Fail("version " + std::to_string(version) + " grew to " + std::to_string(bytes) +
                  " bytes, over the limit of " + std::to_string(options_.max_config_bytes));
  }

  void Advance(const ConfigPtr& written) {
    current_ = written;
    seen_[written->version()] = written;
  }

  // An accepted Apply or Rollback: a new version whose differences from the one before are
  // exactly the objects `changes` names, as they answered them, or, without changes, nothing.
  // `names`: with prune, the only objects the config may hold after.
  void AcceptedChanges(const ConfigPtr& written,
                       const std::vector<gateway::v1::ObjectChange>& changes,
                       const std::optional<Objects>& names) {
    using gateway::v1::ObjectChange;
    if (!written) return Fail("an accepted write answered no config");
    const Config& before = *current_;
    Note("  -> ok, version " + std::to_string(written->version()) + ", " +
         std::to_string(changes.size()) + " change(s)");
    if (written->version() == before.version()) {
      ++stats_.no_ops;
      if (!changes.empty()) return Fail("a write answered changes but made no version");
      if (Canonical(*written) != Canonical(before))
        return Fail("a no-op answered another config than the one it started from");
      return CheckUnchanged("a no-op");
    }
    if (changes.empty()) return Fail("a write made a new version but answered no changes");
    CheckNewVersion(before, *written);
    if (!ok()) return;
    const Objects was = ObjectsOf(before), now = ObjectsOf(*written);
    if (!now.duplicate.empty()) return Fail("version holds " + now.duplicate + " twice");
    // What changed, by kind and key: the answer's and the configs'.
    std::set<std::string> answered, differs;
    for (const ObjectChange& change : changes) {
      Kind kind = Kind::kConsumer;
      const Message* before_object = nullptr;  // as the answer shows them
      const Message* after_object = nullptr;
      std::string key;
      if (change.has_service_after() || change.has_service_before()) {
        kind = Kind::kService;
        if (change.has_service_before()) before_object = &change.service_before();
        if (change.has_service_after()) after_object = &change.service_after();
        key =
            (change.has_service_after() ? change.service_after() : change.service_before()).name();
      } else if (change.has_route_after() || change.has_route_before()) {
        kind = Kind::kRoute;
        if (change.has_route_before()) before_object = &change.route_before();
        if (change.has_route_after()) after_object = &change.route_after();
        key = RouteKeyOf(change.has_route_after() ? change.route_after() : change.route_before());
      } else {
        if (change.has_consumer_before()) before_object = &change.consumer_before();
        if (change.has_consumer_after()) after_object = &change.consumer_after();
        key = (change.has_consumer_after() ? change.consumer_after() : change.consumer_before())
                  .name();
      }
      const int k = static_cast<int>(kind);
      const bool existed = was.of[k].count(key) > 0, exists = now.of[k].count(key) > 0;
      bool right = false;
      switch (change.action()) {
        case ObjectChange::CREATED:
          right = !existed && exists && !before_object && after_object;
          break;
        case ObjectChange::CHANGED:
          right = existed && exists && before_object && after_object;
          break;
        case ObjectChange::DELETED:
          right = existed && !exists && before_object && !after_object;
          break;
        default:
          break;
      }
      const std::string label = std::string(KindName(kind)) + " " + key;
      if (!right)
        return Fail("the answer says " + label + " was " +
                    ObjectChange::Action_Name(change.action()) + ", which the configs contradict");
      if (after_object && now.of[k].at(key).bytes != Bytes(*after_object))
        return Fail("the answer's " + label + " is not the one stored");
      if (before_object && was.of[k].at(key).bytes != Bytes(*before_object))
        return Fail("the answer's earlier " + label + " is not the one that was stored");
      if (!answered.insert(std::to_string(k) + key).second)
        return Fail("the answer names " + label + " twice");
    }
    for (int k = 0; k < 3; ++k) {
      for (const auto& [key, object] : was.of[k]) {
        auto it = now.of[k].find(key);
        if (it == now.of[k].end() || it->second.bytes != object.bytes)
          differs.insert(std::to_string(k) + key);
      }
      for (const auto& [key, object] : now.of[k]) {
        if (!was.of[k].count(key)) differs.insert(std::to_string(k) + key);
        if (names && !names->of[k].count(key))
          return Fail(std::string("a pruning apply kept ") + KindName(static_cast<Kind>(k)) + " " +
                      object.label + ", which the document does not name");
      }
    }
    if (answered != differs)
      return Fail("the changes answered (" + std::to_string(answered.size()) +
                  ") are not the objects that differ between the versions (" +
                  std::to_string(differs.size()) + ")");
    CheckStored(*written, "an accepted apply");
    if (!ok()) return;
    Advance(written);
  }

  // `after` differs from `before` in the one object `expected` names, and nowhere else.
  void CheckOneChange(const Config& before, const Config& after, const Expected& expected) {
    const Objects was = ObjectsOf(before), now = ObjectsOf(after);
    if (!now.duplicate.empty()) return Fail("version holds " + now.duplicate + " twice");
    for (int k = 0; k < 3; ++k) {
      const Kind kind = static_cast<Kind>(k);
      std::vector<std::string> differences;
      for (const auto& [key, object] : was.of[k]) {
        auto it = now.of[k].find(key);
        if (it == now.of[k].end()) {
          if (kind == expected.kind && expected.effect == Effect::kRemoved && key == expected.key) {
            if (!expected.bytes.empty() && object.bytes != expected.bytes)
              return Fail(std::string("the write removed ") + KindName(kind) + " " + object.label +
                          " but answered another one as removed");
            continue;
          }
          differences.push_back("removed " + object.label);
        } else if (it->second.bytes != object.bytes) {
          if (kind == expected.kind && expected.effect == Effect::kChanged && key == expected.key)
            continue;
          differences.push_back("changed " + object.label);
        }
      }
      for (const auto& [key, object] : now.of[k]) {
        if (was.of[k].count(key)) continue;
        if (kind == expected.kind && expected.effect == Effect::kAdded && key == expected.key)
          continue;
        differences.push_back("added " + object.label);
      }
      if (!differences.empty())
        return Fail(std::string("a write of ") + KindName(expected.kind) + " " + expected.label +
                    " also touched " + KindName(kind) + "s: " + JoinForMessage(differences, "; "));
    }
    const int k = static_cast<int>(expected.kind);
    if (expected.effect == Effect::kRemoved) {
      if (!was.of[k].count(expected.key) || now.of[k].count(expected.key))
        return Fail(std::string("a delete accepted with a new version did not remove ") +
                    KindName(expected.kind) + " " + expected.label);
      return;
    }
    auto it = now.of[k].find(expected.key);
    if (it == now.of[k].end())
      return Fail(std::string("the ") + KindName(expected.kind) + " the write answered, " +
                  expected.label + ", is not in the config it made");
    if (expected.effect == Effect::kAdded && was.of[k].count(expected.key))
      return Fail(std::string("a create replaced the existing ") + KindName(expected.kind) + " " +
                  expected.label);
    if (expected.effect == Effect::kChanged && !was.of[k].count(expected.key))
      return Fail(std::string("an update added ") + KindName(expected.kind) + " " + expected.label +
                  " instead of changing one");
    if (expected.effect == Effect::kChanged && was.of[k].at(expected.key).bytes == it->second.bytes)
      return Fail("a write made a new version without changing anything");
    if (it->second.bytes != expected.bytes)
      return Fail(std::string("the ") + KindName(expected.kind) + " stored, " + expected.label +
                  ", is not the one the write answered");
    if (it->second.version != after.version())
      return Fail(std::string("the ") + KindName(expected.kind) + " written, " + expected.label +
                  ", carries version " + std::to_string(it->second.version) + ", not " +
                  std::to_string(after.version()));
  }

  // A read answered: nothing changed, and what it answered is what the config holds.
  void Read(uint64_t config_version, Kind kind, const std::string& key, const Message* object,
            const std::string& label) {
    ++stats_.reads;
    Note("  -> ok");
    if (config_version != current_->version())
      return Fail("a read answered version " + std::to_string(config_version) + ", not " +
                  std::to_string(current_->version()));
    if (object) {
      const Objects objects = ObjectsOf(*current_);
      const auto& named = objects.of[static_cast<int>(kind)];
      auto it = named.find(key);
      if (it == named.end() || it->second.bytes != Bytes(*object))
        return Fail(std::string("Get answered a ") + KindName(kind) + " " + label +
                    " other than the one stored");
    }
    CheckUnchanged("a read");
  }

  void ReadAll(const StoreResult<ConfigPtr>& result) {
    if (!result) return Refused(result.error(), false);
    if (Canonical(**result) != Canonical(*current_))
      return Fail("List answered another config than the one stored");
    Read((*result)->version(), Kind::kService, "", nullptr, "");
  }

  // A refusal that says `name` does not exist while the config holds it, or the reverse.
  template <typename T>
  void CheckNameRefusal(const StoreError& error, const google::protobuf::RepeatedPtrField<T>& items,
                        const std::string& name, const char* what) {
    const bool exists =
        std::any_of(items.begin(), items.end(), [&](const T& item) { return item.name() == name; });
    if (error.code == StoreCode::kNotFound && exists)
      Fail(std::string("NOT_FOUND for ") + what + " " + Quote(name) + ", which exists");
    if (error.code == StoreCode::kAlreadyExists && !exists && std::string(what) != "consumer")
      Fail(std::string("ALREADY_EXISTS for ") + what + " " + Quote(name) +
           ", which does not exist");
  }

  const Route* StoredRoute(const std::string& identity) const {
    for (const Route& route : current_->routes())
      if (RouteKeyOf(route) == identity) return &route;
    return nullptr;
  }

  // --------------------------------------------------------------- the calls

  // Runs `call` as AdminService runs it, then checks. `top`: a call of the input, which is
  // followed by the fixed-point checks; theirs are not.
  void Call(const AdminCall& call, bool top) {
    if (!ok()) return;
    Note(std::string(top ? "" : "  (check) ") + OneLine(call));
    last_refusal_.reset();
    last_route_identity_.clear();
    request_bytes_ = call.ByteSizeLong();
    switch (call.call_case()) {
      case AdminCall::kCreateService: {
        const auto& request = call.create_service();
        auto result = store_->CreateService(request.service());
        if (!result) {
          Refused(result.error(), true);
          return CheckNameRefusal(result.error(), current_->services(), request.service().name(),
                                  "service");
        }
        Accepted(result->snapshot,
                 {Kind::kService, Effect::kAdded, result->service.name(), Bytes(result->service),
                  result->service.name()},
                 false);
        return Followed(top, result->service);
      }
      case AdminCall::kUpdateService: {
        const auto& request = call.update_service();
        auto result = store_->UpdateService(request.service(), request.update_mask());
        if (!result) {
          Refused(result.error(), true);
          return CheckNameRefusal(result.error(), current_->services(), request.service().name(),
                                  "service");
        }
        const uint64_t before = current_->version();
        Accepted(result->snapshot,
                 {Kind::kService, Effect::kChanged, result->service.name(), Bytes(result->service),
                  result->service.name()},
                 true);
        if (result->snapshot && result->snapshot->version() != before)
          Followed(top, result->service);
        return;
      }
      case AdminCall::kGetService: {
        const auto& request = call.get_service();
        auto result = store_->GetService(request.name());
        if (!result) {
          Refused(result.error(), false);
          return CheckNameRefusal(result.error(), current_->services(), request.name(), "service");
        }
        return Read(result->config_version, Kind::kService, result->service.name(),
                    &result->service, result->service.name());
      }
      case AdminCall::kListServices:
        return ReadAll(store_->ListServices());
      case AdminCall::kDeleteService: {
        const auto& request = call.delete_service();
        auto result = store_->DeleteService(request.name());
        if (!result) {
          Refused(result.error(), true);
          return CheckNameRefusal(result.error(), current_->services(), request.name(), "service");
        }
        // A service a route still sends traffic to is never deleted.
        for (const Route& route : current_->routes()) {
          bool uses = route.target() == request.name();
          for (const auto& target : route.split()) uses = uses || target.target() == request.name();
          if (uses)
            return Fail("service " + request.name() + " was deleted while route " +
                        DescribeRouteMatch(route) + " uses it");
        }
        Accepted(*result, {Kind::kService, Effect::kRemoved, request.name(), "", request.name()},
                 false);
        if (top) {
          AdminCall get;
          get.mutable_get_service()->set_name(request.name());
          Expect(get, StoreCode::kNotFound);
        }
        return;
      }
      case AdminCall::kCreateRoute: {
        const auto& request = call.create_route();
        auto result = store_->CreateRoute(request.route());
        if (!result) return Refused(result.error(), true);
        Accepted(result->snapshot,
                 {Kind::kRoute, Effect::kAdded, RouteKeyOf(result->route), Bytes(result->route),
                  DescribeRouteMatch(result->route)},
                 false, result->warnings);
        return Followed(top, result->route);
      }
      case AdminCall::kUpdateRoute: {
        const auto& request = call.update_route();
        auto result = store_->UpdateRoute(request.route(), request.update_mask());
        if (!result) return Refused(result.error(), true);
        const uint64_t before = current_->version();
        Accepted(result->snapshot,
                 {Kind::kRoute, Effect::kChanged, RouteKeyOf(result->route), Bytes(result->route),
                  DescribeRouteMatch(result->route)},
                 true, result->warnings);
        if (result->snapshot && result->snapshot->version() != before) Followed(top, result->route);
        return;
      }
      case AdminCall::kGetRoute: {
        const auto& request = call.get_route();
        auto result = store_->GetRoute(request.key());
        if (!result) return Refused(result.error(), false);
        if (result->route.path() != request.key().path() ||
            (request.key().match() != gateway::v1::MATCH_UNSPECIFIED &&
             result->route.match() != request.key().match()))
          return Fail("GetRoute answered route " + DescribeRouteMatch(result->route) +
                      " for another path or kind");
        last_route_identity_ = RouteKeyOf(result->route);
        return Read(result->config_version, Kind::kRoute, RouteKeyOf(result->route), &result->route,
                    DescribeRouteMatch(result->route));
      }
      case AdminCall::kListRoutes:
        return ReadAll(store_->ListRoutes());
      case AdminCall::kDeleteRoute: {
        const auto& request = call.delete_route();
        auto result = store_->DeleteRoute(request.key());
        if (!result) return Refused(result.error(), true);
        const std::string identity = RouteKeyOf(result->route);
        if (!StoredRoute(identity))
          return Fail("DeleteRoute answered route " + DescribeRouteMatch(result->route) +
                      ", which was not stored");
        Accepted(result->snapshot,
                 {Kind::kRoute, Effect::kRemoved, identity, Bytes(result->route),
                  DescribeRouteMatch(result->route)},
                 false);
        if (top && ok()) {
          // Its key now names no route, or another one (with more conditions).
          AdminCall get;
          *get.mutable_get_route()->mutable_key() = KeyOf(result->route);
          Call(get, false);
          if (ok() && last_route_identity_ == identity)
            Fail("GetRoute still answers the deleted route " + DescribeRouteMatch(result->route));
        }
        return;
      }
      case AdminCall::kCreateConsumer: {
        const auto& request = call.create_consumer();
        const std::vector<std::string> keys(request.api_keys().begin(), request.api_keys().end());
        auto result = store_->CreateConsumer(request.consumer(), keys);
        if (!result) {
          Refused(result.error(), true);
          return CheckNameRefusal(result.error(), current_->consumers(), request.consumer().name(),
                                  "consumer");
        }
        // Keys are stored as their digests only.
        const auto& digests = result->consumer.api_key_sha256();
        for (const std::string& key : keys) {
          if (std::find(digests.begin(), digests.end(), ApiKeySha256Hex(key)) == digests.end())
            return Fail("consumer " + result->consumer.name() +
                        " was stored without an api key's digest");
          if (!key.empty() && Bytes(result->consumer).find(key) != std::string::npos)
            return Fail("consumer " + result->consumer.name() +
                        " was stored with an api key in clear");
        }
        Accepted(result->snapshot,
                 {Kind::kConsumer, Effect::kAdded, result->consumer.name(), Bytes(result->consumer),
                  result->consumer.name()},
                 false);
        if (top && ok()) {
          AdminCall again;
          *again.mutable_create_consumer()->mutable_consumer() = result->consumer;
          Expect(again, StoreCode::kAlreadyExists);
          AdminCall get;
          get.mutable_get_consumer()->set_name(result->consumer.name());
          Expect(get, std::nullopt);
        }
        return;
      }
      case AdminCall::kGetConsumer: {
        const auto& request = call.get_consumer();
        auto result = store_->GetConsumer(request.name());
        if (!result) {
          Refused(result.error(), false);
          return CheckNameRefusal(result.error(), current_->consumers(), request.name(),
                                  "consumer");
        }
        return Read(result->config_version, Kind::kConsumer, result->consumer.name(),
                    &result->consumer, result->consumer.name());
      }
      case AdminCall::kListConsumers:
        return ReadAll(store_->ListConsumers());
      case AdminCall::kDeleteConsumer: {
        const auto& request = call.delete_consumer();
        auto result = store_->DeleteConsumer(request.name());
        if (!result) {
          Refused(result.error(), true);
          return CheckNameRefusal(result.error(), current_->consumers(), request.name(),
                                  "consumer");
        }
        Accepted(*result, {Kind::kConsumer, Effect::kRemoved, request.name(), "", request.name()},
                 false);
        if (top && ok()) {
          AdminCall get;
          get.mutable_get_consumer()->set_name(request.name());
          Expect(get, StoreCode::kNotFound);
        }
        return;
      }
      case AdminCall::kApply: {
        const auto& request = call.apply();
        auto result = store_->Apply(request, ContextOf(request.options(), request.dry_run()));
        if (!result) return Refused(result.error(), true);
        if (request.dry_run()) return DryRun(result->snapshot);
        std::optional<Objects> names;
        if (request.prune()) names = NamesOf(request);
        const uint64_t before = current_->version();
        AcceptedChanges(result->snapshot, result->changes, names);
        if (top && ok() && current_->version() != before) {
          // Applied again, the same document changes nothing.
          AdminCall again = call;
          again.mutable_apply()->clear_options();
          Expect(again, std::nullopt);
          if (ok() && current_->version() != before + 1)
            Fail("the same document applied again made another version");
        }
        return;
      }
      case AdminCall::kRollback: {
        const auto& request = call.rollback();
        const uint64_t target = request.version();
        auto result = store_->Rollback(target, ContextOf(request.options(), request.dry_run()));
        const bool stale = request.options().has_if_version() &&
                           request.options().if_version() != current_->version();
        if (!result) {
          Refused(result.error(), true);
          // Every version this store made is in its history (kept: 10,000).
          if (ok() && target <= current_->version() && !stale &&
              result.error().code != StoreCode::kResourceExhausted)
            Fail("rollback to version " + std::to_string(target) + " of " +
                 std::to_string(current_->version()) + " was refused: " + result.error().message);
          return;
        }
        if (target > current_->version() || stale)
          return Fail("rollback to version " + std::to_string(target) +
                      " was accepted at version " + std::to_string(current_->version()) +
                      (stale ? " despite if_version" : ""));
        if (request.dry_run()) return DryRun(result->snapshot);
        AcceptedChanges(result->snapshot, result->changes, std::nullopt);
        if (!ok()) return;
        auto it = seen_.find(target);
        if (it != seen_.end() &&
            Canonical(WithoutVersions(*current_)) != Canonical(WithoutVersions(*it->second)))
          Fail("rollback to version " + std::to_string(target) +
               " made a config other than that version's: " + OneLine(*current_, 1500));
        return;
      }
      case AdminCall::CALL_NOT_SET:
        Note("  (no call)");
        return;
    }
  }

  // A dry run answered `would_be`: nothing changed, and what it would write is valid.
  void DryRun(const ConfigPtr& would_be) {
    ++stats_.reads;
    Note("  -> ok (dry run)");
    if (!would_be) return Fail("a dry run answered no config");
    if (would_be->version() != current_->version() &&
        would_be->version() != current_->version() + 1)
      return Fail("a dry run answered version " + std::to_string(would_be->version()));
    if (std::string e = ValidateConfig(*would_be); !e.empty())
      return Fail("a dry run would write a config gateways refuse: " + e);
    CheckUnchanged("a dry run");
  }

  // Runs a check's call, which must be accepted (nullopt) or refused with `code`.
  void Expect(const AdminCall& call, std::optional<StoreCode> code) {
    if (!ok()) return;
    ++stats_.follow_ups;
    Call(call, false);
    if (ok() && last_refusal_ != code)
      Fail("the check expected " + (code ? CodeName(*code) : std::string("success")) + ", got " +
           (last_refusal_ ? CodeName(*last_refusal_) : std::string("success")));
  }

  // After a service was written: Get answers it; sent back as a create it exists; sent back as
  // an update of every field it changes nothing.
  void Followed(bool top, const Service& stored) {
    if (!top || !ok()) return;
    AdminCall get;
    get.mutable_get_service()->set_name(stored.name());
    Expect(get, std::nullopt);
    AdminCall create;
    *create.mutable_create_service()->mutable_service() = stored;
    Expect(create, StoreCode::kAlreadyExists);
    AdminCall update;
    *update.mutable_update_service()->mutable_service() = stored;
    for (const char* field : kServiceFields)
      update.mutable_update_service()->mutable_update_mask()->add_paths(field);
    const uint64_t version = current_->version();
    Expect(update, std::nullopt);
    if (ok() && current_->version() != version)
      Fail("service " + stored.name() +
           " sent back as it is stored, as an update of every "
           "field, made a new version: its stored form is not canonical");
  }

  // The same for a route.
  void Followed(bool top, const Route& stored) {
    if (!top || !ok()) return;
    AdminCall get;
    *get.mutable_get_route()->mutable_key() = KeyOf(stored);
    Expect(get, std::nullopt);
    if (ok() && last_route_identity_ != RouteKeyOf(stored))
      return Fail("GetRoute with the exact key of route " + DescribeRouteMatch(stored) +
                  " answered another route");
    AdminCall create;
    *create.mutable_create_route()->mutable_route() = stored;
    Expect(create, StoreCode::kAlreadyExists);
    AdminCall update;
    *update.mutable_update_route()->mutable_route() = stored;
    auto* mask = update.mutable_update_route()->mutable_update_mask();
    mask->add_paths(stored.split_size() > 0 ? "split" : "target");
    for (const char* field : kRoutePolicyFields) mask->add_paths(field);
    const uint64_t version = current_->version();
    Expect(update, std::nullopt);
    if (ok() && current_->version() != version)
      Fail("route " + DescribeRouteMatch(stored) +
           " sent back as it is stored, as an update "
           "of every field, made a new version: its stored form is not canonical");
  }

  const std::string db_;
  const ConfigStoreOptions options_;
  std::unique_ptr<ConfigStore> store_;
  ConfigPtr current_;                   // the config the calls so far left
  std::map<uint64_t, ConfigPtr> seen_;  // every version the calls made (rollback's targets)
  AdminApiStats stats_;
  std::deque<std::string> log_;
  std::string failure_;
  size_t request_bytes_ = 0;               // of the call running
  std::optional<StoreCode> last_refusal_;  // how the last call was refused, if it was
  std::string last_route_identity_;        // of the route the last call answered by GetRoute
};

}  // namespace

std::string RunAdminCalls(const gateway::fuzz::AdminCalls& calls, const std::string& db,
                          AdminApiStats* stats) {
  ConfigStoreOptions options;
  if (calls.max_config_bytes() != 0)
    options.max_config_bytes = std::min<uint64_t>(calls.max_config_bytes(), kMaxConfigBytes);
  std::optional<Checker> checker;
  try {
    checker.emplace(db, options);
  } catch (const std::exception& e) {
    return std::string("opening the store failed: ") + e.what();
  }
  const int count = std::min(calls.calls_size(), kMaxAdminCalls);
  for (int i = 0; i < count && checker->failure().empty(); ++i) checker->Run(calls.calls(i));
  checker->Reopen();
  if (stats) *stats += checker->stats();
  return checker->failure();
}

}  // namespace gw::fuzz
