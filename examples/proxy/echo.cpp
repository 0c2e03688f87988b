// cosync-echo: a TCP echo server, one coroutine of synchronous code per
// connection. The demo's backend.
#include <csignal>
#include <cstdio>

#include "cosync/cosync.hpp"
#include "tool.hpp"

namespace {

constexpr const char* kUsage =
    "usage: cosync-echo [--listen ADDR] [--max-connections N]\n"
    "  Echoes every byte back, one coroutine per connection.\n"
    "  --listen ADDR          host:port, [v6]:port or unix:/path (127.0.0.1:7000);\n"
    "                         port 0 picks a free port, printed on stdout\n"
    "  --max-connections N    connections to make room for (10000)\n"
    "  Stops on SIGINT or SIGTERM.\n";

// The whole per-connection logic, written as blocking code.
void echo(cosync::Socket connection) {
  char buffer[4096];
  std::error_code error;
  while (const std::size_t got = connection.read_some(buffer, sizeof buffer, error)) {
    connection.write_all(buffer, got, error);
    if (error) break;
  }
}

void serve(cosync::Socket& listener, cosync::TaskGroup& connections) {
  for (;;) {
    std::error_code error;
    cosync::Socket connection = listener.accept(error);
    if (error) {
      std::fprintf(stderr, "cosync-echo: accept: %s\n", error.message().c_str());
      cosync::sleep_for(std::chrono::milliseconds(10));  // EMFILE: let connections close
      continue;
    }
    connection.set_nodelay(true);
    connections.spawn(cosync::Options{.stack_size = 32 * 1024}, echo, std::move(connection));
  }
}

}  // namespace

int main(int argc, char** argv) {
  const demo::Options options(argc, argv, kUsage);
  const long max_connections = options.number("max-connections", 10000, 1, 10000000);
  demo::ensure_fd_limit("cosync-echo", static_cast<rlim_t>(max_connections + 64),
                        options.has("max-connections"));
  demo::pool_stacks_for(static_cast<std::size_t>(max_connections));
  try {
    cosync::Socket listener =
        cosync::Socket::listen(cosync::Address::lookup(options.text("listen", "127.0.0.1:7000")));
    std::printf("cosync-echo: listening on %s\n", listener.local_address().to_string().c_str());
    std::fflush(stdout);
    cosync::TaskGroup connections(cosync::TaskGroup::OnFailure::keep_going);
    auto server = cosync::spawn(serve, std::ref(listener), std::ref(connections));
    demo::wait_for_stop_signal();
    demo::shut_down(server, connections);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "cosync-echo: %s\n", error.what());
    return 1;
  }
  return 0;
}
