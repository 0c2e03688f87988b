// End to end: the demo's tools as separate processes (cosync-echo as the
// backend, cosync-proxy in front), and 1,000 concurrent client coroutines
// in this process that must each get their own bytes back.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "cosync/cosync.hpp"
#include "test_util.hpp"

extern char** environ;

namespace cosync {
namespace {

using namespace std::chrono_literals;

// A child process whose stdout and stderr this test reads.
class Child {
 public:
  explicit Child(std::vector<std::string> argv) {
    int pipe_fds[2];
    if (pipe2(pipe_fds, O_CLOEXEC) != 0) throw std::system_error(errno, std::generic_category());
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 1);
    posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 2);
    std::vector<char*> args;
    for (auto& arg : argv) args.push_back(arg.data());
    args.push_back(nullptr);
    const int status = posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    close(pipe_fds[1]);
    output_fd_ = pipe_fds[0];
    if (status != 0) throw std::system_error(status, std::generic_category(), argv[0]);
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    close(output_fd_);
  }

  // Reads output until it contains `text` (or the child stops writing).
  bool wait_for_output(const std::string& text, std::chrono::milliseconds timeout = 10s) {
    const Deadline deadline = deadline_after(timeout);
    while (output_.find(text) == std::string::npos && Clock::now() < deadline) {
      pollfd readable{output_fd_, POLLIN, 0};
      if (poll(&readable, 1, 100) <= 0) continue;
      char buffer[4096];
      const ssize_t got = read(output_fd_, buffer, sizeof buffer);
      if (got <= 0) break;
      output_.append(buffer, static_cast<std::size_t>(got));
    }
    return output_.find(text) != std::string::npos;
  }

  // The address from a "listening on ADDR" line.
  Address listening_address() {
    if (!wait_for_output("listening on ")) throw std::runtime_error("no address in: " + output_);
    // The tools print the line with one write, so it arrives whole.
    const std::size_t begin = output_.find("listening on ") + 13;
    const std::size_t end = output_.find_first_of(" ,\n", begin);
    return Address::parse(output_.substr(begin, end - begin));
  }

  // Exit status after SIGTERM (or after it exits by itself).
  int stop() {
    kill(pid_, SIGTERM);
    return wait();
  }
  int wait() {
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    drain();
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  const std::string& output() const { return output_; }

 private:
  // Reads what the exited child wrote last, up to end of file.
  void drain() {
    char buffer[4096];
    ssize_t got = 0;
    while ((got = read(output_fd_, buffer, sizeof buffer)) > 0) {
      output_.append(buffer, static_cast<std::size_t>(got));
    }
  }

  pid_t pid_ = -1;
  int output_fd_ = -1;
  std::string output_;
};

// One client: three requests of its own, each a line of distinct bytes.
bool exchange_own_bytes(const Address& proxy, std::size_t id) {
  Socket socket = Socket::connect(proxy, deadline_after(20s));
  for (int round = 0; round < 3; ++round) {
    std::string request = "client " + std::to_string(id) + " round " + std::to_string(round) +
                          std::string(id % 50, static_cast<char>('a' + round)) + "\n";
    socket.write_all(request, deadline_after(20s));
    std::string reply(request.size(), '\0');
    socket.read_exactly(reply.data(), reply.size(), deadline_after(20s));
    if (reply != request) return false;
  }
  return true;
}

std::size_t run_clients(const Address& proxy, std::size_t count) {
  std::vector<Request<bool>> clients;
  for (std::size_t i = 0; i < count; ++i) {
    clients.push_back(spawn(Options{.stack_size = 32 * 1024}, exchange_own_bytes, proxy, i));
  }
  std::size_t correct = 0;
  for (auto& client : clients) correct += client.get() ? 1 : 0;
  return correct;
}

void expect_clients_get_their_own_bytes(const char* mode) {
  Child backend({COSYNC_ECHO_BIN, "--listen", "127.0.0.1:0"});
  const Address backend_address = backend.listening_address();
  Child proxy({COSYNC_PROXY_BIN, "--listen", "127.0.0.1:0", "--to", backend_address.to_string(),
               "--mode", mode});
  const Address proxy_address = proxy.listening_address();
  const std::size_t count = test::scaled(1000);
  EXPECT_EQ(run_clients(proxy_address, count), count);
  EXPECT_EQ(proxy.stop(), 0) << proxy.output();
  EXPECT_NE(proxy.output().find(std::to_string(count) + " connections served"), std::string::npos)
      << proxy.output();
  EXPECT_NE(proxy.output().find("0 ended in error"), std::string::npos) << proxy.output();
  EXPECT_EQ(backend.stop(), 0) << backend.output();
}

TEST(ProxyEndToEnd, StreamModeGivesEachOfAThousandClientsItsOwnBytes) {
  expect_clients_get_their_own_bytes("stream");
}

TEST(ProxyEndToEnd, LinesModeGivesEachOfAThousandClientsItsOwnBytes) {
  expect_clients_get_their_own_bytes("lines");
}

TEST(ProxyEndToEnd, ABadAddressIsAClearError) {
  Child proxy({COSYNC_PROXY_BIN, "--to", "127.0.0.1"});
  EXPECT_EQ(proxy.wait(), 1);
  EXPECT_NE(proxy.output().find("bad address \"127.0.0.1\""), std::string::npos) << proxy.output();
}

TEST(ProxyEndToEnd, ABusyPortIsAClearError) {
  Socket taken = Socket::listen(Address::parse("127.0.0.1:0"));
  Child proxy(
      {COSYNC_PROXY_BIN, "--listen", taken.local_address().to_string(), "--to", "127.0.0.1:9"});
  EXPECT_EQ(proxy.wait(), 1);
  EXPECT_NE(proxy.output().find("Address already in use"), std::string::npos) << proxy.output();
}

TEST(ProxyEndToEnd, MissingOptionsPrintTheUsage) {
  Child proxy({COSYNC_PROXY_BIN});
  EXPECT_EQ(proxy.wait(), 2);
  EXPECT_NE(proxy.output().find("--to ADDR is required"), std::string::npos) << proxy.output();
  EXPECT_NE(proxy.output().find("usage: cosync-proxy"), std::string::npos) << proxy.output();
}

TEST(ProxyEndToEnd, HelpExitsCleanly) {
  Child load({COSYNC_LOAD_BIN, "--help"});
  EXPECT_EQ(load.wait(), 0);
  EXPECT_NE(load.output().find("usage: cosync-load"), std::string::npos) << load.output();
}

TEST(ProxyEndToEnd, TheLoadGeneratorReportsItsTable) {
  Child backend({COSYNC_ECHO_BIN, "--listen", "127.0.0.1:0"});
  const Address backend_address = backend.listening_address();
  Child load({COSYNC_LOAD_BIN, "--connect", backend_address.to_string(), "--connections", "50",
              "--duration", "1"});
  EXPECT_EQ(load.wait(), 0) << load.output();
  for (const char* row : {"requests per second", "latency p99", "coroutines alive at peak",
                          "RSS per connection", "errors"}) {
    EXPECT_NE(load.output().find(row), std::string::npos) << row << "\n" << load.output();
  }
}

}  // namespace
}  // namespace cosync
