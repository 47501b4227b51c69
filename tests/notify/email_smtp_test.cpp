// E-mail against a real SMTP server process (Debian's aiosmtpd, tests/fakes/smtp), on a
// loopback port, with STARTTLS on a throwaway self-signed certificate and AUTH only after it:
// what crosses the wire, byte for byte, and what never does (a password in clear text).
#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "notify/notifier_factory.h"
#include "notify/providers/email/email_notifier.h"
#include "notify/providers/email/smtp_transport.h"
#include "notify_fixtures.h"
#include "support/process.h"
#include "support/temp_dir.h"
#include "tocsin/common/crypto.h"
#include "tocsin/common/log.h"

namespace tocsin::notify {
namespace {

using nlohmann::json;
using tocsin::testing::Process;
using tocsin::testing::TempDir;

constexpr const char* kUser = "tocsin-pager";
constexpr const char* kPassword = "smtpS3CR3Tpass";

std::string Unhex(const std::string& hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
  }
  return out;
}

// RFC 5321 4.5.2 done by hand, independently of libcurl: one extra "." before each line that
// starts with one, then the end-of-data line.
std::string StuffedOnce(const std::string& data) {
  std::string out;
  std::size_t start = 0;
  while (start < data.size()) {
    std::size_t end = data.find("\r\n", start);
    std::string line = data.substr(start, end - start);
    if (!line.empty() && line[0] == '.') out += '.';
    out += line + "\r\n";
    start = end + 2;
  }
  return out + ".\r\n";
}

bool AiosmtpdInstalled() {
  std::string cmd = std::string(TOCSIN_SMTP_PYTHON) + " -c 'import aiosmtpd' 2>/dev/null";
  return std::system(cmd.c_str()) == 0;
}

// One run of tests/fakes/smtp/smtp_server.py. Stop() ends it and returns what it recorded.
class SmtpServer {
 public:
  struct Options {
    bool starttls = true;
    bool auth = true;  // require AUTH with kUser/kPassword (offered after STARTTLS only...)
    bool auth_in_clear = false;  // ...or offered in clear text too, as a STARTTLS stripper would
  };

  SmtpServer(const TempDir& dir, const std::string& cert, const std::string& key, Options o)
      : port_file_(dir.path() + "/smtp.port"), record_file_(dir.path() + "/smtp.jsonl") {
    std::vector<std::string> argv = {
        TOCSIN_SMTP_PYTHON, std::string(TOCSIN_SOURCE_DIR) + "/tests/fakes/smtp/smtp_server.py",
        "--port-file",      port_file_,
        "--record",         record_file_};
    if (o.starttls) argv.insert(argv.end(), {"--cert", cert, "--key", key});
    if (o.auth) argv.insert(argv.end(), {"--user", kUser, "--password", kPassword});
    if (o.auth_in_clear) argv.push_back("--auth-in-clear");
    process_ =
        std::make_unique<Process>(argv, std::vector<std::string>{}, dir.path() + "/smtp.log");
    // Waiting for another process to listen: there is no timer to advance here.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!std::filesystem::exists(port_file_) && process_->running() &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    std::ifstream(port_file_) >> port_;
  }

  unsigned short port() const { return port_; }
  std::string url() const { return "smtp://127.0.0.1:" + std::to_string(port_); }

  // Every recorded event, once the server has seen every connection close.
  std::vector<json> Stop() {
    process_->Signal(SIGTERM);
    auto status = process_->Wait(std::chrono::seconds(20));
    EXPECT_EQ(status, std::optional<int>(0)) << "the SMTP test server did not stop cleanly";
    std::vector<json> events;
    std::ifstream in(record_file_);
    for (std::string line; std::getline(in, line);) events.push_back(json::parse(line));
    return events;
  }

