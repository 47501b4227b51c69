#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "tocsin/common/labels.h"
#include "tocsin/common/result.h"

namespace tocsin {

// The one set of field accessors for JSON that may not have the expected shape (request
// bodies, webhook payloads, stored rows, API answers read by the CLI). None of them throws.

// The member `key` of `j`, or a null value when `j` is not an object or has no such member.
// Use it instead of const operator[], which is undefined behaviour for a missing key.
const nlohmann::json& JsonMember(const nlohmann::json& j, std::string_view key);
// The string member `key` of `j`; "" when `j` is not an object, or the member is missing or
// not a string.
std::string JsonString(const nlohmann::json& j, std::string_view key);
// The same for a reader that says what is wrong, `what` naming the value ("a forwarded
// change"): kInvalid "`key` of <what> must be a string" for a member of another type, and
// "<what> needs `key`" for a missing one when `required` (else "").
Result<std::string> JsonStringField(const nlohmann::json& j, std::string_view key, bool required,
                                    std::string_view what);

// The one JSON form of a label set: an object of name to value, names in order.
nlohmann::json LabelsToJson(const Labels& labels);
// The labels of such an object: members whose value is not a string are left out, and
// anything other than an object reads as no labels.
Labels LabelsFromJson(const nlohmann::json& j);

}  // namespace tocsin
