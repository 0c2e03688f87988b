// cosync-proxy: a TCP proxy whose per-connection code is one plain
// synchronous function. Each client connection is a coroutine; the loop and
// the other connections run while it waits. Two modes:
//   stream  copies bytes both ways over a backend connection of its own
//           (two fds per client);
//   lines   forwards each newline-terminated request over a shared pool of
//           backend connections and returns the one-line reply (one fd per
//           client: 10,000 clients fit in a 20,000 open-file limit).
#include <csignal>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cosync/cosync.hpp"
#include "tool.hpp"

namespace {

constexpr const char* kUsage =
    "usage: cosync-proxy [--listen ADDR] --to ADDR [--mode stream|lines] [options]\n"
    "  Forwards every client connection to the backend at --to.\n"
    "  --mode stream          copy bytes both ways, one backend connection per\n"
    "                         client (default)\n"
    "  --mode lines           forward each line as a request over a pool of\n"
    "                         backend connections; the backend answers one line\n"
    "  --backend-connections N  the pool size in lines mode (64)\n"
    "  --listen ADDR          host:port, [v6]:port or unix:/path (127.0.0.1:7001);\n"
    "                         port 0 picks a free port, printed on stdout\n"
    "  --to ADDR              the backend, same forms; a host name is resolved\n"
    "                         once, and each of its addresses tried in turn\n"
    "  --max-connections N    client connections to make room for (10000)\n"
    "  --connect-timeout MS   backend connect timeout (5000)\n"
    "  Stops on SIGINT or SIGTERM and prints what it served.\n";

struct Counters {
  std::size_t accepted = 0;
  std::size_t open = 0;
  std::size_t peak_open = 0;
  std::size_t failed = 0;
};
Counters counters;

// Every address the backend name resolved to, tried in order per connect.
using Backend = std::vector<cosync::Address>;

std::string describe(const Backend& backend) {
  std::string text;
  for (const cosync::Address& address : backend) {
    text += (text.empty() ? "" : " or ") + address.to_string();
  }
  return text;
}

// Copies one direction until end of stream, then passes the end on. On
// an error it closes both sockets, which ends the other direction's wait
// too (with ECANCELED), so neither side is left hanging.
void pump(cosync::Socket& from, cosync::Socket& to) {
  char buffer[16 * 1024];
  std::error_code error;
  while (const std::size_t got = from.read_some(buffer, sizeof buffer, error)) {
    to.write_all(buffer, got, error);
    if (error) break;
  }
  if (!error && to.is_open() && ::shutdown(to.fd(), SHUT_WR) == 0) {
    return;
  }
  if (error != std::errc::operation_canceled && error != std::errc::bad_file_descriptor) {
    ++counters.failed;
  }
  from.close();
  to.close();
}

// Counts a connection as open for as long as it is in scope (its
// coroutine may also leave by unwinding, when the proxy shuts down).
struct OpenConnection {
  OpenConnection() {
    ++counters.open;
    counters.peak_open = std::max(counters.peak_open, counters.open);
  }
  OpenConnection(const OpenConnection&) = delete;
  OpenConnection& operator=(const OpenConnection&) = delete;
  ~OpenConnection() { --counters.open; }
};

// Both ends of a stream-mode connection, shared by its two directions: the
// reply direction runs in a coroutine of its own that may outlive this
// connection's frame while it unwinds.
struct Ends {
  cosync::Socket client;
  cosync::Socket server;
};

// The per-connection logic of stream mode, written as blocking code:
// connect to the backend, copy both ways until both ends are done.
void proxy_connection(cosync::Socket client, const Backend& backend,
                      std::chrono::milliseconds connect_timeout, cosync::TaskGroup& connections) {
  const OpenConnection counted;
  auto ends = std::make_shared<Ends>();
  ends->client = std::move(client);
  std::error_code error;
  ends->server = cosync::Socket::connect(backend, error, cosync::deadline_after(connect_timeout));
  if (error) {
    ++counters.failed;
    return;
  }
  ends->server.set_nodelay(true);
  auto replies = connections.spawn(cosync::Options{.stack_size = 32 * 1024},
                                   [ends] { pump(ends->server, ends->client); });
  pump(ends->client, ends->server);
  replies.wait();
}

// A buffered reader of newline-terminated lines.
class LineReader {
 public:
  explicit LineReader(cosync::Socket& socket) : socket_(&socket) {}

  // The next line with its newline, or "" at end of stream (or error).
  std::string_view read_line(std::error_code& error) {
    buffer_.erase(0, consumed_);
    consumed_ = 0;
    for (;;) {
      const std::size_t newline = buffer_.find('\n', scanned_);
      if (newline != std::string::npos) {
        consumed_ = newline + 1;
        scanned_ = 0;
        return std::string_view(buffer_).substr(0, consumed_);
      }
      scanned_ = buffer_.size();
      if (buffer_.size() >= kMaxLine) {
        error = std::make_error_code(std::errc::message_size);
        return {};
      }
      char chunk[4096];
      const std::size_t got = socket_->read_some(chunk, sizeof chunk, error);
      if (got == 0) return {};
      buffer_.append(chunk, got);
    }
  }

