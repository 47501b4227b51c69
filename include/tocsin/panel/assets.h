#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace tocsin::panel {

// One file of the panel (src/panel/assets/), compiled into the binary by a CMake step
// (src/panel/embed_assets.cmake), so the daemon serves its pages without reading files.
struct EmbeddedAsset {
  std::string_view name;          // "incidents.html", "panel.css", "common.js"
  std::string_view content_type;  // "text/html; charset=utf-8"
  std::string_view body;
};
const std::vector<EmbeddedAsset>& EmbeddedAssets();

// An asset as served: HTML with the path prefix filled in, and its ETag (a quoted SHA-256
// prefix of the served bytes). Immutable after construction; thread-safe.
struct ServedAsset {
  std::string name;
  std::string content_type;
  std::string body;
  std::string etag;
};

// The assets for a listener under `path_prefix`. A page (NAME.html whose first line is
// "<!-- page: TITLE | SCRIPT.js -->") is served inside _shell.html, the frame every page shares
// (%TITLE%, %SCRIPT%, %PAGE% and %MAIN% filled in); every "%PREFIX%" in HTML is replaced.
// _shell.html itself is not served.
std::vector<ServedAsset> PrepareAssets(const std::string& path_prefix);

}  // namespace tocsin::panel
