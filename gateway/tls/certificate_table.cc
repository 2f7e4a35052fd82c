#include "gateway/tls/certificate_table.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <utility>

#include "common/certificate.h"
#include "common/validation.h"
#include "gateway/tls/client_hello.h"

namespace gw {
namespace {

// Mozilla's "intermediate" TLS 1.2 suites: ECDHE key exchange, AEAD only.
constexpr char kTls12Ciphers[] =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
constexpr char kGroups[] = "X25519:P-256:P-384";

struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct X509Free {
  void operator()(X509* cert) const { X509_free(cert); }
};
struct KeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;
using KeyPtr = std::unique_ptr<EVP_PKEY, KeyFree>;

// What the table keeps in each SSL it makes (ex_data), freed with the SSL.
struct ConnectionState {
  CertificateTableConstSharedPtr table;  // pinned: the callbacks and the chosen entry live in it
  std::string sni;
  const std::string* certificate = nullptr;  // the served certificate's name, in `table`
};

void FreeConnectionState(void* parent, void* state, CRYPTO_EX_DATA* data, int index, long argl,
                         void* argp) {
  delete static_cast<ConnectionState*>(state);
}

int ConnectionStateIndex() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, FreeConnectionState);
  return index;
}

ConnectionState* StateOf(const SSL* ssl) {
  return static_cast<ConnectionState*>(SSL_get_ex_data(ssl, ConnectionStateIndex()));
}

// OpenSSL's reason for the last failure, and its error queue emptied (it is per thread, and a
// worker's next handshake must not read this one's errors).
std::string OpenSslReason() {
  const unsigned long code = ERR_peek_last_error();
  const char* reason = ERR_reason_error_string(code);
  ERR_clear_error();
  return reason != nullptr ? reason : "unknown error";
}

int RefusePassword(char* buf, int size, int rwflag, void* user) { return -1; }

// Loads the leaf, its chain and the key into `ctx`; "" when fine, else why (never key bytes).
// Its names and expiry go to `entry`.
std::string LoadCertificate(SSL_CTX* ctx, const CertificateSource& source,
                            std::vector<std::string>* dns_names, int64_t* not_after_unix_ms) {
  BioPtr certs(BIO_new_mem_buf(source.cert_pem.data(), static_cast<int>(source.cert_pem.size())));
  std::vector<X509Ptr> chain;
  while (X509* cert = PEM_read_bio_X509(certs.get(), nullptr, RefusePassword, nullptr)) {
    chain.emplace_back(cert);
  }
  ERR_clear_error();  // the end of the input reads as an error
  if (chain.empty()) return "its certificate is not PEM";
  if (SSL_CTX_use_certificate(ctx, chain.front().get()) != 1) {
    return "OpenSSL refused the certificate: " + OpenSslReason();
  }
  for (size_t i = 1; i < chain.size(); ++i) {
    if (SSL_CTX_add1_chain_cert(ctx, chain[i].get()) != 1) {
      return "OpenSSL refused chain certificate " + std::to_string(i) + ": " + OpenSslReason();
    }
  }
  BioPtr key_bio(BIO_new_mem_buf(source.key_pem.data(), static_cast<int>(source.key_pem.size())));
  KeyPtr key(PEM_read_bio_PrivateKey(key_bio.get(), nullptr, RefusePassword, nullptr));
  if (!key) {
    ERR_clear_error();
    return "its key is not an unencrypted PEM private key";
  }
  // A key of another type than the leaf's lands in another slot: only the check sees it.
  if (SSL_CTX_use_PrivateKey(ctx, key.get()) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
    ERR_clear_error();
    return "its key does not match the certificate";
  }
  *dns_names = CertificateDnsNames(chain.front().get());
  *not_after_unix_ms = CertificateNotAfterUnixMs(chain.front().get());
  return "";
}

}  // namespace

bool CertificateTable::Configure(SSL_CTX* ctx, std::string_view context_name, std::string* error) {
  // The session id context (at most 32 bytes) is a digest of the certificate's name: a ticket
  // issued under one certificate never resumes a handshake that selected another, while a new
  // version of the same certificate keeps its clients' tickets.
  const std::string context = "gateway-tls:" + std::string(context_name);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_size = 0;
  const bool ok = SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) == 1 &&
                  SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) == 1 &&
                  SSL_CTX_set_cipher_list(ctx, kTls12Ciphers) == 1 &&
                  SSL_CTX_set1_groups_list(ctx, kGroups) == 1 &&
                  EVP_Digest(context.data(), context.size(), digest, &digest_size, EVP_sha256(),
                             nullptr) == 1 &&
                  SSL_CTX_set_session_id_context(ctx, digest, digest_size) == 1;
  if (!ok) {
    *error = "OpenSSL refused the TLS settings: " + OpenSslReason();
    return false;
  }
  SSL_CTX_set_options(
      ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_IGNORE_UNEXPECTED_EOF);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_alpn_select_cb(ctx, OnAlpn, nullptr);
  return true;
}

