// cosync-load: a load generator whose every client connection is a
// coroutine running plain synchronous code: connect, then write a request
// and read the reply, over and over, timing each round trip.
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <string>

#include "cosync/cosync.hpp"
#include "tool.hpp"

namespace {

using namespace std::chrono_literals;

constexpr const char* kUsage =
    "usage: cosync-load --connect ADDR [--connections N] [--duration S] [--size BYTES]\n"
    "                   [--server-pid PID]\n"
    "  Opens N concurrent connections (one coroutine each), then sends requests\n"
    "  and reads equal replies for S seconds; prints a live progress line and a\n"
    "  table: requests per second, latency percentiles, memory per connection.\n"
    "  --connect ADDR     an echo service or a proxy in front of one (127.0.0.1:7001)\n"
    "  --connections N    concurrent connections (10000)\n"
    "  --duration S       seconds of traffic once every connection is open (10)\n"
    "  --size BYTES       request size, ending in a newline; the reply must be\n"
    "                     the same bytes (64)\n"
    "  --server-pid PID   also report the RSS per connection of that process\n";

// Round-trip times in log-linear buckets: 64 per power of two, so any
// percentile is within 1.6% of the true value, in 32 KiB of counters.
class Histogram {
 public:
  void record(std::uint64_t ns) {
    ++counts_[index(ns)];
    ++total_;
    max_ = std::max(max_, ns);
  }
  std::uint64_t total() const { return total_; }
  std::uint64_t max() const { return max_; }
  std::uint64_t percentile(double p) const {
    const auto rank = static_cast<std::uint64_t>(p / 100.0 * static_cast<double>(total_));
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < counts_.size(); ++i) {
      seen += counts_[i];
      if (seen > rank) return lower_bound(i);
    }
    return max_;
  }

 private:
  static constexpr int kSubBits = 6;
  static constexpr std::size_t kSub = std::size_t{1} << kSubBits;
  static std::size_t index(std::uint64_t ns) {
    if (ns < kSub) return ns;
    const int shift = 63 - __builtin_clzll(ns) - kSubBits;
    return static_cast<std::size_t>(shift + 1) * kSub + ((ns >> shift) & (kSub - 1));
  }
  static std::uint64_t lower_bound(std::size_t i) {
    if (i < kSub) return i;
    const std::size_t shift = i / kSub - 1;
    return (kSub + i % kSub) << shift;
  }
  std::array<std::uint64_t, 64 * kSub> counts_{};
  std::uint64_t total_ = 0;
  std::uint64_t max_ = 0;
};

struct Run {
  cosync::Address target;
  std::size_t size = 64;
  cosync::Event go;  // set once every connection is open (or failed)
  cosync::Deadline end{};
  std::size_t connecting = 0;
  std::size_t connected = 0;
  std::size_t peak_coroutines = 0;
  std::size_t errors = 0;
  std::size_t mismatches = 0;
  Histogram latency;
};

// One client, written as blocking code.
void client(Run& run, std::size_t id) {
  std::error_code error;
  cosync::Socket socket = cosync::Socket::connect(run.target, error, cosync::deadline_after(30s));
  --run.connecting;
  if (error) {
    ++run.errors;
  } else {
    ++run.connected;
    socket.set_nodelay(true);
    run.go.wait();
    std::string request(run.size, '\0');
    std::string reply(run.size, '\0');
    for (std::uint64_t sequence = 0; cosync::Clock::now() < run.end; ++sequence) {
      std::snprintf(request.data(), request.size(), "%zu:%" PRIu64 ":", id, sequence);
      request.back() = '\n';  // one line per request, for a line-forwarding proxy
      const auto sent = cosync::Clock::now();
      socket.write_all(request.data(), request.size(), error, run.end + 5s);
      if (!error) socket.read_exactly(reply.data(), reply.size(), error, run.end + 5s);
      if (error) {
        ++run.errors;
        break;
      }
      run.latency.record(static_cast<std::uint64_t>((cosync::Clock::now() - sent).count()));
      run.mismatches += reply != request ? 1 : 0;
    }
  }
}

double ms(std::uint64_t ns) { return static_cast<double>(ns) / 1e6; }

