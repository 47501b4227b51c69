#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tocsin/common/clock.h"

namespace tocsin::http {

enum class SignatureCheck {
  kOk,
  kMissing,    // no signature or timestamp header: 401
  kMalformed,  // header present but not parseable: 400
  kExpired,    // timestamp outside the replay window: 401
  kMismatch,   // wrong signature: 403 (forged, or a wrong secret configured)
};
std::string_view SignatureCheckName(SignatureCheck c);
int SignatureCheckStatus(SignatureCheck c);

// Each provider's check comes in two parts. Screen*: what the header fields alone tell, checked
// before the body is read, so that a request that cannot pass is answered without reading what
// it sends. Verify*: the whole check with the body (the screen's part again, then the HMAC).

// Slack request signing (interactivity and slash commands): X-Slack-Request-Timestamp (unix
// seconds) within `window` of `now`, and X-Slack-Signature == "v0=" + hex HMAC-SHA256(secret,
// "v0:" + timestamp + ":" + raw body), compared in constant time.
// Both fields there and well-formed, the timestamp within `window` of `now`.
SignatureCheck ScreenSlackHeaders(std::string_view timestamp_header,
                                  std::string_view signature_header, TimePoint now,
                                  Duration window = std::chrono::minutes(5));
SignatureCheck VerifySlackSignature(std::string_view timestamp_header,
                                    std::string_view signature_header, std::string_view raw_body,
                                    std::string_view signing_secret, TimePoint now,
                                    Duration window = std::chrono::minutes(5));

// PagerDuty webhooks v3: X-PagerDuty-Signature "v1=<hex>[,v1=<hex>...]" (several during secret
// rotation); accepted if any v1 signature equals HMAC-SHA256(secret, raw body) for any of our
// configured secrets.
// The field there, each of its parts "v1=" and 64 hex characters.
SignatureCheck ScreenPagerDutyHeader(std::string_view signature_header);
SignatureCheck VerifyPagerDutySignature(std::string_view signature_header,
                                        std::string_view raw_body,
                                        const std::vector<std::string>& secrets);

// Twilio request validation: X-Twilio-Signature == base64 HMAC-SHA1(auth token, the full URL
// Twilio called (scheme, host, path and query, exactly as configured there) followed by every
// POST parameter sorted by name, each as name then value with nothing between). Several
// parameters of one name are sorted by value too. `url` is the public URL (behind a proxy, the
// external one), never the one the request arrived on.
std::string TwilioSignature(std::string_view url,
                            std::vector<std::pair<std::string, std::string>> params,
                            std::string_view auth_token);
// The field there and shaped as Twilio sends it: base64 of a 20-byte HMAC-SHA1, 28
// characters (kMalformed, 400, otherwise).
SignatureCheck ScreenTwilioHeader(std::string_view signature_header);
// kMissing (401) without the header, kMalformed (400) when it is not shaped as above,
// kMismatch (403) when it differs; constant-time compare.
SignatureCheck VerifyTwilioSignature(std::string_view signature_header, std::string_view url,
                                     const std::vector<std::pair<std::string, std::string>>& params,
                                     std::string_view auth_token);

}  // namespace tocsin::http
