#pragma once

// JSON answers shared by the API's v1 handlers: one mapping from Error kinds to HTTP statuses.
#include <nlohmann/json.hpp>

#include "tocsin/common/result.h"
#include "tocsin/http/http_types.h"

namespace tocsin::api {

http::Response JsonResponse(int status, const nlohmann::json& body);
// 400 invalid, 404 not found, 403 unauthorized, 409 conflict, 503 transient, else 500;
// the body is {"error": message}.
http::Response ErrorResponse(const Error& e);
// The request's body as a JSON object ({} when empty); kInvalid when it is anything else.
Result<nlohmann::json> ParseBody(const http::Request& r);
// Reads an integer query parameter within [lo, hi]; `fallback` when absent or empty.
Result<int> IntQuery(const http::Request& r, std::string_view name, int fallback, int lo, int hi);

}  // namespace tocsin::api
