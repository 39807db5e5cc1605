// Presence writer ordering and retry, maintenance probes: real SQLite file, manual clock.
#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include "cxg/server/maintenance.hpp"
#include "cxg/server/presence_writer.hpp"
#include "cxg/store/sqlite_store.hpp"
#include "flaky_store.hpp"

namespace cxg::server {
namespace {

namespace fs = std::filesystem;

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("cxg-server-test-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    real_ = store::open_sqlite_store({(dir_ / "cxg.db").string()});
    flaky_ = std::make_unique<testing::FlakyStore>(*real_);
    real_->create_executor({"exe1", "u1", "", "", ""}, clock_.now_unix_ms());
    real_->heartbeat_replica("r1", "", clock_.now_unix_ms());
  }
  void TearDown() override {
    flaky_.reset();
    real_.reset();
    fs::remove_all(dir_);
  }
  bool online() { return real_->get_executor("exe1", clock_.now_unix_ms())->is_online; }

  fs::path dir_;
  ManualClock clock_;
  std::unique_ptr<store::Store> real_;
  std::unique_ptr<testing::FlakyStore> flaky_;
};

TEST_F(ServerTest, E3_PresenceWritesKeepSubmissionOrder) {
  PresenceWriter w(*flaky_, clock_, "r1");
  // Newest wins: B connects, then A's (stale) disconnect arrives; B must stay online.
  w.connected("exe1", "conn-a", false);
  w.connected("exe1", "conn-b", false);
  w.disconnected("exe1", "conn-a");
  w.flush();
  EXPECT_TRUE(online());
  EXPECT_FALSE(real_->get_executor("exe1", clock_.now_unix_ms())->disconnected_at.has_value());
  w.disconnected("exe1", "conn-b");
  w.flush();
  EXPECT_FALSE(online());
}

TEST_F(ServerTest, FailedPresenceWriteIsRetriedWhileConnectionLives) {
  flaky_->fail_presence_writes = 1;
  PresenceWriter w(*flaky_, clock_, "r1", std::chrono::milliseconds(20));
  w.connected("exe1", "conn-a", false);
  w.flush();
  EXPECT_FALSE(online());  // the first write failed
  for (int i = 0; i < 200 && !online(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_TRUE(online());
}

TEST_F(ServerTest, FailedPresenceWriteIsNotRetriedAfterDisconnect) {
  flaky_->fail_presence_writes = 1;
  PresenceWriter w(*flaky_, clock_, "r1", std::chrono::milliseconds(20));
  w.connected("exe1", "conn-a", false);
  w.flush();
  w.disconnected("exe1", "conn-a");
  w.flush();
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_FALSE(online());
}

TEST_F(ServerTest, H1_ReadinessFollowsStoreProbe) {
  api::TurnRevocations revocations(*flaky_, clock_);
  api::Readiness readiness;
  Maintenance m(*flaky_, revocations, readiness, clock_, "r1", "", {});
  EXPECT_EQ(readiness.not_ready_reason(clock_.now_unix_ms()), "starting");
  readiness.revocations_loaded();
  const auto t0 = std::chrono::steady_clock::now();
  m.run_due(t0);
  EXPECT_EQ(readiness.not_ready_reason(clock_.now_unix_ms()), "");
  flaky_->fail_ping = true;
  clock_.advance_ms(api::Readiness::kProbeFreshnessMs + 1);
  m.run_due(t0 + std::chrono::seconds(2));
  EXPECT_EQ(readiness.not_ready_reason(clock_.now_unix_ms()), "store unavailable");
  flaky_->fail_ping = false;
  m.run_due(t0 + std::chrono::seconds(4));
  EXPECT_EQ(readiness.not_ready_reason(clock_.now_unix_ms()), "");
  readiness.begin_draining();
  EXPECT_EQ(readiness.not_ready_reason(clock_.now_unix_ms()), "draining");
}

TEST_F(ServerTest, V4_MaintenancePrunesExpiredRevocations) {
  api::TurnRevocations revocations(*flaky_, clock_);
  api::Readiness readiness;
  MaintenanceIntervals iv;
  iv.revocation_prune = std::chrono::milliseconds(1);
  Maintenance m(*flaky_, revocations, readiness, clock_, "r1", "", iv);
  revocations.revoke("t1", clock_.now_unix_ms() + 1000);
  EXPECT_TRUE(revocations.is_revoked("t1"));
  clock_.advance_ms(1000);
  EXPECT_TRUE(revocations.is_revoked("t1"));  // now == expires_at is still revoked
  clock_.advance_ms(1);
  m.run_due(std::chrono::steady_clock::now() + std::chrono::hours(1));
  EXPECT_FALSE(revocations.is_revoked("t1"));
  EXPECT_TRUE(real_->load_revocations(0).empty());
}

}  // namespace
}  // namespace cxg::server