// One line per second, rewritten in place on a terminal.
void progress(Run& run, const char* phase, std::uint64_t& last_total) {
  const std::uint64_t total = run.latency.total();
  run.peak_coroutines = std::max(run.peak_coroutines, cosync::coroutine_stats().live);
  std::fprintf(stdout, "%s  %-10s %6zu connections  %9" PRIu64 " req/s  p99 %6.2f ms  errors %zu%s",
               isatty(1) ? "\r" : "", phase, run.connected, total - last_total,
               ms(run.latency.percentile(99)), run.errors, isatty(1) ? "   " : "\n");
  std::fflush(stdout);
  last_total = total;
}

void report_memory(const char* who, std::size_t before, std::size_t during, std::size_t n) {
  const double per = n == 0 ? 0
                            : static_cast<double>(during > before ? during - before : 0) /
                                  static_cast<double>(n) / 1024.0;
  std::printf("  %-28s %.1f KiB\n", who, per);
}

}  // namespace

int main(int argc, char** argv) {
  const demo::Options options(argc, argv, kUsage);
  Run run;
  const auto connections =
      static_cast<std::size_t>(options.number("connections", 10000, 1, 1000000));
  const long seconds = options.number("duration", 10, 1, 86400);
  run.size = static_cast<std::size_t>(options.number("size", 64, 1, 1 << 20));
  const long server_pid = options.number("server-pid", 0, 0, 1L << 30);
  demo::ensure_fd_limit("cosync-load", static_cast<rlim_t>(connections + 64), true);
  try {
    run.target = cosync::Address::lookup(options.text("connect", "127.0.0.1:7001"));
  } catch (const std::exception& error) {
    options.fail(error.what());
  }

  const std::size_t rss_before = demo::rss_bytes();
  const std::size_t server_rss_before = server_pid != 0 ? demo::rss_bytes(server_pid) : 0;
  run.connecting = connections;
  std::vector<cosync::Request<void>> clients;
  clients.reserve(connections);
  for (std::size_t i = 0; i < connections; ++i) {
    clients.push_back(
        cosync::spawn(cosync::Options{.stack_size = 32 * 1024}, client, std::ref(run), i));
  }
  std::uint64_t last_total = 0;
  while (run.connecting > 0) {
    cosync::this_loop().run_until([&] { return run.connecting == 0; }, cosync::deadline_after(1s));
    progress(run, "connecting", last_total);
  }
  const std::size_t rss_connected = demo::rss_bytes();
  const std::size_t server_rss_connected = server_pid != 0 ? demo::rss_bytes(server_pid) : 0;

  const auto start = cosync::Clock::now();
  run.end = start + std::chrono::seconds(seconds);
  run.go.set();
  while (cosync::Clock::now() < run.end) {
    cosync::this_loop().run_until([] { return false; },
                                  std::min(run.end, cosync::deadline_after(1s)));
    progress(run, "running", last_total);
  }
  for (auto& request : clients) request.wait();
  const double elapsed = std::chrono::duration<double>(cosync::Clock::now() - start).count();
  if (isatty(1)) std::printf("\n");

  std::printf("\ncosync-load: %zu connections to %s, %ld s of %zu-byte requests\n", connections,
              run.target.to_string().c_str(), seconds, run.size);
  std::printf("  %-28s %zu\n", "connections open", run.connected);
  std::printf("  %-28s %.0f\n", "requests per second",
              static_cast<double>(run.latency.total()) / elapsed);
  std::printf("  %-28s %.3f ms\n", "latency p50", ms(run.latency.percentile(50)));
  std::printf("  %-28s %.3f ms\n", "latency p99", ms(run.latency.percentile(99)));
  std::printf("  %-28s %.3f ms\n", "latency max", ms(run.latency.max()));
  std::printf("  %-28s %zu\n", "coroutines alive at peak", run.peak_coroutines);
  report_memory("RSS per connection (load)", rss_before, rss_connected, run.connected);
  if (server_pid != 0) {
    report_memory("RSS per connection (server)", server_rss_before, server_rss_connected,
                  run.connected);
  }
  std::printf("  %-28s %zu\n", "errors", run.errors);
  std::printf("  %-28s %zu\n", "replies not matching", run.mismatches);
  return run.errors == 0 && run.mismatches == 0 && run.connected == connections ? 0 : 1;
}
