#include "common/api_key.h"

#include <openssl/evp.h>

namespace gw {
namespace {

// Fetched once per process (explicit fetching avoids OpenSSL 3's per-call lookup and its lock);
// an EVP_MD is immutable and safe to share between threads. Never freed: it lives as long as the
// process.
const EVP_MD* Sha256() {
  static const EVP_MD* const md = [] {
    const EVP_MD* fetched = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    return fetched ? fetched : EVP_sha256();
  }();
  return md;
}

bool Sha256(std::string_view data, std::array<uint8_t, 32>& out) {
  unsigned int size = 0;
  return EVP_Digest(data.data(), data.size(), out.data(), &size, Sha256(), nullptr) == 1 &&
         size == out.size();
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;  // upper case is not the canonical form
}

}  // namespace

bool ValidateApiKey(std::string_view key, std::string* error) {
  auto fail = [&](std::string reason) {
    if (error) *error = std::move(reason);
    return false;
  };
  if (key.size() < kMinApiKeySize || key.size() > kMaxApiKeySize) {
    return fail("an API key has " + std::to_string(kMinApiKeySize) + " to " +
                std::to_string(kMaxApiKeySize) + " characters (this one has " +
                std::to_string(key.size()) + ")");
  }
  for (char c : key) {
    if (c < 0x21 || c > 0x7e) {
      return fail("an API key is printable ASCII without spaces or control characters");
    }
  }
  return true;
}

std::string ApiKeySha256Hex(std::string_view key) {
  std::array<uint8_t, 32> digest{};
  if (!Sha256(key, digest)) return {};  // only if libcrypto itself is broken
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex(64, '0');
  for (size_t i = 0; i < digest.size(); ++i) {
    hex[2 * i] = kHex[digest[i] >> 4];
    hex[2 * i + 1] = kHex[digest[i] & 0xf];
  }
  return hex;
}

bool IsApiKeySha256Hex(std::string_view text) {
  if (text.size() != 64) return false;
  for (char c : text) {
    if (HexValue(c) < 0) return false;
  }
  return true;
}

std::unique_ptr<const ApiKeySet> ApiKeySet::Build(const std::vector<ApiKeyConsumer>& consumers,
                                                  std::string* error) {
  auto fail = [&](std::string reason) -> std::unique_ptr<const ApiKeySet> {
    if (error) *error = std::move(reason);
    return nullptr;
  };
  std::unique_ptr<ApiKeySet> set(new ApiKeySet());
  for (const ApiKeyConsumer& consumer : consumers) {
    for (const std::string& hex : consumer.key_sha256) {
      if (!IsApiKeySha256Hex(hex)) {
        return fail("consumer " + consumer.name +
                    ": an API key digest is not 64 lower-case hex digits");
      }
      Digest digest{};
      for (size_t i = 0; i < digest.size(); ++i) {
        digest[i] = static_cast<uint8_t>(HexValue(hex[2 * i]) << 4 | HexValue(hex[2 * i + 1]));
      }
      auto [it, inserted] = set->by_digest_.emplace(digest, consumer.name);
      if (!inserted && it->second != consumer.name) {
        return fail("consumers " + it->second + " and " + consumer.name + " share an API key");
      }
    }
  }
  return set;
}

const std::string* ApiKeySet::Find(std::string_view key) const {
  if (by_digest_.empty() || !ValidateApiKey(key)) return nullptr;
  Digest digest{};
  if (!Sha256(key, digest)) return nullptr;
  auto it = by_digest_.find(digest);
  return it == by_digest_.end() ? nullptr : &it->second;
}

}  // namespace gw
