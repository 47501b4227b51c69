#include "tocsin/panel/panel.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <charconv>
#include <optional>
#include <set>
#include <string_view>

#include <nlohmann/json.hpp>

#include "api/api_response.h"
#include "incident_views.h"
#include "notify/page_renderer.h"
#include "tocsin/common/json_fields.h"

namespace tocsin::panel {

namespace {

using nlohmann::json;

// The most ids one ?ids= list may name (the change feed names at most 200 before it says
// "reset").
constexpr std::size_t kMaxListedIds = 500;

// The panel's JSON answers are never cached: they are about one signed-in person.
http::Response NoStore(http::Response r) {
  r.headers["Cache-Control"] = "no-store";
  return r;
}

http::Response JsonAnswer(int status, const json& body) {
  return NoStore(api::JsonResponse(status, body));
}

// A page signs in again on 401 and shows a 403 as a refusal.
http::Response ErrorAnswer(const Error& e) {
  return NoStore(api::ErrorResponse(e, {.unauthorized = 401, .permanent = 403}));
}

}  // namespace

Panel::Panel(PanelSettings settings, PanelDeps deps)
    : settings_(std::move(settings)),
      deps_(deps),
      auth_(settings_.config, settings_.api, deps.api_auth, deps.scheduler.clock()),
      feed_(deps.scheduler),
      assets_(PrepareAssets(settings_.config.path_prefix)),
      paged_(std::make_unique<PagedCache>()) {
  SetSettings(settings_);
}

Panel::~Panel() = default;

void Panel::SetSettings(PanelSettings settings) {
  settings_ = std::move(settings);
  auth_.SetConfig(settings_.config, settings_.api);
  notify::RenderOptions options;
  options.runbook_base_url = settings_.runbook_base_url;
  auto renderer = notify::PageRenderer::Create(options);
  if (renderer) {
    renderer_ = *renderer;
  } else {
    spdlog::warn("panel: page text unavailable: {}", renderer.error().message());
  }
}

http::Headers Panel::SecurityHeaders() {
  http::Headers h;
  h["Content-Security-Policy"] =
      "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
      "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
      "form-action 'self'; frame-ancestors 'none'";
  h["X-Content-Type-Options"] = "nosniff";
  h["Referrer-Policy"] = "no-referrer";
  h["X-Frame-Options"] = "DENY";
  h["Cross-Origin-Opener-Policy"] = "same-origin";
  h["Cross-Origin-Resource-Policy"] = "same-origin";
  h["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()";
  return h;
}

const std::vector<std::pair<std::string, std::string>>& Panel::Pages() {
  static const std::vector<std::pair<std::string, std::string>> pages = {
      {"/", "incidents.html"},    {"/incidents/{id}", "incident.html"},
      {"/oncall", "oncall.html"}, {"/slos", "slos.html"},
      {"/alerts", "alerts.html"}, {"/notifications", "notifications.html"},
      {"/signin", "signin.html"}};
  return pages;
}

http::Router::Guard Panel::Guard() {
  return [this](http::Request& r, http::Access access) -> std::optional<http::Response> {
    auto who = auth_.Identify(r);
    if (!who) return JsonAnswer(401, {{"error", who.error().message()}, {"signin", true}});
    if (!http::RoleAllows(who->role, access)) {
      return JsonAnswer(403,
                        {{"error", "you are signed in as " + who->name + " with role " +
                                       std::string(http::RoleName(who->role)) + "; this needs " +
                                       std::string(http::AccessName(access))}});
    }
    if (r.method != "GET" && r.method != "HEAD") {
      if (auto ok = auth_.CheckAction(r, *who); !ok) {
        return JsonAnswer(403, {{"error", ok.error().message()}});
      }
    }
    r.role = std::string(http::RoleName(who->role));
    r.actor = who->actor;
    return std::nullopt;
  };
}

void Panel::AddRoutes(http::Router& router) {
  AddAssetRoutes(router);
  AddSessionRoutes(router);
  AddIncidentRoutes(router);
}

const ServedAsset* Panel::Asset(const std::string& name) const {
  for (const auto& a : assets_) {
    if (a.name == name) return &a;
  }
  return nullptr;
}

http::Response Panel::Serve(const http::Request& request, const ServedAsset& asset) const {
  http::Response r;
  r.headers["ETag"] = asset.etag;
  // Names are not versioned, so the browser asks again each time; an unchanged asset costs a 304.
  r.headers["Cache-Control"] = "no-cache";
  if (request.Header("If-None-Match").value_or("") == asset.etag) {
    r.status = 304;
    r.content_type = asset.content_type;
    return r;
  }
  r.content_type = asset.content_type;
  r.body = asset.body;
  return r;
}

void Panel::AddAssetRoutes(http::Router& router) {
  for (const auto& [path, name] : Pages()) {
    const ServedAsset* asset = Asset(name);
    if (!asset) continue;  // a page not built yet has no route
    router.AddSync("GET", path, http::Access::kPublic,
                   [this, asset](const http::Request& r) { return Serve(r, *asset); });
  }
  router.AddSync("GET", "/assets/{name}", http::Access::kPublic, [this](const http::Request& r) {
    const ServedAsset* asset = Asset(r.PathParam("name"));
    if (!asset || asset->content_type.rfind("text/html", 0) == 0) {
      return http::Response::Text(404, "no such asset\n");
    }
    return Serve(r, *asset);
  });
}

void Panel::AddSessionRoutes(http::Router& router) {
  // Public: it says whether the browser is signed in; a page of another site cannot read it.
  router.AddSync("GET", "/session", http::Access::kPublic, [this](const http::Request& r) {
    auto who = auth_.Identify(r);
    json out{{"signed_in", bool(who)},
             {"loopback_available", auth_.LoopbackTrusted(r)},
             {"prefix", settings_.config.path_prefix}};
    if (who) {
      out["via"] = std::string(ViaName(who->via));
      out["name"] = who->name;
      out["actor"] = who->actor;
      out["role"] = std::string(http::RoleName(who->role));
      out["csrf"] = who->csrf;
      // Acting on an incident takes a person of the roster (manager_incident_commands.cpp): a
      // token without one showed buttons whose every press was refused.
      auto schedule = deps_.incidents.schedule();
      out["can_act"] = http::RoleAllows(who->role, http::Access::kResponder) &&
                       !who->actor.empty() && schedule &&
                       schedule->roster().FindPerson(who->actor) != nullptr;
    }
    return JsonAnswer(200, out);
  });
  router.AddSync("POST", "/session", http::Access::kPublic, [this](const http::Request& r) {
    if (auto same = auth_.CheckSameOrigin(r); !same) {
      return JsonAnswer(
          403, {{"error", "sign in from the panel's own page: " + same.error().message()}});
    }
    auto body = api::ParseBody(r);
    if (!body) return ErrorAnswer(body.error());
    std::string token = JsonString(*body, "token");
    std::string person = JsonString(*body, "person");
    Result<PanelAuth::SignedIn> in = Fail(Error::Invalid("give `token` (an API token)"));
    if (!token.empty()) {
      in = auth_.SignInWithToken(r, token);
    } else if (!person.empty()) {
      // Only a caller allowed to name itself learns whether the name is in the roster: anyone
      // else gets the loopback refusal, so the roster's ids cannot be probed from outside.
      auto schedule = deps_.incidents.schedule();
      if (auth_.LoopbackTrusted(r) && schedule && !schedule->roster().FindPerson(person)) {
        return ErrorAnswer(Error::Invalid("\"" + person + "\" is not a person of the roster"));
      }
      in = auth_.SignInAsLoopback(r, person);
    }
    if (!in) {
      // The token never reaches a log line; only that a sign-in failed, and from where.
      // The peer address: a trusted proxy's own when the panel is behind one.
      // Strangers may try by the thousand: one line per reason every 10 s.
      const auto now_us = std::chrono::duration_cast<std::chrono::microseconds>(
                              std::chrono::steady_clock::now().time_since_epoch())
                              .count();
      if (auto note =
              refused_sign_ins_.Pass(in.error().message(), static_cast<std::uint64_t>(now_us))) {
        spdlog::info("panel: sign-in refused, peer {}: {}{}", r.remote_address,
                     in.error().message(), *note);
      }
      // Over the token's rate limit: 429 with Retry-After, as the API answers it.
      if (in.error().kind() == Error::Kind::kTransient) {
        return NoStore(http::ApiAuthenticator::ErrorResponse(in.error()));
      }
      return ErrorAnswer(in.error());
    }
    http::Response res = JsonAnswer(200, {{"signed_in", true},
                                          {"name", in->identity.name},
                                          {"actor", in->identity.actor},
                                          {"role", std::string(http::RoleName(in->identity.role))},
                                          {"csrf", in->identity.csrf}});
    res.headers["Set-Cookie"] = in->set_cookie;
    return res;
  });
  router.AddSync("POST", "/session/end", http::Access::kViewer, [this](const http::Request& r) {
    http::Response res = JsonAnswer(200, {{"signed_in", false}});
    res.headers["Set-Cookie"] = auth_.SignOut(r);
    return res;
  });
}

void Panel::AddIncidentRoutes(http::Router& router) {
  router.Add(
      "GET", "/events", http::Access::kViewer,
      [this](const http::Request& r, http::Respond respond) {
        std::optional<std::uint64_t> since;
        std::string last = r.Header("Last-Event-ID").value_or(r.Query("since").value_or(""));
        if (!last.empty()) {
          std::uint64_t v = 0;
          auto [end, ec] = std::from_chars(last.data(), last.data() + last.size(), v);
          if (ec != std::errc{} || end != last.data() + last.size()) {
            return respond(http::Response::Text(400, "Last-Event-ID must be a whole number\n"));
          }
          since = v;
        }
        feed_.Wait(since, std::move(respond));
      });
  // ?ids=A,B: only those (the ids a change event named), so that a change costs the page one
  // small answer, not the whole list again.
  router.AddSync("GET", "/data/incidents", http::Access::kViewer, [this](const http::Request& r) {
    ViewContext ctx{deps_.incidents, settings_.policies, renderer_.get(),
                    deps_.scheduler.clock().Now(), paged_.get()};
    std::optional<std::set<std::string>> only;
    if (auto ids = r.Query("ids")) {
      only.emplace();
      std::string_view rest = *ids;
      while (!rest.empty()) {
        auto comma = rest.find(',');
        if (auto id = rest.substr(0, comma); !id.empty()) only->emplace(id);
        rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
      }
      if (only->size() > kMaxListedIds) {
        return ErrorAnswer(Error::Invalid(
            fmt::format("ids: at most {} ids; load the whole list instead", kMaxListedIds)));
      }
    }
    auto out = IncidentListJson(ctx, only ? &*only : nullptr);
    if (!out) return ErrorAnswer(out.error());
    (*out)["seq"] = feed_.seq();
    return JsonAnswer(200, *out);
  });
  router.AddSync("GET", "/data/incidents/{id}", http::Access::kViewer,
                 [this](const http::Request& r) {
                   ViewContext ctx{deps_.incidents, settings_.policies, renderer_.get(),
                                   deps_.scheduler.clock().Now()};
                   auto out = IncidentDetailJson(ctx, r.PathParam("id"));
                   if (!out) return ErrorAnswer(out.error());
                   (*out)["seq"] = feed_.seq();
                   return JsonAnswer(200, *out);
                 });
  const std::pair<const char*, http::IncidentAction> actions[] = {
      {"ack", http::IncidentAction::kAcknowledge},
      {"resolve", http::IncidentAction::kResolve},
      {"escalate", http::IncidentAction::kEscalate},
      {"note", http::IncidentAction::kNote}};
  for (const auto& entry : actions) {
    // A copy, not a structured binding: clang 14 (the sanitizer build) cannot capture those.
    const http::IncidentAction action = entry.second;
    router.Add(
        "POST", std::string("/data/incidents/{id}/") + entry.first, http::Access::kResponder,
        [this, action](const http::Request& r, http::Respond respond) {
          if (r.actor.empty()) {
            return respond(ErrorAnswer(Error::Unauthorized(
                "say who you are first: sign in with your name (roster person id) or a token")));
          }
          auto body = api::ParseBody(r);
          if (!body) return respond(ErrorAnswer(body.error()));
          http::ActionRequest req;
          req.incident_ref = r.PathParam("id");
          req.action = action;
          req.actor = r.actor;
          req.origin = http::ActionOrigin::kPanel;
          req.text = JsonString(*body, "text");
          if (action == http::IncidentAction::kNote && req.text.empty()) {
            return respond(ErrorAnswer(Error::Invalid("a note needs `text`")));
          }
          deps_.commands.ActAsync(req, [respond](Result<http::ActionOutcome> out) {
            if (!out) return respond(ErrorAnswer(out.error()));
            respond(JsonAnswer(200, {{"incident_id", out->incident_id},
                                     {"state", out->state},
                                     {"changed", out->changed}}));
          });
        });
  }
}

void Panel::OnIncidentChanged(const incident::Incident& incident) { feed_.Changed(incident.id); }

void Panel::Stop() { feed_.Stop(); }

}  // namespace tocsin::panel
