// The echo benchmarks' shared parts: the client that drives 1,000 loopback
// connections, the server thread with its CPU clock, the cosync server on
// cosync::Socket, and BM_EchoServer's body. Included by echo_bench.cpp
// (cosync-bench) and hooked_echo_bench.cpp (cosync-bench-hook), once per
// binary; what a server itself needs is in echo_server.hpp.
#pragma once

#include <benchmark/benchmark.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <ctime>
#include <functional>
#include <future>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "cosync/io.hpp"
#include "cosync/request.hpp"
#include "cosync/sync.hpp"
#include "echo_server.hpp"
#include "fail.hpp"
#include "syscall_counter.hpp"

namespace cosync_bench {

inline constexpr std::size_t kMessageSize = kEchoMessageSize;
inline constexpr std::size_t kConnections = 1000;
inline constexpr std::size_t kIdleConnections = 1000;
inline constexpr std::uint64_t kMessagesPerIteration = kConnections;
inline constexpr int kEpollBatch = 256;

inline constexpr std::array<char, kMessageSize> kMessage = [] {
  std::array<char, kMessageSize> message{};
  for (std::size_t i = 0; i < kMessageSize; ++i) {
    message[i] = static_cast<char>('a' + i % 26);
  }
  return message;
}();

// Client and server share the process: each connection takes two fds.
// Raises the fd limit when they would not fit (the hard limit too, where
// the process may), else skips the benchmark saying why. State Threads
// initialised on select() has lowered both limits to FD_SETSIZE for the
// whole process, and only a privileged process can raise them again.
inline bool have_fds_for(std::size_t connections, benchmark::State& state) {
  const auto needed = static_cast<rlim_t>(2 * connections + 64);
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) fail("getrlimit");
  if (limit.rlim_cur >= needed) return true;
  const rlim_t hard = limit.rlim_max;
  limit.rlim_cur = needed;
  limit.rlim_max = std::max(hard, needed);
  if (setrlimit(RLIMIT_NOFILE, &limit) == 0) return true;
  state.SkipWithError(("needs " + std::to_string(needed) + " fds, the hard limit is " +
                       std::to_string(hard) +
                       " (State Threads on select(), as BM_PingPong/state_threads initialises "
                       "it, lowers it to FD_SETSIZE)")
                          .c_str());
  return false;
}

using Serve = void (*)(ServerControl& control);

// A server on a thread of its own, from construction to destruction. The
// client must have closed its connections before destruction: the server is
// stopped once every handler has seen its connection end.
class RunningServer {
 public:
  explicit RunningServer(Serve serve)
      : thread_([this, serve] {
          tid_.set_value(gettid());
          serve(control_);
        }) {}
  RunningServer(const RunningServer&) = delete;
  RunningServer& operator=(const RunningServer&) = delete;
  ~RunningServer() {
    control_.wait_until_no_handlers();
    control_.request_stop();
    thread_.join();
  }

  ServerControl& control() noexcept { return control_; }
  // The server thread's kernel id, for counting its system calls.
  pid_t tid() { return tid_future_.get(); }
  // CPU time the server thread has used so far, in nanoseconds.
  double cpu_ns() {
    clockid_t clock{};
    timespec used{};
    if (pthread_getcpuclockid(thread_.native_handle(), &clock) != 0 ||
        clock_gettime(clock, &used) != 0) {
      fail("the server thread's CPU clock");
    }
    return static_cast<double>(used.tv_sec) * 1e9 + static_cast<double>(used.tv_nsec);
  }

 private:
  ServerControl control_;
  std::promise<pid_t> tid_;
  std::shared_future<pid_t> tid_future_ = tid_.get_future().share();
  std::thread thread_;
};

// ---------------------------------------------------------------------------
// The client, the same for every server: blocking connects, then a raw
// epoll loop. Each connection has one message in flight; an echo that is
// complete and correct is counted and answered with the next message. The
// socket buffers never hold more than one message, so a send never blocks.

class LoadClient {
 public:
  // Reserves everything up front: connecting allocates nothing in user
  // space, so the idle-memory case sees the server's growth alone.
  explicit LoadClient(std::size_t connections) : epoll_fd_(epoll_create1(EPOLL_CLOEXEC)) {
    if (epoll_fd_ < 0) fail("epoll_create1");
    connections_.reserve(connections);
  }
  LoadClient(const LoadClient&) = delete;
  LoadClient& operator=(const LoadClient&) = delete;
  ~LoadClient() {
    disconnect_all();
    close(epoll_fd_);
  }

  void connect_all(std::uint16_t port) {
    const sockaddr_in address = loopback_address(port);
    while (connections_.size() < connections_.capacity()) {
      connections_.push_back(Connection{connect_to(address)});
      watch(connections_.size() - 1);
    }
  }

  void send_first_messages() {
    for (const Connection& connection : connections_) send_message(connection.fd);
  }

  // Runs until `messages` more echoes have come back.
  void exchange(std::uint64_t messages) {
    const std::uint64_t goal = echoed_ + messages;
    std::array<epoll_event, kEpollBatch> events;
    while (echoed_ < goal) {
      const int ready = epoll_wait(epoll_fd_, events.data(), kEpollBatch, -1);
      if (ready < 0 && errno != EINTR) fail("client epoll_wait");
      for (int i = 0; i < ready; ++i) receive(connections_[events[i].data.u64]);
    }
  }

