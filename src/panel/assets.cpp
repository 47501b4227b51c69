#include "tocsin/panel/assets.h"

#include "tocsin/common/crypto.h"

namespace tocsin::panel {

std::vector<ServedAsset> PrepareAssets(const std::string& path_prefix) {
  std::vector<ServedAsset> out;
  for (const auto& a : EmbeddedAssets()) {
    ServedAsset s{std::string(a.name), std::string(a.content_type), std::string(a.body), ""};
    if (s.content_type.rfind("text/html", 0) == 0) {
      static constexpr std::string_view kMark = "%PREFIX%";
      for (auto p = s.body.find(kMark); p != std::string::npos;
           p = s.body.find(kMark, p + path_prefix.size())) {
        s.body.replace(p, kMark.size(), path_prefix);
      }
    }
    s.etag = "\"" + Sha256Hex(s.body).substr(0, 32) + "\"";
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace tocsin::panel
