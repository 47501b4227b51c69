#include "tocsin/api/silence_preview_api.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "alertmanager_json.h"
#include "tocsin/api/alertmanager_api.h"
#include "tocsin/common/json.h"

namespace tocsin::dispatch {

namespace {
constexpr std::size_t kMaxListed = 500;

// The matchers of a preview body: {"text": "a=\"b\", c=~\"d\""} in amtool's syntax, or a
// silence as POST /api/v2/silences takes it.
Result<Matchers> PreviewMatchers(const std::string& body) {
  // The depth-limited parser: a body nested a million levels deep is refused, not walked.
  auto parsed_json = ParseJson(body);
  if (!parsed_json) {
    return Fail(Error::Invalid("body is not valid JSON: " + parsed_json.error().message()));
  }
  const nlohmann::json& j = *parsed_json;
  if (j.is_object() && j.contains("text")) {
    if (!j["text"].is_string()) {
      return Fail(
          Error::Invalid("text: matchers as text, such as alertname=\"X\", region=~\"eu.*\""));
    }
    auto parsed = ParseMatchers(j["text"].get<std::string>());
    if (!parsed) return Fail(Error::Invalid("text: " + parsed.error().message()));
    if (parsed->empty()) return Fail(Error::Invalid("text: at least one matcher is needed"));
    return parsed;
  }
  auto s = ParseSilenceJson(body);
  if (!s) return Fail(s.error());
  if (s->matchers.empty()) return Fail(Error::Invalid("matchers: at least one is needed"));
  return std::move(s->matchers);
}
}  // namespace

void RegisterSilencePreviewApi(http::Router& router, const Dispatcher& dispatcher,
                               const Clock& clock) {
  router.AddSync(
      "POST", "/api/v1/silences/preview", http::Access::kViewer,
      [&dispatcher, &clock](const http::Request& req) {
        auto matchers = PreviewMatchers(req.body);
        if (!matchers) return amjson::JsonError(400, matchers.error().message());
        TimePoint now = clock.Now();
        struct Row {
          std::uint64_t fingerprint;
          const StoredAlert* alert;
          const std::vector<std::string>* receivers;
        };
        std::vector<Row> rows;
        dispatcher.ForEachActiveAlert(now, [&](Fingerprint fp, const StoredAlert& a,
                                               const std::vector<std::string>& receivers) {
          if (MatchesAll(*matchers, a.labels())) rows.push_back({fp.value(), &a, &receivers});
        });
        std::sort(rows.begin(), rows.end(),
                  [](const Row& x, const Row& y) { return x.fingerprint < y.fingerprint; });
        std::string out = "{\"total\":" + std::to_string(rows.size()) + ",\"alerts\":[";
        for (std::size_t i = 0; i < rows.size() && i < kMaxListed; ++i) {
          if (i > 0) out.push_back(',');
          amjson::AppendGettableAlert(out, rows[i].fingerprint, *rows[i].alert, *rows[i].receivers,
                                      dispatcher.StatusOf(rows[i].alert->labels(), now),
                                      amjson::OpenEnd(dispatcher, now));
        }
        // The matchers as read, in the silence's form: the panel creates the silence with them, so
        // a matcher text is read by one parser, the server's.
        out += "],\"matchers\":" + DumpJson(amjson::MatchersJson(*matchers)) + "}";
        return http::Response::Json(200, std::move(out));
      });
}

}  // namespace tocsin::dispatch
