// An installed cosync's C++ API on the built-in loop and on a tevent loop.
#include <cosync/cosync.hpp>
#include <cosync/loop_tevent.hpp>
#include <cstdio>
#include <cstring>
#include <memory>

extern "C" {
#include <talloc.h>
#include <tevent.h>
}

int main() {
  using namespace std::chrono_literals;
  if (cosync::version() != COSYNC_VERSION_STRING) {
    std::printf("library %s, headers %s\n", cosync::version().data(), COSYNC_VERSION_STRING);
    return 1;
  }
  const int on_builtin = cosync::spawn([] {
                           cosync::sleep_for(1ms);
                           return 20;
                         }).get();

  tevent_context* ev = tevent_context_init(nullptr);
  std::unique_ptr<cosync::Loop> loop = cosync::make_tevent_loop(ev);
  cosync::set_this_loop(loop.get());
  auto request = cosync::spawn([] {
    cosync::sleep_for(1ms);
    return 22;
  });
  while (!request.done()) {
    tevent_loop_once(ev);
  }
  const int on_tevent = request.get();
  cosync::set_this_loop(nullptr);
  loop.reset();
  talloc_free(ev);

  std::printf("cxx consumer (cosync %s): %d\n", cosync::version().data(), on_builtin + on_tevent);
  return on_builtin + on_tevent == 42 ? 0 : 1;
}
