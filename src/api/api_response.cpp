#include "api_response.h"

#include <charconv>

#include <fmt/format.h>

#include "tocsin/common/json.h"

namespace tocsin::api {

using nlohmann::json;

http::Response JsonResponse(int status, const json& body) {
  return http::Response::Json(status, DumpJson(body) + "\n");
}

http::Response ErrorResponse(const Error& e, ErrorStatuses statuses) {
  int status = 500;
  switch (e.kind()) {
    case Error::Kind::kInvalid:
      status = 400;
      break;
    case Error::Kind::kNotFound:
      status = 404;
      break;
    case Error::Kind::kUnauthorized:
      status = statuses.unauthorized;
      break;
    case Error::Kind::kPermanent:
      status = statuses.permanent;
      break;
    case Error::Kind::kConflict:
      status = 409;
      break;
    case Error::Kind::kTransient:
      status = 503;
      break;
    default:
      break;
  }
  return JsonResponse(status, json{{"error", e.message()}});
}

Result<json> ParseBody(const http::Request& r) {
  if (r.body.empty()) return json::object();
  auto j = ParseJson(r.body);
  if (!j) return Fail(Error::Invalid("the body must be a JSON object: " + j.error().message()));
  if (!j->is_object()) return Fail(Error::Invalid("the body must be a JSON object"));
  return j;
}

Result<int> IntQuery(const http::Request& r, std::string_view name, int fallback, int lo, int hi) {
  auto text = r.Query(name);
  if (!text || text->empty()) return fallback;
  int v = 0;
  auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), v);
  if (ec != std::errc{} || end != text->data() + text->size() || v < lo || v > hi) {
    return Fail(
        Error::Invalid(fmt::format("{}: expected a whole number from {} to {}", name, lo, hi)));
  }
  return v;
}

}  // namespace tocsin::api
