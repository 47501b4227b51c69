#pragma once

#include <string_view>

#include <nlohmann/json.hpp>

#include "tocsin/common/result.h"

namespace tocsin {

// The deepest nesting of objects and arrays ParseJson accepts by default. Real payloads
// (alerts, incidents, silences, Slack and provider webhooks) nest a few levels; the limit keeps
// hostile input from exhausting the stack in any code that walks or prints a value
// recursively.
inline constexpr int kMaxJsonDepth = 64;

// The one parser for untrusted JSON (request bodies, webhook payloads). Malformed JSON and
// nesting deeper than `max_depth` are kInvalid, with the byte offset where parsing stopped;
// the depth is enforced while parsing, so no deeper value is ever built. Never throws.
Result<nlohmann::json> ParseJson(std::string_view text, int max_depth = kMaxJsonDepth);

// The one writer of JSON text (answers, stored rows, provider requests, logs, CLI output): a
// string that is not UTF-8 (a stored row written before input was checked, a header echoed in
// an error) has each bad byte replaced by U+FFFD instead of throwing, as plain dump() does.
// `indent` >= 0 pretty-prints with that many spaces. Never throws; scripts/check-source-rules
// refuses dump() elsewhere in src/.
std::string DumpJson(const nlohmann::json& j, int indent = -1);

}  // namespace tocsin