CertificateTableConstSharedPtr CertificateTable::Build(
    const std::vector<CertificateSource>& sources, const CertificateTable* previous,
    const TlsEdgeOptions& options, std::string* error) {
  std::shared_ptr<CertificateTable> table(new CertificateTable);
  for (const std::string& protocol : options.alpn_protocols) {
    if (protocol.empty() || protocol.size() > 255) {
      *error = "ALPN protocol " + Quote(protocol) + " must be 1 to 255 bytes";
      return nullptr;
    }
    table->alpn_wire_ += static_cast<char>(protocol.size());
    table->alpn_wire_ += protocol;
  }
  table->ticket_keys_ = options.ticket_keys;

  table->base_.reset(SSL_CTX_new(TLS_server_method()));
  if (!table->base_) {
    *error = "OpenSSL cannot make a TLS context: " + OpenSslReason();
    return nullptr;
  }
  SSL_CTX* base = table->base_.get();
  if (!Configure(base, "", error)) return nullptr;
  SSL_CTX_set_client_hello_cb(base, OnClientHello, nullptr);
  SSL_CTX_set_tlsext_servername_callback(base, OnServerName);
  if (table->ticket_keys_) {
    SSL_CTX_set_tlsext_ticket_key_evp_cb(base, OnTicketKey);
  } else {
    // No tickets at all: TLS 1.3 would otherwise send stateful ones, useless without a cache.
    SSL_CTX_set_options(base, SSL_OP_NO_TICKET);
    SSL_CTX_set_num_tickets(base, 0);
  }

  for (const CertificateSource& source : sources) {
    if (source.name.empty()) {
      *error = "a certificate has no name";
      return nullptr;
    }
    if (table->by_name_.count(source.name) != 0) {
      *error = "certificate " + Quote(source.name) + " is listed twice";
      return nullptr;
    }
    if (source.is_default && table->fallback_ != nullptr) {
      *error = "certificates " + Quote(table->fallback_->name) + " and " + Quote(source.name) +
               " are both the default";
      return nullptr;
    }
    Entry entry;
    entry.name = source.name;
    entry.version = source.version;
    const Entry* old = nullptr;
    if (previous != nullptr) {
      const auto it = previous->by_name_.find(source.name);
      if (it != previous->by_name_.end() && it->second.version == source.version) old = &it->second;
    }
    if (old != nullptr) {
      SSL_CTX_up_ref(old->ctx.get());
      entry.ctx.reset(old->ctx.get());
      entry.dns_names = old->dns_names;
      entry.not_after_unix_ms = old->not_after_unix_ms;
    } else {
      entry.ctx.reset(SSL_CTX_new(TLS_server_method()));
      if (!entry.ctx) {
        *error = "OpenSSL cannot make a TLS context: " + OpenSslReason();
        return nullptr;
      }
      if (!Configure(entry.ctx.get(), source.name, error)) return nullptr;
      const std::string problem =
          LoadCertificate(entry.ctx.get(), source, &entry.dns_names, &entry.not_after_unix_ms);
      if (!problem.empty()) {
        *error = "certificate " + Quote(source.name) + ": " + problem;
        return nullptr;
      }
    }
    const Entry* added = &table->by_name_.emplace(source.name, std::move(entry)).first->second;
    // emplace keeps what is there: the first certificate to claim a name serves it.
    for (const std::string& dns : added->dns_names) {
      if (dns.size() > 2 && dns.compare(0, 2, "*.") == 0) {
        const std::string rest = dns.substr(2);
        // *.com is no wildcard anyone may use (nor f*.example.com, skipped below).
        if (rest.find('.') != std::string::npos && rest.find('*') == std::string::npos) {
          table->wildcard_.emplace(rest, added);
        }
      } else if (dns.find('*') == std::string::npos) {
        table->exact_.emplace(dns, added);
      }
    }
    if (source.is_default) table->fallback_ = added;
  }
  return table;
}

SslPtr CertificateTable::NewConnection() const {
  SslPtr ssl(SSL_new(base_.get()));
  if (!ssl) return nullptr;
  auto* state = new ConnectionState{shared_from_this(), {}, nullptr};
  if (SSL_set_ex_data(ssl.get(), ConnectionStateIndex(), state) != 1) {
    delete state;
    return nullptr;
  }
  return ssl;
}