  // Closing with an echo still unread resets the connection: the servers
  // take a reset as the end of the connection, as they take end of stream.
  void disconnect_all() {
    for (const Connection& connection : connections_) close(connection.fd);
    connections_.clear();
  }

 private:
  struct Connection {
    int fd;
    std::size_t received = 0;
    std::array<char, kMessageSize> echo{};
  };

  static int connect_to(const sockaddr_in& address) {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) fail("client socket");
    if (connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
      fail("client connect");
    }
    const int on = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    return fd;
  }

  void watch(std::size_t index) {
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.u64 = index;
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, connections_[index].fd, &event) != 0) {
      fail("client epoll_ctl");
    }
  }

  static void send_message(int fd) {
    if (send(fd, kMessage.data(), kMessage.size(), MSG_NOSIGNAL) !=
        static_cast<ssize_t>(kMessage.size())) {
      fail("client send");
    }
  }

  void receive(Connection& connection) {
    const ssize_t got = recv(connection.fd, connection.echo.data() + connection.received,
                             kMessageSize - connection.received, 0);
    if (got <= 0) {
      if (got < 0 && errno == EINTR) return;
      fail(got == 0 ? "client recv: the server closed a connection" : "client recv");
    }
    connection.received += static_cast<std::size_t>(got);
    if (connection.received < kMessageSize) return;
    if (connection.echo != kMessage) fail("client: the echo differs from the message");
    connection.received = 0;
    ++echoed_;
    send_message(connection.fd);
  }

  int epoll_fd_;
  std::vector<Connection> connections_;
  std::uint64_t echoed_ = 0;
};

// ---------------------------------------------------------------------------
// cosync: the accept loop runs on the thread's main context (outside any
// coroutine accept() runs the loop while it waits); each connection is a
// coroutine with default options in a task group that outlives failures.

// Counts a handler as started and, however it ends, finished.
class HandlerScope {
 public:
  explicit HandlerScope(ServerControl& control) noexcept : control_(control) {
    control_.handler_started();
  }
  HandlerScope(const HandlerScope&) = delete;
  HandlerScope& operator=(const HandlerScope&) = delete;
  ~HandlerScope() { control_.handler_finished(); }

 private:
  ServerControl& control_;
};

inline void echo_cosync(cosync::Socket connection, ServerControl& control) {
  const HandlerScope scope(control);
  std::array<char, kMessageSize> message;
  std::error_code error;  // end of stream or a reset: the client left
  for (;;) {
    connection.read_exactly(message.data(), message.size(), error);
    if (error) return;
    connection.write_all(message.data(), message.size(), error);
    if (error) return;
  }
}

inline void serve_cosync(ServerControl& control) {
  cosync::Socket listener = cosync::Socket::listen(cosync::Address::parse("127.0.0.1:0"));
  control.publish_port(listener.local_address().port());
  cosync::Request<void> stopper = cosync::spawn([&control, &listener] {
    cosync::wait_io(control.stop_fd(), cosync::io_readable);
    listener.close();  // the accept below ends with ECANCELED
  });
  cosync::TaskGroup connections(cosync::TaskGroup::OnFailure::keep_going);
  for (;;) {
    std::error_code error;
    cosync::Socket connection = listener.accept(error);
    if (error) break;
    connections.spawn(echo_cosync, std::move(connection), std::ref(control));
  }
  stopper.get();
  connections.join();
}

// ---------------------------------------------------------------------------
// BM_EchoServer

// The server's port; 0 once the benchmark is skipped because the server
// refused to run.
inline std::uint16_t port_or_skip(RunningServer& server, benchmark::State& state) {
  try {
    return server.control().port();
  } catch (const std::runtime_error& refusal) {
    state.SkipWithError(refusal.what());
    return 0;
  }
}

// 1,000 echoes per iteration; besides "msgs/s", what the server thread
// spent per message: CPU time ("server_cpu_ns/msg") and system calls
// ("server_syscalls/msg", where the kernel lets them be counted).
inline void BM_EchoServer(benchmark::State& state, Serve serve) {
  if (!have_fds_for(kConnections, state)) return;
  RunningServer server(serve);
  const std::uint16_t port = port_or_skip(server, state);
  if (port == 0) return;
  LoadClient client(kConnections);  // destroyed first: it disconnects
  client.connect_all(port);
  server.control().wait_for_started(kConnections);
  client.send_first_messages();
  const SyscallCounter server_syscalls(server.tid());
  const std::uint64_t syscalls_before = server_syscalls.count();
  const double cpu_before = server.cpu_ns();
  for (auto _ : state) {
    client.exchange(kMessagesPerIteration);
  }
  const auto messages = static_cast<double>(state.iterations() * kMessagesPerIteration);
  state.counters["server_cpu_ns/msg"] = (server.cpu_ns() - cpu_before) / messages;
  report_syscalls(state, server_syscalls, syscalls_before, messages, "server_syscalls/msg");
  state.counters["msgs/s"] = benchmark::Counter(messages, benchmark::Counter::kIsRate);
  state.counters["connections"] = static_cast<double>(kConnections);
}

}  // namespace cosync_bench
