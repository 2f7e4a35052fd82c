#include "controlplane/auth.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "common/log.h"
#include "common/validation.h"
#include "common/wire_limits.h"

namespace gw {
namespace {

constexpr size_t kMaxTokenFileBytes = 1 << 20;
constexpr size_t kShortToken = 16;  // shorter tokens are accepted with a warning

std::string_view Trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r'))
    text.remove_suffix(1);
  return text;
}

bool Visible(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return c > ' ' && c < 127; });
}

std::array<unsigned char, 32> Digest(std::string_view token) {
  std::array<unsigned char, 32> digest{};
  SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), digest.data());
  return digest;
}

std::optional<Role> ParseRole(std::string_view name) {
  if (name == "admin") return Role::kAdmin;
  if (name == "viewer") return Role::kViewer;
  if (name == "gateway") return Role::kGateway;
  return std::nullopt;
}

bool Allows(Role role, Access access) {
  switch (role) {
    case Role::kAdmin:
      return true;
    case Role::kViewer:
      return access == Access::kRead;
    case Role::kGateway:
      return access == Access::kSubscribe;
  }
  return false;
}

std::string_view WhatRoleMay(Role role) {
  switch (role) {
    case Role::kAdmin:
      return "everything";
    case Role::kViewer:
      return "reads only: list, get, status, gateways";
    case Role::kGateway:
      return "subscribing to config only";
  }
  return "";
}

// The token of an authorization value "Bearer TOKEN" (the scheme in any case), "" for an
// empty value, nullopt when it is not a bearer token.
std::optional<std::string_view> ParseBearer(std::string_view value) {
  if (value.empty()) return std::string_view();
  if (value.size() <= 7 || AsciiLower(value.substr(0, 7)) != "bearer ") return std::nullopt;
  return Trim(value.substr(7));
}

// The token of the metadata "authorization: Bearer TOKEN", "" when there is no such metadata.
std::optional<std::string_view> BearerToken(const grpc::ServerContextBase& context) {
  const auto& metadata = context.client_metadata();
  const auto found = metadata.find("authorization");
  if (found == metadata.end()) return std::string_view();
  const std::string_view value(found->second.data(), found->second.size());
  if (value.empty()) return std::nullopt;  // present but empty: not a bearer token
  return ParseBearer(value);
}

}  // namespace

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kAdmin:
      return "admin";
    case Role::kViewer:
      return "viewer";
    case Role::kGateway:
      return "gateway";
  }
  return "";
}

std::optional<std::vector<TokenEntry>> ParseTokenFile(std::string_view content,
                                                      std::string* error) {
  std::vector<TokenEntry> entries;
  std::vector<size_t> lines;  // each entry's line number
  size_t number = 0;
  while (!content.empty()) {
    const size_t end = content.find('\n');
    const std::string_view line = Trim(content.substr(0, end));
    content.remove_prefix(end == std::string_view::npos ? content.size() : end + 1);
    ++number;
    if (line.empty() || line.front() == '#') continue;
    const std::string at = "line " + std::to_string(number) + ": ";
    const size_t first = line.find(',');
    const size_t second = first == std::string_view::npos ? first : line.find(',', first + 1);
    if (second == std::string_view::npos || line.find(',', second + 1) != std::string_view::npos) {
      *error = at + "want TOKEN,NAME,ROLE (three fields separated by commas)";
      return std::nullopt;
    }
    const std::string_view token = Trim(line.substr(0, first));
    const std::string_view name = Trim(line.substr(first + 1, second - first - 1));
    const std::string_view role = Trim(line.substr(second + 1));
    if (token.empty() || !Visible(token)) {
      *error = at + "the token is empty or has spaces or control characters";
      return std::nullopt;
    }
    if (name.empty() || name.size() > 128 || !Visible(name)) {
      *error = at + "the name must be 1 to 128 visible characters";
      return std::nullopt;
    }
    const auto parsed_role = ParseRole(role);
    if (!parsed_role) {
      *error = at + "role " + Quote(role) + " is not admin, viewer or gateway";
      return std::nullopt;
    }
    TokenEntry entry{Digest(token), std::string(name), *parsed_role};
    for (size_t i = 0; i < entries.size(); ++i) {
      if (entries[i].digest == entry.digest) {
        *error = at + "the same token as line " + std::to_string(lines[i]);
        return std::nullopt;
      }
    }
    if (token.size() < kShortToken)
      LogWarn("token " + entry.name + " is shorter than " + std::to_string(kShortToken) +
              " characters; make tokens with `openssl rand -hex 32`");
    entries.push_back(std::move(entry));
    lines.push_back(number);
  }
  return entries;
}

Authorizer::Authorizer(AuthOptions options) : options_(std::move(options)) {
  if (options_.token_file.empty()) return;
  auto tokens = std::make_shared<std::vector<TokenEntry>>();
  stamp_ = FileStamp({options_.token_file});
  if (std::string error = ReadTokens(tokens.get()); !error.empty()) throw std::runtime_error(error);
  LogInfo("token file " + options_.token_file + ": " + std::to_string(tokens->size()) + " tokens");
  tokens_ = std::move(tokens);
  watcher_ = std::make_unique<Ticker>(std::chrono::seconds(1), [this] { Reload(); });
}

Authorizer::~Authorizer() { watcher_.reset(); }

