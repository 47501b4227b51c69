// Alertmanager API v2 bodies: POST /api/v2/alerts batches (simdjson) and silences.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tocsin/api/alertmanager_api.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> errors;
  (void)tocsin::dispatch::ParsePostedAlerts(body, tocsin::FromUnixMillis(1795312391000),
                                            std::chrono::minutes(5), errors);
  (void)tocsin::dispatch::ParseSilenceJson(body);
  return 0;
}
