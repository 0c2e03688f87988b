// An echo server for many connections, written five ways and driven by one
// client, so only the server differs:
//
//   BM_EchoServer/<lib>            64-byte messages echoed for 1,000 loopback
//                                  connections, one message in flight on each
//   BM_EchoServerIdleMemory/<lib>  RSS the server adds per idle connection
//                                  (1,000 connections, each handler blocked
//                                  in its first read)
//
// cosync: one coroutine per connection running plain synchronous code on
// cosync::Socket (read_exactly / write_all), accepted from the thread's
// main context, on the epoll loop and (cosync_io_uring) on the io_uring
// loop. State Threads: one st thread per connection on st_read_fully /
// st_write. libevent: raw readiness callbacks (event_new on each fd, read
// and send on non-blocking fds, no bufferevents). io_uring_raw: raw
// callbacks on io_uring completions (io_uring_echo_bench.cpp).
//
// Each server runs in a thread of its own with its own loop; the benchmark's
// thread is the client: a raw epoll loop over all connections that answers
// every echo with the next message. One iteration is 1,000 echoed messages;
// "msgs/s" is per second of wall-clock time. The one-thread client can
// saturate before the server does, so every row also reports what the
// server spent: its thread's CPU time per message (server_cpu_ns/msg) and
// its system calls per message (server_syscalls/msg, see
// syscall_counter.hpp). Connections are set up once per run, outside the
// timed loop. The project's figures are measured under
// `taskset -c 0,1` on a 2-core machine (client and server on a core each);
// nothing is pinned here.
#include <arpa/inet.h>
#include <benchmark/benchmark.h>
#include <event2/event.h>
#include <fcntl.h>
#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <st.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
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
#include "io_uring_loop.hpp"
#include "process_usage.hpp"
#include "syscall_counter.hpp"

