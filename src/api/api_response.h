#pragma once

// JSON answers shared by the API's v1 handlers: one mapping from Error kinds to HTTP statuses.
#include <nlohmann/json.hpp>

#include "tocsin/common/result.h"
#include "tocsin/http/http_types.h"

namespace tocsin::api {

http::Response JsonResponse(int status, const nlohmann::json& body);
// The statuses that differ between callers: the API answers kUnauthorized (a token that may
// not do this) with 403; the panel answers it with 401 (sign in again) and kPermanent with 403.
struct ErrorStatuses {
  int unauthorized = 403;
  int permanent = 500;
};
// 400 invalid, 404 not found, `unauthorized`, 409 conflict, 503 transient, `permanent`, else
// 500; the body is {"error": message}.
http::Response ErrorResponse(const Error& e, ErrorStatuses statuses = {});
// The request's body as a JSON object ({} when empty); kInvalid when it is anything else.
Result<nlohmann::json> ParseBody(const http::Request& r);
// Reads an integer query parameter within [lo, hi]; `fallback` when absent or empty.
Result<int> IntQuery(const http::Request& r, std::string_view name, int fallback, int lo, int hi);

}  // namespace tocsin::api
