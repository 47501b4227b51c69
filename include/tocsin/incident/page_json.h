#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "tocsin/common/result.h"
#include "tocsin/incident/page.h"

namespace tocsin::incident {

// The one stored form of a PageRequest, used by every table that queues pages (the outbox's
// rows, the incident store's page intents), so that a restart re-renders exactly what was
// asked. Every enum is written by name, never by position: reordering an enum cannot change
// what a stored row means. Times are unix milliseconds (lossless: TimePoint is milliseconds).
//
// Versions read:
//   2  this form ({"v": 2, ...}), the only one written;
//   1  the outbox's first form: action, sev, channels and alert enums as integers, times in ms;
//   -  (no "v") the incident store's first form: names, "sev" an integer, times RFC 3339.
// Round-trips every field: PageRequestFromText(PageRequestToText(r)) == r.
inline constexpr int kPageJsonVersion = 2;
nlohmann::json PageRequestToJson(const PageRequest& request);

// The same as text, for a database column. Invalid UTF-8 in a label is replaced, never thrown
// on: a stray byte must not lose a page. A row that is not JSON, or not a page, is an error
// saying what is wrong with it (a required member missing, or a member of the wrong type, by
// name).
std::string PageRequestToText(const PageRequest& request);
Result<PageRequest> PageRequestFromText(const std::string& text);

}  // namespace tocsin::incident
