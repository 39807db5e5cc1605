#pragma once
// process/output, process/exited and process/closed notifications of one process, delivered in
// seq order with duplicates skipped (wire-protocol §8.4). The real exec-servers (0.130.0,
// 0.138.0) number a process's notifications from 1 and sometimes send them out of order; a
// numbering from 0 is accepted too. A missing seq is waited for kSeqGapWait, then skipped.
#include <boost/json/object.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cxg::cli {

inline constexpr std::chrono::milliseconds kSeqGapWait{300};

// process/exited can precede the process's last output (real exec-servers do this): after it
// a reader waits for process/closed, or until its polls have found nothing for 2 s. The quiet
// time is the sum of empty polls, not clock time: a reader that was itself stopped (SIGSTOP,
// a loaded machine) must not take its own pause for silence and cut the output short.
class AfterExitedWait {
 public:
  void exited() { exited_ = true; }
  void message_arrived() { quiet_ = {}; }
  // After a poll of `poll` that returned nothing: whether to stop waiting.
  bool quiet_poll(std::chrono::milliseconds poll) {
    if (!exited_) return false;
    quiet_ += poll;
    return quiet_ >= kQuiet;
  }

 private:
  static constexpr std::chrono::milliseconds kQuiet{2000};
  bool exited_ = false;
  std::chrono::milliseconds quiet_{};
};

// Notifications of our process, delivered in seq order with duplicates skipped. A missing seq
// is waited for kSeqGapWait, then skipped (the exec-servers number from 1; one numbering from
// 0 is accepted too).
class OutputSequencer {
 public:
  struct Note {
    std::string method;
    boost::json::object params;
  };

  void add(std::int64_t seq, Note note, std::chrono::steady_clock::time_point now) {
    if (!started_ && seq == 0) next_ = 0;
    if (seq < next_ || pending_.count(seq)) return;  // duplicate or already delivered
    if (pending_.empty()) oldest_wait_ = now;
    pending_.emplace(seq, std::move(note));
  }

  // Notes ready to deliver now: the contiguous run from next_, or (after a gap has lasted
  // kSeqGapWait, or with `flush`) the lowest pending one and what follows it.
  std::vector<Note> ready(std::chrono::steady_clock::time_point now, bool flush) {
    std::vector<Note> out;
    for (;;) {
      if (pending_.empty()) break;
      auto it = pending_.begin();
      if (it->first != next_ && !flush && now - oldest_wait_ < kSeqGapWait) break;
      next_ = it->first + 1;
      started_ = true;
      out.push_back(std::move(it->second));
      pending_.erase(it);
      oldest_wait_ = now;
    }
    return out;
  }

  bool has_pending() const { return !pending_.empty(); }

 private:
  std::int64_t next_ = 1;
  bool started_ = false;
  std::map<std::int64_t, Note> pending_;
  std::chrono::steady_clock::time_point oldest_wait_{};
};

// A process/output, process/exited or process/closed notification about `process_id` in a
// JSON-RPC message; nullopt for anything else (answers, other processes, other methods).
struct ProcessNotification {
  std::optional<std::int64_t> seq;  // absent: the executor did not number it
  OutputSequencer::Note note;
};
inline std::optional<ProcessNotification> process_notification(const boost::json::object& msg,
                                                               std::string_view process_id) {
  const auto* method = msg.if_contains("method");
  const auto* params = msg.if_contains("params");
  if (!method || !method->is_string() || !params || !params->is_object()) return std::nullopt;
  const std::string_view m = method->get_string();
  if (m != "process/output" && m != "process/exited" && m != "process/closed") return std::nullopt;
  const auto& p = params->get_object();
  const auto* pid = p.if_contains("processId");
  if (!pid || !pid->is_string() || pid->get_string() != process_id) return std::nullopt;
  ProcessNotification n{std::nullopt, {std::string(m), p}};
  if (const auto* s = p.if_contains("seq"); s && s->is_int64()) n.seq = s->get_int64();
  return n;
}

}  // namespace cxg::cli
