#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tocsin/http/http_types.h"

namespace tocsin::http {

// Who may call a route. Declared where the route is registered, so no route exists without
// its guard.
enum class Access {
  kPublic,     // anyone: health, readiness, metrics
  kSigned,     // no API token at the guard: the handler verifies the provider's signature (Slack,
               // PagerDuty, Opsgenie) before anything changes
  kIntake,     // alert intake (Prometheus): a token of role intake, responder or admin; never
               // subject to the per-minute budget
  kViewer,     // reads: viewer, responder or admin
  kResponder,  // acts on incidents and silences: responder or admin
  kAdmin,      // reload and everything else: admin
};
std::string_view AccessName(Access a);

// Maps (method, path pattern) to handlers. Patterns are literal segments and "{name}"
// segments that match one path segment; a trailing "{name...}" matches the rest. The pattern
// string doubles as the `handler` label on HTTP metrics, so label cardinality stays bounded.
// Paths are matched as given: the server hands the router canonical paths only (see
// CanonicalPath), and a path with an empty segment matches no pattern.
// Not thread-safe: build it, then hand it to the server.
class Router {
 public:
  // Decides whether the caller may use a route that needs `access` (kIntake and stricter;
  // kPublic and kSigned routes never reach it). It sees the request's method, canonical path
  // and headers, never its body (the body is read only once the guard let the request in). It
  // may fill request.actor/role, or return a response that refuses the request, in which case
  // the handler never runs.
  using Guard = std::function<std::optional<Response>(Request&, Access)>;

  // Without a guard, every route stricter than kSigned is refused with 403: a forgotten guard
  // locks the API instead of opening it.
  explicit Router(Guard guard = {});

  // A kSigned route is added with AddSigned; Add and AddSync throw std::invalid_argument for it.
  void Add(std::string method, std::string pattern, Access access, Handler handler);
  void AddSync(std::string method, std::string pattern, Access access, SyncHandler handler);

  // A signed route's check of what arrives before its body: method, path, query and headers
  // (the body is empty when it runs). It answers a request that cannot pass whatever its body
  // holds (the provider is not configured, the signature or token field is missing or
  // malformed, a timestamp is stale), so that nobody without a provider's credentials makes the
  // server read a body; nullopt reads the body and runs the handler, which checks everything.
  using Screen = std::function<std::optional<Response>(const Request&)>;
  void AddSigned(std::string method, std::string pattern, Screen screen, Handler handler);

  struct RouteInfo {
    std::string method;
    std::string pattern;
    Access access = Access::kPublic;
  };
  // Every registered route, in registration order (for tests and docs).
  std::vector<RouteInfo> Routes() const;

  struct Match {
    const Handler* handler = nullptr;
    Access access = Access::kPublic;
    std::string pattern;             // "" when nothing matched
    const Screen* screen = nullptr;  // a signed route's; the router outlives the match
    bool method_not_allowed = false;
    std::vector<std::string> allowed_methods;
  };
  // Fills request.path_params on a match.
  Match Find(Request& request) const;

  // Runs the guard for a matched route: nullopt lets the request in. Clears request.actor and
  // request.role first, so only the guard's answer can set them.
  std::optional<Response> Authorize(Request& request, Access access) const;

 private:
  struct Route {
    std::string method;
    std::string pattern;
    Access access;
    std::vector<std::string> segments;
    Handler handler;
    Screen screen;
  };
  std::vector<Route> routes_;
  Guard guard_;
};

}  // namespace tocsin::http
