// The BM_EchoServer harness a server needs, whichever file it is written
// in: the loopback listener and the control a server thread shares with the
// benchmark's thread. Every server echoes kEchoMessageSize-byte messages.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <future>
#include <stdexcept>
#include <string>

#include "fail.hpp"

namespace cosync_bench {

inline constexpr std::size_t kEchoMessageSize = 64;

inline sockaddr_in loopback_address(std::uint16_t port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(port);
  return address;
}

// A listening socket on 127.0.0.1 and a port the kernel picks, for the
// servers whose library has no listen call of its own.
inline int listen_on_loopback() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) fail("socket");
  const sockaddr_in address = loopback_address(0);
  if (bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) fail("bind");
  if (listen(fd, SOMAXCONN) != 0) fail("listen");
  return fd;
}

inline std::uint16_t local_port(int fd) {
  sockaddr_in address{};
  socklen_t size = sizeof address;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size) != 0) fail("getsockname");
  return ntohs(address.sin_port);
}

// ---------------------------------------------------------------------------
// What a server thread and the benchmark thread share.

class ServerControl {
 public:
  ServerControl() {
    if (pipe2(stop_pipe_.data(), O_CLOEXEC | O_NONBLOCK) != 0) fail("pipe2");
  }
  ServerControl(const ServerControl&) = delete;
  ServerControl& operator=(const ServerControl&) = delete;
  ~ServerControl() {
    close(stop_pipe_[0]);
    close(stop_pipe_[1]);
  }

  // Server side. A handler calls handler_started just before its first
  // read and handler_finished when its connection is closed.
  void publish_port(std::uint16_t port) { port_.set_value(port); }
  // Instead of publish_port, from a server that cannot run here.
  void refuse(const std::string& reason) {
    port_.set_exception(std::make_exception_ptr(std::runtime_error(reason)));
  }
  int stop_fd() const noexcept { return stop_pipe_[0]; }
  void handler_started() noexcept {
    live_.fetch_add(1);
    started_.fetch_add(1);
    started_.notify_all();
  }
  void handler_finished() noexcept {
    live_.fetch_sub(1);
    live_.notify_all();
  }

  // Benchmark side. Throws std::runtime_error if the server refused.
  std::uint16_t port() { return port_future_.get(); }
  void wait_for_started(std::size_t count) const { wait_for(started_, count); }
  void wait_until_no_handlers() const { wait_for(live_, 0); }
  // The stop fd becomes readable; the server leaves its loop.
  void request_stop() const {
    const char byte = 0;
    if (write(stop_pipe_[1], &byte, 1) != 1) fail("write to the stop pipe");
  }

 private:
  static void wait_for(const std::atomic<std::size_t>& counter, std::size_t value) {
    for (std::size_t seen = counter.load(); seen != value; seen = counter.load()) {
      counter.wait(seen);
    }
  }

  std::promise<std::uint16_t> port_;
  std::future<std::uint16_t> port_future_ = port_.get_future();
  std::atomic<std::size_t> started_{0};
  std::atomic<std::size_t> live_{0};
  std::array<int, 2> stop_pipe_{};
};

// The raw io_uring echo server (io_uring_echo_bench.cpp).
void serve_io_uring_raw(ServerControl& control);

}  // namespace cosync_bench
