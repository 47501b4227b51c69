#include "tocsin/common/crypto.h"

#include <gtest/gtest.h>

namespace tocsin {
namespace {

// Reference vectors from the RFCs and from Python's hashlib/hmac, never from this code.

TEST(CryptoTest, HmacSha256MatchesRfc4231) {
  // RFC 4231 test case 2.
  EXPECT_EQ(HmacSha256Hex("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  // The PagerDuty webhook signature vector, computed with Python's hmac module.
  EXPECT_EQ(HmacSha256Hex("test-secret", R"({"event":{"event_type":"incident.acknowledged"}})"),
            "a0c61caa9a0676851561078c5fd60e7e411f23e6e272f5ab370d30b80a7eae2d");
}

TEST(CryptoTest, HmacKeyAndMessageMayHoldNulBytes) {
  std::string key("k\0y", 3);
  EXPECT_NE(HmacSha256Hex(key, "m"), HmacSha256Hex("k", "m"));
  EXPECT_NE(HmacSha256Hex("k", std::string("m\0", 2)), HmacSha256Hex("k", "m"));
}

TEST(CryptoTest, Sha256MatchesFips180Vectors) {
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("tocsin-api-token-ops"),
            "dfa5c80e9fbb37d518fcf5e2a6c5b6c8d335da2c28bcf6fa54ff06b1c85ae6a6");
}

TEST(CryptoTest, ConstantTimeEqualsComparesContentAndLength) {
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_TRUE(ConstantTimeEquals("", ""));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abcd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", ""));
}

TEST(CryptoTest, Base64MatchesRfc4648Vectors) {
  EXPECT_EQ(Base64Encode(""), "");
  EXPECT_EQ(Base64Encode("f"), "Zg==");
  EXPECT_EQ(Base64Encode("fo"), "Zm8=");
  EXPECT_EQ(Base64Encode("foo"), "Zm9v");
  EXPECT_EQ(Base64Encode("foob"), "Zm9vYg==");
  EXPECT_EQ(Base64Encode("fooba"), "Zm9vYmE=");
  EXPECT_EQ(Base64Encode("foobar"), "Zm9vYmFy");
  // Binary input and no line breaks however long: an encoded-word must stay on its line.
  EXPECT_EQ(Base64Encode(std::string("\0\xff\xfe", 3)), "AP/+");
  std::string long_input(300, 'x');
  std::string encoded = Base64Encode(long_input);
  EXPECT_EQ(encoded.size(), 400u);
  EXPECT_EQ(encoded.find('\n'), std::string::npos);
}

}  // namespace
}  // namespace tocsin
