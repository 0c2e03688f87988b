// An application that owns its tevent loop and keeps driving it, with
// sync-style coroutines inside: a raw tevent timer ticks beside two
// coroutines that sleep and exchange a message over a pipe, and a helper
// thread that answers one of them through a Completer, all on the
// application's own tevent_loop_once.
#include <fcntl.h>
#include <unistd.h>

#include <cosync/cosync.hpp>
#include <cosync/loop_tevent.hpp>
#include <cstdio>
#include <thread>

extern "C" {
#include <talloc.h>
#include <tevent.h>
}

namespace {

using namespace std::chrono_literals;

// Sync-style: reads one line, waiting on the fd as a blocking read would.
std::string read_line(int fd) {
  std::string line;
  char byte = 0;
  for (;;) {
    const ssize_t n = read(fd, &byte, 1);
    if (n == 1 && byte == '\n') return line;
    if (n == 1) {
      line += byte;
    } else if (n == 0) {
      return line;
    } else {
      cosync::wait_io(fd, cosync::io_readable);
    }
  }
}

void tick(tevent_context* ev, tevent_timer*, timeval, void* data) {
  auto* ticks = static_cast<int*>(data);
  std::printf("tevent timer: tick %d\n", ++*ticks);
  if (*ticks < 3) {
    tevent_add_timer(ev, ev, tevent_timeval_current_ofs(0, 2000), tick, data);
  }
}

}  // namespace

int main() {
  tevent_context* ev = tevent_context_init(nullptr);
  std::unique_ptr<cosync::Loop> loop = cosync::make_tevent_loop(ev);
  cosync::set_this_loop(loop.get());

  int fds[2];
  if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) return 1;
  int ticks = 0;
  tevent_add_timer(ev, ev, tevent_timeval_current_ofs(0, 2000), tick, &ticks);
  auto reader = cosync::spawn([fd = fds[0]] { return read_line(fd); });
  auto writer = cosync::spawn([fd = fds[1]] {
    // The text comes from a helper thread, which hands it over through a
    // Completer: the one thread-safe way to complete a request.
    cosync::Request<std::string> text;
    std::thread helper([completer = text.completer()]() mutable {
      completer.set_value("hello from a coroutine\n");
    });
    const std::string line = text.get();
    helper.join();
    cosync::sleep_for(5ms);
    return write(fd, line.data(), line.size());
  });

  while (!reader.done() || ticks < 3) {  // the application's own loop
    tevent_loop_once(ev);
  }
  std::printf("coroutine read: \"%s\" (%zd bytes written)\n", reader.get().c_str(), writer.get());

  loop->forget_fd(fds[0]);
  loop->forget_fd(fds[1]);
  close(fds[0]);
  close(fds[1]);
  loop.reset();
  talloc_free(ev);
}
