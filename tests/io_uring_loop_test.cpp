// The io_uring loop's own guarantees, beyond the suites every backend runs
// (backend_fixture.hpp): the probe and the loop maker agree, an operation
// in flight is cancelled and finished before its coroutine unwinds, a
// closed socket's operation ends with ECANCELED, the multishot receive
// queues bytes for later reads without losing or reordering any (timeouts,
// cancellation, an exhausted buffer ring, closing), completions beyond the
// CQ ring's room are not lost, and a forked child leaves the parent's ring
// alone.
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "cosync/cosync.hpp"
#include "cosync/loop_io_uring.hpp"
#include "loop/io_uring_loop_linux.hpp"
#include "test_util.hpp"

namespace cosync {
namespace {

using namespace std::chrono_literals;

std::pair<Socket, Socket> socket_pair() {
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0)
    throw std::system_error(errno, std::generic_category());
  return {Socket(fds[0]), Socket(fds[1])};
}

// Runs the thread's loop for `time`, so that what was spawned reaches its
// first wait (its operation is then in the kernel).
void run_loop_for(Clock::duration time) {
  this_loop().run_until([] { return false; }, deadline_after(time));
}

// Each test on a fresh io_uring loop, installed as the thread's.
class IoUringLoopTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!io_uring_unavailable_reason().empty()) {
      GTEST_SKIP() << "io_uring loop unavailable here: " << io_uring_unavailable_reason();
    }
    loop_ = make_io_uring_loop();
    set_this_loop(loop_.get());
  }
  void TearDown() override {
    loop_.reset();
    set_this_loop(nullptr);
  }
  std::unique_ptr<Loop> loop_;
};

TEST(IoUringProbe, MakerAndReasonAgree) {
  const std::string& reason = io_uring_unavailable_reason();
  if (reason.empty()) {
    const std::unique_ptr<Loop> loop = make_io_uring_loop();
    EXPECT_STREQ(loop->stats().backend, "io_uring");
    EXPECT_EQ(loop->stats().fallback, nullptr);
    EXPECT_NE(loop::ring_ops_of(*loop), nullptr);
  } else {
    try {
      (void)make_io_uring_loop();
      FAIL() << "make_io_uring_loop succeeded although the probe said: " << reason;
    } catch (const std::system_error& error) {
      EXPECT_NE(std::string(error.what()).find(reason), std::string::npos) << error.what();
    }
  }
}

TEST(IoUringProbe, TheDefaultLoopIsEpollWithoutCosyncLoop) {
  if (std::getenv("COSYNC_LOOP") != nullptr) GTEST_SKIP() << "COSYNC_LOOP is set";
  EXPECT_STREQ(this_loop().stats().backend, "epoll");
  EXPECT_EQ(this_loop().stats().fallback, nullptr);
  EXPECT_EQ(loop::ring_ops_of(this_loop()), nullptr);
}

// COSYNC_LOOP is read once per process, at its first loop: the test runs
// itself again in a child with COSYNC_LOOP=io_uring, where the built-in
// loop must be the io_uring one (or, where the probe refuses it, the epoll
// one with the probe's reason as its fallback).
TEST(IoUringProbe, CosyncLoopPicksTheBuiltInLoop) {
  if (std::getenv("COSYNC_IO_URING_TEST_CHILD") != nullptr) {
    const LoopStats& stats = this_loop().stats();
    const std::string& reason = io_uring_unavailable_reason();
    const bool right = reason.empty() ? std::strcmp(stats.backend, "io_uring") == 0
                                      : std::strcmp(stats.backend, "epoll") == 0 &&
                                            stats.fallback != nullptr && stats.fallback == reason;
    std::_Exit(right ? 0 : 3);
  }
  char filter[] = "--gtest_filter=IoUringProbe.CosyncLoopPicksTheBuiltInLoop";
  char self[] = "/proc/self/exe";
  char* argv[] = {self, filter, nullptr};
  char loop_var[] = "COSYNC_LOOP=io_uring";
  char child_var[] = "COSYNC_IO_URING_TEST_CHILD=1";
  char* envp[] = {loop_var, child_var, nullptr};
  pid_t child = 0;
  ASSERT_EQ(posix_spawn(&child, self, nullptr, nullptr, argv, envp), 0);
  int status = -1;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child status " << status;
}

