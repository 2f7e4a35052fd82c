// TLS material of the control channel (control plane, gateway, gatewayctl): PEM files checked
// with OpenSSL before gRPC sees them, and watched for rotation.
//
// WatchedTlsFiles reads the files a process was given (certificate chain + key, CA bundle),
// checks them (each parses, the key matches the certificate) and stages a copy in a private
// directory, which a gRPC FileWatcherCertificateProvider reads. Every second it looks at the
// given files again: a changed set that passes the checks replaces the staged copy (new
// handshakes use it within about a second; open connections stay), one that fails is refused
// with a log line and the previous copy stays in use. The staged copy is switched by renaming a
// symlink to a new directory, as gRPC's file watcher expects, so it never reads a new
// certificate with an old key.
#pragma once

#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/certificate.h"  // CheckCertificateChain, CheckKeyMatches, CheckCaBundle
#include "common/file_watch.h"

namespace gw {

struct TlsFilePaths {
  std::string cert;  // certificate chain, leaf first ("" for none)
  std::string key;   // the certificate's private key
  std::string ca;    // CA certificates that verify the peer ("" for none)
};

// gRPC's own log lines (a failed TLS handshake logs one per connection attempt) are dropped
// unless GRPC_VERBOSITY or GRPC_TRACE asks for them: each program says what failed in one line
// of its own. Call before the first channel or server is made.
void QuietGrpcLogs();

// A PEM file's content (at most 1 MiB), or "" with *error naming the file and the reason.
std::string ReadPemFile(const std::string& path, std::string* error);

class WatchedTlsFiles {
 public:
  // Reads, checks and stages the files; `owner` names them in log lines ("control plane TLS").
  // Throws std::runtime_error with one sentence naming the file when one is unreadable or bad.
  WatchedTlsFiles(TlsFilePaths paths, std::string owner);
  ~WatchedTlsFiles();  // stops watching, removes the staged copy
  WatchedTlsFiles(const WatchedTlsFiles&) = delete;
  WatchedTlsFiles& operator=(const WatchedTlsFiles&) = delete;

  bool has_identity() const { return !paths_.cert.empty(); }
  bool has_ca() const { return !paths_.ca.empty(); }

  // Looks at the files now (the watcher does it every second): "" when nothing changed or the
  // change was taken, else why it was refused (also logged).
  std::string Reload();

  // gRPC server credentials serving the certificate; with a CA, clients may present a
  // certificate, which must then verify against it (mTLS is optional per client: a gateway may
  // use a token instead). TLS 1.2 and 1.3 only (gRPC's own bounds).
  std::shared_ptr<grpc::ServerCredentials> ServerCredentials();
  // gRPC channel credentials verifying the server against the CA (the system's roots without
  // one), presenting the certificate when one is given.
  std::shared_ptr<grpc::ChannelCredentials> ChannelCredentials();

 private:
  void Stage(const std::string& cert, const std::string& key, const std::string& ca);
  std::shared_ptr<grpc::experimental::CertificateProviderInterface> Provider();

  const TlsFilePaths paths_;
  const std::string owner_;
  std::string dir_;     // the private staging directory
  std::string stamps_;  // what the given files looked like when last read
  unsigned generation_ = 0;
  std::shared_ptr<grpc::experimental::CertificateProviderInterface> provider_;

  std::mutex reload_mutex_;  // Reload() against itself (watcher thread, callers)
  std::unique_ptr<Ticker> watcher_;
};

}  // namespace gw
