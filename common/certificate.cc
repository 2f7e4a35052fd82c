#include "common/certificate.h"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstring>
#include <ctime>
#include <memory>

#include "common/validation.h"

namespace gw {
namespace {

struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct X509Free {
  void operator()(X509* cert) const { X509_free(cert); }
};
struct KeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
using Bio = std::unique_ptr<BIO, BioFree>;
using Cert = std::unique_ptr<X509, X509Free>;
using Key = std::unique_ptr<EVP_PKEY, KeyFree>;

Bio MemoryBio(std::string_view pem) {
  return Bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

std::vector<Cert> ReadCertificates(std::string_view pem) {
  std::vector<Cert> certs;
  Bio bio = MemoryBio(pem);
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr))
    certs.emplace_back(cert);
  ERR_clear_error();  // the end of the input reads as an error
  return certs;
}

// The password callback refuses: an encrypted key fails here rather than prompting on a
// terminal (or, in the control plane, blocking a thread on one).
Key ReadPrivateKey(std::string_view pem) {
  Bio bio = MemoryBio(pem);
  Key key(PEM_read_bio_PrivateKey(
      bio.get(), nullptr, [](char*, int, int, void*) { return 0; }, nullptr));
  ERR_clear_error();
  return key;
}

std::string Asn1Time(const ASN1_TIME* time) {
  Bio bio(BIO_new(BIO_s_mem()));
  ASN1_TIME_print(bio.get(), time);
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(size));
}

// false when the time does not convert.
bool UnixMs(const ASN1_TIME* time, int64_t* out) {
  std::tm tm{};
  if (ASN1_TIME_to_tm(time, &tm) != 1) return false;
  *out = static_cast<int64_t>(::timegm(&tm)) * 1000;
  return true;
}

std::string KeyType(const EVP_PKEY* key) {
  switch (EVP_PKEY_get_base_id(key)) {
    case EVP_PKEY_RSA:
      return "RSA " + std::to_string(EVP_PKEY_get_bits(key));
    case EVP_PKEY_EC: {
      char group[64] = {};
      size_t length = 0;
      if (EVP_PKEY_get_group_name(key, group, sizeof group, &length) == 1) {
        // OpenSSL names P-256 "prime256v1" and the others "secp384r1"...: say the NIST name.
        const int nid = OBJ_sn2nid(group);
        const char* nist = nid == NID_undef ? nullptr : EC_curve_nid2nist(nid);
        return std::string("EC ") + (nist != nullptr ? nist : group);
      }
      return "EC";
    }
    default: {
      const char* name = EVP_PKEY_get0_type_name(key);
      return name != nullptr ? AsciiUpper(name) : "unknown";
    }
  }
}

}  // namespace

CertificateInfo ParseCertificate(std::string_view cert_pem, std::string_view key_pem) {
  CertificateInfo info;
  const std::vector<Cert> certs = ReadCertificates(cert_pem);
  if (certs.empty()) {
    info.error = "the certificate is not PEM (no BEGIN CERTIFICATE block parses)";
    return info;
  }
  info.chain_length = certs.size();
  X509* leaf = certs.front().get();
  if (!UnixMs(X509_get0_notBefore(leaf), &info.not_before_unix_ms) ||
      !UnixMs(X509_get0_notAfter(leaf), &info.not_after_unix_ms)) {
    info.error = "the certificate's validity dates do not parse";
    return info;
  }
  const Key key = ReadPrivateKey(key_pem);
  if (!key) {
    info.error = key_pem.find("ENCRYPTED") != std::string_view::npos
                     ? "the private key is encrypted; give it unencrypted"
                     : "the private key is not PEM (no private key block parses)";
    return info;
  }
  info.key_type = KeyType(key.get());
  const bool match = X509_check_private_key(leaf, key.get()) == 1;
  ERR_clear_error();
  if (!match) {
    info.error = "the private key is not the key of the certificate";
    return info;
  }
  // What OpenSSL's security level 2 (Debian's default, and the gateway's) refuses to serve: a
  // key or a signature under 112 bits of security (RSA under 2048 bits, SHA-1). Stored anyway,
  // it would make every gateway with --listen-tls refuse each later config.
  if (EVP_PKEY_get_security_bits(key.get()) < 112) {
    info.error =
        "the key is too weak to serve (" + info.key_type + "; at least RSA 2048 or EC P-256)";
    return info;
  }
  for (const Cert& cert : certs) {
    int security_bits = 0;
    if ((X509_get_extension_flags(cert.get()) & EXFLAG_SS) != 0) continue;  // trusted as is
    if (X509_get_signature_info(cert.get(), nullptr, nullptr, &security_bits, nullptr) == 1 &&
        security_bits < 112) {
      ERR_clear_error();
      info.error = "a certificate of the chain is signed too weakly to serve (e.g. SHA-1)";
      return info;
    }
  }
  info.dns_names = CertificateDnsNames(leaf);
  ERR_clear_error();
  return info;
}

