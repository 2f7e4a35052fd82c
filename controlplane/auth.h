// Who may call the control plane, and what they may do.
//
// Callers prove who they are with a bearer token (gRPC metadata "authorization: Bearer TOKEN",
// sent as plain metadata so it also works on a loopback channel without TLS) from the token
// file, or, gateways only, with a client certificate that TLS verified against --client-ca. The
// token file is kube-apiserver's static token file in spirit: one TOKEN,NAME,ROLE per line,
// '#' comments. Roles: admin (everything), viewer (reads: list, get, status, gateways), gateway
// (subscribe to config). A certificate authorizes subscribing only, as the node id it names
// (CN or a DNS SAN; checked against the Hello by CheckNodeId).
//
// Without a token file the admin API is open (every caller is "anonymous"); with --client-ca
// and no token file, gateways need their certificate. The token file is re-read when it changes
// (checked every second) and on Reload(); a bad new file is refused with a log line and the
// previous tokens stay. Tokens are compared as SHA-256 digests in constant time and never
// logged.
#pragma once

#include <grpcpp/server_context.h>

#include <array>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/file_watch.h"

namespace gw {

enum class Role { kAdmin, kViewer, kGateway };
std::string_view RoleName(Role role);

// What a call needs.
enum class Access { kRead, kWrite, kSubscribe };

struct TokenEntry {
  std::array<unsigned char, 32> digest{};  // SHA-256 of the token
  std::string name;
  Role role = Role::kViewer;
};

// The entries of a token file's content, or nullopt with "line N: ..." in *error (never the
// token itself).
std::optional<std::vector<TokenEntry>> ParseTokenFile(std::string_view content, std::string* error);

// Who made a call.
struct Caller {
  std::string actor = "anonymous";  // the token's name, the certificate's subject, "anonymous"
  std::vector<std::string> certificate_names;  // CN and DNS SANs of a verified client certificate
};

struct AuthOptions {
  std::string token_file;            // "" for none
  bool client_certificates = false;  // the server verifies client certificates (--client-ca)
};

class Authorizer {
 public:
  // Reads the token file; throws std::runtime_error with one sentence when it is unreadable
  // or bad. Starts watching it.
  explicit Authorizer(AuthOptions options);
  ~Authorizer();

  // Re-reads the token file when it changed since the last read (SIGHUP: also when it did not
  // seem to). Logs what happened.
  void Reload(bool force = false);

  // OK with *caller filled, UNAUTHENTICATED (no usable credential), or PERMISSION_DENIED
  // naming the token's name, its role and `what` ("create routes").
  grpc::Status Authorize(const grpc::ServerContextBase& context, Access access,
                         std::string_view what, Caller* caller) const;

  // The same decision for an HTTP request to the admin page (its dashboard API and /config):
  // `authorization` is the request's Authorization header ("" when absent), "Bearer TOKEN".
  // Client certificates play no part there.
  grpc::Status AuthorizeHeader(std::string_view authorization, Access access, std::string_view what,
                               Caller* caller) const;

  // For a subscribing gateway: OK unless it presented a certificate that is not for `node_id`
  // (PERMISSION_DENIED naming both).
  static grpc::Status CheckNodeId(const Caller& caller, std::string_view node_id);

 private:
  std::string ReadTokens(std::vector<TokenEntry>* tokens) const;
  // Authorize and AuthorizeHeader after the credentials were taken from the call: `bearer` is
  // the token ("" for none; nullopt when the credential was not a bearer token), `subject` the
  // verified client certificate's subject ("" for none), caller->certificate_names its names.
  grpc::Status Decide(std::optional<std::string_view> bearer, const std::string& subject,
                      Access access, std::string_view what, Caller* caller) const;

  const AuthOptions options_;
  mutable std::mutex mutex_;
  std::shared_ptr<const std::vector<TokenEntry>> tokens_;  // null without a token file
  std::string stamp_;
  std::unique_ptr<Ticker> watcher_;
};

}  // namespace gw
