#pragma once
#include <filesystem>
#include <string>
#include <string_view>

namespace cxg::auth::test_support {

// A fresh directory under the system temp dir, removed with its contents on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  // Writes (or replaces) `name` and returns its path.
  std::string write(const std::string& name, std::string_view content) const;
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

 private:
  std::filesystem::path dir_;
};

// Moves a file's mtime by `seconds`, so a change is visible whatever the file system's
// timestamp granularity.
void shift_mtime(const std::string& path, int seconds);

}  // namespace cxg::auth::test_support
