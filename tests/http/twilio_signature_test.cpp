#include <algorithm>

#include "tocsin/common/crypto.h"
#include "tocsin/http/signatures.h"

#include <gtest/gtest.h>

namespace tocsin::http {
namespace {

// The example of Twilio's "Validating requests" documentation (auth token 12345, a voice
// callback with a query string), whose published signature is 0/KCTR6DLpKmkAf8muzZqo1nDgQ=.
constexpr const char* kDocToken = "12345";
constexpr const char* kDocUrl = "https://mycompany.com/myapp.php?foo=1&bar=2";
constexpr const char* kDocSignature = "0/KCTR6DLpKmkAf8muzZqo1nDgQ=";
const std::vector<std::pair<std::string, std::string>> kDocParams = {
    {"Digits", "1234"},
    {"To", "+18005551212"},
    {"From", "+12349013030"},
    {"Caller", "+12349013030"},
    {"CallSid", "CA1234567890ABCDE"}};

TEST(TwilioSignatureTest, MatchesTheVectorOfTwilioDocs) {
  EXPECT_EQ(TwilioSignature(kDocUrl, kDocParams, kDocToken), kDocSignature);
  EXPECT_EQ(VerifyTwilioSignature(kDocSignature, kDocUrl, kDocParams, kDocToken),
            SignatureCheck::kOk);
}

TEST(TwilioSignatureTest, HmacSha1Base64OfRfc2202) {
  // RFC 2202 test case 2: HMAC-SHA1("Jefe", "what do ya want for nothing?") =
  // effcdf6ae5eb2fa2d27416d5f184df9c259a7c79, which is 7/zfauXrL6LSdBbV8YTfnCWafHk= in base64.
  EXPECT_EQ(HmacSha1Base64("Jefe", "what do ya want for nothing?"), "7/zfauXrL6LSdBbV8YTfnCWafHk=");
}

TEST(TwilioSignatureTest, ParameterOrderDoesNotMatter) {
  auto reversed = kDocParams;
  std::reverse(reversed.begin(), reversed.end());
  EXPECT_EQ(VerifyTwilioSignature(kDocSignature, kDocUrl, reversed, kDocToken),
            SignatureCheck::kOk);
}

TEST(TwilioSignatureTest, RefusesForgedOrMissingSignatures) {
  EXPECT_EQ(VerifyTwilioSignature("", kDocUrl, kDocParams, kDocToken), SignatureCheck::kMissing);
  EXPECT_EQ(VerifyTwilioSignature("   ", kDocUrl, kDocParams, kDocToken), SignatureCheck::kMissing);
  // Not the shape of a base64 HMAC-SHA1: refused as malformed, before any HMAC is computed.
  for (const char* bad : {"x", "0/KCTR6DLpKmkAf8muzZqo1nDgQ", "0/KCTR6DLpKmkAf8muzZqo1nDgQ==",
                          "0/KCTR6DLpKmkAf8muz-qo1nDgQ=", "0/KCTR6DLpKmkAf8muzZqo1nDgQA"}) {
    EXPECT_EQ(ScreenTwilioHeader(bad), SignatureCheck::kMalformed) << bad;
    EXPECT_EQ(VerifyTwilioSignature(bad, kDocUrl, kDocParams, kDocToken),
              SignatureCheck::kMalformed)
        << bad;
  }
  EXPECT_EQ(ScreenTwilioHeader(kDocSignature), SignatureCheck::kOk);
  EXPECT_EQ(ScreenTwilioHeader(std::string(" ") + kDocSignature + " "), SignatureCheck::kOk);
  EXPECT_EQ(VerifyTwilioSignature(kDocSignature, kDocUrl, kDocParams, "54321"),
            SignatureCheck::kMismatch);
  // A changed parameter (someone pressing 9 instead of 1234) breaks it.
  auto changed = kDocParams;
  changed[0].second = "9";
  EXPECT_EQ(VerifyTwilioSignature(kDocSignature, kDocUrl, changed, kDocToken),
            SignatureCheck::kMismatch);
  // So does the URL tocsin sees behind a proxy instead of the public one Twilio called.
  EXPECT_EQ(VerifyTwilioSignature(kDocSignature, "http://127.0.0.1:9095/myapp.php?foo=1&bar=2",
                                  kDocParams, kDocToken),
            SignatureCheck::kMismatch);
  // An added parameter too.
  auto added = kDocParams;
  added.emplace_back("Body", "ack");
  EXPECT_EQ(VerifyTwilioSignature(kDocSignature, kDocUrl, added, kDocToken),
            SignatureCheck::kMismatch);
}

}  // namespace
}  // namespace tocsin::http
