#pragma once

#include <string>
#include <vector>

#include "tocsin/config/diagnostics.h"

namespace tocsin::notify {

// The sections every runbook must have, in this order (Detect, Quick checks, Temporary
// measures, Escalation, Green-zone criteria, Comms), as the exact level-2 headings:
// "## Detect", "## Quick checks", ...
extern const std::vector<std::string> kRunbookSections;

// Checks the runbook a paging rule references: the file exists and has every section of
// kRunbookSections. Each problem is an error at `referenced_at` (the rule's `runbook:`
// annotation) naming the file, what is missing and what to add. Returns true when valid.
// URLs (http:// or https://) are not checked: they live outside the config tree.
bool ValidateRunbook(const std::string& path, const config::Position& referenced_at,
                     config::Diagnostics& diags);

// The file a rule's `runbook` annotation names: "deposit-psp" or "deposit-psp.md" under
// `runbook_dir` (config's runbooks.dir, resolved); a URL is returned unchanged. Pages link
// the same file (runbooks.base_url + file name).
std::string RunbookPath(const std::string& runbook_dir, const std::string& annotation);

}  // namespace tocsin::notify
