#include "tocsin/config/yaml_reader.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <boost/url/parse.hpp>

#include "tocsin/common/duration.h"
#include "tocsin/common/log.h"

namespace tocsin::config {

namespace {

std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) {
    if (!out.empty()) out += ", ";
    out += s;
  }
  return out;
}

std::string TypeName(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar:
      return "\"" + n.Scalar() + "\"";
    case YAML::NodeType::Null:
      return "nothing";
    default:
      return "an undefined value";
  }
}

}  // namespace

Position PositionOf(const std::string& file, const YAML::Node& node) {
  Position p{file, 0, 0};
  if (node && node.IsDefined()) {
    auto m = node.Mark();
    if (m.line >= 0) {
      p.line = m.line + 1;
      p.column = m.column + 1;
    }
  }
  return p;
}

namespace {

// LoadYamlString after its encoding check.
std::optional<Document> ParseYaml(std::string file_label, const std::string& text,
                                  Diagnostics& diags) {
  try {
    YAML::Node root = YAML::Load(text);
    CheckDuplicateKeys(file_label, root, "", diags);
    return Document{std::move(file_label), std::move(root), text};
  } catch (const YAML::Exception& e) {
    diags.Error({file_label, e.mark.line + 1, e.mark.column + 1}, "YAML syntax error: " + e.msg);
    return std::nullopt;
  }
}

}  // namespace

std::optional<Document> LoadYamlString(std::string file_label, const std::string& text,
                                       Diagnostics& diags) {
  if (!CheckUtf8(file_label, text, diags)) return std::nullopt;
  return ParseYaml(std::move(file_label), text, diags);
}

std::optional<Document> LoadYamlFile(const std::string& path, Diagnostics& diags) {
  auto text = ReadYamlText(path, diags);  // checked for UTF-8 there
  if (!text) return std::nullopt;
  return ParseYaml(path, *text, diags);
}

std::optional<std::string> ExpandEnv(std::string_view text, std::string* error) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '$') {
      out += text[i];
      continue;
    }
    if (i + 1 < text.size() && text[i + 1] == '$') {
      out += '$';
      ++i;
      continue;
    }
    if (i + 1 < text.size() && text[i + 1] == '{') {
      auto close = text.find('}', i + 2);
      if (close == std::string_view::npos) {
        *error = "unterminated ${ in \"" + std::string(text) + "\" (write ${NAME}, or $$ for $)";
        return std::nullopt;
      }
      std::string name(text.substr(i + 2, close - i - 2));
      const char* value = name.empty() ? nullptr : std::getenv(name.c_str());
      if (value == nullptr) {
        *error = "environment variable " + name +
                 " is not set (set it in the service environment, or use a *_file key)";
        return std::nullopt;
      }
      out += value;
      i = close;
      continue;
    }
    out += '$';
  }
  return out;
}

std::string ResolvePath(const std::string& base_dir, const std::string& path) {
  if (path.empty()) return path;
  std::filesystem::path p(path);
  if (p.is_absolute() || base_dir.empty()) return p.lexically_normal().string();
  return (std::filesystem::path(base_dir) / p).lexically_normal().string();
}

MapReader::MapReader(const std::string& file, const YAML::Node& node, Diagnostics& diags,
                     std::string what)
    : file_(file), node_(node), diags_(diags), what_(std::move(what)) {
  if (node && node.IsMap()) {
    is_map_ = true;
  } else if (node && node.IsNull()) {
    is_map_ = true;  // an empty section ("server:") is an empty mapping
    node_ = YAML::Node(YAML::NodeType::Map);
  } else {
    diags_.Error(PositionOf(file_, node),
                 what_ + " must be a mapping (key: value), got " + TypeName(node));
  }
}

MapReader::~MapReader() { Finish(); }

void MapReader::Finish() {
  if (finished_ || !is_map_) {
    finished_ = true;
    return;
  }
  finished_ = true;
  for (auto it = node_.begin(); it != node_.end(); ++it) {
    std::string key = it->first.Scalar();
    if (std::find(consumed_.begin(), consumed_.end(), key) != consumed_.end()) continue;
    std::string msg = "unknown key \"" + key + "\" in " + what_;
    std::string hint = Suggest(key, consumed_);
    if (!hint.empty()) {
      msg += " (did you mean \"" + hint + "\"?)";
    } else if (!consumed_.empty()) {
      msg += " (expected one of: " + Join(consumed_) + ")";
    }
    diags_.Error(PositionOf(file_, it->first), msg);
  }
}

YAML::Node MapReader::Find(std::string_view key) const {
  if (!is_map_) return YAML::Node();
  for (auto it = node_.begin(); it != node_.end(); ++it) {
    if (it->first.Scalar() == key) return it->second;
  }
  return YAML::Node();
}

bool MapReader::Has(std::string_view key) const {
  YAML::Node n = Find(key);
  return n && n.IsDefined() && !n.IsNull();
}

YAML::Node MapReader::Node(std::string_view key) {
  consumed_.emplace_back(key);
  return Find(key);
}

