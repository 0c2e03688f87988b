// cosync stacks (layer 2): mmap'd, lazily committed coroutine stacks with a
// guard region below each one, pooled per thread.
//
// Memory layout of one stack (addresses grow upwards):
//
//   mapping_base()              base                                   top()
//   |<-- guard_size() --------->|<------------- size ------------------>|
//   | no access                 | usable stack, grows down from `top`   |
//
// Guard strategies, chosen per stack:
//   - guard_region: the guard is installed with madvise(MADV_GUARD_INSTALL)
//     (Linux 6.13+); it costs no extra kernel mapping (VMA).
//   - guard_page:   the guard is mprotect(PROT_NONE)ed pages; they split the
//     mapping, so each such stack costs one more VMA out of the process's
//     vm.max_map_count budget.
//   - canary:       no guard; a random word at `base`, checked at every switch
//     away from the coroutine and when it finishes. Used when guard pages
//     would take more than the configured share of vm.max_map_count.
#pragma once

#include <cstddef>
#include <cstdint>

#include "cosync/export.hpp"

namespace cosync {

// Default usable size of a coroutine stack: 256 KiB of address space, of
// which only the touched pages cost memory.
inline constexpr std::size_t default_stack_size = 256 * 1024;

// Smallest stack cosync accepts: room for its own bookkeeping, a signal frame
// and a few ordinary calls.
inline constexpr std::size_t min_stack_size = 16 * 1024;

// Largest stack cosync accepts (1 GiB); a larger request is almost certainly
// a unit mistake.
inline constexpr std::size_t max_stack_size = std::size_t{1} << 30U;

enum class StackGuard : std::uint32_t { guard_region, guard_page, canary };

// How new stacks get their guard. `automatic` uses guard regions where the
// kernel has them and guard pages otherwise, falling back to canaries past
// the VMA budget. The other values force one strategy (tests, benchmarks).
enum class GuardPolicy : std::uint8_t { automatic, guard_page, canary };

// Process-wide stack settings. Change them before creating coroutines; a
// change applies to stacks allocated afterwards.
struct StackConfig {
  GuardPolicy guard_policy = GuardPolicy::automatic;
  // Share of vm.max_map_count that guard pages may use, in percent.
  unsigned guard_page_vma_share_percent = 25;
  // Stacks each thread keeps for reuse, per size.
  std::size_t pool_limit = 256;
  // Bytes at the top of a pooled stack that stay committed; deeper pages a
  // coroutine touched are given back with madvise when its stack is pooled.
  std::size_t hot_bytes = 16 * 1024;
  // Size of the guard below each guarded stack, rounded up to pages. 64 KiB
  // rather than one page: a frame that allocates more than the guard before
  // touching it jumps over it, and GCC's -fstack-clash-protection on
  // aarch64 only probes frames above 64 KiB. The extra pages cost address
  // space only, never memory nor (with either guard kind) more VMAs.
  std::size_t guard_bytes = 64 * 1024;
};

// One coroutine stack. Owned by the coroutine using it, or by a pool.
// Exactly 32 bytes with no padding, so copies move two whole 16-byte halves
// (a partial copy that straddles earlier stores stalls store forwarding on
// the coroutine creation path).
struct COSYNC_API Stack {
  void* base = nullptr;           // lowest usable address
  std::size_t size = 0;           // usable bytes
  std::size_t guard_bytes = 0;    // guard below `base` (0 for a canary stack)
  std::uint32_t valgrind_id = 0;  // registration id while valgrind watches it
  StackGuard guard = StackGuard::canary;

  void* top() const noexcept { return static_cast<char*>(base) + size; }
  std::size_t guard_size() const noexcept { return guard_bytes; }
  // Lowest mapped address: the start of the guard.
  void* mapping_base() const noexcept { return static_cast<char*>(base) - guard_size(); }
  std::size_t mapping_size() const noexcept { return guard_size() + size; }
  bool contains(const void* address) const noexcept;
  bool guard_contains(const void* address) const noexcept;
};

// Counters for this thread's pool and the process-wide guard budget.
struct StackStats {
  std::size_t live_guard_region = 0;  // this thread, in use by coroutines
  std::size_t live_guard_page = 0;
  std::size_t live_canary = 0;
  std::size_t pooled = 0;                // this thread, waiting for reuse
  std::size_t mapped = 0;                // this thread, stacks mmap'd so far
  std::size_t reused = 0;                // this thread, allocations served by the pool
  std::size_t trimmed = 0;               // this thread, pooled stacks madvise'd
  std::size_t canary_fallbacks = 0;      // this thread, canary stacks made because
                                         // guard pages would exceed the budget
  std::size_t process_guard_pages = 0;   // process-wide, live and pooled
  std::size_t guard_page_budget = 0;     // process-wide limit for the above
  std::size_t max_map_count = 0;         // the kernel's vm.max_map_count
  bool guard_regions_supported = false;  // MADV_GUARD_INSTALL works here
};

COSYNC_API void configure_stacks(const StackConfig& config);
COSYNC_API StackConfig stack_config() noexcept;

// Rounds a requested size up to whole pages, after checking it against
// min_stack_size and max_stack_size. Throws std::invalid_argument naming the
// size and the limit.
COSYNC_API std::size_t checked_stack_size(std::size_t requested);

// Takes a stack of `size` usable bytes (0: default_stack_size) from this
// thread's pool, or maps a new one. Throws std::invalid_argument for a bad
// size and std::system_error when the kernel refuses the mapping.
COSYNC_API Stack allocate_stack(std::size_t size = 0);

// Returns a stack to this thread's pool (or unmaps it when the pool is full).
// The coroutine that ran on it must be finished and not running.
COSYNC_API void release_stack(Stack& stack) noexcept;

// Unmaps every stack in this thread's pool.
COSYNC_API void trim_stack_pool() noexcept;

COSYNC_API StackStats stack_stats() noexcept;

// True when the canary of a canary-guarded stack is intact (always true for
// guarded stacks).
COSYNC_API bool stack_canary_intact(const Stack& stack) noexcept;

// Installs the SIGSEGV handler that reports stack overflows (done
// automatically with the first stack) and gives the calling thread an
// alternate signal stack big enough to run it. Call again after installing
// your own SIGSEGV handler to put cosync's in front of it; cosync chains to
// the handler it replaced.
COSYNC_API void install_overflow_handler();

}  // namespace cosync
