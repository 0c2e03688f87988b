// libcosync-hook: unmodified blocking calls in coroutines suspend only the
// coroutine; everywhere else they pass straight through. This program links
// libcosync-hook (cosync::hook), so the calls below are the hooked ones.
#include "cosync/hook.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "cosync/cosync.hpp"
#include "hook_fortified.hpp"
#include "test_util.hpp"

namespace cosync {
namespace {

// Two fds, closed at the end of the test.
class FdPair {
 public:
  FdPair() = default;
  FdPair(const FdPair&) = delete;
  FdPair& operator=(const FdPair&) = delete;
  ~FdPair() {
    for (const int fd : fds_) {
      if (fd >= 0) close(fd);
    }
  }
  int left() const { return fds_[0]; }
  int right() const { return fds_[1]; }

 protected:
  int fds_[2] = {-1, -1};
};

// Two connected Unix-domain sockets.
struct Pair : FdPair {
  explicit Pair(int type = SOCK_STREAM) {
    if (socketpair(AF_UNIX, type, 0, fds_) != 0) throw std::runtime_error("socketpair");
  }
};

// A TCP listener on 127.0.0.1 and a port the kernel picks, made outside
// coroutines (the calls pass straight through); `address` gets its address.
int loopback_listener(sockaddr_in& address, int backlog) {
  const int listener = socket(AF_INET, SOCK_STREAM, 0);
  address = {};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t size = sizeof address;
  auto* name = reinterpret_cast<sockaddr*>(&address);
  if (listener < 0 || bind(listener, name, size) != 0 || listen(listener, backlog) != 0 ||
      getsockname(listener, name, &size) != 0) {
    throw std::runtime_error("loopback listener");
  }
  return listener;
}

// A connected pair of TCP sockets on loopback, made outside coroutines.
struct TcpPair : FdPair {
  TcpPair() {
    sockaddr_in address{};
    const int listener = loopback_listener(address, 1);
    fds_[1] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (connect(fds_[1], reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
      close(listener);
      throw std::runtime_error("TCP connect");
    }
    fds_[0] = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    close(listener);
    if (fds_[0] < 0) throw std::runtime_error("TCP accept");
  }
};

// TCP_INQ as getsockopt reports it on `fd` (-1: refused).
int tcp_inq(int fd) {
  int on = -1;
  socklen_t size = sizeof on;
  return getsockopt(fd, IPPROTO_TCP, TCP_INQ, &on, &size) == 0 ? on : -1;
}

// What recvmsg with room for control data answered.
struct ControlledReceive {
  ssize_t got = -1;
  char first = 0;                  // the first byte received
  std::size_t control_length = 0;  // of the control data the kernel wrote
  int flags = -1;                  // msg_flags (MSG_CTRUNC...)
};

// Receives up to `size` bytes from `fd` with recvmsg and a control buffer.
ControlledReceive receive_with_control(int fd, std::size_t size) {
  std::string buffer(size, '\0');
  iovec part{buffer.data(), buffer.size()};
  alignas(cmsghdr) std::array<char, 128> control{};
  msghdr message{};
  message.msg_iov = &part;
  message.msg_iovlen = 1;
  message.msg_control = control.data();
  message.msg_controllen = control.size();
  const ssize_t got = recvmsg(fd, &message, 0);
  return {got, buffer[0], message.msg_controllen, message.msg_flags};
}

// Runs the loop until `done` holds (the loop must be able to get there).
template <class Predicate>
void run_until(Predicate done) {
  ASSERT_TRUE(this_loop().run_until(done, deadline_after(std::chrono::seconds(10))));
}

std::uint64_t waiting_now() { return hook::stats().waiting; }

// What a call answered: its value and the errno it left.
using Outcome = std::pair<ssize_t, int>;

// One byte read from `fd` with the hooked read(), and the errno after it.
Outcome read_byte(int fd) {
  char byte = 0;
  const ssize_t got = read(fd, &byte, 1);
  return {got, errno};
}

// A coroutine that reads one byte from `fd`.
Request<Outcome> spawn_byte_reader(int fd) {
  return spawn([fd] { return read_byte(fd); });
}

// Whether a call answered -1 with errno `expected`.
template <class Value>
::testing::AssertionResult failed_with(const std::pair<Value, int>& outcome, int expected) {
  if (outcome.first == -1 && outcome.second == expected) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "answered " << outcome.first << " with errno " << outcome.second << " ("
         << std::strerror(outcome.second) << "), not -1 with " << std::strerror(expected);
}

// A connect from a new blocking TCP socket (closed after it), with
// `send_timeout` as its SO_SNDTIMEO when given, and the errno after it.
std::pair<int, int> connect_once(const sockaddr* address, socklen_t size,
                                 const timeval* send_timeout = nullptr) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (send_timeout != nullptr) {
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, send_timeout, sizeof *send_timeout);
  }
  const int outcome = connect(fd, address, size);
  const int error = errno;
  close(fd);
  return {outcome, error};
}

// A read of one byte from `pair.left()` waits until a byte is written to
// `pair.right()`, and returns it: the fd behaves as a blocking one.
void expect_a_read_waits_for_the_next_byte(const FdPair& pair) {
  auto reader = spawn_byte_reader(pair.left());
  run_until([] { return waiting_now() == 1; });
  ASSERT_EQ(write(pair.right(), "b", 1), 1);
  EXPECT_EQ(reader.get().first, 1);
}

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
    return read_byte(pair.left());
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
  const std::uint64_t suspensions = hook::stats().suspensions;
  EXPECT_TRUE(failed_with(spawn_byte_reader(pair.left()).get(), EAGAIN));
  EXPECT_EQ(hook::stats().suspensions, suspensions);  // answered at once, never waited
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
  EXPECT_TRUE(failed_with(reader.get(), EAGAIN));
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
  EXPECT_TRUE(failed_with(spawn_byte_reader(pair.left()).get(), EAGAIN));
  // The next call on the same fd is not affected by the one that timed out.
  expect_a_read_waits_for_the_next_byte(pair);
}

