// Real TLS handshakes between an OpenSSL client and the table's server SSL over a memory BIO
// pair, in one thread: the certificate a client is served, ALPN, protocol bounds, live swaps and
// resumption with session tickets.
#include "gateway/tls/certificate_table.h"

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace gw {
namespace {

struct KeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct X509Free {
  void operator()(X509* cert) const { X509_free(cert); }
};
struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct SessionFree {
  void operator()(SSL_SESSION* session) const { SSL_SESSION_free(session); }
};
using KeyPtr = std::unique_ptr<EVP_PKEY, KeyFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;
using BioPtr = std::unique_ptr<BIO, BioFree>;
using SessionPtr = std::unique_ptr<SSL_SESSION, SessionFree>;

// A client closes its connection with close_notify, as a browser does: OpenSSL marks the
// session of one freed without it not resumable, and the tests reuse sessions.
struct ClosingSslFree {
  void operator()(SSL* ssl) const {
    if (SSL_is_init_finished(ssl)) SSL_shutdown(ssl);
    ERR_clear_error();
    SSL_free(ssl);
  }
};
using ClientSslPtr = std::unique_ptr<SSL, ClosingSslFree>;

std::string BioText(BIO* bio) {
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(size));
}

std::string PemOf(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(bio.get(), cert);
  return BioText(bio.get());
}

std::string PemOf(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
  return BioText(bio.get());
}

void AddExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  ASSERT_NE(extension, nullptr) << value;
  X509_add_ext(cert, extension, -1);
  X509_EXTENSION_free(extension);
}

struct CertSpec {
  std::string common_name = "test";
  std::vector<std::string> dns;  // SANs; none: no SAN extension
  long valid_from_days = -1;
  long valid_to_days = 30;
  bool ca = false;
};

// A certificate for `key`, signed by `issuer_key` as `issuer` (itself when null).
X509Ptr MakeCertificate(EVP_PKEY* key, const CertSpec& spec, X509* issuer = nullptr,
                        EVP_PKEY* issuer_key = nullptr) {
  static long serial = 1;
  X509Ptr cert(X509_new());
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial++);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), spec.valid_from_days * 86400);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), spec.valid_to_days * 86400);
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(spec.common_name.c_str()), -1,
                             -1, 0);
  X509_set_issuer_name(cert.get(), issuer ? X509_get_subject_name(issuer) : name);
  if (!spec.dns.empty()) {
    std::string sans;
    for (const std::string& dns : spec.dns) sans += (sans.empty() ? "DNS:" : ",DNS:") + dns;
    AddExtension(cert.get(), issuer ? issuer : cert.get(), NID_subject_alt_name, sans);
  }
  if (spec.ca) {
    AddExtension(cert.get(), cert.get(), NID_basic_constraints, "critical,CA:TRUE");
  }
  EXPECT_GT(X509_sign(cert.get(), issuer_key ? issuer_key : key, EVP_sha256()), 0);
  return cert;
}

struct Handshake {
  ClientSslPtr client;
  SslPtr server;
  bool ok = false;
  unsigned long client_error = 0;  // OpenSSL's first error on each side, when it failed
  unsigned long server_error = 0;
};

// One step of a side's handshake: true when it finished (done or failed).
bool Step(SSL* ssl, bool& done, unsigned long& error) {
  if (done || error != 0) return true;
  const int result = SSL_do_handshake(ssl);
  if (result == 1) {
    done = true;
    return true;
  }
  const int reason = SSL_get_error(ssl, result);
  if (reason == SSL_ERROR_WANT_READ || reason == SSL_ERROR_WANT_WRITE) return false;
  error = ERR_get_error();
  if (error == 0) error = ERR_PACK(ERR_LIB_SSL, 0, SSL_R_UNEXPECTED_MESSAGE);
  ERR_clear_error();  // one thread plays both sides: the other must not read these errors
  return true;
}

struct ClientHello {
  const char* sni = nullptr;
  std::string alpn;  // wire format; "" for no ALPN extension
  SSL_SESSION* session = nullptr;
};