Position MapReader::Where(std::string_view key) const {
  YAML::Node n = Find(key);
  return n ? PositionOf(file_, n) : Here();
}

Position MapReader::Here() const { return PositionOf(file_, node_); }

void MapReader::Error(std::string_view key, std::string message) {
  diags_.Error(Where(key), what_ + "." + std::string(key) + ": " + message);
}

void MapReader::Warning(std::string_view key, std::string message) {
  diags_.Warning(Where(key), what_ + "." + std::string(key) + ": " + message);
}

std::optional<std::string> MapReader::Scalar(std::string_view key, const YAML::Node& n,
                                             std::string_view expected) {
  if (!n.IsScalar()) {
    Error(key, fmt::format("expected {}, got {}", expected, TypeName(n)));
    return std::nullopt;
  }
  std::string err;
  auto v = ExpandEnv(n.Scalar(), &err);
  if (!v) {
    Error(key, err);
    return std::nullopt;
  }
  return v;
}

namespace {
bool Missing(const YAML::Node& n) { return !n || !n.IsDefined() || n.IsNull(); }
}  // namespace

bool MapReader::String(std::string_view key, std::string& out, bool required) {
  YAML::Node n = Node(key);
  if (Missing(n)) {
    if (required)
      diags_.Error(Here(), what_ + ": missing required key \"" + std::string(key) + "\"");
    return false;
  }
  auto v = Scalar(key, n, "a string");
  if (!v) return false;
  out = *v;
  return true;
}

bool MapReader::Bool(std::string_view key, bool& out, bool required) {
  YAML::Node n = Node(key);
  if (Missing(n)) {
    if (required)
      diags_.Error(Here(), what_ + ": missing required key \"" + std::string(key) + "\"");
    return false;
  }
  auto v = Scalar(key, n, "true or false");
  if (!v) return false;
  if (*v == "true") {
    out = true;
  } else if (*v == "false") {
    out = false;
  } else {
    Error(key, "expected true or false, got \"" + *v + "\"");
    return false;
  }
  return true;
}

bool MapReader::Int(std::string_view key, long long& out, bool required, long long min,
                    long long max) {
  YAML::Node n = Node(key);
  if (Missing(n)) {
    if (required)
      diags_.Error(Here(), what_ + ": missing required key \"" + std::string(key) + "\"");
    return false;
  }
  auto v = Scalar(key, n, "a whole number");
  if (!v) return false;
  char* end = nullptr;
  errno = 0;
  long long x = std::strtoll(v->c_str(), &end, 10);
  if (v->empty() || *end != '\0' || errno != 0) {
    Error(key, "expected a whole number, got \"" + *v + "\"");
    return false;
  }
  if (x < min || x > max) {
    Error(key, fmt::format("{} is out of range (expected {}..{})", x, min, max));
    return false;
  }
  out = x;
  return true;
}

bool MapReader::Double(std::string_view key, double& out, bool required) {
  YAML::Node n = Node(key);
  if (Missing(n)) {
    if (required)
      diags_.Error(Here(), what_ + ": missing required key \"" + std::string(key) + "\"");
    return false;
  }
  auto v = Scalar(key, n, "a number");
  if (!v) return false;
  char* end = nullptr;
  double x = std::strtod(v->c_str(), &end);
  if (v->empty() || *end != '\0' || !std::isfinite(x)) {
    Error(key, "expected a number, got \"" + *v + "\"");
    return false;
  }
  out = x;
  return true;
}

bool MapReader::DurationValue(std::string_view key, Duration& out, bool required) {
  YAML::Node n = Node(key);
  if (Missing(n)) {
    if (required)
      diags_.Error(Here(), what_ + ": missing required key \"" + std::string(key) + "\"");
    return false;
  }
  auto v = Scalar(key, n, "a duration");
  if (!v) return false;
  auto d = ParseDuration(*v);
  if (!d) {
    Error(key, d.error().message());
    return false;
  }
  out = *d;
  return true;
}

bool MapReader::StringList(std::string_view key, std::vector<std::string>& out, bool required) {
  YAML::Node n = Node(key);
  if (Missing(n)) {
    if (required)
      diags_.Error(Here(), what_ + ": missing required key \"" + std::string(key) + "\"");
    return false;
  }
  if (n.IsScalar()) {  // a single string is accepted where a list is expected
    auto v = Scalar(key, n, "a list of strings");
    if (!v) return false;
    out = {*v};
    return true;
  }
  if (!n.IsSequence()) {
    Error(key, "expected a list of strings, got " + TypeName(n));
    return false;
  }
  std::vector<std::string> result;
  bool ok = true;
  for (const auto& item : n) {
    if (!item.IsScalar()) {
      diags_.Error(PositionOf(file_, item),
                   what_ + "." + std::string(key) + ": expected a string, got " + TypeName(item));
      ok = false;
      continue;
    }
    std::string err;
    auto v = ExpandEnv(item.Scalar(), &err);
    if (!v) {
      diags_.Error(PositionOf(file_, item), what_ + "." + std::string(key) + ": " + err);
      ok = false;
      continue;
    }
    result.push_back(*v);
  }
  if (ok) out = std::move(result);
  return ok;
}

