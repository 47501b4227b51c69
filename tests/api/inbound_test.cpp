#include "tocsin/api/inbound.h"

#include <gtest/gtest.h>

#include "tocsin/common/crypto.h"
#include "tocsin/common/http_client.h"
#include "tocsin/http/signatures.h"

namespace tocsin::http {
namespace {

std::string FormPayload(const std::string& json) { return "payload=" + UrlEncode(json); }

TEST(SlackInteractionTest, ParsesABlockActionsClick) {
  auto a = ParseSlackInteraction(FormPayload(R"({
    "type": "block_actions",
    "user": {"id": "U024BE7LH", "username": "olena", "name": "olena", "team_id": "T1"},
    "team": {"id": "T1", "domain": "casino"},
    "channel": {"id": "C0INCIDENTS", "name": "incidents"},
    "container": {"type": "message", "message_ts": "1795312391.000200", "channel_id": "C0INCIDENTS"},
    "response_url": "https://hooks.slack.com/actions/T1/1/abc",
    "trigger_id": "13345224609.738474920.8088930838d88f008e0",
    "actions": [{"action_id": "tocsin_ack", "block_id": "b1", "value": "INC-42",
                 "type": "button", "action_ts": "1795312400.1"}]
  })"));
  ASSERT_TRUE(a) << a.error().message();
  EXPECT_EQ(a->user_id, "U024BE7LH");
  EXPECT_EQ(a->user_name, "olena");
  EXPECT_EQ(a->team_id, "T1");
  EXPECT_EQ(a->channel_id, "C0INCIDENTS");
  EXPECT_EQ(a->message_ts, "1795312391.000200");
  EXPECT_EQ(a->action_id, "tocsin_ack");
  EXPECT_EQ(a->value, "INC-42");
  EXPECT_EQ(a->response_url, "https://hooks.slack.com/actions/T1/1/abc");
}

TEST(SlackInteractionTest, RejectsWhatIsNotAClick) {
  EXPECT_FALSE(ParseSlackInteraction("text=hello"));
  EXPECT_FALSE(ParseSlackInteraction(FormPayload("not json")));
  EXPECT_FALSE(ParseSlackInteraction(FormPayload("[1,2]")));
  EXPECT_FALSE(ParseSlackInteraction(FormPayload(R"({"type":"view_submission"})")));
  EXPECT_FALSE(ParseSlackInteraction(
      FormPayload(R"({"type":"block_actions","user":{"id":"U1"},"actions":[]})")));
  EXPECT_FALSE(ParseSlackInteraction(
      FormPayload(R"({"type":"block_actions","actions":[{"action_id":"a"}]})")));
  // Wrong types where strings are expected must not throw.
  EXPECT_FALSE(ParseSlackInteraction(
      FormPayload(R"({"type":"block_actions","user":7,"actions":[{"action_id":1}]})")));
}

TEST(SlashCommandTest, ParsesFieldsAndWords) {
  auto c = ParseSlashCommand(
      "token=x&team_id=T1&channel_id=C1&user_id=U1&user_name=olena&command=%2Ftocsin"
      "&text=ack++INC-42%0A&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2F1&trigger_id="
      "t");
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->command, "/tocsin");
  EXPECT_EQ(c->user_id, "U1");
  EXPECT_EQ(c->words, (std::vector<std::string>{"ack", "INC-42"}));
  EXPECT_EQ(c->response_url, "https://hooks.slack.com/commands/1");
  EXPECT_FALSE(ParseSlashCommand("text=ack"));
}

TEST(PagerDutyWebhookTest, ParsesAcknowledgement) {
  auto e = ParsePagerDutyWebhook(R"({"event":{
      "id": "01DEN4HPBQAAAG05V5QQYBRZMF", "event_type": "incident.acknowledged",
      "resource_type": "incident", "occurred_at": "2026-11-22T02:10:00.000Z",
      "agent": {"html_url": "https://acme.pagerduty.com/users/PLH1HKV", "id": "PLH1HKV",
                "self": "https://api.pagerduty.com/users/PLH1HKV", "summary": "Olena Kovalenko",
                "type": "user_reference"},
      "data": {"id": "PGR0VU2", "type": "incident", "status": "acknowledged",
               "incident_key": "tocsin/INC-42", "title": "Deposit success low"}}})");
  ASSERT_TRUE(e) << e.error().message();
  EXPECT_EQ(e->action, "acknowledge");
  EXPECT_EQ(e->incident_key, "tocsin/INC-42");
  EXPECT_EQ(e->actor, "Olena Kovalenko");
  EXPECT_EQ(e->delivery_id, "01DEN4HPBQAAAG05V5QQYBRZMF");  // the signed event id
}

