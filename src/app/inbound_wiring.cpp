// The composition root's inbound part (issue 7): Slack buttons and slash command, PagerDuty and
// Opsgenie webhooks acting on incidents, and the API's bearer-token authentication.
#include "app_impl.h"
#include "tocsin/api/inbound_handlers.h"
#include "tocsin/api/manager_incident_commands.h"
#include "tocsin/api/roster_person_directory.h"
#include "tocsin/api/twilio_inbound.h"
#include "tocsin/common/http_client.h"
#include "tocsin/common/worker_pool.h"
#include "tocsin/dispatch/silence_command.h"
#include "tocsin/dispatch/silences.h"
#include "tocsin/http/api_auth.h"
#include "tocsin/incident/incident_manager.h"

namespace tocsin::app {

namespace {
http::InboundConfig InboundConfigOf(const config::Config& main) {
  http::InboundConfig c;
  const auto& p = main.providers;
  if (p.slack) {
    c.slack_signing_secret = p.slack->signing_secret;
    c.slash_command = p.slack->slash_command;
  }
  if (p.pagerduty && !p.pagerduty->webhook_secret.empty()) {
    c.pagerduty_secrets = {p.pagerduty->webhook_secret};
  }
  if (p.opsgenie) c.opsgenie_webhook_token = p.opsgenie->webhook_token;
  if (p.jsm) c.jsm_webhook_token = p.jsm->webhook_token;
  return c;
}

http::TwilioInboundConfig TwilioInboundConfigOf(const config::Config& main) {
  http::TwilioInboundConfig c;
  if (const auto& t = main.providers.twilio) {
    c.account_sid = t->account_sid;
    c.auth_token = t->auth_token;
    c.public_url = t->public_url;
  }
  return c;
}
}  // namespace

Result<void> App::Impl::StartInbound() {
  api_auth = std::make_unique<http::ApiAuthenticator>(config->api, clock);
  incident_commands = std::make_unique<incident::ManagerIncidentCommands>(*incidents, clock);
  people = std::make_unique<incident::RosterPersonDirectory>(
      [this] { return incidents->schedule(); }, clock);
  slack_client = std::make_unique<CurlHttpClient>();
  slack_workers = MakePool(2, "slack_workers");
  inbound = std::make_unique<http::InboundHandlers>(
      InboundConfigOf(config->main), *incident_commands, *people, scheduler,
      http::MakeResponseUrlPoster(*slack_client, *slack_workers), *registry);
  twilio_inbound = std::make_unique<http::TwilioInbound>(TwilioInboundConfigOf(config->main),
                                                         *incident_commands, *people, *registry);
  inbound->SetSilenceCommand([this](const std::vector<std::string>& words, const std::string& actor,
                                    std::function<void(std::string)> answer) {
    dispatch::RunSilenceCommand(*silences, words, actor, clock.Now(), std::move(answer));
  });
  return {};
}

void App::Impl::ReconfigureInbound() {
  if (api_auth) api_auth->SetConfig(config->api);
  if (inbound) inbound->SetConfig(InboundConfigOf(config->main));
  if (twilio_inbound) twilio_inbound->SetConfig(TwilioInboundConfigOf(config->main));
}

}  // namespace tocsin::app
