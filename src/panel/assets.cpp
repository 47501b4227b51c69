#include "tocsin/panel/assets.h"

#include <optional>

#include "tocsin/common/crypto.h"

namespace tocsin::panel {

namespace {

constexpr std::string_view kShell = "_shell.html";

void ReplaceAll(std::string& s, std::string_view from, std::string_view to) {
  for (auto p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size())) {
    s.replace(p, from.size(), to);
  }
}

// What follows the first "-->\n" (the file's own comment), or all of `text`.
std::string_view AfterComment(std::string_view text) {
  if (text.rfind("<!--", 0) != 0) return text;
  auto end = text.find("-->\n");
  return end == std::string_view::npos ? text : text.substr(end + 4);
}

// A page's first line: "<!-- page: Incidents | incidents.js -->".
struct PageHead {
  std::string title;
  std::string script;
};
std::optional<PageHead> HeadOf(std::string_view text) {
  constexpr std::string_view kOpen = "<!-- page: ";
  if (text.rfind(kOpen, 0) != 0) return std::nullopt;
  auto end = text.find(" -->");
  auto bar = text.find(" | ");
  if (end == std::string_view::npos || bar == std::string_view::npos || bar > end) {
    return std::nullopt;
  }
  return PageHead{std::string(text.substr(kOpen.size(), bar - kOpen.size())),
                  std::string(text.substr(bar + 3, end - bar - 3))};
}

}  // namespace

std::vector<ServedAsset> PrepareAssets(const std::string& path_prefix) {
  std::string_view shell;
  for (const auto& a : EmbeddedAssets()) {
    if (a.name == kShell) shell = AfterComment(a.body);
  }
  std::vector<ServedAsset> out;
  for (const auto& a : EmbeddedAssets()) {
    if (a.name == kShell) continue;
    ServedAsset s{std::string(a.name), std::string(a.content_type), std::string(a.body), ""};
    if (s.content_type.rfind("text/html", 0) == 0) {
      // Every page is the shared frame (navigation, sign-in state, connection banner) around
      // its own main content.
      if (auto head = HeadOf(a.body); head && !shell.empty()) {
        std::string page(shell);
        ReplaceAll(page, "%TITLE%", head->title);
        ReplaceAll(page, "%SCRIPT%", head->script);
        ReplaceAll(page, "%PAGE%", s.name.substr(0, s.name.size() - 5));
        ReplaceAll(page, "%MAIN%", AfterComment(a.body));
        s.body = std::move(page);
      }
      ReplaceAll(s.body, "%PREFIX%", path_prefix);
    }
    s.etag = "\"" + Sha256Hex(s.body).substr(0, 32) + "\"";
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace tocsin::panel