Handshake Connect(const CertificateTable& table, SSL_CTX* client_ctx, const ClientHello& hello) {
  Handshake h;
  h.server = table.NewConnection();
  h.client.reset(SSL_new(client_ctx));
  EXPECT_TRUE(h.server && h.client);
  if (!h.server || !h.client) return h;
  if (hello.sni != nullptr) SSL_set_tlsext_host_name(h.client.get(), hello.sni);
  if (!hello.alpn.empty()) {
    // 0 is success here.
    EXPECT_EQ(SSL_set_alpn_protos(h.client.get(),
                                  reinterpret_cast<const unsigned char*>(hello.alpn.data()),
                                  static_cast<unsigned int>(hello.alpn.size())),
              0);
  }
  if (hello.session != nullptr) SSL_set_session(h.client.get(), hello.session);
  BIO* client_bio = nullptr;
  BIO* server_bio = nullptr;
  EXPECT_EQ(BIO_new_bio_pair(&client_bio, 0, &server_bio, 0), 1);
  SSL_set_bio(h.client.get(), client_bio, client_bio);
  SSL_set_bio(h.server.get(), server_bio, server_bio);
  SSL_set_connect_state(h.client.get());
  SSL_set_accept_state(h.server.get());
  bool client_done = false;
  bool server_done = false;
  for (int round = 0; round < 50; ++round) {
    const bool client_finished = Step(h.client.get(), client_done, h.client_error);
    const bool server_finished = Step(h.server.get(), server_done, h.server_error);
    if (client_finished && server_finished) break;
  }
  h.ok = client_done && server_done;
  return h;
}

// Writes `data` on one side and reads it on the other (the client's reads also take in the
// session tickets a TLS 1.3 server sends after the handshake).
std::string Transfer(SSL* from, SSL* to, const std::string& data) {
  size_t written = 0;
  EXPECT_EQ(SSL_write_ex(from, data.data(), data.size(), &written), 1);
  std::string received;
  char buffer[256];
  for (int i = 0; i < 10 && received.size() < data.size(); ++i) {
    size_t size = 0;
    if (SSL_read_ex(to, buffer, sizeof(buffer), &size) == 1) received.append(buffer, size);
  }
  ERR_clear_error();
  return received;
}

bool ServedCertificateIs(const Handshake& h, X509* expected) {
  X509* peer = SSL_get0_peer_certificate(h.client.get());
  return peer != nullptr && X509_cmp(peer, expected) == 0;
}

std::string Alpn(std::initializer_list<std::string> protocols) {
  std::string wire;
  for (const std::string& protocol : protocols) {
    wire += static_cast<char>(protocol.size());
    wire += protocol;
  }
  return wire;
}

int ReasonOf(unsigned long error) { return ERR_GET_REASON(error); }

