// Random admin command sequences against a real ConfigStore, checking the invariant issue 9's
// two freezes broke: after any sequence of commands, the config the control plane publishes is
// one every gateway accepts (ACKs) — RouteTable::Build, exactly as a gateway's ConfigApplier runs
// it, with the gateway's default --max-routes and its policy state carried from one version to
// the next — and it fits what gateways are sent.
//
// Bytes are decoded into commands (services, routes, consumers and certificates created, updated
// and deleted) from small pools of names, paths, hosts, header conditions, policy values and
// certificate pairs, chosen so that commands collide (the same identity written in other cases
// and orders, header values that read like more conditions, two certificates both asking to be
// the default) and so that some are invalid (weights 0 and 10001, bad hosts, hop-by-hop header
// rules, paths too long for the size limit, expired certificates, keys of another certificate).
// Checked after every command:
//
// - accepted: the version moved by one (or none, for a no-op), the store's snapshot is the one
//   the write returned, ValidateConfig accepts it, a gateway's RouteTable::Build accepts it, and
//   it is no larger than the store's --max-config-size;
// - refused: one line of at most kMaxStatusMessageBytes, and the snapshot is unchanged;
// - at the end, the database reopened holds the same snapshot.
//
// Used by the libFuzzer target admin_sequence_fuzzer.cc and by the seeded property test
// tests/unit/controlplane/admin_sequence_test.cc (which also replays fuzz/corpus/admin_sequence).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace gw::fuzz {

struct SequenceResult {
  std::string failure;  // "" when every invariant held; else what broke, with the last commands
  size_t commands = 0;
  size_t accepted = 0;
  size_t refused_for_size = 0;  // writes refused because the config would pass the size limit
};

// Runs the commands `data` decodes to (at most a few hundred) on a fresh store at `db_path`
// (which must not exist yet; its directory must).
SequenceResult RunAdminSequence(const uint8_t* data, size_t size, const std::string& db_path);

}  // namespace gw::fuzz
