#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "tocsin/http/http_types.h"

namespace tocsin::http {

// Maps (method, path pattern) to handlers. Patterns are literal segments and "{name}"
// segments that match one path segment; a trailing "{name...}" matches the rest. The pattern
// string doubles as the `handler` label on HTTP metrics, so label cardinality stays bounded.
// Not thread-safe: build it, then hand it to the server.
class Router {
 public:
  void Add(std::string method, std::string pattern, Handler handler);
  void AddSync(std::string method, std::string pattern, SyncHandler handler);

  // Runs before every handler whose path starts with `prefix` (the longest matching prefix
  // wins). It may fill request.actor/role, or return a response that refuses the request, in
  // which case the handler never runs. Used for API authentication.
  using Guard = std::function<std::optional<Response>(Request&)>;
  void AddGuard(std::string prefix, Guard guard);

  struct Match {
    const Handler* handler = nullptr;
    const Guard* guard = nullptr;
    std::string pattern;  // "" when nothing matched
    bool method_not_allowed = false;
    std::vector<std::string> allowed_methods;
  };
  // Fills request.path_params on a match.
  Match Find(Request& request) const;

 private:
  struct Route {
    std::string method;
    std::string pattern;
    std::vector<std::string> segments;
    Handler handler;
  };
  std::vector<Route> routes_;
  std::vector<std::pair<std::string, Guard>> guards_;
};

}  // namespace tocsin::http
