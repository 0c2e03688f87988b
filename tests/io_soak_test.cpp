// Soak (opt-in: cmake -DCOSYNC_SOAK=ON, ctest -L soak): 10,000 client
// connections for 60 seconds against cosync-echo in a child process, with
// random peer resets and timeouts, reconnecting all the while. Afterwards
// neither process may have grown in open fds, mappings or RSS beyond what
// it had after the warm-up. COSYNC_SOAK_SECONDS and COSYNC_SOAK_CONNECTIONS
// change the defaults.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "cosync/cosync.hpp"
#include "test_util.hpp"

extern char** environ;

namespace cosync {
namespace {

using namespace std::chrono_literals;

long env_number(const char* name, long fallback) {
  const char* text = std::getenv(name);
  return text != nullptr ? std::strtol(text, nullptr, 10) : fallback;
}

struct Usage {
  std::size_t fds = 0;
  std::size_t mappings = 0;
  std::size_t rss = 0;
};

Usage usage_of(pid_t pid) {
  return {usage::open_fd_count(pid), usage::mapping_count(pid), usage::resident_bytes(pid)};
}

// Under the same load, late in the run against just after the warm-up: the
// fds follow the connections open at that moment (at most all of them),
// mappings and RSS may move a little with allocator arenas, not with
// traffic.
void expect_no_growth(const char* who, const Usage& warm, const Usage& late,
                      std::size_t connections) {
  EXPECT_LE(late.fds, warm.fds + connections / 10) << who << ": open fds grew";
  EXPECT_LE(late.mappings, warm.mappings + 16) << who << ": mappings grew";
  EXPECT_LE(late.rss, warm.rss + warm.rss / 10 + (8U << 20)) << who << ": RSS grew";
}

// Whatever lazily opens fds (the loop's epoll and eventfd, the pool) does
// it here, before the idle reading.
void one_round_trip(const Address& server) {
  Socket socket = Socket::connect(server);
  char byte = 'x';
  socket.write_all(&byte, 1);
  socket.read_exactly(&byte, 1);
}

struct Soak {
  Address server;
  Deadline end;
  std::size_t round_trips = 0;
  std::size_t resets = 0;
  std::size_t timeouts = 0;
  std::size_t reconnects = 0;
  std::size_t wrong_replies = 0;
  std::size_t unexpected_errors = 0;
};

// One client slot: connects, talks, and ends each connection in one of
// the ways a real peer does (close, reset, timeout), until the end.
void client(Soak& soak, unsigned seed) {
  std::minstd_rand random(seed);
  char reply[64];
  while (Clock::now() < soak.end) {
    std::error_code error;
    Socket socket = Socket::connect(soak.server, error, deadline_after(10s));
    if (error) {
      ++soak.unexpected_errors;
      sleep_for(10ms);
      continue;
    }
    ++soak.reconnects;
    const unsigned exchanges = random() % 20;
    for (unsigned i = 0; i < exchanges && !error; ++i) {
      char request[64];
      std::snprintf(request, sizeof request, "%u:%u", seed, i);
      socket.write_all(request, sizeof request, error, deadline_after(10s));
      if (!error) socket.read_exactly(reply, sizeof reply, error, deadline_after(10s));
      if (!error) {
        ++soak.round_trips;
        soak.wrong_replies += std::memcmp(reply, request, sizeof reply) != 0 ? 1 : 0;
      }
      sleep_for(std::chrono::milliseconds(random() % 50));
    }
    if (error) {
      ++soak.unexpected_errors;
      continue;
    }
    switch (random() % 3) {
      case 0: {  // reset: the server sees ECONNRESET
        const linger abort_on_close{1, 0};
        setsockopt(socket.fd(), SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close);
        ++soak.resets;
        break;
      }
      case 1: {  // a read that times out: nothing was asked
        socket.read_some(reply, sizeof reply, error,
                         deadline_after(std::chrono::milliseconds(1 + random() % 20)));
        soak.timeouts += error == std::errc::timed_out ? 1 : 0;
        break;
      }
      default:
        break;  // plain close
    }
  }
}

TEST(IoSoak, TenThousandConnectionsWithResetsAndTimeoutsLeakNothing) {
  const long seconds = env_number("COSYNC_SOAK_SECONDS", 60);
  const auto connections = static_cast<std::size_t>(env_number("COSYNC_SOAK_CONNECTIONS", 10000));
  rlimit limit{};
  getrlimit(RLIMIT_NOFILE, &limit);
  limit.rlim_cur = limit.rlim_max;
  setrlimit(RLIMIT_NOFILE, &limit);
  ASSERT_GE(limit.rlim_cur, connections + 100) << "open-file limit too low for the soak";

  int out[2];
  ASSERT_EQ(pipe(out), 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_addclose(&actions, out[0]);
  std::string max = std::to_string(connections + 100);
  std::vector<char*> argv{const_cast<char*>(COSYNC_ECHO_BIN),
                          const_cast<char*>("--listen"),
                          const_cast<char*>("127.0.0.1:0"),
                          const_cast<char*>("--max-connections"),
                          max.data(),
                          nullptr};
  pid_t server_pid = 0;
  ASSERT_EQ(posix_spawn(&server_pid, argv[0], &actions, nullptr, argv.data(), environ), 0);
  posix_spawn_file_actions_destroy(&actions);
  close(out[1]);
  std::string banner(256, '\0');
  banner.resize(static_cast<std::size_t>(std::max<ssize_t>(0, read(out[0], banner.data(), 255))));
  close(out[0]);
  const std::size_t at = banner.find("listening on ");
  ASSERT_NE(at, std::string::npos) << banner;
  Soak soak;
  soak.server = Address::parse(banner.substr(at + 13, banner.find('\n', at) - at - 13));

  one_round_trip(soak.server);
  sleep_for(100ms);  // the server closes its side
  const Usage client_idle = usage_of(getpid());
  const Usage server_idle = usage_of(server_pid);
  const Deadline start = Clock::now();
  soak.end = start + std::chrono::seconds(seconds);
  std::vector<Request<void>> clients;
  for (std::size_t i = 0; i < connections; ++i) {
    clients.push_back(spawn(Options{.stack_size = 32 * 1024}, client, std::ref(soak),
                            static_cast<unsigned>(i + 1)));
  }
  this_loop().run_until([] { return false; }, start + std::chrono::seconds(seconds) / 6);
  const Usage client_warm = usage_of(getpid());
  const Usage server_warm = usage_of(server_pid);
  this_loop().run_until([] { return false; }, start + std::chrono::seconds(seconds) * 5 / 6);
  const Usage client_late = usage_of(getpid());
  const Usage server_late = usage_of(server_pid);
  for (auto& request : clients) request.get();
  clients.clear();
  sleep_for(500ms);  // let the server see the last closes
  const Usage client_end = usage_of(getpid());
  const Usage server_end = usage_of(server_pid);
  kill(server_pid, SIGTERM);
  int status = 0;
  waitpid(server_pid, &status, 0);

  std::printf("soak: %zu connections, %zu round trips, %zu resets, %zu timeouts, %zu errors\n",
              soak.reconnects, soak.round_trips, soak.resets, soak.timeouts,
              soak.unexpected_errors);
  for (const auto& [who, idle, warm, late, end] :
       {std::tuple("client", client_idle, client_warm, client_late, client_end),
        std::tuple("server", server_idle, server_warm, server_late, server_end)}) {
    std::printf(
        "%s: fds %zu/%zu/%zu/%zu, mappings %zu/%zu/%zu/%zu, RSS %zu/%zu/%zu/%zu KiB "
        "(idle/warm-up/late/after)\n",
        who, idle.fds, warm.fds, late.fds, end.fds, idle.mappings, warm.mappings, late.mappings,
        end.mappings, idle.rss >> 10, warm.rss >> 10, late.rss >> 10, end.rss >> 10);
  }
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_GT(soak.round_trips, connections);
  EXPECT_GT(soak.resets, 0U);
  EXPECT_GT(soak.timeouts, 0U);
  EXPECT_EQ(soak.wrong_replies, 0U);
  EXPECT_EQ(soak.unexpected_errors, 0U);
  expect_no_growth("client", client_warm, client_late, connections);
  expect_no_growth("server", server_warm, server_late, connections);
  EXPECT_EQ(client_end.fds, client_idle.fds) << "client fds after the clients left";
  EXPECT_EQ(server_end.fds, server_idle.fds) << "server fds after the clients left";
}

}  // namespace
}  // namespace cosync