TEST(Hook, CloseWhileAnotherCoroutineWaitsWakesItWithEbadf) {
  int fds[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  auto reader = spawn_byte_reader(fds[0]);
  run_until([] { return waiting_now() == 1; });
  close(fds[0]);
  // The number is reused at once; the old waiter must not reach the new fd.
  int reused[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, reused), 0);
  ASSERT_EQ(write(reused[1], "n", 1), 1);
  EXPECT_TRUE(failed_with(reader.get(), EBADF));
  char byte = 0;
  EXPECT_EQ(read(reused[0], &byte, 1), 1);  // the byte is still there for its owner
  for (const int fd : {fds[1], reused[0], reused[1]}) close(fd);
}

TEST(Hook, SeveralCoroutinesWaitOnOneFd) {
  Pair pair(SOCK_DGRAM);
  std::vector<Request<ssize_t>> readers;
  for (int i = 0; i < 3; ++i) {
    readers.push_back(spawn([&pair] {
      char byte = 0;
      return recv(pair.left(), &byte, 1, 0);
    }));
  }
  run_until([] { return waiting_now() == 3; });
  for (int i = 0; i < 3; ++i) ASSERT_EQ(send(pair.right(), "d", 1, 0), 1);
  for (Request<ssize_t>& reader : readers) EXPECT_EQ(reader.get(), 1);
}

TEST(Hook, PollWaitsOnAllItsFdsAtOnceAndReturnsTheRealRevents) {
  Pair first;
  Pair second;
  Pair third;
  auto poller = spawn([&] {
    std::array<pollfd, 3> fds{};
    fds[0] = {first.left(), POLLIN, 0};
    fds[1] = {second.left(), POLLIN | POLLERR, 0};
    fds[2] = {third.left(), POLLIN, 0};
    const int ready = poll(fds.data(), fds.size(), -1);
    return std::make_pair(ready, fds);
  });
  run_until([] { return waiting_now() == 1; });
  ASSERT_EQ(write(second.right(), "p", 1), 1);
  const auto [ready, fds] = poller.get();
  EXPECT_EQ(ready, 1);
  EXPECT_EQ(fds[0].revents, 0);
  EXPECT_EQ(fds[1].revents, POLLIN);
  EXPECT_EQ(fds[2].revents, 0);
}

