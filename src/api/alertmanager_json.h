#pragma once

// Pieces of the Alertmanager API v2 answers shared by the handlers in alertmanager_api.cpp
// and alertmanager_groups.cpp. Private to the api module.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "tocsin/dispatch/dispatcher.h"
#include "tocsin/dispatch/matcher.h"
#include "tocsin/dispatch/silence.h"
#include "tocsin/dispatch/stored_alert.h"
#include "tocsin/http/http_types.h"

namespace re2 {
class RE2;
}

namespace tocsin::dispatch::amjson {

// `s` as a JSON string literal, appended to `out`.
void AppendEscaped(std::string& out, std::string_view s);

// One GettableAlert object, appended to `out` (hand-written for speed, see the .cpp).
// `open_end`: the endsAt of an alert that has none (tocsin's own, firing until its rule
// resolves it); an Alertmanager client reads an endsAt in the past as resolved.
void AppendGettableAlert(std::string& out, std::uint64_t fingerprint, const StoredAlert& alert,
                         const std::vector<std::string>& receivers, const MuteStatus& status,
                         TimePoint open_end);
// open_end for a listing at `now`: now + resolve_timeout, what Alertmanager gives a pushed
// alert without an endsAt.
TimePoint OpenEnd(const Dispatcher& dispatcher, TimePoint now);

// The query parameters GET /api/v2/alerts and /api/v2/alerts/groups share, parsed once.
struct AlertQuery {
  Matchers filter;
  bool active = true;
  bool silenced = true;
  bool inhibited = true;
  // `receiver=` as an anchored regex; none when not given or given empty (Alertmanager's
  // API binds an empty query value as absent).
  std::optional<std::string> receiver_regex;
};
// Fails with the message for a 400.
Result<AlertQuery> ParseAlertQuery(const http::Request& req);
// The compiled receiver filter (null: none), or the message for a 400.
Result<std::unique_ptr<re2::RE2>> ReceiverFilter(const AlertQuery& q);
// Whether an alert with this mute status passes the active/silenced/inhibited switches.
bool PassesStateFilter(const AlertQuery& q, const MuteStatus& status);

// The label matchers of every `filter` query parameter.
Result<Matchers> FilterParams(const http::Request& req);

http::Response JsonError(int status, std::string_view message);

// Whether GET /api/v2/silences lists `s` under `filter`.
bool SilenceMatchesFilter(const Silence& s, const Matchers& filter);
// Matchers as a silence carries them: [{name, value, isRegex, isEqual}].
nlohmann::json MatchersJson(const Matchers& matchers);
// One GettableSilence object as JSON text.
std::string SilenceJsonText(const Silence& s, TimePoint now);
// The author a silence is stored with: `created_by` as the client wrote it, followed by
// " (via ACTOR)" when the token that posted it (`actor`: its person, or "token:NAME") is not
// that author; the actor alone when the client named none; unchanged without a token.
std::string SilenceAuthor(const std::string& created_by, const std::string& actor);
// Alertmanager's order for GET /api/v2/silences (api/v2 SortSilences): active first, the
// next to end first; then pending, the next to start first; then expired, the most
// recently ended first.
void SortSilences(std::vector<Silence>& silences, TimePoint now);

// GET /api/v2/alerts/groups.
http::Response AlertGroupsAnswer(const Dispatcher& dispatcher, const http::Request& req,
                                 TimePoint now);

}  // namespace tocsin::dispatch::amjson
