// gatewayctl cert add|update|list|get|delete, service --protocol and route --https-redirect/--hsts
// as whole invocations, in-process, against the real control plane (SQLite in a temp dir): the
// one-line refusals that store nothing, the default flag moving, and no output of any command
// (tables, -o json, export, diff, history show, apply) nor the control plane's /config holding a
// private key.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "cli/gatewayctl.h"
#include "common/api_key.h"
#include "controlplane/config_json.h"
#include "controlplane/control_plane.h"
#include "gateway.grpc.pb.h"
#include "tests/unit/support/temp_dir.h"
#include "tests/unit/support/test_certificates.h"

namespace gw::cli {
namespace {

using testing::MakeCertificate;
using testing::TestCertificate;

struct Result {
  int exit = -1;
  std::string out;
  std::string err;
};

class CertificateCommandsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ControlPlaneOptions options;
    options.grpc_listen = {"127.0.0.1", 0};
    options.db = dir_.File("config.db");
    control_plane_ = std::make_unique<ControlPlane>(options);
    address_ = control_plane_->grpc_address();
  }

  // Every run's output is also checked for key material: no command ever prints a key.
  Result Run(std::vector<std::string> args) {
    args.insert(args.begin(), {"--server", address_});
    std::ostringstream out, err;
    Result result;
    result.exit = RunGatewayctl(args, std::nullopt, out, err);
    result.out = out.str();
    result.err = err.str();
    for (const std::string* text : {&result.out, &result.err})
      EXPECT_EQ(text->find("PRIVATE KEY"), std::string::npos)
          << "gatewayctl " << ::testing::PrintToString(args) << " printed a key:\n"
          << *text;
    return result;
  }

  std::string File(const std::string& name, const std::string& text) {
    const std::string path = dir_.File(name);
    std::ofstream(path) << text;
    return path;
  }

  // The pair's files: NAME.crt and NAME.key.
  std::pair<std::string, std::string> Files(const std::string& name, const TestCertificate& pair) {
    return {File(name + ".crt", pair.cert_pem), File(name + ".key", pair.key_pem)};
  }

  uint64_t Version() {
    const Result status = Run({"-o", "json", "status"});
    const size_t at = status.out.find("\"version\":");
    return std::stoull(status.out.substr(at + 10));
  }

  testing::TempDir dir_;
  std::unique_ptr<ControlPlane> control_plane_;
  std::string address_;
};

