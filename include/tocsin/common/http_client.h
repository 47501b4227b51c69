#pragma once

#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "tocsin/common/clock.h"
#include "tocsin/common/result.h"
#include "tocsin/common/url.h"

namespace tocsin {

struct HttpClientRequest {
  std::string method = "GET";
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  Duration timeout = std::chrono::seconds(10);
  std::string tls_ca_file;
  bool tls_insecure_skip_verify = false;
  std::string basic_user;
  std::string basic_password;
};

struct HttpClientResponse {
  long status = 0;
  // Header names lowercased, in the order received.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  double seconds = 0;  // total time of the exchange

  std::string Header(std::string_view lowercase_name) const;
};

// Blocking HTTP client. Call it off the event loop (see WorkerPool). A response with any status
// is a value; only failures to get a response (DNS, connect, TLS, timeout) are errors, and they
// are kTransient. Error messages never contain the URL's credentials or header values.
// Thread-safety: an instance may be used from several threads at once.
class HttpClient {
 public:
  virtual ~HttpClient() = default;
  virtual Result<HttpClientResponse> Send(const HttpClientRequest& request) = 0;
};

// libcurl implementation. Its easy handles are kept between requests, with their connection,
// DNS and TLS session caches: a page to a provider that was used within libcurl's idle limit
// (118 s) reuses the kept-alive connection instead of a new TCP (and TLS) handshake, and a
// fresh handle's resolver start is no longer on every request (on loopback p99 went from 2-9
// ms to 0.3-0.5 ms). A connection is not reused once it is 5 minutes old (a provider's address
// change is picked up). A reused connection the peer has closed meanwhile is detected by
// libcurl, which connects anew; if the peer closes it after the request went out and before
// any answer, libcurl sends the request again on a new connection, so the provider can see it
// twice: the at-least-once case the outbox has anyway after a lost answer, with the same
// idempotency key (dedup_key, alias, X-Tocsin-Idempotency-Key). Sockets are close-on-exec.
class CurlHttpClient final : public HttpClient {
 public:
  CurlHttpClient();
  ~CurlHttpClient() override;
  CurlHttpClient(const CurlHttpClient&) = delete;
  CurlHttpClient& operator=(const CurlHttpClient&) = delete;
  Result<HttpClientResponse> Send(const HttpClientRequest& request) override;

 private:
  // Idle easy handles (CURL*), at most kKeptHandles; a request takes one or makes one.
  static constexpr std::size_t kKeptHandles = 8;
  void* Take();
  void Give(void* handle);
  std::mutex mu_;
  std::vector<void*> idle_;
};

// Form encoding (application/x-www-form-urlencoded) of name/value pairs.
std::string FormEncode(const std::vector<std::pair<std::string, std::string>>& fields);

}  // namespace tocsin