 private:
  std::string port_file_;
  std::string record_file_;
  std::unique_ptr<Process> process_;
  unsigned short port_ = 0;
};

std::vector<json> Of(const std::vector<json>& events, const std::string& kind) {
  std::vector<json> out;
  for (const auto& e : events) {
    if (e["event"] == kind) out.push_back(e);
  }
  return out;
}

class EmailSmtp : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!AiosmtpdInstalled()) {
      GTEST_SKIP() << TOCSIN_SMTP_PYTHON
                   << " cannot import aiosmtpd: install Debian's python3-aiosmtpd "
                      "(scripts/bootstrap does) to run the real-SMTP-server tests";
    }
    // A throwaway self-signed certificate for 127.0.0.1: its own CA.
    cert_ = dir_.path() + "/cert.pem";
    key_ = dir_.path() + "/key.pem";
    Process openssl(
        {"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", key_, "-out", cert_, "-days", "2", "-subj", "/CN=tocsin test SMTP",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"},
        {}, dir_.path() + "/openssl.log");
    ASSERT_EQ(openssl.Wait(std::chrono::seconds(30)), std::optional<int>(0));
    log::AddSecret(kPassword);  // as the config loader does for every secret
  }
  void TearDown() override {
    log::ClearSecrets();
    log::Setup(log::Format::kText, spdlog::level::info);
  }

  config::EmailConfig Config(const SmtpServer& server, bool credentials = true) const {
    config::EmailConfig c;
    c.smtp_url = server.url();
    c.from = "tocsin@example.com";
    if (credentials) {
      c.username = kUser;
      c.password = kPassword;
    }
    c.tls_ca_file = cert_;
    return c;
  }

  // A notifier whose message body is `details` (via a details template).
  std::shared_ptr<EmailNotifier> Notifier(const config::EmailConfig& c,
                                          const std::string& details = "Deposits failing\n") {
    RenderOptions ro;
    ro.templates_dir = dir_.path() + "/templates";
    dir_.Write("templates/details.mustache", details);
    auto renderer = PageRenderer::Create(ro);
    EXPECT_TRUE(renderer) << renderer.error().message();
    return std::make_shared<EmailNotifier>(c, *renderer, std::make_shared<CurlSmtpTransport>(c));
  }

  static OutboxItem Item() {
    OutboxItem item;
    item.id = 1;
    item.channel = item.original_channel = incident::Channel::kEmail;
    item.kind = "page";
    item.target = "olena@example.com";
    item.request = testing::DepositPage();
    return item;
  }

  // Neither the password nor an AUTH exchange that could carry it crossed in clear text.
  static void ExpectNoCredentialsInClear(const std::vector<json>& events) {
    std::string plain = std::string("\0", 1) + kUser + std::string("\0", 1) + kPassword;
    for (const auto& c : Of(events, "connection")) {
      std::string clear = Unhex(c["cleartext_hex"]);
      EXPECT_EQ(clear.find(kPassword), std::string::npos) << clear;
      EXPECT_EQ(clear.find(Base64Encode(kPassword)), std::string::npos) << clear;
      EXPECT_EQ(clear.find(Base64Encode(plain)), std::string::npos) << clear;
      EXPECT_EQ(clear.find("AUTH"), std::string::npos) << clear;
      for (const auto& a : c["auth_attempts"]) EXPECT_TRUE(a["tls"].get<bool>()) << a.dump();
    }
  }

  TempDir dir_;
  std::string cert_;
  std::string key_;
};

// The Subject header of a message whose subject template is `subject`; no server needed.
std::string SubjectHeader(const std::string& subject) {
  TempDir dir;
  dir.Write("templates/email_subject.mustache", subject);
  RenderOptions ro;
  ro.templates_dir = dir.path() + "/templates";
  auto renderer = PageRenderer::Create(ro);
  EXPECT_TRUE(renderer) << renderer.error().message();
  config::EmailConfig c;
  c.smtp_url = "smtp://127.0.0.1:1";
  c.from = "tocsin@example.com";
  EmailNotifier notifier(c, *renderer, std::make_shared<CurlSmtpTransport>(c));
  OutboxItem item;
  item.channel = item.original_channel = incident::Channel::kEmail;
  item.target = "olena@example.com";
  item.request = testing::DepositPage();
  std::string data = notifier.BuildMessage(item).data;
  auto start = data.find("\r\nSubject: ");
  auto end = data.find("\r\nDate: ");
  EXPECT_NE(start, std::string::npos);
  EXPECT_NE(end, std::string::npos);
  return data.substr(start + 11, end - start - 11);
}

TEST(EmailHeaders, NonAsciiSubjectIsOneEncodedWord) {
  // Expected value from Python's base64 module.
  EXPECT_EQ(SubjectHeader("Zahlungen in Köln fallen aus"),
            "=?UTF-8?B?WmFobHVuZ2VuIGluIEvDtmxuIGZhbGxlbiBhdXM=?=");
  EXPECT_EQ(SubjectHeader("Deposits failing in eu-west"), "Deposits failing in eu-west");
}

