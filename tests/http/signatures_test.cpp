#include "tocsin/http/signatures.h"

#include "tocsin/common/crypto.h"

#include <gtest/gtest.h>

namespace tocsin::http {
namespace {

// Reference vectors computed with Python's hmac module, not with this code.
constexpr const char* kSlackSecret = "8f742231b10e8888abcd99yyyzzz85a5";
constexpr const char* kSlackBody = "payload=%7B%22type%22%3A%22block_actions%22%7D";
constexpr const char* kSlackSig =
    "v0=9dffc25b49a4a7fc2e15c9c9450bf8af09eb501fcef9039eaea3deb58af0c82c";
const TimePoint kSlackNow = FromUnixMillis(1531420618000LL + 30'000);

TEST(SignaturesTest, PagerDutyVectorFromProtocolsDoc) {
  EXPECT_EQ(HmacSha256Hex("test-secret", R"({"event":{"event_type":"incident.acknowledged"}})"),
            "a0c61caa9a0676851561078c5fd60e7e411f23e6e272f5ab370d30b80a7eae2d");
}

TEST(SignaturesTest, SlackAcceptsTheRightSignatureWithinTheWindow) {
  EXPECT_EQ(VerifySlackSignature("1531420618", kSlackSig, kSlackBody, kSlackSecret, kSlackNow),
            SignatureCheck::kOk);
}

TEST(SignaturesTest, SlackRejectsForgedTamperedExpiredAndMalformed) {
  EXPECT_EQ(VerifySlackSignature("1531420618", kSlackSig, kSlackBody, "another-secret", kSlackNow),
            SignatureCheck::kMismatch);
  EXPECT_EQ(VerifySlackSignature("1531420618", kSlackSig, std::string(kSlackBody) + "x",
                                 kSlackSecret, kSlackNow),
            SignatureCheck::kMismatch);
  // Same signature, other timestamp: the timestamp is part of what is signed.
  EXPECT_EQ(VerifySlackSignature("1531420619", kSlackSig, kSlackBody, kSlackSecret, kSlackNow),
            SignatureCheck::kMismatch);
  // A replay six minutes later.
  EXPECT_EQ(VerifySlackSignature("1531420618", kSlackSig, kSlackBody, kSlackSecret,
                                 FromUnixMillis(1531420618000LL + 301'000)),
            SignatureCheck::kExpired);
  // From the future, too far.
  EXPECT_EQ(VerifySlackSignature("1531420618", kSlackSig, kSlackBody, kSlackSecret,
                                 FromUnixMillis(1531420618000LL - 301'000)),
            SignatureCheck::kExpired);
  // Far in the past: now - ts overflowed a long long and the check passed (a 403 where the
  // answer is 401, and undefined behaviour).
  for (const char* ts : {"-9223372036854775808", "-9223372035058173133", "9223372036854775807"}) {
    EXPECT_EQ(ScreenSlackHeaders(ts, kSlackSig, kSlackNow), SignatureCheck::kExpired) << ts;
  }
  EXPECT_EQ(VerifySlackSignature("", kSlackSig, kSlackBody, kSlackSecret, kSlackNow),
            SignatureCheck::kMissing);
  EXPECT_EQ(VerifySlackSignature("1531420618", "", kSlackBody, kSlackSecret, kSlackNow),
            SignatureCheck::kMissing);
  EXPECT_EQ(VerifySlackSignature("yesterday", kSlackSig, kSlackBody, kSlackSecret, kSlackNow),
            SignatureCheck::kMalformed);
  EXPECT_EQ(VerifySlackSignature("1531420618", "v1=abc", kSlackBody, kSlackSecret, kSlackNow),
            SignatureCheck::kMalformed);
}

TEST(SignaturesTest, PagerDutyAcceptsAnyOfSeveralSignaturesDuringRotation) {
  std::string body = R"({"event":{"event_type":"incident.acknowledged"}})";
  std::string good = "v1=a0c61caa9a0676851561078c5fd60e7e411f23e6e272f5ab370d30b80a7eae2d";
  std::string other = "v1=" + std::string(64, '0');
  EXPECT_EQ(VerifyPagerDutySignature(good, body, {"test-secret"}), SignatureCheck::kOk);
  EXPECT_EQ(VerifyPagerDutySignature(other + "," + good, body, {"test-secret"}),
            SignatureCheck::kOk);
  EXPECT_EQ(VerifyPagerDutySignature(good, body, {"old-secret", "test-secret"}),
            SignatureCheck::kOk);
  EXPECT_EQ(VerifyPagerDutySignature(good, body + " ", {"test-secret"}), SignatureCheck::kMismatch);
  EXPECT_EQ(VerifyPagerDutySignature(other, body, {"test-secret"}), SignatureCheck::kMismatch);
  EXPECT_EQ(VerifyPagerDutySignature("", body, {"test-secret"}), SignatureCheck::kMissing);
  EXPECT_EQ(VerifyPagerDutySignature("sha256=abc", body, {"test-secret"}),
            SignatureCheck::kMalformed);
}

TEST(SignaturesTest, StatusCodes) {
  EXPECT_EQ(SignatureCheckStatus(SignatureCheck::kMalformed), 400);
  EXPECT_EQ(SignatureCheckStatus(SignatureCheck::kMissing), 401);
  EXPECT_EQ(SignatureCheckStatus(SignatureCheck::kExpired), 401);
  EXPECT_EQ(SignatureCheckStatus(SignatureCheck::kMismatch), 403);
}
}  // namespace
}  // namespace tocsin::http
