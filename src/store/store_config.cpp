#include "tocsin/store/store_config.h"

#include "tocsin/config/yaml_reader.h"

namespace tocsin::store {

StoreConfig LoadStoreConfig(const config::Config& cfg, config::Diagnostics& diags) {
  StoreConfig out;
  out.path = cfg.data_dir + "/tocsin.db";
  auto it = cfg.sections.find("store");
  if (it == cfg.sections.end()) return out;
  config::MapReader r(cfg.file, it->second, diags, "store");
  if (!r.ok()) {
    diags.Error(config::PositionOf(cfg.file, it->second), "store must be a mapping");
    return out;
  }
  std::string path;
  if (r.String("path", path)) out.path = config::ResolvePath(cfg.data_dir, path);
  std::string sync = "full";
  if (r.Enum("synchronous", sync, {"full", "normal"})) {
    out.options.synchronous_full = sync == "full";
  }
  long long busy = out.options.busy_timeout_ms;
  if (r.Int("busy_timeout_ms", busy, false, 0, 600000)) {
    out.options.busy_timeout_ms = static_cast<int>(busy);
  }
  r.Finish();
  return out;
}

}  // namespace tocsin::store
