// cosync's loop and request layers measured against the event libraries a
// program would otherwise use ("anchors"): libevent, libuv, tevent and
// State Threads. Every family runs the same work on each library, under
// names that pair up:
//
//   BM_PingPong/<lib>          8-byte round trips over an AF_UNIX socketpair
//   BM_PingPong/cosync_socket  the cosync exchange through cosync::Socket
//                              rather than read/write around wait_io_edge
//   BM_PingPong/cosync_io_uring   that exchange on cosync's io_uring loop
//   BM_PingPongIoUring/cosync_readiness  the first exchange on that loop
//   BM_PingPong/cosync_on_<host>  the cosync exchange on a tevent, libuv or
//                              libevent loop the benchmark drives itself,
//                              through cosync's adapter for that host
//   BM_PingPong/tevent_threaded   the tevent callbacks on a context with a
//                              threaded context, as the tevent adapter has
//   BM_Timers/<lib>            1,000,000 one-shot timers due within a second
//   BM_RequestOverhead/ready     get() of a request that is already done
//   BM_RequestOverhead/callback  a coroutine waits for a request that a loop
//                                callback completes: suspend, wake, resume
//
// cosync is written in synchronous style (coroutines that read and write);
// libevent, libuv and tevent as raw readiness callbacks around read/write;
// State Threads as its own threads around st_read/st_write. Every
// BM_PingPong row also reports its thread's system calls per round trip
// (syscalls/round_trip; see syscall_counter.hpp), and the raw io_uring
// anchor, BM_PingPong/io_uring_raw, lives in io_uring_anchor_bench.cpp.
// main() lives in coroutine_bench.cpp; tools/bench_ratios.py pairs the
// results.
#include <benchmark/benchmark.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <st.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>
extern "C" {
#include <tevent.h>  // declares no C linkage of its own
}

#include <array>
#include <cerrno>
#include <chrono>
#include <cosync/io.hpp>
#include <cosync/loop.hpp>
#include <cosync/loop_libevent.hpp>
#include <cosync/loop_libuv.hpp>
#include <cosync/loop_tevent.hpp>
#include <cosync/request.hpp>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <random>
#include <stdexcept>
#include <system_error>
#include <vector>

#include "io_uring_loop.hpp"
#include "ping_pong.hpp"

