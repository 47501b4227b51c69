#include "tocsin/panel/panel_config.h"

#include <boost/asio/ip/address.hpp>

#include "tocsin/config/yaml_reader.h"

namespace tocsin::panel {

namespace {
bool ValidHeaderName(const std::string& h) {
  if (h.empty()) return false;
  for (char c : h) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}
}  // namespace

PanelConfig LoadPanelConfig(const config::Config& cfg, config::Diagnostics& diags) {
  PanelConfig out;
  auto it = cfg.sections.find("panel");
  if (it == cfg.sections.end()) return out;
  config::MapReader r(cfg.file, it->second, diags, "panel");
  if (!r.ok()) return out;
  if (r.String("listen", out.listen, true)) {
    std::string host, err;
    unsigned short port = 0;
    if (!config::ParseListenAddress(out.listen, &host, &port, &err)) r.Error("listen", err);
  }
  if (r.String("path_prefix", out.path_prefix)) {
    const auto& p = out.path_prefix;
    bool ok = !p.empty() && p.front() == '/' && p.back() != '/' &&
              p.find("//") == std::string::npos && p.find_first_of("?#%\\ ") == std::string::npos &&
              p.find("/.") == std::string::npos;
    if (!ok) {
      r.Error("path_prefix",
              "expected a path such as /tocsin: starting with '/', without a trailing '/', "
              "'//', '.' segments, '%', '?', '#' or spaces");
    }
  }
  if (r.StringList("trusted_proxies", out.trusted_proxies)) {
    for (const auto& a : out.trusted_proxies) {
      boost::system::error_code ec;
      boost::asio::ip::make_address(a, ec);
      if (ec) {
        r.Error("trusted_proxies", "\"" + a +
                                       "\" is not an IP address (give the address the proxy "
                                       "connects from, e.g. 127.0.0.1 or 10.0.0.5)");
      }
    }
  }
  for (auto [key, field] :
       {std::pair{"user_header", &out.user_header}, std::pair{"role_header", &out.role_header},
        std::pair{"proto_header", &out.proto_header}}) {
    if (r.String(key, *field) && !ValidHeaderName(*field)) {
      r.Error(key, "expected an HTTP header name such as X-Forwarded-User");
    }
  }
  std::string role = "viewer";
  if (r.Enum("proxy_role", role, {"viewer", "responder", "admin"})) {
    out.proxy_role = role == "admin"       ? http::Role::kAdmin
                     : role == "responder" ? http::Role::kResponder
                                           : http::Role::kViewer;
  }
  if (r.DurationValue("session_ttl", out.session_ttl) &&
      (out.session_ttl < std::chrono::minutes(1) ||
       out.session_ttl > std::chrono::hours(24 * 30))) {
    r.Error("session_ttl", "expected between 1m and 30d");
  }
  return out;
}

}  // namespace tocsin::panel
