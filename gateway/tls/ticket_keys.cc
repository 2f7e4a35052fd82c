#include "gateway/tls/ticket_keys.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <utility>

namespace gw {
namespace {

// The name, then the two secrets, drawn in one call: 80 bytes, all from the private generator.
template <typename Key>
bool FillKey(Key& key) {
  std::array<unsigned char, sizeof(key.name) + sizeof(key.aes_key) + sizeof(key.hmac_key)> bytes;
  if (RAND_priv_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) return false;
  auto at = bytes.begin();
  std::copy_n(at, key.name.size(), key.name.begin());
  at += key.name.size();
  std::copy_n(at, key.aes_key.size(), key.aes_key.begin());
  at += key.aes_key.size();
  std::copy_n(at, key.hmac_key.size(), key.hmac_key.begin());
  OPENSSL_cleanse(bytes.data(), bytes.size());
  return true;
}

}  // namespace

TicketKeyRing::Keys::~Keys() {
  OPENSSL_cleanse(&current, sizeof(current));
  for (Key& key : previous) OPENSSL_cleanse(&key, sizeof(key));
}

TicketKeyRing::TicketKeyRing() {
  auto keys = std::make_shared<Keys>();
  if (!FillKey(keys->current)) {
    throw std::runtime_error("cannot draw a session ticket key: the random generator failed");
  }
  keys_.Store(std::move(keys));
}

bool TicketKeyRing::Rotate() {
  std::lock_guard lock(rotate_mutex_);
  auto next = std::make_shared<Keys>();
  if (!FillKey(next->current)) return false;
  const std::shared_ptr<const Keys> now = keys_.Load();
  // Reserved once, so no reallocation leaves key bytes behind in freed memory.
  next->previous.reserve(kPreviousTicketKeys);
  next->previous.push_back(now->current);
  for (const Key& key : now->previous) {
    if (next->previous.size() == kPreviousTicketKeys) break;
    next->previous.push_back(key);
  }
  keys_.Store(std::move(next));
  return true;
}

int TicketKeyRing::SealOrOpen(unsigned char key_name[kTicketKeyNameSize], unsigned char* iv,
                              EVP_CIPHER_CTX* cipher, EVP_MAC_CTX* mac, int enc) const {
  // Pinned for this call: a rotation meanwhile does not free the key in use.
  const std::shared_ptr<const Keys> keys = keys_.Load();
  const Key* key = nullptr;
  int answer = 1;
  if (enc == 1) {
    key = &keys->current;
    std::memcpy(key_name, key->name.data(), kTicketKeyNameSize);
    if (RAND_bytes(iv, EVP_CIPHER_get_iv_length(EVP_aes_256_cbc())) != 1) return -1;
    if (EVP_EncryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, key->aes_key.data(), iv) != 1) {
      return -1;
    }
  } else {
    auto named = [&](const Key& k) { return std::equal(k.name.begin(), k.name.end(), key_name); };
    if (named(keys->current)) {
      key = &keys->current;
    } else {
      const auto it = std::find_if(keys->previous.begin(), keys->previous.end(), named);
      if (it == keys->previous.end()) return 0;
      key = &*it;
      answer = 2;  // renew: the client gets a ticket sealed with the current key
    }
    if (EVP_DecryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, key->aes_key.data(), iv) != 1) {
      return -1;
    }
  }
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY,
                                        const_cast<unsigned char*>(key->hmac_key.data()),
                                        key->hmac_key.size()),
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>("SHA256"), 0),
      OSSL_PARAM_construct_end()};
  if (EVP_MAC_CTX_set_params(mac, params) != 1) return -1;
  return answer;
}

}  // namespace gw