namespace {

using cosync_bench::counting_syscalls;
using cosync_bench::fail;
using cosync_bench::kMessage;
using cosync_bench::kMessageSize;
using cosync_bench::kReadBuffer;
using cosync_bench::SocketPair;

constexpr std::size_t kTimerCount = 1'000'000;
constexpr int kTimerSpreadMs = 1000;

// For the callback anchors: their loops call back only when the fd is
// readable, and the peer's 8 bytes arrive in one piece.
void receive_message(int fd) {
  std::array<char, kMessageSize> buffer;
  if (read(fd, buffer.data(), buffer.size()) != static_cast<ssize_t>(buffer.size())) {
    fail("read");
  }
}

void send_message(int fd) {
  if (write(fd, kMessage.data(), kMessage.size()) != static_cast<ssize_t>(kMessage.size())) {
    fail("write");
  }
}

// ---------------------------------------------------------------------------
// Synchronous-style I/O on cosync's loop, as an application would write it.
// The loop's readiness bits let an operation skip the wait when the fd is
// known ready; EAGAIN or a short transfer tells the loop the fd drained, so
// no operation is issued that is known to fail. Since the helpers keep the
// cache themselves, they wait with wait_io_edge (wait_io would ask the
// kernel first whenever the cache says ready).
//
// After EAGAIN the helper waits at once instead of asking io_ready again: a
// loop without a readiness cache, or an fd it cannot watch, reads as ready
// whatever io_not_ready was told, so asking again could retry the failing
// call forever.

std::size_t read_some(cosync::Loop& loop, int fd, void* buffer, std::size_t length) {
  for (;;) {
    if (!loop.io_ready(fd, cosync::io_readable)) {
      cosync::wait_io_edge(fd, cosync::io_readable);
    }
    const ssize_t n = read(fd, buffer, length);
    if (n >= 0) {
      if (static_cast<std::size_t>(n) < length) {
        loop.io_not_ready(fd, cosync::io_readable);  // a short read drained it
      }
      return static_cast<std::size_t>(n);  // 0: end of file
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      loop.io_not_ready(fd, cosync::io_readable);
      cosync::wait_io_edge(fd, cosync::io_readable);
      continue;
    }
    if (errno != EINTR) {
      throw std::system_error(errno, std::generic_category(), "read");
    }
  }
}

std::size_t write_some(cosync::Loop& loop, int fd, const void* data, std::size_t length) {
  for (;;) {
    if (!loop.io_ready(fd, cosync::io_writable)) {
      cosync::wait_io_edge(fd, cosync::io_writable);
    }
    const ssize_t n = write(fd, data, length);
    if (n >= 0) {
      if (static_cast<std::size_t>(n) < length) {
        loop.io_not_ready(fd, cosync::io_writable);  // a short write filled it
      }
      return static_cast<std::size_t>(n);
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      loop.io_not_ready(fd, cosync::io_writable);
      cosync::wait_io_edge(fd, cosync::io_writable);
      continue;
    }
    if (errno != EINTR) {
      throw std::system_error(errno, std::generic_category(), "write");
    }
  }
}

void write_all(cosync::Loop& loop, int fd, const char* data, std::size_t length) {
  while (length > 0) {
    const std::size_t n = write_some(loop, fd, data, length);
    data += n;
    length -= n;
  }
}

// Reads one message into a full-size buffer; false at end of file.
bool read_message(cosync::Loop& loop, int fd, std::array<char, kReadBuffer>& buffer) {
  std::size_t got = 0;
  while (got < kMessageSize) {
    const std::size_t n = read_some(loop, fd, buffer.data() + got, buffer.size() - got);
    if (n == 0) {
      if (got == 0) return false;
      throw std::runtime_error("end of file inside a message");
    }
    got += n;
  }
  return true;
}

// ---------------------------------------------------------------------------
// BM_PingPong: one iteration is one round trip: the ping side writes 8 bytes
// and reads 8 back, the pong side echoes them.

// The two coroutines of the cosync exchange, on this thread's loop.
struct CosyncExchange {
  cosync::Request<void> pong;
  cosync::Request<void> ping;
};

CosyncExchange spawn_exchange(benchmark::State& state, cosync::Loop& loop, const SocketPair& pair) {
  cosync::Request<void> pong = cosync::spawn([&loop, fd = pair.pong()] {
    std::array<char, kReadBuffer> buffer;
    while (read_message(loop, fd, buffer)) {
      write_all(loop, fd, buffer.data(), kMessageSize);
    }
  });
  cosync::Request<void> ping = cosync::spawn([&state, &loop, fd = pair.ping()] {
    std::array<char, kReadBuffer> buffer;
    for (auto _ : state) {
      write_all(loop, fd, kMessage.data(), kMessage.size());
      if (!read_message(loop, fd, buffer)) {
        throw std::runtime_error("pong hung up");
      }
    }
    shutdown(fd, SHUT_WR);  // pong reads end of file and finishes
  });
  return {std::move(pong), std::move(ping)};
}

void finish_exchange(benchmark::State& state, cosync::Loop& loop, const SocketPair& pair,
                     CosyncExchange& exchange) {
  exchange.ping.get();
  exchange.pong.get();
  loop.forget_fd(pair.ping());
  loop.forget_fd(pair.pong());
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

void BM_PingPong_cosync(benchmark::State& state) {
  const SocketPair pair;
  cosync::Loop& loop = cosync::this_loop();
  CosyncExchange exchange = spawn_exchange(state, loop, pair);
  finish_exchange(state, loop, pair, exchange);
}

// The exchange through cosync::Socket, the synchronous API an application
// uses (read_exactly / write_all), on this thread's loop: on the epoll loop
// a readiness wait and read/write calls, on the io_uring loop operations
// submitted to the ring.
void ping_pong_sockets(benchmark::State& state) {
  std::array<int, 2> fds{};
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds.data()) != 0) fail("socketpair");
  cosync::Socket ping(fds[0]);  // makes it non-blocking
  cosync::Socket pong(fds[1]);
  cosync::Request<void> pong_side = cosync::spawn([&pong] {
    std::array<char, kMessageSize> message;
    std::error_code end;  // the ping side shut down
    while (pong.read_exactly(message.data(), message.size(), end) == message.size()) {
      pong.write_all(message.data(), message.size());
    }
  });
  cosync::Request<void> ping_side = cosync::spawn([&state, &ping] {
    std::array<char, kMessageSize> echo;
    for (auto _ : state) {
      ping.write_all(kMessage.data(), kMessage.size());
      ping.read_exactly(echo.data(), echo.size());
    }
    ping.shutdown(SHUT_WR);
  });
  ping_side.get();
  pong_side.get();
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

void BM_PingPong_cosync_socket(benchmark::State& state) { ping_pong_sockets(state); }

// The Socket exchange on cosync's io_uring loop.
void BM_PingPong_cosync_io_uring(benchmark::State& state) {
  const cosync_bench::IoUringLoopScope io_uring;
  if (cosync_bench::io_uring_loop_runs(io_uring, state)) ping_pong_sockets(state);
}

// The first exchange (read/write around wait_io_edge) on the io_uring loop:
// readiness waits, which that loop serves with POLL_ADD operations.
void BM_PingPong_cosync_io_uring_readiness(benchmark::State& state) {
  const cosync_bench::IoUringLoopScope io_uring;
  if (!cosync_bench::io_uring_loop_runs(io_uring, state)) return;
  const SocketPair pair;
  CosyncExchange exchange = spawn_exchange(state, io_uring.loop(), pair);
  finish_exchange(state, io_uring.loop(), pair, exchange);
}

// The same coroutines on an adapter over a host loop the "application"
// created and drives itself exactly as the raw-callback anchor on that host
// does: `drive(ping)` runs the host's own loop until the ping side is done
// (libevent and libuv: their run-until-stopped call, stopped from ping's
// continuation; tevent: tevent_loop_once in a loop).
template <class Drive>
void run_exchange_on_host(benchmark::State& state, std::unique_ptr<cosync::Loop> adapter,
                          Drive drive) {
  const SocketPair pair;
  cosync::set_this_loop(adapter.get());
  CosyncExchange exchange = spawn_exchange(state, *adapter, pair);
  drive(exchange.ping);
  finish_exchange(state, *adapter, pair, exchange);
  adapter.reset();  // uninstalls itself
}

void BM_PingPong_cosync_on_tevent(benchmark::State& state) {
  tevent_context* ev = tevent_context_init(nullptr);
  if (ev == nullptr) fail("tevent_context_init");
  run_exchange_on_host(state, cosync::make_tevent_loop(ev), [ev](cosync::Request<void>& ping) {
    while (!ping.done()) {
      if (tevent_loop_once(ev) != 0) fail("tevent_loop_once");
    }
  });
  talloc_free(ev);
}

void BM_PingPong_cosync_on_libuv(benchmark::State& state) {
  uv_loop_t loop;
  if (uv_loop_init(&loop) != 0) fail("uv_loop_init");
  run_exchange_on_host(state, cosync::make_libuv_loop(&loop), [&loop](cosync::Request<void>& ping) {
    ping.on_complete([](void* uv) { uv_stop(static_cast<uv_loop_t*>(uv)); }, &loop);
    uv_run(&loop, UV_RUN_DEFAULT);
  });
  uv_run(&loop, UV_RUN_NOWAIT);  // the adapter's close callbacks
  if (uv_loop_close(&loop) != 0) fail("uv_loop_close");
}

void BM_PingPong_cosync_on_libevent(benchmark::State& state) {
  event_base* base = event_base_new();
  if (base == nullptr) fail("event_base_new");
  run_exchange_on_host(
      state, cosync::make_libevent_loop(base), [base](cosync::Request<void>& ping) {
        ping.on_complete([](void* host) { event_base_loopbreak(static_cast<event_base*>(host)); },
                         base);
        event_base_dispatch(base);
      });
  event_base_free(base);
}

// What the callback anchors share: the ping side counts the round trips.
struct CallbackExchange {
  benchmark::State* state;
  int ping_fd;
  int pong_fd;
  void* loop = nullptr;  // the anchor's loop, to stop it
  bool done = false;
};

// Sends the first ping, or reports there is nothing to run.
bool start_exchange(CallbackExchange& exchange) {
  if (!exchange.state->KeepRunning()) {
    return false;
  }
  send_message(exchange.ping_fd);
  return true;
}

// The ping side's readable callback: one round trip finished.
void ping_readable(CallbackExchange& exchange) {
  receive_message(exchange.ping_fd);
  if (exchange.state->KeepRunning()) {
    send_message(exchange.ping_fd);
  } else {
    exchange.done = true;
  }
}

void pong_readable(const CallbackExchange& exchange) {
  receive_message(exchange.pong_fd);
  send_message(exchange.pong_fd);
}

void BM_PingPong_libevent(benchmark::State& state) {
  const SocketPair pair;
  CallbackExchange exchange{&state, pair.ping(), pair.pong()};
  event_base* base = event_base_new();
  if (base == nullptr) fail("event_base_new");
  exchange.loop = base;
  event* ping = event_new(
      base, pair.ping(), EV_READ | EV_PERSIST,
      [](evutil_socket_t, short, void* data) {
        auto& ex = *static_cast<CallbackExchange*>(data);
        ping_readable(ex);
        if (ex.done) event_base_loopbreak(static_cast<event_base*>(ex.loop));
      },
      &exchange);
  event* pong = event_new(
      base, pair.pong(), EV_READ | EV_PERSIST,
      [](evutil_socket_t, short, void* data) {
        pong_readable(*static_cast<CallbackExchange*>(data));
      },
      &exchange);
  event_add(ping, nullptr);
  event_add(pong, nullptr);
  if (start_exchange(exchange)) {
    event_base_dispatch(base);
  }
  event_free(ping);
  event_free(pong);
  event_base_free(base);
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

void BM_PingPong_libuv(benchmark::State& state) {
  const SocketPair pair;
  CallbackExchange exchange{&state, pair.ping(), pair.pong()};
  uv_loop_t loop;
  uv_poll_t ping;
  uv_poll_t pong;
  if (uv_loop_init(&loop) != 0 || uv_poll_init_socket(&loop, &ping, pair.ping()) != 0 ||
      uv_poll_init_socket(&loop, &pong, pair.pong()) != 0) {
    fail("uv init");
  }
  ping.data = &exchange;
  pong.data = &exchange;
  uv_poll_start(&ping, UV_READABLE, [](uv_poll_t* handle, int status, int /*events*/) {
    if (status < 0) fail("uv poll");
    auto& ex = *static_cast<CallbackExchange*>(handle->data);
    ping_readable(ex);
    if (ex.done) uv_stop(handle->loop);
  });
  uv_poll_start(&pong, UV_READABLE, [](uv_poll_t* handle, int status, int /*events*/) {
    if (status < 0) fail("uv poll");
    pong_readable(*static_cast<CallbackExchange*>(handle->data));
  });
  if (start_exchange(exchange)) {
    uv_run(&loop, UV_RUN_DEFAULT);
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&ping), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&pong), nullptr);
  uv_run(&loop, UV_RUN_DEFAULT);  // finishes the closes
  if (uv_loop_close(&loop) != 0) fail("uv_loop_close");
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

void ping_pong_tevent(benchmark::State& state, bool threaded) {
  const SocketPair pair;
  CallbackExchange exchange{&state, pair.ping(), pair.pong()};
  tevent_context* ev = tevent_context_init(nullptr);
  if (ev == nullptr) fail("tevent_context_init");
  if (threaded && tevent_threaded_context_create(ev, ev) == nullptr) {
    fail("tevent_threaded_context_create");
  }
  tevent_fd* ping = tevent_add_fd(
      ev, ev, pair.ping(), TEVENT_FD_READ,
      [](tevent_context*, tevent_fd*, std::uint16_t, void* data) {
        ping_readable(*static_cast<CallbackExchange*>(data));
      },
      &exchange);
  tevent_fd* pong = tevent_add_fd(
      ev, ev, pair.pong(), TEVENT_FD_READ,
      [](tevent_context*, tevent_fd*, std::uint16_t, void* data) {
        pong_readable(*static_cast<CallbackExchange*>(data));
      },
      &exchange);
  if (ping == nullptr || pong == nullptr) fail("tevent_add_fd");
  if (start_exchange(exchange)) {
    while (!exchange.done) {
      if (tevent_loop_once(ev) != 0) fail("tevent_loop_once");
    }
  }
  talloc_free(ev);  // frees the fd events (and the threaded context) with it
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

void BM_PingPong_tevent(benchmark::State& state) { ping_pong_tevent(state, false); }

// The same callbacks on a context with a threaded context, which the tevent
// adapter creates for posts from other threads: every tevent_loop_once then
// takes a mutex. What that costs the raw code.
void BM_PingPong_tevent_threaded(benchmark::State& state) { ping_pong_tevent(state, true); }

// State Threads initialises once per process, on its epoll backend.
void init_state_threads() {
  static const bool initialised = [] {
    // Debian's libst has no epoll: ST_EVENTSYS_ALT means select(), which
    // lowers the process's fd limits to FD_SETSIZE for every later
    // benchmark. poll() is its best; EBUSY: another benchmark chose first.
    if (st_set_eventsys(ST_EVENTSYS_POLL) != 0 && errno != EBUSY) fail("st_set_eventsys");
    if (st_init() != 0) fail("st_init");
    return true;
  }();
  (void)initialised;
}

struct StExchange {
  benchmark::State* state;
  st_netfd_t ping;
  st_netfd_t pong;
};

void* st_ping(void* data) {
  auto& ex = *static_cast<StExchange*>(data);
  std::array<char, kMessageSize> buffer;
  for (auto _ : *ex.state) {
    if (st_write(ex.ping, kMessage.data(), kMessage.size(), ST_UTIME_NO_TIMEOUT) !=
        static_cast<ssize_t>(kMessage.size())) {
      fail("st_write");
    }
    if (st_read_fully(ex.ping, buffer.data(), buffer.size(), ST_UTIME_NO_TIMEOUT) !=
        static_cast<ssize_t>(buffer.size())) {
      fail("st_read");
    }
  }
  shutdown(st_netfd_fileno(ex.ping), SHUT_WR);
  return nullptr;
}

void* st_pong(void* data) {
  auto& ex = *static_cast<StExchange*>(data);
  std::array<char, kMessageSize> buffer;
  for (;;) {
    const ssize_t n = st_read_fully(ex.pong, buffer.data(), buffer.size(), ST_UTIME_NO_TIMEOUT);
    if (n == 0) return nullptr;
    if (n != static_cast<ssize_t>(buffer.size())) fail("st_read");
    if (st_write(ex.pong, buffer.data(), buffer.size(), ST_UTIME_NO_TIMEOUT) !=
        static_cast<ssize_t>(buffer.size())) {
      fail("st_write");
    }
  }
}

void BM_PingPong_state_threads(benchmark::State& state) {
  init_state_threads();
  const SocketPair pair;
  StExchange exchange{&state, st_netfd_open_socket(pair.ping()), st_netfd_open_socket(pair.pong())};
  if (exchange.ping == nullptr || exchange.pong == nullptr) fail("st_netfd_open_socket");
  st_thread_t pong = st_thread_create(st_pong, &exchange, 1, 0);
  st_thread_t ping = st_thread_create(st_ping, &exchange, 1, 0);
  if (ping == nullptr || pong == nullptr) fail("st_thread_create");
  if (st_thread_join(ping, nullptr) != 0 || st_thread_join(pong, nullptr) != 0) {
    fail("st_thread_join");
  }
  st_netfd_free(exchange.ping);  // SocketPair closes the fds
  st_netfd_free(exchange.pong);
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

// ---------------------------------------------------------------------------
// BM_Timers: add 1,000,000 one-shot timers due at random whole milliseconds
// (libuv's resolution) within one second, the same set for every library,
// and run the loop until all have fired. Adding is timed; allocating the
// timer nodes is not. items/s is per second of CPU time (Google Benchmark's
// default for rates): the wall time is about one second by construction.

const std::vector<int>& timer_offsets_ms() {
  static const std::vector<int> offsets = [] {
    std::mt19937 random(20240501);
    std::uniform_int_distribution<int> spread(0, kTimerSpreadMs - 1);
    std::vector<int> result(kTimerCount);
    for (int& offset : result) offset = spread(random);
    return result;
  }();
  return offsets;
}

void BM_Timers_cosync(benchmark::State& state) {
  const std::vector<int>& offsets = timer_offsets_ms();
  cosync::Loop& loop = cosync::this_loop();
  std::vector<cosync::Timer> timers(kTimerCount);
  std::size_t fired = 0;
  for (auto _ : state) {
    fired = 0;
    const cosync::Deadline start = cosync::Clock::now();
    for (std::size_t i = 0; i < kTimerCount; ++i) {
      cosync::Timer& timer = timers[i];
      timer.fn = [](cosync::Timer* self) { ++*static_cast<std::size_t*>(self->data); };
      timer.data = &fired;
      timer.due = start + std::chrono::milliseconds(offsets[i]);
      loop.add_timer(timer);
    }
    loop.run_until([&fired] { return fired == kTimerCount; });
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * kTimerCount));
}

void BM_Timers_libevent(benchmark::State& state) {
  const std::vector<int>& offsets = timer_offsets_ms();
  event_base* base = event_base_new();
  if (base == nullptr) fail("event_base_new");
  std::vector<event> timers(kTimerCount);
  std::size_t fired = 0;
  for (auto _ : state) {
    fired = 0;
    for (std::size_t i = 0; i < kTimerCount; ++i) {
      evtimer_assign(
          &timers[i], base,
          [](evutil_socket_t, short, void* data) { ++*static_cast<std::size_t*>(data); }, &fired);
      const timeval due{offsets[i] / 1000, (offsets[i] % 1000) * 1000};
      evtimer_add(&timers[i], &due);
    }
    event_base_dispatch(base);  // returns when no event is left
    if (fired != kTimerCount) fail("libevent timers");
  }
  event_base_free(base);
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * kTimerCount));
}