// Regression: a long non-ASCII subject went out as one encoded word of any length, where RFC
// 2047 allows 75 characters; some clients then showed the raw "=?UTF-8?B?..." text.
TEST(EmailHeaders, LongNonAsciiSubjectIsFoldedIntoShortWordsOfWholeCharacters) {
  // Expected value checked with Python's email.header.decode_header (decodes to the subject)
  // and base64 module (each word decodes to whole UTF-8 characters).
  std::string header =
      SubjectHeader("Депозиты в Köln не проходят: PSP отвечает 503 уже десять минут");
  EXPECT_EQ(header,
            "=?UTF-8?B?0JTQtdC/0L7Qt9C40YLRiyDQsiBLw7ZsbiDQvdC1INC/0YDQvtGF0L7QtNGP?=\r\n "
            "=?UTF-8?B?0YI6IFBTUCDQvtGC0LLQtdGH0LDQtdGCIDUwMyDRg9C20LUg0LTQtdGB0Y8=?=\r\n "
            "=?UTF-8?B?0YLRjCDQvNC40L3Rg9GC?=");
  for (std::size_t start = 0, end; start < header.size(); start = end + 3) {
    end = header.find("\r\n ", start);
    if (end == std::string::npos) end = header.size();
    EXPECT_LE(end - start, 75u);
  }
}

// Regression: tocsin dot-stuffed the body and libcurl stuffed it again, so a line ".x" reached
// the reader as "..x".
TEST_F(EmailSmtp, LeadingDotLinesAreStuffedExactlyOnce) {
  SmtpServer server(dir_, cert_, key_, {});
  ASSERT_NE(server.port(), 0);
  auto notifier = Notifier(Config(server), ".x\n..y\n.\nend of page\n...\n");
  auto item = Item();
  std::string expected = notifier->BuildMessage(item).data;
  ASSERT_NE(expected.find("\r\n\r\n.x\r\n..y\r\n.\r\nend of page\r\n...\r\n"), std::string::npos)
      << expected;

  auto r = notifier->Deliver(item);
  EXPECT_TRUE(r.ok()) << r.detail;
  auto events = server.Stop();
  auto messages = Of(events, "message");
  ASSERT_EQ(messages.size(), 1u) << json(events).dump();
  const json& m = messages[0];
  // What the server's mailbox holds is exactly what tocsin composed...
  EXPECT_EQ(Unhex(m["content_hex"]), expected);
  // ...because each leading dot was doubled once on the wire, no more.
  EXPECT_EQ(Unhex(m["wire_hex"]), StuffedOnce(expected));
  EXPECT_NE(Unhex(m["wire_hex"]).find("\r\n..x\r\n...y\r\n..\r\nend of page\r\n....\r\n"),
            std::string::npos);
  EXPECT_EQ(m["mail_from"], "tocsin@example.com");
  EXPECT_EQ(m["rcpt_tos"], json::array({"olena@example.com"}));
  EXPECT_TRUE(m["tls"].get<bool>());
  EXPECT_EQ(m["auth_user"], kUser);
}

std::string QuotedPrintableDecoded(const std::string& qp) {
  std::string out;
  for (std::size_t i = 0; i < qp.size(); ++i) {
    if (qp[i] != '=') {
      out += qp[i];
    } else if (qp.compare(i + 1, 2, "\r\n") == 0) {
      i += 2;  // soft line break
    } else {
      out += static_cast<char>(std::stoi(qp.substr(i + 1, 2), nullptr, 16));
      i += 2;
    }
  }
  return out;
}

// Regression: a body line over 998 octets (a long annotation) made servers refuse the page
// with "500 Line too long".
TEST_F(EmailSmtp, OverlongBodyLinesAreSentQuotedPrintable) {
  SmtpServer server(dir_, cert_, key_, {});
  std::string line;
  for (int i = 0; i < 300; ++i) line += "Депозит = 1 ";  // 4,500 octets, "=" and UTF-8
  std::string details = ".first\n" + line + "\nlast line \n";
  auto r = Notifier(Config(server), details)->Deliver(Item());
  EXPECT_TRUE(r.ok()) << r.detail;
  auto messages = Of(server.Stop(), "message");
  ASSERT_EQ(messages.size(), 1u);
  std::string content = Unhex(messages[0]["content_hex"]);
  auto split = content.find("\r\n\r\n");
  ASSERT_NE(split, std::string::npos);
  EXPECT_NE(content.substr(0, split).find("Content-Transfer-Encoding: quoted-printable"),
            std::string::npos);
  std::string body = content.substr(split + 4);
  for (std::size_t start = 0, end; (end = body.find("\r\n", start)) != std::string::npos;
       start = end + 2) {
    EXPECT_LE(end - start, 76u);
  }
  EXPECT_EQ(QuotedPrintableDecoded(body), ".first\r\n" + line + "\r\nlast line \r\n\r\n");
}

