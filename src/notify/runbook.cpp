#include "tocsin/notify/runbook.h"

#include <fstream>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "tocsin/common/text.h"
#include "tocsin/common/url.h"

namespace tocsin::notify {

const std::vector<std::string> kRunbookSections = {
    "Detect", "Quick checks", "Temporary measures", "Escalation", "Green-zone criteria", "Comms"};

namespace {

// What each section is for, so the error tells the author what to write, not only its name.
std::string_view SectionHint(const std::string& section) {
  if (section == "Detect") return "links to the SLO and causal dashboards, traces and logs";
  if (section == "Quick checks") return "PSP/provider health, DR-region synthetics, DB/cache";
  if (section == "Temporary measures") return "feature flags, kill switches, PSP/provider switch";
  if (section == "Escalation") return "which L2/L3 to page and the vendors' 24x7 contacts";
  if (section == "Green-zone criteria") return "when the incident may be resolved";
  return "status-page template, affected markets/brands, next update";
}

}  // namespace

std::string RunbookPath(const std::string& runbook_dir, const std::string& annotation) {
  if (IsAbsoluteHttpUrl(annotation)) return annotation;
  std::string file = annotation;
  if (file.size() < 3 || file.substr(file.size() - 3) != ".md") file += ".md";
  if (!file.empty() && file.front() == '/') return file;
  return runbook_dir.empty() ? file : runbook_dir + "/" + file;
}

bool ValidateRunbook(const std::string& path, const config::Position& referenced_at,
                     config::Diagnostics& diags) {
  if (IsAbsoluteHttpUrl(path)) return true;
  std::ifstream in(path);
  if (!in) {
    diags.Error(referenced_at,
                fmt::format("runbook {} does not exist: create it from the template in "
                            "docs/runbooks.md (sections: ## Detect, ## Quick checks, "
                            "## Temporary measures, ## Escalation, ## Green-zone criteria, "
                            "## Comms) or fix the rule's `runbook` annotation",
                            path));
    return false;
  }
  std::set<std::string> found;
  std::string line;
  bool in_code = false;
  while (std::getline(in, line)) {
    // A "## Detect" inside a fenced example is not the section.
    if (line.rfind("```", 0) == 0) in_code = !in_code;
    if (in_code || line.rfind("## ", 0) != 0) continue;
    found.insert(std::string(TrimSpace(std::string_view(line).substr(3))));
  }
  bool ok = true;
  for (const auto& section : kRunbookSections) {
    if (found.count(section)) continue;
    ok = false;
    diags.Error(referenced_at, fmt::format("runbook {} lacks the section \"## {}\": add it ({})",
                                           path, section, SectionHint(section)));
  }
  return ok;
}

}  // namespace tocsin::notify
