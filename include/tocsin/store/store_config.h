#pragma once

#include <string>

#include "tocsin/config/config.h"
#include "tocsin/config/diagnostics.h"
#include "tocsin/store/database.h"
#include "tocsin/store/store_url.h"

namespace tocsin::store {

// The `store` section: where tocsin keeps its durable state.
struct StoreConfig {
  // store.url, else $TOCSIN_STORE_URL (which `serve --store-url` sets), else the SQLite file
  // `path`. A PostgreSQL URL carries its password (store.password_file or
  // $TOCSIN_STORE_PASSWORD) in `url.password`, never in anything printed.
  StoreUrl url;
  std::string path;  // the SQLite file, resolved; default <data_dir>/tocsin.db; empty on PostgreSQL
  DatabaseOptions options;
  friend bool operator==(const StoreConfig& a, const StoreConfig& b) {
    return a.url == b.url && a.path == b.path &&
           a.options.synchronous_full == b.options.synchronous_full &&
           a.options.busy_timeout_ms == b.options.busy_timeout_ms;
  }
};

StoreConfig LoadStoreConfig(const config::Config& cfg, config::Diagnostics& diags);

}  // namespace tocsin::store
