#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "tocsin/common/clock.h"
#include "tocsin/common/result.h"
#include "tocsin/config/config.h"
#include "tocsin/config/diagnostics.h"
#include "tocsin/http/http_types.h"
#include "tocsin/http/router.h"

namespace tocsin::http {

// viewer reads; responder also acks, resolves, notes and silences; admin also reloads and
// manages everything. intake only posts alerts (the token to give Prometheus); responder and
// admin may post alerts too.
enum class Role { kViewer, kResponder, kAdmin, kIntake };
std::string_view RoleName(Role r);
// Whether a token of role `role` may use a route that needs `access`.
bool RoleAllows(Role role, Access access);

// One API token as configured: only its SHA-256 is stored (`tocsin api hash-token` prints it),
// so the config file never holds a usable credential.
struct ApiToken {
  std::string name;    // shows as the actor in timelines: "token:<name>" unless `person` set
  std::string sha256;  // lowercase hex
  Role role = Role::kViewer;
  std::string person;                 // optional roster person id this token acts as
  long long requests_per_minute = 0;  // 0: the api default
};

struct ApiConfig {
  std::vector<ApiToken> tokens;
  long long requests_per_minute = 120;
  // Without any token configured the API is open to loopback clients only, so a fresh install
  // and the demo work; any token configured makes every /api/v1 call require one.
  bool allow_loopback_without_token = true;
};

// Reads the `api` section (raw YAML kept in Config::sections).
ApiConfig LoadApiConfig(const config::Config& cfg, config::Diagnostics& diags);

// Principal::name of a loopback caller let in because no token is configured.
inline constexpr const char* kLoopbackPrincipal = "loopback";

struct Principal {
  std::string name;   // token name, or "loopback"
  std::string actor;  // for timelines: the person id, or "token:<name>"
  Role role = Role::kViewer;
};

// Authenticates `Authorization: Bearer <token>` against the configured hashes and enforces the
// per-token rate limit (a token bucket refilled per minute, driven by the injected clock) on
// every access except kIntake: alert intake is never rate-limited like a person, and does not
// spend the token's budget either. Errors carry the HTTP status to answer: kUnauthorized ->
// 401, kPermanent (forbidden) -> 403, kTransient (rate limited) -> 429. Loop thread only.
class ApiAuthenticator {
 public:
  ApiAuthenticator(ApiConfig config, const Clock& clock);
  void SetConfig(ApiConfig config);  // on reload; buckets of unchanged tokens are kept

  Result<Principal> Authenticate(const Request& request, Access needed);
  // Maps an Authenticate error to a JSON response (401 with WWW-Authenticate, 403, 429).
  static Response ErrorResponse(const Error& e);

 private:
  struct Bucket {
    double tokens = 0;
    TimePoint refilled{};
  };
  bool Take(const std::string& key, long long per_minute);

  ApiConfig config_;
  const Clock& clock_;
  std::map<std::string, Bucket> buckets_;
};

// The router's guard over `auth`: checks the access each route declares. On success it sets
// request.role and request.actor (the token's person, or "token:<name>"); a trusted loopback
// caller (no token configured) gets role admin and an empty actor, so it may name itself as
// the CLI does. Refusals answer with ErrorResponse. `auth` must outlive the guard.
Router::Guard MakeApiGuard(ApiAuthenticator& auth);

// The address part of a peer as the server writes it: "10.0.0.5:41234" -> "10.0.0.5",
// "::1:41234" -> "::1".
std::string_view PeerAddress(std::string_view remote);
// Whether an address (no port) is this host's: 127.0.0.0/8, ::1 or ::ffff:127.x.
bool IsLoopbackAddress(std::string_view address);
// Whether a Host field ("localhost:9095", "127.0.0.1", "[::1]:9096") names this host by a
// loopback name: "localhost", or an IP literal of a loopback address. A DNS name that merely
// starts with "127." is a name (DNS rebinding: a page of another site whose name resolves to
// 127.0.0.1 sends its own name as Host).
bool IsLoopbackHost(std::string_view host_field);

}  // namespace tocsin::http
