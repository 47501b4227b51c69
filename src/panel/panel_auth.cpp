#include "tocsin/panel/panel_auth.h"

#include <algorithm>

#include <fmt/format.h>

#include "tocsin/common/crypto.h"

namespace tocsin::panel {

std::string_view ViaName(Identity::Via v) {
  switch (v) {
    case Identity::Via::kSession:
      return "session";
    case Identity::Via::kProxy:
      return "proxy";
    case Identity::Via::kLoopback:
      return "loopback";
  }
  return "session";
}

namespace {

std::optional<http::Role> ParseRole(std::string_view s) {
  if (s == "viewer") return http::Role::kViewer;
  if (s == "responder") return http::Role::kResponder;
  if (s == "admin") return http::Role::kAdmin;
  return std::nullopt;
}

}  // namespace

PanelAuth::PanelAuth(PanelConfig config, http::ApiConfig api, http::ApiAuthenticator& api_auth,
                     const Clock& clock)
    : config_(std::move(config)),
      api_(std::move(api)),
      api_auth_(api_auth),
      clock_(clock),
      secret_(RandomHex(32)) {}

void PanelAuth::SetConfig(PanelConfig config, http::ApiConfig api) {
  config_ = std::move(config);
  api_ = std::move(api);
}

bool PanelAuth::FromTrustedProxy(const http::Request& request) const {
  std::string addr(http::PeerAddress(request.remote_address));
  return std::find(config_.trusted_proxies.begin(), config_.trusted_proxies.end(), addr) !=
         config_.trusted_proxies.end();
}

bool PanelAuth::Secure(const http::Request& request) const {
  return FromTrustedProxy(request) && request.Header(config_.proto_header).value_or("") == "https";
}

bool PanelAuth::LoopbackTrusted(const http::Request& request) const {
  if (!api_.tokens.empty() || !api_.allow_loopback_without_token) return false;
  // A proxy on this host forwards other people's requests: its address proves nothing.
  if (FromTrustedProxy(request)) return false;
  if (!http::IsLoopbackAddress(http::PeerAddress(request.remote_address))) return false;
  // A page of another site whose name resolves to 127.0.0.1 (DNS rebinding) sends its own
  // name as Host: only a browser that asked for this host by a loopback name is let in.
  return http::IsLoopbackHost(request.Header("Host").value_or(""));
}

std::optional<std::string> PanelAuth::CookieValue(const http::Request& request) const {
  auto header = request.Header("Cookie");
  if (!header) return std::nullopt;
  std::string_view h = *header;
  const std::string want = std::string(kSessionCookie) + "=";
  while (!h.empty()) {
    auto semi = h.find(';');
    std::string_view part = h.substr(0, semi);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    if (part.rfind(want, 0) == 0) return std::string(part.substr(want.size()));
    if (semi == std::string_view::npos) break;
    h.remove_prefix(semi + 1);
  }
  return std::nullopt;
}

Result<Identity> PanelAuth::Identify(const http::Request& request) {
  const bool proxied = FromTrustedProxy(request);
  if (proxied) {
    if (auto user = request.Header(config_.user_header); user && !user->empty()) {
      Identity who{Identity::Via::kProxy, *user, *user, config_.proxy_role, "", Secure(request)};
      if (!config_.role_header.empty()) {
        if (auto r = ParseRole(request.Header(config_.role_header).value_or(""))) who.role = *r;
      }
      who.csrf = HmacSha256Hex(secret_, "proxy\n" + who.actor);
      return who;
    }
  }
  if (auto cookie = CookieValue(request)) {
    auto it = sessions_.find(Sha256Hex(*cookie));
    if (it != sessions_.end()) {
      Session& s = it->second;
      bool valid = clock_.Now() < s.expires;
      if (valid && !s.token_sha256.empty()) {
        // The token's current entry decides: removed ends the session, a new role applies now.
        auto t = std::find_if(api_.tokens.begin(), api_.tokens.end(),
                              [&](const http::ApiToken& x) { return x.sha256 == s.token_sha256; });
        valid = t != api_.tokens.end() && t->role != http::Role::kIntake;
        if (valid) {
          s.identity.role = t->role;
          s.identity.actor = t->person.empty() ? "token:" + t->name : t->person;
        }
      }
      if (valid && s.token_sha256.empty() && !LoopbackTrusted(request)) valid = false;
      if (valid) return s.identity;
      sessions_.erase(it);
    }
  }
  if (LoopbackTrusted(request)) {
    Identity who{Identity::Via::kLoopback, "", http::kLoopbackPrincipal,
                 http::Role::kAdmin,       "", false};
    who.csrf = HmacSha256Hex(secret_, "loopback");
    return who;
  }
  return Fail(Error::Unauthorized("sign in with an API token (docs/panel.md)"));
}

Result<void> PanelAuth::CheckAction(const http::Request& request, const Identity& who) const {
  auto csrf = request.Header(kCsrfHeader);
  if (!csrf || !ConstantTimeEquals(*csrf, who.csrf)) {
    return Fail(Error::Permanent(
        "missing or wrong X-Tocsin-CSRF header: reload the page (actions come from the panel "
        "itself)"));
  }
  return CheckSameOrigin(request);
}

Result<void> PanelAuth::CheckSameOrigin(const http::Request& request) const {
  auto origin = request.Header("Origin");
  if (!origin) return Fail(Error::Permanent("missing Origin header: actions come from a browser"));
  auto scheme_end = origin->find("://");
  std::string origin_host =
      scheme_end == std::string::npos ? std::string() : origin->substr(scheme_end + 3);
  std::string host = request.Header("Host").value_or("");
  if (FromTrustedProxy(request)) {
    if (auto fwd = request.Header("X-Forwarded-Host"); fwd && !fwd->empty()) host = *fwd;
  }
  if (origin_host.empty() || origin_host != host) {
    return Fail(Error::Permanent(fmt::format(
        "Origin {} is not this panel's ({}): actions are accepted from the panel's own pages",
        *origin, host)));
  }
  return {};
}

std::string PanelAuth::Cookie(const std::string& value, Duration max_age, bool secure) const {
  return fmt::format("{}={}; Path={}/; Max-Age={}; HttpOnly; SameSite=Strict{}", kSessionCookie,
                     value, config_.path_prefix,
                     std::chrono::duration_cast<std::chrono::seconds>(max_age).count(),
                     secure ? "; Secure" : "");
}

PanelAuth::SignedIn PanelAuth::NewSession(const http::Request& request, Identity identity,
                                          std::string token_sha256) {
  const TimePoint now = clock_.Now();
  // One token signing in again and again filled the table, and the full table then ended
  // other people's sessions: a token holder could sign everyone out.
  auto same_owner = [&](const Session& s) {
    return s.token_sha256 == token_sha256 &&
           (!token_sha256.empty() || s.identity.actor == identity.actor);
  };
  std::size_t owned = 0;
  auto owners_oldest = sessions_.end();
  for (auto it = sessions_.begin(); it != sessions_.end(); ++it) {
    if (!same_owner(it->second)) continue;
    ++owned;
    if (owners_oldest == sessions_.end() || it->second.expires < owners_oldest->second.expires) {
      owners_oldest = it;
    }
  }
  if (owned >= kMaxSessionsPerOwner) sessions_.erase(owners_oldest);
  if (sessions_.size() >= kMaxSessions) {
    // Full: the expired go first, then the one closest to expiry.
    std::erase_if(sessions_, [now](const auto& kv) { return kv.second.expires <= now; });
    if (sessions_.size() >= kMaxSessions) {
      auto oldest = std::min_element(sessions_.begin(), sessions_.end(), [](auto& a, auto& b) {
        return a.second.expires < b.second.expires;
      });
      sessions_.erase(oldest);
    }
  }
  std::string value = RandomHex(32);
  identity.via = Identity::Via::kSession;
  identity.csrf = RandomHex(32);
  identity.secure = Secure(request);
  Session s{identity, std::move(token_sha256), now + config_.session_ttl};
  sessions_[Sha256Hex(value)] = s;
  return {identity, Cookie(value, config_.session_ttl, identity.secure)};
}

Result<PanelAuth::SignedIn> PanelAuth::SignInWithToken(const http::Request& request,
                                                       const std::string& token) {
  if (token.empty()) return Fail(Error::Invalid("give the API token to sign in with"));
  http::Request probe;
  probe.remote_address = request.remote_address;
  probe.headers["Authorization"] = "Bearer " + token;
  auto principal = api_auth_.Authenticate(probe, http::Access::kViewer);
  if (!principal) return Fail(principal.error());
  std::string sha = Sha256Hex(token);
  Identity who{
      Identity::Via::kSession, principal->actor, principal->name, principal->role, "", false};
  return NewSession(request, std::move(who), std::move(sha));
}

Result<PanelAuth::SignedIn> PanelAuth::SignInAsLoopback(const http::Request& request,
                                                        const std::string& person) {
  if (!LoopbackTrusted(request)) {
    return Fail(Error::Unauthorized(
        "naming yourself works only from this host while no API token is configured; sign in "
        "with an API token"));
  }
  if (person.empty()) return Fail(Error::Invalid("give your roster person id"));
  Identity who{Identity::Via::kSession, person, person, http::Role::kAdmin, "", false};
  return NewSession(request, std::move(who), "");
}

std::string PanelAuth::SignOut(const http::Request& request) {
  if (auto cookie = CookieValue(request)) sessions_.erase(Sha256Hex(*cookie));
  return Cookie("", Duration(0), Secure(request));
}

}  // namespace tocsin::panel
