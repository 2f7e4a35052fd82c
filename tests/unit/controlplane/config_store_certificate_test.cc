// ConfigStore's certificates on every backend: stored with their keys (the pushed configs need
// them), refused when expired, not yet valid, mismatched or a second default, warned about near
// expiry, the default flag moved in one version, apply keeping a key given by its digest, a
// rollback restoring a deleted key, and the migration from schema 7.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/api_key.h"
#include "common/certificate.h"
#include "controlplane/store/config_store.h"
#include "tests/unit/controlplane/store_backends.h"
#include "tests/unit/support/test_certificates.h"

namespace gw {
namespace {

using gateway::v1::ApplyRequest;
using gateway::v1::Certificate;
using gateway::v1::ObjectChange;
using testing::MakeCertificate;
using testing::TestCertificate;

class ConfigStoreCertificateTest : public testing::StoreTest {
 protected:
  ConfigPtr Current() {
    auto snapshot = store_->LoadSnapshot();
    EXPECT_TRUE(snapshot.ok());
    return snapshot.ok() ? *snapshot : nullptr;
  }
};
GW_STORE_BACKENDS(ConfigStoreCertificateTest);

Certificate Named(const std::string& name, const TestCertificate& pair, bool is_default = false) {
  Certificate certificate;
  certificate.set_name(name);
  certificate.set_cert_pem(pair.cert_pem);
  certificate.set_key_pem(pair.key_pem);
  certificate.set_is_default(is_default);
  return certificate;
}

google::protobuf::FieldMask Mask(std::vector<std::string> paths) {
  google::protobuf::FieldMask mask;
  for (auto& path : paths) mask.add_paths(std::move(path));
  return mask;
}

std::string Day(int64_t unix_ms) { return FormatUtcDate(unix_ms); }

TEST_P(ConfigStoreCertificateTest, CreateGetListDeleteAndKeepTheKey) {
  const TestCertificate pair = MakeCertificate({.dns_names = {"api.example.com"}});
  auto created = store_->CreateCertificate(Named("api", pair));
  ASSERT_TRUE(created.ok()) << created.error().message;
  EXPECT_EQ(created->certificate.version(), 1u);
  EXPECT_TRUE(created->warnings.empty());
  EXPECT_EQ(created->previous_default, "");
  // Stored as given, key included (the configs pushed to gateways carry it); the answer-only
  // fields are never stored.
  Certificate request = Named("web", MakeCertificate({.dns_names = {"www.example.com"}}));
  request.set_key_sha256("00");
  request.add_dns_names("forged.example");
  request.set_not_after_unix_ms(1);
  ASSERT_TRUE(store_->CreateCertificate(request).ok());
  Reopen();
  auto got = store_->GetCertificate("api");
  ASSERT_TRUE(got.ok()) << got.error().message;
  EXPECT_EQ(got->certificate.cert_pem(), pair.cert_pem);
  EXPECT_EQ(got->certificate.key_pem(), pair.key_pem);
  EXPECT_EQ(got->config_version, 2u);
  const ConfigPtr config = Current();
  ASSERT_EQ(config->certificates_size(), 2);
  EXPECT_EQ(config->certificates(1).name(), "web");
  EXPECT_EQ(config->certificates(1).key_sha256(), "");
  EXPECT_EQ(config->certificates(1).dns_names_size(), 0);
  EXPECT_EQ(config->certificates(1).not_after_unix_ms(), 0);

  auto again = store_->CreateCertificate(Named("api", pair));
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, StoreCode::kAlreadyExists);
  auto deleted = store_->DeleteCertificate("api");
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ((*deleted)->version(), 3u);
  EXPECT_EQ(store_->GetCertificate("api").error().code, StoreCode::kNotFound);
  auto history = store_->ListHistory(1);
  ASSERT_TRUE(history.ok());
  EXPECT_EQ(history->front().action(), "delete_certificate");
}

TEST_P(ConfigStoreCertificateTest, ExpiredNotYetValidAndMismatchedChangeNothing) {
  ASSERT_TRUE(store_->CreateCertificate(Named("api", MakeCertificate({}))).ok());
  const std::string before = location_->Dump();
  const TestCertificate expired =
      MakeCertificate({.not_before_s = -30 * 86400, .not_after_s = -2 * 86400});
  const CertificateInfo expired_info = ParseCertificate(expired.cert_pem, expired.key_pem);
  auto refused = store_->CreateCertificate(Named("old", expired));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, StoreCode::kInvalidArgument);
  EXPECT_EQ(refused.error().message, "certificate old expired on " +
                                         Day(expired_info.not_after_unix_ms) +
                                         "; nothing was written");