class CertificateTableTest : public ::testing::Test {
 protected:
  // Made once per process, on first use (an RSA key takes a while): ctest runs each test in a
  // process of its own.
  static EVP_PKEY* Key(KeyPtr& key, const char* type) {
    if (!key) {
      key.reset(std::string_view(type) == "RSA"
                    ? EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048))
                    : EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
    }
    EXPECT_TRUE(key);
    return key.get();
  }
  static EVP_PKEY* RsaKey() { return Key(rsa_key_, "RSA"); }
  static void TearDownTestSuite() {
    ec_key_.reset();
    other_ec_key_.reset();
    rsa_key_.reset();
  }

  void SetUp() override {
    client_ctx_ = NewClientContext(TLS1_2_VERSION, TLS1_3_VERSION);
    options_.ticket_keys = ring_;
  }

  static SslCtxPtr NewClientContext(int min_version, int max_version) {
    SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);  // the tests compare certificates
    SSL_CTX_set_min_proto_version(ctx.get(), min_version);
    SSL_CTX_set_max_proto_version(ctx.get(), max_version);
    return ctx;
  }

  // A certificate source for `cert` (and its key), keeping the certificate to compare with.
  CertificateSource Source(const std::string& name, uint64_t version, X509* cert, EVP_PKEY* key,
                           bool is_default = false) {
    return {name, version, PemOf(cert), PemOf(key), is_default};
  }

  CertificateTableConstSharedPtr Build(const std::vector<CertificateSource>& sources,
                                       const CertificateTable* previous = nullptr) {
    std::string error;
    CertificateTableConstSharedPtr table =
        CertificateTable::Build(sources, previous, options_, &error);
    EXPECT_TRUE(table) << error;
    EXPECT_EQ(error, "");
    return table;
  }

  std::string BuildError(const std::vector<CertificateSource>& sources) {
    std::string error;
    EXPECT_EQ(CertificateTable::Build(sources, nullptr, options_, &error), nullptr);
    return error;
  }

  Handshake Connect(const CertificateTable& table, const char* sni, std::string alpn = "",
                    SSL_SESSION* session = nullptr) {
    return gw::Connect(table, client_ctx_.get(), {sni, std::move(alpn), session});
  }

  // The session the client holds after a handshake and the server's first bytes.
  static SessionPtr SessionAfter(Handshake& h) {
    EXPECT_EQ(Transfer(h.server.get(), h.client.get(), "hello"), "hello");
    SessionPtr session(SSL_get1_session(h.client.get()));
    EXPECT_TRUE(session && SSL_SESSION_is_resumable(session.get()));
    return session;
  }

  static inline KeyPtr ec_key_;
  static inline KeyPtr other_ec_key_;
  static inline KeyPtr rsa_key_;
  EVP_PKEY* const ec_ = Key(ec_key_, "EC");
  EVP_PKEY* const other_ec_ = Key(other_ec_key_, "EC");
  std::shared_ptr<TicketKeyRing> ring_ = std::make_shared<TicketKeyRing>();
  TlsEdgeOptions options_;
  SslCtxPtr client_ctx_;
};

TEST_F(CertificateTableTest, ServesTheCertificateTheNameSelects) {
  const X509Ptr api = MakeCertificate(ec_, {.dns = {"api.example.com"}});
  const X509Ptr www = MakeCertificate(RsaKey(), {.dns = {"www.example.com", "example.org"}});
  const X509Ptr wildcard = MakeCertificate(ec_, {.dns = {"*.example.com"}});
  const X509Ptr fallback = MakeCertificate(ec_, {.dns = {"default.test"}});
  const auto table = Build({Source("api", 1, api.get(), ec_), Source("www", 1, www.get(), RsaKey()),
                            Source("wildcard", 1, wildcard.get(), ec_),
                            Source("fallback", 1, fallback.get(), ec_, true)});
  ASSERT_TRUE(table);
  EXPECT_EQ(table->size(), 4u);
  EXPECT_TRUE(table->has_default());

  struct Case {
    const char* sni;
    X509* served;
    const char* certificate;
  };
  const Case cases[] = {
      {"api.example.com", api.get(), "api"},
      {"API.Example.COM", api.get(), "api"},  // host names are case-insensitive
      {"www.example.com", www.get(), "www"},
      {"example.org", www.get(), "www"},  // a second SAN
      {"shop.example.com", wildcard.get(), "wildcard"},
      {"a.b.example.com", fallback.get(), "fallback"},  // a wildcard covers one label only
      {"example.com", fallback.get(), "fallback"},      // and not the name itself
      {"unknown.test", fallback.get(), "fallback"},
      {"default.test", fallback.get(), "fallback"},
      {nullptr, fallback.get(), "fallback"},
  };
  for (const Case& c : cases) {
    const std::string label = c.sni ? c.sni : "(no SNI)";
    Handshake h = Connect(*table, c.sni);
    ASSERT_TRUE(h.ok) << label;
    EXPECT_TRUE(ServedCertificateIs(h, c.served)) << label;
    const TlsHandshakeInfo info = DescribeHandshake(h.server.get());
    EXPECT_EQ(info.certificate, c.certificate) << label;
    std::string sni = c.sni ? c.sni : "";
    for (char& ch : sni) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    EXPECT_EQ(info.sni, sni) << label;
    EXPECT_EQ(info.version, TLS1_3_VERSION) << label;
    EXPECT_FALSE(info.resumed) << label;
    EXPECT_EQ(Transfer(h.client.get(), h.server.get(), "GET / HTTP/1.1\r\n"), "GET / HTTP/1.1\r\n");
  }
}

