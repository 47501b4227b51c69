#include "tocsin/store/store_config.h"

#include <cstdlib>

#include <fmt/format.h>

#include "tocsin/common/log.h"
#include "tocsin/config/yaml_reader.h"

namespace tocsin::store {

namespace {

// A relative SQLite path is relative to data_dir, as store.path is.
void ResolveSqlite(const config::Config& cfg, StoreUrl& url) {
  if (url.dialect == Dialect::kSqlite) {
    url.sqlite_path = config::ResolvePath(cfg.data_dir, url.sqlite_path);
  }
}

}  // namespace

StoreConfig LoadStoreConfig(const config::Config& cfg, config::Diagnostics& diags) {
  StoreConfig out;
  out.path = cfg.data_dir + "/tocsin.db";
  std::string url_text;
  config::Position url_at;
  std::string password;
  auto it = cfg.sections.find("store");
  if (it != cfg.sections.end()) {
    config::MapReader r(cfg.file, it->second, diags, "store");
    if (!r.ok()) {
      diags.Error(config::PositionOf(cfg.file, it->second), "store must be a mapping");
      return out;
    }
    std::string path;
    if (r.String("path", path)) out.path = config::ResolvePath(cfg.data_dir, path);
    if (r.String("url", url_text)) {
      url_at = r.Where("url");
      if (!path.empty()) {
        r.Error("url",
                "set store.url or store.path, not both (store.path is the SQLite file of "
                "store.url sqlite:///path)");
      }
    }
    r.Secret("password", password, cfg.base_dir);
    std::string sync = "full";
    if (r.Enum("synchronous", sync, {"full", "normal"})) {
      out.options.synchronous_full = sync == "full";
    }
    long long busy = out.options.busy_timeout_ms;
    if (r.Int("busy_timeout_ms", busy, false, 0, 600000)) {
      out.options.busy_timeout_ms = static_cast<int>(busy);
    }
    r.Finish();
  }
  // The environment (or --store-url, which sets it) wins over the file, as --data-dir does.
  if (const char* env = std::getenv("TOCSIN_STORE_URL"); env != nullptr && *env != '\0') {
    url_text = env;
    url_at = config::Position{"$TOCSIN_STORE_URL", 0, 0};
  }
  if (url_text.empty()) {
    out.url = StoreUrl::Sqlite(out.path);
    return out;
  }
  auto url = ParseStoreUrl(url_text);
  if (!url) {
    diags.Error(url_at, url.error().message());
    return out;
  }
  out.url = std::move(*url);
  ResolveSqlite(cfg, out.url);
  if (out.url.dialect == Dialect::kSqlite) {
    out.path = out.url.sqlite_path;
    return out;
  }
  out.path.clear();
  if (password.empty()) {
    password = StorePasswordFromEnvironment();
    if (!password.empty()) log::AddSecret(password);
  }
  out.url.password = password;
  return out;
}

}  // namespace tocsin::store
