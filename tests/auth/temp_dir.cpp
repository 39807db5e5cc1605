#include "auth/temp_dir.hpp"

#include <cstdlib>
#include <fstream>
#include <stdexcept>

namespace cxg::auth::test_support {

TempDir::TempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "cxg-auth-test-XXXXXX").string();
  if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
  dir_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

std::string TempDir::write(const std::string& name, std::string_view content) const {
  const std::string file = path(name);
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  if (!out) throw std::runtime_error("cannot write " + file);
  return file;
}

void shift_mtime(const std::string& path, int seconds) {
  const auto mtime = std::filesystem::last_write_time(path);
  std::filesystem::last_write_time(path, mtime + std::chrono::seconds(seconds));
}

}  // namespace cxg::auth::test_support