// Urgent data (MSG_OOB) is POLLPRI alone: the loop watches for readability,
// which the urgent byte's arrival also signals, and the kernel's answer
// says which it is.
TEST(Hook, PollForPollpriWaitsForUrgentDataAndIgnoresOrdinaryData) {
  TcpPair pair;
  auto poller = spawn([&pair] {
    pollfd urgent{pair.left(), POLLPRI, 0};
    const int ready = poll(&urgent, 1, 5000);
    return std::make_pair(ready, urgent.revents);
  });
  run_until([] { return waiting_now() == 1; });
  const std::uint64_t suspensions = hook::stats().suspensions;
  ASSERT_EQ(send(pair.right(), "n", 1, 0), 1);
  // Ordinary data wakes the poll, which asks the kernel and waits again.
  run_until([suspensions] { return hook::stats().suspensions > suspensions; });
  EXPECT_FALSE(poller.done());
  EXPECT_EQ(waiting_now(), 1U);
  ASSERT_EQ(send(pair.right(), "u", 1, MSG_OOB), 1);
  const auto [ready, revents] = poller.get();
  EXPECT_EQ(ready, 1);
  EXPECT_EQ(revents, POLLPRI);
}

TEST(Hook, SelectAndEpollWaitSuspendTheCoroutine) {
  Pair pair;
  const int epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  ASSERT_GE(epoll_fd, 0);
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.fd = pair.left();
  ASSERT_EQ(epoll_ctl(epoll_fd, EPOLL_CTL_ADD, pair.left(), &event), 0);
  auto selecter = spawn([&pair] {
    fd_set readable;
    FD_ZERO(&readable);
    FD_SET(pair.left(), &readable);
    timeval timeout{5, 0};
    const int ready = select(pair.left() + 1, &readable, nullptr, nullptr, &timeout);
    return ready == 1 && FD_ISSET(pair.left(), &readable);
  });
  auto epoller = spawn([epoll_fd] {
    epoll_event got{};
    return epoll_wait(epoll_fd, &got, 1, 5000);
  });
  run_until([] { return waiting_now() == 2; });
  ASSERT_EQ(write(pair.right(), "s", 1), 1);
  EXPECT_TRUE(selecter.get());
  EXPECT_EQ(epoller.get(), 1);
  close(epoll_fd);
}

TEST(Hook, ABlockingWriteSendsEverythingAsTheRealCallWould) {
  Pair pair;
  constexpr std::size_t kSize = 4 << 20;  // far beyond the socket buffers
  auto writer = spawn([&pair] {
    const std::vector<char> data(kSize, 'w');
    return write(pair.right(), data.data(), data.size());
  });
  auto reader = spawn([&pair] {
    std::vector<char> buffer(64 * 1024);
    std::size_t total = 0;
    while (total < kSize) {
      const ssize_t got = read(pair.left(), buffer.data(), buffer.size());
      if (got <= 0) break;
      total += static_cast<std::size_t>(got);
    }
    return total;
  });
  EXPECT_EQ(writer.get(), static_cast<ssize_t>(kSize));
  EXPECT_EQ(reader.get(), kSize);
}

TEST(Hook, ConnectTimeoutEndsWithEinprogress) {
  // A listener whose queue is full drops further SYNs: the connect hangs.
  sockaddr_in address{};
  const int listener = loopback_listener(address, 0);
  const socklen_t size = sizeof address;
  std::vector<int> fillers;
  for (int i = 0; i < 4; ++i) {
    fillers.push_back(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0));
    connect(fillers.back(), reinterpret_cast<sockaddr*>(&address), size);
  }
  auto connector = spawn([&address, size] {
    const timeval timeout{0, 100000};
    return connect_once(reinterpret_cast<const sockaddr*>(&address), size, &timeout);
  });
  EXPECT_TRUE(failed_with(connector.get(), EINPROGRESS));
  for (const int fd : fillers) close(fd);
  close(listener);
}

