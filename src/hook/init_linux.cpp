// libcosync-hook's start: the self-check that its definitions are the ones
// the program's calls reach, the handshake with the program's cosync, and
// the fork handler.
#include <pthread.h>

#include <cstdio>

#include "hook/call.hpp"
#include "hook/waiting.hpp"

namespace cosync::hook {
namespace {

void in_child() noexcept { disown_inherited_loops(); }

__attribute__((constructor)) void start() noexcept {
  pthread_atfork(nullptr, nullptr, &in_child);
  const bool in_effect = read_reaches_hooks();
  if (!in_effect) {
    std::fputs(
        "cosync-hook: loaded, but NOT in effect: a definition of libc's read that does not "
        "forward to it comes first in the symbol lookup (link libcosync-hook before the "
        "libraries that define them, or load it with LD_PRELOAD); blocking calls block the "
        "thread\n",
        stderr);
  }
  if (find_bridge()) {
    bridge()->loaded(in_effect, &read_stats);
  }
}

}  // namespace
}  // namespace cosync::hook
