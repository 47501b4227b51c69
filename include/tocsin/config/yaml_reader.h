#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "tocsin/common/clock.h"
#include "tocsin/common/labels.h"
#include "tocsin/config/diagnostics.h"

namespace tocsin::config {

// A parsed YAML document plus the file it came from, so every node can be located.
struct Document {
  std::string file;
  YAML::Node root;
  std::string text;  // the source, for checks YAML's data model cannot see (comments)
};

// Whether `text` is UTF-8, as YAML files must be here: otherwise reports the first byte that is
// not, at its line and column (a Latin-1 byte would reach titles, pages and stored rows).
bool CheckUtf8(const std::string& file, std::string_view text, Diagnostics& diags);

// The text of the YAML file at `path`, checked with CheckUtf8; nothing when it cannot be read
// (reported at line 0) or is not UTF-8. For a reader that parses it itself (several documents).
std::optional<std::string> ReadYamlText(const std::string& path, Diagnostics& diags);

// Reports every key repeated in a mapping of `node` (yaml-cpp keeps both and every lookup finds
// the first, so the second would be ignored without a word), with its key path.
void CheckDuplicateKeys(const std::string& file, const YAML::Node& node, const std::string& path,
                        Diagnostics& diags);

// When `value` is a plain (unquoted) scalar followed on its line by a comment, the comment: YAML
// ends a plain scalar at " #", so `reason: agreed in #ops` reads "agreed in". Empty otherwise.
std::string CommentAfterPlainScalar(const Document& doc, const YAML::Node& value);

// Reads a YAML file. A syntax error becomes one diagnostic with its line and column; a
// missing or unreadable file is reported the same way (line 0).
std::optional<Document> LoadYamlFile(const std::string& path, Diagnostics& diags);
std::optional<Document> LoadYamlString(std::string file_label, const std::string& text,
                                       Diagnostics& diags);

Position PositionOf(const std::string& file, const YAML::Node& node);

// Expands ${NAME} from the environment ("$$" is a literal "$"). An unset variable is an error.
std::optional<std::string> ExpandEnv(std::string_view text, std::string* error);

// Strict reader for one YAML mapping. Each accessor records which keys it consumed; Finish()
// reports every key nobody asked for, with a suggestion. Type and format errors are reported to
// Diagnostics and the accessor leaves the output untouched, so loading goes on and every error
// in the file is reported in one pass. String scalars go through ${ENV} expansion.
class MapReader {
 public:
  // `what` names the mapping in messages, e.g. "server" or "slo \"login\"".
  MapReader(const std::string& file, const YAML::Node& node, Diagnostics& diags, std::string what);
  ~MapReader();
  MapReader(const MapReader&) = delete;
  MapReader& operator=(const MapReader&) = delete;

  bool ok() const { return is_map_; }
  bool Has(std::string_view key) const;
  YAML::Node Node(std::string_view key);       // consumes the key; null node when absent
  Position Where(std::string_view key) const;  // position of the value, else of the map
  Position Here() const;

  // Each returns true when the key was present and valid. Missing + required -> error.
  bool String(std::string_view key, std::string& out, bool required = false);
  bool Bool(std::string_view key, bool& out, bool required = false);
  bool Int(std::string_view key, long long& out, bool required = false, long long min = 0,
           long long max = (1LL << 53));
  bool Double(std::string_view key, double& out, bool required = false);
  bool DurationValue(std::string_view key, Duration& out, bool required = false);
  bool StringList(std::string_view key, std::vector<std::string>& out, bool required = false);
  bool StringMap(std::string_view key, std::vector<std::pair<std::string, std::string>>& out);
  bool LabelsValue(std::string_view key, Labels& out);
  // http(s) URL with a host.
  bool Url(std::string_view key, std::string& out, bool required = false);
  // One of `allowed`.
  bool Enum(std::string_view key, std::string& out, const std::vector<std::string>& allowed,
            bool required = false);
  // A secret given inline (`key`, usually "${ENV}") or as a file path (`key_file`); both is an
  // error. The value is registered for log redaction. `base_dir` resolves relative paths.
  bool Secret(std::string_view key, std::string& out, const std::string& base_dir,
              bool required = false);

  void Error(std::string_view key, std::string message);
  void Warning(std::string_view key, std::string message);
  Diagnostics& diags() { return diags_; }
  const std::string& file() const { return file_; }
  const std::string& what() const { return what_; }

  // Reports unknown keys. Called by the destructor if not called explicitly.
  void Finish();

 private:
  YAML::Node Find(std::string_view key) const;
  std::optional<std::string> Scalar(std::string_view key, const YAML::Node& n,
                                    std::string_view expected);

  std::string file_;
  YAML::Node node_;
  Diagnostics& diags_;
  std::string what_;
  bool is_map_ = false;
  bool finished_ = false;
  std::vector<std::string> consumed_;
};

// Calls fn(reader-for-item, index) for each item of a sequence of mappings at `key`.
void ForEachMap(MapReader& parent, std::string_view key, std::string_view item_what,
                const std::function<void(MapReader&, std::size_t)>& fn);

// Resolves `path` against `base_dir` unless absolute.
std::string ResolvePath(const std::string& base_dir, const std::string& path);

}  // namespace tocsin::config
