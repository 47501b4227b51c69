#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "notify/page_renderer.h"
#include "tocsin/common/clock.h"
#include "tocsin/common/url.h"
#include "tocsin/incident/incident.h"
#include "tocsin/incident/page.h"

namespace tocsin::notify {

// Small helpers every provider folder shares.

// "2026-11-22T02:10:16Z"
std::string Iso8601(TimePoint t);
// A key no longer than `max` bytes: itself when it fits, else a prefix plus a hash of the whole,
// so two long keys never collapse into one and the same key always maps the same way.
std::string BoundedKey(const std::string& key, std::size_t max);
using incident::SevName;  // "SEV-1"

// Whether a link can be a button's target in Slack and Teams is IsAbsoluteHttpUrl: a runbook
// or incident link is relative when runbook_base_url or server.external_url is not set, and
// both services refuse the whole message for such a button, so it is left out instead.
using tocsin::IsAbsoluteHttpUrl;

// The alert `tags` Opsgenie and JSM Operations (its successor) both take: the SEV, the alert
// name, then service, psp, market and region as "name:value"; at most 20 of 50 characters.
nlohmann::json OpsAlertTags(incident::Sev sev, const PageText& t);
// Their alert `details`: incident and step, then the page's where / how much (and, when
// `with_action`, action) and its runbook, dashboard and tocsin links, each only when set.
nlohmann::json OpsAlertDetails(const incident::PageRequest& r, const PageText& t, bool with_action);

}  // namespace tocsin::notify
