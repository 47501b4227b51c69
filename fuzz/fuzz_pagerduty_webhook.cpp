// PagerDuty v3 webhook bodies and X-PagerDuty-Signature headers.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "tocsin/api/inbound.h"
#include "tocsin/http/signatures.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  (void)tocsin::http::ParsePagerDutyWebhook(body);
  (void)tocsin::http::VerifyPagerDutySignature(body.substr(0, 200), body, {"secret"});
  return 0;
}
