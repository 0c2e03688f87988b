// Portable context switch over POSIX ucontext (getcontext / makecontext /
// swapcontext), for targets without an assembly back end and for bisecting
// assembly bugs (CMake option COSYNC_CONTEXT=ucontext).
//
// swapcontext also saves and restores the signal mask, which costs a system
// call per switch: this back end is for correctness, not speed. The mask
// belongs to the thread, not to a coroutine, so each jump first gives the
// target the thread's current mask; otherwise resuming a coroutine would
// bring back the mask of when it last ran (unblocking, say, a signal a loop
// had just blocked for its signalfd).
//
// A suspended context is a UcontextFrame kept on its own stack: inside
// cosync_context_jump for a context that jumped away, at the top of the stack
// for a fresh one. It lives exactly as long as the context stays suspended.
#include <signal.h>
#include <ucontext.h>

#include <cstdint>

#include "context/context.hpp"
#include "support/errors.hpp"

namespace cosync::context {
namespace {

struct UcontextFrame {
  ucontext_t uc;
  transfer_t incoming;  // written by whoever resumes this context
  EntryFn entry;        // fresh contexts only
};

// makecontext passes only int arguments, so the frame pointer travels as two
// 32-bit halves.
void trampoline(unsigned int high, unsigned int low) {
  const std::uintptr_t address =
      (static_cast<std::uintptr_t>(high) << 32U) | static_cast<std::uintptr_t>(low);
  // NOLINTNEXTLINE(performance-no-int-to-ptr): makecontext passes the pointer as two ints
  auto* frame = reinterpret_cast<UcontextFrame*>(address);
  const transfer_t last = frame->entry(frame->incoming);
  cosync_context_jump(last.from, last.data);
  support::fatal("a finished context was resumed");
}

}  // namespace

extern "C" context_t cosync_context_make(void* stack_top, std::size_t size,
                                         EntryFn entry) noexcept {
  auto top = reinterpret_cast<std::uintptr_t>(stack_top);
  const std::uintptr_t frame_address = (top - sizeof(UcontextFrame)) & ~std::uintptr_t{63};
  auto* frame =
      reinterpret_cast<UcontextFrame*>(static_cast<char*>(stack_top) - (top - frame_address));
  if (getcontext(&frame->uc) != 0) {
    support::fatal("getcontext failed");  // it cannot, on Linux, for a valid pointer
  }
  frame->uc.uc_stack.ss_sp = static_cast<char*>(stack_top) - size;
  frame->uc.uc_stack.ss_size = size - (top - frame_address);
  frame->uc.uc_link = nullptr;
  frame->entry = entry;
  makecontext(&frame->uc, reinterpret_cast<void (*)()>(&trampoline), 2,
              static_cast<unsigned int>(frame_address >> 32U),
              static_cast<unsigned int>(frame_address & 0xffffffffU));
  return frame;
}

extern "C" COSYNC_API transfer_t cosync_context_jump(context_t to, void* data) noexcept {
  UcontextFrame self;
  auto* target = static_cast<UcontextFrame*>(to);
  target->incoming = transfer_t{&self, data};
  pthread_sigmask(SIG_SETMASK, nullptr, &target->uc.uc_sigmask);
  swapcontext(&self.uc, &target->uc);
  return self.incoming;
}

}  // namespace cosync::context
