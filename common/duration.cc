#include "common/duration.h"

#include <cstdint>

namespace gw {

std::optional<std::chrono::milliseconds> ParseDuration(std::string_view text, std::string* error) {
  auto fail = [&]() -> std::optional<std::chrono::milliseconds> {
    if (error)
      *error = "'" + std::string(text) + "' is not a duration (write e.g. 250ms, 2s, 1m, 1h)";
    return std::nullopt;
  };
  size_t digits = 0;
  uint64_t value = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') {
    value = value * 10 + static_cast<uint64_t>(text[digits] - '0');
    if (value > 1'000'000'000ULL) return fail();  // > 31 years in ms: certainly a mistake
    ++digits;
  }
  if (digits == 0) return fail();
  const std::string_view unit = text.substr(digits);
  uint64_t scale = 0;
  if (unit == "ms")
    scale = 1;
  else if (unit == "s")
    scale = 1000;
  else if (unit == "m")
    scale = 60'000;
  else if (unit == "h")
    scale = 3'600'000;
  else
    return fail();
  if (value == 0) {
    if (error) *error = "duration '" + std::string(text) + "' must be greater than zero";
    return std::nullopt;
  }
  const uint64_t ms = value * scale;
  if (ms / scale != value || ms > 1'000'000'000'000ULL) return fail();
  return std::chrono::milliseconds(static_cast<int64_t>(ms));
}

std::string FormatDuration(std::chrono::milliseconds duration) {
  const int64_t ms = duration.count();
  if (ms != 0 && ms % 3'600'000 == 0) return std::to_string(ms / 3'600'000) + "h";
  if (ms != 0 && ms % 60'000 == 0) return std::to_string(ms / 60'000) + "m";
  if (ms != 0 && ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

std::string FormatDurationMs(uint64_t ms) {
  return FormatDuration(std::chrono::milliseconds(static_cast<int64_t>(ms)));
}

int64_t NowUnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace gw