TEST_F(CertificateTableTest, WithoutADefaultAnUnknownNameIsRefused) {
  const X509Ptr api = MakeCertificate(ec_, {.dns = {"api.example.com"}});
  const auto table = Build({Source("api", 1, api.get(), ec_)});
  ASSERT_TRUE(table);
  EXPECT_FALSE(table->has_default());
  for (const char* sni : {"unknown.test", static_cast<const char*>(nullptr)}) {
    const Handshake h = Connect(*table, sni);
    EXPECT_FALSE(h.ok);
    EXPECT_EQ(ReasonOf(h.client_error), SSL_R_TLSV1_UNRECOGNIZED_NAME) << (sni ? sni : "");
    EXPECT_NE(h.server_error, 0u);
  }
  EXPECT_TRUE(Connect(*table, "api.example.com").ok);
}

TEST_F(CertificateTableTest, SendsTheChain) {
  const X509Ptr ca = MakeCertificate(RsaKey(), {.common_name = "test CA", .dns = {}, .ca = true});
  const X509Ptr leaf = MakeCertificate(ec_, {.dns = {"api.example.com"}}, ca.get(), RsaKey());
  CertificateSource source = Source("api", 1, leaf.get(), ec_, true);
  source.cert_pem += PemOf(ca.get());
  const auto table = Build({source});
  ASSERT_TRUE(table);
  const Handshake h = Connect(*table, "api.example.com");
  ASSERT_TRUE(h.ok);
  EXPECT_TRUE(ServedCertificateIs(h, leaf.get()));
  STACK_OF(X509)* chain = SSL_get_peer_cert_chain(h.client.get());
  ASSERT_NE(chain, nullptr);
  ASSERT_EQ(sk_X509_num(chain), 2);
  EXPECT_EQ(X509_cmp(sk_X509_value(chain, 1), ca.get()), 0);
}

TEST_F(CertificateTableTest, ServesAnExpiredCertificate) {
  const X509Ptr expired = MakeCertificate(
      ec_, {.dns = {"old.example.com"}, .valid_from_days = -30, .valid_to_days = -1});
  const auto table = Build({Source("old", 1, expired.get(), ec_, true)});
  ASSERT_TRUE(table);
  const Handshake h = Connect(*table, "old.example.com");
  ASSERT_TRUE(h.ok);
  EXPECT_TRUE(ServedCertificateIs(h, expired.get()));
}

TEST_F(CertificateTableTest, ACertificateWithoutSansIsChosenByItsCommonName) {
  const X509Ptr cert = MakeCertificate(ec_, {.common_name = "Legacy.Example.com", .dns = {}});
  const X509Ptr fallback = MakeCertificate(ec_, {.dns = {"default.test"}});
  const auto table = Build(
      {Source("legacy", 1, cert.get(), ec_), Source("fallback", 1, fallback.get(), ec_, true)});
  ASSERT_TRUE(table);
  EXPECT_TRUE(ServedCertificateIs(Connect(*table, "legacy.example.com"), cert.get()));
}

TEST_F(CertificateTableTest, TheFirstCertificateToClaimANameServesIt) {
  const X509Ptr first = MakeCertificate(ec_, {.dns = {"api.example.com"}});
  const X509Ptr second = MakeCertificate(ec_, {.dns = {"api.example.com"}});
  const auto table =
      Build({Source("first", 1, first.get(), ec_), Source("second", 1, second.get(), ec_)});
  ASSERT_TRUE(table);
  EXPECT_TRUE(ServedCertificateIs(Connect(*table, "api.example.com"), first.get()));
}

