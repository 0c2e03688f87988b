// Hooks that tell ASan and valgrind about stack switches and stack memory.
// Each hook compiles to nothing when its tool is not in the build; the
// valgrind client requests cost a few instructions outside valgrind, so they
// stay compiled in (they are how `valgrind --tool=memcheck` follows us).
#pragma once

#include <valgrind/valgrind.h>

#include <cstddef>

#if defined(__SANITIZE_ADDRESS__)
#define COSYNC_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define COSYNC_ASAN 1
#endif
#endif

#if defined(COSYNC_ASAN)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

namespace cosync::support {

inline unsigned valgrind_register_stack(void* low, std::size_t size) noexcept {
  return VALGRIND_STACK_REGISTER(low, static_cast<char*>(low) + size);
}

inline void valgrind_deregister_stack(unsigned id) noexcept { VALGRIND_STACK_DEREGISTER(id); }

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

}  // namespace cosync::support
