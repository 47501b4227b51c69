// A burst of POST /api/v2/alerts through the real HTTP server on loopback, with the intake
// queue and its parse thread as the daemon wires them: every answer is 2xx or 503 with
// Retry-After (never a 4xx: a full queue is not the request's fault), and every alert
// acknowledged with 2xx is in the dispatcher afterwards.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <future>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>

#include "dispatch/dispatch_test_util.h"
#include "fakes/memory_silence_store.h"
#include "tocsin/api/alertmanager_api.h"
#include "tocsin/common/asio_scheduler.h"
#include "tocsin/common/duration.h"
#include "tocsin/common/http_client.h"
#include "tocsin/common/system_clock.h"
#include "tocsin/common/worker_pool.h"
#include "tocsin/dispatch/alert_intake.h"
#include "tocsin/dispatch/logging_group_sink.h"
#include "tocsin/http/server.h"

namespace tocsin::dispatch {
namespace {

constexpr int kPosts = 1000;
constexpr int kAlertsPerPost = 100;
constexpr int kClients = 8;

struct BurstResult {
  int ok = 0;
  int retry_later = 0;  // 503 with Retry-After
  std::vector<std::string> unexpected;
  std::set<std::string> acknowledged;  // instance labels answered 2xx
  std::set<std::string> present;       // instance labels in the dispatcher afterwards
};

class IntakeBurstTest : public ::testing::Test {
 protected:
  void Start(AlertIntakeOptions options) {
    dispatcher_ = std::make_unique<Dispatcher>(scheduler_, sink_, silences_, registry_,
                                               testutil::LoadOrDie(testutil::kSlackOnlyConfig));
    intake_ = std::make_unique<AlertIntake>(*dispatcher_, scheduler_, *parser_, parse_, registry_,
                                            options);
    server_ = std::make_unique<http::Server>(io_, http::ServerOptions{}, registry_);
    auto router = testutil::RouterForEveryCaller();
    RegisterAlertmanagerApi(*router, *dispatcher_, silences_, clock_,
                            {"0.1.0", "abc", "today", clock_.Now()}, intake_.get());
    server_->SetRouter(router);
    ASSERT_TRUE(server_->Start());
    loop_ = std::thread([this] {
      auto guard = boost::asio::make_work_guard(io_);
      io_.run();
    });
  }
  void TearDown() override {
    if (loop_.joinable()) {
      boost::asio::post(io_, [this] { server_->Stop(); });
      io_.stop();
      loop_.join();
    }
    parser_.reset();  // joined before the intake it reports to goes
  }

  std::string Body(int post) const {
    std::string ends = FormatRfc3339(clock_.Now() + std::chrono::hours(1));
    std::string body = "[";
    for (int i = 0; i < kAlertsPerPost; ++i) {
      if (i) body += ",";
      body += fmt::format(
          R"({{"labels":{{"alertname":"Burst{}","service":"svc{}","instance":"p{}-a{}"}},)"
          R"("annotations":{{"summary":"burst"}},"endsAt":"{}"}})",
          post % 20, i % 10, post, i, ends);
    }
    return body + "]";
  }

  BurstResult Burst() {
    BurstResult out;
    std::mutex mu;
    std::atomic<int> next{0};
    std::vector<std::thread> clients;
    for (int c = 0; c < kClients; ++c) {
      clients.emplace_back([&] {
        CurlHttpClient client;
        for (int p = next++; p < kPosts; p = next++) {
          HttpClientRequest req;
          req.method = "POST";
          req.url = fmt::format("http://127.0.0.1:{}/api/v2/alerts", server_->port());
          req.headers.push_back({"Content-Type", "application/json"});
          req.body = Body(p);
          req.timeout = std::chrono::seconds(60);
          auto r = client.Send(req);
          std::lock_guard lock(mu);
          if (!r) {
            out.unexpected.push_back(fmt::format("post {}: {}", p, r.error().message()));
            continue;
          }
          bool retry_after = false;
          for (const auto& [k, v] : r->headers) {
            if (strcasecmp(k.c_str(), "Retry-After") == 0 && !v.empty()) retry_after = true;
          }
          if (r->status / 100 == 2) {
            ++out.ok;
            for (int i = 0; i < kAlertsPerPost; ++i) {
              out.acknowledged.insert(fmt::format("p{}-a{}", p, i));
            }
          } else if (r->status == 503 && retry_after) {
            ++out.retry_later;
          } else {
            out.unexpected.push_back(fmt::format("post {}: {} {}", p, r->status, r->body));
          }
        }
      });
    }
    for (auto& t : clients) t.join();
    std::promise<std::set<std::string>> present;
    boost::asio::post(io_, [&] {
      std::set<std::string> s;
      dispatcher_->ForEachActiveAlert(
          clock_.Now(), [&](Fingerprint, const StoredAlert& a, const std::vector<std::string>&) {
            s.insert(std::string(a.labels().GetOr("instance")));
          });
      present.set_value(std::move(s));
    });
    out.present = present.get_future().get();
    return out;
  }

