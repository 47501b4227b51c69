// The YAML configuration loader with every module section: whatever the bytes, loading
// reports diagnostics and never crashes.
#include <unistd.h>
#include <cstddef>
#include <cstdint>

#include <cstdio>
#include <string>

#include "tocsin/app/runtime_config.h"
#include "tocsin/common/log.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static bool once = [] {
    tocsin::log::Setup(tocsin::log::Format::kText, spdlog::level::off, [](std::string_view) {});
    return true;
  }();
  (void)once;
  // Through a file: LoadRuntimeConfig reads the config from disk, as tocsin check does.
  static const std::string path = "/tmp/tocsin-fuzz-config-" + std::to_string(::getpid()) + ".yaml";
  {
    std::FILE* f = std::fopen(path.c_str(), "wb");
    if (f == nullptr) return 0;
    std::fwrite(data, 1, size, f);
    std::fclose(f);
  }
  (void)tocsin::app::LoadRuntimeConfig(path, {});
  return 0;
}