 private:
  static constexpr std::size_t kMaxLine = 64 * 1024;
  cosync::Socket* socket_;
  std::string buffer_;
  std::size_t consumed_ = 0;
  std::size_t scanned_ = 0;
};

// Backend connections shared by every client in lines mode: a request
// borrows one for its round trip. The semaphore bounds them; idle ones are
// reused, missing ones connected on demand.
class BackendPool {
 public:
  struct Connection {
    cosync::Socket socket;
    LineReader reader{socket};
    explicit Connection(cosync::Socket connected) : socket(std::move(connected)) {}
  };

  BackendPool(const Backend& backend, std::size_t size, std::chrono::milliseconds connect_timeout)
      : backend_(backend), slots_(size), connect_timeout_(connect_timeout) {}

  // One request line in, one reply line out; false if the backend failed.
  bool round_trip(std::string_view request, std::string& reply) {
    slots_.acquire();
    struct Slot {
      cosync::Semaphore& slots;
      ~Slot() { slots.release(); }
    } slot{slots_};
    std::unique_ptr<Connection> connection = take_idle();
    std::error_code error;
    if (!connection) {
      cosync::Socket socket =
          cosync::Socket::connect(backend_, error, cosync::deadline_after(connect_timeout_));
      if (!error) {
        socket.set_nodelay(true);
        connection = std::make_unique<Connection>(std::move(socket));
      }
    }
    if (connection) {
      connection->socket.write_all(request.data(), request.size(), error);
      if (!error) reply = connection->reader.read_line(error);
      if (!error && !reply.empty()) idle_.push_back(std::move(connection));
    }
    return !error && !reply.empty();
  }

 private:
  std::unique_ptr<Connection> take_idle() {
    if (idle_.empty()) return nullptr;
    auto connection = std::move(idle_.back());
    idle_.pop_back();
    return connection;
  }

  Backend backend_;
  cosync::Semaphore slots_;
  std::chrono::milliseconds connect_timeout_;
  std::vector<std::unique_ptr<Connection>> idle_;
};

// The per-connection logic of lines mode, written as blocking code.
void forward_lines(cosync::Socket client, BackendPool& pool) {
  const OpenConnection counted;
  LineReader requests(client);
  std::string reply;
  std::error_code error;
  for (;;) {
    const std::string_view request = requests.read_line(error);
    if (request.empty()) break;
    if (!pool.round_trip(request, reply)) {
      ++counters.failed;
      break;
    }
    client.write_all(reply.data(), reply.size(), error);
    if (error) break;
  }
  if (error && error != std::errc::connection_reset) ++counters.failed;
}

void serve(cosync::Socket& listener, cosync::TaskGroup& connections, const Backend& backend,
           std::chrono::milliseconds connect_timeout, BackendPool* pool) {
  for (;;) {
    std::error_code error;
    cosync::Socket client = listener.accept(error);
    if (error) {
      std::fprintf(stderr, "cosync-proxy: accept: %s\n", error.message().c_str());
      cosync::sleep_for(std::chrono::milliseconds(10));  // EMFILE: let connections close
      continue;
    }
    ++counters.accepted;
    client.set_nodelay(true);
    const cosync::Options options{.stack_size = 32 * 1024};
    if (pool != nullptr) {
      connections.spawn(options, forward_lines, std::move(client), std::ref(*pool));
    } else {
      connections.spawn(options, proxy_connection, std::move(client), std::cref(backend),
                        connect_timeout, std::ref(connections));
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  const demo::Options options(argc, argv, kUsage);
  const std::string to = options.text("to", "");
  if (to.empty()) options.fail("--to ADDR is required");
  const long max_connections = options.number("max-connections", 10000, 1, 10000000);
  const auto connect_timeout =
      std::chrono::milliseconds(options.number("connect-timeout", 5000, 1, 3600000));
  const std::string mode = options.text("mode", "stream");
  if (mode != "stream" && mode != "lines") options.fail("--mode must be stream or lines");
  const long pool_size = options.number("backend-connections", 64, 1, 100000);
  const long fds_per_client = mode == "lines" ? 1 : 2;  // also the coroutines per client
  demo::ensure_fd_limit("cosync-proxy",
                        static_cast<rlim_t>(fds_per_client * max_connections + pool_size + 64),
                        options.has("max-connections"));
  demo::pool_stacks_for(static_cast<std::size_t>(fds_per_client * max_connections));
  try {
    const Backend backend = cosync::Address::lookup_all(to);
    cosync::Socket listener =
        cosync::Socket::listen(cosync::Address::lookup(options.text("listen", "127.0.0.1:7001")));
    std::printf("cosync-proxy: listening on %s, forwarding %s to %s\n",
                listener.local_address().to_string().c_str(), mode.c_str(),
                describe(backend).c_str());
    std::fflush(stdout);
    std::unique_ptr<BackendPool> pool;
    if (mode == "lines") {
      pool = std::make_unique<BackendPool>(backend, static_cast<std::size_t>(pool_size),
                                           connect_timeout);
    }
    cosync::TaskGroup connections(cosync::TaskGroup::OnFailure::keep_going);
    auto server = cosync::spawn(serve, std::ref(listener), std::ref(connections),
                                std::cref(backend), connect_timeout, pool.get());
    demo::wait_for_stop_signal();
    demo::shut_down(server, connections);
    std::printf("cosync-proxy: %zu connections served, %zu at peak, %zu ended in error\n",
                counters.accepted, counters.peak_open, counters.failed);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "cosync-proxy: %s\n", error.what());
    return 1;
  }
  return 0;
}
