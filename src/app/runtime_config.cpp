#include "tocsin/app/runtime_config.h"

#include "notify/page_renderer.h"

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
  rc.notify = notify::ParseNotifyConfig(rc.main, out.diagnostics);
  notify::ValidateProviders(rc.main, out.diagnostics);
  if (!rc.notify.templates_dir.empty()) {
    // A template that does not parse is a config error now, not a blank page at 3 a.m.
    notify::RenderOptions templates;
    templates.templates_dir = rc.notify.templates_dir;
    if (auto r = notify::PageRenderer::Create(templates); !r) {
      out.diagnostics.Error({rc.main.file, 0, 0}, "notify.templates_dir: " + r.error().message());
    }
  }
  if (out.diagnostics.has_errors()) return out;
  out.config = std::move(rc);
  return out;
}

}  // namespace tocsin::app
