// The context layer: the only code in cosync that knows the machine ABI.
//
// Three calls, after Boost.Context's fcontext core:
//   cosync_context_make  builds a suspended context on a fresh stack;
//   cosync_context_jump  saves the running context and resumes another one,
//                        passing one pointer across;
//   (the entry)          a fresh context starts in `entry(transfer)`; when
//                        it returns, the context is finished and its
//                        return value names the context to resume.
//
// A `context_t` is an opaque token for a suspended context. With the assembly
// back ends it points at a frame on the suspended stack itself (x86_64: a
// small frame below the saved stack pointer; every other architecture: the
// saved stack pointer, laid out in include/cosync/impl/context_frame_*.h);
// with the ucontext back end it points at a ucontext_t kept on the suspended
// stack. A token is valid for exactly one jump: after resuming it, the
// context that left hands out a new token.
//
// The declarations live in include/cosync/impl/context_jump.hpp because
// the coroutine header inlines the switch (`context::jump`: on x86_64 the
// switch itself, from context_jump_x86_64_sysv.hpp; elsewhere a call of
// cosync_context_jump); the implementations are the
// switch_<arch>_<abi>_<binfmt>_gas.S files and switch_ucontext.cpp.
#pragma once

#include "cosync/impl/context_jump.hpp"

namespace cosync::context {

// Name of the back end selected at configure time, for diagnostics and the
// benchmark report ("x86_64_sysv_elf_gas", "aarch64_aapcs_elf_gas",
// "ucontext").
const char* backend_name() noexcept;

}  // namespace cosync::context