// A certificate updated by a new config version: the connection made with the old one keeps it
// and keeps working after the old table is gone; a new handshake gets the new certificate.
TEST_F(CertificateTableTest, ANewTableServesNewHandshakesWhileOpenConnectionsKeepTheirs) {
  const X509Ptr old_cert = MakeCertificate(ec_, {.dns = {"api.example.com"}});
  const X509Ptr new_cert = MakeCertificate(other_ec_, {.dns = {"api.example.com"}});
  auto table = Build({Source("api", 1, old_cert.get(), ec_, true)});
  ASSERT_TRUE(table);
  Handshake open = Connect(*table, "api.example.com");
  ASSERT_TRUE(open.ok);

  const auto next = Build({Source("api", 2, new_cert.get(), other_ec_, true)}, table.get());
  ASSERT_TRUE(next);
  table.reset();  // the connection alone holds the old table now

  EXPECT_EQ(Transfer(open.client.get(), open.server.get(), "request"), "request");
  EXPECT_EQ(Transfer(open.server.get(), open.client.get(), "response"), "response");
  EXPECT_TRUE(ServedCertificateIs(open, old_cert.get()));
  EXPECT_EQ(DescribeHandshake(open.server.get()).certificate, "api");

  const Handshake fresh = Connect(*next, "api.example.com");
  ASSERT_TRUE(fresh.ok);
  EXPECT_TRUE(ServedCertificateIs(fresh, new_cert.get()));
}

TEST_F(CertificateTableTest, ReusesTheContextOfAnUnchangedCertificate) {
  const X509Ptr api = MakeCertificate(ec_, {.dns = {"api.example.com"}});
  const X509Ptr www = MakeCertificate(ec_, {.dns = {"www.example.com"}});
  const X509Ptr www2 = MakeCertificate(other_ec_, {.dns = {"www.example.com"}});
  const auto first = Build({Source("api", 1, api.get(), ec_), Source("www", 1, www.get(), ec_)});
  ASSERT_TRUE(first);
  // The unchanged certificate's PEM is not even read again: garbage in its place is not seen.
  CertificateSource same_api = Source("api", 1, api.get(), ec_);
  same_api.cert_pem = "not read";
  same_api.key_pem = "not read";
  const auto second = Build({same_api, Source("www", 2, www2.get(), other_ec_)}, first.get());
  ASSERT_TRUE(second);

  const Handshake api_before = Connect(*first, "api.example.com");
  const Handshake api_after = Connect(*second, "api.example.com");
  const Handshake www_before = Connect(*first, "www.example.com");
  const Handshake www_after = Connect(*second, "www.example.com");
  ASSERT_TRUE(api_before.ok && api_after.ok && www_before.ok && www_after.ok);
  EXPECT_EQ(SSL_get_SSL_CTX(api_before.server.get()), SSL_get_SSL_CTX(api_after.server.get()));
  EXPECT_TRUE(ServedCertificateIs(api_after, api.get()));
  EXPECT_NE(SSL_get_SSL_CTX(www_before.server.get()), SSL_get_SSL_CTX(www_after.server.get()));
  EXPECT_TRUE(ServedCertificateIs(www_after, www2.get()));
}