namespace {

constexpr std::size_t kMessageSize = cosync_bench::kEchoMessageSize;
constexpr std::size_t kConnections = 1000;
constexpr std::size_t kIdleConnections = 1000;
constexpr std::uint64_t kMessagesPerIteration = kConnections;
constexpr int kEpollBatch = 256;
constexpr int kStStackSize = 64 * 1024;  // State Threads' own default

using cosync_bench::fail;

constexpr std::array<char, kMessageSize> kMessage = [] {
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
bool have_fds_for(std::size_t connections, benchmark::State& state) {
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

using cosync_bench::listen_on_loopback;
using cosync_bench::local_port;
using cosync_bench::loopback_address;
using cosync_bench::ServerControl;

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

void echo_cosync(cosync::Socket connection, ServerControl& control) {
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

void serve_cosync(ServerControl& control) {
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

// The same server on cosync's io_uring loop.
void serve_cosync_io_uring(ServerControl& control) {
  const cosync_bench::IoUringLoopScope io_uring;
  if (!io_uring.refused().empty()) {
    control.refuse("no io_uring loop: " + io_uring.refused());
    return;
  }
  serve_cosync(control);
}

// ---------------------------------------------------------------------------
// State Threads. Its state is process-wide and not thread-aware (globals,
// no thread-local storage), so it is used by one thread at a time: here
// the server thread, for the whole run. BM_PingPong/state_threads may have
// initialised it earlier on the main thread, which then waits outside ST.

// Debian's ST 1.9 is built without epoll: ST_EVENTSYS_ALT silently means
// select(), which cannot wait on an fd at or above FD_SETSIZE and lowers the
// process's fd limits to it. poll() is the best event system it has. The
// choice is made once per process (st_set_eventsys answers EBUSY after):
// returns false when an earlier benchmark initialised ST on another one.
bool init_state_threads_on_poll() {
  if (st_set_eventsys(ST_EVENTSYS_POLL) != 0 && errno != EBUSY) fail("st_set_eventsys");
  if (st_init() != 0) fail("st_init");
  // A server writing to a client that left gets SIGPIPE from write(2),
  // which ST uses: ST servers ignore the signal.
  std::signal(SIGPIPE, SIG_IGN);
  return st_get_eventsys() == ST_EVENTSYS_POLL;
}

struct StServer {
  st_netfd_t listener;
  ServerControl* control;
  int handler_stack_size;
};

void* st_echo(void* data) {
  auto* connection = static_cast<st_netfd_t>(data);
  const HandlerScope scope(*static_cast<ServerControl*>(st_netfd_getspecific(connection)));
  std::array<char, kMessageSize> message;
  const auto size = static_cast<ssize_t>(message.size());
  while (st_read_fully(connection, message.data(), message.size(), ST_UTIME_NO_TIMEOUT) == size &&
         st_write(connection, message.data(), message.size(), ST_UTIME_NO_TIMEOUT) == size) {
  }
  st_netfd_close(connection);
  return nullptr;
}

// Accepts until interrupted.
void* st_accept_loop(void* data) {
  const auto& server = *static_cast<StServer*>(data);
  for (;;) {
    st_netfd_t connection = st_accept(server.listener, nullptr, nullptr, ST_UTIME_NO_TIMEOUT);
    if (connection == nullptr) {
      if (errno == EINTR) return nullptr;
      fail("st_accept");
    }
    st_netfd_setspecific(connection, server.control, nullptr);
    if (st_thread_create(st_echo, connection, 0, server.handler_stack_size) == nullptr) {
      fail("st_thread_create");
    }
  }
}

void serve_state_threads(ServerControl& control, int handler_stack_size) {
  if (!init_state_threads_on_poll()) {
    control.refuse(std::string("State Threads was initialised on ") + st_get_eventsys_name() +
                   " by an earlier benchmark; it needs poll for 1,000 connections");
    return;
  }
  const int listen_fd = listen_on_loopback();
  StServer server{st_netfd_open_socket(listen_fd), &control, handler_stack_size};
  st_netfd_t stop = st_netfd_open(control.stop_fd());
  if (server.listener == nullptr || stop == nullptr) fail("st_netfd_open");
  st_thread_t acceptor = st_thread_create(st_accept_loop, &server, 1, kStStackSize);
  if (acceptor == nullptr) fail("st_thread_create");
  control.publish_port(local_port(listen_fd));
  char byte = 0;
  if (st_read(stop, &byte, 1, ST_UTIME_NO_TIMEOUT) != 1) fail("st_read from the stop pipe");
  st_thread_interrupt(acceptor);
  if (st_thread_join(acceptor, nullptr) != 0) fail("st_thread_join");
  st_netfd_close(server.listener);
  st_netfd_free(stop);  // ServerControl closes the pipe
}

void serve_state_threads_default(ServerControl& control) {
  serve_state_threads(control, kStStackSize);
}

// ST never unmaps the stack of a finished thread: it hands it to the next
// thread whose requested size fits. An idle-memory run would then measure
// the stacks an earlier run left resident. Asking each run for a stack one
// page larger than any before makes it map fresh ones, as a server that
// starts cold does; the size itself costs address space, not memory.
void serve_state_threads_fresh_stacks(ServerControl& control) {
  static int runs = 0;
  ++runs;
  serve_state_threads(control, kStStackSize + runs * static_cast<int>(sysconf(_SC_PAGESIZE)));
}

// ---------------------------------------------------------------------------
// libevent: level-triggered persistent read events. A handler reads into
// its message until it is whole, then sends it; a send the socket cannot
// take at once waits for writability with reading paused, as a careful
// user writes it (here the client never lets that happen).

struct LibeventConnection {
  ServerControl* control;
  int fd;
  event* readable = nullptr;
  event* writable = nullptr;
  std::size_t filled = 0;
  std::size_t sent = 0;
  std::array<char, kMessageSize> message{};
};

void close_libevent_connection(LibeventConnection* connection) {
  event_free(connection->readable);
  event_free(connection->writable);
  close(connection->fd);
  connection->control->handler_finished();
  delete connection;
}

enum class Flush { done, blocked, failed };

Flush flush_message(LibeventConnection& connection) {
  while (connection.sent < kMessageSize) {
    const ssize_t n = send(connection.fd, connection.message.data() + connection.sent,
                           kMessageSize - connection.sent, MSG_NOSIGNAL);
    if (n > 0) {
      connection.sent += static_cast<std::size_t>(n);
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      return Flush::blocked;
    } else if (errno != EINTR) {
      return Flush::failed;
    }
  }
  connection.filled = 0;
  connection.sent = 0;
  return Flush::done;
}

void on_libevent_writable(evutil_socket_t /*fd*/, short /*events*/, void* data) {
  auto* connection = static_cast<LibeventConnection*>(data);
  switch (flush_message(*connection)) {
    case Flush::done:
      event_add(connection->readable, nullptr);
      break;
    case Flush::blocked:
      event_add(connection->writable, nullptr);
      break;
    case Flush::failed:
      close_libevent_connection(connection);
      break;
  }
}

void on_libevent_readable(evutil_socket_t fd, short /*events*/, void* data) {
  auto* connection = static_cast<LibeventConnection*>(data);
  const ssize_t n = recv(fd, connection->message.data() + connection->filled,
                         kMessageSize - connection->filled, 0);
  if (n <= 0) {
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
    close_libevent_connection(connection);  // end of stream or a reset
    return;
  }
  connection->filled += static_cast<std::size_t>(n);
  if (connection->filled < kMessageSize) return;
  switch (flush_message(*connection)) {
    case Flush::done:
      break;
    case Flush::blocked:
      event_del(connection->readable);
      event_add(connection->writable, nullptr);
      break;
    case Flush::failed:
      close_libevent_connection(connection);
      break;
  }
}

void start_libevent_connection(event_base* base, ServerControl& control, int fd) {
  auto* connection = new LibeventConnection{&control, fd};
  connection->readable =
      event_new(base, fd, EV_READ | EV_PERSIST, on_libevent_readable, connection);
  connection->writable = event_new(base, fd, EV_WRITE, on_libevent_writable, connection);
  if (connection->readable == nullptr || connection->writable == nullptr) fail("event_new");
  if (event_add(connection->readable, nullptr) != 0) fail("event_add");
  control.handler_started();
}

struct LibeventServer {
  event_base* base;
  ServerControl* control;
};

// Takes every connection waiting in the backlog.
void on_libevent_acceptable(evutil_socket_t listen_fd, short /*events*/, void* data) {
  auto& server = *static_cast<LibeventServer*>(data);
  for (;;) {
    const int fd = accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      start_libevent_connection(server.base, *server.control, fd);
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      return;
    } else if (errno != EINTR && errno != ECONNABORTED) {
      fail("accept4");
    }
  }
}

void serve_libevent(ServerControl& control) {
  event_base* base = event_base_new();
  if (base == nullptr) fail("event_base_new");
  const int listen_fd = listen_on_loopback();
  LibeventServer server{base, &control};
  event* acceptable =
      event_new(base, listen_fd, EV_READ | EV_PERSIST, on_libevent_acceptable, &server);
  event* stop = event_new(
      base, control.stop_fd(), EV_READ,
      [](evutil_socket_t, short, void* loop) {
        event_base_loopbreak(static_cast<event_base*>(loop));
      },
      base);
  if (acceptable == nullptr || stop == nullptr) fail("event_new");
  event_add(acceptable, nullptr);
  event_add(stop, nullptr);
  control.publish_port(local_port(listen_fd));
  if (event_base_dispatch(base) < 0) fail("event_base_dispatch");
  event_free(acceptable);
  event_free(stop);
  close(listen_fd);
  event_base_free(base);
}

// ---------------------------------------------------------------------------
// BM_EchoServer

// The server's port; 0 once the benchmark is skipped because the server
// refused to run.
std::uint16_t port_or_skip(RunningServer& server, benchmark::State& state) {
  try {
    return server.control().port();
  } catch (const std::runtime_error& refusal) {
    state.SkipWithError(refusal.what());
    return 0;
  }
}

void BM_EchoServer(benchmark::State& state, Serve serve) {
  if (!have_fds_for(kConnections, state)) return;
  RunningServer server(serve);
  const std::uint16_t port = port_or_skip(server, state);
  if (port == 0) return;
  LoadClient client(kConnections);  // destroyed first: it disconnects
  client.connect_all(port);
  server.control().wait_for_started(kConnections);
  client.send_first_messages();
  const cosync_bench::SyscallCounter server_syscalls(server.tid());
  const std::uint64_t syscalls_before = server_syscalls.count();
  const double cpu_before = server.cpu_ns();
  for (auto _ : state) {
    client.exchange(kMessagesPerIteration);
  }
  const auto messages = static_cast<double>(state.iterations() * kMessagesPerIteration);
  state.counters["server_cpu_ns/msg"] = (server.cpu_ns() - cpu_before) / messages;
  cosync_bench::report_syscalls(state, server_syscalls, syscalls_before, messages,
                                "server_syscalls/msg");
  state.counters["msgs/s"] = benchmark::Counter(messages, benchmark::Counter::kIsRate);
  state.counters["connections"] = static_cast<double>(kConnections);
}

// ---------------------------------------------------------------------------
// BM_EchoServerIdleMemory: the process's RSS before and after the server
// accepted every connection and each handler blocked in its first read.
// The client allocates nothing in user space meanwhile, so the growth is
// the server's. Memory freed by earlier runs is given back to the kernel
// first, so the server pays for every page it touches.

using cosync::usage::resident_bytes;

// The counters move just before a handler's blocking call; this gives the
// server thread time to finish that call and fall asleep in its poll.
void let_server_settle() { std::this_thread::sleep_for(std::chrono::milliseconds(50)); }

void BM_EchoServerIdleMemory(benchmark::State& state, Serve serve) {
  if (!have_fds_for(kIdleConnections, state)) return;
  RunningServer server(serve);
  const std::uint16_t port = port_or_skip(server, state);
  if (port == 0) return;
  LoadClient client(kIdleConnections);
  for (auto _ : state) {
    let_server_settle();
    malloc_trim(0);
    const std::size_t before = resident_bytes();
    client.connect_all(port);
    server.control().wait_for_started(kIdleConnections);
    let_server_settle();
    const double added = static_cast<double>(resident_bytes()) - static_cast<double>(before);
    state.counters["rss_per_connection_bytes"] = added / static_cast<double>(kIdleConnections);
    state.counters["connections"] = static_cast<double>(kIdleConnections);
  }
}

}  // namespace

BENCHMARK_CAPTURE(BM_EchoServer, cosync, serve_cosync)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_EchoServer, cosync_io_uring, serve_cosync_io_uring)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_EchoServer, io_uring_raw, cosync_bench::serve_io_uring_raw)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_EchoServer, state_threads, serve_state_threads_default)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_EchoServer, libevent, serve_libevent)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// One iteration is one measurement of 1,000 connections: repeat with
// --benchmark_repetitions rather than iterate.
BENCHMARK_CAPTURE(BM_EchoServerIdleMemory, cosync, serve_cosync)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_EchoServerIdleMemory, cosync_io_uring, serve_cosync_io_uring)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_EchoServerIdleMemory, io_uring_raw, cosync_bench::serve_io_uring_raw)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_EchoServerIdleMemory, state_threads, serve_state_threads_fresh_stacks)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_EchoServerIdleMemory, libevent, serve_libevent)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);
