#include "local_io.hpp"

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

namespace cxg::cli {

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n > 0) {
      data.remove_prefix(static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd p{fd, POLLOUT, 0};
      ::poll(&p, 1, 1000);
      continue;
    }
    return false;
  }
  return true;
}

std::string human_bytes(std::uint64_t n) {
  char buf[32];
  if (n < 1024) std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(n));
  else if (n < (1u << 20)) std::snprintf(buf, sizeof buf, "%.1f KiB", n / 1024.0);
  else if (n < (1ull << 30)) std::snprintf(buf, sizeof buf, "%.1f MiB", n / 1048576.0);
  else std::snprintf(buf, sizeof buf, "%.2f GiB", n / 1073741824.0);
  return buf;
}

ProgressBar::ProgressBar(std::string label, std::uint64_t total, std::uint64_t threshold)
    : label_(std::move(label)), total_(total), enabled_(::isatty(2) == 1 && (total == 0 || total >= threshold)),
      start_(std::chrono::steady_clock::now()) {}

ProgressBar::~ProgressBar() {
  if (drawn_ && !finished_) std::fputs("\n", stderr);
}

void ProgressBar::update(std::uint64_t done) {
  done_ = done;
  if (!enabled_ || done == 0) return;
  const auto now = std::chrono::steady_clock::now();
  if (drawn_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  draw(false);
}

void ProgressBar::finish() {
  if (finished_) return;
  if (enabled_ && (drawn_ || (total_ == 0 ? done_ : total_) >= (4u << 20))) {
    if (total_) done_ = total_;
    draw(true);
  }
  finished_ = true;
}

void ProgressBar::draw(bool final) {
  drawn_ = true;
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double rate = secs > 0 ? done_ / secs : 0;
  std::string line = "\r" + label_ + " ";
  if (total_) {
    constexpr int kWidth = 30;
    const double frac = std::min(1.0, static_cast<double>(done_) / static_cast<double>(total_));
    const int fill = static_cast<int>(frac * kWidth);
    line += "[" + std::string(fill, '#') + std::string(kWidth - fill, '-') + "] ";
    char pct[16];
    std::snprintf(pct, sizeof pct, "%3d%% ", static_cast<int>(frac * 100));
    line += pct + human_bytes(done_) + " / " + human_bytes(total_);
  } else {
    line += human_bytes(done_);
  }
  line += "  " + human_bytes(static_cast<std::uint64_t>(rate)) + "/s\x1b[K";
  if (final) line += "\n";
  std::fputs(line.c_str(), stderr);
  std::fflush(stderr);
}

}  // namespace cxg::cli