bool MapReader::StringMap(std::string_view key,
                          std::vector<std::pair<std::string, std::string>>& out) {
  YAML::Node n = Node(key);
  if (Missing(n)) return false;
  if (!n.IsMap()) {
    Error(key, "expected a mapping of names to strings, got " + TypeName(n));
    return false;
  }
  std::vector<std::pair<std::string, std::string>> result;
  bool ok = true;
  for (auto it = n.begin(); it != n.end(); ++it) {
    if (!it->second.IsScalar()) {
      diags_.Error(PositionOf(file_, it->second),
                   what_ + "." + std::string(key) + "." + it->first.Scalar() +
                       ": expected a string, got " + TypeName(it->second));
      ok = false;
      continue;
    }
    std::string err;
    auto v = ExpandEnv(it->second.Scalar(), &err);
    if (!v) {
      diags_.Error(PositionOf(file_, it->second), what_ + "." + std::string(key) + ": " + err);
      ok = false;
      continue;
    }
    result.emplace_back(it->first.Scalar(), *v);
  }
  if (ok) out = std::move(result);
  return ok;
}

bool MapReader::LabelsValue(std::string_view key, Labels& out) {
  std::vector<std::pair<std::string, std::string>> kv;
  if (!StringMap(key, kv)) return false;
  std::vector<Label> items;
  bool ok = true;
  for (auto& [name, value] : kv) {
    bool valid = !name.empty() && !(name[0] >= '0' && name[0] <= '9');
    for (char c : name) {
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) valid = false;
    }
    if (!valid) {
      Error(key,
            "invalid label name \"" + name + "\" (use letters, digits and _, not first a digit)");
      ok = false;
    }
    items.push_back({name, value});
  }
  if (ok) out = Labels(std::move(items));
  return ok;
}

bool MapReader::Url(std::string_view key, std::string& out, bool required) {
  std::string v;
  if (!String(key, v, required)) return false;
  auto parsed = boost::urls::parse_absolute_uri(v);
  if (!parsed || (parsed->scheme() != "http" && parsed->scheme() != "https") ||
      parsed->host().empty()) {
    Error(key, "invalid URL \"" + log::Redact(v) +
                   "\" (expected an absolute http:// or https:// URL with a host)");
    return false;
  }
  out = v;
  return true;
}

bool MapReader::Enum(std::string_view key, std::string& out,
                     const std::vector<std::string>& allowed, bool required) {
  std::string v;
  if (!String(key, v, required)) return false;
  if (std::find(allowed.begin(), allowed.end(), v) == allowed.end()) {
    std::string msg = "invalid value \"" + v + "\" (expected one of: " + Join(allowed) + ")";
    Error(key, msg);
    return false;
  }
  out = v;
  return true;
}

bool MapReader::Secret(std::string_view key, std::string& out, const std::string& base_dir,
                       bool required) {
  std::string file_key = std::string(key) + "_file";
  bool inline_given = Has(key);
  bool file_given = Has(file_key);
  if (inline_given && file_given) {
    Error(key, "give either \"" + std::string(key) + "\" or \"" + file_key + "\", not both");
    Node(key);
    Node(file_key);
    return false;
  }
  if (file_given) {
    std::string path;
    if (!String(file_key, path)) return false;
    std::string resolved = ResolvePath(base_dir, path);
    std::ifstream in(resolved, std::ios::binary);
    if (!in) {
      Error(file_key, "cannot read secret file " + resolved + ": " + std::strerror(errno));
      return false;
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    std::string value = ss.str();
    while (!value.empty() && (value.back() == '\n' || value.back() == '\r')) value.pop_back();
    if (value.empty()) {
      Error(file_key, "secret file " + resolved + " is empty");
      return false;
    }
    log::AddSecret(value);
    out = value;
    return true;
  }
  if (!inline_given) {
    Node(key);
    Node(file_key);
    if (required) {
      diags_.Error(Here(), what_ + ": missing required key \"" + std::string(key) + "\" (or \"" +
                               file_key + "\")");
    }
    return false;
  }
  Node(file_key);
  std::string value;
  if (!String(key, value)) return false;
  log::AddSecret(value);
  out = value;
  return true;
}

void ForEachMap(MapReader& parent, std::string_view key, std::string_view item_what,
                const std::function<void(MapReader&, std::size_t)>& fn) {
  YAML::Node n = parent.Node(key);
  if (Missing(n)) return;
  if (!n.IsSequence()) {
    parent.Error(key, "expected a list, got " + TypeName(n));
    return;
  }
  std::size_t i = 0;
  for (const auto& item : n) {
    MapReader r(parent.file(), item, parent.diags(), fmt::format("{}[{}]", item_what, i));
    if (r.ok()) fn(r, i);
    ++i;
  }
}

}  // namespace tocsin::config
