#pragma once
// Local terminal and file-descriptor helpers for the client commands.
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace cxg::cli {

// Writes all of `data` to `fd`, retrying on EINTR and waiting out EAGAIN (a non-blocking
// descriptor inherited from the parent). False on any other error (EPIPE, ...).
bool write_all(int fd, std::string_view data);

// A one-line progress bar on stderr, drawn only when stderr is a terminal and the transfer is
// at least `threshold` bytes. total == 0 means unknown (bytes and rate only).
class ProgressBar {
 public:
  ProgressBar(std::string label, std::uint64_t total, std::uint64_t threshold = 4u << 20);
  ~ProgressBar();
  void update(std::uint64_t done);
  void finish();  // draws 100 % and ends the line (if drawn at all)

 private:
  void draw(bool final);
  std::string label_;
  std::uint64_t total_, done_ = 0;
  bool enabled_, drawn_ = false, finished_ = false;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

std::string human_bytes(std::uint64_t n);

}  // namespace cxg::cli
