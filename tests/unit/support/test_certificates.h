// Certificates made by a test: fresh keys (EVP_PKEY_Q_keygen) and X.509 certificates signed by
// themselves or by a test CA, with the names and validity dates a case needs (expired, not yet
// valid, no SAN, a chain). Shared by the unit tests of certificate parsing, the store and
// gatewayctl; links OpenSSL's libcrypto.
#pragma once

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace gw::testing {

struct TestCertificate {
  std::string cert_pem;  // the leaf, then its issuer when it has one
  std::string key_pem;
};

struct CertificateSpec {
  std::vector<std::string> dns_names = {"api.example.com"};  // DNS SANs; empty: no SAN extension
  std::string common_name = "test certificate";
  int64_t not_before_s = -3600;      // seconds from now
  int64_t not_after_s = 90 * 86400;  // seconds from now
  bool rsa = false;                  // RSA (of rsa_bits) instead of EC P-256
  size_t rsa_bits = 2048;
  bool ca = false;  // basicConstraints CA:TRUE
};

namespace certificate_detail {

struct KeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct CertFree {
  void operator()(X509* cert) const { X509_free(cert); }
};
struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
using Key = std::unique_ptr<EVP_PKEY, KeyFree>;
using Cert = std::unique_ptr<X509, CertFree>;
using Bio = std::unique_ptr<BIO, BioFree>;

inline std::string BioText(BIO* bio) {
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(size));
}

inline std::string KeyPem(EVP_PKEY* key, const char* passphrase = nullptr) {
  Bio bio(BIO_new(BIO_s_mem()));
  const EVP_CIPHER* cipher = passphrase != nullptr ? EVP_aes_256_cbc() : nullptr;
  PEM_write_bio_PrivateKey(
      bio.get(), key, cipher, reinterpret_cast<unsigned char*>(const_cast<char*>(passphrase)),
      passphrase != nullptr ? static_cast<int>(std::char_traits<char>::length(passphrase)) : 0,
      nullptr, nullptr);
  return BioText(bio.get());
}

inline std::string CertPem(X509* cert) {
  Bio bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(bio.get(), cert);
  return BioText(bio.get());
}

inline Key NewKey(bool rsa, size_t rsa_bits = 2048) {
  Key key(rsa ? EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", rsa_bits)
              : EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!key) throw std::runtime_error("key generation failed");
  return key;
}

inline void AddExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (extension == nullptr) throw std::runtime_error("bad extension " + value);
  X509_add_ext(cert, extension, -1);
  X509_EXTENSION_free(extension);
}

}  // namespace certificate_detail

// A certificate for `spec`, self-signed, or signed by `issuer` (whose chain then follows it).
inline TestCertificate MakeCertificate(const CertificateSpec& spec,
                                       const TestCertificate* issuer = nullptr) {
  using namespace certificate_detail;
  Key key = NewKey(spec.rsa, spec.rsa_bits);
  Cert cert(X509_new());
  X509_set_version(cert.get(), 2);
  static long serial = 1;
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial++);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), static_cast<long>(spec.not_before_s));
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), static_cast<long>(spec.not_after_s));
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* subject = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(spec.common_name.c_str()), -1,
                             -1, 0);
  Cert issuer_cert;
  Key issuer_key;
  if (issuer != nullptr) {
    Bio cert_bio(
        BIO_new_mem_buf(issuer->cert_pem.data(), static_cast<int>(issuer->cert_pem.size())));
    issuer_cert.reset(PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr));
    Bio key_bio(BIO_new_mem_buf(issuer->key_pem.data(), static_cast<int>(issuer->key_pem.size())));
    issuer_key.reset(PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr));
    if (!issuer_cert || !issuer_key) throw std::runtime_error("bad issuer");
    X509_set_issuer_name(cert.get(), X509_get_subject_name(issuer_cert.get()));
  } else {
    X509_set_issuer_name(cert.get(), subject);
  }
  X509* signer = issuer_cert ? issuer_cert.get() : cert.get();
  if (!spec.dns_names.empty()) {
    std::string names;
    for (const std::string& name : spec.dns_names)
      names += (names.empty() ? "DNS:" : ",DNS:") + name;
    AddExtension(cert.get(), signer, NID_subject_alt_name, names);
  }
  if (spec.ca) AddExtension(cert.get(), signer, NID_basic_constraints, "critical,CA:TRUE");
  if (X509_sign(cert.get(), issuer_key ? issuer_key.get() : key.get(), EVP_sha256()) == 0)
    throw std::runtime_error("signing failed");
  TestCertificate out{CertPem(cert.get()), KeyPem(key.get())};
  if (issuer != nullptr) out.cert_pem += issuer->cert_pem;
  return out;
}

// The key of `certificate` written encrypted with `passphrase` (PKCS#8, AES-256-CBC).
inline std::string EncryptedKeyPem(const TestCertificate& certificate, const char* passphrase) {
  using namespace certificate_detail;
  Bio bio(
      BIO_new_mem_buf(certificate.key_pem.data(), static_cast<int>(certificate.key_pem.size())));
  Key key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) throw std::runtime_error("bad key");
  return KeyPem(key.get(), passphrase);
}

}  // namespace gw::testing
