#pragma once

#include <map>
#include <optional>
#include <string>

#include "tocsin/common/clock.h"
#include "tocsin/common/result.h"
#include "tocsin/http/api_auth.h"
#include "tocsin/http/http_types.h"
#include "tocsin/panel/panel_config.h"

namespace tocsin::panel {

// Who is looking at the panel, and how they proved it.
struct Identity {
  enum class Via { kSession, kProxy, kLoopback };
  Via via = Via::kSession;
  std::string actor;  // roster person id (timelines); empty for loopback without a name
  std::string name;   // token name, proxy user or "loopback", for the page header
  http::Role role = http::Role::kViewer;
  std::string csrf;     // what the page must send in X-Tocsin-CSRF with every action
  bool secure = false;  // reached over TLS (a trusted proxy said so)
};
std::string_view ViaName(Identity::Via v);

inline constexpr const char* kSessionCookie = "tocsin_session";
inline constexpr const char* kCsrfHeader = "X-Tocsin-CSRF";

// Sign-in and sessions of the panel (docs/panel.md, "Signing in"):
// - a browser signs in with an API token (POST /session): the token is checked like the API
//   checks it and exchanged for a random session id in an HttpOnly, SameSite=Strict cookie
//   (Secure when the browser reached us over TLS); the session keeps the token's SHA-256, so
//   removing the token from the config (and reloading) ends its sessions;
// - a request from a configured trusted proxy carrying the user header is that user;
// - with no API token configured and allow_loopback_without_token on, a browser on this host
//   (loopback address and a loopback Host header, so a DNS-rebinding page cannot) sees the
//   panel without signing in, and may name itself (a roster person) to act.
// CSRF: every request that is not GET or HEAD must carry the identity's CSRF token in
// X-Tocsin-CSRF and an Origin header naming this host (CheckAction). Sessions live in memory:
// a restart signs everyone out. Thread-safety: loop thread only.
class PanelAuth {
 public:
  // `api_auth` checks tokens at sign-in (with its per-token rate limit); it must outlive this.
  PanelAuth(PanelConfig config, http::ApiConfig api, http::ApiAuthenticator& api_auth,
            const Clock& clock);
  void SetConfig(PanelConfig config, http::ApiConfig api);  // reload

  // The caller's identity, or kUnauthorized saying how to sign in.
  Result<Identity> Identify(const http::Request& request);
  // Origin and CSRF check for a request that changes something; kPermanent (403) saying which.
  Result<void> CheckAction(const http::Request& request, const Identity& who) const;
  // The Origin header names this panel's host (X-Forwarded-Host when a trusted proxy sends
  // it); kPermanent (403) otherwise. Part of CheckAction, and alone for sign-in, which has no
  // CSRF token yet (a login CSRF would sign the victim in as the attacker).
  Result<void> CheckSameOrigin(const http::Request& request) const;

  struct SignedIn {
    Identity identity;
    std::string set_cookie;  // the Set-Cookie header value
  };
  // Exchanges an API token for a session; kUnauthorized for an unknown token.
  Result<SignedIn> SignInWithToken(const http::Request& request, const std::string& token);
  // A loopback browser (see above) naming itself: a session acting as `person`.
  Result<SignedIn> SignInAsLoopback(const http::Request& request, const std::string& person);
  // Ends the request's session (the cookie no longer works, even replayed); returns the
  // Set-Cookie value that clears it.
  std::string SignOut(const http::Request& request);

  bool LoopbackTrusted(const http::Request& request) const;
  std::size_t session_count() const { return sessions_.size(); }
  static constexpr std::size_t kMaxSessions = 10000;
  // Sessions one token (or one person naming itself on this host) holds at once; its next
  // sign-in ends its own session closest to expiry, never someone else's.
  static constexpr std::size_t kMaxSessionsPerOwner = 100;

 private:
  struct Session {
    Identity identity;
    std::string token_sha256;  // empty for a loopback session
    TimePoint expires{};
  };
  bool FromTrustedProxy(const http::Request& request) const;
  bool Secure(const http::Request& request) const;
  SignedIn NewSession(const http::Request& request, Identity identity, std::string token_sha256);
  std::string Cookie(const std::string& value, Duration max_age, bool secure) const;
  std::optional<std::string> CookieValue(const http::Request& request) const;

  PanelConfig config_;
  http::ApiConfig api_;
  http::ApiAuthenticator& api_auth_;
  const Clock& clock_;
  std::string secret_;                       // per process: CSRF of cookieless identities
  std::map<std::string, Session> sessions_;  // by SHA-256 of the cookie value
};

}  // namespace tocsin::panel
