#pragma once
// process/output, process/exited and process/closed notifications of one process, delivered in
// seq order with duplicates skipped (wire-protocol §8.4). The real exec-servers (0.130.0,
// 0.138.0) number a process's notifications from 1 and sometimes send them out of order; a
// numbering from 0 is accepted too. A missing seq is waited for kSeqGapWait, then skipped.
#include <boost/json/object.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace cxg::cli {

inline constexpr std::chrono::milliseconds kSeqGapWait{300};

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

}  // namespace cxg::cli
