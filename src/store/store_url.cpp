#include "tocsin/store/store_url.h"

#include <cstdlib>
#include <initializer_list>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "tocsin/common/url.h"

namespace tocsin::store {

namespace {

constexpr int kDefaultIdleInTransactionTimeoutMs = 5000;

constexpr std::string_view kPasswordHelp =
    "put the password in a file named by store.password_file, or in $TOCSIN_STORE_PASSWORD "
    "(or PGPASSWORD)";

// `part` of the URL percent-decoded; a malformed escape is refused with what it was in, not
// passed on to libpq as it stands (the value itself is not repeated: it may be private).
Result<std::string> Decoded(std::string_view part, std::string_view what) {
  auto out = PercentDecode(part);
  if (!out) {
    return Fail(Error::Invalid(fmt::format(
        "store.url: the {} has a malformed %-escape: write % and two hex digits, e.g. %40 for @",
        what)));
  }
  return *out;
}

// A libpq connection-string value, quoted.
std::string Quote(std::string_view v) {
  std::string out = "'";
  for (char c : v) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  return out + "'";
}

// "a,b" -> {"a", "b"}; "" -> {""}.
std::vector<std::string> Split(std::string_view list) {
  std::vector<std::string> out;
  while (true) {
    auto comma = list.find(',');
    out.emplace_back(list.substr(0, comma));
    if (comma == std::string_view::npos) return out;
    list = list.substr(comma + 1);
  }
}

}  // namespace

StoreUrl StoreUrl::Sqlite(std::string path) {
  StoreUrl u;
  u.dialect = Dialect::kSqlite;
  u.sqlite_path = std::move(path);
  return u;
}

std::string StoreUrl::ToString() const {
  if (dialect == Dialect::kSqlite) return "sqlite://" + sqlite_path;
  std::string out = "postgresql://";
  if (!user.empty()) out += user + "@";
  // Several hosts (a primary and its replicas) as host1:port1,host2:port2.
  std::vector<std::string> hosts = Split(host), ports = Split(port);
  for (std::size_t i = 0; i < hosts.size(); ++i) {
    if (i > 0) out += ",";
    const std::string& h = hosts[i];
    out += h.find(':') != std::string::npos ? "[" + h + "]" : h;
    // One port for every host, or one each.
    const std::string& p = ports.size() == 1 ? ports[0] : (i < ports.size() ? ports[i] : "");
    if (!p.empty()) out += ":" + p;
  }
  out += "/" + dbname;
  char sep = '?';
  for (const auto& [k, v] : params) {
    out += fmt::format("{}{}={}", sep, k, v);
    sep = '&';
  }
  return out;
}

std::string StoreUrl::ConnectionString() const {
  std::string out;
  auto add = [&](std::string_view k, std::string_view v) {
    if (v.empty()) return;
    if (!out.empty()) out += ' ';
    out += fmt::format("{}={}", k, Quote(v));
  };
  add("user", user);
  add("host", host);
  add("port", port);
  add("dbname", dbname);
  add("password", password);
  // NOTICEs (a table that already exists, ...) would go to stderr, outside the log. A session
  // idle inside a transaction for 5 s is a stuck or paused tocsin (SIGSTOP, a frozen VM): the
  // server ends it, and with it the FOR SHARE lock its fence check holds on the HA lease row,
  // which would otherwise block a failover for as long as the pause lasts. The URL's own
  // options come after these, so `-c idle_in_transaction_session_timeout=...` there wins.
  std::string options =
      fmt::format("-c client_min_messages=warning -c {}={}", "idle_in_transaction_session_timeout",
                  kDefaultIdleInTransactionTimeoutMs);
  if (auto it = params.find("options"); it != params.end()) options += " " + it->second;
  add("options", options);
  // Defaults the URL may override: a server that vanished (a cut network, a crashed host) is
  // noticed in about 25 s rather than the kernel's two hours, whether the connection was idle
  // (keepalives) or had sent something the server never acknowledged (tcp_user_timeout: TCP
  // would retransmit for about 15 minutes, and after a long partition wait minutes more for
  // its next try), and an unreachable one in 10 s.
  for (const auto& [k, v] : std::initializer_list<std::pair<std::string_view, std::string_view>>{
           {"application_name", "tocsin"},
           {"connect_timeout", "10"},
           {"keepalives", "1"},
           {"keepalives_idle", "10"},
           {"keepalives_interval", "5"},
           {"keepalives_count", "3"},
           {"tcp_user_timeout", "25000"}}) {
    if (params.count(std::string(k)) == 0) add(k, v);
  }
  for (const auto& [k, v] : params) {
    if (k != "options") add(k, v);
  }
  return out;
}

StoreUrl StoreUrl::WithDatabase(std::string name) const {
  StoreUrl u = *this;
  u.dbname = std::move(name);
  return u;
}

Result<StoreUrl> ParseStoreUrl(std::string_view text) {
  if (text.rfind("sqlite://", 0) == 0) {
    std::string path(text.substr(9));
    if (path.empty()) {
      return Fail(Error::Invalid(
          "store.url sqlite:// names no file: write sqlite:///absolute/path/tocsin.db"));
    }
    return StoreUrl::Sqlite(std::move(path));
  }
  std::string_view rest;
  if (text.rfind("postgresql://", 0) == 0) {
    rest = text.substr(13);
  } else if (text.rfind("postgres://", 0) == 0) {
    rest = text.substr(11);
  } else {
    // Only the scheme is repeated: the rest might hold a password.
    auto colon = text.find(':');
    return Fail(Error::Invalid(fmt::format(
        "store.url has the unknown scheme \"{}\": write sqlite:///path/tocsin.db or "
        "postgresql://user@host:port/dbname",
        colon == std::string_view::npos ? std::string_view("(none)") : text.substr(0, colon))));
  }
  StoreUrl u;
  u.dialect = Dialect::kPostgres;
  std::string_view query;
  if (auto q = rest.find('?'); q != std::string_view::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  std::string_view authority = rest;
  if (auto slash = rest.find('/'); slash != std::string_view::npos) {
    authority = rest.substr(0, slash);
    auto dbname = Decoded(rest.substr(slash + 1), "database name");
    if (!dbname) return Fail(dbname.error());
    u.dbname = std::move(*dbname);
  }
  if (auto at = authority.rfind('@'); at != std::string_view::npos) {
    std::string_view userinfo = authority.substr(0, at);
    authority = authority.substr(at + 1);
    if (userinfo.find(':') != std::string_view::npos) {
      return Fail(Error::Invalid(fmt::format(
          "store.url must not carry a password (it would show in logs and errors): remove it "
          "from the URL and {}",
          kPasswordHelp)));
    }
    auto user = Decoded(userinfo, "user name");
    if (!user) return Fail(user.error());
    u.user = std::move(*user);
  }
  // host[:port], or several separated by commas (a primary and its replicas: libpq tries them
  // in turn, and target_session_attrs=read-write picks the one that takes writes). Read here,
  // not by Boost.URL: a list of hosts is not an RFC 3986 authority, and a URL parser refuses
  // what libpq takes.
  std::vector<std::string> hosts, ports;
  bool any_port = false;
  while (true) {
    std::string host, port;
    std::string_view entry = authority;
    if (!entry.empty() && entry.front() == '[') {
      auto close = entry.find(']');
      if (close == std::string_view::npos) {
        return Fail(Error::Invalid("store.url: an IPv6 host in [ ] lacks its closing ]"));
      }
      host = std::string(entry.substr(1, close - 1));
      entry = entry.substr(close + 1);
    } else {
      auto end = entry.find_first_of(":,");
      auto decoded = Decoded(entry.substr(0, end), "host name");
      if (!decoded) return Fail(decoded.error());
      host = std::move(*decoded);
      entry = end == std::string_view::npos ? std::string_view() : entry.substr(end);
    }
    // libpq reads an empty host in a list as its local socket: a typo would connect there.
    if (host.find(',') != std::string::npos) {
      return Fail(Error::Invalid("store.url: a host name cannot hold a comma"));
    }
    if (host.empty() && (!hosts.empty() || (!entry.empty() && entry.front() == ','))) {
      return Fail(Error::Invalid(
          fmt::format("store.url: host {} of the list is empty; write host1:port1,host2:port2",
                      hosts.size() + 1)));
    }
    if (!entry.empty() && entry.front() == ':') {
      auto comma = entry.find(',');
      port = std::string(entry.substr(1, comma == std::string_view::npos ? comma : comma - 1));
      entry = comma == std::string_view::npos ? std::string_view() : entry.substr(comma);
      if (port.empty() || port.find_first_not_of("0123456789") != std::string::npos) {
        return Fail(
            Error::Invalid(fmt::format("store.url: the port \"{}\" is not a number", port)));
      }
      any_port = true;
    }
    hosts.push_back(std::move(host));
    ports.push_back(std::move(port));
    if (entry.empty()) break;
    if (entry.front() != ',') {
      return Fail(Error::Invalid(
          fmt::format("store.url: unexpected \"{}\" after host {}; write host:port, or several as "
                      "host1:port1,host2:port2",
                      entry.substr(0, 1), hosts.size())));
    }
    authority = entry.substr(1);
    if (authority.empty()) {
      return Fail(Error::Invalid("store.url: a comma after the last host names no host"));
    }
  }
  u.host = fmt::format("{}", fmt::join(hosts, ","));
  if (any_port) u.port = fmt::format("{}", fmt::join(ports, ","));
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    auto eq = pair.find('=');
    auto decoded_key = Decoded(pair.substr(0, eq), "name of a parameter");
    if (!decoded_key) return Fail(decoded_key.error());
    std::string key = std::move(*decoded_key);
    if (key == "password" || key == "passfile") {
      return Fail(Error::Invalid(fmt::format(
          "store.url must not carry a password (it would show in logs and errors): remove "
          "{}= from the URL and {}",
          key, kPasswordHelp)));
    }
    // libpq's other secret-bearing parameters: the passphrase of the client key (sslpassword)
    // and an OAuth client's secret (oauth_client_secret, libpq 18). Every other parameter is
    // printed with the URL.
    if (key == "sslpassword" || key == "oauth_client_secret") {
      return Fail(Error::Invalid(fmt::format(
          "store.url must not carry a secret (it would show in logs and errors): remove {}= "
          "from the URL{}",
          key,
          key == "sslpassword"
              ? " and give sslkey= a key without a passphrase, readable by tocsin's user only"
              : "")));
    }
    auto value = Decoded(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1),
                         fmt::format("value of {}=", key));
    if (!value) return Fail(value.error());
    if (key == "user" || key == "host" || key == "port" || key == "dbname") {
      const std::string& v = *value;
      if (key == "user") u.user = v;
      if (key == "host") u.host = v;
      if (key == "port") u.port = v;
      if (key == "dbname") u.dbname = v;
      continue;
    }
    u.params[key] = std::move(*value);
  }
  return u;
}

std::string StorePasswordFromEnvironment() {
  const char* env = std::getenv("TOCSIN_STORE_PASSWORD");
  return env != nullptr ? std::string(env) : std::string();
}

}  // namespace tocsin::store
