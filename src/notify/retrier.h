#pragma once

#include <string>

#include "tocsin/common/http_client.h"
#include "tocsin/common/result.h"
#include "tocsin/notify/notifier.h"

namespace tocsin::notify {

// Alertmanager's Retrier for every HTTP provider: 2xx ok; 408, 429 and 5xx retried (except the
// codes in `permanent_5xx`, such as Opsgenie's 501); other statuses permanent; no response at
// all (DNS, connect, TLS, timeout) retried. Retry-After (delta-seconds) is honoured. The detail
// names the provider and status and carries at most a short, redacted excerpt of the body.
DeliveryResult ClassifyHttp(std::string_view provider, const Result<HttpClientResponse>& response,
                            std::initializer_list<int> permanent_5xx = {});

// The body excerpt used in details: first line, at most 200 bytes, secrets redacted.
std::string BodyExcerpt(std::string_view body);

}  // namespace tocsin::notify
