// Declarations of the context layer's two entry points, shared by the
// library and by the inline switch in coroutine.hpp. They name no register
// and no frame layout: that knowledge stays in src/context/, but for the
// x86_64 System V switch, which is inlined (context_jump_x86_64_sysv.hpp).
#pragma once

#include <cstddef>

#include "cosync/config.hpp"
#include "cosync/export.hpp"

namespace cosync::context {

// Opaque token of a suspended context, valid for exactly one jump.
using context_t = void*;

// What a resumed context receives: the token of the context that jumped to
// it and the pointer that context passed.
struct transfer_t {
  context_t from;  // the context that jumped here (null: it finished)
  void* data;      // the pointer it passed
};

// A fresh context's entry function. It returns when the context finishes,
// with the context to resume next (`from`) and the pointer to pass it
// (`data`); the finished context is never resumed.
using EntryFn = transfer_t (*)(transfer_t);

extern "C" {
// Builds a context on the stack whose highest address is `stack_top` and
// whose usable size is `size`. The first jump to it calls `entry`.
context_t cosync_context_make(void* stack_top, std::size_t size, EntryFn entry) noexcept;

// Suspends the caller and resumes `to`, which receives `data`. Returns when
// some context jumps back, with that context's token and pointer.
// Exported: the inline switch in coroutine.hpp calls it from user code.
COSYNC_API transfer_t cosync_context_jump(context_t to, void* data) noexcept;
}

}  // namespace cosync::context

#if COSYNC_INLINE_JUMP_X86_64_SYSV
#include "cosync/impl/context_jump_x86_64_sysv.hpp"
#else
namespace cosync::context {
// The switch the inline coroutine path uses: this back end's is out of line.
inline transfer_t jump(context_t to, void* data) noexcept { return cosync_context_jump(to, data); }
}  // namespace cosync::context
#endif
