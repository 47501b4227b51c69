// The Prometheus HTTP API client: every result type, special values, every error envelope as a
// typed error, and the request it sends (form POST, auth, headers, timeout).
#include "tocsin/source/prometheus_client.h"

#include <gtest/gtest.h>

#include <cmath>

namespace tocsin::source {
namespace {

TEST(PrometheusParseTest, VectorWithLabelsAndSpecialValues) {
  auto r = ParsePrometheusResponse(200, R"({"status":"success","data":{"resultType":"vector",
    "result":[{"metric":{"psp":"PSP-A","market":"DE"},"value":[1700000000.5,"0.25"]},
              {"metric":{"psp":"PSP-B"},"value":[1700000000.5,"NaN"]},
              {"metric":{"psp":"PSP-C"},"value":[1700000000.5,"+Inf"]},
              {"metric":{"psp":"PSP-D"},"value":[1700000000.5,"-Inf"]}]}})");
  ASSERT_TRUE(r) << r.error().ToString();
  ASSERT_EQ(r->type, ResultType::kVector);
  ASSERT_EQ(r->vector.size(), 4u);
  EXPECT_EQ(r->vector[0].metric.GetOr("psp"), "PSP-A");
  EXPECT_EQ(r->vector[0].metric.GetOr("market"), "DE");
  EXPECT_DOUBLE_EQ(r->vector[0].value, 0.25);
  EXPECT_EQ(ToUnixMillis(r->vector[0].t), 1700000000500);
  EXPECT_TRUE(std::isnan(r->vector[1].value));
  EXPECT_TRUE(std::isinf(r->vector[2].value) && r->vector[2].value > 0);
  EXPECT_TRUE(std::isinf(r->vector[3].value) && r->vector[3].value < 0);
}

TEST(PrometheusParseTest, ScalarMatrixStringAndWarnings) {
  auto s = ParsePrometheusResponse(
      200, R"({"status":"success","data":{"resultType":"scalar","result":[10,"3.5"]}})");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->type, ResultType::kScalar);
  ASSERT_EQ(s->vector.size(), 1u);
  EXPECT_DOUBLE_EQ(s->vector[0].value, 3.5);

  auto m = ParsePrometheusResponse(200, R"({"status":"success","warnings":["partial"],
    "data":{"resultType":"matrix","result":[{"metric":{"a":"b"},"values":[[1,"1"],[2,"NaN"]]}]}})");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->type, ResultType::kMatrix);
  ASSERT_EQ(m->matrix.size(), 1u);
  ASSERT_EQ(m->matrix[0].points.size(), 2u);
  EXPECT_TRUE(std::isnan(m->matrix[0].points[1].second));
  EXPECT_EQ(m->warnings, std::vector<std::string>{"partial"});

  auto str = ParsePrometheusResponse(
      200, R"({"status":"success","data":{"resultType":"string","result":[1,"hello"]}})");
  ASSERT_TRUE(str);
  EXPECT_EQ(str->string_value, "hello");
}

TEST(PrometheusParseTest, EveryErrorEnvelopeBecomesATypedError) {
  struct Case {
    long status;
    const char* type;
    Error::Kind kind;
  };
  for (const auto& c :
       {Case{400, "bad_data", Error::Kind::kInvalid}, Case{422, "execution", Error::Kind::kInvalid},
        Case{499, "canceled", Error::Kind::kTransient},
        Case{503, "timeout", Error::Kind::kTransient},
        Case{500, "internal", Error::Kind::kTransient},
        Case{404, "not_found", Error::Kind::kNotFound},
        Case{503, "unavailable", Error::Kind::kTransient}}) {
    std::string body = std::string(R"({"status":"error","errorType":")") + c.type +
                       R"(","error":"parse error at char 5"})";
    auto r = ParsePrometheusResponse(c.status, body);
    ASSERT_FALSE(r) << c.type;
    EXPECT_EQ(r.error().kind(), c.kind) << c.type;
    EXPECT_NE(r.error().message().find(c.type), std::string::npos) << r.error().message();
    EXPECT_NE(r.error().message().find("parse error at char 5"), std::string::npos);
  }
}

TEST(PrometheusParseTest, NonPrometheusAnswersAreErrorsNotCrashes) {
  EXPECT_EQ(ParsePrometheusResponse(502, "<html>bad gateway</html>").error().kind(),
            Error::Kind::kTransient);
  EXPECT_EQ(ParsePrometheusResponse(401, "unauthorized").error().kind(),
            Error::Kind::kUnauthorized);
  EXPECT_EQ(ParsePrometheusResponse(200, "<html>").error().kind(), Error::Kind::kPermanent);
  EXPECT_FALSE(ParsePrometheusResponse(200, R"({"status":"success"})"));
  EXPECT_FALSE(ParsePrometheusResponse(
      200, R"({"status":"success","data":{"resultType":"vector","result":[{"value":[1,2]}]}})"));
  EXPECT_FALSE(ParsePrometheusResponse(
      200, R"({"status":"success","data":{"resultType":"matrix","result":[{"values":7}]}})"));
  EXPECT_FALSE(ParsePrometheusResponse(
      200, R"({"status":"success","data":{"resultType":"histogram","result":[]}})"));
  EXPECT_FALSE(ParsePrometheusResponse(200, "[]"));
  EXPECT_FALSE(ParsePrometheusResponse(200, ""));
}