TEST(PagerDutyWebhookTest, NullAgentAndUnknownTypes) {
  auto e = ParsePagerDutyWebhook(
      R"({"event":{"id":"E1","event_type":"incident.resolved","agent":null,"data":{"incident_key":"k"}}})");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->action, "resolve");
  EXPECT_EQ(e->actor, "");
  EXPECT_EQ(e->delivery_id, "E1");
  auto other = ParsePagerDutyWebhook(R"({"event":{"event_type":"service.updated"}})");
  ASSERT_TRUE(other);
  EXPECT_EQ(other->action, "other");
  EXPECT_FALSE(ParsePagerDutyWebhook("{"));
  EXPECT_FALSE(ParsePagerDutyWebhook(R"({"event":{}})"));
  EXPECT_FALSE(ParsePagerDutyWebhook(R"({"event":"x"})"));
}

TEST(PagerDutyWebhookTest, BodyWithoutAnEventIdIsKeyedByItsSignedBytes) {
  const std::string body = R"({"event":{"event_type":"incident.acknowledged"}})";
  auto e = ParsePagerDutyWebhook(body);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->delivery_id, "sha256:" + Sha256Hex(body));
  auto other = ParsePagerDutyWebhook(R"({"event":{"event_type":"incident.resolved"}})");
  ASSERT_TRUE(other);
  EXPECT_NE(other->delivery_id, e->delivery_id);
}

TEST(OpsgenieWebhookTest, ParsesCloseAndAck) {
  auto e =
      ParseOpsgenieWebhook(R"({"action":"Close","alert":{"alertId":"a1","alias":"tocsin/INC-42",
      "message":"Deposit success low","username":"olena@example.com","updatedAt":1795312400000},
      "source":{"name":"","type":"web"},"integrationName":"tocsin","integrationId":"i1"})");
  ASSERT_TRUE(e) << e.error().message();
  EXPECT_EQ(e->action, "resolve");
  EXPECT_EQ(e->incident_key, "tocsin/INC-42");
  EXPECT_EQ(e->actor, "olena@example.com");
  EXPECT_EQ(e->delivery_id, "a1/Close/1795312400000");
  const std::string ack_body = R"({"action":"Acknowledge","alert":{"alias":"k"}})";
  auto ack = ParseOpsgenieWebhook(ack_body);
  ASSERT_TRUE(ack);
  EXPECT_EQ(ack->action, "acknowledge");
  EXPECT_EQ(ack->delivery_id, "sha256:" + Sha256Hex(ack_body));  // no alertId nor updatedAt
  EXPECT_FALSE(ParseOpsgenieWebhook(R"({"action":"Close"})"));
  EXPECT_FALSE(ParseOpsgenieWebhook(R"({"alert":{}})"));
}

}  // namespace
}  // namespace tocsin::http

namespace tocsin::http {
namespace {

// Regression: reading a missing member through const json::operator[] is undefined behaviour
// (an assertion in debug builds); webhook bodies come from outside and may lack anything.
TEST(InboundParsersTest, MissingMembersAnywhereAreHandled) {
  for (const char* body : {R"({"event":{"event_type":"incident.acknowledged"}})",
                           R"({"event":{"event_type":"incident.annotated","data":7}})",
                           R"({"event":{"event_type":"incident.resolved","agent":"x"}})"}) {
    EXPECT_TRUE(ParsePagerDutyWebhook(body)) << body;
  }
  EXPECT_TRUE(
      ParseOpsgenieWebhook(R"({"action":"Acknowledge","alert":{"alias":"k","updatedAt":"x"}})"));
  EXPECT_FALSE(ParseSlackInteraction("payload=" + UrlEncode(R"({"type":"block_actions"})")));
}

}  // namespace
}  // namespace tocsin::http
