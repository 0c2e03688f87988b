// libcosync-hook's start: the self-check that its definitions are the ones
// the program's calls reach, the handshake with the program's cosync, and
// the fork handler.
#include <dlfcn.h>
#include <poll.h>
#include <pthread.h>
#include <sys/types.h>

#include <cstdio>

#include "hook/waiting.hpp"

// This library's own definitions (hidden aliases: taking the address of
// `read` itself would answer whichever definition comes first).
extern "C" ssize_t cosync_hook_own_read(int fd, void* buffer, size_t size);
extern "C" int cosync_hook_own_poll(struct pollfd* fds, nfds_t count, int timeout_ms);

namespace cosync::hook {
namespace {

bool interposition_in_effect() noexcept {
  return dlsym(RTLD_DEFAULT, "read") == reinterpret_cast<void*>(&cosync_hook_own_read) &&
         dlsym(RTLD_DEFAULT, "poll") == reinterpret_cast<void*>(&cosync_hook_own_poll);
}

void in_child() noexcept { disown_inherited_loops(); }

__attribute__((constructor)) void start() noexcept {
  pthread_atfork(nullptr, nullptr, &in_child);
  const bool in_effect = interposition_in_effect();
  if (!in_effect) {
    std::fputs(
        "cosync-hook: loaded, but NOT in effect: another definition of libc's read/poll "
        "comes first in the symbol lookup (link libcosync-hook before the libraries that "
        "define them, or load it with LD_PRELOAD); blocking calls block the thread\n",
        stderr);
  }
  if (find_bridge()) {
    bridge()->loaded(in_effect, &read_stats);
  }
}

}  // namespace
}  // namespace cosync::hook
