#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tocsin/common/result.h"
#include "tocsin/incident/page.h"

namespace tocsin::notify {

// A page in words, before any provider's format: the four questions every page answers
// (What / Where / How much / Action), the runbook and dashboard links, the cause candidates and the
// incident's place on its ladder. Plain value.
struct PageText {
  std::string what;      // "Deposit success 97.2 % (SLO 99.85 %)"
  std::string where;     // "PSP-A, market DE"
  std::string how_much;  // "burning budget 14x, 32 % of the budget spent"
  // `what` is the alert's own summary sentence, which already says where and how much.
  bool sentence = false;
  std::string action;   // "runbook deposit-psp, consider routing 50 % to PSP-B"
  std::string summary;  // one line from the `summary` template
  std::string details;  // several lines from the `details` template
  std::string email_subject;
  std::string runbook_name;  // "deposit-psp"
  std::string runbook_url;
  std::string dashboard_url;
  std::string query_url;
  std::vector<Link> links;          // runbook first, then dashboard, query, the alerts' links
  std::vector<std::string> causes;  // "db_conn_saturation: DB pool 97 % (payments, eu)"
  std::string incident_url;         // tocsin's page of the incident, when external_url is set
  std::string source;               // service label, else "tocsin"
  std::string alertname;
  std::map<std::string, std::string> labels;  // of the primary alert
};

struct RenderOptions {
  std::string runbook_base_url;  // `runbooks.base_url`
  std::string external_url;      // `server.external_url`, for incident links
  std::string templates_dir;     // `notify.templates_dir`; empty: built-in templates
};

// Renders pages with mustache templates: `summary.mustache`, `details.mustache` and
// `email_subject.mustache` in templates_dir override the built-in ones (HTML escaping off:
// every provider receives plain text or JSON-encoded strings). Thread-safety: immutable after
// Create(); Render() may be called from any thread.
class PageRenderer {
 public:
  // Fails (kInvalid, naming the file) when an override does not parse.
  static Result<std::shared_ptr<const PageRenderer>> Create(const RenderOptions& options);
  PageText Render(const incident::PageRequest& request) const;

  // Number formatting shared with the providers: "97.2", "14", "99.85".
  static std::string FormatNumber(double v, int max_decimals = 2);

 private:
  explicit PageRenderer(RenderOptions options) : options_(std::move(options)) {}
  RenderOptions options_;
  std::map<std::string, std::string> templates_;
};

}  // namespace tocsin::notify
