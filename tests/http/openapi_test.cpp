// docs/openapi.yaml is what tools generate clients from: it must load, its references must
// resolve, and every endpoint docs/api.md names must be in it with the same method.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <cctype>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

namespace tocsin::http {
namespace {

const std::string kDocs = std::string(TOCSIN_SOURCE_DIR) + "/docs/";

YAML::Node LoadSpec() { return YAML::LoadFile(kDocs + "openapi.yaml"); }

// Follows "#/components/schemas/X"; an undefined node means a dangling reference.
bool Resolves(const YAML::Node& spec, const std::string& ref) {
  if (ref.rfind("#/", 0) != 0) return false;
  YAML::Node node = YAML::Clone(spec);
  std::stringstream parts(ref.substr(2));
  std::string part;
  while (std::getline(parts, part, '/')) {
    if (!node.IsMap() || !node[part]) return false;
    node = node[part];
  }
  return true;
}

void CollectRefs(const YAML::Node& node, std::vector<std::string>& out) {
  if (node.IsMap()) {
    for (const auto& kv : node) {
      if (kv.first.as<std::string>() == "$ref") out.push_back(kv.second.as<std::string>());
      CollectRefs(kv.second, out);
    }
  } else if (node.IsSequence()) {
    for (const auto& n : node) CollectRefs(n, out);
  }
}

TEST(OpenApiTest, LoadsAsOpenApi3WithBearerSecurity) {
  YAML::Node spec;
  ASSERT_NO_THROW(spec = LoadSpec());
  EXPECT_EQ(spec["openapi"].as<std::string>().rfind("3.0", 0), 0u);
  EXPECT_EQ(spec["components"]["securitySchemes"]["bearer"]["type"].as<std::string>(), "http");
  EXPECT_EQ(spec["components"]["securitySchemes"]["bearer"]["scheme"].as<std::string>(), "bearer");
  EXPECT_EQ(spec["security"][0]["bearer"].size(), 0u);
  ASSERT_TRUE(spec["paths"].IsMap());
  for (const auto& path : spec["paths"]) {
    for (const auto& op : path.second) {
      std::string method = op.first.as<std::string>();
      if (method == "parameters") continue;
      EXPECT_TRUE(op.second["responses"].IsMap())
          << path.first.as<std::string>() << " " << method << " has no responses";
    }
  }
}

TEST(OpenApiTest, EveryReferenceResolves) {
  auto spec = LoadSpec();
  std::vector<std::string> refs;
  CollectRefs(spec, refs);
  EXPECT_GT(refs.size(), 10u);
  for (const auto& ref : refs) EXPECT_TRUE(Resolves(spec, ref)) << ref;
}

TEST(OpenApiTest, EveryEndpointOfApiMdIsDescribed) {
  auto spec = LoadSpec();
  std::ifstream in(kDocs + "api.md");
  std::string md((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_FALSE(md.empty());
  std::set<std::pair<std::string, std::string>> endpoints;
  std::regex method_path(R"((GET|POST|PUT|DELETE) (/[A-Za-z0-9_{}/.-]*))");
  for (std::sregex_iterator it(md.begin(), md.end(), method_path), end; it != end; ++it) {
    endpoints.emplace((*it)[1].str(), (*it)[2].str());
  }
  // The endpoints of the authentication table.
  for (const char* p :
       {"/slack/interactivity", "/slack/command", "/webhooks/pagerduty", "/webhooks/opsgenie",
        "/webhooks/jsm", "/webhooks/twilio/sms", "/webhooks/twilio/voice", "/-/reload"}) {
    endpoints.emplace("POST", p);
  }
  for (const char* p : {"/healthz", "/readyz", "/metrics"}) endpoints.emplace("GET", p);
  EXPECT_GE(endpoints.size(), 16u);
  for (const auto& [method, path] : endpoints) {
    // The Alertmanager-compatible API is described by the dispatch module that serves it.
    if (path.rfind("/api/v2/", 0) == 0) continue;
    std::string lower = method;
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    EXPECT_TRUE(spec["paths"][path] && spec["paths"][path][lower])
        << method << " " << path << " is in docs/api.md but not in docs/openapi.yaml";
  }
}

}  // namespace
}  // namespace tocsin::http
