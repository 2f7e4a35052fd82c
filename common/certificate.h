// X.509 certificates and private keys in PEM, read with OpenSSL: the checks both the control
// channel's TLS files (common/tls_files.h) and the certificates the gateways serve to clients
// (Config.certificates) make. Pure functions; any thread. Messages name what is wrong in one
// line and never hold key material.
#pragma once

#include <openssl/types.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace gw {

// What a certificate chain and its key hold, or why they are unusable.
struct CertificateInfo {
  std::string error;  // "" when the chain and key parse and the key is the leaf's
  // The leaf's DNS subject alternative names, lower-case; its common name only when it has no
  // SAN extension at all (as clients ignore the CN once there are SANs).
  std::vector<std::string> dns_names;
  int64_t not_before_unix_ms = 0;
  int64_t not_after_unix_ms = 0;
  std::string key_type;     // "EC P-256", "RSA 2048", "ED25519"
  size_t chain_length = 0;  // certificates in cert_pem, the leaf first
};

// Parses `cert_pem` (the leaf, then any intermediates) and `key_pem` (the leaf's private key,
// unencrypted: an encrypted key is refused, never prompted for) and checks that the key is the
// leaf's. Validity dates are read, not judged: callers decide what the clock means.
CertificateInfo ParseCertificate(std::string_view cert_pem, std::string_view key_pem);

// The names `leaf` is for, lower-case: its DNS subject alternative names, or its common name when
// it has no SAN extension at all (RFC 6125 section 6.4.4). A name holding a NUL, or empty, is
// skipped: it could never equal a host name (and "evil.example\0.good.example" must not match).
std::vector<std::string> CertificateDnsNames(const X509* leaf);
// `leaf`'s notAfter as Unix milliseconds; 0 when it does not convert.
int64_t CertificateNotAfterUnixMs(const X509* leaf);

// "2026-01-02": a Unix time in milliseconds as a UTC date, as expiry messages write it.
std::string FormatUtcDate(int64_t unix_ms);

// Each "" when fine, else one sentence naming what is wrong (never the key's content).
std::string CheckCertificateChain(const std::string& pem);  // parses, and valid now
std::string CheckKeyMatches(const std::string& cert_pem, const std::string& key_pem);
std::string CheckCaBundle(const std::string& pem);

// The leaf certificate's subject ("CN=a,O=b") and the names it is for (CN, DNS and IP SANs).
struct CertificateNames {
  std::string subject;
  std::string common_name;
  std::vector<std::string> dns;  // DNS SANs
  std::vector<std::string> ips;  // IP SANs, as text
};
CertificateNames ReadCertificateNames(const std::string& cert_pem);

}  // namespace gw
