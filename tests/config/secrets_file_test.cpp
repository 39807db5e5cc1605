#include "cxg/config/secrets_file.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace cxg::config {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;

constexpr const char* kCap = "CXG_CAPTOKEN_HMAC_SECRET";
constexpr const char* kShared = "CXG_INTERNAL_SHARED_SECRET";
constexpr const char* kTicket = "CXG_WS_TICKET_SECRET";

class SecretsFile : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "cxg-secrets-test-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }

  Config sqlite_config() const {
    Config cfg;
    cfg.database = parse_database_url("sqlite://" + (dir_ / "cxg.db").string());
    return cfg;
  }
  fs::path file() const { return dir_ / "cxg-secrets.env"; }
  std::string file_text() const {
    std::ifstream in(file());
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  void write_file(const std::string& text, fs::perms perms = fs::perms::owner_read | fs::perms::owner_write) const {
    std::ofstream(file()) << text;
    fs::permissions(file(), perms);
  }

  fs::path dir_;
};

TEST_F(SecretsFile, GeneratedOnFirstStartWithMode0600) {
  Config cfg = sqlite_config();
  ensure_secrets(cfg);
  EXPECT_THAT(cfg.generated_secrets, ElementsAre(kCap, kShared, kTicket));
  for (const std::string* s : {&cfg.captoken_hmac_secret, &cfg.internal_shared_secret, &cfg.ws_ticket_secret})
    EXPECT_EQ(s->size(), 43u);  // 32 bytes, base64url without padding
  EXPECT_NE(cfg.captoken_hmac_secret, cfg.internal_shared_secret);

  struct stat st {};
  ASSERT_EQ(::stat(file().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  const auto stored = read_secrets_file(dir_.string());
  EXPECT_EQ(stored.at(kCap), cfg.captoken_hmac_secret);
  EXPECT_EQ(stored.at(kShared), cfg.internal_shared_secret);
  EXPECT_EQ(stored.at(kTicket), cfg.ws_ticket_secret);
  EXPECT_EQ(stored.size(), 3u);
  // Only the final file remains: no temporary files left behind.
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 1);
  EXPECT_THAT(cfg.warnings, IsEmpty());
}

TEST_F(SecretsFile, ReusedOnSecondStart) {
  Config first = sqlite_config();
  ensure_secrets(first);
  const std::string before = file_text();

  Config second = sqlite_config();
  ensure_secrets(second);
  EXPECT_THAT(second.generated_secrets, IsEmpty());
  EXPECT_EQ(second.captoken_hmac_secret, first.captoken_hmac_secret);
  EXPECT_EQ(second.internal_shared_secret, first.internal_shared_secret);
  EXPECT_EQ(second.ws_ticket_secret, first.ws_ticket_secret);
  EXPECT_EQ(file_text(), before);  // not rewritten
}

TEST_F(SecretsFile, EnvironmentWinsOverFile) {
  Config first = sqlite_config();
  ensure_secrets(first);

  Config cfg = sqlite_config();
  cfg.captoken_hmac_secret = "from-env";
  ensure_secrets(cfg);
  EXPECT_EQ(cfg.captoken_hmac_secret, "from-env");
  EXPECT_EQ(cfg.internal_shared_secret, first.internal_shared_secret);
  EXPECT_THAT(cfg.generated_secrets, IsEmpty());
}

TEST_F(SecretsFile, EnvironmentValuesAreNotWritten) {
  Config cfg = sqlite_config();
  cfg.captoken_hmac_secret = "from-env";
  ensure_secrets(cfg);
  EXPECT_THAT(cfg.generated_secrets, ElementsAre(kShared, kTicket));
  EXPECT_EQ(read_secrets_file(dir_.string()).count(kCap), 0u);
  EXPECT_THAT(file_text(), ::testing::Not(HasSubstr("from-env")));
}

// The agentserver secret is the ticket key's fallback (load_config already applied it), so
// no ticket key is generated.
TEST_F(SecretsFile, TicketKeyFallbackPreventsGeneration) {
  Config cfg = sqlite_config();
  cfg.agentserver_internal_secret = "admin";
  cfg.ws_ticket_secret = "admin";
  ensure_secrets(cfg);
  EXPECT_THAT(cfg.generated_secrets, ElementsAre(kCap, kShared));
  EXPECT_EQ(cfg.ws_ticket_secret, "admin");
  EXPECT_EQ(read_secrets_file(dir_.string()).count(kTicket), 0u);
}

TEST_F(SecretsFile, NothingMissingTouchesNothing) {
  Config cfg = sqlite_config();
  cfg.captoken_hmac_secret = "a";
  cfg.internal_shared_secret = "b";
  cfg.ws_ticket_secret = "c";
  ensure_secrets(cfg);
  EXPECT_FALSE(fs::exists(file()));
  EXPECT_THAT(cfg.generated_secrets, IsEmpty());
}

TEST_F(SecretsFile, CompletesAPartialFileAndKeepsOtherEntries) {
  write_file("# comment\r\n\n  CXG_CAPTOKEN_HMAC_SECRET = kept \r\nOTHER=value\nnot a line\n");
  Config cfg = sqlite_config();
  ensure_secrets(cfg);
  EXPECT_EQ(cfg.captoken_hmac_secret, "kept");
  EXPECT_THAT(cfg.generated_secrets, ElementsAre(kShared, kTicket));
  const auto stored = read_secrets_file(dir_.string());
  EXPECT_EQ(stored.at(kCap), "kept");
  EXPECT_EQ(stored.at("OTHER"), "value");
  EXPECT_EQ(stored.at(kShared), cfg.internal_shared_secret);
}

TEST_F(SecretsFile, EmptyValueInFileIsRegenerated) {
  write_file("CXG_CAPTOKEN_HMAC_SECRET=\n");
  Config cfg = sqlite_config();
  ensure_secrets(cfg);
  EXPECT_EQ(cfg.captoken_hmac_secret.size(), 43u);
  EXPECT_THAT(cfg.generated_secrets, ElementsAre(kCap, kShared, kTicket));
}

TEST_F(SecretsFile, MemoryDatabaseUsesSqliteDir) {
  Config cfg;
  cfg.database = parse_database_url("sqlite://:memory:");
  cfg.database.sqlite_dir = dir_.string();
  ensure_secrets(cfg);
  EXPECT_TRUE(fs::exists(file()));
}

TEST_F(SecretsFile, WidePermissionsWarn) {
  write_file("CXG_CAPTOKEN_HMAC_SECRET=a\nCXG_INTERNAL_SHARED_SECRET=b\nCXG_WS_TICKET_SECRET=c\n",
             fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read | fs::perms::others_read);
  Config cfg = sqlite_config();
  ensure_secrets(cfg);
  EXPECT_EQ(cfg.ws_ticket_secret, "c");
  ASSERT_EQ(cfg.warnings.size(), 1u);
  EXPECT_THAT(cfg.warnings[0], HasSubstr("mode 0644"));
}

TEST_F(SecretsFile, UnreadableFileIsAnErrorNotARegeneration) {
  fs::create_directory(file());  // reading a directory fails with EISDIR
  Config cfg = sqlite_config();
  try {
    ensure_secrets(cfg);
    ADD_FAILURE() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), StartsWith("CXG_DATABASE_URL: cannot read"));
  }
}

