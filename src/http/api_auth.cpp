#include "tocsin/http/api_auth.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cctype>

#include <nlohmann/json.hpp>

#include "tocsin/common/crypto.h"
#include "tocsin/common/json.h"
#include "tocsin/common/text.h"
#include "tocsin/config/yaml_reader.h"
#include "tocsin/http/signatures.h"

namespace tocsin::http {

std::string_view RoleName(Role r) {
  switch (r) {
    case Role::kViewer:
      return "viewer";
    case Role::kResponder:
      return "responder";
    case Role::kAdmin:
      return "admin";
    case Role::kIntake:
      return "intake";
  }
  return "viewer";
}

bool RoleAllows(Role role, Access access) {
  switch (access) {
    case Access::kPublic:
    case Access::kSigned:
      return true;
    case Access::kIntake:
      return role == Role::kIntake || role == Role::kResponder || role == Role::kAdmin;
    case Access::kViewer:
      return role == Role::kViewer || role == Role::kResponder || role == Role::kAdmin;
    case Access::kResponder:
      return role == Role::kResponder || role == Role::kAdmin;
    case Access::kAdmin:
      return role == Role::kAdmin;
  }
  return false;
}

ApiConfig LoadApiConfig(const config::Config& cfg, config::Diagnostics& diags) {
  ApiConfig out;
  auto it = cfg.sections.find("api");
  if (it == cfg.sections.end()) return out;
  config::MapReader r(cfg.file, it->second, diags, "api");
  if (!r.ok()) return out;
  r.Int("requests_per_minute", out.requests_per_minute, false, 1, 100000);
  r.Bool("allow_loopback_without_token", out.allow_loopback_without_token);
  config::ForEachMap(r, "tokens", "api.tokens", [&](config::MapReader& t, std::size_t) {
    ApiToken token;
    t.String("name", token.name, true);
    if (t.String("sha256", token.sha256, true)) {
      bool hex = token.sha256.size() == 64 &&
                 std::all_of(token.sha256.begin(), token.sha256.end(), [](char c) {
                   return std::isdigit(static_cast<unsigned char>(c)) || (c >= 'a' && c <= 'f');
                 });
      if (!hex) {
        t.Error("sha256",
                "expected 64 lowercase hex digits: the SHA-256 of the token, as "
                "printed by `tocsin api hash-token` (never the token itself)");
      }
    }
    std::string role = "viewer";
    if (t.Enum("role", role, {"viewer", "responder", "admin", "intake"}, true)) {
      token.role = role == "admin"       ? Role::kAdmin
                   : role == "responder" ? Role::kResponder
                   : role == "intake"    ? Role::kIntake
                                         : Role::kViewer;
    }
    t.String("person", token.person);
    t.Int("requests_per_minute", token.requests_per_minute, false, 1, 100000);
    for (const auto& other : out.tokens) {
      if (!token.name.empty() && other.name == token.name) {
        t.Error("name", "duplicate token name \"" + token.name + "\"");
      }
      if (!token.sha256.empty() && other.sha256 == token.sha256) {
        t.Error("sha256", "the same token is configured twice (also as \"" + other.name + "\")");
      }
    }
    out.tokens.push_back(std::move(token));
  });
  return out;
}

ApiAuthenticator::ApiAuthenticator(ApiConfig config, const Clock& clock)
    : config_(std::move(config)), clock_(clock) {}

void ApiAuthenticator::SetConfig(ApiConfig config) { config_ = std::move(config); }

std::string_view PeerAddress(std::string_view remote) {
  auto colon = remote.rfind(':');
  return colon == std::string_view::npos ? remote : remote.substr(0, colon);
}

bool IsLoopbackAddress(std::string_view a) {
  // Exact for ::1: a prefix test let "::100" (or "::1ab:...") pass as this host.
  return a.rfind("127.", 0) == 0 || a == "::1" || a.rfind("::ffff:127.", 0) == 0;
}

bool IsLoopbackHost(std::string_view field) {
  if (!field.empty() && field.front() == '[') {
    auto end = field.find(']');
    if (end == std::string_view::npos) return false;
    const std::string literal(field.substr(1, end - 1));
    in6_addr a6{};
    if (::inet_pton(AF_INET6, literal.c_str(), &a6) != 1) return false;
    return IN6_IS_ADDR_LOOPBACK(&a6) || (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
  }
  const std::string name = AsciiLower(std::string(field.substr(0, field.find(':'))));
  if (name == "localhost" || name == "localhost.") return true;
  in_addr a4{};  // dotted decimal only: "127.evil.example" is not one
  if (::inet_pton(AF_INET, name.c_str(), &a4) != 1) return false;
  return (ntohl(a4.s_addr) >> 24) == 127;
}

bool ApiAuthenticator::Take(const std::string& key, long long per_minute) {
  TimePoint now = clock_.Now();
  auto [it, inserted] = buckets_.try_emplace(key);
  Bucket& b = it->second;
  double capacity = static_cast<double>(per_minute);
  if (inserted) {
    b.tokens = capacity;
    b.refilled = now;
  } else {
    double minutes = std::chrono::duration<double, std::ratio<60>>(now - b.refilled).count();
    b.tokens = std::min(capacity, b.tokens + minutes * capacity);
    b.refilled = now;
  }
  if (b.tokens < 1.0) return false;
  b.tokens -= 1.0;
  return true;
}

Result<Principal> ApiAuthenticator::Authenticate(const Request& request, Access needed) {
  auto header = request.Header("Authorization");
  std::string_view remote = request.remote_address;
  // Alert intake has no per-minute budget: Prometheus posts as fast as its alerts change, and
  // backpressure there is the dispatcher's bounded queue, not a 429 meant for people.
  const bool budgeted = needed != Access::kIntake;
  if (!header) {
    if (config_.tokens.empty() && config_.allow_loopback_without_token &&
        IsLoopbackAddress(PeerAddress(remote))) {
      // A browser on this host sends the name it asked for: a page of another site whose name
      // resolves to 127.0.0.1 (DNS rebinding) names its own site. HTTP/1.0 may send none.
      if (auto host = request.Header("Host"); host && !IsLoopbackHost(*host)) {
        return Fail(Error::Unauthorized(
            "a request from this host without a token must name it by a loopback name "
            "(localhost, 127.0.0.1, [::1]), not \"" +
            std::string(*host) + "\"; use one, or configure API tokens"));
      }
      if (budgeted && !Take("loopback", config_.requests_per_minute)) {
        return Fail(Error::Transient("rate limit exceeded"));
      }
      return Principal{kLoopbackPrincipal, "api:loopback", Role::kAdmin};
    }
    return Fail(Error::Unauthorized("missing bearer token (Authorization: Bearer <token>)"));
  }
  std::string_view h = *header;
  // The scheme is case-insensitive (RFC 9110, 11.1): "bearer" is Bearer.
  if (h.size() <= 7 || AsciiLower(std::string(h.substr(0, 7))) != "bearer ") {
    return Fail(Error::Unauthorized("expected Authorization: Bearer <token>"));
  }
  std::string hash = Sha256Hex(h.substr(7));
  const ApiToken* found = nullptr;
  for (const auto& t : config_.tokens) {
    // Compare every configured hash, matching or not: timing says nothing about which.
    if (ConstantTimeEquals(t.sha256, hash) && found == nullptr) found = &t;
  }
  if (found == nullptr) return Fail(Error::Unauthorized("unknown token"));
  long long limit =
      found->requests_per_minute > 0 ? found->requests_per_minute : config_.requests_per_minute;
  if (budgeted && !Take("token:" + found->name, limit)) {
    return Fail(Error::Transient("rate limit exceeded for token \"" + found->name + "\""));
  }
  if (!RoleAllows(found->role, needed)) {
    return Fail(Error::Permanent("token \"" + found->name + "\" has role " +
                                 std::string(RoleName(found->role)) + "; this call needs " +
                                 std::string(AccessName(needed))));
  }
  Principal p;
  p.name = found->name;
  p.actor = found->person.empty() ? "token:" + found->name : found->person;
  p.role = found->role;
  return p;
}

Response ApiAuthenticator::ErrorResponse(const Error& e) {
  int status = 403;
  if (e.kind() == Error::Kind::kUnauthorized) status = 401;
  if (e.kind() == Error::Kind::kTransient) status = 429;
  Response r = Response::Json(status, DumpJson(nlohmann::json{{"error", e.message()}}));
  if (status == 401) r.headers["WWW-Authenticate"] = "Bearer realm=\"tocsin\"";
  if (status == 429) r.headers["Retry-After"] = "60";
  return r;
}

Router::Guard MakeApiGuard(ApiAuthenticator& auth) {
  return [&auth](Request& request, Access needed) -> std::optional<Response> {
    auto principal = auth.Authenticate(request, needed);
    if (!principal) return ApiAuthenticator::ErrorResponse(principal.error());
    request.role = std::string(RoleName(principal->role));
    // Whatever the request carried in these fields, the guard's answer replaces it.
    request.actor = principal->name == kLoopbackPrincipal ? std::string() : principal->actor;
    return std::nullopt;
  };
}

}  // namespace tocsin::http
