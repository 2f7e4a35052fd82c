// UTF-8 as RFC 3629 has it: no overlong forms, no surrogates, nothing above U+10FFFF. For text
// the gateway passes on as JSON (its access log's strings, an aggregate's parts).
#pragma once

#include <cstddef>
#include <string_view>

namespace gw {

// The length of the valid UTF-8 sequence starting at s[i] (1 for ASCII), or 0 if there is none.
size_t Utf8SequenceLength(std::string_view s, size_t i);

// Whether `text` is valid UTF-8 throughout.
bool IsUtf8(std::string_view text);

}  // namespace gw
