#pragma once

#include <functional>

#include "tocsin/http/router.h"
#include "tocsin/notify/delivery_log.h"

namespace tocsin::notify {

// Registers GET /api/v1/notifications[?provider=&person=&incident=&state=&since=&before=&limit=]
// (viewer): every delivery of the outbox, newest first, with the provider it went through,
// person, incident, result, the provider's last answer and, once finished, the latency from
// being queued to the provider's final answer. Paged: `next_before` is the `before` of the
// next (older) page. `log` returns null while the store is not open (503).
void RegisterNotificationsApi(http::Router& router, std::function<DeliveryLog*()> log);

}  // namespace tocsin::notify
