#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tocsin/api/incident_commands.h"
#include "tocsin/common/clock.h"
#include "tocsin/common/log.h"
#include "tocsin/http/api_auth.h"
#include "tocsin/http/router.h"
#include "tocsin/incident/escalation_policy.h"
#include "tocsin/incident/incident_manager.h"
#include "tocsin/panel/assets.h"
#include "tocsin/panel/change_feed.h"
#include "tocsin/panel/panel_auth.h"
#include "tocsin/panel/panel_config.h"

namespace tocsin::notify {
class PageRenderer;
}

namespace tocsin::panel {

class PagedCache;

struct PanelDeps {
  incident::IncidentManager& incidents;
  // Acknowledge, resolve, escalate and note go through the same commands as Slack and the
  // provider webhooks (roster check, double-click safety), with origin "panel".
  http::IncidentCommands& commands;
  http::ApiAuthenticator& api_auth;
  Scheduler& scheduler;
};

// What the panel shows besides incidents: the ladders and the page text settings.
struct PanelSettings {
  PanelConfig config;
  http::ApiConfig api;
  incident::PolicySet policies;
  std::string runbook_base_url;
};

// The on-call web panel (docs/panel.md): its pages and assets, sign-in, live updates and the
// incident actions, on a listener of its own. The app builds the listener's router as
//   Router(panel.Guard()); panel.AddRoutes(router); <the /api/v1 routes the pages read>
// so the pages reach the API with the panel's sign-in: the guard maps a session, a trusted
// proxy's user or a loopback browser to a role, and refuses every request that changes
// something without the CSRF token and a same-origin Origin. Every answer carries
// SecurityHeaders() (the listener sets them). Thread-safety: loop thread only.
class Panel {
 public:
  Panel(PanelSettings settings, PanelDeps deps);
  ~Panel();
  void SetSettings(PanelSettings settings);  // reload (listen and path_prefix need a restart)

  http::Router::Guard Guard();
  void AddRoutes(http::Router& router);
  // Wire to IncidentManager::SetChangeListener.
  void OnIncidentChanged(const incident::Incident& incident);
  // Answers the held live-update requests so the listener can drain.
  void Stop();

  // Strict CSP (no inline script or style, nothing from elsewhere) and friends.
  static http::Headers SecurityHeaders();
  // The pages: path on the listener -> asset name.
  static const std::vector<std::pair<std::string, std::string>>& Pages();

  PanelAuth& auth() { return auth_; }
  ChangeFeed& feed() { return feed_; }

 private:
  void AddAssetRoutes(http::Router& router);
  void AddSessionRoutes(http::Router& router);
  void AddIncidentRoutes(http::Router& router);
  const ServedAsset* Asset(const std::string& name) const;
  http::Response Serve(const http::Request& request, const ServedAsset& asset) const;

  PanelSettings settings_;
  PanelDeps deps_;
  PanelAuth auth_;
  ChangeFeed feed_;
  std::vector<ServedAsset> assets_;
  std::shared_ptr<const notify::PageRenderer> renderer_;
  std::unique_ptr<PagedCache> paged_;    // the list's delivery summaries, kept between listings
  log::RepeatLimiter refused_sign_ins_;  // one log line per reason every 10 s
};

}  // namespace tocsin::panel
