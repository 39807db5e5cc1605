#include "auth/test_http_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <stdexcept>

namespace cxg::auth::test_support {
namespace {

constexpr int kPollMs = 20;

int bind_loopback(std::uint16_t& port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error("socket failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    throw std::runtime_error("bind failed");
  }
  port = ntohs(addr.sin_port);
  return fd;
}

bool readable(int fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, kPollMs) > 0;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t");
  const auto e = s.find_last_not_of(" \t\r");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

CapturedRequest parse_head(const std::string& head) {
  CapturedRequest request;
  std::size_t pos = head.find("\r\n");
  request.request_line = head.substr(0, pos);
  while (pos != std::string::npos && pos + 2 < head.size()) {
    const std::size_t next = head.find("\r\n", pos + 2);
    const std::string line = head.substr(pos + 2, next - pos - 2);
    if (const auto colon = line.find(':'); colon != std::string::npos)
      request.headers[lower(line.substr(0, colon))] = trim(line.substr(colon + 1));
    pos = next;
  }
  return request;
}

}  // namespace

TestHttpServer::TestHttpServer(std::string canned_response, Mode mode)
    : canned_response_(std::move(canned_response)), mode_(mode) {
  listener_ = bind_loopback(port_);
  if (::listen(listener_, 16) != 0) throw std::runtime_error("listen failed");
  thread_ = std::thread([this] { serve(); });
}

TestHttpServer::~TestHttpServer() {
  stop_ = true;
  thread_.join();
  ::close(listener_);
}

std::string TestHttpServer::base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }

std::vector<CapturedRequest> TestHttpServer::requests() const {
  std::lock_guard lock(mu_);
  return requests_;
}

std::string TestHttpServer::response(int status, const std::string& body, const std::string& content_type) {
  return "HTTP/1.1 " + std::to_string(status) + " Canned\r\nContent-Type: " + content_type +
         "\r\nContent-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
}

std::uint16_t TestHttpServer::closed_port() {
  std::uint16_t port = 0;
  ::close(bind_loopback(port));
  return port;
}

void TestHttpServer::serve() {
  while (!stop_) {
    if (!readable(listener_)) continue;
    const int client = ::accept(listener_, nullptr, nullptr);
    if (client < 0) continue;
    handle(client);
    ::close(client);
  }
}

void TestHttpServer::handle(int client) {
  std::string data;
  std::size_t head_end = std::string::npos;
  std::size_t wanted = 0;
  char buf[4096];
  while (!stop_) {
    if (!readable(client)) continue;
    const ssize_t n = ::recv(client, buf, sizeof buf, 0);
    if (n <= 0) return;
    data.append(buf, static_cast<std::size_t>(n));
    if (head_end == std::string::npos && (head_end = data.find("\r\n\r\n")) != std::string::npos) {
      const auto head = parse_head(data.substr(0, head_end));
      const auto cl = head.headers.find("content-length");
      wanted = head_end + 4 + (cl == head.headers.end() ? 0 : std::stoul(cl->second));
    }
    if (head_end != std::string::npos && data.size() >= wanted) break;
  }
  if (head_end == std::string::npos) return;
  CapturedRequest request = parse_head(data.substr(0, head_end));
  request.body = data.substr(head_end + 4);
  {
    std::lock_guard lock(mu_);
    requests_.push_back(std::move(request));
  }
  if (mode_ == Mode::hang) return wait_until_stopped_or_closed(client);
  ::send(client, canned_response_.data(), canned_response_.size(), MSG_NOSIGNAL);
}

// Holds the connection open without answering until the client gives up (or the test ends).
void TestHttpServer::wait_until_stopped_or_closed(int client) const {
  char buf[256];
  while (!stop_) {
    if (readable(client) && ::recv(client, buf, sizeof buf, 0) <= 0) return;
  }
}

}  // namespace cxg::auth::test_support
