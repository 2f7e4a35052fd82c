// Durations as operators write them on the command line: "250ms", "2s", "1m", "1h".
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace gw {

// A positive whole number followed by a unit (ms, s, m, h). Returns nullopt, with the reason in
// *error when given, for anything else ("5x", "", "-1s", "1.5s", overflow).
std::optional<std::chrono::milliseconds> ParseDuration(std::string_view text,
                                                       std::string* error = nullptr);

// The shortest exact spelling: 1500ms -> "1500ms", 2000ms -> "2s", 60000ms -> "1m".
std::string FormatDuration(std::chrono::milliseconds duration);
// The same for a config field counted in milliseconds (timeout_ms, interval_ms...).
std::string FormatDurationMs(uint64_t ms);

// Wall-clock time in milliseconds since the Unix epoch (what *_unix_ms fields hold).
int64_t NowUnixMs();

}  // namespace gw