TEST(Hook, ConnectThatWaitedReportsTheOutcome) {
  Socket listener = Socket::listen(Address::parse("127.0.0.1:0"));
  const Address target = listener.local_address();
  auto connector = spawn([&target] { return connect_once(target.data(), target.size()); });
  EXPECT_EQ(connector.get().first, 0);
  listener.close();
  auto refused = spawn([&target] { return connect_once(target.data(), target.size()); });
  EXPECT_TRUE(failed_with(refused.get(), ECONNREFUSED));
}

TEST(Hook, CancellationEndsTheCallWithEcanceledAndLeavesTheFdAsItWas) {
  Pair pair;
  auto reader = spawn([&pair] {
    EXPECT_TRUE(failed_with(read_byte(pair.left()), ECANCELED));
    sleep_for(std::chrono::seconds(5));  // the cancellation is still pending: throws
    return 0;
  });
  run_until([] { return waiting_now() == 1; });
  reader.cancel();
  EXPECT_THROW(reader.get(), Cancelled);
  expect_a_read_waits_for_the_next_byte(pair);
}

std::atomic<std::uint64_t> g_suspensions_in_handler{0};
std::atomic<int> g_handler_sleep{-1};

void handler_that_sleeps(int /*signo*/) {
  const std::uint64_t before = hook::stats().suspensions;
  g_handler_sleep = usleep(1000);
  g_suspensions_in_handler = hook::stats().suspensions - before;
}

TEST(Hook, CallsFromSignalHandlersNeverYield) {
  struct sigaction action {};
  action.sa_handler = &handler_that_sleeps;
  struct sigaction previous {};
  ASSERT_EQ(sigaction(SIGUSR1, &action, &previous), 0);
  struct sigaction shown {};
  ASSERT_EQ(sigaction(SIGUSR1, nullptr, &shown), 0);
  EXPECT_EQ(shown.sa_handler, &handler_that_sleeps);  // the user's, not the hooks' trampoline
  auto raiser = spawn([] {
    raise(SIGUSR1);
    return hook::stats().waiting;
  });
  EXPECT_EQ(raiser.get(), 0U);
  EXPECT_EQ(g_handler_sleep.load(), 0);
  EXPECT_EQ(g_suspensions_in_handler.load(), 0U);
  sigaction(SIGUSR1, &previous, nullptr);
}

TEST(Hook, OtherThreadsBlockAsTheyWouldWithoutTheHooks) {
  Pair pair;
  // A coroutine's wait makes the fd non-blocking behind the user's back...
  ASSERT_NO_FATAL_FAILURE(expect_a_read_waits_for_the_next_byte(pair));
  // ...yet another thread's read still blocks until data comes.
  std::atomic<bool> started{false};
  ssize_t got = 0;
  int error = 0;
  std::thread other([&] {
    started = true;
    char byte = 0;
    got = read(pair.left(), &byte, 1);
    error = errno;
  });
  while (!started) std::this_thread::yield();
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_EQ(write(pair.right(), "2", 1), 1);
  other.join();
  EXPECT_EQ(got, 1) << std::strerror(error);
}

TEST(Hook, AForkedChildDoesNotUseTheParentsLoop) {
  Pair pair;
  Pair report;
  auto parent = spawn([&] {
    const pid_t child = fork();
    if (child == 0) {
      // In the child the hooks pass through: a blocking read blocks, and a
      // close does not touch the epoll instance shared with the parent.
      char byte = 0;
      const ssize_t got = read(pair.left(), &byte, 1);
      close(pair.left());
      const char answer = got == 1 && byte == 'f' ? 'y' : 'n';
      static_cast<void>(write(report.right(), &answer, 1));
      _exit(0);
    }
    char answer = 0;
    const ssize_t got = read(report.left(), &answer, 1);  // suspends the parent's coroutine
    int status = 0;
    waitpid(child, &status, 0);
    return got == 1 ? answer : '?';
  });
  run_until([] { return waiting_now() == 1; });
  ASSERT_EQ(write(pair.right(), "f", 1), 1);
  EXPECT_EQ(parent.get(), 'y');
  // The parent's loop still works on the fds the child closed its copy of.
  expect_a_read_waits_for_the_next_byte(pair);
}