// An alert's label or annotation may carry control characters (JSON's "\u0000" is valid):
// none reaches a header, and no NUL reaches the body, where gateways refuse the message for it
// (before, the page was refused for good). The test server refuses a NUL as they do.
TEST_F(EmailSmtp, ControlCharactersOfAnAlertNeverCostThePage) {
  using namespace std::string_literals;
  EXPECT_EQ(SubjectHeader("PSP\0A\x1b[31m down\x7f\tnow"s), "PSP A [31m down \tnow");
  SmtpServer server(dir_, cert_, key_, {});
  auto r = Notifier(Config(server), "Deposits\0failing \x1b[31mred\x1b[0m\n"s)->Deliver(Item());
  EXPECT_TRUE(r.ok()) << r.detail;
  auto messages = Of(server.Stop(), "message");
  ASSERT_EQ(messages.size(), 1u);
  std::string content = Unhex(messages[0]["content_hex"]);
  EXPECT_EQ(content.find('\0'), std::string::npos);
  EXPECT_NE(content.find("\r\n\r\nDeposits failing \x1b[31mred\x1b[0m\r\n"), std::string::npos)
      << content;
}

TEST_F(EmailSmtp, CredentialsOverStartTlsAuthenticate) {
  SmtpServer server(dir_, cert_, key_, {});
  auto r = Notifier(Config(server))->Deliver(Item());
  EXPECT_TRUE(r.ok()) << r.detail;
  auto events = server.Stop();
  ASSERT_EQ(Of(events, "message").size(), 1u) << json(events).dump();
  auto conns = Of(events, "connection");
  ASSERT_EQ(conns.size(), 1u);
  EXPECT_TRUE(conns[0]["starttls"].get<bool>());
  ASSERT_EQ(conns[0]["auth_attempts"].size(), 1u);
  EXPECT_TRUE(conns[0]["auth_attempts"][0]["ok"].get<bool>());
  EXPECT_EQ(conns[0]["auth_attempts"][0]["login"], kUser);
  ExpectNoCredentialsInClear(events);
}

// Regression: CURLUSESSL_TRY sent the password in clear text to a server without STARTTLS.
TEST_F(EmailSmtp, PasswordNeverCrossesToAServerWithoutStartTls) {
  std::vector<std::string> lines;
  log::Setup(log::Format::kText, spdlog::level::debug,
             [&lines](std::string_view l) { lines.emplace_back(l); });
  // No STARTTLS but AUTH offered in clear: what a man in the middle stripping STARTTLS shows.
  SmtpServer server(dir_, cert_, key_, {.starttls = false, .auth = true, .auth_in_clear = true});
  auto r = Notifier(Config(server))->Deliver(Item());
  EXPECT_EQ(r.outcome, DeliveryResult::Outcome::kPermanent) << r.detail;
  EXPECT_NE(r.detail.find("did not offer STARTTLS"), std::string::npos) << r.detail;
  EXPECT_NE(r.detail.find("password was not sent"), std::string::npos) << r.detail;
  EXPECT_EQ(r.detail.find(kPassword), std::string::npos) << r.detail;
  auto events = server.Stop();
  EXPECT_TRUE(Of(events, "message").empty()) << json(events).dump();
  auto conns = Of(events, "connection");
  ASSERT_EQ(conns.size(), 1u);
  EXPECT_FALSE(conns[0]["starttls"].get<bool>());
  EXPECT_TRUE(conns[0]["auth_attempts"].empty());
  ExpectNoCredentialsInClear(events);
  for (const auto& l : lines) EXPECT_EQ(l.find(kPassword), std::string::npos) << l;
}

TEST_F(EmailSmtp, WrongPasswordIsPermanentAndNotEchoed) {
  SmtpServer server(dir_, cert_, key_, {});
  auto c = Config(server);
  c.password = "not-the-right-one";
  log::AddSecret(c.password);
  auto r = Notifier(c)->Deliver(Item());
  EXPECT_EQ(r.outcome, DeliveryResult::Outcome::kPermanent) << r.detail;
  EXPECT_NE(r.detail.find("refused the username/password"), std::string::npos) << r.detail;
  EXPECT_EQ(r.detail.find("not-the-right-one"), std::string::npos) << r.detail;
  auto events = server.Stop();
  EXPECT_TRUE(Of(events, "message").empty());
  auto conns = Of(events, "connection");
  ASSERT_EQ(conns.size(), 1u);
  ASSERT_EQ(conns[0]["auth_attempts"].size(), 1u);
  EXPECT_FALSE(conns[0]["auth_attempts"][0]["ok"].get<bool>());
  EXPECT_TRUE(conns[0]["auth_attempts"][0]["tls"].get<bool>());
}

