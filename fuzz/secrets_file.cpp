// The zero-configuration secrets file `cxg-secrets.env` (http-api.md §5): `VAR=value` lines
// beside the SQLite database. Each input is the file's content in a private temporary
// directory; read_secrets_file() parses it and ensure_secrets() fills in the missing secrets,
// keeping every secret already stored and rewriting the file so that it reads back the same.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "cxg/config/config.hpp"
#include "cxg/config/secrets_file.hpp"
#include "fuzz_common.hpp"

namespace config = cxg::config;

namespace {

std::string g_dir;

void write_file(const std::string& path, std::string_view text) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(text.data(), static_cast<std::streamsize>(text.size()));
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  cxg::fuzz::quiet_logs();
  const char* tmp = std::getenv("TMPDIR");
  g_dir = std::string(tmp && *tmp ? tmp : "/tmp") + "/cxg-fuzz-secrets-" + std::to_string(::getpid());
  std::filesystem::create_directories(g_dir);
  std::atexit([] {
    std::error_code ec;
    std::filesystem::remove_all(g_dir, ec);
  });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string path = g_dir + "/cxg-secrets.env";
  const std::uint8_t which = data[0];  // which secrets the environment already provides
  const std::string_view text = cxg::fuzz::as_view(data + 1, size - 1);
  write_file(path, text);
  ::chmod(path.c_str(), 0600);

  const auto stored = config::read_secrets_file(g_dir);
  for (const auto& [name, value] : stored) FUZZ_CHECK(!name.empty() && name.find('\n') == std::string::npos);

  config::Config cfg;
  cfg.database.kind = config::StoreKind::sqlite;
  cfg.database.sqlite_dir = g_dir;
  if (which & 1) cfg.captoken_hmac_secret = "env-cap";
  if (which & 2) cfg.internal_shared_secret = "env-shared";
  if (which & 4) cfg.ws_ticket_secret = "env-ticket";
  config::ensure_secrets(cfg);
  FUZZ_CHECK(!cfg.captoken_hmac_secret.empty() && !cfg.internal_shared_secret.empty() && !cfg.ws_ticket_secret.empty());

  const auto after = config::read_secrets_file(g_dir);
  // Entries already stored survive; an empty value counts as missing and may be filled in.
  for (const auto& [name, value] : stored) {
    const auto it = after.find(name);
    FUZZ_CHECK(it != after.end());
    if (!value.empty()) FUZZ_CHECK(it->second == value);
  }
  // The secrets taken from the file are the ones it now holds.
  const std::pair<const char*, const std::string*> slots[] = {{"CXG_CAPTOKEN_HMAC_SECRET", &cfg.captoken_hmac_secret},
                                                               {"CXG_INTERNAL_SHARED_SECRET", &cfg.internal_shared_secret},
                                                               {"CXG_WS_TICKET_SECRET", &cfg.ws_ticket_secret}};
  for (int i = 0; i < 3; ++i) {
    if (which & (1 << i)) continue;  // from the environment: the file is not consulted
    const auto it = after.find(slots[i].first);
    FUZZ_CHECK(it != after.end() && it->second == *slots[i].second);
  }
  for (const auto& name : cfg.generated_secrets) FUZZ_CHECK(!stored.contains(name) || stored.at(name).empty());
  std::filesystem::remove(path);
  return 0;
}
