#include "tocsin/http/router.h"

#include <algorithm>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "tocsin/common/json.h"

namespace tocsin::http {

std::string_view AccessName(Access a) {
  switch (a) {
    case Access::kPublic:
      return "public";
    case Access::kSigned:
      return "signed";
    case Access::kIntake:
      return "intake";
    case Access::kViewer:
      return "viewer";
    case Access::kResponder:
      return "responder";
    case Access::kAdmin:
      return "admin";
  }
  return "admin";
}

namespace {
// "/a/b" -> {"a", "b"}. Empty segments are kept ("/a//b" -> {"a", "", "b"}), so a path that
// is not canonical can never match a pattern by accident.
std::vector<std::string> Split(std::string_view path) {
  std::vector<std::string> out;
  if (path.empty() || path.front() != '/') return {"\x01"};  // matches nothing
  std::size_t i = 1;
  for (;;) {
    auto j = path.find('/', i);
    if (j == std::string_view::npos) {
      out.emplace_back(path.substr(i));
      return out;
    }
    out.emplace_back(path.substr(i, j - i));
    i = j + 1;
  }
}

bool IsParam(const std::string& s) { return s.size() > 2 && s.front() == '{' && s.back() == '}'; }
}  // namespace

Router::Router(Guard guard) : guard_(std::move(guard)) {}

void Router::Add(std::string method, std::string pattern, Access access, Handler handler) {
  if (access == Access::kSigned) {
    throw std::invalid_argument("route " + method + " " + pattern +
                                " is signed: add it with AddSigned and its screen");
  }
  Route r{std::move(method), pattern, access, Split(pattern), std::move(handler), {}};
  routes_.push_back(std::move(r));
}

void Router::AddSigned(std::string method, std::string pattern, Screen screen, Handler handler) {
  if (!screen) {
    throw std::invalid_argument("signed route " + method + " " + pattern + " needs a screen");
  }
  Route r{std::move(method),  pattern,          Access::kSigned, Split(pattern),
          std::move(handler), std::move(screen)};
  routes_.push_back(std::move(r));
}

void Router::AddSync(std::string method, std::string pattern, Access access, SyncHandler handler) {
  Add(std::move(method), std::move(pattern), access,
      [h = std::move(handler)](const Request& req, Respond respond) { respond(h(req)); });
}

std::vector<Router::RouteInfo> Router::Routes() const {
  std::vector<RouteInfo> out;
  out.reserve(routes_.size());
  for (const auto& r : routes_) out.push_back({r.method, r.pattern, r.access});
  return out;
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
          if (k > i) joined += '/';
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
        if (segments[i].empty()) {
          ok = false;
          break;
        }
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
      if (route.method == "GET") match.allowed_methods.push_back("HEAD");  // served as GET
      continue;
    }
    match.handler = &route.handler;
    match.access = route.access;
    match.pattern = route.pattern;
    match.screen = route.screen ? &route.screen : nullptr;
    match.method_not_allowed = false;
    request.path_params = std::move(params);
    return match;
  }
  return match;
}

std::optional<Response> Router::Authorize(Request& request, Access access) const {
  request.actor.clear();
  request.role.clear();
  if (access == Access::kPublic || access == Access::kSigned) return std::nullopt;
  if (!guard_) {
    Response r = Response::Json(
        403, DumpJson(nlohmann::json{{"error", "this route needs role " +
                                                   std::string(AccessName(access)) +
                                                   " and no API guard is configured"}}));
    return r;
  }
  return guard_(request, access);
}

}  // namespace tocsin::http
