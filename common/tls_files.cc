#include "common/tls_files.h"

#include <arpa/inet.h>
#include <grpc/support/log.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <stdexcept>
#include <vector>

#include "common/file_watch.h"
#include "common/log.h"
#include "common/validation.h"

namespace gw {
namespace {

constexpr size_t kMaxPemBytes = 1 << 20;  // a chain of a few certificates is a few KiB

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

Bio MemoryBio(const std::string& pem) {
  return Bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

std::vector<Cert> ReadCertificates(const std::string& pem) {
  std::vector<Cert> certs;
  Bio bio = MemoryBio(pem);
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr))
    certs.emplace_back(cert);
  ERR_clear_error();  // the end of the input reads as an error
  return certs;
}

std::string Asn1Time(const ASN1_TIME* time) {
  Bio bio(BIO_new(BIO_s_mem()));
  ASN1_TIME_print(bio.get(), time);
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(size));
}

void WriteFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  out.close();
  if (!out) throw std::runtime_error("cannot write " + path);
}

}  // namespace

void QuietGrpcLogs() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (std::getenv("GRPC_VERBOSITY") != nullptr || std::getenv("GRPC_TRACE") != nullptr) return;
    gpr_set_log_function([](gpr_log_func_args*) {});
    // The TLS layer logs through a path the log function does not see; gRPC reads this when it
    // starts (the first channel or server).
    ::setenv("GRPC_VERBOSITY", "NONE", 0);
  });
}

std::string ReadPemFile(const std::string& path, std::string* error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = "cannot read " + path + " (" + std::strerror(errno) + ")";
    return "";
  }
  std::string content(kMaxPemBytes + 1, '\0');
  in.read(content.data(), static_cast<std::streamsize>(content.size()));
  content.resize(static_cast<size_t>(in.gcount()));
  if (content.size() > kMaxPemBytes) *error = path + " is larger than 1 MiB: not PEM material";
  return content;
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
  Bio bio = MemoryBio(key_pem);
  // No password callback: an encrypted key fails here rather than prompting on a terminal.
  std::unique_ptr<EVP_PKEY, KeyFree> key(PEM_read_bio_PrivateKey(
      bio.get(), nullptr, [](char*, int, int, void*) { return 0; }, nullptr));
  ERR_clear_error();
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
  return names;
}

WatchedTlsFiles::WatchedTlsFiles(TlsFilePaths paths, std::string owner)
    : paths_(std::move(paths)), owner_(std::move(owner)) {
  if (paths_.cert.empty() != paths_.key.empty())
    throw std::runtime_error(owner_ + ": a certificate needs its key and a key its certificate");
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern =
      std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/gateway-tls-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr)
    throw std::runtime_error(owner_ + ": cannot make a private directory for the certificates (" +
                             std::strerror(errno) + ")");
  dir_ = pattern;
  try {
    if (std::string error = Reload(); !error.empty()) throw std::runtime_error(error);
  } catch (...) {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
    throw;
  }
  watcher_ = std::make_unique<Ticker>(std::chrono::seconds(1), [this] { Reload(); });
}

WatchedTlsFiles::~WatchedTlsFiles() {
  watcher_.reset();
  provider_.reset();
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

std::string WatchedTlsFiles::Reload() {
  std::lock_guard lock(reload_mutex_);
  const std::string stamps = FileStamp({paths_.cert, paths_.key, paths_.ca});
  if (stamps == stamps_) return "";
  const bool first = stamps_.empty();
  stamps_ = stamps;  // a refused change is reported once, not every second

  std::string error;
  std::string cert, key, ca;
  auto read = [&](const std::string& path, std::string* content,
                  std::string (*check)(const std::string&)) {
    if (path.empty() || !error.empty()) return;
    *content = ReadPemFile(path, &error);
    if (error.empty()) {
      if (std::string problem = check(*content); !problem.empty()) error = path + " " + problem;
    }
  };
  read(paths_.cert, &cert, CheckCertificateChain);
  read(paths_.key, &key, [](const std::string&) { return std::string(); });
  read(paths_.ca, &ca, CheckCaBundle);
  if (error.empty() && !key.empty()) {
    if (std::string problem = CheckKeyMatches(cert, key); !problem.empty())
      error = paths_.key + " " + problem + " " + paths_.cert;
  }
  if (!error.empty()) {
    if (first) return owner_ + ": " + error;
    LogWarn(owner_ + ": refused the changed files, the previous ones stay in use: " + error);
    return error;
  }
  if (first) {
    Stage(cert, key, ca);  // a failure here fails the start
    return "";
  }
  try {
    Stage(cert, key, ca);
  } catch (const std::exception& e) {  // the watcher thread: log it, keep the previous files
    LogWarn(std::string(e.what()) + "; the previous files stay in use");
    return e.what();
  }
  std::vector<std::string> files;
  for (const std::string& path : {paths_.cert, paths_.key, paths_.ca})
    if (!path.empty()) files.push_back(path);
  LogInfo(owner_ + ": took the changed files (" + JoinForMessage(files, ", ") + ")");
  return "";
}

void WatchedTlsFiles::Stage(const std::string& cert, const std::string& key,
                            const std::string& ca) {
  const std::string generation = "g" + std::to_string(++generation_);
  const std::string dir = dir_ + "/" + generation;
  if (::mkdir(dir.c_str(), 0700) != 0)
    throw std::runtime_error(owner_ + ": cannot write " + dir + " (" + std::strerror(errno) + ")");
  if (!cert.empty()) {
    WriteFile(dir + "/key.pem", key);
    WriteFile(dir + "/cert.pem", cert);
  }
  if (!ca.empty()) WriteFile(dir + "/ca.pem", ca);
  // The switch is one rename of a symlink: a reader sees the old pair or the new one.
  const std::string next = dir_ + "/next";
  ::unlink(next.c_str());
  if (::symlink(generation.c_str(), next.c_str()) != 0 ||
      ::rename(next.c_str(), (dir_ + "/current").c_str()) != 0)
    throw std::runtime_error(owner_ + ": cannot switch to the new certificates in " + dir_ + " (" +
                             std::strerror(errno) + ")");
  if (generation_ > 2) {  // the one before the previous can no longer be in use
    std::error_code ignored;
    std::filesystem::remove_all(dir_ + "/g" + std::to_string(generation_ - 2), ignored);
  }
}

std::shared_ptr<grpc::experimental::CertificateProviderInterface> WatchedTlsFiles::Provider() {
  if (!provider_) {
    const std::string current = dir_ + "/current/";
    const std::string key = has_identity() ? current + "key.pem" : "";
    const std::string cert = has_identity() ? current + "cert.pem" : "";
    const std::string ca = has_ca() ? current + "ca.pem" : "";
    provider_ = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
        key, cert, ca, /*refresh_interval_sec=*/1);
  }
  return provider_;
}

std::shared_ptr<grpc::ServerCredentials> WatchedTlsFiles::ServerCredentials() {
  grpc::experimental::TlsServerCredentialsOptions options(Provider());
  options.watch_identity_key_cert_pairs();
  if (has_ca()) {
    options.watch_root_certs();
    options.set_cert_request_type(GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY);
  }
  return grpc::experimental::TlsServerCredentials(options);
}

std::shared_ptr<grpc::ChannelCredentials> WatchedTlsFiles::ChannelCredentials() {
  grpc::experimental::TlsChannelCredentialsOptions options;
  options.set_certificate_provider(Provider());
  if (has_ca()) options.watch_root_certs();
  if (has_identity()) options.watch_identity_key_cert_pairs();
  return grpc::experimental::TlsCredentials(options);
}

}  // namespace gw
