// Slack interactivity bodies (form-encoded `payload=<json>`) and their signature check.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "tocsin/api/inbound.h"
#include "tocsin/http/signatures.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  (void)tocsin::http::ParseSlackInteraction(body);
  (void)tocsin::http::VerifySlackSignature(body.substr(0, 12), body, body, "secret",
                                           tocsin::FromUnixMillis(0));
  return 0;
}
