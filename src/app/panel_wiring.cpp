// The composition root's web panel (issue 16): the panel on a listener of its own, its router
// the panel's routes plus the /api/v1 routes (AddApiRoutes) behind the panel's guard.
#include <fmt/format.h>
#include <prometheus/registry.h>
#include <spdlog/spdlog.h>

#include "app_impl.h"
#include "tocsin/api/manager_incident_commands.h"
#include "tocsin/http/api_auth.h"
#include "tocsin/http/server.h"
#include "tocsin/incident/incident_manager.h"
#include "tocsin/panel/panel.h"

namespace tocsin::app {

namespace {
panel::PanelSettings SettingsOf(const RuntimeConfig& cfg) {
  return {cfg.panel, cfg.api, cfg.policies, cfg.main.runbook_base_url};
}
}  // namespace

Result<void> App::Impl::StartPanel() {
  const auto& pc = config->panel;
  if (!pc.enabled() || !incidents || !incident_commands || !api_auth) return {};
  http::ServerOptions opts;
  std::string err;
  if (!config::ParseListenAddress(pc.listen, &opts.host, &opts.port, &err)) {
    return Fail(Error::Invalid("panel.listen: " + err));
  }
  const auto& s = config->main.server;
  opts.read_timeout = s.read_timeout;
  opts.idle_timeout = s.idle_timeout;
  opts.max_header_bytes = static_cast<std::uint64_t>(s.max_header_bytes);
  // What the pages send is small (a note, a silence); a bigger body is refused unread.
  opts.max_body_bytes = 64 * 1024;
  opts.max_connections = static_cast<std::size_t>(s.max_connections);
  opts.path_prefix = pc.path_prefix;
  opts.default_headers = panel::Panel::SecurityHeaders();
  panel = std::make_unique<panel::Panel>(
      SettingsOf(*config), panel::PanelDeps{*incidents, *incident_commands, *api_auth, scheduler});
  incidents->SetChangeListener(
      [p = panel.get()](const incident::Incident& inc) { p->OnIncidentChanged(inc); });
  auto router = std::make_shared<http::Router>(panel->Guard());
  panel->AddRoutes(*router);
  AddApiRoutes(*router);
  // Its own registry: the main listener's tocsin_http_open_connections is one gauge without a
  // listener label, which a second server would overwrite. The panel's HTTP figures are not
  // exported (yet).
  panel_registry = std::make_shared<prometheus::Registry>();
  panel_server = std::make_unique<http::Server>(io, opts, *panel_registry);
  panel_server->SetRouter(router);
  if (auto started = panel_server->Start(); !started) {
    panel_server.reset();
    return Fail(Error::Io("panel: " + started.error().message()));
  }
  spdlog::info("panel listening on http://{}:{}{}/", opts.host, panel_server->port(),
               pc.path_prefix);
  return {};
}

void App::Impl::ReconfigurePanel() {
  if (panel) panel->SetSettings(SettingsOf(*config));
}

}  // namespace tocsin::app
