// The context layer: the only code in cosync that knows the machine ABI.
//
// Three calls, after Boost.Context's fcontext core:
//   context_make  builds a suspended context on a fresh stack;
//   context_jump  saves the running context and resumes another one, passing
//                 one pointer across;
//   (the entry)   a fresh context starts in `entry(transfer)`, which must
//                 never return: it leaves by jumping to another context.
//
// A `context_t` is an opaque token for a suspended context. With the assembly
// back ends it is the saved stack pointer (the callee-saved registers sit on
// the suspended stack itself); with the ucontext back end it points at a
// ucontext_t kept on the suspended stack. A token is valid for exactly one
// jump: after resuming it, the context that left hands out a new token.
#pragma once

#include <cstddef>

namespace cosync::context {

using context_t = void*;

// What a resumed context receives: the token of the context that jumped to it
// (so it can be resumed later) and the pointer that context passed.
struct transfer_t {
  context_t from;
  void* data;
};

using entry_fn = void (*)(transfer_t);

extern "C" {

// Builds a context on the stack whose highest address is `stack_top` and
// whose usable size is `size`. The first jump to it calls `entry`.
context_t cosync_context_make(void* stack_top, std::size_t size,
                              entry_fn entry) noexcept;

// Suspends the caller and resumes `to`, which receives `data`. Returns when
// some context jumps back, with that context's token and pointer.
transfer_t cosync_context_jump(context_t to, void* data) noexcept;
}

// Name of the back end selected at configure time, for diagnostics and the
// benchmark report ("x86_64_sysv_elf_gas", "aarch64_aapcs_elf_gas",
// "ucontext").
const char* backend_name() noexcept;

}  // namespace cosync::context
