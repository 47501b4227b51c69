#include "tocsin/common/url.h"

#include <boost/url/encode.hpp>
#include <boost/url/encoding_opts.hpp>
#include <boost/url/pct_string_view.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>

#include "tocsin/common/text.h"

namespace tocsin {

bool IsAbsoluteHttpUrl(std::string_view url) {
  return url.starts_with("https://") || url.starts_with("http://");
}

std::string UrlUnder(std::string_view base, std::string_view path) {
  if (base.empty() || IsAbsoluteHttpUrl(path)) return std::string(path);
  while (base.ends_with('/')) base.remove_suffix(1);
  while (path.starts_with('/')) path.remove_prefix(1);
  std::string out(base);
  out += '/';
  out += path;
  return out;
}

std::string UrlEncode(std::string_view s) {
  return boost::urls::encode(s, boost::urls::unreserved_chars);
}

std::optional<std::string> PercentDecode(std::string_view in, bool plus_is_space) {
  auto valid = boost::urls::make_pct_string_view(in);
  if (!valid) return std::nullopt;
  boost::urls::encoding_opts opts;
  opts.space_as_plus = plus_is_space;
  std::string out = valid->decode(opts);
  if (!IsValidUtf8(out)) return std::nullopt;
  return out;
}

}  // namespace tocsin