TEST(Hook, GetaddrinfoRunsOnTheBlockingPoolInACoroutine) {
  // Every worker busy: a lookup that goes to the pool is seen queued there.
  std::atomic<bool> release{false};
  std::vector<Request<void>> blockers;
  for (std::size_t i = 0; i < blocking_pool_size(); ++i) {
    blockers.push_back(blocking_pool().submit([&release] {
      while (!release) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }));
  }
  auto resolver = spawn([] {
    addrinfo hints{};
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    const int outcome = getaddrinfo("localhost", "80", &hints, &found);
    if (found != nullptr) freeaddrinfo(found);
    return outcome;
  });
  // Another thread changes the count: the loop is run in short rounds.
  const Deadline give_up = deadline_after(std::chrono::seconds(10));
  while (blocking_pool().queued() != 1 && Clock::now() < give_up) {
    this_loop().run_once(deadline_after(std::chrono::milliseconds(1)));
  }
  ASSERT_EQ(blocking_pool().queued(), 1U);
  EXPECT_FALSE(resolver.done());
  release = true;
  EXPECT_EQ(resolver.get(), 0);
  for (Request<void>& blocker : blockers) blocker.get();
}

TEST(Hook, FortifiedCallsAndFcntl64AreHookedToo) {
  Pair first;
  Pair second;
  Pair third;
  Pair fourth;
  auto read_checked = spawn([&first] { return test::fortified_read(first.left()); });
  auto recv_checked = spawn([&second] { return test::fortified_recv(second.left()); });
  auto recvfrom_checked = spawn([&third] { return test::fortified_recvfrom(third.left()); });
  auto poll_checked =
      spawn([&fourth] { return static_cast<ssize_t>(test::fortified_poll(fourth.left())); });
  run_until([] { return waiting_now() == 4; });
  for (const Pair* pair : {&first, &second, &third, &fourth}) {
    ASSERT_EQ(write(pair->right(), "f", 1), 1);
  }
  EXPECT_EQ(read_checked.get(), 1);
  EXPECT_EQ(recv_checked.get(), 1);
  EXPECT_EQ(recvfrom_checked.get(), 1);
  EXPECT_EQ(poll_checked.get(), 1);
  // The hooks forced O_NONBLOCK on `first`; fcntl64 shows the user's view.
  EXPECT_EQ(test::flags_through_fcntl64(first.left()) & O_NONBLOCK, 0);
}

TEST(Hook, AReadReturnsWhatIsThereAsTheRealCallWould) {
  Pair pair;
  ASSERT_EQ(write(pair.right(), "abc", 3), 3);
  auto reader = spawn([&pair] {
    errno = 77;
    char buffer[10];
    const ssize_t got = read(pair.left(), buffer, sizeof buffer);
    return std::make_pair(got, errno);
  });
  const auto [got, error] = reader.get();
  EXPECT_EQ(got, 3);
  EXPECT_EQ(error, 77);
}

// Each message is read whole, so no read comes back short: only the
// kernel's count of the bytes left (TCP_INQ) shows the socket drained.
TEST(Hook, AReadThatDrainsATcpSocketMakesTheNextOneWaitWithoutAnEagain) {
  constexpr int kMessages = 4;
  TcpPair pair;
  const std::string message(64, 'm');
  ASSERT_EQ(write(pair.right(), message.data(), message.size()), 64);
  int received = 0;
  auto reader = spawn([&pair, &message, &received] {
    std::string buffer(message.size(), '\0');
    hook::Stats before{};
    for (int i = 0; i < kMessages; ++i) {
      // The first two reads learn: TCP_INQ goes on, then one EAGAIN.
      if (i == 2) before = hook::stats();
      EXPECT_EQ(read(pair.left(), buffer.data(), buffer.size()), 64);
      EXPECT_EQ(buffer, message);
      ++received;
    }
    const hook::Stats after = hook::stats();
    EXPECT_EQ(after.suspensions - before.suspensions, 2U);
    return after.would_block - before.would_block;
  });
  for (int i = 1; i < kMessages; ++i) {
    run_until([&received, i] { return received == i && waiting_now() == 1; });
    ASSERT_EQ(write(pair.right(), message.data(), message.size()), 64);
  }
  EXPECT_EQ(reader.get(), 0U);
}