TEST_F(EmailSmtp, CertificateThatDoesNotVerifyStopsBeforeAuth) {
  SmtpServer server(dir_, cert_, key_, {});
  auto c = Config(server);
  c.tls_ca_file.clear();  // the system's CAs never signed the throwaway certificate
  auto r = Notifier(c)->Deliver(Item());
  EXPECT_EQ(r.outcome, DeliveryResult::Outcome::kPermanent) << r.detail;
  EXPECT_NE(r.detail.find("providers.email.tls_ca_file"), std::string::npos) << r.detail;
  auto events = server.Stop();
  EXPECT_TRUE(Of(events, "message").empty());
  for (const auto& conn : Of(events, "connection")) EXPECT_TRUE(conn["auth_attempts"].empty());
  ExpectNoCredentialsInClear(events);
}

TEST_F(EmailSmtp, WithoutCredentialsTlsIsOpportunistic) {
  {
    SmtpServer server(dir_, cert_, key_, {.starttls = true, .auth = false});
    auto r = Notifier(Config(server, false))->Deliver(Item());
    EXPECT_TRUE(r.ok()) << r.detail;
    auto messages = Of(server.Stop(), "message");
    ASSERT_EQ(messages.size(), 1u);
    EXPECT_TRUE(messages[0]["tls"].get<bool>()) << "STARTTLS offered but not used";
  }
  std::filesystem::remove(dir_.path() + "/smtp.port");
  std::filesystem::remove(dir_.path() + "/smtp.jsonl");
  {
    SmtpServer server(dir_, cert_, key_, {.starttls = false, .auth = false});
    auto r = Notifier(Config(server, false))->Deliver(Item());
    EXPECT_TRUE(r.ok()) << r.detail;
    auto messages = Of(server.Stop(), "message");
    ASSERT_EQ(messages.size(), 1u);
    EXPECT_FALSE(messages[0]["tls"].get<bool>());
  }
}

TEST_F(EmailSmtp, RequiredStartTlsWithoutCredentialsSendsNothingInClear) {
  SmtpServer server(dir_, cert_, key_, {.starttls = false, .auth = false});
  auto c = Config(server, false);
  c.starttls = config::SmtpStartTls::kRequired;
  auto r = Notifier(c)->Deliver(Item());
  EXPECT_EQ(r.outcome, DeliveryResult::Outcome::kPermanent) << r.detail;
  EXPECT_TRUE(Of(server.Stop(), "message").empty());
}

// The test server is no more permissive than a real one: a bare LF or a message without the
// headers RFC 5322 requires is refused, and tocsin reports that refusal as permanent.
TEST_F(EmailSmtp, TestServerRefusesWhatRealServersRefuse) {
  SmtpServer server(dir_, cert_, key_, {.starttls = true, .auth = false});
  auto c = Config(server, false);
  CurlSmtpTransport transport(c);
  std::string headers = "From: tocsin@example.com\r\nDate: Sat, 22 Nov 2025 02:00:00 +0000\r\n";
  auto bare_lf = transport.Send(
      {"tocsin@example.com", {"olena@example.com"}, headers + "\r\nline one\nline two\r\n"});
  ASSERT_FALSE(bare_lf);
  EXPECT_EQ(bare_lf.error().kind(), Error::Kind::kPermanent) << bare_lf.error().message();
  auto no_date = transport.Send(
      {"tocsin@example.com", {"olena@example.com"}, "From: tocsin@example.com\r\n\r\nbody\r\n"});
  ASSERT_FALSE(no_date);
  EXPECT_EQ(no_date.error().kind(), Error::Kind::kPermanent) << no_date.error().message();
  auto nul = transport.Send({"tocsin@example.com",
                             {"olena@example.com"},
                             headers + std::string("\r\nnul \0 here\r\n", 14)});
  ASSERT_FALSE(nul);
  EXPECT_EQ(nul.error().kind(), Error::Kind::kPermanent) << nul.error().message();
  auto fine = transport.Send({"tocsin@example.com", {"olena@example.com"}, headers + "\r\nok\r\n"});
  EXPECT_TRUE(fine) << fine.error().message();
  auto events = server.Stop();
  EXPECT_EQ(Of(events, "rejected").size(), 3u) << json(events).dump();
  EXPECT_EQ(Of(events, "message").size(), 1u);
}

}  // namespace
}  // namespace tocsin::notify
