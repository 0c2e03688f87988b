// An application that owns its libuv loop and keeps driving it, with
// sync-style coroutines inside: a raw uv_timer ticks beside a coroutine
// that sleeps, asks another thread for work (a Completer), and stops the
// application's uv_run when it is done.
#include <uv.h>

#include <cosync/cosync.hpp>
#include <cosync/loop_libuv.hpp>
#include <cstdio>
#include <thread>

namespace {

using namespace std::chrono_literals;

// Sync-style: runs `work` on a helper thread and waits for its result. The
// helper completes the request through a Completer, the one thread-safe
// way in: a Request handle itself must stay on the loop's thread.
int on_helper_thread(int (*work)(int), int argument) {
  cosync::Request<int> result;
  std::thread helper([completer = result.completer(), work, argument]() mutable {
    completer.set_value(work(argument));
  });
  const int value = result.get();
  helper.join();
  return value;
}

}  // namespace

int main() {
  uv_loop_t uv;
  uv_loop_init(&uv);
  std::unique_ptr<cosync::Loop> loop = cosync::make_libuv_loop(&uv);
  cosync::set_this_loop(loop.get());

  uv_timer_t ticker;
  uv_timer_init(&uv, &ticker);
  uv_timer_start(
      &ticker, [](uv_timer_t*) { std::printf("uv timer: tick\n"); }, 1, 2);

  auto job = cosync::spawn([&] {
    cosync::sleep_for(5ms);
    const int squared = on_helper_thread([](int x) { return x * x; }, 12);
    std::printf("coroutine: 12 squared on a helper thread is %d\n", squared);
    uv_timer_stop(&ticker);
    uv_stop(&uv);  // the application's loop may end
  });

  uv_run(&uv, UV_RUN_DEFAULT);  // the application's own loop
  job.get();

  uv_close(reinterpret_cast<uv_handle_t*>(&ticker), nullptr);
  loop.reset();
  uv_run(&uv, UV_RUN_NOWAIT);  // the close callbacks
  return uv_loop_close(&uv) == 0 ? 0 : 1;
}