// The read's buffer lives on the coroutine's stack. Were the recv still in
// flight after the coroutine unwound, the bytes written next would go into
// that dead buffer instead of staying in the socket.
TEST_F(IoUringLoopTest, ACancelledReadIsFinishedBeforeItsCoroutineUnwinds) {
  auto [a, b] = socket_pair();
  auto reader = spawn([&a] {
    std::array<char, 64> buffer{};
    return a.read_some(buffer.data(), buffer.size());
  });
  run_loop_for(20ms);  // the recv is in the kernel now
  reader.cancel();
  EXPECT_THROW(reader.get(), Cancelled);
  b.write_all("still here");
  char got[16] = {};
  EXPECT_EQ(::recv(a.fd(), got, sizeof got, MSG_DONTWAIT), 10);
  EXPECT_EQ(std::string(got, 10), "still here");
}

// A send the peer does not drain stays in the kernel; cancelling its
// coroutine (no deadline: the completion would schedule the coroutine's
// step directly) must take the send's final completion before the stack
// with the buffer goes, so no operation is left in flight.
TEST_F(IoUringLoopTest, ACancelledWriteIsFinishedBeforeItsCoroutineUnwinds) {
  auto [a, b] = socket_pair();
  auto writer = spawn([&a] {
    std::vector<char> bytes(8 * 1024 * 1024, 'w');
    a.write_all(bytes.data(), bytes.size());
  });
  run_loop_for(20ms);  // the send is in the kernel, waiting for room
  EXPECT_TRUE(this_loop().can_wake());
  writer.cancel();
  EXPECT_THROW(writer.get(), Cancelled);
  EXPECT_FALSE(this_loop().can_wake());
  b.write_all("after");
  char got[8] = {};
  EXPECT_EQ(a.read_some(got, sizeof got), 5U);
}

TEST_F(IoUringLoopTest, ATimedOutReadIsFinishedBeforeItReturns) {
  auto [a, b] = socket_pair();
  std::error_code error;
  char byte = 0;
  EXPECT_EQ(a.read_some(&byte, 1, error, deadline_after(20ms)), 0U);
  EXPECT_EQ(error, std::errc::timed_out);
  b.write_all("x");
  EXPECT_EQ(::recv(a.fd(), &byte, 1, MSG_DONTWAIT), 1);
  EXPECT_EQ(byte, 'x');
}

// The socket is closed while its read is in flight, and its number goes to
// a new socket whose peer then writes: the read ends with ECANCELED and
// the new socket keeps its bytes.
TEST_F(IoUringLoopTest, AReadOnASocketClosedMeanwhileEndsCancelledNotOnTheNextFile) {
  auto [a, b] = socket_pair();
  const int number = a.fd();
  auto reader = spawn([&a] {
    char buffer[8];
    std::error_code error;
    a.read_some(buffer, sizeof buffer, error);
    return error;
  });
  run_loop_for(20ms);
  a.close();
  auto [c, d] = socket_pair();
  ASSERT_TRUE(c.fd() == number || d.fd() == number) << "the number was not reused";
  Socket& reused = c.fd() == number ? c : d;
  Socket& peer = c.fd() == number ? d : c;
  peer.write_all("new");
  EXPECT_EQ(reader.get(), std::errc::operation_canceled);
  char got[4] = {};
  EXPECT_EQ(::recv(reused.fd(), got, sizeof got, MSG_DONTWAIT), 3);
}

// A ring of 2 entries has a CQ of 4: 32 waits that end in one pass
// overflow it, and every one of them must still end.
// A socket's first read arms its multishot receive: `a` reads one byte
// `b` sends, and the receive stays armed.
void start_receiving(Socket& a, Socket& b) {
  b.write_all("<");
  char first = 0;
  ASSERT_EQ(a.read_some(&first, 1), 1U);
  ASSERT_EQ(first, '<');
}

