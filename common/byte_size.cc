#include "common/byte_size.h"

#include <cstdio>
#include <iterator>
#include <limits>

namespace gw {

std::optional<uint64_t> ParseByteSize(std::string_view text, std::string* error) {
  auto fail = [&](std::string why) -> std::optional<uint64_t> {
    if (error) *error = std::move(why);
    return std::nullopt;
  };
  const std::string quoted = "'" + std::string(text) + "'";
  const std::string how =
      " (write bytes, or a whole number with k, m or g: 1048576, 512k, 10m, 1g)";
  if (text.empty()) return fail("the size is empty" + how);
  size_t digits = 0;
  uint64_t value = 0;
  bool overflow = false;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') {
    const auto digit = static_cast<uint64_t>(text[digits] - '0');
    if (value > (std::numeric_limits<uint64_t>::max() - digit) / 10) overflow = true;
    if (!overflow) value = value * 10 + digit;
    ++digits;
  }
  if (digits == 0) return fail(quoted + " is not a size" + how);
  const std::string_view suffix = text.substr(digits);
  unsigned shift = 0;
  if (suffix.empty()) {
    shift = 0;
  } else if (suffix.size() == 1 && (suffix[0] == 'k' || suffix[0] == 'K')) {
    shift = 10;
  } else if (suffix.size() == 1 && (suffix[0] == 'm' || suffix[0] == 'M')) {
    shift = 20;
  } else if (suffix.size() == 1 && (suffix[0] == 'g' || suffix[0] == 'G')) {
    shift = 30;
  } else {
    return fail(quoted + " is not a size" + how);
  }
  if (overflow || value > (std::numeric_limits<uint64_t>::max() >> shift))
    return fail("size " + quoted + " is larger than 2^64-1 bytes");
  return value << shift;
}

std::string FormatByteSize(uint64_t bytes) {
  if (bytes != 0 && bytes % (uint64_t{1} << 30) == 0) return std::to_string(bytes >> 30) + "g";
  if (bytes != 0 && bytes % (uint64_t{1} << 20) == 0) return std::to_string(bytes >> 20) + "m";
  if (bytes != 0 && bytes % (uint64_t{1} << 10) == 0) return std::to_string(bytes >> 10) + "k";
  return std::to_string(bytes);
}

std::string DescribeByteSize(uint64_t bytes) {
  if (bytes < 1024) return std::to_string(bytes) + (bytes == 1 ? " byte" : " bytes");
  static constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double value = static_cast<double>(bytes) / 1024;
  size_t unit = 0;
  while (value >= 1024 && unit + 1 < std::size(kUnits)) {
    value /= 1024;
    ++unit;
  }
  char text[32];
  // One decimal, dropped when it is 0: "64 MiB", "70.2 MiB".
  const double tenths = static_cast<double>(static_cast<uint64_t>(value * 10 + 0.5)) / 10;
  if (tenths == static_cast<double>(static_cast<uint64_t>(tenths)))
    std::snprintf(text, sizeof text, "%llu %s", static_cast<unsigned long long>(tenths),
                  kUnits[unit]);
  else
    std::snprintf(text, sizeof text, "%.1f %s", tenths, kUnits[unit]);
  return text;
}

}  // namespace gw
