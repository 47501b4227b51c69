#pragma once

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

  struct Match {
    const Handler* handler = nullptr;
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
};

}  // namespace tocsin::http
