#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace tocsin {

// Whether `url` starts with http:// or https://: a link a reader can follow as it is.
bool IsAbsoluteHttpUrl(std::string_view url);

// `path` under `base`: `path` itself when it is an absolute http(s) URL or `base` is empty,
// else `base` and `path` with exactly one '/' between them, so a base written with or without
// its trailing slash (`runbooks.base_url`) gives the same link.
std::string UrlUnder(std::string_view base, std::string_view path);

// Percent-encoding of every byte but RFC 3986's unreserved characters (Boost.URL).
std::string UrlEncode(std::string_view s);
// Percent-decoding (Boost.URL); '+' is a space when `plus_is_space` (form bodies and queries
// only). Nothing for a malformed escape ("%4", "%zz") or for bytes that are not UTF-8
// ("%FF"): every decoded path, query, form field and store URL part is text tocsin may store,
// log and put into JSON. The caller says where it was.
std::optional<std::string> PercentDecode(std::string_view in, bool plus_is_space = false);

}  // namespace tocsin