TEST(Hook, AWaitAfterEagainIsCountedOnSocketsWithoutTcpInq) {
  Pair pair;
  auto reader = spawn([&pair] {
    const hook::Stats before = hook::stats();
    char byte = 0;
    EXPECT_EQ(read(pair.left(), &byte, 1), 1);
    return hook::stats().would_block - before.would_block;
  });
  run_until([] { return waiting_now() == 1; });
  ASSERT_EQ(write(pair.right(), "w", 1), 1);
  EXPECT_EQ(reader.get(), 1U);
}

TEST(Hook, ATcpInqTheHooksTurnedOnIsInvisibleToTheUser) {
  TcpPair pair;
  ASSERT_EQ(write(pair.right(), "ab", 2), 2);
  // A read that brings bytes: the hooks turn TCP_INQ on.
  EXPECT_EQ(spawn_byte_reader(pair.left()).get().first, 1);
  EXPECT_EQ(tcp_inq(pair.left()), 0);
  const ControlledReceive received = receive_with_control(pair.left(), 4);
  EXPECT_EQ(received.got, 1);
  EXPECT_EQ(received.first, 'b');
  EXPECT_EQ(received.control_length, 0U);  // no TCP_CM_INQ the user did not ask for
  EXPECT_EQ(received.flags, 0);            // nor MSG_CTRUNC
  EXPECT_EQ(tcp_inq(pair.left()), 0);
}

TEST(Hook, AUsersOwnTcpInqStaysOn) {
  TcpPair pair;
  const int on = 1;
  ASSERT_EQ(setsockopt(pair.left(), IPPROTO_TCP, TCP_INQ, &on, sizeof on), 0);
  ASSERT_EQ(write(pair.right(), "abc", 3), 3);
  EXPECT_EQ(spawn_byte_reader(pair.left()).get().first, 1);
  EXPECT_EQ(tcp_inq(pair.left()), 1);
  const ControlledReceive received = receive_with_control(pair.left(), 1);
  EXPECT_EQ(received.got, 1);
  // The TCP_CM_INQ the user asked for.
  EXPECT_EQ(received.control_length, CMSG_SPACE(sizeof(int)));
  EXPECT_EQ(received.flags, 0);
}

TEST(Hook, RecvWaitallFillsTheBuffer) {
  Pair pair;
  auto reader = spawn([&pair] {
    char buffer[4];
    return recv(pair.left(), buffer, sizeof buffer, MSG_WAITALL);
  });
  run_until([] { return waiting_now() == 1; });
  ASSERT_EQ(write(pair.right(), "ab", 2), 2);
  run_until([] { return waiting_now() == 1; });
  ASSERT_EQ(write(pair.right(), "cd", 2), 2);
  EXPECT_EQ(reader.get(), 4);
}

TEST(Hook, SendTimeoutReturnsThePartialCountLikeTheKernel) {
  Pair pair;
  const timeval timeout{0, 50000};
  ASSERT_EQ(setsockopt(pair.right(), SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout), 0);
  constexpr std::size_t kSize = 8 << 20;  // more than the socket buffers hold
  auto writer = spawn([&pair] {
    const std::vector<char> data(kSize, 's');
    return write(pair.right(), data.data(), data.size());
  });
  const ssize_t sent = writer.get();
  EXPECT_GT(sent, 0);
  EXPECT_LT(sent, static_cast<ssize_t>(kSize));
  auto nothing_fits = spawn([&pair] {
    const char byte = 'x';
    const ssize_t put = send(pair.right(), &byte, 1, 0);
    return std::make_pair(put, errno);
  });
  EXPECT_TRUE(failed_with(nothing_fits.get(), EAGAIN));
}

