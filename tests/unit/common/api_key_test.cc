#include "common/api_key.h"

#include <gtest/gtest.h>

namespace gw {
namespace {

TEST(ApiKeyTest, ValidatesLengthAndCharacters) {
  std::string error;
  EXPECT_TRUE(ValidateApiKey(std::string(16, 'k'), &error));
  EXPECT_TRUE(ValidateApiKey(std::string(256, 'k'), &error));
  EXPECT_TRUE(ValidateApiKey("Ab3-_.~!@#$%^&*()[]{}<>?/|\\'\"`=+", &error));

  EXPECT_FALSE(ValidateApiKey(std::string(15, 'k'), &error));
  EXPECT_EQ(error, "an API key has 16 to 256 characters (this one has 15)");
  EXPECT_FALSE(ValidateApiKey(std::string(257, 'k'), &error));
  EXPECT_FALSE(ValidateApiKey("", &error));
  EXPECT_FALSE(ValidateApiKey("sixteen chars ok", &error));
  EXPECT_EQ(error, "an API key is printable ASCII without spaces or control characters");
  EXPECT_FALSE(ValidateApiKey("sixteen-chars-ok\t", &error));
  EXPECT_FALSE(ValidateApiKey("sixteen-chars-ok\x7f", &error));
  EXPECT_FALSE(ValidateApiKey("sixteen-chars-\xc3\xa9", &error));  // non-ASCII
  EXPECT_FALSE(ValidateApiKey(std::string("sixteen-chars\0ok", 16), &error));
}

TEST(ApiKeyTest, Sha256HexIsTheStandardDigest) {
  // FIPS 180-2 test vectors.
  EXPECT_EQ(ApiKeySha256Hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(ApiKeySha256Hex(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_TRUE(IsApiKeySha256Hex(ApiKeySha256Hex("some-long-api-key-123")));
}

TEST(ApiKeyTest, DigestFormIsLowerCaseHex) {
  const std::string digest = ApiKeySha256Hex("abc");
  EXPECT_TRUE(IsApiKeySha256Hex(digest));
  std::string upper = digest;
  upper[0] = 'B';
  EXPECT_FALSE(IsApiKeySha256Hex(upper));
  EXPECT_FALSE(IsApiKeySha256Hex(digest.substr(1)));
  EXPECT_FALSE(IsApiKeySha256Hex(digest + "0"));
  EXPECT_FALSE(IsApiKeySha256Hex(std::string(63, '0') + "g"));
  EXPECT_FALSE(IsApiKeySha256Hex(""));
}

TEST(ApiKeySetTest, FindsTheConsumerOfAKey) {
  const std::string alice_key = "alice-key-0123456789";
  const std::string alice_old = "alice-old-key-98765";
  const std::string bob_key = "bob-key-abcdefghijkl";
  std::string error;
  auto set = ApiKeySet::Build({{"alice", {ApiKeySha256Hex(alice_key), ApiKeySha256Hex(alice_old)}},
                               {"bob", {ApiKeySha256Hex(bob_key)}},
                               {"carol", {}}},
                              &error);
  ASSERT_NE(set, nullptr) << error;
  EXPECT_EQ(set->size(), 3u);

  const std::string* consumer = set->Find(alice_key);
  ASSERT_NE(consumer, nullptr);
  EXPECT_EQ(*consumer, "alice");
  ASSERT_NE(set->Find(alice_old), nullptr);
  EXPECT_EQ(*set->Find(alice_old), "alice");
  ASSERT_NE(set->Find(bob_key), nullptr);
  EXPECT_EQ(*set->Find(bob_key), "bob");

  EXPECT_EQ(set->Find("bob-key-abcdefghijkm"), nullptr);  // one character off
  EXPECT_EQ(set->Find(""), nullptr);
  EXPECT_EQ(set->Find("short"), nullptr);
  // The digest itself is not a key.
  EXPECT_EQ(set->Find(ApiKeySha256Hex(bob_key)), nullptr);
}

TEST(ApiKeySetTest, AKeyTooShortToBeValidIsNeverLookedUp) {
  // Even if its digest were configured (the control plane refuses such a key), it never matches.
  auto set = ApiKeySet::Build({{"alice", {ApiKeySha256Hex("abc")}}});
  ASSERT_NE(set, nullptr);
  EXPECT_EQ(set->Find("abc"), nullptr);
}

TEST(ApiKeySetTest, RefusesMalformedDigestsAndSharedKeys) {
  std::string error;
  EXPECT_EQ(ApiKeySet::Build({{"alice", {"not-a-digest"}}}, &error), nullptr);
  EXPECT_EQ(error, "consumer alice: an API key digest is not 64 lower-case hex digits");

  const std::string digest = ApiKeySha256Hex("shared-key-0123456789");
  EXPECT_EQ(ApiKeySet::Build({{"alice", {digest}}, {"bob", {digest}}}, &error), nullptr);
  EXPECT_EQ(error, "consumers alice and bob share an API key");

  // The same digest twice for one consumer is harmless.
  auto set = ApiKeySet::Build({{"alice", {digest, digest}}}, &error);
  ASSERT_NE(set, nullptr);
  EXPECT_EQ(set->size(), 1u);
}

TEST(ApiKeySetTest, EmptySetFindsNothing) {
  auto set = ApiKeySet::Build({});
  ASSERT_NE(set, nullptr);
  EXPECT_EQ(set->size(), 0u);
  EXPECT_EQ(set->Find("alice-key-0123456789"), nullptr);
}

}  // namespace
}  // namespace gw
