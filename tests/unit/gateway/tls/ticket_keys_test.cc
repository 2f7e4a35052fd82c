#include "gateway/tls/ticket_keys.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <array>
#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace gw {
namespace {

struct CipherFree {
  void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
};
struct MacFree {
  void operator()(EVP_MAC_CTX* ctx) const { EVP_MAC_CTX_free(ctx); }
};
struct MacAlgorithmFree {
  void operator()(EVP_MAC* mac) const { EVP_MAC_free(mac); }
};

using Name = std::array<unsigned char, kTicketKeyNameSize>;

// What OpenSSL hands the ticket callback: fresh cipher and MAC contexts.
struct TicketCall {
  std::unique_ptr<EVP_CIPHER_CTX, CipherFree> cipher{EVP_CIPHER_CTX_new()};
  std::unique_ptr<EVP_MAC, MacAlgorithmFree> hmac{EVP_MAC_fetch(nullptr, "HMAC", nullptr)};
  std::unique_ptr<EVP_MAC_CTX, MacFree> mac{EVP_MAC_CTX_new(hmac.get())};
  std::array<unsigned char, EVP_MAX_IV_LENGTH> iv{};
  Name name{};

  int Seal(const TicketKeyRing& ring) {
    return ring.SealOrOpen(name.data(), iv.data(), cipher.get(), mac.get(), 1);
  }
  int Open(const TicketKeyRing& ring, const Name& ticket_name,
           const std::array<unsigned char, EVP_MAX_IV_LENGTH>& ticket_iv) {
    name = ticket_name;
    iv = ticket_iv;
    return ring.SealOrOpen(name.data(), iv.data(), cipher.get(), mac.get(), 0);
  }
  // The bytes through the cipher, then their HMAC appended.
  std::string Run(const std::string& in) {
    std::string out(in.size() + EVP_MAX_BLOCK_LENGTH, '\0');
    int size = 0;
    int final_size = 0;
    auto* data = reinterpret_cast<unsigned char*>(out.data());
    EXPECT_EQ(EVP_CipherUpdate(cipher.get(), data, &size,
                               reinterpret_cast<const unsigned char*>(in.data()),
                               static_cast<int>(in.size())),
              1);
    EXPECT_EQ(EVP_CipherFinal_ex(cipher.get(), data + size, &final_size), 1);
    out.resize(static_cast<size_t>(size + final_size));
    return out;
  }
  std::string Mac(const std::string& in) {
    std::array<unsigned char, EVP_MAX_MD_SIZE> tag{};
    size_t size = 0;
    EXPECT_EQ(EVP_MAC_init(mac.get(), nullptr, 0, nullptr), 1);
    EXPECT_EQ(
        EVP_MAC_update(mac.get(), reinterpret_cast<const unsigned char*>(in.data()), in.size()), 1);
    EXPECT_EQ(EVP_MAC_final(mac.get(), tag.data(), &size, tag.size()), 1);
    return std::string(reinterpret_cast<const char*>(tag.data()), size);
  }
};

TEST(TicketKeyRing, SealsWithTheCurrentKeyAndOpensWithIt) {
  const TicketKeyRing ring;
  TicketCall seal;
  ASSERT_EQ(seal.Seal(ring), 1);
  const std::string state = "the session state a ticket carries";
  const std::string sealed = seal.Run(state);
  const std::string tag = seal.Mac(sealed);
  EXPECT_EQ(tag.size(), 32u);  // HMAC-SHA256
  EXPECT_NE(sealed, state);

  TicketCall open;
  ASSERT_EQ(open.Open(ring, seal.name, seal.iv), 1);
  EXPECT_EQ(open.Mac(sealed), tag);
  EXPECT_EQ(open.Run(sealed), state);
}

TEST(TicketKeyRing, EachSealDrawsAFreshIv) {
  const TicketKeyRing ring;
  TicketCall first;
  TicketCall second;
  ASSERT_EQ(first.Seal(ring), 1);
  ASSERT_EQ(second.Seal(ring), 1);
  EXPECT_EQ(first.name, second.name);
  EXPECT_NE(first.iv, second.iv);
}

TEST(TicketKeyRing, PreviousKeysOpenAndRenewUntilDropped) {
  TicketKeyRing ring;
  TicketCall seal;
  ASSERT_EQ(seal.Seal(ring), 1);
  const std::string sealed = seal.Run("state");
  const std::string tag = seal.Mac(sealed);

  for (size_t rotation = 1; rotation <= kPreviousTicketKeys; ++rotation) {
    ASSERT_TRUE(ring.Rotate());
    TicketCall open;
    EXPECT_EQ(open.Open(ring, seal.name, seal.iv), 2) << "after rotation " << rotation;
    EXPECT_EQ(open.Mac(sealed), tag);
    EXPECT_EQ(open.Run(sealed), "state");
    TicketCall reseal;
    ASSERT_EQ(reseal.Seal(ring), 1);
    EXPECT_NE(reseal.name, seal.name);  // new tickets carry the new current key
  }
  ASSERT_TRUE(ring.Rotate());
  TicketCall open;
  EXPECT_EQ(open.Open(ring, seal.name, seal.iv), 0);
}

TEST(TicketKeyRing, RefusesAnUnknownKeyName) {
  const TicketKeyRing ring;
  TicketCall open;
  Name unknown{};
  ASSERT_EQ(RAND_bytes(unknown.data(), static_cast<int>(unknown.size())), 1);
  EXPECT_EQ(open.Open(ring, unknown, {}), 0);
  // Another process's ring (another gateway) has keys of its own.
  const TicketKeyRing other;
  TicketCall seal;
  ASSERT_EQ(seal.Seal(other), 1);
  EXPECT_EQ(open.Open(ring, seal.name, seal.iv), 0);
}

// Workers seal and open tickets while the timer rotates: every call sees one consistent set
// (ThreadSanitizer runs this as a concurrent test).
TEST(TicketKeyRing, RotatesWhileWorkersSealAndOpen) {
  TicketKeyRing ring;
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0};
  std::vector<std::thread> workers;
  for (int i = 0; i < 2; ++i) {
    workers.emplace_back([&] {
      while (!stop.load()) {
        TicketCall seal;
        if (seal.Seal(ring) != 1) ++failures;
        const std::string sealed = seal.Run("state");
        TicketCall open;
        // Sealed with the key current then; rotations since may have dropped it (0), but a
        // key the ring still names must open the ticket.
        const int opened = open.Open(ring, seal.name, seal.iv);
        if (opened == 1 || opened == 2) {
          if (open.Run(sealed) != "state") ++failures;
        } else if (opened != 0) {
          ++failures;
        }
      }
    });
  }
  for (int i = 0; i < 200; ++i) ASSERT_TRUE(ring.Rotate());
  stop = true;
  for (std::thread& worker : workers) worker.join();
  EXPECT_EQ(failures.load(), 0);
}

}  // namespace
}  // namespace gw
