// ParseCertificate and the config rules on certificates (ValidateCertificate, ValidateConfig,
// FeaturesUsed), on keys and certificates made here: names, dates, key types, chains, and every
// way a pair is refused, in one line that never holds key material.
#include "common/certificate.h"

#include <gtest/gtest.h>

#include "common/config_features.h"
#include "common/duration.h"
#include "common/policy_validation.h"
#include "common/validation.h"
#include "tests/unit/support/test_certificates.h"

namespace gw {
namespace {

using testing::CertificateSpec;
using testing::MakeCertificate;
using testing::TestCertificate;

constexpr int64_t kDayMs = 86'400'000;

// An error message holds no line of either PEM input.
void ExpectNoKeyMaterial(const std::string& message, const TestCertificate& pair) {
  EXPECT_EQ(message.find("PRIVATE KEY"), std::string::npos) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  const std::string key_line = pair.key_pem.substr(pair.key_pem.find('\n') + 1, 40);
  EXPECT_EQ(message.find(key_line), std::string::npos) << message;
}

TEST(ParseCertificate, ReadsNamesDatesAndKeyType) {
  const TestCertificate pair = MakeCertificate(
      {.dns_names = {"API.Example.com", "*.example.com"}, .not_after_s = 10 * 86400});
  const CertificateInfo info = ParseCertificate(pair.cert_pem, pair.key_pem);
  ASSERT_EQ(info.error, "");
  EXPECT_EQ(info.dns_names, (std::vector<std::string>{"api.example.com", "*.example.com"}));
  EXPECT_EQ(info.key_type, "EC P-256");
  EXPECT_EQ(info.chain_length, 1u);
  const int64_t now = NowUnixMs();
  EXPECT_NEAR(static_cast<double>(info.not_after_unix_ms), static_cast<double>(now + 10 * kDayMs),
              5000.0);
  EXPECT_NEAR(static_cast<double>(info.not_before_unix_ms), static_cast<double>(now - 3'600'000),
              5000.0);
  EXPECT_EQ(FormatUtcDate(info.not_after_unix_ms).size(), std::string("2026-01-02").size());
}

TEST(ParseCertificate, AKeyTooWeakToServeIsRefused) {
  // OpenSSL's security level 2 would refuse to serve it: every TLS gateway would NACK.
  const auto weak = MakeCertificate({.rsa = true, .rsa_bits = 1024});
  const CertificateInfo info = ParseCertificate(weak.cert_pem, weak.key_pem);
  EXPECT_EQ(info.error, "the key is too weak to serve (RSA 1024; at least RSA 2048 or EC P-256)");
  const auto strong = MakeCertificate({.rsa = true});
  EXPECT_EQ(ParseCertificate(strong.cert_pem, strong.key_pem).error, "");
}

TEST(ParseCertificate, CommonNameOnlyWithoutSans) {
  const TestCertificate no_san =
      MakeCertificate({.dns_names = {}, .common_name = "Legacy.Example"});
  EXPECT_EQ(ParseCertificate(no_san.cert_pem, no_san.key_pem).dns_names,
            std::vector<std::string>{"legacy.example"});
  const TestCertificate with_san =
      MakeCertificate({.dns_names = {"a.example"}, .common_name = "b.example"});
  EXPECT_EQ(ParseCertificate(with_san.cert_pem, with_san.key_pem).dns_names,
            std::vector<std::string>{"a.example"});
}

TEST(ParseCertificate, DatesAreReadNotJudged) {
  const TestCertificate expired =
      MakeCertificate({.not_before_s = -10 * 86400, .not_after_s = -86400});
  const CertificateInfo past = ParseCertificate(expired.cert_pem, expired.key_pem);
  EXPECT_EQ(past.error, "");
  EXPECT_LT(past.not_after_unix_ms, NowUnixMs());
  const TestCertificate future =
      MakeCertificate({.not_before_s = 86400, .not_after_s = 10 * 86400});
  const CertificateInfo later = ParseCertificate(future.cert_pem, future.key_pem);
  EXPECT_EQ(later.error, "");
  EXPECT_GT(later.not_before_unix_ms, NowUnixMs());
}

TEST(ParseCertificate, RsaKeyAndAChain) {
  const TestCertificate ca =
      MakeCertificate({.dns_names = {}, .common_name = "Test CA", .ca = true});
  const TestCertificate leaf =
      MakeCertificate({.dns_names = {"www.example.com"}, .rsa = true}, &ca);
  const CertificateInfo info = ParseCertificate(leaf.cert_pem, leaf.key_pem);
  ASSERT_EQ(info.error, "");
  EXPECT_EQ(info.chain_length, 2u);
  EXPECT_EQ(info.key_type, "RSA 2048");
  EXPECT_EQ(info.dns_names, std::vector<std::string>{"www.example.com"});
}

TEST(ParseCertificate, RefusesInOneLineWithoutKeyMaterial) {
  const TestCertificate a = MakeCertificate({});
  const TestCertificate b = MakeCertificate({});
  struct Case {
    std::string cert, key, error;
  } cases[] = {
      {a.cert_pem, b.key_pem, "the private key is not the key of the certificate"},
      {"garbage", a.key_pem, "the certificate is not PEM (no BEGIN CERTIFICATE block parses)"},
      {a.cert_pem, "garbage", "the private key is not PEM (no private key block parses)"},
      {a.cert_pem, a.cert_pem, "the private key is not PEM (no private key block parses)"},
      {a.key_pem, a.key_pem, "the certificate is not PEM (no BEGIN CERTIFICATE block parses)"},
      {a.cert_pem, testing::EncryptedKeyPem(a, "passphrase"),
       "the private key is encrypted; give it unencrypted"},
      {"", "", "the certificate is not PEM (no BEGIN CERTIFICATE block parses)"},
  };
  for (const Case& c : cases) {
    const CertificateInfo info = ParseCertificate(c.cert, c.key);
    EXPECT_EQ(info.error, c.error);
    ExpectNoKeyMaterial(info.error, a);
    ExpectNoKeyMaterial(info.error, b);
  }
}

gateway::v1::Certificate Stored(const std::string& name, const TestCertificate& pair,
                                bool is_default = false) {
  gateway::v1::Certificate certificate;
  certificate.set_name(name);
  certificate.set_cert_pem(pair.cert_pem);
  certificate.set_key_pem(pair.key_pem);
  certificate.set_is_default(is_default);
  return certificate;
}

TEST(ValidateCertificate, NamePemSizeKeyAndDnsNames) {
  const TestCertificate pair = MakeCertificate({});
  EXPECT_EQ(ValidateCertificate(Stored("api", pair)), "");
  // Expiry is the store's rule, never the gateways': what they took today stays valid.
  EXPECT_EQ(ValidateCertificate(Stored(
                "old", MakeCertificate({.not_before_s = -86400 * 3, .not_after_s = -86400}))),
            "");
  EXPECT_NE(ValidateCertificate(Stored("API_1", pair)).find("certificate"), std::string::npos);
  gateway::v1::Certificate no_key = Stored("api", pair);
  no_key.clear_key_pem();
  EXPECT_EQ(ValidateCertificate(no_key), "certificate 'api' has no private key (key_pem)");
  gateway::v1::Certificate huge = Stored("api", pair);
  huge.set_cert_pem(pair.cert_pem + std::string(kMaxCertificatePemBytes, '\n'));
  EXPECT_EQ(ValidateCertificate(huge), "certificate 'api': the certificate is larger than 64 KiB");
  gateway::v1::Certificate mismatched = Stored("api", pair);
  mismatched.set_key_pem(MakeCertificate({}).key_pem);
  EXPECT_EQ(ValidateCertificate(mismatched),
            "certificate 'api': the private key is not the key of the certificate");
  EXPECT_EQ(
      ValidateCertificate(Stored("ip", MakeCertificate({.dns_names = {}, .common_name = ""}))),
      "certificate 'ip': the certificate names no DNS name (no DNS subject alternative "
      "name, no common name)");
}

TEST(ValidateConfig, OneDefaultCertificateAndUniqueNames) {
  const TestCertificate a = MakeCertificate({});
  const TestCertificate b = MakeCertificate({.dns_names = {"b.example"}});
  gateway::v1::Config config;
  *config.add_certificates() = Stored("a", a, true);
  *config.add_certificates() = Stored("b", b);
  EXPECT_EQ(ValidateConfig(config), "");
  config.mutable_certificates(1)->set_is_default(true);
  EXPECT_EQ(ValidateConfig(config),
            "certificates 'a' and 'b' are both the default; one default at most");
  config.mutable_certificates(1)->set_is_default(false);
  config.mutable_certificates(1)->set_name("a");
  EXPECT_EQ(ValidateConfig(config), "certificate 'a' is defined twice");
}

TEST(ValidateConfig, HealthChecksOfH2cServicesNeedAGatewayThatProbesOverHttp2) {
  gateway::v1::Config config;
  auto* service = config.add_services();
  service->set_name("grpc");
  auto* endpoint = service->add_endpoints();
  endpoint->set_host("127.0.0.1");
  endpoint->set_port(50051);
  service->set_protocol(gateway::v1::UPSTREAM_H2C);
  service->mutable_health_check()->set_path("/healthz");
  service->mutable_health_check()->set_interval_ms(kDefaultHealthIntervalMs);
  service->mutable_health_check()->set_unhealthy_threshold(3);
  service->mutable_health_check()->set_healthy_threshold(2);
  EXPECT_EQ(ValidateService(*service), "");
  const std::set<std::string> used = FeaturesUsed(config);
  EXPECT_TRUE(used.count("h2c_health_checks"));
  // A gateway that speaks h2c but probes with HTTP/1.1 would take the service out: shown behind.
  gateway::v1::Node before;
  before.set_protocol_version(kProtocolVersion);
  for (const auto& f : GatewayFeatures()) {
    if (f != "h2c_health_checks") before.add_features(f);
  }
  EXPECT_EQ(MissingFeatures(used, before), std::vector<std::string>{"h2c_health_checks"});
  service->set_protocol(gateway::v1::UPSTREAM_HTTP1);
  EXPECT_EQ(ValidateService(*service), "");
  EXPECT_FALSE(FeaturesUsed(config).count("h2c_health_checks"));
}

TEST(FeaturesUsed, TheEdgeFeaturesWhichGatewaysDoNotListYet) {
  gateway::v1::Config config;
  EXPECT_TRUE(FeaturesUsed(config).empty());
  *config.add_certificates() = Stored("a", MakeCertificate({}));
  auto* route = config.add_routes();
  route->set_path("/");
  route->set_https_redirect(true);
  auto* service = config.add_services();
  service->set_name("grpc");
  service->set_protocol(gateway::v1::UPSTREAM_H2C);
  const std::set<std::string> used = FeaturesUsed(config);
  gateway::v1::Node node;  // a gateway of this build
  node.set_protocol_version(kProtocolVersion);
  for (const auto& f : GatewayFeatures()) node.add_features(f);
  for (const char* feature : {"tls_certificates", "https_route_policy", "h2c_service"}) {
    EXPECT_TRUE(used.count(feature)) << feature;
  }
  // It serves TLS, the route policies and h2c services; a gateway from before h2c is shown
  // behind for configs with an h2c service rather than serving them half.
  EXPECT_TRUE(MissingFeatures(used, node).empty());
  gateway::v1::Node before_h2c;
  before_h2c.set_protocol_version(kProtocolVersion);
  for (const auto& f : GatewayFeatures()) {
    if (f != "h2c_service") before_h2c.add_features(f);
  }
  EXPECT_EQ(MissingFeatures(used, before_h2c), std::vector<std::string>{"h2c_service"});
  route->set_https_redirect(false);
  route->set_hsts_max_age_s(31'536'000);
  EXPECT_TRUE(FeaturesUsed(config).count("https_route_policy"));
}

TEST(ValidateRoute, HstsAtMostTwoYears) {
  gateway::v1::Route route;
  route.set_path("/");
  route.set_match(gateway::v1::MATCH_PREFIX);
  route.set_target("svc");
  route.set_hsts_max_age_s(kMaxHstsMaxAgeSeconds);
  EXPECT_EQ(ValidateRoute(route), "");
  route.set_hsts_max_age_s(kMaxHstsMaxAgeSeconds + 1);
  EXPECT_NE(ValidateRoute(route).find("hsts max-age"), std::string::npos);
}

}  // namespace
}  // namespace gw
