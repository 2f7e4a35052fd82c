// CertificateTable: the certificates the gateway serves over TLS, and the SSL_CTXs that serve
// them, for one config version.
//
// Built by the config applier beside the RouteTable (a certificate that cannot be loaded makes
// the version fail, so the gateway NACKs it and keeps the previous table), immutable, published
// as a shared_ptr<const CertificateTable>. Each certificate has its own SSL_CTX (leaf, chain and
// key); a certificate whose (name, version) is unchanged keeps the SSL_CTX of the previous table.
// A `base` SSL_CTX without a certificate starts every handshake (NewConnection) and carries the
// protocol bounds and callbacks; it is also the session context that seals and opens tickets
// (with the process's TicketKeyRing).
//
// Selection, in the ClientHello callback (as HAProxy's ssl_sock_switchctx_cbk): the SNI host
// name (client_hello.h) exactly, else `*.` + the name less its first label (a TLS wildcard
// covers exactly one label, RFC 6125 §6.4.3: a.b.example.com is not *.example.com), else the
// default certificate; with none the handshake is refused with the alert unrecognized_name.
// SSL_set_SSL_CTX switches the connection to the chosen SSL_CTX and holds a reference to it,
// and NewConnection pins the table in the SSL, so an open connection keeps its certificate when a
// newer table serves new handshakes. An expired certificate is still served (the control plane
// refuses to store one; a stored one expiring is a warning, never an outage chosen by us).
//
// Every SSL_CTX alike (the switched one is read during the handshake): TLS 1.2 to 1.3; for 1.2
// the Mozilla-intermediate suites ECDHE-{ECDSA,RSA}-{AES128-GCM-SHA256,AES256-GCM-SHA384,
// CHACHA20-POLY1305} (all AEAD, as RFC 9113 §9.2.2 requires of h2), TLS 1.3's default suites;
// groups X25519, P-256, P-384; no renegotiation, no compression, an EOF without close_notify
// read as an EOF; no session cache (tickets only: a per-worker cache is useless behind
// SO_REUSEPORT); ALPN chosen by the server's order among TlsEdgeOptions::alpn_protocols (no
// protocol in common, or no ALPN at all: none selected, the connection speaks HTTP/1.1). The
// session id context names the certificate, so a ticket resumes only a handshake that selected
// the certificate it was issued under.
//
// Threading: Build runs on the config thread; NewConnection and the handshakes on any worker.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "gateway/net/ssl_ptr.h"
#include "gateway/tls/ticket_keys.h"

namespace gw {

// One certificate of the config: what the config applier maps the proto message to.
struct CertificateSource {
  std::string name;
  uint64_t version = 0;  // a new version of the same name is loaded again
  std::string cert_pem;  // the leaf first, then its chain
  std::string key_pem;
  bool is_default = false;
};

struct TlsEdgeOptions {
  // ALPN protocols the server accepts, most preferred first ({"http/1.1"} switches h2 off).
  std::vector<std::string> alpn_protocols = {"h2", "http/1.1"};
  // Seals and opens session tickets; shared by every table of the process. Null: no tickets.
  std::shared_ptr<const TicketKeyRing> ticket_keys;
};

class CertificateTable;
using CertificateTableConstSharedPtr = std::shared_ptr<const CertificateTable>;

// What a finished handshake agreed on, for the server's choice of protocol, logs and metrics.
struct TlsHandshakeInfo {
  std::string alpn;         // "h2", "http/1.1", or "" when none was selected
  std::string sni;          // the host name the client asked for (lower case), or ""
  std::string certificate;  // the name of the certificate served
  int version = 0;          // TLS1_2_VERSION or TLS1_3_VERSION
  bool resumed = false;     // resumed with a session ticket
};

class CertificateTable : public std::enable_shared_from_this<CertificateTable> {
 public:
  // The table for `sources`, reusing the SSL_CTX of every certificate whose name and version
  // are those of one in `previous` (null for none). Null with *error (one line naming the
  // certificate; never key material) when a name is empty or repeated, more than one is the
  // default, a PEM does not parse, the key does not match, or OpenSSL refuses a setting.
  // Where two certificates claim the same host name, the first in `sources` serves it.
  static CertificateTableConstSharedPtr Build(const std::vector<CertificateSource>& sources,
                                              const CertificateTable* previous,
                                              const TlsEdgeOptions& options, std::string* error);

  CertificateTable(const CertificateTable&) = delete;
  CertificateTable& operator=(const CertificateTable&) = delete;

  // A server-side SSL on the base SSL_CTX with this table pinned until SSL_free (the caller sets
  // its transport and drives the handshake). Null when OpenSSL is out of memory.
  SslPtr NewConnection() const;

  size_t size() const { return by_name_.size(); }
  bool has_default() const { return fallback_ != nullptr; }
  // Each certificate's name and its leaf's notAfter (Unix milliseconds), sorted by name: the
  // expiry gauges of /metrics.
  std::vector<std::pair<std::string, int64_t>> NotAfter() const;

 private:
  struct Entry {
    std::string name;
    uint64_t version = 0;
    SslCtxPtr ctx;
    std::vector<std::string> dns_names;  // CertificateDnsNames of the leaf
    int64_t not_after_unix_ms = 0;
  };

  CertificateTable() = default;
  const Entry* Select(const std::optional<std::string>& host) const;

  // Every SSL_CTX's settings; `context_name` makes its session id context.
  static bool Configure(SSL_CTX* ctx, std::string_view context_name, std::string* error);
  // OpenSSL's callbacks; each finds the table pinned in the SSL.
  static int OnClientHello(SSL* ssl, int* alert, void* arg);
  static int OnServerName(SSL* ssl, int* alert, void* arg);
  static int OnAlpn(SSL* ssl, const unsigned char** out, unsigned char* out_size,
                    const unsigned char* in, unsigned int in_size, void* arg);
  static int OnTicketKey(SSL* ssl, unsigned char key_name[kTicketKeyNameSize], unsigned char* iv,
                         EVP_CIPHER_CTX* cipher, EVP_MAC_CTX* mac, int enc);

  SslCtxPtr base_;
  std::unordered_map<std::string, Entry> by_name_;  // nodes never move: the maps below point in
  std::unordered_map<std::string, const Entry*> exact_;
  std::unordered_map<std::string, const Entry*> wildcard_;  // "example.com" for *.example.com
  const Entry* fallback_ = nullptr;                         // the default certificate
  std::string alpn_wire_;  // alpn_protocols in ALPN's wire format (length-prefixed)
  std::shared_ptr<const TicketKeyRing> ticket_keys_;
};

// Valid on an SSL from NewConnection once SSL_do_handshake returned 1.
TlsHandshakeInfo DescribeHandshake(const SSL* ssl);

}  // namespace gw
