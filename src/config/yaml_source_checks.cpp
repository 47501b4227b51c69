// Checks of a YAML file that its parsed nodes cannot show: its encoding (and reading its text
// with that check), repeated keys and comments.
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "tocsin/common/text.h"
#include "tocsin/config/yaml_reader.h"

namespace tocsin::config {

bool CheckUtf8(const std::string& file, std::string_view text, Diagnostics& diags) {
  // Windows editors ("Unicode" in Notepad) and Windows PowerShell 5.1's `>` write UTF-16 with
  // a byte-order mark: every other byte is 0, so naming the first byte would not help.
  if (text.starts_with("\xFF\xFE") || text.starts_with("\xFE\xFF")) {
    diags.Error({file, 1, 1},
                "the file is UTF-16 (it starts with a UTF-16 byte-order mark): save it as UTF-8");
    return false;
  }
  // NUL is valid UTF-8 but never in a YAML file: UTF-16 without a mark (which yaml-cpp would
  // decode by guessing, its positions then off), or a file cut short by a crash.
  if (auto nul = text.find('\0'); nul != std::string_view::npos) {
    auto before = text.substr(0, nul);
    auto line_start = before.rfind('\n');
    line_start = line_start == std::string_view::npos ? 0 : line_start + 1;
    diags.Error({file, static_cast<int>(std::count(before.begin(), before.end(), '\n')) + 1,
                 static_cast<int>(CodePoints(before.substr(line_start))) + 1},
                "a NUL byte: the file may be UTF-16 without a byte-order mark, or not text; save "
                "it as UTF-8");
    return false;
  }
  auto bad = FirstInvalidUtf8(text);
  if (bad == std::string_view::npos) return true;
  auto before = text.substr(0, bad);
  auto line_start = before.rfind('\n');
  line_start = line_start == std::string_view::npos ? 0 : line_start + 1;
  int line = static_cast<int>(std::count(before.begin(), before.end(), '\n')) + 1;
  int column = static_cast<int>(CodePoints(before.substr(line_start))) + 1;
  diags.Error({file, line, column},
              fmt::format("byte 0x{:02X} is not UTF-8: save the file as UTF-8 (an editor set to "
                          "Latin-1 or Windows-1252 writes \"é\" as such a byte)",
                          static_cast<unsigned char>(text[bad])));
  return false;
}

std::optional<std::string> ReadYamlText(const std::string& path, Diagnostics& diags) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    diags.Error({path, 0, 0}, "cannot read file: " + std::string(std::strerror(errno)));
    return std::nullopt;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  if (!CheckUtf8(path, text, diags)) return std::nullopt;
  return text;
}

// yaml-cpp keeps both entries of a repeated key and every lookup finds the first, so the second
// would be ignored without a word. Reports each repeat with the key path and the first's line.
void CheckDuplicateKeys(const std::string& file, const YAML::Node& node, const std::string& path,
                        Diagnostics& diags) {
  if (node.IsMap()) {
    std::vector<std::pair<std::string, YAML::Node>> seen;
    for (auto it = node.begin(); it != node.end(); ++it) {
      const std::string key = it->first.IsScalar() ? it->first.Scalar() : std::string();
      const std::string child = path.empty() ? key : path + "." + key;
      auto first =
          std::find_if(seen.begin(), seen.end(), [&key](const auto& s) { return s.first == key; });
      if (!key.empty() && first != seen.end()) {
        diags.Error(PositionOf(file, it->first),
                    fmt::format("duplicate key \"{}\": {} is already set at line {}; remove one "
                                "of them (YAML keeps only one)",
                                key, child, PositionOf(file, first->second).line));
        continue;
      }
      seen.emplace_back(key, it->first);
      CheckDuplicateKeys(file, it->second, child, diags);
    }
  } else if (node.IsSequence()) {
    std::size_t i = 0;
    for (const auto& item : node) {
      CheckDuplicateKeys(file, item, fmt::format("{}[{}]", path, i++), diags);
    }
  }
}

std::string CommentAfterPlainScalar(const Document& doc, const YAML::Node& value) {
  if (!value || !value.IsScalar() || value.Tag() != "?") return {};  // "!" when quoted
  auto mark = value.Mark();
  if (mark.pos < 0) return {};
  std::size_t start = static_cast<std::size_t>(mark.pos);
  std::size_t end = doc.text.find('\n', start);
  std::string line = doc.text.substr(start, end == std::string::npos ? end : end - start);
  // A one-line plain scalar is written as it reads; what follows it on the line tells whether
  // a comment cut it.
  if (line.compare(0, value.Scalar().size(), value.Scalar()) != 0) return {};
  std::string rest = line.substr(value.Scalar().size());
  auto hash = rest.find_first_not_of(" \t");
  if (rest.empty() || hash == 0 || hash == std::string::npos || rest[hash] != '#') return {};
  return rest.substr(hash);
}

}  // namespace tocsin::config
