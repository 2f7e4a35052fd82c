// The properties the gateway's request decisions must hold for every input, checked by the fuzz
// targets (fuzz/*_fuzzer.cc) on whatever libFuzzer makes up.
//
// Each Check* function runs one pure decision of the data path and aborts, so that libFuzzer
// reports the input as a crash, when a property fails: a normalized path is in normal form and
// normalizing it again changes nothing, the route chosen is the one the routing rules name
// (exact first, then the longest prefix on a segment boundary), and what would be sent upstream
// says the same thing as what the gateway decided on.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "gateway/router/route_table.h"

namespace gw::fuzz {

// Prints the failed condition and aborts.
[[noreturn]] void InvariantFailed(const char* condition, const char* file, int line);

#define FUZZ_CHECK(condition)                                                      \
  do {                                                                             \
    if (!(condition)) ::gw::fuzz::InvariantFailed(#condition, __FILE__, __LINE__); \
  } while (0)

// A fixed table of a dozen routes (exact and prefix, nested prefixes, an exact and a prefix
// route on one path, escapes in route paths), built once.
const RouteTable& FuzzRouteTable();

// `output` is NormalizePath(input): checks it is in normal form (starts with '/', no empty, "."
// or ".." segment, only path characters and upper-case escapes of reserved bytes), that
// normalizing it again gives it back, and that a path already plain comes back unchanged.
void CheckNormalizedPath(std::string_view input, const std::optional<std::string>& output);

// Matches a normalized path on FuzzRouteTable() and compares with a linear scan of its routes.
const RouteEntry* CheckRouteMatch(std::string_view normalized_path);

// IsValidHost(value), with the characters a valid Host may hold. Returns the decision.
bool CheckHost(std::string_view value);

// What the gateway takes from a request-target it accepts.
struct AcceptedTarget {
  std::string path;             // normalized: what is routed and forwarded
  std::string upstream_target;  // the request-target sent upstream
  std::string authority;        // absolute-form only: replaces Host
  bool absolute_form = false;
  const RouteEntry* route = nullptr;  // on FuzzRouteTable(); nullptr: 404
};

// Splits, normalizes and routes a request-target as the Session does, checking each step.
// nullopt when the gateway answers 400 (bad target or path).
std::optional<AcceptedTarget> CheckRequestTarget(std::string_view target);

}  // namespace gw::fuzz