TEST(PrometheusParseTest, SampleValues) {
  EXPECT_DOUBLE_EQ(*ParseSampleValue("1e-3"), 0.001);
  EXPECT_DOUBLE_EQ(*ParseSampleValue("+2"), 2);
  EXPECT_FALSE(ParseSampleValue("abc"));
  EXPECT_FALSE(ParseSampleValue(""));
  EXPECT_FALSE(ParseSampleValue("1.5x"));
}

class RecordingHttpClient final : public HttpClient {
 public:
  Result<HttpClientResponse> Send(const HttpClientRequest& request) override {
    requests.push_back(request);
    if (fail) return Fail(Error::Transient("connect: connection refused"));
    HttpClientResponse r;
    r.status = status;
    r.body = body;
    return r;
  }
  std::vector<HttpClientRequest> requests;
  long status = 200;
  std::string body = R"({"status":"success","data":{"resultType":"vector","result":[]}})";
  bool fail = false;
};

std::string HeaderOf(const HttpClientRequest& r, const std::string& name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return "";
}

TEST(PrometheusClientTest, InstantQueryIsAFormPostWithTimeAuthAndHeaders) {
  auto http = std::make_shared<RecordingHttpClient>();
  config::SourceConfig cfg;
  cfg.name = "prom";
  cfg.url = "http://127.0.0.1:9090/";
  cfg.timeout = std::chrono::seconds(5);
  cfg.bearer_token = "s3cret-token";
  cfg.headers = {{"X-Scope-OrgID", "casino"}};
  cfg.tls_ca_file = "/etc/ssl/ca.pem";
  PrometheusClient client(cfg, http);
  auto r = client.Query("sum(rate(x[5m])) / 2", FromUnixMillis(1700000000250));
  ASSERT_TRUE(r);
  ASSERT_EQ(http->requests.size(), 1u);
  const auto& req = http->requests[0];
  EXPECT_EQ(req.method, "POST");
  EXPECT_EQ(req.url, "http://127.0.0.1:9090/api/v1/query");
  EXPECT_EQ(HeaderOf(req, "Content-Type"), "application/x-www-form-urlencoded");
  EXPECT_EQ(HeaderOf(req, "Authorization"), "Bearer s3cret-token");
  EXPECT_EQ(HeaderOf(req, "X-Scope-OrgID"), "casino");
  EXPECT_EQ(req.timeout, std::chrono::seconds(5));
  EXPECT_EQ(req.tls_ca_file, "/etc/ssl/ca.pem");
  EXPECT_NE(req.body.find("query=sum%28rate%28x%5B5m%5D%29%29%20%2F%202"), std::string::npos)
      << req.body;
  EXPECT_NE(req.body.find("time=1700000000.250"), std::string::npos) << req.body;
}

TEST(PrometheusClientTest, RangeQueryAndBasicAuth) {
  auto http = std::make_shared<RecordingHttpClient>();
  http->body = R"({"status":"success","data":{"resultType":"matrix","result":[]}})";
  config::SourceConfig cfg;
  cfg.name = "prom";
  cfg.url = "https://prom.example.com";
  cfg.basic_auth = config::BasicAuth{"ops", "pw"};
  PrometheusClient client(cfg, http);
  auto r =
      client.QueryRange("up", FromUnixMillis(0), FromUnixMillis(3600000), std::chrono::seconds(30));
  ASSERT_TRUE(r);
  const auto& req = http->requests[0];
  EXPECT_EQ(req.url, "https://prom.example.com/api/v1/query_range");
  EXPECT_EQ(req.basic_user, "ops");
  EXPECT_EQ(req.basic_password, "pw");
  EXPECT_NE(req.body.find("step=30s"), std::string::npos) << req.body;
  EXPECT_NE(req.body.find("end=3600.000"), std::string::npos) << req.body;
}

TEST(PrometheusClientTest, UnreachableAndErrorEnvelopesNameTheSourceWithoutSecrets) {
  auto http = std::make_shared<RecordingHttpClient>();
  http->fail = true;
  config::SourceConfig cfg;
  cfg.name = "prom";
  cfg.url = "http://127.0.0.1:9090";
  cfg.bearer_token = "s3cret-token";
  PrometheusClient client(cfg, http);
  auto r = client.Query("up", FromUnixMillis(0));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind(), Error::Kind::kTransient);
  EXPECT_NE(r.error().message().find("source prom unreachable"), std::string::npos);
  EXPECT_EQ(r.error().message().find("s3cret"), std::string::npos);

  http->fail = false;
  http->status = 400;
  http->body = R"({"status":"error","errorType":"bad_data","error":"unknown function"})";
  auto bad = client.Query("nope(", FromUnixMillis(0));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().kind(), Error::Kind::kInvalid);
  EXPECT_NE(bad.error().message().find("bad_data"), std::string::npos);
}

}  // namespace
}  // namespace tocsin::source