TEST_F(CertificateTableTest, SpeaksTls12AndTls13Only) {
  const X509Ptr cert = MakeCertificate(ec_, {.dns = {"api.example.com"}});
  const auto table = Build({Source("api", 1, cert.get(), ec_, true)});
  ASSERT_TRUE(table);

  const Handshake tls13 = Connect(*table, "api.example.com");
  ASSERT_TRUE(tls13.ok);
  EXPECT_EQ(DescribeHandshake(tls13.server.get()).version, TLS1_3_VERSION);

  client_ctx_ = NewClientContext(TLS1_2_VERSION, TLS1_2_VERSION);
  const Handshake tls12 = Connect(*table, "api.example.com");
  ASSERT_TRUE(tls12.ok);
  EXPECT_EQ(DescribeHandshake(tls12.server.get()).version, TLS1_2_VERSION);
  EXPECT_STREQ(SSL_get_cipher_name(tls12.client.get()), "ECDHE-ECDSA-AES256-GCM-SHA384");

  // A TLS 1.1 client (allowed to try by security level 0) gets protocol_version.
  client_ctx_ = NewClientContext(TLS1_1_VERSION, TLS1_1_VERSION);
  ASSERT_EQ(SSL_CTX_set_cipher_list(client_ctx_.get(), "DEFAULT:@SECLEVEL=0"), 1);
  const Handshake tls11 = Connect(*table, "api.example.com");
  EXPECT_FALSE(tls11.ok);
  EXPECT_EQ(ReasonOf(tls11.server_error), SSL_R_UNSUPPORTED_PROTOCOL);
  EXPECT_EQ(ReasonOf(tls11.client_error), SSL_R_TLSV1_ALERT_PROTOCOL_VERSION);

  // A TLS 1.2 client with CBC suites only finds none in common.
  client_ctx_ = NewClientContext(TLS1_2_VERSION, TLS1_2_VERSION);
  ASSERT_EQ(SSL_CTX_set_cipher_list(client_ctx_.get(), "ECDHE-ECDSA-AES128-SHA256:AES128-SHA"), 1);
  const Handshake cbc = Connect(*table, "api.example.com");
  EXPECT_FALSE(cbc.ok);
  EXPECT_EQ(ReasonOf(cbc.server_error), SSL_R_NO_SHARED_CIPHER);
}

TEST_F(CertificateTableTest, NegotiatesAlpnOnEveryCertificate) {
  const X509Ptr api = MakeCertificate(ec_, {.dns = {"api.example.com"}});
  const X509Ptr fallback = MakeCertificate(RsaKey(), {.dns = {"default.test"}});
  const auto table = Build(
      {Source("api", 1, api.get(), ec_), Source("fallback", 1, fallback.get(), RsaKey(), true)});
  ASSERT_TRUE(table);
  struct Case {
    std::string offered;
    std::string selected;
  };
  const Case cases[] = {
      {Alpn({"h2", "http/1.1"}), "h2"},
      {Alpn({"http/1.1", "h2"}), "h2"},  // the server's preference
      {Alpn({"http/1.1"}), "http/1.1"},
      {Alpn({"spdy/3", "h3"}), ""},  // nothing in common: none, and the handshake goes on
      {"", ""},                      // no ALPN at all
  };
  for (const char* sni : {"api.example.com", "unknown.test"}) {
    for (const Case& c : cases) {
      const Handshake h = Connect(*table, sni, c.offered);
      ASSERT_TRUE(h.ok) << sni << " " << c.selected;
      EXPECT_EQ(DescribeHandshake(h.server.get()).alpn, c.selected) << sni;
      const unsigned char* client_view = nullptr;
      unsigned int size = 0;
      SSL_get0_alpn_selected(h.client.get(), &client_view, &size);
      EXPECT_EQ(std::string(reinterpret_cast<const char*>(client_view), size), c.selected);
    }
  }

  options_.alpn_protocols = {"http/1.1"};  // h2 switched off
  const auto h1_only = Build({Source("api", 1, api.get(), ec_, true)});
  ASSERT_TRUE(h1_only);
  EXPECT_EQ(
      DescribeHandshake(Connect(*h1_only, "api.example.com", Alpn({"h2", "http/1.1"})).server.get())
          .alpn,
      "http/1.1");
  EXPECT_EQ(DescribeHandshake(Connect(*h1_only, "api.example.com", Alpn({"h2"})).server.get()).alpn,
            "");
}

