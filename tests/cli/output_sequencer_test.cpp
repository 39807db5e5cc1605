// The CLI's handling of a process's notifications (src/cli/output_sequencer.hpp): seq order,
// the choice of what belongs to our process, and when to stop waiting after process/exited.
#include "cli/output_sequencer.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

namespace cxg::cli {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

OutputSequencer::Note note(std::string text) { return {"process/output", {{"text", std::move(text)}}}; }

std::string texts(const std::vector<OutputSequencer::Note>& notes) {
  std::string out;
  for (const auto& n : notes) out += std::string(n.params.at("text").as_string());
  return out;
}

TEST(OutputSequencer, DeliversInSeqOrderAndSkipsDuplicates) {
  OutputSequencer seq;
  const auto t0 = Clock::time_point{};
  seq.add(2, note("b"), t0);
  EXPECT_EQ(texts(seq.ready(t0, false)), "");  // waits for 1
  seq.add(1, note("a"), t0);
  seq.add(1, note("dup"), t0);
  EXPECT_EQ(texts(seq.ready(t0, false)), "ab");
  seq.add(2, note("late dup"), t0);
  seq.add(3, note("c"), t0);
  EXPECT_EQ(texts(seq.ready(t0, false)), "c");
}

TEST(OutputSequencer, AMissingSeqIsSkippedAfterTheGapWait) {
  OutputSequencer seq;
  const auto t0 = Clock::time_point{};
  seq.add(1, note("a"), t0);
  seq.add(3, note("c"), t0);
  EXPECT_EQ(texts(seq.ready(t0, false)), "a");
  EXPECT_EQ(texts(seq.ready(t0 + kSeqGapWait - milliseconds(1), false)), "");
  EXPECT_EQ(texts(seq.ready(t0 + kSeqGapWait, false)), "c");
}

TEST(OutputSequencer, NumberingFromZeroIsAccepted) {
  OutputSequencer seq;
  const auto t0 = Clock::time_point{};
  seq.add(0, note("x"), t0);
  seq.add(1, note("y"), t0);
  EXPECT_EQ(texts(seq.ready(t0, false)), "xy");
}

TEST(ProcessNotification, PicksOnlyOurProcessesOutputExitedAndClosed) {
  auto msg = [](std::string_view json) { return boost::json::parse(json).as_object(); };
  const auto out = process_notification(
      msg(R"({"method":"process/output","params":{"processId":"p1","seq":4,"chunk":"aGk="}})"), "p1");
  ASSERT_TRUE(out);
  EXPECT_EQ(out->seq, 4);
  EXPECT_EQ(out->note.method, "process/output");
  const auto closed = process_notification(msg(R"({"method":"process/closed","params":{"processId":"p1"}})"), "p1");
  ASSERT_TRUE(closed);
  EXPECT_FALSE(closed->seq);
  EXPECT_FALSE(process_notification(msg(R"({"method":"process/output","params":{"processId":"p2","seq":1}})"), "p1"));
  EXPECT_FALSE(process_notification(msg(R"({"method":"fs/changed","params":{"processId":"p1"}})"), "p1"));
  EXPECT_FALSE(process_notification(msg(R"({"id":3,"result":{}})"), "p1"));
  EXPECT_FALSE(process_notification(msg(R"({"method":"process/exited","params":"p1"})"), "p1"));
}

TEST(AfterExitedWait, NeverEndsBeforeTheExit) {
  AfterExitedWait w;
  for (int i = 0; i < 100; ++i) EXPECT_FALSE(w.quiet_poll(milliseconds(100)));
}

TEST(AfterExitedWait, EndsAfterTwoSecondsOfEmptyPollsAndAnArrivalRestartsIt) {
  AfterExitedWait w;
  w.exited();
  for (int i = 0; i < 19; ++i) EXPECT_FALSE(w.quiet_poll(milliseconds(100)));
  w.message_arrived();
  for (int i = 0; i < 19; ++i) EXPECT_FALSE(w.quiet_poll(milliseconds(100)));
  EXPECT_TRUE(w.quiet_poll(milliseconds(100)));
}

}  // namespace
}  // namespace cxg::cli