std::vector<std::string> CertificateDnsNames(const X509* leaf) {
  std::vector<std::string> names;
  auto add = [&](const ASN1_STRING* value) {
    const unsigned char* data = ASN1_STRING_get0_data(value);
    const int size = ASN1_STRING_length(value);
    if (size <= 0 || std::memchr(data, 0, static_cast<size_t>(size)) != nullptr) return;
    names.push_back(AsciiLower(
        std::string_view(reinterpret_cast<const char*>(data), static_cast<size_t>(size))));
  };
  auto* sans =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(leaf, NID_subject_alt_name, nullptr, nullptr));
  if (sans != nullptr) {
    for (int i = 0; i < sk_GENERAL_NAME_num(sans); ++i) {
      const GENERAL_NAME* name = sk_GENERAL_NAME_value(sans, i);
      if (name->type == GEN_DNS) add(name->d.dNSName);
    }
    GENERAL_NAMES_free(sans);
    return names;
  }
  ERR_clear_error();  // no SAN extension reads as an error
  const X509_NAME* subject = X509_get_subject_name(leaf);
  const int at = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  if (at >= 0) add(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, at)));
  return names;
}

int64_t CertificateNotAfterUnixMs(const X509* leaf) {
  int64_t unix_ms = 0;
  return UnixMs(X509_get0_notAfter(leaf), &unix_ms) ? unix_ms : 0;
}

std::string FormatUtcDate(int64_t unix_ms) {
  const std::time_t seconds = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  ::gmtime_r(&seconds, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%d", &tm);
  return text;
}

std::string CheckCertificateChain(const std::string& pem) {
  const std::vector<Cert> certs = ReadCertificates(pem);
  if (certs.empty()) return "holds no PEM certificate";
  X509* leaf = certs.front().get();
  if (X509_cmp_current_time(X509_get0_notAfter(leaf)) < 0)
    return "holds a certificate that expired on " + Asn1Time(X509_get0_notAfter(leaf));
  if (X509_cmp_current_time(X509_get0_notBefore(leaf)) > 0)
    return "holds a certificate not valid before " + Asn1Time(X509_get0_notBefore(leaf));
  return "";
}

std::string CheckKeyMatches(const std::string& cert_pem, const std::string& key_pem) {
  const Key key = ReadPrivateKey(key_pem);
  if (!key) return "holds no PEM private key (or an encrypted one)";
  const std::vector<Cert> certs = ReadCertificates(cert_pem);
  if (certs.empty()) return "holds no PEM certificate";
  const bool match = X509_check_private_key(certs.front().get(), key.get()) == 1;
  ERR_clear_error();
  return match ? "" : "is not the key of the certificate";
}

std::string CheckCaBundle(const std::string& pem) {
  return ReadCertificates(pem).empty() ? "holds no PEM certificate" : "";
}

CertificateNames ReadCertificateNames(const std::string& cert_pem) {
  CertificateNames names;
  const std::vector<Cert> certs = ReadCertificates(cert_pem);
  if (certs.empty()) return names;
  X509* leaf = certs.front().get();
  const X509_NAME* subject = X509_get_subject_name(leaf);
  {
    Bio bio(BIO_new(BIO_s_mem()));
    X509_NAME_print_ex(bio.get(), subject, 0, XN_FLAG_RFC2253);
    char* data = nullptr;
    const long size = BIO_get_mem_data(bio.get(), &data);
    names.subject.assign(data, static_cast<size_t>(size));
  }
  const int cn = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  if (cn >= 0) {
    const ASN1_STRING* value = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, cn));
    names.common_name.assign(reinterpret_cast<const char*>(ASN1_STRING_get0_data(value)),
                             static_cast<size_t>(ASN1_STRING_length(value)));
  }
  auto* sans =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(leaf, NID_subject_alt_name, nullptr, nullptr));
  for (int i = 0; sans != nullptr && i < sk_GENERAL_NAME_num(sans); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(sans, i);
    if (name->type == GEN_DNS) {
      const ASN1_STRING* value = name->d.dNSName;
      names.dns.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(value)),
                             static_cast<size_t>(ASN1_STRING_length(value)));
    } else if (name->type == GEN_IPADD) {
      const ASN1_OCTET_STRING* ip = name->d.iPAddress;
      const int length = ASN1_STRING_length(ip);
      char text[INET6_ADDRSTRLEN] = {};
      if ((length == 4 || length == 16) &&
          ::inet_ntop(length == 4 ? AF_INET : AF_INET6, ASN1_STRING_get0_data(ip), text,
                      sizeof text) != nullptr)
        names.ips.emplace_back(text);
    }
  }
  GENERAL_NAMES_free(sans);
  ERR_clear_error();
  return names;
}

}  // namespace gw
