// Sockets written like blocking code. Every case runs on every loop backend
// (the built-in epoll loop and each foreign-loop adapter), twice: the code
// under test on the main stack (the calls run the loop themselves, R4) and
// inside a coroutine; peers that must run concurrently are spawned
// coroutines.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <tuple>
#include <vector>

#include "backend_fixture.hpp"
#include "cosync/cosync.hpp"
#include "test_util.hpp"

namespace cosync {
namespace {

using namespace std::chrono_literals;

enum class Context { main_stack, coroutine };
using test::Backend;

class SocketTest : public ::testing::TestWithParam<std::tuple<Context, Backend>> {
 protected:
  Context context() const { return std::get<0>(GetParam()); }
  Backend backend() const { return std::get<1>(GetParam()); }

  // Runs `body` in the context under test and returns its result.
  template <class F>
  auto run(F body) {
    if (context() == Context::main_stack) {
      return body();
    }
    return spawn(std::move(body)).get();
  }

  test::BackendHarness harness_{backend()};

  // A listener on an ephemeral loopback port (or a fresh Unix path).
  static Socket listen_on(int family) {
    switch (family) {
      case AF_INET6:
        return Socket::listen(Address::parse("[::1]:0"));
      case AF_UNIX: {
        const std::string path = "/tmp/cosync-socket-test-" + std::to_string(getpid()) + ".sock";
        unlink(path.c_str());
        return Socket::listen(Address::parse("unix:" + path));
      }
      default:
        return Socket::listen(Address::parse("127.0.0.1:0"));
    }
  }

  // Accepts one connection and echoes it until end of stream.
  static Request<std::size_t> echo_once(Socket& listener) {
    return spawn([&listener] {
      Socket connection = listener.accept(deadline_after(10s));
      char buffer[4096];
      std::size_t total = 0;
      while (const std::size_t got = connection.read_some(buffer, sizeof buffer)) {
        connection.write_all(buffer, got);
        total += got;
      }
      return total;
    });
  }

  void expect_echo(int family) {
    Socket listener = listen_on(family);
    auto server = echo_once(listener);
    const Address target = listener.local_address();
    const std::string reply = run([&target] {
      Socket client = Socket::connect(target, deadline_after(10s));
      client.write_all("ping over a socket");
      std::string got(18, '\0');
      client.read_exactly(got.data(), got.size());
      client.shutdown();
      char extra = 0;
      EXPECT_EQ(client.read_some(&extra, 1), 0U) << "end of stream after shutdown";
      return got;
    });
    EXPECT_EQ(reply, "ping over a socket");
    EXPECT_EQ(server.get(), 18U);
  }