  const TestCertificate future =
      MakeCertificate({.not_before_s = 86400, .not_after_s = 90 * 86400});
  refused = store_->CreateCertificate(Named("new", future));
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("certificate new is not valid before "),
            std::string::npos);

  Certificate mismatched = Named("mix", MakeCertificate({}));
  mismatched.set_key_pem(MakeCertificate({}).key_pem);
  refused = store_->CreateCertificate(mismatched);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().message,
            "certificate 'mix': the private key is not the key of the certificate");
  EXPECT_EQ(refused.error().message.find("PRIVATE KEY"), std::string::npos);

  // An update to an expired pair, and an apply of one, are refused alike.
  auto update = store_->UpdateCertificate(Named("api", expired), Mask({"cert_pem", "key_pem"}));
  ASSERT_FALSE(update.ok());
  EXPECT_NE(update.error().message.find("certificate api expired on"), std::string::npos);
  ApplyRequest apply;
  *apply.add_certificates() = Named("old", expired);
  auto applied = store_->Apply(apply);
  ASSERT_FALSE(applied.ok());
  EXPECT_NE(applied.error().message.find("certificate old expired on"), std::string::npos);
  // A new chain alone must be the stored key's.
  update = store_->UpdateCertificate(Named("api", MakeCertificate({})), Mask({"cert_pem"}));
  ASSERT_FALSE(update.ok());
  EXPECT_NE(update.error().message.find("not the key of the certificate"), std::string::npos);
  EXPECT_EQ(location_->Dump(), before);
}

TEST_P(ConfigStoreCertificateTest, NearExpiryIsStoredWithAWarning) {
  const TestCertificate soon = MakeCertificate({.not_after_s = 10 * 86400 + 3600});
  auto created = store_->CreateCertificate(Named("soon", soon));
  ASSERT_TRUE(created.ok()) << created.error().message;
  ASSERT_EQ(created->warnings.size(), 1u);
  EXPECT_NE(created->warnings[0].find("certificate soon expires on "), std::string::npos);
  EXPECT_NE(created->warnings[0].find(", in 10 days"), std::string::npos);
}

TEST_P(ConfigStoreCertificateTest, DefaultMovesInOneVersionAndTwoAreRefused) {
  ASSERT_TRUE(store_->CreateCertificate(Named("a", MakeCertificate({}), true)).ok());
  auto b =
      store_->CreateCertificate(Named("b", MakeCertificate({.dns_names = {"b.example"}}), true));
  ASSERT_TRUE(b.ok()) << b.error().message;
  EXPECT_EQ(b->previous_default, "a");
  ConfigPtr config = Current();
  EXPECT_EQ(config->version(), 2u);
  EXPECT_FALSE(config->certificates(0).is_default());
  EXPECT_EQ(config->certificates(0).version(), 2u);  // changed by the same version
  EXPECT_TRUE(config->certificates(1).is_default());

  Certificate flag;
  flag.set_name("a");
  flag.set_is_default(true);
  auto moved = store_->UpdateCertificate(flag, Mask({"is_default"}));
  ASSERT_TRUE(moved.ok()) << moved.error().message;
  EXPECT_EQ(moved->previous_default, "b");
  EXPECT_EQ(moved->snapshot->version(), 3u);
  flag.set_is_default(false);
  auto cleared = store_->UpdateCertificate(flag, Mask({"is_default"}));
  ASSERT_TRUE(cleared.ok());
  EXPECT_EQ(cleared->previous_default, "");
  for (const auto& certificate : cleared->snapshot->certificates())
    EXPECT_FALSE(certificate.is_default()) << certificate.name();

  // A document is taken as written: two defaults are refused, whole.
  const std::string before = location_->Dump();
  ApplyRequest apply;
  *apply.add_certificates() = Named("c", MakeCertificate({.dns_names = {"c.example"}}), true);
  *apply.add_certificates() = Named("d", MakeCertificate({.dns_names = {"d.example"}}), true);
  auto refused = store_->Apply(apply);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("are both the default"), std::string::npos);
  EXPECT_EQ(location_->Dump(), before);
}