// Whether the kernel still holds unread bytes for `socket` (the loop's
// multishot receive did not take them).
bool kernel_holds_bytes(const Socket& socket) {
  char byte = 0;
  return ::recv(socket.fd(), &byte, 1, MSG_PEEK | MSG_DONTWAIT) > 0;
}

TEST_F(IoUringLoopTest, BytesThatArriveWhileNoReadWaitsReachTheNextReadInOrder) {
  auto [a, b] = socket_pair();
  start_receiving(a, b);
  b.write_all("abc");
  b.write_all("def");
  run_loop_for(20ms);
  EXPECT_FALSE(kernel_holds_bytes(a)) << "the multishot receive should have queued them";
  char got[6] = {};
  a.read_exactly(got, 2);
  a.read_exactly(got + 2, 4);
  EXPECT_EQ(std::string(got, 6), "abcdef");
}

TEST_F(IoUringLoopTest, BytesThatArriveAfterATimedOutReadReachTheNextRead) {
  auto [a, b] = socket_pair();
  start_receiving(a, b);
  b.write_all("12");
  char byte = 0;
  ASSERT_EQ(a.read_some(&byte, 1), 1U);  // "2" stays queued
  EXPECT_EQ(byte, '1');
  ASSERT_EQ(a.read_some(&byte, 1), 1U);
  EXPECT_EQ(byte, '2');
  std::error_code error;
  EXPECT_EQ(a.read_some(&byte, 1, error, deadline_after(20ms)), 0U);
  EXPECT_EQ(error, std::errc::timed_out);
  b.write_all("later");
  char got[5] = {};
  a.read_exactly(got, sizeof got);
  EXPECT_EQ(std::string(got, 5), "later");
}

TEST_F(IoUringLoopTest, ACancelledReadLeavesTheBytesItsReceiveQueuedForTheNextRead) {
  auto [a, b] = socket_pair();
  start_receiving(a, b);
  b.write_all("kept");
  run_loop_for(20ms);  // queued, no read waits
  char got[4] = {};
  a.read_exactly(got, 1);
  auto reader = spawn([&a] {
    std::array<char, 64> buffer{};
    std::error_code error;
    // Takes the queued "ept" at once; the second read waits and is cancelled.
    EXPECT_EQ(a.read_some(buffer.data(), buffer.size(), error), 3U);
    return a.read_some(buffer.data(), buffer.size());
  });
  run_loop_for(20ms);
  reader.cancel();
  EXPECT_THROW(reader.get(), Cancelled);
  b.write_all("more");
  a.read_exactly(got, sizeof got);
  EXPECT_EQ(std::string(got, 4), "more");
}

// More sockets with unread bytes than the loop has receive buffers: the
// receives that found the ring empty (-ENOBUFS) are armed again, or fall
// back to a receive into the reader's buffer, and no byte is lost or
// reordered.
TEST_F(IoUringLoopTest, SocketsBeyondTheBufferRingGetEveryByteInOrder) {
  constexpr std::size_t kSockets = loop::ReceiveStreams::kBufferCount + 40;
  std::vector<std::pair<Socket, Socket>> pairs;
  for (std::size_t i = 0; i < kSockets; ++i) {
    pairs.push_back(socket_pair());
    start_receiving(pairs.back().first, pairs.back().second);
  }
  for (int round = 0; round < 2; ++round) {
    for (std::size_t i = 0; i < kSockets; ++i) {
      pairs[i].second.write_all("#" + std::to_string(round * 1000 + static_cast<int>(i)) + ";");
      pairs[i].second.write_all("tail");
    }
    run_loop_for(20ms);
    for (std::size_t i = 0; i < kSockets; ++i) {
      const std::string expected =
          "#" + std::to_string(round * 1000 + static_cast<int>(i)) + ";tail";
      std::string got(expected.size(), '\0');
      pairs[i].first.read_exactly(got.data(), got.size());
      EXPECT_EQ(got, expected) << "socket " << i << " round " << round;
    }
  }
}