TEST_F(SecretsFile, MissingDirectoryIsAnError) {
  Config cfg;
  cfg.database = parse_database_url("sqlite://" + (dir_ / "missing" / "cxg.db").string());
  EXPECT_THROW(ensure_secrets(cfg), ConfigError);
}

TEST_F(SecretsFile, ReadMissingFileGivesEmptyMap) {
  EXPECT_THAT(read_secrets_file(dir_.string()), IsEmpty());
  EXPECT_THAT(read_secrets_file((dir_ / "missing").string()), IsEmpty());
}

TEST(SecretsPostgres, MissingSecretsAreRequired) {
  Config cfg;
  cfg.database = parse_database_url("postgres://db/cxg");
  auto message = [&] {
    try {
      ensure_secrets(cfg);
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_EQ(message(), "CXG_CAPTOKEN_HMAC_SECRET is required");
  cfg.captoken_hmac_secret = "a";
  EXPECT_EQ(message(), "CXG_INTERNAL_SHARED_SECRET is required");
  cfg.internal_shared_secret = "b";
  EXPECT_EQ(message(), "CXG_WS_TICKET_SECRET is required");
  cfg.ws_ticket_secret = "c";  // e.g. from the CXG_AGENTSERVER_INTERNAL_SECRET fallback
  EXPECT_EQ(message(), "");
  EXPECT_THAT(cfg.generated_secrets, IsEmpty());
}

}  // namespace
}  // namespace cxg::config