TEST_P(ConfigStoreCertificateTest, ApplyKeepsAKeyGivenByItsDigest) {
  const TestCertificate pair = MakeCertificate({});
  ASSERT_TRUE(store_->CreateCertificate(Named("api", pair, true)).ok());
  ApplyRequest apply;
  Certificate* kept = apply.add_certificates();
  kept->set_name("api");
  kept->set_cert_pem(pair.cert_pem);
  kept->set_key_sha256(ApiKeySha256Hex(pair.key_pem));
  kept->set_is_default(true);
  auto same = store_->Apply(apply);
  ASSERT_TRUE(same.ok()) << same.error().message;
  EXPECT_TRUE(same->changes.empty());  // `export | apply -f -`: no changes
  EXPECT_EQ(same->snapshot->version(), 1u);

  kept->set_is_default(false);
  auto changed = store_->Apply(apply);
  ASSERT_TRUE(changed.ok()) << changed.error().message;
  ASSERT_EQ(changed->changes.size(), 1u);
  EXPECT_EQ(changed->changes[0].action(), ObjectChange::CHANGED);
  EXPECT_EQ(changed->changes[0].certificate_after().key_pem(), pair.key_pem);  // still stored
  EXPECT_EQ(changed->summary, "certificate api changed");

  const std::string before = location_->Dump();
  kept->set_key_sha256(std::string(64, 'a'));
  auto wrong = store_->Apply(apply);
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().message,
            "certificates[0]: certificate api: key_sha256 is not the digest of its stored key; "
            "give the key itself as key_pem");
  kept->set_key_pem(pair.key_pem);
  wrong = store_->Apply(apply);
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.error().message.find("give key_pem or key_sha256, not both"), std::string::npos);
  kept->clear_key_sha256();
  kept->set_name("other");  // a digest names a stored key of the same name only
  kept->clear_key_pem();
  kept->set_key_sha256(ApiKeySha256Hex(pair.key_pem));
  wrong = store_->Apply(apply);
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(location_->Dump(), before);
}

TEST_P(ConfigStoreCertificateTest, RollbackRestoresADeletedKey) {
  const TestCertificate pair = MakeCertificate({});
  ASSERT_TRUE(store_->CreateCertificate(Named("api", pair, true)).ok());
  ASSERT_TRUE(store_->DeleteCertificate("api").ok());
  auto history = store_->GetHistory(2);
  ASSERT_TRUE(history.ok());
  ASSERT_EQ(history->changes.size(), 1u);
  EXPECT_EQ(history->changes[0].action(), ObjectChange::DELETED);
  EXPECT_EQ(history->changes[0].certificate_before().name(), "api");

  auto rolled = store_->Rollback(1);
  ASSERT_TRUE(rolled.ok()) << rolled.error().message;
  EXPECT_TRUE(rolled->warnings.empty());
  Reopen();
  auto got = store_->GetCertificate("api");
  ASSERT_TRUE(got.ok()) << got.error().message;
  EXPECT_EQ(got->certificate.key_pem(), pair.key_pem);
  EXPECT_TRUE(got->certificate.is_default());
  EXPECT_EQ(got->config_version, 3u);
}

TEST_P(ConfigStoreCertificateTest, RollbackOfANearExpiryCertificateOnlyWarns) {
  const TestCertificate soon = MakeCertificate({.not_after_s = 5 * 86400});
  ASSERT_TRUE(store_->CreateCertificate(Named("soon", soon)).ok());
  ASSERT_TRUE(store_->DeleteCertificate("soon").ok());
  auto rolled = store_->Rollback(1);
  ASSERT_TRUE(rolled.ok()) << rolled.error().message;
  ASSERT_EQ(rolled->warnings.size(), 1u);
  EXPECT_NE(rolled->warnings[0].find("certificate soon expires on"), std::string::npos);
}

// A store of schema 7 (before certificates) opens, migrates to 8 and keeps its config.
TEST_P(ConfigStoreCertificateTest, MigratesFromSchema7) {
  gateway::v1::Service service;
  service.set_name("svc");
  auto* endpoint = service.add_endpoints();
  endpoint->set_host("127.0.0.1");
  endpoint->set_port(8080);
  ASSERT_TRUE(store_->CreateService(service).ok());
  store_.reset();
  location_->Query("DROP TABLE certificates");
  if (GetParam() == testing::Backend::kSqlite)
    location_->Query("PRAGMA user_version = 7");
  else
    location_->Query("UPDATE meta SET value = 7 WHERE key = 'schema_version'");
  Reopen();
  ConfigPtr config = Current();
  EXPECT_EQ(config->version(), 1u);
  ASSERT_EQ(config->services_size(), 1);
  auto created = store_->CreateCertificate(Named("api", MakeCertificate({})));
  ASSERT_TRUE(created.ok()) << created.error().message;
  EXPECT_EQ(created->snapshot->version(), 2u);
  if (GetParam() == testing::Backend::kSqlite)
    EXPECT_EQ(location_->Query("PRAGMA user_version"),
              std::vector<std::string>{std::to_string(kConfigSchemaVersion)});
  else
    EXPECT_EQ(location_->Query("SELECT value FROM meta WHERE key = 'schema_version'"),
              std::vector<std::string>{std::to_string(kConfigSchemaVersion)});
}

}  // namespace
}  // namespace gw
