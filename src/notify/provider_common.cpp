#include "notify/provider_common.h"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include "tocsin/common/labels.h"

namespace tocsin::notify {

std::string Iso8601(TimePoint t) {
  auto secs = std::chrono::time_point_cast<std::chrono::seconds>(t);
  return fmt::format("{:%Y-%m-%dT%H:%M:%S}Z", secs);
}

std::string BoundedKey(const std::string& key, std::size_t max) {
  if (key.size() <= max) return key;
  std::string hash = fmt::format("{:016x}", Fnv1a64(key));
  std::size_t keep = max > hash.size() + 1 ? max - hash.size() - 1 : 0;
  // Cut on a byte that does not continue a UTF-8 sequence.
  while (keep > 0 && (static_cast<unsigned char>(key[keep]) & 0xC0) == 0x80) --keep;
  return key.substr(0, keep) + "~" + hash;
}

std::string SevName(incident::Sev sev) { return fmt::format("SEV-{}", static_cast<int>(sev)); }

}  // namespace tocsin::notify