TEST_F(CertificateTableTest, RefusesWhatCannotBeServed) {
  const X509Ptr api = MakeCertificate(ec_, {.dns = {"api.example.com"}});
  const X509Ptr www = MakeCertificate(RsaKey(), {.dns = {"www.example.com"}});
  const CertificateSource good = Source("api", 1, api.get(), ec_);

  CertificateSource wrong_key = good;
  wrong_key.key_pem = PemOf(other_ec_);
  EXPECT_EQ(BuildError({wrong_key}), "certificate 'api': its key does not match the certificate");
  CertificateSource other_type = Source("www", 1, www.get(), ec_);
  EXPECT_EQ(BuildError({other_type}), "certificate 'www': its key does not match the certificate");

  CertificateSource no_cert = good;
  no_cert.cert_pem = "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n";
  EXPECT_EQ(BuildError({no_cert}), "certificate 'api': its certificate is not PEM");

  CertificateSource encrypted = good;
  BioPtr bio(BIO_new(BIO_s_mem()));
  ASSERT_EQ(PEM_write_bio_PrivateKey(bio.get(), ec_, EVP_aes_256_cbc(), nullptr, 0, nullptr,
                                     const_cast<char*>("secret")),
            1);
  encrypted.key_pem = BioText(bio.get());
  EXPECT_EQ(BuildError({encrypted}),
            "certificate 'api': its key is not an unencrypted PEM private key");
  CertificateSource no_key = good;
  no_key.key_pem = good.cert_pem;
  EXPECT_EQ(BuildError({no_key}),
            "certificate 'api': its key is not an unencrypted PEM private key");

  CertificateSource twice = good;
  EXPECT_EQ(BuildError({good, twice}), "certificate 'api' is listed twice");
  CertificateSource unnamed = good;
  unnamed.name = "";
  EXPECT_EQ(BuildError({unnamed}), "a certificate has no name");
  CertificateSource first_default = good;
  first_default.is_default = true;
  CertificateSource second_default = Source("www", 1, www.get(), RsaKey(), true);
  EXPECT_EQ(BuildError({first_default, second_default}),
            "certificates 'api' and 'www' are both the default");

  options_.alpn_protocols = {"h2", ""};
  EXPECT_EQ(BuildError({good}), "ALPN protocol '' must be 1 to 255 bytes");
  EXPECT_EQ(ERR_peek_error(), 0u);  // nothing left in the thread's OpenSSL error queue
}

class CertificateTableResumptionTest : public CertificateTableTest,
                                       public ::testing::WithParamInterface<int> {
 protected:
  void SetUp() override {
    CertificateTableTest::SetUp();
    client_ctx_ = NewClientContext(GetParam(), GetParam());
  }
};

TEST_P(CertificateTableResumptionTest, ResumesWithATicketUntilItsKeyIsDropped) {
  const X509Ptr api = MakeCertificate(ec_, {.dns = {"api.example.com"}});
  const auto table = Build({Source("api", 1, api.get(), ec_, true)});
  ASSERT_TRUE(table);
  Handshake full = Connect(*table, "api.example.com");
  ASSERT_TRUE(full.ok);
  EXPECT_FALSE(DescribeHandshake(full.server.get()).resumed);
  const SessionPtr session = SessionAfter(full);

  Handshake resumed = Connect(*table, "api.example.com", "", session.get());
  ASSERT_TRUE(resumed.ok);
  EXPECT_TRUE(DescribeHandshake(resumed.server.get()).resumed);
  EXPECT_EQ(DescribeHandshake(resumed.server.get()).version, GetParam());
  EXPECT_EQ(Transfer(resumed.client.get(), resumed.server.get(), "request"), "request");

  // A new config version, same ring: tickets survive it.
  const auto next = Build({Source("api", 1, api.get(), ec_, true)}, table.get());
  ASSERT_TRUE(next);
  EXPECT_TRUE(
      DescribeHandshake(Connect(*next, "api.example.com", "", session.get()).server.get()).resumed);

  for (size_t rotation = 1; rotation <= kPreviousTicketKeys; ++rotation) {
    ASSERT_TRUE(ring_->Rotate());
    Handshake h = Connect(*table, "api.example.com", "", session.get());
    ASSERT_TRUE(h.ok);
    EXPECT_TRUE(DescribeHandshake(h.server.get()).resumed) << "after rotation " << rotation;
    // Opened with a previous key: the client gets a new ticket.
    const SessionPtr renewed = SessionAfter(h);
    const unsigned char* old_ticket = nullptr;
    const unsigned char* new_ticket = nullptr;
    size_t old_size = 0;
    size_t new_size = 0;
    SSL_SESSION_get0_ticket(session.get(), &old_ticket, &old_size);
    SSL_SESSION_get0_ticket(renewed.get(), &new_ticket, &new_size);
    ASSERT_GT(new_size, 0u);
    EXPECT_NE(std::string(reinterpret_cast<const char*>(old_ticket), old_size),
              std::string(reinterpret_cast<const char*>(new_ticket), new_size));
  }
  ASSERT_TRUE(ring_->Rotate());
  const Handshake dropped = Connect(*table, "api.example.com", "", session.get());
  ASSERT_TRUE(dropped.ok);  // a full handshake instead
  EXPECT_FALSE(DescribeHandshake(dropped.server.get()).resumed);
}

