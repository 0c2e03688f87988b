// An echo server for many connections, written five ways and driven by one
// client, so only the server differs:
//
//   BM_EchoServer/<lib>            64-byte messages echoed for 1,000 loopback
//                                  connections, one message in flight on each
//   BM_EchoServerIdleMemory/<lib>  RSS the server adds per idle connection
//                                  (1,000 connections, each handler blocked
//                                  in its first read)
//   BM_EchoServerIdleMemoryMany/<lib>  the same with 9,900 connections (the
//                                  client's and the server's fds fit a
//                                  20,000-fd hard limit), for cosync on
//                                  either loop and the raw io_uring server
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
// timed loop. The client, the server thread, the cosync server and
// BM_EchoServer's body are in echo_harness.hpp, shared with
// cosync-bench-hook (hooked_echo_bench.cpp). The project's figures are
// measured under `taskset -c 0,1` on a 2-core machine (client and server on
// a core each); nothing is pinned here.
#include <benchmark/benchmark.h>
#include <event2/event.h>
#include <malloc.h>
#include <st.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstddef>
#include <string>
#include <thread>

#include "echo_harness.hpp"
#include "io_uring_loop.hpp"
#include "process_usage.hpp"

namespace {

using namespace cosync_bench;  // the shared client, control and cosync server

constexpr int kStStackSize = 64 * 1024;  // State Threads' own default

// ---------------------------------------------------------------------------
// cosync: serve_cosync (echo_harness.hpp) on the epoll loop, and here the
// same server on cosync's io_uring loop.

// The same server on cosync's io_uring loop.
void serve_cosync_io_uring(ServerControl& control) {
  const IoUringLoopScope io_uring;
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
// BM_EchoServerIdleMemory: the process's RSS before and after the server
// accepted every connection and each handler blocked in its first read.
// The client allocates nothing in user space meanwhile, so the growth is
// the server's. Memory freed by earlier runs is given back to the kernel
// first, so the server pays for every page it touches.

using cosync::usage::resident_bytes;

// The counters move just before a handler's blocking call; this gives the
// server thread time to finish that call and fall asleep in its poll.
void let_server_settle() { std::this_thread::sleep_for(std::chrono::milliseconds(50)); }

void idle_memory(benchmark::State& state, Serve serve, std::size_t connections) {
  if (!have_fds_for(connections, state)) return;
  RunningServer server(serve);
  const std::uint16_t port = port_or_skip(server, state);
  if (port == 0) return;
  LoadClient client(connections);
  for (auto _ : state) {
    let_server_settle();
    malloc_trim(0);
    const std::size_t before = resident_bytes();
    client.connect_all(port);
    server.control().wait_for_started(connections);
    let_server_settle();
    const double added = static_cast<double>(resident_bytes()) - static_cast<double>(before);
    state.counters["rss_per_connection_bytes"] = added / static_cast<double>(connections);
    state.counters["connections"] = static_cast<double>(connections);
  }
}

void BM_EchoServerIdleMemory(benchmark::State& state, Serve serve) {
  idle_memory(state, serve, kIdleConnections);
}

// Two fds per connection (client and server ends) and some to spare must
// fit the hard limit of a container that cannot raise it (20,000).
constexpr std::size_t kManyIdleConnections = 9900;

void BM_EchoServerIdleMemoryMany(benchmark::State& state, Serve serve) {
  idle_memory(state, serve, kManyIdleConnections);
}

}  // namespace

BENCHMARK_CAPTURE(BM_EchoServer, cosync, serve_cosync)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_EchoServer, cosync_io_uring, serve_cosync_io_uring)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_EchoServer, io_uring_raw, serve_io_uring_raw)
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
BENCHMARK_CAPTURE(BM_EchoServerIdleMemory, io_uring_raw, serve_io_uring_raw)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_EchoServerIdleMemory, state_threads, serve_state_threads_fresh_stacks)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_EchoServerIdleMemory, libevent, serve_libevent)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_EchoServerIdleMemoryMany, cosync, serve_cosync)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_EchoServerIdleMemoryMany, cosync_io_uring, serve_cosync_io_uring)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_EchoServerIdleMemoryMany, io_uring_raw, serve_io_uring_raw)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);