TEST_F(CertificateCommandsTest, AddListGetUpdateDelete) {
  const TestCertificate api =
      MakeCertificate({.dns_names = {"api.example.com", "*.api.example.com"}});
  const auto [api_crt, api_key] = Files("api", api);
  Result r = Run({"cert", "add", "api", "--cert", api_crt, "--key", api_key, "--default"});
  ASSERT_EQ(r.exit, 0) << r.err;
  EXPECT_TRUE(r.out.starts_with("certificate api (api.example.com, *.api.example.com; until "))
      << r.out;
  EXPECT_NE(r.out.find("; default) created at version 1\n"), std::string::npos) << r.out;

  r = Run({"cert", "list"});
  ASSERT_EQ(r.exit, 0) << r.err;
  EXPECT_TRUE(r.out.starts_with("NAME  DNS NAMES                          NOT AFTER")) << r.out;
  EXPECT_NE(r.out.find("api   api.example.com,*.api.example.com  "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("  yes      1\n"), std::string::npos) << r.out;

  r = Run({"cert", "get", "api", "-o", "json"});
  ASSERT_EQ(r.exit, 0) << r.err;
  EXPECT_NE(r.out.find("\"dns_names\":[\"api.example.com\",\"*.api.example.com\"]"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("\"key_sha256\":\"" + ApiKeySha256Hex(api.key_pem) + "\""),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("\"default\":true"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("BEGIN CERTIFICATE"), std::string::npos) << r.out;  // the chain is public

  // --default moves the flag in one version, and says from which.
  const TestCertificate web = MakeCertificate({.dns_names = {"www.example.com"}});
  const auto [web_crt, web_key] = Files("web", web);
  ASSERT_EQ(Run({"cert", "add", "web", "--cert", web_crt, "--key", web_key}).exit, 0);
  r = Run({"cert", "update", "web", "--default", "--if-version", "2"});
  ASSERT_EQ(r.exit, 0) << r.err;
  EXPECT_NE(r.out.find("; default) updated at version 3\ndefault moved from certificate api\n"),
            std::string::npos)
      << r.out;
  r = Run({"-o", "json", "cert", "list"});
  EXPECT_NE(r.out.find("\"name\":\"api\",\"dns_names\":[\"api.example.com\",\"*.api.example."
                       "com\"],\"not_after\""),
            std::string::npos)
      << r.out;
  EXPECT_EQ(r.out.find("\"default\":true", r.out.find("\"name\":\"api\"")),
            r.out.find("\"default\":true", r.out.find("\"name\":\"web\"")))
      << r.out;

  // A new pair replaces the old one.
  const TestCertificate renewed =
      MakeCertificate({.dns_names = {"www.example.com", "example.com"}});
  const auto [renewed_crt, renewed_key] = Files("renewed", renewed);
  r = Run({"cert", "update", "web", "--cert", renewed_crt, "--key", renewed_key});
  ASSERT_EQ(r.exit, 0) << r.err;
  EXPECT_NE(r.out.find("(www.example.com, example.com; "), std::string::npos) << r.out;
  r = Run({"cert", "update", "web", "--no-default"});
  ASSERT_EQ(r.exit, 0) << r.err;
  EXPECT_EQ(r.out.find("; default)"), std::string::npos) << r.out;

  r = Run({"cert", "delete", "api"});
  ASSERT_EQ(r.exit, 0) << r.err;
  EXPECT_EQ(r.out, "certificate api deleted at version 6\n");
  r = Run({"cert", "get", "api"});
  EXPECT_EQ(r.exit, 1);
  EXPECT_EQ(r.err, "gatewayctl: certificate api does not exist\n");
}

TEST_F(CertificateCommandsTest, BadFilesAreOneLineAndStoreNothing) {
  const TestCertificate pair = MakeCertificate({});
  const auto [crt, key] = Files("pair", pair);
  const auto [other_crt, other_key] = Files("other", MakeCertificate({}));
  const TestCertificate expired =
      MakeCertificate({.not_before_s = -30 * 86400, .not_after_s = -2 * 86400});
  const auto [expired_crt, expired_key] = Files("expired", expired);
  const std::string garbage = File("garbage.pem", "not a certificate\n");
  const std::string missing = dir_.File("missing.pem");
  struct Case {
    std::vector<std::string> args;
    std::string error;  // the start of the one line
  } cases[] = {
      {{"--cert", missing, "--key", key}, "gatewayctl: bad --cert: cannot read " + missing},
      {{"--cert", crt, "--key", garbage},
       "gatewayctl: bad --cert " + crt + " / --key " + garbage +
           ": the private key is not PEM (no private key block parses)"},
      {{"--cert", garbage, "--key", key},
       "gatewayctl: bad --cert " + garbage + " / --key " + key +
           ": the certificate is not PEM (no BEGIN CERTIFICATE block parses)"},
      {{"--cert", crt, "--key", other_key},
       "gatewayctl: bad --cert " + crt + " / --key " + other_key +
           ": the private key is not the key of the certificate"},
      {{"--cert", expired_crt, "--key", expired_key}, "gatewayctl: certificate api expired on "},
  };
  for (const Case& c : cases) {
    std::vector<std::string> args = {"cert", "add", "api"};
    args.insert(args.end(), c.args.begin(), c.args.end());
    const Result r = Run(args);
    EXPECT_EQ(r.exit, 1) << r.out;
    EXPECT_TRUE(r.err.starts_with(c.error)) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_EQ(r.out, "");
  }
  EXPECT_EQ(Version(), 0u);
  EXPECT_EQ(Run({"cert", "list"}).out, "NAME  DNS NAMES  NOT AFTER  DEFAULT  VERSION\n");

  Result usage = Run({"cert", "add", "api", "--cert", crt});
  EXPECT_EQ(usage.exit, 2);
  usage = Run({"cert", "update", "api"});
  EXPECT_EQ(usage.exit, 2);
  EXPECT_NE(usage.err.find("nothing to update"), std::string::npos) << usage.err;
  usage = Run({"cert", "update", "api", "--default", "--no-default"});
  EXPECT_EQ(usage.exit, 2);
}

TEST_F(CertificateCommandsTest, NearExpiryWarnsOnStderr) {
  const auto [crt, key] = Files("soon", MakeCertificate({.not_after_s = 3 * 86400 + 3600}));
  const Result r = Run({"cert", "add", "soon", "--cert", crt, "--key", key});
  ASSERT_EQ(r.exit, 0) << r.err;
  EXPECT_TRUE(r.err.starts_with("gatewayctl: warning: certificate soon expires on ")) << r.err;
  EXPECT_NE(r.err.find(", in 3 days;"), std::string::npos) << r.err;
}

TEST_F(CertificateCommandsTest, ExportDiffApplyAndHistoryCarryNoKey) {
  const TestCertificate api = MakeCertificate({});
  const auto [crt, key] = Files("api", api);
  ASSERT_EQ(Run({"cert", "add", "api", "--cert", crt, "--key", key, "--default"}).exit, 0);
  ASSERT_EQ(
      Run({"service", "add", "grpc", "--endpoint", "127.0.0.1:50051", "--protocol", "h2c"}).exit,
      0);
  ASSERT_EQ(Run({"route", "add", "/", "grpc", "--https-redirect", "--hsts", "8760h"}).exit, 0);
  const uint64_t version = Version();
  for (const std::string format : {"yaml", "json"}) {
    const Result exported = Run({"export", "-o", format});
    ASSERT_EQ(exported.exit, 0) << exported.err;
    EXPECT_NE(exported.out.find("certificates"), std::string::npos) << exported.out;
    EXPECT_NE(exported.out.find(ApiKeySha256Hex(api.key_pem)), std::string::npos) << exported.out;
    EXPECT_NE(exported.out.find("h2c"), std::string::npos) << exported.out;
    EXPECT_NE(exported.out.find("hsts_max_age_s"), std::string::npos) << exported.out;
    EXPECT_NE(exported.out.find("https_redirect"), std::string::npos) << exported.out;
    const std::string path = File("export." + format, exported.out);
    const Result diff = Run({"diff", "-f", path});
    EXPECT_EQ(diff.exit, 0) << diff.out << diff.err;
    const Result back = Run({"apply", "-f", path, "--prune"});
    EXPECT_EQ(back.exit, 0) << back.err;
    EXPECT_EQ(back.out, "no changes\n") << exported.out;
  }
  EXPECT_EQ(Version(), version);

  // A document with the key in clear: applied, and shown back as its digest only.
  const TestCertificate web = MakeCertificate({.dns_names = {"www.example.com"}});
  std::string document = "certificates:\n  - name: web\n    cert_pem: |\n";
  for (const std::string* pem : {&web.cert_pem, &web.key_pem}) {
    if (pem == &web.key_pem) document += "    key_pem: |\n";
    size_t start = 0;
    while (start < pem->size()) {
      const size_t end = pem->find('\n', start);
      document += "      " + pem->substr(start, end - start) + "\n";
      start = end + 1;
    }
  }
  const std::string web_file = File("web.yaml", document);
  Result r = Run({"diff", "-f", web_file});
  EXPECT_EQ(r.exit, 1) << r.err;
  EXPECT_NE(r.out.find("+ certificate web"), std::string::npos) << r.out;
  r = Run({"apply", "-f", web_file});
  ASSERT_EQ(r.exit, 0) << r.err;
  EXPECT_EQ(r.out.find("certificate web created"), 0u) << r.out;
  r = Run({"history", "show", std::to_string(version + 1)});
  ASSERT_EQ(r.exit, 0) << r.err;
  EXPECT_NE(r.out.find("key_sha256: " + ApiKeySha256Hex(web.key_pem)), std::string::npos) << r.out;
  r = Run({"-o", "json", "history", "show", std::to_string(version + 1)});
  ASSERT_EQ(r.exit, 0) << r.err;
  r = Run({"cert", "delete", "web"});
  ASSERT_EQ(r.exit, 0) << r.err;
  r = Run({"rollback", std::to_string(version + 1)});
  ASSERT_EQ(r.exit, 0) << r.err;
  EXPECT_NE(r.out.find("certificate web created"), std::string::npos) << r.out;

  // A bad document item is one line naming its place.
  r = Run({"apply", "-f", File("bad.yaml", "certificates:\n  - name: x\n    cert_pem: y\n")});
  EXPECT_EQ(r.exit, 1);
  EXPECT_NE(r.err.find("certificates[0].key_pem: missing"), std::string::npos) << r.err;
  r = Run({"apply", "-f", File("bad2.yaml", "certificates:\n  - name: x\n    cert: y\n")});
  EXPECT_EQ(r.exit, 1);
  EXPECT_NE(r.err.find("certificates[0].cert: unknown field"), std::string::npos) << r.err;

  // The control plane's /config shows names, DNS names and expiry, never a key.
  gateway::v1::Config config;
  gateway::v1::Certificate* stored = config.add_certificates();
  stored->set_name("api");
  stored->set_cert_pem(api.cert_pem);
  stored->set_key_pem(api.key_pem);
  const std::string json = ConfigToJson(config);
  EXPECT_EQ(json.find("PRIVATE KEY"), std::string::npos) << json;
  EXPECT_NE(json.find("\"dns_names\":[\"api.example.com\"]"), std::string::npos) << json;
}

TEST_F(CertificateCommandsTest, ServiceProtocolAndRouteHttpsFlags) {
  Result r = Run({"service", "add", "grpc", "--endpoint", "127.0.0.1:50051", "--protocol", "h2c"});
  ASSERT_EQ(r.exit, 0) << r.err;
  EXPECT_NE(r.out.find("[protocol=h2c]"), std::string::npos) << r.out;
  r = Run({"service", "get", "grpc", "-o", "json"});
  EXPECT_NE(r.out.find("\"protocol\":\"h2c\""), std::string::npos) << r.out;
  r = Run({"service", "list"});
  EXPECT_NE(r.out.find("protocol=h2c"), std::string::npos) << r.out;
  r = Run({"service", "update", "grpc", "--health-path", "/healthz"});  // checked over HTTP/2
  ASSERT_EQ(r.exit, 0) << r.err;
  EXPECT_NE(r.out.find("health=/healthz"), std::string::npos) << r.out;
  r = Run({"service", "add", "bad", "--endpoint", "127.0.0.1:1", "--protocol", "h3"});
  EXPECT_EQ(r.exit, 1);
  EXPECT_EQ(r.err, "gatewayctl: bad --protocol: 'h3' is not http1 or h2c\n");
  r = Run({"service", "update", "grpc", "--reset", "protocol"});
  ASSERT_EQ(r.exit, 0) << r.err;
  EXPECT_EQ(r.out.find("protocol"), std::string::npos) << r.out;

  r = Run({"route", "add", "/api", "grpc", "--https-redirect", "--hsts", "8760h"});
  ASSERT_EQ(r.exit, 0) << r.err;
  r = Run({"route", "get", "/api"});
  EXPECT_NE(r.out.find("https redirect:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("hsts max age:"), std::string::npos) << r.out;
  r = Run({"route", "get", "/api", "-o", "json"});
  EXPECT_NE(r.out.find("\"https_redirect\":true"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"hsts_max_age_s\":31536000"), std::string::npos) << r.out;
  r = Run({"route", "update", "/api", "--reset", "https-redirect", "--hsts", "0"});
  ASSERT_EQ(r.exit, 0) << r.err;
  r = Run({"route", "get", "/api", "-o", "json"});
  EXPECT_EQ(r.out.find("https_redirect"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("hsts"), std::string::npos) << r.out;
  r = Run({"route", "update", "/api", "--hsts", "1500ms"});
  EXPECT_EQ(r.exit, 1);
  EXPECT_EQ(r.err, "gatewayctl: bad --hsts: max-age is whole seconds, not '1500ms'\n");
}

// Every admin RPC that answers a certificate, called directly: no answer holds a key, whatever
// gatewayctl prints of it.
TEST_F(CertificateCommandsTest, NoAdminAnswerHoldsAKey) {
  using namespace gateway::v1;
  using Admin = gateway::v1::AdminService;  // not the control plane's gw::AdminService
  auto stub = Admin::NewStub(grpc::CreateChannel(address_, grpc::InsecureChannelCredentials()));
  std::vector<std::string> answers;
  auto call = [&](auto method, const auto& request, auto* response) {
    grpc::ClientContext context;
    const grpc::Status status = ((*stub).*method)(&context, request, response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    answers.push_back(response->DebugString());
  };
  const TestCertificate api = MakeCertificate({});
  CreateCertificateRequest create;
  create.mutable_certificate()->set_name("api");
  create.mutable_certificate()->set_cert_pem(api.cert_pem);
  create.mutable_certificate()->set_key_pem(api.key_pem);
  create.mutable_certificate()->set_is_default(true);
  CertificateResponse created;
  call(&Admin::Stub::CreateCertificate, create, &created);
  EXPECT_EQ(created.certificate().key_sha256(), ApiKeySha256Hex(api.key_pem));
  EXPECT_EQ(created.certificate().dns_names_size(), 1);
  EXPECT_GT(created.certificate().not_after_unix_ms(), 0);

  const TestCertificate renewed = MakeCertificate({});
  UpdateCertificateRequest update;
  update.mutable_certificate()->set_name("api");
  update.mutable_certificate()->set_cert_pem(renewed.cert_pem);
  update.mutable_certificate()->set_key_pem(renewed.key_pem);
  update.mutable_update_mask()->add_paths("cert_pem");
  update.mutable_update_mask()->add_paths("key_pem");
  CertificateResponse updated;
  call(&Admin::Stub::UpdateCertificate, update, &updated);
  GetCertificateRequest get;
  get.set_name("api");
  CertificateResponse got;
  call(&Admin::Stub::GetCertificate, get, &got);
  ListCertificatesResponse listed;
  call(&Admin::Stub::ListCertificates, ListCertificatesRequest(), &listed);
  ApplyRequest apply;
  *apply.add_certificates() = create.certificate();
  apply.mutable_certificates(0)->set_name("web");
  apply.mutable_certificates(0)->set_is_default(false);
  apply.set_dry_run(true);
  ApplyResponse dry;
  call(&Admin::Stub::Apply, apply, &dry);
  apply.set_dry_run(false);
  ApplyResponse applied;
  call(&Admin::Stub::Apply, apply, &applied);
  ASSERT_EQ(applied.changes_size(), 1);
  RollbackRequest rollback;
  rollback.set_version(1);
  ApplyResponse rolled;
  call(&Admin::Stub::Rollback, rollback, &rolled);
  EXPECT_EQ(rolled.changes_size(), 2);  // api's old pair back, web deleted
  for (uint64_t version = 1; version <= 4; ++version) {
    GetHistoryRequest history;
    history.set_version(version);
    GetHistoryResponse record;
    call(&Admin::Stub::GetHistory, history, &record);
    EXPECT_GT(record.changes_size(), 0) << version;
  }
  for (const std::string& answer : answers) {
    EXPECT_EQ(answer.find("PRIVATE KEY"), std::string::npos) << answer;
    EXPECT_EQ(answer.find("key_pem"), std::string::npos) << answer;
  }
}

}  // namespace
}  // namespace gw::cli
