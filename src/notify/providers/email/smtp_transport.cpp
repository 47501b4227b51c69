#include "notify/providers/email/smtp_transport.h"

#include <cstring>

#include <curl/curl.h>
#include <fmt/format.h>

#include "notify/providers/email/smtp_tls_policy.h"
#include "tocsin/common/log.h"

namespace tocsin::notify {

namespace {

struct Upload {
  const std::string* data;
  std::size_t offset = 0;
};

std::size_t ReadCallback(char* buffer, std::size_t size, std::size_t nitems, void* userp) {
  auto* up = static_cast<Upload*>(userp);
  std::size_t n = std::min(size * nitems, up->data->size() - up->offset);
  std::memcpy(buffer, up->data->data() + up->offset, n);
  up->offset += n;
  return n;
}

long CurlUseSsl(config::SmtpStartTls policy) {
  switch (policy) {
    case config::SmtpStartTls::kRequired:
      return CURLUSESSL_ALL;
    case config::SmtpStartTls::kOpportunistic:
      return CURLUSESSL_TRY;
    case config::SmtpStartTls::kOff:
      return CURLUSESSL_NONE;
  }
  return CURLUSESSL_ALL;
}

}  // namespace

CurlSmtpTransport::CurlSmtpTransport(const config::EmailConfig& config, Duration timeout)
    : url_(config.smtp_url),
      host_(SmtpUrlHost(config.smtp_url)),
      username_(config.username),
      password_(config.password),
      ca_file_(config.tls_ca_file),
      starttls_(EffectiveStartTls(config)),
      timeout_(timeout) {
  // smtps:// is TLS from the first byte; nothing weaker applies to it.
  if (url_.rfind("smtps://", 0) == 0) starttls_ = config::SmtpStartTls::kRequired;
}

Result<void> CurlSmtpTransport::Send(const SmtpMessage& message) {
  CURL* curl = curl_easy_init();
  if (!curl) return Fail(Error::Transient("smtp: cannot initialise libcurl"));
  Upload upload{&message.data};
  curl_slist* rcpt = nullptr;
  for (const auto& to : message.to) rcpt = curl_slist_append(rcpt, ("<" + to + ">").c_str());
  std::string from = "<" + message.from + ">";
  char detail[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, detail);
  curl_easy_setopt(curl, CURLOPT_URL, url_.c_str());
  curl_easy_setopt(curl, CURLOPT_MAIL_FROM, from.c_str());
  curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, rcpt);
  // libcurl dot-stuffs the upload itself (a line starting with "." gets a second one), which is
  // why SmtpMessage::data must arrive unstuffed.
  curl_easy_setopt(curl, CURLOPT_READFUNCTION, ReadCallback);
  curl_easy_setopt(curl, CURLOPT_READDATA, &upload);
  curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout_.count()));
  curl_easy_setopt(curl, CURLOPT_USE_SSL, CurlUseSsl(starttls_));
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
  if (!ca_file_.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, ca_file_.c_str());
  if (!username_.empty()) {
    curl_easy_setopt(curl, CURLOPT_USERNAME, username_.c_str());
    curl_easy_setopt(curl, CURLOPT_PASSWORD, password_.c_str());
  }
  CURLcode rc = curl_easy_perform(curl);
  long reply = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &reply);
  curl_slist_free_all(rcpt);
  curl_easy_cleanup(curl);
  if (rc == CURLE_OK) return {};

  std::string why = detail[0] != '\0' ? std::string(detail) : curl_easy_strerror(rc);
  // The server's reply text may echo what it was sent; scrub the password whatever the
  // registered secrets are.
  auto clean = [this](std::string text) {
    if (!password_.empty()) {
      for (auto p = text.find(password_); p != std::string::npos; p = text.find(password_, p)) {
        text.replace(p, password_.size(), "<redacted>");
      }
    }
    return log::Redact(text);
  };
  bool credentials = !username_.empty() || !password_.empty();
  if (rc == CURLE_USE_SSL_FAILED) {
    return Fail(Error::Permanent(clean(fmt::format(
        "smtp: {} did not offer STARTTLS (or refused it) and providers.email.starttls requires "
        "it{}: the message was not sent ({})",
        host_, credentials ? ", so the password was not sent either" : "", why))));
  }
  if (rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE) {
    return Fail(Error::Permanent(clean(fmt::format(
        "smtp: the TLS certificate of {} could not be verified ({}); give the CA that signed it "
        "in providers.email.tls_ca_file: the message was not sent",
        host_, why))));
  }
  if (rc == CURLE_LOGIN_DENIED) {
    return Fail(Error::Permanent(clean(
        fmt::format("smtp: {} refused the username/password (reply {}): the message was not sent",
                    host_, reply))));
  }
  std::string msg = clean(fmt::format("smtp: {} (reply {})", why, reply));
  // 5xx SMTP replies are final (unknown mailbox, rejected); everything else may pass later.
  if (reply >= 500 && reply < 600) return Fail(Error::Permanent(msg));
  return Fail(Error::Transient(msg));
}

}  // namespace tocsin::notify