  // A writer fills both socket buffers and blocks, and the peer, which
  // reads nothing, resets the connection; when `unread_bytes_first`, the
  // peer first sends bytes the writer never reads. The write must end with
  // the reset's error; its deadline makes a missed reset fail the test
  // (timed out) rather than hang it.
  void expect_blocked_writer_ends_on_reset(bool unread_bytes_first) {
    Socket listener = listen_on(AF_INET);
    const Address target = listener.local_address();
    auto resetter = spawn([&listener, unread_bytes_first] {
      Socket connection = listener.accept(deadline_after(10s));
      if (unread_bytes_first) connection.write_all("unread");
      const linger abort_on_close{1, 0};  // close sends RST instead of FIN
      setsockopt(connection.fd(), SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close);
      sleep_for(100ms);  // the writer fills both buffers and blocks meanwhile
    });
    const std::vector<char> big(64 << 20, 'w');
    std::error_code error;
    const std::size_t written = run([&] {
      Socket client = Socket::connect(target, deadline_after(10s));
      client.set_send_buffer(4096);
      return client.write_all(big.data(), big.size(), error, deadline_after(10s));
    });
    EXPECT_TRUE(error == std::errc::connection_reset || error == std::errc::broken_pipe)
        << error.message();
    EXPECT_LT(written, big.size());
    resetter.get();
  }
};

// A connected pair of stream sockets.
std::pair<Socket, Socket> socket_pair() {
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0)
    throw std::system_error(errno, std::generic_category());
  return {Socket(fds[0]), Socket(fds[1])};
}

TEST_P(SocketTest, EchoOverTcpIpv4) { expect_echo(AF_INET); }
TEST_P(SocketTest, EchoOverTcpIpv6) { expect_echo(AF_INET6); }
TEST_P(SocketTest, EchoOverUnixDomain) { expect_echo(AF_UNIX); }

TEST_P(SocketTest, AddressesOfBothEnds) {
  Socket listener = listen_on(AF_INET);
  const Address target = listener.local_address();
  EXPECT_NE(target.port(), 0);
  auto accepted = spawn([&listener] { return listener.accept().peer_address().to_string(); });
  const std::string client_local = run([&target] {
    Socket client = Socket::connect(target);
    EXPECT_EQ(client.peer_address().to_string(), target.to_string());
    return client.local_address().to_string();
  });
  EXPECT_EQ(accepted.get(), client_local);
}

TEST_P(SocketTest, AcceptTimesOut) {
  Socket listener = listen_on(AF_INET);
  const std::error_code error = run([&listener] {
    std::error_code code;
    Socket nobody = listener.accept(code, deadline_after(20ms));
    EXPECT_FALSE(nobody.is_open());
    return code;
  });
  EXPECT_EQ(error, std::errc::timed_out);
}

TEST_P(SocketTest, ConnectTimesOutWhenTheBacklogIsFull) {
  // A listener that never accepts: once its queue is full the kernel drops
  // further SYNs, so a connect stays in progress until its deadline.
  Socket listener = Socket::listen(Address::parse("127.0.0.1:0"), ListenOptions{.backlog = 0});
  const Address target = listener.local_address();
  const bool timed_out = run([&target] {
    std::vector<Socket> queued;
    for (int i = 0; i < 16; ++i) {
      std::error_code error;
      Socket client = Socket::connect(target, error, deadline_after(100ms));
      if (error == std::errc::timed_out) {
        return true;
      }
      EXPECT_FALSE(error) << error.message();
      queued.push_back(std::move(client));
    }
    return false;
  });
  EXPECT_TRUE(timed_out);
}

TEST_P(SocketTest, ConnectRefusedNamesThePeer) {
  Address target;
  {
    Socket closed = listen_on(AF_INET);
    target = closed.local_address();
  }
  try {
    run([&target] { return Socket::connect(target).fd(); });
    FAIL() << "connected to a closed port";
  } catch (const std::system_error& error) {
    EXPECT_EQ(error.code(), std::errc::connection_refused);
    EXPECT_NE(std::string(error.what()).find("connect to " + target.to_string()), std::string::npos)
        << error.what();
  }
}

// A refused first address is skipped: the second one connects.
TEST_P(SocketTest, ConnectToSeveralAddressesTakesTheFirstThatAnswers) {
  Address closed_port;
  {
    Socket closed = listen_on(AF_INET);
    closed_port = closed.local_address();
  }
  Socket listener = listen_on(AF_INET);
  const std::vector<Address> candidates = {closed_port, listener.local_address()};
  auto accepted = spawn([&listener] { return listener.accept(deadline_after(10s)).is_open(); });
  const Address peer = run(
      [&candidates] { return Socket::connect(candidates, deadline_after(10s)).peer_address(); });
  EXPECT_EQ(peer.to_string(), listener.local_address().to_string());
  EXPECT_TRUE(accepted.get(deadline_after(10s)));
}

TEST_P(SocketTest, ConnectToSeveralAddressesNamesEveryOneTried) {
  std::vector<Address> candidates;
  for (int i = 0; i < 2; ++i) {
    Socket closed = listen_on(AF_INET);
    candidates.push_back(closed.local_address());
  }
  try {
    run([&candidates] { return Socket::connect(candidates).fd(); });
    FAIL() << "connected to closed ports";
  } catch (const std::system_error& error) {
    EXPECT_EQ(error.code(), std::errc::connection_refused);
    const std::string what = error.what();
    EXPECT_NE(what.find(candidates[0].to_string() + ", " + candidates[1].to_string()),
              std::string::npos)
        << what;
  }
  std::error_code error;
  EXPECT_FALSE(run([&error] { return Socket::connect(std::vector<Address>{}, error).is_open(); }));
  EXPECT_EQ(error, std::errc::invalid_argument);
}

// By name: every address "localhost" has is tried (::1 and 127.0.0.1 on
// many machines, in either order); the listener is on 127.0.0.1 only.
TEST_P(SocketTest, ConnectByNameReachesAListenerOnAnyOfItsAddresses) {
  Socket listener = listen_on(AF_INET);
  const std::string text = "localhost:" + std::to_string(listener.local_address().port());
  auto accepted = spawn([&listener] { return listener.accept(deadline_after(10s)).is_open(); });
  EXPECT_TRUE(run([&text] { return Socket::connect(text, deadline_after(10s)).is_open(); }));
  EXPECT_TRUE(accepted.get(deadline_after(10s)));
  std::error_code error;
  EXPECT_FALSE(run([&error] {
    return Socket::connect("no-such-host.invalid:80", error, deadline_after(10s)).is_open();
  }));
  EXPECT_TRUE(error);
}

TEST_P(SocketTest, ReadTimesOutWithTheOperationInTheMessage) {
  auto [a, b] = socket_pair();
  try {
    run([&a] {
      char byte = 0;
      return a.read_some(&byte, 1, deadline_after(20ms));
    });
    FAIL() << "a read with nothing to read returned";
  } catch (const TimedOut& error) {
    EXPECT_EQ(error.code(), std::errc::timed_out);
    EXPECT_NE(std::string(error.what()).find("read from"), std::string::npos) << error.what();
  }
}

TEST_P(SocketTest, WriteTimesOutWhenThePeerDoesNotRead) {
  auto [a, b] = socket_pair();
  a.set_send_buffer(4096);
  const std::vector<char> big(8 << 20, 'w');
  std::error_code error;
  const std::size_t written =
      run([&] { return a.write_all(big.data(), big.size(), error, deadline_after(50ms)); });
  EXPECT_EQ(error, std::errc::timed_out);
  EXPECT_GT(written, 0U);
  EXPECT_LT(written, big.size());
}

TEST_P(SocketTest, EndOfStreamInReadExactlyIsAnError) {
  auto [a, b] = socket_pair();
  b.write_all("0123456789");
  b.shutdown();
  try {
    run([&a] {
      char buffer[64];
      a.read_exactly(buffer, sizeof buffer);
      return 0;
    });
    FAIL() << "read_exactly returned a half result";
  } catch (const std::system_error& error) {
    EXPECT_EQ(error.code(), IoErrc::end_of_stream);
    EXPECT_NE(std::string(error.what()).find("after 10 of 64 bytes"), std::string::npos)
        << error.what();
  }
}

TEST_P(SocketTest, EndOfStreamInReadExactlyAsAnErrorCode) {
  auto [a, b] = socket_pair();
  b.write_all("0123456789");
  b.close();
  std::error_code error;
  const std::size_t got = run([&] {
    char buffer[64];
    return a.read_exactly(buffer, sizeof buffer, error);
  });
  EXPECT_EQ(got, 10U);
  EXPECT_EQ(error, IoErrc::end_of_stream);
}

TEST_P(SocketTest, PeerResetIsAnErrorNamingThePeer) {
  Socket listener = listen_on(AF_INET);
  const Address target = listener.local_address();
  auto resetter = spawn([&listener] {
    Socket connection = listener.accept();
    const linger abort_on_close{1, 0};  // close sends RST instead of FIN
    setsockopt(connection.fd(), SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close);
    char byte = 0;
    connection.read_exactly(&byte, 1);
  });
  try {
    run([&target] {
      Socket client = Socket::connect(target);
      client.write_all("x");
      char buffer[16];
      return client.read_some(buffer, sizeof buffer, deadline_after(10s));
    });
    FAIL() << "a reset connection read normally";
  } catch (const std::system_error& error) {
    EXPECT_EQ(error.code(), std::errc::connection_reset);
    EXPECT_NE(std::string(error.what()).find(target.to_string()), std::string::npos)
        << error.what();
  }
  resetter.get();
}

// A writer blocked on a full buffer learns of the peer's reset though
// nobody reads its socket. tevent before TEVENT_FD_ERROR reports errors to
// readers only, so its adapter watches for them on a lone writer's behalf.
TEST_P(SocketTest, AWriterBlockedByAPeerThatResetsEndsWithAnError) {
  expect_blocked_writer_ends_on_reset(false);
}

// The other half of the above: bytes nobody reads yet, beside a blocked
// writer, are no error, and must not make the loop spin while it waits.
// Only the polls made while the drainer sleeps count: the writer stays
// blocked all that time, so a loop that waits polls a few times however
// slow the machine (valgrind, sanitizers), and one that spins polls on
// every pass for the whole 100 ms.
TEST_P(SocketTest, AWriterBlockedBesideUnreadBytesWaitsWithoutSpinning) {
  auto [a, b] = socket_pair();
  a.set_send_buffer(4096);
  b.write_all("unread");
  const std::vector<char> big(256 << 10, 'w');
  std::size_t polls_asleep = 0;
  auto drainer = spawn([&b, &big, &polls_asleep] {
    const std::size_t before = this_loop().stats().polls;
    sleep_for(100ms);
    polls_asleep = this_loop().stats().polls - before;
    std::vector<char> sink(big.size());
    b.read_exactly(sink.data(), sink.size());
  });
  run([&] {
    a.write_all(big.data(), big.size());
    return 0;
  });
  drainer.get();
  EXPECT_LT(polls_asleep, 50U);
  char got[8] = {};
  EXPECT_EQ(a.read_some(got, sizeof got), 6U) << "the bytes are still there";
}

// Both of the above at once: the unread bytes come first, so by the time
// the peer resets, tevent's adapter no longer asks for READ on the writer's
// behalf (its error watch must catch the reset).
TEST_P(SocketTest, AWriterBlockedBesideUnreadBytesEndsWithAnErrorWhenThePeerResets) {
  expect_blocked_writer_ends_on_reset(true);
}

TEST_P(SocketTest, SmallReadsKeepWhatTheyReadAhead) {
  auto [a, b] = socket_pair();
  b.write_all("abcdefgh");
  b.shutdown();
  const std::string got = run([&a] {
    std::string text(3, '\0');
    a.read_exactly(text.data(), 3);
    char rest[100];
    const std::size_t more = a.read_some(rest, sizeof rest);
    text.append(rest, more);
    EXPECT_EQ(a.read_some(rest, sizeof rest), 0U) << "end of stream after the read-ahead";
    return text;
  });
  EXPECT_EQ(got, "abcdefgh");
}

TEST_P(SocketTest, ReadAheadMovesWithTheSocket) {
  auto [a, b] = socket_pair();
  b.write_all("0123456789");
  const std::string got = run([&a] {
    char first = 0;
    a.read_exactly(&first, 1);
    Socket moved = std::move(a);
    std::string rest(9, '\0');
    moved.read_exactly(rest.data(), rest.size());
    return first + rest;
  });
  EXPECT_EQ(got, "0123456789");
}

TEST_P(SocketTest, SixtyFourMiBThroughASmallSocketBuffer) {
  auto [a, b] = socket_pair();
  a.set_send_buffer(4096);
  b.set_receive_buffer(4096);
  const std::size_t size = 64U << 20;
  auto reader = spawn([&b, size] {
    std::vector<unsigned char> buffer(3000);  // odd size: reads straddle writes
    std::size_t total = 0;
    std::uint64_t mismatches = 0;
    while (const std::size_t got = b.read_some(buffer.data(), buffer.size())) {
      for (std::size_t i = 0; i < got; ++i) {
        mismatches += buffer[i] != static_cast<unsigned char>((total + i) % 251);
      }
      total += got;
    }
    EXPECT_EQ(mismatches, 0U);
    return total;
  });
  run([&a, size] {
    std::vector<unsigned char> data(size);
    for (std::size_t i = 0; i < size; ++i) data[i] = static_cast<unsigned char>(i % 251);
    a.write_all(data.data(), data.size());
    a.shutdown();
    return 0;
  });
  EXPECT_EQ(reader.get(), size);
}

TEST_P(SocketTest, ClosingASocketEndsAnotherCoroutinesWait) {
  auto [a, b] = socket_pair();
  auto waiting = spawn([&a] {
    char byte = 0;
    std::error_code error;
    // Far beyond any test timeout: its timer must not be what ends the wait.
    a.read_some(&byte, 1, error, deadline_after(24h));
    return error;
  });
  run([&a] {
    sleep_for(5ms);  // let the reader start waiting
    a.close();
    return 0;
  });
  // No deadline of its own: a timer would flush a lost wake-up, which then
  // hangs here until the test's timeout instead.
  EXPECT_EQ(waiting.get(), std::errc::operation_canceled);
}

// The short wait (no deadline) of a spawned coroutine: the close schedules
// the reader, which must not run inside close() on the closer's stack.
TEST_P(SocketTest, ClosingASocketEndsAWaitWithoutDeadlineAfterTheCloserMovesOn) {
  auto [a, b] = socket_pair();
  bool close_returned = false;
  auto waiting = spawn([&a, &close_returned] {
    char byte = 0;
    std::error_code error;
    a.read_some(&byte, 1, error);
    return std::make_pair(error, close_returned);
  });
  run([&a, &close_returned] {
    sleep_for(5ms);  // let the reader start waiting
    a.close();
    close_returned = true;
    return 0;
  });
  const auto [error, reader_saw_close_return] = waiting.get();  // no timer: see above
  EXPECT_EQ(error, std::errc::operation_canceled);
  EXPECT_TRUE(reader_saw_close_return) << "the reader ran inside close()";
}

// The wait of `reader` has fired (its fd is readable), but before it
// resumes a timer callback closes the socket and a new socket takes the
// same fd number: the read must not take the newcomer's bytes.
TEST_P(SocketTest, AReadWhoseSocketWasReplacedDuringTheWaitIsCancelled) {
  if (context() == Context::main_stack) GTEST_SKIP() << "the reader must be a coroutine";
  if (backend() == Backend::io_uring) {
    GTEST_SKIP() << "on io_uring the read completes in the kernel, with the peer's bytes, "
                    "before the timer closes the socket (io_uring_loop_test closes it "
                    "while the read is in flight)";
  }
  if (backend() != Backend::epoll) {
    GTEST_SKIP() << "needs the built-in loop's order: timers run after fd events, before "
                    "the immediates that resume the woken";
  }
  auto [x, x_peer] = socket_pair();
  const int number = x.fd();
  auto reader = spawn([&x] {
    char buffer[64];
    std::error_code error;
    const std::size_t got = x.read_some(buffer, sizeof buffer, error);
    return std::make_pair(std::string(buffer, got), error);
  });
  this_loop().run_once(deadline_after(1ms));  // the reader starts waiting
  std::pair<Socket, Socket> intruder;
  struct Swap {
    Timer timer;
    Socket* x;
    std::pair<Socket, Socket>* intruder;
  } swap{Timer{}, &x, &intruder};
  swap.timer.data = &swap;
  swap.timer.due = Clock::now();
  swap.timer.fn = [](Timer* timer) {
    auto* self = static_cast<Swap*>(timer->data);
    self->x->close();
    *self->intruder = socket_pair();
    self->intruder->second.write_all("intruder");
  };
  x_peer.write_all("mine");
  this_loop().add_timer(swap.timer);
  const auto [got, error] = reader.get();
  ASSERT_EQ(intruder.first.fd(), number) << "the test needs the fd number reused";
  EXPECT_EQ(error, std::errc::operation_canceled);
  EXPECT_EQ(got, "");
}

TEST_P(SocketTest, AStreamThatIsAlwaysReadyDoesNotStarveOthers) {
  auto [a, b] = socket_pair();
  const std::string data(32 * 1024, 'z');
  b.write_all(data);
  bool other_ran = false;
  auto other = spawn([&other_ran] { other_ran = true; });
  const std::size_t reads_before_other = run([&a, &other_ran, size = data.size()] {
    std::size_t reads = 0;
    std::size_t seen_at = 0;
    char byte = 0;
    for (std::size_t total = 0; total < size; total += a.read_some(&byte, 1)) {
      ++reads;
      if (other_ran && seen_at == 0) seen_at = reads;
    }
    return seen_at;
  });
  other.get();
  EXPECT_GT(reads_before_other, 0U) << "the other coroutine never ran while the stream was read";
  EXPECT_LT(reads_before_other, 1000U);
}

TEST_P(SocketTest, AUnixConnectToAFullBacklogWaitsUntilItsDeadline) {
  const std::string path = "/tmp/cosync-backlog-" + std::to_string(getpid()) + ".sock";
  unlink(path.c_str());
  Socket listener = Socket::listen(Address::parse("unix:" + path), ListenOptions{.backlog = 0});
  const std::error_code last = run([&listener] {
    std::vector<Socket> queued;
    std::error_code error;
    for (int i = 0; i < 16 && !error; ++i) {
      Socket client = Socket::connect(listener.local_address(), error, deadline_after(30ms));
      if (!error) queued.push_back(std::move(client));
    }
    return error;
  });
  unlink(path.c_str());
  EXPECT_EQ(last, std::errc::timed_out) << last.message();
}

TEST_P(SocketTest, NodelayIsANoOpOnUnixDomainSockets) {
  auto [a, b] = socket_pair();
  EXPECT_NO_THROW(a.set_nodelay(true));
}

TEST_P(SocketTest, AClosedSocketRefusesWithEbadf) {
  Socket socket;
  try {
    run([&socket] {
      char byte = 0;
      return socket.read_some(&byte, 1);
    });
    FAIL() << "read from a socket that was never opened";
  } catch (const std::system_error& error) {
    EXPECT_EQ(error.code().value(), EBADF);
    EXPECT_NE(std::string(error.what()).find("closed socket"), std::string::npos);
  }
}

TEST_P(SocketTest, ABusyPortIsAnErrorNamingTheAddress) {
  Socket first = listen_on(AF_INET);
  const Address taken = first.local_address();
  try {
    run([&taken] { return Socket::listen(taken).fd(); });
    FAIL() << "two listeners on one port";
  } catch (const std::system_error& error) {
    EXPECT_EQ(error.code(), std::errc::address_in_use);
    EXPECT_NE(std::string(error.what()).find(taken.to_string()), std::string::npos);
  }
}

TEST_P(SocketTest, ReusePortLetsTwoListenersShareAPort) {
  Socket first = Socket::listen(Address::parse("127.0.0.1:0"), {.reuse_port = true});
  const Address shared = first.local_address();
  Socket second = Socket::listen(shared, {.reuse_port = true});
  EXPECT_EQ(second.local_address().port(), shared.port());
}

TEST_P(SocketTest, OptionsReachTheKernel) {
  Socket listener = listen_on(AF_INET);
  auto server = spawn([&listener] { return listener.accept(); });
  Socket client = run([&listener] { return Socket::connect(listener.local_address()); });
  server.get();
  auto read_option = [&client](int level, int option) {
    int value = 0;
    socklen_t size = sizeof value;
    getsockopt(client.fd(), level, option, &value, &size);
    return value;
  };
  client.set_nodelay(true);
  client.set_keepalive(true);
  EXPECT_NE(read_option(IPPROTO_TCP, TCP_NODELAY), 0);
  EXPECT_NE(read_option(SOL_SOCKET, SO_KEEPALIVE), 0);
  client.set_nodelay(false);
  EXPECT_EQ(read_option(IPPROTO_TCP, TCP_NODELAY), 0);
}

TEST_P(SocketTest, ManyConcurrentConnections) {
  Socket listener = listen_on(AF_INET);
  const std::size_t count = test::scaled(500);
  auto server = spawn([&listener, count] {
    TaskGroup group;
    for (std::size_t i = 0; i < count; ++i) {
      group.spawn([connection = listener.accept()]() mutable {
        std::uint32_t value = 0;
        connection.read_exactly(&value, sizeof value);
        value *= 3;
        connection.write_all(&value, sizeof value);
      });
    }
    group.join();
  });
  const Address target = listener.local_address();
  const std::size_t correct = run([&target, count] {
    std::vector<Request<bool>> clients;
    for (std::size_t i = 0; i < count; ++i) {
      clients.push_back(spawn(Options{.stack_size = 32 * 1024}, [&target, i] {
        Socket client = Socket::connect(target);
        auto value = static_cast<std::uint32_t>(i);
        client.write_all(&value, sizeof value);
        client.read_exactly(&value, sizeof value);
        return value == i * 3;
      }));
    }
    std::size_t ok = 0;
    for (auto& client : clients) ok += client.get() ? 1 : 0;
    return ok;
  });
  EXPECT_EQ(correct, count);
  server.get();
}

INSTANTIATE_TEST_SUITE_P(
    Backends, SocketTest,
    ::testing::Combine(::testing::Values(Context::main_stack, Context::coroutine),
                       ::testing::ValuesIn(test::built_backends())),
    [](const auto& info) {
      return std::string(std::get<0>(info.param) == Context::main_stack ? "Main" : "Coroutine") +
             "_" + test::backend_name(std::get<1>(info.param));
    });

}  // namespace
}  // namespace cosync
