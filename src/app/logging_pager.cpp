#include "logging_pager.h"

#include <spdlog/spdlog.h>

namespace tocsin::app {

void LoggingPager::Send(const incident::PageRequest& request) {
  std::string targets;
  for (const auto& t : request.targets) {
    if (!targets.empty()) targets += ", ";
    targets += t.person.id + " (" + t.role + ")";
  }
  spdlog::info("page {} {} {}: {}{}{}", request.idempotency_key,
               incident::PageActionName(request.action), request.incident_id, request.title,
               targets.empty() ? "" : " -> " + targets,
               request.text.empty() ? "" : " | " + request.text);
}

}  // namespace tocsin::app
