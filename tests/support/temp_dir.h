#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace tocsin::testing {

// A fresh directory under the system temp dir, removed with everything in it on destruction,
// unless TOCSIN_TEST_KEEP_DIRS is set (to read a failed test's files afterwards).
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "tocsin-test-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    if (std::getenv("TOCSIN_TEST_KEEP_DIRS") != nullptr) return;
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string Write(const std::string& name, const std::string& content) const {
    auto p = std::filesystem::path(path_) / name;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << content;
    return p.string();
  }

 private:
  std::string path_;
};

}  // namespace tocsin::testing