// Sockets closed with bytes queued give their buffers back: after closing
// more than the ring holds, a new socket's receive still finds buffers.
TEST_F(IoUringLoopTest, ClosingASocketWithQueuedBytesGivesItsBuffersBack) {
  for (int round = 0; round < 3; ++round) {
    std::vector<std::pair<Socket, Socket>> pairs;
    for (std::size_t i = 0; i < loop::ReceiveStreams::kBufferCount; ++i) {
      pairs.push_back(socket_pair());
      start_receiving(pairs.back().first, pairs.back().second);
      pairs.back().second.write_all("unread");
    }
    run_loop_for(20ms);
    for (auto& pair : pairs) {
      EXPECT_FALSE(kernel_holds_bytes(pair.first)) << "round " << round;
      pair.first.close();
    }
  }
  auto [a, b] = socket_pair();
  start_receiving(a, b);
  b.write_all("fresh");
  run_loop_for(20ms);
  EXPECT_FALSE(kernel_holds_bytes(a)) << "the ring's buffers were not given back";
  char got[5] = {};
  a.read_exactly(got, sizeof got);
  EXPECT_EQ(std::string(got, 5), "fresh");
}

// release() ends the multishot receive: a socket that later takes the
// number reads its own bytes, not those queued for the released one.
TEST_F(IoUringLoopTest, ReleaseEndsTheReceiveSoTheNumbersNextSocketGetsOnlyItsBytes) {
  auto [a, b] = socket_pair();
  start_receiving(a, b);
  b.write_all("old");
  run_loop_for(20ms);
  const int number = a.release();
  ::close(number);
  auto [c, d] = socket_pair();
  ASSERT_TRUE(c.fd() == number || d.fd() == number) << "the number was not reused";
  Socket& reused = c.fd() == number ? c : d;
  Socket& peer = c.fd() == number ? d : c;
  peer.write_all("new");
  char got[3] = {};
  reused.read_exactly(got, sizeof got);
  EXPECT_EQ(std::string(got, 3), "new");
}

TEST(IoUringOverflow, CompletionsBeyondTheCqRingAreNotLost) {
  if (!io_uring_unavailable_reason().empty()) GTEST_SKIP() << io_uring_unavailable_reason();
  loop::IoUringLoop ring_loop(2);
  set_this_loop(&ring_loop);
  {
    std::vector<std::pair<Socket, Socket>> pairs;
    std::vector<Request<std::size_t>> readers;
    for (int i = 0; i < 32; ++i) pairs.push_back(socket_pair());
    for (auto& [a, b] : pairs) {
      readers.push_back(spawn([&a = a] {
        char byte = 0;
        return a.read_some(&byte, 1);
      }));
    }
    run_loop_for(20ms);
    for (auto& [a, b] : pairs) b.write_all("y");
    for (auto& reader : readers) EXPECT_EQ(reader.get(), 1U);
  }
  set_this_loop(nullptr);
}

// The child inherits the loop and a read in flight. Its close of that
// socket and its teardown of the loop must not touch the ring (the
// parent's: its SQ is shared memory no more, MADV_DONTFORK, and a
// submission from the child would be the parent's to run), and running the
// loop there is refused.
TEST_F(IoUringLoopTest, AForkedChildLeavesTheParentsRingAlone) {
  auto [a, b] = socket_pair();
  auto reader = spawn([&a] {
    char buffer[8];
    return std::string(buffer, a.read_some(buffer, sizeof buffer));
  });
  run_loop_for(20ms);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    int status = 0;
    try {
      loop_->run_once(deadline_after(1ms));
      status = 1;
    } catch (const UsageError&) {
    }
    a.close();
    loop_.reset();  // cancels the reader, whose read is the parent's
    _exit(status);
  }
  int status = -1;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child status " << status;
  b.write_all("parent");
  EXPECT_EQ(reader.get(), "parent");
}

}  // namespace
}  // namespace cosync
