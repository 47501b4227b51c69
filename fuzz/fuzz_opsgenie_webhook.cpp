// Opsgenie outgoing webhook bodies.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "tocsin/api/inbound.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  (void)tocsin::http::ParseOpsgenieWebhook(body);
  return 0;
}
