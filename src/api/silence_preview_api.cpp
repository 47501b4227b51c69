#include "tocsin/api/silence_preview_api.h"

#include <algorithm>

#include "alertmanager_json.h"
#include "tocsin/api/alertmanager_api.h"

namespace tocsin::dispatch {

namespace {
constexpr std::size_t kMaxListed = 500;
}  // namespace

void RegisterSilencePreviewApi(http::Router& router, const Dispatcher& dispatcher,
                               const Clock& clock) {
  router.AddSync(
      "POST", "/api/v1/silences/preview", http::Access::kViewer,
      [&dispatcher, &clock](const http::Request& req) {
        auto s = ParseSilenceJson(req.body);
        if (!s) return amjson::JsonError(400, s.error().message());
        if (s->matchers.empty()) return amjson::JsonError(400, "matchers: at least one is needed");
        TimePoint now = clock.Now();
        struct Row {
          std::uint64_t fingerprint;
          const StoredAlert* alert;
          const std::vector<std::string>* receivers;
        };
        std::vector<Row> rows;
        dispatcher.ForEachActiveAlert(now, [&](Fingerprint fp, const StoredAlert& a,
                                               const std::vector<std::string>& receivers) {
          if (MatchesAll(s->matchers, a.labels())) rows.push_back({fp.value(), &a, &receivers});
        });
        std::sort(rows.begin(), rows.end(),
                  [](const Row& x, const Row& y) { return x.fingerprint < y.fingerprint; });
        std::string out = "{\"total\":" + std::to_string(rows.size()) + ",\"alerts\":[";
        for (std::size_t i = 0; i < rows.size() && i < kMaxListed; ++i) {
          if (i > 0) out.push_back(',');
          amjson::AppendGettableAlert(out, rows[i].fingerprint, *rows[i].alert, *rows[i].receivers,
                                      dispatcher.StatusOf(rows[i].alert->labels(), now));
        }
        out += "]}";
        return http::Response::Json(200, std::move(out));
      });
}

}  // namespace tocsin::dispatch