std::string Authorizer::ReadTokens(std::vector<TokenEntry>* tokens) const {
  std::ifstream in(options_.token_file, std::ios::binary);
  if (!in) return "cannot read token file " + options_.token_file;
  std::string content(kMaxTokenFileBytes + 1, '\0');
  in.read(content.data(), static_cast<std::streamsize>(content.size()));
  content.resize(static_cast<size_t>(in.gcount()));
  if (content.size() > kMaxTokenFileBytes)
    return "token file " + options_.token_file + " is larger than 1 MiB";
  std::string error;
  auto entries = ParseTokenFile(content, &error);
  if (!entries) return "token file " + options_.token_file + " " + error;
  *tokens = std::move(*entries);
  return "";
}

void Authorizer::Reload(bool force) {
  if (options_.token_file.empty()) return;
  std::lock_guard lock(mutex_);
  const std::string stamp = FileStamp({options_.token_file});
  if (stamp == stamp_ && !force) return;
  stamp_ = stamp;  // a refused file is reported once, not every second
  auto tokens = std::make_shared<std::vector<TokenEntry>>();
  if (std::string error = ReadTokens(tokens.get()); !error.empty()) {
    LogWarn(error + "; the previous tokens stay in use");
    return;
  }
  LogInfo("token file " + options_.token_file + " reloaded: " + std::to_string(tokens->size()) +
          " tokens");
  tokens_ = std::move(tokens);
}

grpc::Status Authorizer::Authorize(const grpc::ServerContextBase& context, Access access,
                                   std::string_view what, Caller* caller) const {
  *caller = Caller();
  std::string subject;
  if (options_.client_certificates) {
    // Present only when TLS verified the certificate against --client-ca.
    if (const auto auth = context.auth_context()) {
      for (const auto& value : auth->FindPropertyValues("x509_subject"))
        subject.assign(value.data(), value.size());
      for (const char* property : {"x509_common_name", "peer_dns"})
        for (const auto& value : auth->FindPropertyValues(property))
          caller->certificate_names.emplace_back(value.data(), value.size());
    }
  }
  return Decide(BearerToken(context), subject, access, what, caller);
}

grpc::Status Authorizer::AuthorizeHeader(std::string_view authorization, Access access,
                                         std::string_view what, Caller* caller) const {
  *caller = Caller();
  return Decide(ParseBearer(Trim(authorization)), "", access, what, caller);
}

grpc::Status Authorizer::Decide(std::optional<std::string_view> bearer, const std::string& subject,
                                Access access, std::string_view what, Caller* caller) const {
  std::shared_ptr<const std::vector<TokenEntry>> tokens;
  {
    std::lock_guard lock(mutex_);
    tokens = tokens_;
  }
  if (!bearer)
    return {grpc::StatusCode::UNAUTHENTICATED, "the authorization is not \"Bearer TOKEN\""};

  if (tokens && !bearer->empty()) {
    const auto digest = Digest(*bearer);
    const TokenEntry* found = nullptr;
    for (const TokenEntry& entry : *tokens)  // every entry, always: no early exit to time
      if (CRYPTO_memcmp(entry.digest.data(), digest.data(), digest.size()) == 0) found = &entry;
    if (found == nullptr)
      return {grpc::StatusCode::UNAUTHENTICATED,
              "the token is not in the control plane's token file (mistyped, or removed?)"};
    if (!Allows(found->role, access))
      return {grpc::StatusCode::PERMISSION_DENIED,
              "token " + found->name + " has role " + std::string(RoleName(found->role)) +
                  ", which may not " + std::string(what) + " (" +
                  std::string(WhatRoleMay(found->role)) + ")"};
    caller->actor = found->name;
    return grpc::Status::OK;
  }
  if (!caller->certificate_names.empty() || !subject.empty()) {
    if (access != Access::kSubscribe)
      return {grpc::StatusCode::PERMISSION_DENIED,
              "client certificate " + subject + " may only subscribe to config, not " +
                  std::string(what) + "; admin calls need a token"};
    caller->actor = subject;
    return grpc::Status::OK;
  }
  if (tokens)
    return {grpc::StatusCode::UNAUTHENTICATED,
            access == Access::kSubscribe
                ? "this control plane needs a token (gateway --token-file) or a client "
                  "certificate (gateway --tls-cert and --tls-key)"
                : "this control plane needs a token (authorization: Bearer TOKEN)"};
  if (access == Access::kSubscribe && options_.client_certificates)
    return {grpc::StatusCode::UNAUTHENTICATED,
            "this control plane needs a client certificate signed by its --client-ca from "
            "gateways (gateway --tls-cert and --tls-key)"};
  return grpc::Status::OK;  // no token file: anonymous
}

grpc::Status Authorizer::CheckNodeId(const Caller& caller, std::string_view node_id) {
  const auto& names = caller.certificate_names;
  if (names.empty() || std::find(names.begin(), names.end(), node_id) != names.end())
    return grpc::Status::OK;
  std::vector<std::string> unique = names;
  std::sort(unique.begin(), unique.end());
  unique.erase(std::unique(unique.begin(), unique.end()), unique.end());
  return {grpc::StatusCode::PERMISSION_DENIED,
          StatusMessage("node id " + std::string(node_id) +
                        " is not the name of the gateway's client certificate (" + caller.actor +
                        ", for " + JoinForMessage(unique, ", ") +
                        "): a gateway may only subscribe as a name its certificate carries")};
}

}  // namespace gw
