// Sizes as operators write them on the command line, like nginx's client_max_body_size: a
// number of bytes ("1048576") or a whole number of KiB, MiB or GiB ("512k", "10m", "1g"; the
// suffix in either case). Shared by gatewayctl (route flags) and the gateway (its own flags).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace gw {

// A whole number, optionally followed by k, m or g (1024, 1024^2, 1024^3; case-insensitive).
// Zero is a size too: what it means is the caller's ("no limit", "the default"). Returns
// nullopt, with the reason in *error when given, for anything else: "", "10x", "-1", "1.5m",
// " 1k", or more than 2^64-1 bytes.
std::optional<uint64_t> ParseByteSize(std::string_view text, std::string* error = nullptr);

// The shortest exact spelling ParseByteSize reads back: 10485760 -> "10m", 1536 -> "1536",
// 2048 -> "2k", 0 -> "0".
std::string FormatByteSize(uint64_t bytes);

// A size for people to read in a message: "512 bytes", "3.1 KiB", "70.2 MiB", "2 GiB".
std::string DescribeByteSize(uint64_t bytes);

}  // namespace gw