void BM_Timers_libuv(benchmark::State& state) {
  const std::vector<int>& offsets = timer_offsets_ms();
  uv_loop_t loop;
  if (uv_loop_init(&loop) != 0) fail("uv_loop_init");
  std::vector<uv_timer_t> timers(kTimerCount);
  std::size_t fired = 0;
  for (auto _ : state) {
    fired = 0;
    uv_update_time(&loop);
    for (std::size_t i = 0; i < kTimerCount; ++i) {
      uv_timer_init(&loop, &timers[i]);
      timers[i].data = &fired;
      uv_timer_start(
          &timers[i], [](uv_timer_t* timer) { ++*static_cast<std::size_t*>(timer->data); },
          static_cast<std::uint64_t>(offsets[i]), 0);
    }
    uv_run(&loop, UV_RUN_DEFAULT);  // returns when no timer is active
    if (fired != kTimerCount) fail("libuv timers");
    state.PauseTiming();
    for (uv_timer_t& timer : timers) uv_close(reinterpret_cast<uv_handle_t*>(&timer), nullptr);
    uv_run(&loop, UV_RUN_DEFAULT);  // finishes the closes
    state.ResumeTiming();
  }
  if (uv_loop_close(&loop) != 0) fail("uv_loop_close");
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * kTimerCount));
}