TEST(Hook, FionbioSetsTheUsersViewAndIsHonoured) {
  Pair pair;
  int on = 1;
  ASSERT_EQ(ioctl(pair.left(), FIONBIO, &on), 0);
  EXPECT_TRUE(failed_with(spawn_byte_reader(pair.left()).get(), EAGAIN));
  int off = 0;
  ASSERT_EQ(ioctl(pair.left(), FIONBIO, &off), 0);
  EXPECT_EQ(fcntl(pair.left(), F_GETFL) & O_NONBLOCK, 0);
  auto patient = spawn([&pair] {
    char byte = 0;
    return read(pair.left(), &byte, 1);
  });
  run_until([] { return waiting_now() == 1; });
  ASSERT_EQ(ioctl(pair.left(), FIONBIO, &off), 0);  // while forced: the kernel's flag stays
  ASSERT_EQ(write(pair.right(), "i", 1), 1);
  EXPECT_EQ(patient.get(), 1);
}

TEST(Hook, PipesAndVectoredCallsWait) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  auto reader = spawn([fd = fds[0]] {
    char head[2];
    char rest[8];
    iovec parts[2] = {{head, sizeof head}, {rest, sizeof rest}};
    return readv(fd, parts, 2);
  });
  run_until([] { return waiting_now() == 1; });
  auto writer = spawn([fd = fds[1]] {
    char one[] = "ab";
    char two[] = "cde";
    iovec parts[2] = {{one, 2}, {two, 3}};
    return writev(fd, parts, 2);
  });
  EXPECT_EQ(writer.get(), 5);
  EXPECT_EQ(reader.get(), 5);
  close(fds[0]);
  close(fds[1]);
}

TEST(Hook, AcceptWaitsAndGivesABlockingSocket) {
  sockaddr_in address{};
  const int listener = loopback_listener(address, 4);
  const socklen_t size = sizeof address;
  auto acceptor = spawn([listener] {
    const int connection = accept(listener, nullptr, nullptr);
    const int flags = connection >= 0 ? fcntl(connection, F_GETFL) : -1;
    char byte = 0;
    const ssize_t got = connection >= 0 ? read(connection, &byte, 1) : -1;
    if (connection >= 0) close(connection);
    return std::make_pair(flags, got);
  });
  run_until([] { return waiting_now() == 1; });
  auto connector = spawn([&address, size] {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    const int outcome = connect(fd, reinterpret_cast<const sockaddr*>(&address), size);
    const ssize_t put = outcome == 0 ? write(fd, "a", 1) : -1;
    close(fd);
    return put;
  });
  EXPECT_EQ(connector.get(), 1);
  const auto [flags, got] = acceptor.get();
  ASSERT_GE(flags, 0);
  EXPECT_EQ(flags & O_NONBLOCK, 0);
  EXPECT_EQ(got, 1);
  close(listener);
}

TEST(Hook, Dup2OntoAWaitedFdWakesItsWaiter) {
  Pair waited;
  Pair other;
  auto reader = spawn_byte_reader(waited.left());
  run_until([] { return waiting_now() == 1; });
  ASSERT_EQ(dup2(other.left(), waited.left()), waited.left());
  ASSERT_EQ(write(other.right(), "d", 1), 1);  // readable through the new fd: not the waiter's
  EXPECT_TRUE(failed_with(reader.get(), EBADF));
}

TEST(Hook, AThreadThatExitsUnwindsItsCoroutinesWaitingInHookedCalls) {
  Pair pair;
  std::atomic<int> error{0};
  std::optional<Request<void>> kept;  // outlives the thread: no cancel before its exit
  std::thread owner([&pair, &error, &kept] {
    // Left waiting: the thread's loop tears down at its exit and cancels
    // the coroutine inside read().
    kept.emplace(spawn([&pair, &error] {
      char byte = 0;
      if (read(pair.left(), &byte, 1) < 0) error = errno;
    }));
    this_loop().run_until([] { return waiting_now() == 1; });
  });
  owner.join();
  EXPECT_EQ(error.load(), ECANCELED);
  kept.reset();
}

}  // namespace
}  // namespace cosync
