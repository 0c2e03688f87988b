// BM_HookedEcho: the echo benchmark's server (echo_harness.hpp) written as
// plain blocking code, against the same server on cosync::Socket, in one
// binary linked with libcosync-hook (cosync-bench-hook; cosync-bench itself
// does not link it, so its rows run without interposition):
//
//   BM_HookedEcho/cosync          serve_cosync: one coroutine per connection
//                                 on cosync::Socket (read_exactly/write_all)
//   BM_HookedEcho/blocking_calls  one coroutine per connection calling
//                                 accept, read and write on blocking sockets,
//                                 which libcosync-hook turns into waits on
//                                 the thread's loop
//
// Same client, same 1,000 connections, same 64-byte messages as
// BM_EchoServer, and its counters: "msgs/s" per second of wall-clock time,
// server_cpu_ns/msg and server_syscalls/msg for the server thread.
#include <benchmark/benchmark.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cstddef>
#include <functional>

#include "cosync/hook.hpp"
#include "cosync/request.hpp"
#include "cosync/sync.hpp"
#include "echo_harness.hpp"

namespace {

using namespace cosync_bench;  // the shared client, control and cosync server

// Reads exactly `size` bytes with plain read(); false at end of stream or
// on an error.
bool read_exactly(int fd, char* data, std::size_t size) {
  for (std::size_t got = 0; got < size;) {
    const ssize_t n = read(fd, data + got, size - got);
    if (n <= 0) return false;
    got += static_cast<std::size_t>(n);
  }
  return true;
}

// Writes all `size` bytes with plain write(); false on an error.
bool write_all(int fd, const char* data, std::size_t size) {
  for (std::size_t sent = 0; sent < size;) {
    const ssize_t n = write(fd, data + sent, size - sent);
    if (n <= 0) return false;
    sent += static_cast<std::size_t>(n);
  }
  return true;
}

void echo_blocking(int fd, ServerControl& control) {
  const HandlerScope scope(control);
  std::array<char, kMessageSize> message;
  while (read_exactly(fd, message.data(), message.size()) &&
         write_all(fd, message.data(), message.size())) {
  }
  close(fd);
}

// A blocking listening socket on 127.0.0.1 and a port the kernel picks.
int blocking_listener() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) fail("socket");
  const sockaddr_in address = loopback_address(0);
  if (bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) fail("bind");
  if (listen(fd, SOMAXCONN) != 0) fail("listen");
  return fd;
}

// Outside a coroutine the hooks pass every call through, so the accept
// loop is a coroutine too; the stopper's poll() and close() wake it.
void serve_blocking_calls(ServerControl& control) {
  if (!cosync::hook::active()) {
    control.refuse(std::string("libcosync-hook is not in effect: ") + cosync::hook::status());
    return;
  }
  const int listener = blocking_listener();
  control.publish_port(local_port(listener));
  cosync::TaskGroup connections(cosync::TaskGroup::OnFailure::keep_going);
  cosync::Request<void> acceptor = cosync::spawn([&control, &connections, listener] {
    for (;;) {
      const int fd = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) return;  // the stopper closed the listener
      connections.spawn(echo_blocking, fd, std::ref(control));
    }
  });
  cosync::Request<void> stopper = cosync::spawn([&control, listener] {
    pollfd stop{control.stop_fd(), POLLIN, 0};
    if (poll(&stop, 1, -1) != 1) fail("poll on the stop pipe");
    close(listener);
  });
  stopper.get();
  acceptor.get();
  connections.join();
}

}  // namespace

BENCHMARK_CAPTURE(BM_EchoServer, cosync, serve_cosync)
    ->Name("BM_HookedEcho/cosync")
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_EchoServer, blocking_calls, serve_blocking_calls)
    ->Name("BM_HookedEcho/blocking_calls")
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
