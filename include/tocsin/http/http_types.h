#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tocsin/common/result.h"
#include "tocsin/common/url.h"

namespace tocsin::http {

// Header names compare case-insensitively.
struct CaseInsensitiveLess {
  bool operator()(std::string_view a, std::string_view b) const;
  using is_transparent = void;
};
using Headers = std::map<std::string, std::string, CaseInsensitiveLess>;

// An inbound request, already read whole and within the configured limits. Plain value: no
// Beast types leak out of the server's translation unit.
struct Request {
  std::string method;  // "GET", "POST", ...
  std::string target;  // raw target, "/api/v1/incidents?state=open"
  std::string path;    // canonical decoded path without the query (see CanonicalPath)
  std::vector<std::pair<std::string, std::string>> query;  // decoded, in order
  Headers headers;
  std::string body;
  std::string remote_address;
  // Filled by the router from "{name}" segments of the matched pattern.
  std::map<std::string, std::string> path_params;
  // Set by a route guard that authenticated the caller: who acts (for timelines) and the
  // caller's role name. Empty when no guard applies.
  std::string actor;
  std::string role;

  std::optional<std::string> Query(std::string_view name) const;
  std::vector<std::string> QueryAll(std::string_view name) const;
  std::optional<std::string> Header(std::string_view name) const;
  std::string PathParam(const std::string& name) const;
};

struct Response {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  Headers headers;

  static Response Text(int status, std::string body);
  static Response Json(int status, std::string body);
};

// Handlers answer through `respond`, exactly once, possibly later (after off-loop work).
// They run on the event-loop thread; `respond` must be called on it too. A handler may take
// the request's body (std::move(req.body)): nothing reads the request after the handler.
using Respond = std::function<void(Response)>;
using Handler = std::function<void(Request&, Respond)>;
// Convenience for handlers that answer at once.
using SyncHandler = std::function<Response(const Request&)>;

// The one canonical form of a request path, computed once by the server before any route or
// guard sees it. `raw_path` is the target up to '?'. It must start with '/' and is refused
// (kInvalid, answered 400) when it has an empty segment ("//x", "/a//b", or a trailing '/'
// other than the root "/"), a "." or ".." segment (also encoded: "%2e", ".%2E"), an encoded
// '/' or '\' ("%2F", "%5C"), a raw '\', a control byte, or a malformed %-escape. Nothing is
// collapsed or rewritten silently: a path is either canonical as sent (after decoding) or
// refused, so what the router matches is what the guard checks. The error message says which
// rule the path broke.
Result<std::string> CanonicalPath(std::string_view raw_path);

// The `method` label of HTTP metrics: a method from RFC 9110 (and PATCH) as sent, anything
// else "other", so invented methods cannot grow /metrics.
std::string_view MethodLabel(std::string_view method);

using tocsin::PercentDecode;  // common/url.h: for paths and form/query components
std::vector<std::pair<std::string, std::string>> ParseFormEncoded(std::string_view body);

}  // namespace tocsin::http
