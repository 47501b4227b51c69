#pragma once

// What the Sloth and OpenSLO importers share: the SLO they have read, in tocsin's terms but
// still as text (objectives and factors as written, so no decimal is re-rounded), and the
// writer of the rule file and its unit tests.

#include <yaml-cpp/yaml.h>

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tocsin/config/diagnostics.h"
#include "tocsin/rules/rule_import.h"

namespace tocsin::rules::import_detail {

struct TierSpec {
  std::string name;
  std::string factor;  // as written
  std::string long_window;
  std::string short_window;
  std::string severity;  // critical | warning | ...
  bool enabled = true;
};

struct SloSpec {
  std::string name;
  std::string origin;  // "file:line (what it was)"
  std::string service;
  std::string objective;  // percent, as written
  std::string window = "30d";
  std::string error_query, good_query, total_query;  // with {{window}}
  std::vector<std::pair<std::string, std::string>> labels;
  std::string summary, description, runbook;
  std::vector<TierSpec> tiers;        // empty: tocsin's default tiers
  std::vector<std::string> comments;  // "not mapped" notes written above the SLO
};

// Records one field that could not be mapped: a warning with the input's file:line and a
// comment line in the output (of the SLO when given, else at the top of the file).
class Unmapped {
 public:
  Unmapped(std::string file, config::Diagnostics& diags) : file_(std::move(file)), diags_(diags) {}
  void Note(const YAML::Node& at, const std::string& field, const std::string& why,
            SloSpec* slo = nullptr);
  const std::vector<std::string>& file_comments() const { return file_comments_; }
  // The notes of an SLO that was skipped whole go to the top of the file.
  void KeepSkipped(const SloSpec& slo);
  config::Diagnostics& diags() { return diags_; }
  const std::string& file() const { return file_; }
  config::Position Where(const YAML::Node& at) const;

 private:
  std::string file_;
  config::Diagnostics& diags_;
  std::vector<std::string> file_comments_;
};

// A YAML double-quoted scalar (JSON string syntax, which YAML reads the same way).
std::string Quote(std::string_view s);
// A tocsin rule name from another tool's name: letters, digits and '_' ("requests-availability"
// -> "requests_availability").
std::string SafeName(std::string_view s);
// "0.9995" -> "99.95": the decimal point moved two places, digits kept as written.
std::string PercentFromRatio(std::string_view ratio);
// The scalar as written, or "" when the node is not a scalar.
std::string ScalarText(const YAML::Node& n);
// Sloth's `{{.window}}` (and spaced variants) -> tocsin's `{{window}}`.
std::string TocsinWindowTemplate(std::string query);
bool HasWindowTemplate(std::string_view query);

// Annotation and label checks shared by both importers; what does not fit is noted.
void AddLabel(Unmapped& u, const YAML::Node& at, const std::string& field, const std::string& name,
              const std::string& value, SloSpec& slo);
void SetAnnotation(Unmapped& u, const YAML::Node& at, const std::string& field,
                   const std::string& name, const std::string& value, SloSpec& slo);

ImportedRules WriteImported(const std::string& tool, const std::string& input,
                            const std::string& group, const std::vector<SloSpec>& slos,
                            std::size_t skipped, const std::vector<std::string>& file_comments,
                            const RuleImportOptions& options);

// A value of the wrong shape (a scalar where a mapping belongs), which yaml-cpp reports by
// throwing: an error at its position.
std::nullopt_t WrongShape(config::Diagnostics& diags, const std::string& file,
                          const YAML::Exception& e, std::string_view format);

}  // namespace tocsin::rules::import_detail
