#include "common/tls_files.h"

#include <grpc/support/log.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>
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
