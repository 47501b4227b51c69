#include "tocsin/common/json.h"

#include <gtest/gtest.h>

#include <string>

#include "tocsin/common/json_fields.h"
#include "tocsin/common/text.h"

namespace tocsin {
namespace {

std::string Nested(int depth, char open, char close) {
  return std::string(static_cast<std::size_t>(depth), open) +
         std::string(static_cast<std::size_t>(depth), close);
}

TEST(ParseJsonTest, ParsesOrdinaryDocuments) {
  auto j = ParseJson(R"({"labels":{"service":"payments"},"list":[1,[2,[3]]]})");
  ASSERT_TRUE(j) << j.error().message();
  EXPECT_EQ((*j)["labels"]["service"], "payments");
  EXPECT_EQ((*j)["list"][1][1][0], 3);
}

// The bug: a POST whose `labels` nested 100,000 levels deep crashed the daemon.
TEST(ParseJsonTest, DeeplyNestedJsonIsRefusedWhileParsing) {
  std::string objects;
  for (int i = 0; i < 100000; ++i) objects += R"({"a":)";
  objects += "1" + std::string(100000, '}');
  for (const std::string& deep : {Nested(100000, '[', ']'), objects}) {
    auto j = ParseJson(deep);
    ASSERT_FALSE(j);
    EXPECT_EQ(j.error().kind(), Error::Kind::kInvalid);
    EXPECT_NE(j.error().message().find("deeper than 64"), std::string::npos) << j.error().message();
  }
}

TEST(ParseJsonTest, TheLimitIsExact) {
  EXPECT_TRUE(ParseJson(Nested(64, '[', ']')));
  EXPECT_FALSE(ParseJson(Nested(65, '[', ']')));
  EXPECT_TRUE(ParseJson(Nested(3, '[', ']'), 3));
  EXPECT_FALSE(ParseJson(Nested(4, '[', ']'), 3));
}

TEST(ParseJsonTest, MalformedJsonSaysWhere) {
  auto j = ParseJson(R"({"a": tru})");
  ASSERT_FALSE(j);
  EXPECT_NE(j.error().message().find("invalid JSON at byte"), std::string::npos)
      << j.error().message();
  EXPECT_FALSE(ParseJson(""));
  EXPECT_FALSE(ParseJson(R"({"a":1} trailing)"));
}

TEST(JsonAccessorsTest, MissingWrongTypeAndNonObjectReadAsEmpty) {
  auto j = nlohmann::json::parse(R"({"name":"pay","count":3,"nested":{"x":"y"},"null":null})");
  EXPECT_EQ(JsonString(j, "name"), "pay");
  EXPECT_EQ(JsonString(j, "count"), "");  // a number is not a string
  EXPECT_EQ(JsonString(j, "missing"), "");
  EXPECT_EQ(JsonString(j, "null"), "");
  EXPECT_EQ(JsonString(JsonMember(j, "nested"), "x"), "y");
  EXPECT_TRUE(JsonMember(j, "missing").is_null());
  EXPECT_TRUE(JsonMember(JsonMember(j, "missing"), "deeper").is_null());
  for (const char* text : {"[1,2]", "\"text\"", "42", "null"}) {
    auto other = nlohmann::json::parse(text);
    EXPECT_EQ(JsonString(other, "name"), "") << text;
    EXPECT_TRUE(JsonMember(other, "name").is_null()) << text;
  }
}

TEST(LabelsJsonTest, RoundTripsAndEscapes) {
  Labels labels{{"alertname", "Deposit\"Errors"}, {"psp", "ä\n"}, {"region", "eu"}};
  nlohmann::json j = LabelsToJson(labels);
  EXPECT_EQ(j.dump(), R"({"alertname":"Deposit\"Errors","psp":"ä\n","region":"eu"})");
  EXPECT_EQ(LabelsFromJson(j), labels);
  EXPECT_EQ(LabelsToJson(Labels()).dump(), "{}");
}

TEST(LabelsJsonTest, NonStringValuesAndNonObjectsAreLeftOut) {
  auto j = nlohmann::json::parse(R"({"a":"1","b":2,"c":null,"d":["x"],"e":""})");
  EXPECT_EQ(LabelsFromJson(j), (Labels{{"a", "1"}}));
  EXPECT_TRUE(LabelsFromJson(nlohmann::json::parse("[\"a\"]")).empty());
  EXPECT_TRUE(LabelsFromJson(nlohmann::json()).empty());
}

TEST(ParseJsonTest, ANumberOutOfRangeSaysSoInWords) {
  auto r = ParseJson(R"({"endsAt": 1e400})");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(),
            "invalid JSON: a number is out of range (the largest is about 1.8e308)");
}

