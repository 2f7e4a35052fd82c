// Arbitrary admin API requests against a real ConfigStore, checking what the store promises of
// every write (controlplane/store/config_store.h): the input is validated and put in canonical
// form, and a refused write changes nothing.
//
// The input is a sequence of AdminService calls (fuzz/admin_calls.proto), each carrying any
// request message a client could send: every field of any value, field masks naming anything.
// Each call runs on the store as controlplane/admin_service.cc runs it, and after each one:
//
// - nothing crashes (the fuzzer adds ASan and UBSan);
// - a refused write (or a read) changes nothing: the config and its version are byte for byte
//   what they were, in the store and in the database's rows (read back through the backend);
//   the refusal is never kInternal (the database refusing what the rules let through), its
//   message is one line without control bytes (values quoted) that does not grow with the
//   config (at most kMaxStatusMessageBytes beyond the request's own size), and a NOT_FOUND /
//   ALREADY_EXISTS agrees with what the config holds;
// - an accepted write moves the version by exactly one (by none for a no-op, which leaves the
//   config as it was); the config it answers is the store's and the database's, in published
//   order, passes ValidateConfig and the size limit (unless it did not grow), holds no field
//   this control plane does not know (a request's are dropped), and differs from the one
//   before only in the object the call names, which is the object the call answered, at the
//   new version;
// - the canonical form is a fixed point: a stored service or route sent back as an update of
//   every field changes nothing, sent back as a create is ALREADY_EXISTS, and Get answers it;
//   a deleted one is gone;
// - nothing is half-stored: the store closed and opened again (a new backend on the same
//   database) holds the same config, after each refused write among the first calls and at
//   the end.
//
// Used by the libFuzzer target admin_api_fuzzer.cc and by the property test
// tests/unit/controlplane/admin_validation_property_test.cc (which also replays
// fuzz/corpus/admin_api/). Complements admin_sequence.h, which decodes bytes into plausible
// commands and checks that gateways accept what is stored.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

#include "admin_calls.pb.h"
#include "controlplane/store/store_result.h"

namespace gw::fuzz {

// Calls of one input beyond this are not run (each write is a transaction).
inline constexpr int kMaxAdminCalls = 64;

struct AdminApiStats {
  size_t calls = 0;       // the input's calls that were run
  size_t follow_ups = 0;  // calls the checker made itself (the fixed-point checks)
  size_t accepted = 0;    // writes that made a new version (the input's and follow-ups)
  size_t no_ops = 0;      // writes accepted without one
  size_t refused = 0;     // writes refused
  size_t reads = 0;       // Get and List calls
  size_t reopens = 0;     // the store closed and opened again
  std::map<StoreCode, size_t> refusals;  // refused writes and reads by code

  AdminApiStats& operator+=(const AdminApiStats& other);
};

// Runs every call of `calls` (at most kMaxAdminCalls) on the store `db` names (what
// ConfigStore::Open takes: a SQLite path, or a postgres:// URI), checking the properties above,
// then opens the store again. The store need not be empty. Returns "" when every property held,
// else what broke, with the last calls. `stats` (optional) is added to.
std::string RunAdminCalls(const gateway::fuzz::AdminCalls& calls, const std::string& db,
                          AdminApiStats* stats = nullptr);

}  // namespace gw::fuzz