  boost::asio::io_context io_;
  SystemClock clock_;
  AsioScheduler scheduler_{io_, clock_};
  LoggingGroupSink sink_;
  fakes::MemorySilenceStore store_;
  Silences silences_{store_};
  prometheus::Registry registry_;
  std::unique_ptr<Dispatcher> dispatcher_;
  std::unique_ptr<AlertIntake> intake_;
  std::unique_ptr<Executor> parser_ = std::make_unique<WorkerPool>(1);
  AlertIntake::Parser parse_ = ParsePostedAlerts;
  std::unique_ptr<http::Server> server_;
  std::thread loop_;
};

TEST_F(IntakeBurstTest, ThousandPostsOfAHundredAlertsAreAllTakenWithTheDefaultQueue) {
  Start({});
  auto r = Burst();
  EXPECT_TRUE(r.unexpected.empty())
      << r.unexpected.size() << " unexpected answers, first: " << r.unexpected.front();
  EXPECT_EQ(r.ok, kPosts) << r.retry_later << " answered 503 with the default queue";
  EXPECT_EQ(r.acknowledged.size(), static_cast<std::size_t>(kPosts * kAlertsPerPost));
  for (const auto& inst : r.acknowledged) {
    ASSERT_TRUE(r.present.count(inst)) << "acknowledged alert " << inst << " was lost";
  }
}

TEST_F(IntakeBurstTest, AFullQueueAnswers503WithRetryAfterAndLosesNothingItAcknowledged) {
  // One batch at a time: the other clients' batches meet a full queue.
  Start({.queue_batches = 1});
  auto r = Burst();
  EXPECT_TRUE(r.unexpected.empty())
      << r.unexpected.size() << " unexpected answers, first: " << r.unexpected.front();
  EXPECT_EQ(r.ok + r.retry_later, kPosts);
  EXPECT_GT(r.retry_later, 0) << "8 clients never met a one-batch queue full";
  EXPECT_GT(r.ok, 0);
  for (const auto& inst : r.acknowledged) {
    ASSERT_TRUE(r.present.count(inst)) << "acknowledged alert " << inst << " was lost";
  }
  // A refused batch changed nothing: only acknowledged alerts are there.
  EXPECT_EQ(r.present.size(), r.acknowledged.size());
}

// A parser that throws (a bug in tocsin) must still complete its batch: left unparsed, it held
// every later batch behind it for ever, and a reload would wait for it on the loop. Parsed
// inline (a small batch with nothing ahead) it gets the same answer, from the same code.
class ThrowingParserTest : public IntakeBurstTest {
 protected:
  void ExpectPoisonIs500AndTheNextBatchTaken(AlertIntakeOptions options) {
    parse_ = [](std::string_view body, TimePoint now, Duration resolve_timeout,
                std::vector<std::string>& errors) {
      if (body.find("Poison") != std::string_view::npos) throw std::runtime_error("parser bug");
      return ParsePostedAlerts(body, now, resolve_timeout, errors);
    };
    Start(options);
    CurlHttpClient client;
    auto post = [&](const std::string& alertname) {
      HttpClientRequest req;
      req.method = "POST";
      req.url = fmt::format("http://127.0.0.1:{}/api/v2/alerts", server_->port());
      req.headers.push_back({"Content-Type", "application/json"});
      req.body = fmt::format(R"([{{"labels":{{"alertname":"{}"}}}}])", alertname);
      req.timeout = std::chrono::seconds(10);
      return client.Send(req);
    };
    auto poisoned = post("Poison");
    ASSERT_TRUE(poisoned) << poisoned.error().message();
    EXPECT_EQ(poisoned->status, 500);
    EXPECT_EQ(poisoned->body, "\"tocsin failed to parse the batch: parser bug\"");
    auto next = post("DepositErrors");
    ASSERT_TRUE(next) << next.error().message();
    EXPECT_EQ(next->status, 200) << next->body;
  }
};

TEST_F(ThrowingParserTest, OnTheParseThread) {
  ExpectPoisonIs500AndTheNextBatchTaken({.inline_parse_bytes = 0});
}

TEST_F(ThrowingParserTest, InlineOnTheLoop) { ExpectPoisonIs500AndTheNextBatchTaken({}); }

}  // namespace
}  // namespace tocsin::dispatch
