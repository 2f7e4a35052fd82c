// A small JSON writer for the CLI's `-o json`, the gateway's error bodies and admin pages.
// It writes compact JSON; keys and values are escaped per RFC 8259. IsStrictJson checks text
// against RFC 8259's grammar before a lenient parser reads it (JWT headers and claims).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace gw {

std::string JsonQuote(std::string_view s);  // "..." with escapes

// Whether `text` is exactly one JSON value per RFC 8259 (whitespace around it allowed), nested
// at most `max_depth` arrays and objects deep. Nothing else: no comments, single quotes,
// unquoted keys, trailing commas, NaN, leading zeros or '+', raw control characters in strings,
// byte-order mark. Duplicate keys and UTF-8 validity are left to the parser that follows.
bool IsStrictJson(std::string_view text, size_t max_depth = 64);

class JsonWriter {
 public:
  JsonWriter& BeginObject();
  JsonWriter& EndObject();
  JsonWriter& BeginArray();
  JsonWriter& EndArray();
  JsonWriter& Key(std::string_view key);
  JsonWriter& String(std::string_view value);
  JsonWriter& Number(int64_t value);
  JsonWriter& Unsigned(uint64_t value);
  JsonWriter& Bool(bool value);
  JsonWriter& Null();

  const std::string& str() const { return out_; }

 private:
  void BeforeValue();

  std::string out_;
  std::vector<bool> first_;  // per open container: no element written yet
  bool after_key_ = false;
};

}  // namespace gw
