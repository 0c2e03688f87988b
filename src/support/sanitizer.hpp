// Hooks that tell ASan, TSan and valgrind about stack switches and stack
// memory.
// Each hook compiles to nothing when its tool is not in the build; the
// valgrind client requests cost a few instructions outside valgrind, so they
// stay compiled in (they are how `valgrind --tool=memcheck` follows us).
#pragma once

#include <valgrind/memcheck.h>
#include <valgrind/valgrind.h>

#include <cstddef>

#if defined(__SANITIZE_ADDRESS__)
#define COSYNC_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define COSYNC_ASAN 1
#endif
#endif

#if defined(__SANITIZE_THREAD__)
#define COSYNC_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define COSYNC_TSAN 1
#endif
#endif

#if defined(COSYNC_ASAN)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif
#if defined(COSYNC_TSAN)
#include <sanitizer/tsan_interface.h>
#endif

namespace cosync::support {

// [[maybe_unused]]: valgrind's header has no client requests for some
// architectures (riscv64 in Debian 12), where they expand to nothing.
inline unsigned valgrind_register_stack([[maybe_unused]] void* low,
                                        [[maybe_unused]] std::size_t size) noexcept {
  return VALGRIND_STACK_REGISTER(low, static_cast<char*>(low) + size);
}

inline void valgrind_deregister_stack([[maybe_unused]] unsigned id) noexcept {
  VALGRIND_STACK_DEREGISTER(id);
}

// Memcheck marks what lies below a stack pointer as inaccessible when the
// stack shrinks; a pooled stack keeps those marks from its last coroutine,
// so the first frame written on it for the next one must be declared
// usable again.
inline void valgrind_make_usable([[maybe_unused]] void* low,
                                 [[maybe_unused]] std::size_t size) noexcept {
  VALGRIND_MAKE_MEM_UNDEFINED(low, size);
}

// Memory a finished or suspended coroutine left below its stack pointer is
// inaccessible to memcheck; reading it on purpose (a stack's peak is
// measured there) needs it declared readable first.
inline void valgrind_make_defined([[maybe_unused]] const void* low,
                                  [[maybe_unused]] std::size_t size) noexcept {
  VALGRIND_MAKE_MEM_DEFINED(low, size);
}

#if defined(COSYNC_ASAN)
inline constexpr bool asan_enabled = true;

// Before a switch: `fake_stack_slot` receives the leaving context's fake
// stack (nullptr when the context leaves for the last time, so ASan frees
// it); `bottom`/`size` are the bounds of the destination stack.
inline void asan_start_switch(void** fake_stack_slot, const void* bottom,
                              std::size_t size) noexcept {
  __sanitizer_start_switch_fiber(fake_stack_slot, bottom, size);
}

// First thing on the destination stack: hands back the fake stack saved when
// this context left and learns the bounds of the stack it came from.
inline void asan_finish_switch(void* fake_stack, const void** from_bottom,
                               std::size_t* from_size) noexcept {
  __sanitizer_finish_switch_fiber(fake_stack, from_bottom, from_size);
}

// Reused stack memory may still carry use-after-scope poison from the
// coroutine that ran there before.
inline void asan_unpoison(void* address, std::size_t size) noexcept {
  ASAN_UNPOISON_MEMORY_REGION(address, size);
}
#else
inline constexpr bool asan_enabled = false;
inline void asan_start_switch(void**, const void*, std::size_t) noexcept {}
inline void asan_finish_switch(void*, const void**, std::size_t*) noexcept {}
inline void asan_unpoison(void*, std::size_t) noexcept {}
#endif

// TSan keeps its own state per context (a "fiber"): each coroutine gets one
// when it is set up, the main context is the thread's own, and every switch
// names the fiber it goes to, just before the jump. Flag 0: the switch
// orders what the two contexts do, as running on one thread does.
#if defined(COSYNC_TSAN)
#define COSYNC_NO_SANITIZE_THREAD __attribute__((no_sanitize("thread")))
inline constexpr bool tsan_enabled = true;
inline void* tsan_current_fiber() noexcept { return __tsan_get_current_fiber(); }
inline void* tsan_create_fiber() noexcept { return __tsan_create_fiber(0); }
// Not instrumented itself, where it is not inlined: its own function exit
// would be recorded on the fiber it switched to.
COSYNC_NO_SANITIZE_THREAD inline void tsan_switch_to_fiber(void* fiber) noexcept {
  __tsan_switch_to_fiber(fiber, 0);
}
// Never the running context's fiber.
inline void tsan_destroy_fiber(void* fiber) noexcept {
  if (fiber != nullptr) {
    __tsan_destroy_fiber(fiber);
  }
}
#else
#define COSYNC_NO_SANITIZE_THREAD
inline constexpr bool tsan_enabled = false;
inline void* tsan_current_fiber() noexcept { return nullptr; }
inline void* tsan_create_fiber() noexcept { return nullptr; }
inline void tsan_switch_to_fiber(void*) noexcept {}
inline void tsan_destroy_fiber(void*) noexcept {}
#endif

// Every switch must go through the out-of-line path that calls the hooks
// above when a sanitizer that tracks stacks is in the build.
inline constexpr bool switch_hooks_needed = asan_enabled || tsan_enabled;

}  // namespace cosync::support
