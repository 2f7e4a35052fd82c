// API keys of consumers: the rule for a well-formed key, its SHA-256 (the only form the control
// plane stores and sends), and ApiKeySet, the gateway's lookup from a presented X-API-Key to the
// consumer it belongs to. The control plane calls ValidateApiKey and ApiKeySha256Hex when a
// consumer is added; the gateway builds one ApiKeySet per config and shares it, immutable,
// between its workers.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace gw {

inline constexpr size_t kMinApiKeySize = 16;
inline constexpr size_t kMaxApiKeySize = 256;

// 16..256 printable ASCII characters (0x21..0x7e: no spaces, no control characters). Returns
// false with a one-line reason in *error (which never repeats the key) otherwise.
bool ValidateApiKey(std::string_view key, std::string* error = nullptr);

// The SHA-256 of the key's bytes as 64 lower-case hex digits.
std::string ApiKeySha256Hex(std::string_view key);

// True for 64 lower-case hex digits: the form ApiKeySha256Hex writes.
bool IsApiKeySha256Hex(std::string_view text);

// One consumer's keys, by hash, as the config carries them.
struct ApiKeyConsumer {
  std::string name;
  std::vector<std::string> key_sha256;  // ApiKeySha256Hex of each key
};

// hash of a key -> consumer name, built once per config, immutable afterwards: Find is const and
// safe to call from every worker at once with no lock.
//
// Find hashes the presented key and looks the digest up in a hash map; it compares digests, not
// keys, so no constant-time compare is needed: how long a lookup takes can at most tell a caller
// how much of a stored *digest* its own key's digest matches, and learning a digest (even whole)
// does not help find a key that has it (SHA-256 preimage resistance). Keys are long random
// strings, not passwords, so an unsalted fast hash is the right tool (no dictionary to attack).
class ApiKeySet {
 public:
  // nullptr with the reason in *error when a digest is malformed or one digest belongs to two
  // consumers (a key must name exactly one consumer; the control plane refuses that too).
  static std::unique_ptr<const ApiKeySet> Build(const std::vector<ApiKeyConsumer>& consumers,
                                                std::string* error = nullptr);

  // The consumer whose key this is, or nullptr (also for a key that ValidateApiKey refuses,
  // which is then not hashed). The pointer lives as long as this set.
  const std::string* Find(std::string_view key) const;

  size_t size() const { return by_digest_.size(); }

 private:
  using Digest = std::array<uint8_t, 32>;
  struct DigestHash {
    size_t operator()(const Digest& d) const {
      size_t h;  // the digest is already uniformly distributed: its first bytes are a fine hash
      std::memcpy(&h, d.data(), sizeof h);
      return h;
    }
  };

  ApiKeySet() = default;

  std::unordered_map<Digest, std::string, DigestHash> by_digest_;
};

}  // namespace gw
