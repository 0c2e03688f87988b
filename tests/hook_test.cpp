// libcosync-hook: unmodified blocking calls in coroutines suspend only the
// coroutine; everywhere else they pass straight through. This program links
// libcosync-hook (cosync::hook), so the calls below are the hooked ones.
#include "cosync/hook.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "cosync/cosync.hpp"
#include "test_util.hpp"

namespace cosync {
namespace {

// Two connected stream sockets, closed at the end of the test.
struct Pair {
  int fds[2] = {-1, -1};
  explicit Pair(int type = SOCK_STREAM) {
    if (socketpair(AF_UNIX, type, 0, fds) != 0) throw std::runtime_error("socketpair");
  }
  Pair(const Pair&) = delete;
  Pair& operator=(const Pair&) = delete;
  ~Pair() {
    for (const int fd : fds) {
      if (fd >= 0) close(fd);
    }
  }
  int left() const { return fds[0]; }
  int right() const { return fds[1]; }
};

// Runs the loop until `done` holds (the loop must be able to get there).
template <class Predicate>
void run_until(Predicate done) {
  ASSERT_TRUE(this_loop().run_until(done, deadline_after(std::chrono::seconds(10))));
}

std::uint64_t waiting_now() { return hook::stats().waiting; }

TEST(Hook, IsActiveWhenLinked) {
  EXPECT_TRUE(hook::active()) << hook::status();
  EXPECT_NE(std::string(hook::status()).find("active"), std::string::npos);
}

TEST(Hook, BlockingReadsOfManyCoroutinesOverlapOnOneThread) {
  constexpr int kCount = 50;
  std::vector<std::unique_ptr<Pair>> pairs;
  std::vector<Request<std::string>> readers;
  for (int i = 0; i < kCount; ++i) {
    pairs.push_back(std::make_unique<Pair>());
    readers.push_back(spawn([fd = pairs.back()->left()] {
      char buffer[16] = {};
      const ssize_t got = read(fd, buffer, sizeof buffer);
      return std::string(buffer, got > 0 ? static_cast<std::size_t>(got) : 0);
    }));
  }
  // Every reader is suspended inside read() at the same time: none blocked
  // the thread, or the others could not have started.
  run_until([] { return waiting_now() == kCount; });
  for (int i = 0; i < kCount; ++i) {
    const std::string text = "r" + std::to_string(i);
    ASSERT_EQ(write(pairs[static_cast<std::size_t>(i)]->right(), text.data(), text.size()),
              static_cast<ssize_t>(text.size()));
  }
  for (int i = 0; i < kCount; ++i) {
    EXPECT_EQ(readers[static_cast<std::size_t>(i)].get(), "r" + std::to_string(i));
  }
  EXPECT_EQ(waiting_now(), 0U);
}

TEST(Hook, SleepsOfManyCoroutinesOverlap) {
  constexpr int kCount = 20;
  std::vector<Request<int>> sleepers;
  for (int i = 0; i < kCount; ++i) {
    sleepers.push_back(spawn([i] {
      switch (i % 4) {
        case 0:
          return usleep(20000);
        case 1: {
          const timespec length{0, 20000000};
          return nanosleep(&length, nullptr);
        }
        case 2:
          return poll(nullptr, 0, 20);  // poll with no fds is a sleep
        default: {
          const timespec length{0, 20000000};
          return clock_nanosleep(CLOCK_MONOTONIC, 0, &length, nullptr);
        }
      }
    }));
  }
  run_until([] { return waiting_now() == kCount; });
  for (Request<int>& sleeper : sleepers) EXPECT_EQ(sleeper.get(), 0);
}

TEST(Hook, CosyncSocketsDoNotPassThroughTheHooks) {
  Socket listener = Socket::listen(Address::parse("127.0.0.1:0"));
  auto server = spawn([&listener] {
    Socket connection = listener.accept();
    char buffer[5];
    connection.read_exactly(buffer, sizeof buffer);
    connection.write_all(buffer, sizeof buffer);
  });
  auto client = spawn([&listener] {
    Socket socket = Socket::connect(listener.local_address());
    const hook::Stats before = hook::stats();
    socket.write_all("hello", 5);
    char buffer[5];
    socket.read_exactly(buffer, sizeof buffer);
    const hook::Stats after = hook::stats();
    return after.calls - before.calls;
  });
  EXPECT_EQ(client.get(), 0U);
  server.get();
}

TEST(Hook, CallsOutsideCoroutinesPassStraightThrough) {
  Pair pair;
  const hook::Stats before = hook::stats();
  ASSERT_EQ(write(pair.right(), "x", 1), 1);
  char byte = 0;
  EXPECT_EQ(read(pair.left(), &byte, 1), 1);
  EXPECT_EQ(hook::stats().calls, before.calls);
  EXPECT_EQ(fcntl(pair.left(), F_GETFL) & O_NONBLOCK, 0);
}

TEST(Hook, ErrnoIsPreservedAcrossTheSuspension) {
  Pair pair;
  auto reader = spawn([&pair] {
    errno = 1234;
    char byte = 0;
    const ssize_t got = read(pair.left(), &byte, 1);
    return std::make_pair(got, errno);
  });
  auto noisy = spawn([&pair] {
    errno = EIO;
    char byte = 0;
    EXPECT_EQ(recv(pair.left(), &byte, 1, MSG_DONTWAIT), -1);
    EXPECT_EQ(errno, EAGAIN);
    EXPECT_EQ(write(pair.right(), "y", 1), 1);
    errno = ENOENT;
  });
  noisy.get();
  const auto [got, error] = reader.get();
  EXPECT_EQ(got, 1);
  EXPECT_EQ(error, 1234);
}

TEST(Hook, AUsersOwnNonBlockingFdKeepsAnsweringEagain) {
  Pair pair;
  ASSERT_EQ(fcntl(pair.left(), F_SETFL, fcntl(pair.left(), F_GETFL) | O_NONBLOCK), 0);
  auto reader = spawn([&pair] {
    char byte = 0;
    const ssize_t got = read(pair.left(), &byte, 1);
    return std::make_pair(got, errno);
  });
  const auto [got, error] = reader.get();
  EXPECT_EQ(got, -1);
  EXPECT_EQ(error, EAGAIN);
  EXPECT_EQ(hook::stats().suspensions, hook::stats().suspensions);
}

TEST(Hook, MsgDontwaitIsHonoured) {
  Pair pair;
  auto reader = spawn([&pair] {
    const std::uint64_t before = hook::stats().suspensions;
    char byte = 0;
    const ssize_t got = recv(pair.left(), &byte, 1, MSG_DONTWAIT);
    const int error = errno;
    EXPECT_EQ(hook::stats().suspensions, before);
    return std::make_pair(got, error);
  });
  const auto [got, error] = reader.get();
  EXPECT_EQ(got, -1);
  EXPECT_EQ(error, EAGAIN);
}

TEST(Hook, FGetflShowsTheUsersViewOfAForcedFd) {
  Pair pair;
  auto reader = spawn([&pair] {
    char byte = 0;
    return read(pair.left(), &byte, 1);
  });
  run_until([] { return waiting_now() == 1; });
  // The hooks made the fd non-blocking to wait; the user still sees it blocking.
  EXPECT_EQ(fcntl(pair.left(), F_GETFL) & O_NONBLOCK, 0);
  EXPECT_EQ(write(pair.right(), "z", 1), 1);
  EXPECT_EQ(reader.get(), 1);
  const int copy = dup(pair.left());
  ASSERT_GE(copy, 0);
  EXPECT_EQ(fcntl(copy, F_GETFL) & O_NONBLOCK, 0);
  close(copy);
}

TEST(Hook, ReceiveTimeoutEndsWithEagainAndLeavesNoState) {
  Pair pair;
  const timeval timeout{0, 50000};
  ASSERT_EQ(setsockopt(pair.left(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout), 0);
  auto reader = spawn([&pair] {
    char byte = 0;
    const ssize_t got = read(pair.left(), &byte, 1);
    return std::make_pair(got, errno);
  });
  const auto [got, error] = reader.get();
  EXPECT_EQ(got, -1);
  EXPECT_EQ(error, EAGAIN);
  // The next call on the same fd is not affected by the one that timed out.
  auto again = spawn([&pair] {
    char byte = 0;
    return read(pair.left(), &byte, 1);
  });
  run_until([] { return waiting_now() == 1; });
  EXPECT_EQ(write(pair.right(), "a", 1), 1);
  EXPECT_EQ(again.get(), 1);
}

}  // namespace
}  // namespace cosync
