// TicketKeyRing: the keys that seal TLS session tickets (RFC 5077), so a client resumes
// without a full handshake and the gateway keeps no per-session state.
//
// One ring per process, made at start-up and shared by every CertificateTable (tickets are
// sealed and opened through the table's base SSL_CTX, certificate_table.h). A key is 80 bytes
// from RAND_priv_bytes: a 16-byte name sent in the clear in each ticket, a 32-byte AES-256-CBC
// key and a 32-byte HMAC-SHA256 key. New tickets are sealed with the current key; Rotate()
// makes a new current key and keeps the last kPreviousTicketKeys ones to open tickets still in
// clients' hands (a ticket opened with a previous key is renewed: the client gets one sealed
// with the current key). Keys are per process: gateways behind one load balancer do not share
// them, so a client moved to another gateway makes a full handshake.
//
// Threading: Rotate() runs on whichever thread owns the rotation timer; the ticket callback
// runs on every worker. The keys are an immutable set (common/published.h), so a handshake reads
// one consistent set and waits for a rotation at most for a pointer swap.
#pragma once

#include <openssl/evp.h>
#include <openssl/ssl.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <vector>

#include "common/published.h"

namespace gw {

// How often the server is meant to call Rotate() (its --session-ticket-rotation default): with
// two previous keys, a ticket resumes for two to three periods.
inline constexpr std::chrono::seconds kDefaultTicketKeyRotation{3600};
inline constexpr size_t kPreviousTicketKeys = 2;

inline constexpr size_t kTicketKeyNameSize = 16;

class TicketKeyRing {
 public:
  // A ring with a fresh current key. Throws std::runtime_error when the random generator fails
  // (start-up only).
  TicketKeyRing();
  TicketKeyRing(const TicketKeyRing&) = delete;
  TicketKeyRing& operator=(const TicketKeyRing&) = delete;

  // A new current key; the old current one becomes the newest previous key and the oldest
  // previous key is dropped (its tickets make full handshakes). false, keys unchanged, when the
  // random generator fails.
  [[nodiscard]] bool Rotate();

  // The body of the SSL_CTX_set_tlsext_ticket_key_evp_cb callback (OpenSSL 3 EVP_MAC API).
  // enc = 1, sealing: names the current key in key_name, draws the IV, sets up AES-256-CBC and
  // HMAC-SHA256; 1, or -1 on an OpenSSL failure. enc = 0, opening the ticket key_name names: 1
  // with the current key, 2 with a previous one (OpenSSL then issues a new ticket), 0 for a key
  // not (or no longer) in the ring (a full handshake), -1 on an OpenSSL failure.
  int SealOrOpen(unsigned char key_name[kTicketKeyNameSize], unsigned char* iv,
                 EVP_CIPHER_CTX* cipher, EVP_MAC_CTX* mac, int enc) const;

 private:
  struct Key {
    std::array<unsigned char, kTicketKeyNameSize> name;
    std::array<unsigned char, 32> aes_key;
    std::array<unsigned char, 32> hmac_key;
  };
  struct Keys {
    Key current;
    std::vector<Key> previous;  // newest first, at most kPreviousTicketKeys
    Keys() = default;
    Keys(const Keys&) = default;
    ~Keys();  // wipes the key bytes
  };

  Published<const Keys> keys_;
  std::mutex rotate_mutex_;  // Rotate() against itself
};

}  // namespace gw
