// The program tests/probe_test.sh traces with gdb's `break -probe-stap`:
// it drives each of cosync's USDT probes once or more, and prints on stdout
// the values the probes must carry ("fact <what> <values>"), so the script
// compares what gdb read at each probe with what the program knows.
//   probe_target           create, resume, yield, finish, cancel, a request
//                          completing and loop iterations
//   probe_target overflow  a coroutine overflowing its stack (dies of SIGSEGV)
#include <cstdint>
#include <cstdio>
#include <cstring>

#include "cosync/coroutine.hpp"
#include "cosync/request.hpp"
#include "overflow_jump.hpp"

namespace {

void print_fact(const char* what) {
  const cosync::Coroutine& self = cosync::current();
  std::printf("fact %s %llu %p\n", what, static_cast<unsigned long long>(self.id()),
              static_cast<const void*>(&self));
  std::fflush(stdout);
}

void overflow() {
  auto task = cosync::create(
      cosync::Options{.stack_size = cosync::min_stack_size, .name = "probe-deep"}, [] {
        print_fact("deep");
        return cosync::test::recurse_forever(0);
      });
  task.join();
}

void lifecycle() {
  print_fact("main");
  auto alpha = cosync::create(cosync::Options{.name = "probe-alpha"}, [] {
    print_fact("alpha");
    cosync::yield();
  });
  alpha.resume();
  alpha.resume();
  alpha.join();
  auto beta = cosync::create(cosync::Options{.name = "probe-beta"}, [] {
    print_fact("beta");
    cosync::yield();
  });
  beta.resume();
  beta.cancel();
  auto gamma = cosync::spawn(cosync::Options{.name = "probe-gamma"}, [] {
    cosync::yield_to_loop();
    return 7;
  });
  std::printf("fact request %d\n", gamma.get());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "overflow") == 0) {
    overflow();
  } else {
    lifecycle();
  }
  return 0;
}
