// An application that owns its libevent loop and keeps driving it, with
// sync-style coroutines inside: a raw libevent timer completes a request a
// coroutine waits for, a helper thread completes another through a
// Completer, and the coroutine ends the application's dispatch.
#include <event2/event.h>

#include <cosync/cosync.hpp>
#include <cosync/loop_libevent.hpp>
#include <cstdio>
#include <thread>

int main() {
  event_base* base = event_base_new();
  std::unique_ptr<cosync::Loop> loop = cosync::make_libevent_loop(base);
  cosync::set_this_loop(loop.get());

  // Callback-shaped code completing a request: the raw timer carries it as
  // its private data, as a C library would.
  cosync::Request<int> answer;
  event* timer = evtimer_new(
      base,
      [](evutil_socket_t, short, void* data) {
        std::printf("libevent timer: answering\n");
        cosync::Request<int>::from_callback_data(data).set_value(42);
      },
      answer.to_callback_data());
  const timeval soon{0, 2000};
  evtimer_add(timer, &soon);

  auto job = cosync::spawn([&answer, base] {
    std::printf("coroutine: waiting for the answer\n");
    std::printf("coroutine: the answer is %d\n", answer.get());
    // Another thread may complete a request only through its Completer.
    cosync::Request<int> doubled;
    std::thread helper([completer = doubled.completer()]() mutable { completer.set_value(84); });
    std::printf("coroutine: a helper thread doubled it: %d\n", doubled.get());
    helper.join();
    event_base_loopbreak(base);
  });

  event_base_dispatch(base);  // the application's own loop
  job.get();

  event_free(timer);
  loop.reset();
  event_base_free(base);
}
