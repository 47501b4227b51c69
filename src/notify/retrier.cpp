#include "notify/retrier.h"

#include <charconv>

#include <fmt/format.h>

#include "tocsin/common/log.h"
#include "tocsin/common/text.h"

namespace tocsin::notify {

std::string BodyExcerpt(std::string_view body) {
  auto nl = body.find('\n');
  if (nl != std::string_view::npos) body = body.substr(0, nl);
  return log::Redact(TruncateUtf8Bytes(body, 200));
}

DeliveryResult ClassifyHttp(std::string_view provider, const Result<HttpClientResponse>& response,
                            std::initializer_list<int> permanent_5xx) {
  if (!response) {
    return DeliveryResult::Retry(
        0, log::Redact(fmt::format("{}: {}", provider, response.error().message())));
  }
  int status = static_cast<int>(response->status);
  std::string detail = fmt::format("{}: HTTP {} {}", provider, status, BodyExcerpt(response->body));
  if (status >= 200 && status < 300) return DeliveryResult::Ok(status, detail);
  bool retry = status == 408 || status == 429 || status >= 500;
  for (int p : permanent_5xx) retry = retry && status != p;
  if (!retry) return DeliveryResult::Permanent(status, detail);
  std::optional<Duration> after;
  std::string ra = response->Header("retry-after");
  long long seconds = 0;
  auto [ptr, ec] = std::from_chars(ra.data(), ra.data() + ra.size(), seconds);
  if (!ra.empty() && ec == std::errc() && ptr == ra.data() + ra.size() && seconds >= 0) {
    after = std::chrono::seconds(seconds);
  }
  return DeliveryResult::Retry(status, detail, after);
}

std::string_view OutcomeName(DeliveryResult::Outcome o) {
  switch (o) {
    case DeliveryResult::Outcome::kOk:
      return "ok";
    case DeliveryResult::Outcome::kRetry:
      return "retry";
    case DeliveryResult::Outcome::kPermanent:
      return "permanent";
  }
  return "ok";
}

}  // namespace tocsin::notify
