// GET /api/v1/notifications on the real HTTP server (loopback) over the outbox's real SQLite
// table: what each delivery came to, filtered and paged, with the latency of finished ones.
#include "tocsin/api/notifications_api.h"

#include <gtest/gtest.h>

#include <prometheus/registry.h>
#include <nlohmann/json.hpp>

#include "dispatch/dispatch_test_util.h"
#include "support/loopback_server.h"
#include "support/temp_dir.h"
#include "tocsin/common/duration.h"
#include "tocsin/common/http_client.h"
#include "tocsin/store/sqlite_delivery_log.h"
#include "tocsin/store/sqlite_outbox_store.h"

namespace tocsin::notify {
namespace {

using json = nlohmann::json;
using incident::Channel;
using std::chrono::milliseconds;

TimePoint T0() { return ParseTime("2026-11-22T03:00:00Z").value(); }

class NotificationsApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = store::Database::Open(dir_.path() + "/tocsin.db");
    ASSERT_TRUE(db) << db.error().message();
    db_ = std::move(*db);
    outbox_ = std::make_unique<store::SqliteOutboxStore>(*db_);
    ASSERT_TRUE(outbox_->Migrate());
    log_ = std::make_unique<store::SqliteDeliveryLog>(*db_);
    auto router = dispatch::testutil::RouterForEveryCaller();
    RegisterNotificationsApi(*router, [this] { return log_.get(); });
    server_ = std::make_unique<testing::LoopbackServer>(router, registry_);
    ASSERT_TRUE(server_->started());
  }
  // Queues one page of `incident` to `person` through `channel`; its outbox id.
  std::int64_t Queue(const std::string& incident, const std::string& person, Channel channel,
                     TimePoint at) {
    OutboxItem item;
    item.channel = item.original_channel = channel;
    item.person_id = person;
    item.created_at = item.next_attempt_at = at;
    item.request.incident_id = incident;
    item.request.idempotency_key = incident + "/" + person + "/" + ChannelName(channel).data();
    std::int64_t id = 0;
    outbox_->Insert({item}, {}, [&](Result<std::vector<OutboxItem>> r) {
      ASSERT_TRUE(r) << r.error().message();
      ASSERT_EQ(r->size(), 1u);
      id = r->front().id;
    });
    return id;
  }
  json Get(const std::string& query, int status = 200) {
    HttpClientRequest req;
    req.method = "GET";
    req.url = server_->url() + "/api/v1/notifications" + query;
    auto r = client_.Send(req);
    EXPECT_TRUE(r) << r.error().message();
    if (!r) return json();
    EXPECT_EQ(r->status, status) << r->body;
    return json::parse(r->body, nullptr, false);
  }
  static std::string ChannelName(Channel c) { return std::string(incident::ChannelName(c)); }

  testing::TempDir dir_;
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<store::SqliteOutboxStore> outbox_;
  std::unique_ptr<store::SqliteDeliveryLog> log_;
  prometheus::Registry registry_;
  std::unique_ptr<testing::LoopbackServer> server_;
  CurlHttpClient client_;
};

TEST_F(NotificationsApiTest, EachDeliveryWithProviderPersonResultAnswerAndLatency) {
  auto sent = Queue("INC-1", "olena", Channel::kPagerDuty, T0());
  auto failed = Queue("INC-1", "taras", Channel::kOpsgenie, T0());
  Queue("INC-2", "olena", Channel::kSlack, T0() + milliseconds(500));
  // PagerDuty answered 202 after 1.2 s; Opsgenie refused for good after 3 s.
  outbox_->MarkSent(sent, Channel::kPagerDuty, T0() + milliseconds(1200), 202, "accepted",
                    [](Result<void> r) { ASSERT_TRUE(r); });
  outbox_->MarkFailed(failed, Channel::kOpsgenie, T0() + milliseconds(3000), 422,
                      "Key format is not valid", [](Result<void> r) { ASSERT_TRUE(r); });
  auto all = Get("")["notifications"];
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0]["incident"], "INC-2");  // newest first
  EXPECT_EQ(all[0]["state"], "pending");
  EXPECT_EQ(all[0]["latency_ms"], nullptr);
  EXPECT_EQ(all[1]["provider"], "opsgenie");
  EXPECT_EQ(all[1]["state"], "failed");
  EXPECT_EQ(all[1]["status"], 422);
  EXPECT_EQ(all[1]["answer"], "Key format is not valid");
  EXPECT_EQ(all[1]["latency_ms"], 3000);
  EXPECT_EQ(all[2]["person"], "olena");
  EXPECT_EQ(all[2]["provider"], "pagerduty");
  EXPECT_EQ(all[2]["state"], "sent");
  EXPECT_EQ(all[2]["latency_ms"], 1200);
  EXPECT_EQ(all[2]["queued_at"], "2026-11-22T03:00:00Z");

  EXPECT_EQ(Get("?person=olena")["notifications"].size(), 2u);
  EXPECT_EQ(Get("?incident=INC-1&state=failed")["notifications"].size(), 1u);
  EXPECT_EQ(Get("?provider=slack")["notifications"][0]["incident"], "INC-2");
  EXPECT_EQ(Get("?since=2026-11-22T03:00:00.400Z")["notifications"].size(), 1u);
  EXPECT_NE(Get("?state=lost", 400)["error"].get<std::string>().find("state"), std::string::npos);
}

TEST_F(NotificationsApiTest, PagesWalkBackwardsWithoutGapsOrRepeats) {
  for (int i = 0; i < 7; ++i) {
    Queue("INC-" + std::to_string(i), "olena", Channel::kPagerDuty, T0() + milliseconds(i));
  }
  std::vector<std::string> seen;
  std::string query = "?limit=3";
  for (int page = 0; page < 5; ++page) {
    auto j = Get(query);
    for (const auto& n : j["notifications"]) seen.push_back(n["incident"]);
    if (j["next_before"].is_null()) break;
    query = "?limit=3&before=" + std::to_string(j["next_before"].get<std::int64_t>());
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"INC-6", "INC-5", "INC-4", "INC-3", "INC-2", "INC-1",
                                            "INC-0"}));
}

}  // namespace
}  // namespace tocsin::notify
