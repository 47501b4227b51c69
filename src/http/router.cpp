#include "tocsin/http/router.h"

#include <algorithm>

namespace tocsin::http {

namespace {
std::vector<std::string> Split(std::string_view path) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '/') {
      ++i;
      continue;
    }
    auto j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    out.emplace_back(path.substr(i, j - i));
    i = j;
  }
  return out;
}

bool IsParam(const std::string& s) { return s.size() > 2 && s.front() == '{' && s.back() == '}'; }
}  // namespace

void Router::Add(std::string method, std::string pattern, Handler handler) {
  Route r{std::move(method), pattern, Split(pattern), std::move(handler)};
  routes_.push_back(std::move(r));
}

void Router::AddSync(std::string method, std::string pattern, SyncHandler handler) {
  Add(std::move(method), std::move(pattern),
      [h = std::move(handler)](const Request& req, Respond respond) { respond(h(req)); });
}

void Router::AddGuard(std::string prefix, Guard guard) {
  guards_.emplace_back(std::move(prefix), std::move(guard));
}

Router::Match Router::Find(Request& request) const {
  Match match;
  auto segments = Split(request.path);
  for (const auto& route : routes_) {
    std::map<std::string, std::string> params;
    bool ok = true;
    std::size_t i = 0;
    for (; i < route.segments.size(); ++i) {
      const auto& seg = route.segments[i];
      bool rest = IsParam(seg) && seg.size() > 5 && seg.compare(seg.size() - 4, 4, "...}") == 0;
      if (rest) {
        std::string joined;
        for (std::size_t k = i; k < segments.size(); ++k) {
          if (!joined.empty()) joined += '/';
          joined += segments[k];
        }
        params[seg.substr(1, seg.size() - 5)] = joined;
        i = segments.size();
        break;
      }
      if (i >= segments.size()) {
        ok = false;
        break;
      }
      if (IsParam(seg)) {
        params[seg.substr(1, seg.size() - 2)] = segments[i];
      } else if (seg != segments[i]) {
        ok = false;
        break;
      }
    }
    if (!ok || i != segments.size()) continue;
    if (route.method != request.method && !(route.method == "GET" && request.method == "HEAD")) {
      match.method_not_allowed = true;
      match.allowed_methods.push_back(route.method);
      continue;
    }
    match.handler = &route.handler;
    match.pattern = route.pattern;
    std::size_t best = 0;
    for (const auto& [prefix, guard] : guards_) {
      if (request.path.compare(0, prefix.size(), prefix) == 0 && prefix.size() >= best) {
        best = prefix.size();
        match.guard = &guard;
      }
    }
    match.method_not_allowed = false;
    request.path_params = std::move(params);
    return match;
  }
  return match;
}

}  // namespace tocsin::http
