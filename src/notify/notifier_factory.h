#pragma once

#include <memory>

#include "notify/outbox.h"
#include "notify/page_renderer.h"
#include "notify/providers/email/smtp_transport.h"
#include "tocsin/common/http_client.h"
#include "tocsin/config/config.h"
#include "tocsin/notify/slack_thread_store.h"

namespace tocsin::notify {

// What the notifiers are built from; tests swap the HTTP client or SMTP transport.
struct NotifierDeps {
  std::shared_ptr<const PageRenderer> renderer;
  std::shared_ptr<HttpClient> http;
  // null: a CurlSmtpTransport from providers.email.smtp_url
  std::shared_ptr<SmtpTransport> smtp;
  SlackThreadStore* slack_threads = nullptr;
};

// One notifier per provider configured in `providers:` (called at start and on every reload).
NotifierSet BuildNotifiers(const config::ProvidersConfig& providers, const NotifierDeps& deps);

}  // namespace tocsin::notify
