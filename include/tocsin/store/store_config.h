#pragma once

#include <string>

#include "tocsin/config/config.h"
#include "tocsin/config/diagnostics.h"
#include "tocsin/store/database.h"

namespace tocsin::store {

// The `store` section: where tocsin keeps its durable state.
struct StoreConfig {
  std::string path;  // resolved; default <data_dir>/tocsin.db
  DatabaseOptions options;
  friend bool operator==(const StoreConfig& a, const StoreConfig& b) {
    return a.path == b.path && a.options.synchronous_full == b.options.synchronous_full &&
           a.options.busy_timeout_ms == b.options.busy_timeout_ms;
  }
};

StoreConfig LoadStoreConfig(const config::Config& cfg, config::Diagnostics& diags);

}  // namespace tocsin::store
