#include "notify/providers/email/smtp_transport.h"

#include <cstring>

#include <curl/curl.h>
#include <fmt/format.h>

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

}  // namespace

CurlSmtpTransport::CurlSmtpTransport(std::string url, std::string username, std::string password,
                                     Duration timeout)
    : url_(std::move(url)),
      username_(std::move(username)),
      password_(std::move(password)),
      timeout_(timeout) {}

Result<void> CurlSmtpTransport::Send(const SmtpMessage& message) {
  CURL* curl = curl_easy_init();
  if (!curl) return Fail(Error::Transient("smtp: cannot initialise libcurl"));
  Upload upload{&message.data};
  curl_slist* rcpt = nullptr;
  for (const auto& to : message.to) rcpt = curl_slist_append(rcpt, ("<" + to + ">").c_str());
  std::string from = "<" + message.from + ">";
  curl_easy_setopt(curl, CURLOPT_URL, url_.c_str());
  curl_easy_setopt(curl, CURLOPT_MAIL_FROM, from.c_str());
  curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, rcpt);
  curl_easy_setopt(curl, CURLOPT_READFUNCTION, ReadCallback);
  curl_easy_setopt(curl, CURLOPT_READDATA, &upload);
  curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout_.count()));
  curl_easy_setopt(curl, CURLOPT_USE_SSL, static_cast<long>(CURLUSESSL_TRY));
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
  std::string msg = log::Redact(fmt::format("smtp: {} (reply {})", curl_easy_strerror(rc), reply));
  // 5xx SMTP replies are final (unknown mailbox, rejected); everything else may pass later.
  if (reply >= 500 && reply < 600) return Fail(Error::Permanent(msg));
  return Fail(Error::Transient(msg));
}

}  // namespace tocsin::notify
