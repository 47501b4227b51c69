#include "tocsin/http/http_types.h"

#include <algorithm>
#include <cctype>

namespace tocsin::http {

bool CaseInsensitiveLess::operator()(std::string_view a, std::string_view b) const {
  return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    return std::tolower(static_cast<unsigned char>(x)) <
           std::tolower(static_cast<unsigned char>(y));
  });
}

std::optional<std::string> Request::Query(std::string_view name) const {
  for (const auto& [k, v] : query) {
    if (k == name) return v;
  }
  return std::nullopt;
}

std::vector<std::string> Request::QueryAll(std::string_view name) const {
  std::vector<std::string> out;
  for (const auto& [k, v] : query) {
    if (k == name) out.push_back(v);
  }
  return out;
}

std::optional<std::string> Request::Header(std::string_view name) const {
  auto it = headers.find(name);
  if (it == headers.end()) return std::nullopt;
  return it->second;
}

std::string Request::PathParam(const std::string& name) const {
  auto it = path_params.find(name);
  return it == path_params.end() ? std::string() : it->second;
}

Response Response::Text(int status, std::string body) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

Response Response::Json(int status, std::string body) {
  Response r;
  r.status = status;
  r.content_type = "application/json";
  r.body = std::move(body);
  return r;
}

Result<std::string> CanonicalPath(std::string_view raw_path) {
  if (raw_path.empty() || raw_path.front() != '/') {
    return Fail(Error::Invalid("the request path must start with '/'"));
  }
  if (raw_path == "/") return std::string("/");
  std::string out;
  out.reserve(raw_path.size());
  std::size_t i = 1;
  while (i <= raw_path.size()) {
    auto j = raw_path.find('/', i);
    if (j == std::string_view::npos) j = raw_path.size();
    std::string_view raw_segment = raw_path.substr(i, j - i);
    if (raw_segment.empty()) {
      return Fail(Error::Invalid(j == raw_path.size()
                                     ? "non-canonical path: remove the trailing '/'"
                                     : "non-canonical path: empty segment ('//')"));
    }
    auto segment = PercentDecode(raw_segment, false);
    if (!segment) {
      return Fail(
          Error::Invalid("malformed %-escape, or bytes that are not UTF-8, in the request path"));
    }
    if (*segment == "." || *segment == "..") {
      return Fail(Error::Invalid("non-canonical path: '.' and '..' segments are not allowed"));
    }
    for (char c : *segment) {
      auto u = static_cast<unsigned char>(c);
      if (c == '/' || c == '\\') {
        return Fail(Error::Invalid("non-canonical path: encoded '/' or '\\' is not allowed"));
      }
      if (u < 0x20 || u == 0x7f) {
        return Fail(Error::Invalid("control character in the request path"));
      }
    }
    out += '/';
    out += *segment;
    i = j + 1;
  }
  return out;
}

std::string_view MethodLabel(std::string_view method) {
  static constexpr std::string_view kKnown[] = {"GET",   "HEAD",    "POST",  "PUT",    "DELETE",
                                                "PATCH", "OPTIONS", "TRACE", "CONNECT"};
  for (auto m : kKnown) {
    if (m == method) return m;
  }
  return "other";
}

std::vector<std::pair<std::string, std::string>> ParseFormEncoded(std::string_view body) {
  std::vector<std::pair<std::string, std::string>> out;
  while (!body.empty()) {
    auto amp = body.find('&');
    std::string_view part = body.substr(0, amp);
    body = amp == std::string_view::npos ? std::string_view() : body.substr(amp + 1);
    if (part.empty()) continue;
    auto eq = part.find('=');
    std::string_view k = part.substr(0, eq);
    std::string_view v = eq == std::string_view::npos ? std::string_view() : part.substr(eq + 1);
    auto dk = PercentDecode(k, true);
    auto dv = PercentDecode(v, true);
    if (!dk || !dv) continue;  // malformed pair: skipped, like most form parsers
    out.emplace_back(std::move(*dk), std::move(*dv));
  }
  return out;
}

}  // namespace tocsin::http
