#pragma once

#include <string>
#include <string_view>
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

// Slack request signing (interactivity and slash commands): X-Slack-Request-Timestamp (unix
// seconds) within `window` of `now`, and X-Slack-Signature == "v0=" + hex HMAC-SHA256(secret,
// "v0:" + timestamp + ":" + raw body), compared in constant time.
SignatureCheck VerifySlackSignature(std::string_view timestamp_header,
                                    std::string_view signature_header, std::string_view raw_body,
                                    std::string_view signing_secret, TimePoint now,
                                    Duration window = std::chrono::minutes(5));

// PagerDuty webhooks v3: X-PagerDuty-Signature "v1=<hex>[,v1=<hex>...]" (several during secret
// rotation); accepted if any v1 signature equals HMAC-SHA256(secret, raw body) for any of our
// configured secrets.
SignatureCheck VerifyPagerDutySignature(std::string_view signature_header,
                                        std::string_view raw_body,
                                        const std::vector<std::string>& secrets);

}  // namespace tocsin::http
