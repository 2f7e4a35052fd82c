#include "common/tls_probe.h"

#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <memory>

#include "common/tls_files.h"
#include "common/validation.h"

namespace gw {
namespace {

using Clock = std::chrono::steady_clock;

struct SslCtxFree {
  void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};
struct SslFree {
  void operator()(SSL* ssl) const { SSL_free(ssl); }
};

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

int RemainingMs(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

bool WaitFor(int fd, short events, Clock::time_point deadline) {
  pollfd entry{fd, events, 0};
  return ::poll(&entry, 1, RemainingMs(deadline)) == 1;
}

// A non-blocking socket connected to host:port, or -1 (unreachable: not the probe's business).
int Connect(const HostPort& target, Clock::time_point deadline) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (::getaddrinfo(target.host.c_str(), std::to_string(target.port).c_str(), &hints, &found) != 0)
    return -1;
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> addresses(found, ::freeaddrinfo);
  for (addrinfo* at = found; at != nullptr; at = at->ai_next) {
    const int fd = ::socket(at->ai_family, at->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) continue;
    if (::connect(fd, at->ai_addr, at->ai_addrlen) == 0) return fd;
    int error = errno;
    if (error == EINPROGRESS && WaitFor(fd, POLLOUT, deadline)) {
      socklen_t size = sizeof error;
      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &size);
      if (error == 0) return fd;
    }
    ::close(fd);
  }
  return -1;
}

enum class Handshake { kDone, kNotTls, kNoAnswer };

Handshake RunHandshake(SSL* ssl, int fd, Clock::time_point deadline) {
  while (true) {
    const int result = SSL_connect(ssl);
    if (result == 1) return Handshake::kDone;
    const int error = SSL_get_error(ssl, result);
    if (error == SSL_ERROR_WANT_READ && WaitFor(fd, POLLIN, deadline)) continue;
    if (error == SSL_ERROR_WANT_WRITE && WaitFor(fd, POLLOUT, deadline)) continue;
    // Bytes that are no TLS record (an HTTP/2 server's answer) read as a protocol error;
    // silence, a close or a reset without a word mean the same from a gRPC server.
    const bool protocol_error = error == SSL_ERROR_SSL;
    ERR_clear_error();
    return protocol_error ? Handshake::kNotTls : Handshake::kNoAnswer;
  }
}

std::string Names(const CertificateNames& names) {
  std::vector<std::string> all;
  if (!names.common_name.empty()) all.push_back("CN " + names.common_name);
  for (const auto& dns : names.dns) all.push_back(dns);
  for (const auto& ip : names.ips) all.push_back(ip);
  return all.empty() ? "no name" : JoinForMessage(all, ", ");
}

}  // namespace

std::string DiagnoseTls(const TlsProbeRequest& request) {
  const std::string& ca_flag = request.ca_flag;
  std::string error;
  const auto target = ParseHostPort(request.address, &error);
  if (!target) return "";
  const auto deadline = Clock::now() + request.timeout;
  Fd fd(Connect(*target, deadline));
  if (fd.get() < 0) return "";

  std::unique_ptr<SSL_CTX, SslCtxFree> ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) return "";
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  // The handshake completes whatever the certificate; the verdict is read after it.
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  if (request.tls && !request.ca_file.empty() &&
      SSL_CTX_load_verify_locations(ctx.get(), request.ca_file.c_str(), nullptr) != 1) {
    ERR_clear_error();
    return "cannot use " + request.ca_file + " as CA certificates (" + ca_flag + ")";
  }
  std::unique_ptr<SSL, SslFree> ssl(SSL_new(ctx.get()));
  const std::string name = request.server_name.empty() ? target->host : request.server_name;
  SSL_set_fd(ssl.get(), fd.get());
  SSL_set_tlsext_host_name(ssl.get(), name.c_str());
  SSL_set1_host(ssl.get(), name.c_str());
  SSL_set_alpn_protos(ssl.get(), reinterpret_cast<const unsigned char*>("\x02h2"), 3);
  const Handshake handshake = RunHandshake(ssl.get(), fd.get(), deadline);
  const std::string at = "the control plane at " + request.address;

  if (!request.tls) {
    if (handshake != Handshake::kDone) return "";
    return at + " speaks TLS: give the CA certificate that signed its certificate with " + ca_flag +
           " FILE";
  }
  if (handshake == Handshake::kNotTls)
    return at + " does not speak TLS (plain gRPC there?): drop " + ca_flag +
           " or point it at a TLS address";
  if (handshake == Handshake::kNoAnswer)
    return at +
           " closed the TLS handshake without a word (does it speak TLS? does it want a "
           "client certificate?)";
  const long verdict = SSL_get_verify_result(ssl.get());
  if (verdict == X509_V_OK) return "";
  X509* peer = SSL_get1_peer_certificate(ssl.get());
  std::string names = "no certificate";
  if (peer != nullptr) {
    BIO* bio = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(bio, peer);
    char* data = nullptr;
    const long size = BIO_get_mem_data(bio, &data);
    names = Names(ReadCertificateNames(std::string(data, static_cast<size_t>(size))));
    BIO_free(bio);
    X509_free(peer);
  }
  if (verdict == X509_V_ERR_HOSTNAME_MISMATCH || verdict == X509_V_ERR_IP_ADDRESS_MISMATCH)
    return at + " presents a certificate that is not for " + name + " (it is for " + names + ")" +
           (request.server_name_flag.empty()
                ? std::string(": dial a name it is for")
                : ": dial a name it is for, or give " + request.server_name_flag + " NAME");
  return at + " presents a certificate (for " + names + ") that " + ca_flag + " " +
         request.ca_file + " does not verify: " + X509_verify_cert_error_string(verdict);
}

}  // namespace gw