const CertificateTable::Entry* CertificateTable::Select(
    const std::optional<std::string>& host) const {
  if (host) {
    if (const auto it = exact_.find(*host); it != exact_.end()) return it->second;
    const size_t dot = host->find('.');
    if (dot != std::string::npos) {
      if (const auto it = wildcard_.find(host->substr(dot + 1)); it != wildcard_.end()) {
        return it->second;
      }
    }
  }
  return fallback_;
}

int CertificateTable::OnClientHello(SSL* ssl, int* alert, void* arg) {
  ConnectionState* state = StateOf(ssl);
  if (state == nullptr) {  // an SSL not made by NewConnection
    *alert = SSL_AD_INTERNAL_ERROR;
    return SSL_CLIENT_HELLO_ERROR;
  }
  const unsigned char* extension = nullptr;
  size_t size = 0;
  std::optional<std::string> host;
  if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &extension, &size) == 1) {
    host = ParseSniExtension(std::string_view(reinterpret_cast<const char*>(extension), size));
  }
  state->sni = host.value_or("");
  const Entry* entry = state->table->Select(host);
  if (entry == nullptr) {
    *alert = SSL_AD_UNRECOGNIZED_NAME;
    return SSL_CLIENT_HELLO_ERROR;
  }
  // Takes a reference to the SSL_CTX and a copy of its certificate: the connection keeps both.
  if (SSL_set_SSL_CTX(ssl, entry->ctx.get()) == nullptr) {
    *alert = SSL_AD_INTERNAL_ERROR;
    return SSL_CLIENT_HELLO_ERROR;
  }
  state->certificate = &entry->name;
  return SSL_CLIENT_HELLO_SUCCESS;
}

// The name was used to pick the certificate: acknowledged (RFC 6066 §3).
int CertificateTable::OnServerName(SSL* ssl, int* alert, void* arg) { return SSL_TLSEXT_ERR_OK; }

int CertificateTable::OnAlpn(SSL* ssl, const unsigned char** out, unsigned char* out_size,
                             const unsigned char* in, unsigned int in_size, void* arg) {
  const ConnectionState* state = StateOf(ssl);
  if (state == nullptr || state->table->alpn_wire_.empty()) return SSL_TLSEXT_ERR_NOACK;
  const std::string& wire = state->table->alpn_wire_;
  unsigned char* selected = nullptr;
  // The server's order wins. No protocol in common: none selected, and the handshake goes on
  // (the connection speaks HTTP/1.1) rather than failing with no_application_protocol.
  if (SSL_select_next_proto(
          &selected, out_size, reinterpret_cast<const unsigned char*>(wire.data()),
          static_cast<unsigned int>(wire.size()), in, in_size) != OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_NOACK;
  }
  *out = selected;
  return SSL_TLSEXT_ERR_OK;
}

int CertificateTable::OnTicketKey(SSL* ssl, unsigned char key_name[kTicketKeyNameSize],
                                  unsigned char* iv, EVP_CIPHER_CTX* cipher, EVP_MAC_CTX* mac,
                                  int enc) {
  const ConnectionState* state = StateOf(ssl);
  // 0: no ticket is issued, or the one offered is not taken (a full handshake).
  if (state == nullptr || !state->table->ticket_keys_) return 0;
  const int answer = state->table->ticket_keys_->SealOrOpen(key_name, iv, cipher, mac, enc);
  // A TLS 1.3 client uses a ticket once (RFC 8446 appendix C.4; OpenSSL's marks it spent), and
  // OpenSSL sends a new one after a resumption only when asked to renew: without this every
  // other handshake of a client that reconnects would be a full one.
  if (enc == 0 && answer == 1 && SSL_version(ssl) == TLS1_3_VERSION) return 2;
  return answer;
}

std::vector<std::pair<std::string, int64_t>> CertificateTable::NotAfter() const {
  std::vector<std::pair<std::string, int64_t>> out;
  out.reserve(by_name_.size());
  for (const auto& [name, entry] : by_name_) out.emplace_back(name, entry.not_after_unix_ms);
  std::sort(out.begin(), out.end());
  return out;
}

TlsHandshakeInfo DescribeHandshake(const SSL* ssl) {
  TlsHandshakeInfo info;
  const unsigned char* alpn = nullptr;
  unsigned int alpn_size = 0;
  SSL_get0_alpn_selected(ssl, &alpn, &alpn_size);
  if (alpn != nullptr) info.alpn.assign(reinterpret_cast<const char*>(alpn), alpn_size);
  if (const ConnectionState* state = StateOf(ssl)) {
    info.sni = state->sni;
    if (state->certificate != nullptr) info.certificate = *state->certificate;
  }
  info.version = SSL_version(ssl);
  info.resumed = SSL_session_reused(ssl) == 1;
  return info;
}

}  // namespace gw