TEST(DumpJsonTest, BytesThatAreNotUtf8BecomeReplacementCharactersInsteadOfAThrow) {
  nlohmann::json j = {{"text", std::string("caf\xe9")}};
  EXPECT_THROW((void)j.dump(), nlohmann::json::type_error);
  EXPECT_EQ(DumpJson(j), "{\"text\":\"caf\xef\xbf\xbd\"}");
  EXPECT_EQ(DumpJson(nlohmann::json{{"a", 1}}, 2), "{\n  \"a\": 1\n}");
}

TEST(Utf8Test, FirstInvalidUtf8IsTheLeadByteOfTheFirstBadSequence) {
  EXPECT_EQ(FirstInvalidUtf8("plain \xe2\x80\x94 dash"), std::string_view::npos);
  EXPECT_EQ(FirstInvalidUtf8("caf\xe9 au lait"), 3u);   // Latin-1 e-acute
  EXPECT_EQ(FirstInvalidUtf8("ok \xe2\x80"), 3u);       // cut short at the end
  EXPECT_EQ(FirstInvalidUtf8("\xc0\xaf"), 0u);          // overlong '/'
  EXPECT_EQ(FirstInvalidUtf8("a\xed\xa0\x80"), 1u);     // a surrogate
  EXPECT_EQ(FirstInvalidUtf8("\xe2\x80\x94\x96"), 3u);  // Windows-1252 dash after a good one
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_FALSE(IsValidUtf8("\xff"));
}

// Go's decoder reads half a surrogate pair as U+FFFD; a pair, other escapes, an escaped
// backslash before "u", and text outside strings are left as they are.
TEST(Utf8Test, LoneSurrogateEscapesBecomeReplacementEscapes) {
  EXPECT_EQ(ReplaceLoneSurrogateEscapes(R"(["\ud83d"])"), R"(["\ufffd"])");
  EXPECT_EQ(ReplaceLoneSurrogateEscapes(R"(["\uDC00x"])"), R"(["\ufffdx"])");
  EXPECT_EQ(ReplaceLoneSurrogateEscapes(R"(["\ud83d\ude00"])"), R"(["\ud83d\ude00"])");
  // A high half before another high half: the first is alone, the second pairs with its low.
  EXPECT_EQ(ReplaceLoneSurrogateEscapes(R"(["\ud83d\ud83d\ude00"])"), R"(["\ufffd\ud83d\ude00"])");
  EXPECT_EQ(ReplaceLoneSurrogateEscapes(R"(["\ud83d\u0041"])"), R"(["\ufffd\u0041"])");
  EXPECT_EQ(ReplaceLoneSurrogateEscapes(R"(["\\ud83d", "\"\ud83d"])"),
            R"(["\\ud83d", "\"\ufffd"])");
  EXPECT_EQ(ReplaceLoneSurrogateEscapes(R"({"k\ud800": 1})"), R"({"k\ufffd": 1})");
  // Cut short or not hex: left for the parser to refuse.
  EXPECT_EQ(ReplaceLoneSurrogateEscapes(R"(["\ud83)"), R"(["\ud83)");
  EXPECT_EQ(ReplaceLoneSurrogateEscapes(R"(["\ud8zz"])"), R"(["\ud8zz"])");
  EXPECT_EQ(ReplaceLoneSurrogateEscapes(R"(["a"] \ud83d)"), R"(["a"] \ud83d)");
}

}  // namespace
}  // namespace tocsin