TEST_P(CertificateTableResumptionTest, EveryResumptionHandsOutATicketForTheNext) {
  // A client that reconnects again and again resumes every time, not every other time. With a
  // client session cache (wrk's, curl's) OpenSSL marks a TLS 1.3 ticket spent once it resumed.
  SSL_CTX_set_session_cache_mode(client_ctx_.get(), SSL_SESS_CACHE_CLIENT);
  const X509Ptr api = MakeCertificate(ec_, {.dns = {"api.example.com"}});
  const auto table = Build({Source("api", 1, api.get(), ec_, true)});
  ASSERT_TRUE(table);
  Handshake first = Connect(*table, "api.example.com");
  ASSERT_TRUE(first.ok);
  SessionPtr session = SessionAfter(first);
  for (int i = 0; i < 3; ++i) {
    Handshake h = Connect(*table, "api.example.com", "", session.get());
    ASSERT_TRUE(h.ok);
    EXPECT_TRUE(DescribeHandshake(h.server.get()).resumed) << "reconnection " << i;
    session = SessionAfter(h);
    EXPECT_EQ(SSL_SESSION_is_resumable(session.get()), 1) << "reconnection " << i;
  }
}

TEST_P(CertificateTableResumptionTest, ATicketResumesOnlyTheCertificateItWasIssuedUnder) {
  const X509Ptr api = MakeCertificate(ec_, {.dns = {"api.example.com"}});
  const X509Ptr www = MakeCertificate(ec_, {.dns = {"www.example.com"}});
  const auto table = Build({Source("api", 1, api.get(), ec_), Source("www", 1, www.get(), ec_)});
  ASSERT_TRUE(table);
  Handshake full = Connect(*table, "api.example.com");
  ASSERT_TRUE(full.ok);
  const SessionPtr session = SessionAfter(full);

  const Handshake other = Connect(*table, "www.example.com", "", session.get());
  ASSERT_TRUE(other.ok);
  EXPECT_FALSE(DescribeHandshake(other.server.get()).resumed);
  EXPECT_TRUE(ServedCertificateIs(other, www.get()));
  EXPECT_TRUE(DescribeHandshake(Connect(*table, "api.example.com", "", session.get()).server.get())
                  .resumed);
}

TEST_P(CertificateTableResumptionTest, WithoutTicketKeysEveryHandshakeIsFull) {
  options_.ticket_keys = nullptr;
  const X509Ptr api = MakeCertificate(ec_, {.dns = {"api.example.com"}});
  const auto table = Build({Source("api", 1, api.get(), ec_, true)});
  ASSERT_TRUE(table);
  Handshake full = Connect(*table, "api.example.com");
  ASSERT_TRUE(full.ok);
  EXPECT_EQ(Transfer(full.server.get(), full.client.get(), "hello"), "hello");
  const SessionPtr session(SSL_get1_session(full.client.get()));
  ASSERT_TRUE(session);
  EXPECT_FALSE(SSL_SESSION_has_ticket(session.get()));
  const Handshake again = Connect(*table, "api.example.com", "", session.get());
  ASSERT_TRUE(again.ok);
  EXPECT_FALSE(DescribeHandshake(again.server.get()).resumed);
}

INSTANTIATE_TEST_SUITE_P(Versions, CertificateTableResumptionTest,
                         ::testing::Values(TLS1_2_VERSION, TLS1_3_VERSION),
                         [](const ::testing::TestParamInfo<int>& info) {
                           return info.param == TLS1_2_VERSION ? "Tls12" : "Tls13";
                         });

}  // namespace
}  // namespace gw
