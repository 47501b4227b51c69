// The composition root's notify part: the outbox (built once, it lives across reloads so that
// queued pages survive them), the notice sink, the heartbeats and the notifiers of the
// current config.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "app_impl.h"
#include "notify/heartbeat.h"
#include "notify/notice_sink.h"
#include "notify/notifier_factory.h"
#include "notify/outbox.h"
#include "notify/providers/status_page/status_page_notifier.h"
#include "tocsin/common/http_client.h"
#include "tocsin/common/worker_pool.h"
#include "tocsin/ha/ha_coordinator.h"
#include "tocsin/store/database.h"
#include "tocsin/store/sqlite_outbox_store.h"
#include "tocsin/store/sqlite_responder_request_store.h"

namespace tocsin::app {

// Builds the outbox once (it lives across reloads: queued pages survive them) and the
// notifiers from the current config.
Result<void> App::Impl::StartNotify() {
  notify_workers = MakePool(2, "notify_workers");
  // Its writes go to the store thread: the loop never waits for an outbox fsync.
  outbox_store = std::make_unique<store::SqliteOutboxStore>(*database, store_thread.get());
  outbox =
      std::make_unique<notify::Outbox>(*outbox_store, scheduler, *notify_workers, registry.get());
  // A standby only makes sure the tables exist: the pending deliveries are the active's, and
  // are loaded when this instance becomes active (ha_wiring.cpp).
  if (auto opened = active ? outbox->Open() : outbox_store->Migrate(); !opened) return opened;
  // Checked right before each provider request: a paused old active sends nothing.
  if (ha_coordinator) {
    outbox->SetSendGate([coordinator = ha_coordinator.get()] { return coordinator->HoldsLease(); });
  }
  auto responders = std::make_unique<store::SqliteResponderRequestStore>(
      *database, store_thread.get(), config->notify.retention);
  if (auto m = responders->Migrate(); !m) return m;
  responder_requests = std::move(responders);
  notice_sink = std::make_unique<notify::NoticeSink>(*outbox);
  heartbeat = std::make_unique<notify::HeartbeatPinger>(scheduler, *notify_workers);
  ConfigureNotify();
  return {};
}

// Start and every reload: new notifiers and settings, same outbox and queue.
void App::Impl::ConfigureNotify() {
  const auto& main = config->main;
  notify::RenderOptions render;
  render.runbook_base_url = main.runbook_base_url;
  render.external_url = main.server.external_url;
  render.templates_dir = config->notify.templates_dir;
  auto renderer = notify::PageRenderer::Create(render);
  if (!renderer) {
    // LoadRuntimeConfig checked the templates; a file changed since then keeps the old set.
    spdlog::error("notify: {}; keeping the previous notifiers", renderer.error().message());
    return;
  }
  notify::NotifierDeps deps;
  deps.renderer = *renderer;
  deps.http = std::make_shared<CurlHttpClient>();
  deps.slack_threads = outbox_store.get();
  deps.responder_requests = responder_requests.get();
  auto set = notify::BuildNotifiers(main.providers, deps);
  if (const auto& page = config->notify.status_page) {
    set.notifiers[notify::StatusPageChannel()] =
        std::make_shared<notify::StatusPageNotifier>(*page, deps.http);
  }
  std::size_t providers = set.notifiers.size();
  heartbeat->Start(set.WithHeartbeat(), config->notify.heartbeat_interval);
  outbox->Configure(std::move(set), config->notify);
  spdlog::info("notify: {} provider(s) configured, {} deliveries queued", providers,
               outbox->pending());
}

}  // namespace tocsin::app
