#include "tocsin/app/runtime_config.h"

namespace tocsin::app {

RuntimeLoadResult LoadRuntimeConfig(const std::string& path, const config::Overrides& overrides) {
  RuntimeLoadResult out;
  auto main = config::LoadConfig(path, overrides);
  out.diagnostics = std::move(main.diagnostics);
  out.io_error = main.io_error;
  if (!main.config) return out;
  RuntimeConfig rc;
  rc.main = std::move(*main.config);
  // Module loaders run here, each adding to out.diagnostics, then the cross checks.
  if (auto d = dispatch::LoadDispatchConfig(rc.main, out.diagnostics)) rc.dispatch = std::move(*d);
  if (out.diagnostics.has_errors()) return out;
  out.config = std::move(rc);
  return out;
}

}  // namespace tocsin::app