// ---------------------------------------------------------------------------
// BM_RequestOverhead: what a request costs around the work it stands for.

// From main: create a request, complete it, get() it. The request is
// already done, so get() neither runs the loop nor switches.
void BM_RequestOverhead_ready(benchmark::State& state) {
  int value = 0;
  for (auto _ : state) {
    cosync::Request<int> request;
    request.set_value(++value);
    benchmark::DoNotOptimize(request.get());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

// In one long-lived coroutine: create a request, post an Immediate that
// completes it, get() it. get() suspends the coroutine to the main context,
// the loop runs the immediate, the completion wakes the coroutine, the loop
// resumes it: the whole suspend/wake/resume path.
void BM_RequestOverhead_callback(benchmark::State& state) {
  cosync::Loop& loop = cosync::this_loop();
  cosync::spawn([&state, &loop] {
    int value = 0;
    for (auto _ : state) {
      cosync::Request<int> request;
      cosync::Immediate complete;
      complete.data = &request;
      complete.fn = [](cosync::Immediate* self) {
        auto& completed = *static_cast<cosync::Request<int>*>(self->data);
        completed.set_value(1);
      };
      loop.post_immediate(complete);
      value += request.get();
    }
    benchmark::DoNotOptimize(value);
  }).get();
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

}  // namespace

BENCHMARK(counting_syscalls<BM_PingPong_cosync>)->Name("BM_PingPong/cosync");
BENCHMARK(counting_syscalls<BM_PingPong_cosync_socket>)->Name("BM_PingPong/cosync_socket");
BENCHMARK(counting_syscalls<BM_PingPong_cosync_io_uring>)->Name("BM_PingPong/cosync_io_uring");
BENCHMARK(counting_syscalls<BM_PingPong_cosync_io_uring_readiness>)
    ->Name("BM_PingPongIoUring/cosync_readiness");
BENCHMARK(counting_syscalls<BM_PingPong_libevent>)->Name("BM_PingPong/libevent");
BENCHMARK(counting_syscalls<BM_PingPong_libuv>)->Name("BM_PingPong/libuv");
BENCHMARK(counting_syscalls<BM_PingPong_tevent>)->Name("BM_PingPong/tevent");
BENCHMARK(counting_syscalls<BM_PingPong_tevent_threaded>)->Name("BM_PingPong/tevent_threaded");
BENCHMARK(counting_syscalls<BM_PingPong_state_threads>)->Name("BM_PingPong/state_threads");
BENCHMARK(counting_syscalls<BM_PingPong_cosync_on_tevent>)->Name("BM_PingPong/cosync_on_tevent");
BENCHMARK(counting_syscalls<BM_PingPong_cosync_on_libuv>)->Name("BM_PingPong/cosync_on_libuv");
BENCHMARK(counting_syscalls<BM_PingPong_cosync_on_libevent>)
    ->Name("BM_PingPong/cosync_on_libevent");

// One iteration is a million timers and about a second: repeat with
// --benchmark_repetitions rather than iterate.
BENCHMARK(BM_Timers_cosync)->Name("BM_Timers/cosync")->Iterations(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Timers_libevent)
    ->Name("BM_Timers/libevent")
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Timers_libuv)->Name("BM_Timers/libuv")->Iterations(1)->Unit(benchmark::kMillisecond);

BENCHMARK(BM_RequestOverhead_ready)->Name("BM_RequestOverhead/ready");
BENCHMARK(BM_RequestOverhead_callback)->Name("BM_RequestOverhead/callback");
