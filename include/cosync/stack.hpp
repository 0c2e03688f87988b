// cosync stacks (layer 2): mmap'd, lazily committed coroutine stacks with a
// guard region below each one, carved from slabs and pooled per thread.
//
// Memory layout of one stack (addresses grow upwards):
//
//   mapping_base()              base                                   top()
//   |<-- guard_size() --------->|<------------- size ------------------>|
//   | no access                 | usable stack, grows down from `top`   |
//
// Stacks of one size are carved from slabs: one mapping holds many stacks,
// each with its guard below it, so the stack below a guard is another
// coroutine's. By default the guard is as large as the stack above it (at
// least 64 KiB): a frame that fits in its stack cannot jump the guard into
// the neighbour, even in code built without -fstack-clash-protection.
//
// Guard strategies, chosen per stack:
//   - guard_region: the guard is installed with MADV_GUARD_INSTALL (Linux
//     6.13+), in batches through process_madvise where the kernel takes it
//     there; it costs no extra kernel mapping (VMA) and no memory.
//   - guard_page:   the guard is mprotect(PROT_NONE)ed pages; they split the
//     mapping, so each such stack costs two more VMAs out of the process's
//     vm.max_map_count budget.
//   - canary:       no guard; a random word at `base`, checked at every switch
//     away from the coroutine and when it finishes. Used when guard pages
//     would take more than the configured share of vm.max_map_count.
//
// Pooling: a finished coroutine's stack stays in its thread's pool (its
// pages below `hot_bytes` decommitted) while the thread's population of
// live stacks of that size has recently been that high; when it stays
// lower, the pool shrinks by half per epoch (an epoch ends after as many
// releases as the remembered peak, at least 4096): stacks beyond it are
// decommitted and whole slabs whose stacks are all free are unmapped.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

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

// How one stack is guarded (see "Guard strategies" above).
enum class StackGuard : std::uint32_t { guard_region, guard_page, canary };

// How new stacks get their guard. `automatic` uses guard regions where the
// kernel has them and guard pages otherwise, falling back to canaries past
// the VMA budget. The other values force one strategy (tests, benchmarks).
enum class GuardPolicy : std::uint8_t { automatic, guard_page, canary };

// Process-wide stack settings. Change them before creating coroutines; a
// change applies to stacks allocated afterwards.
struct StackConfig {
  GuardPolicy guard_policy = GuardPolicy::automatic;  // how new stacks get their guard
  // Share of vm.max_map_count that guard pages may use, in percent.
  unsigned guard_page_vma_share_percent = 25;
  // Most free stacks each thread keeps committed for reuse, per size: the
  // bound on the adaptive pool. A stack freed beyond it is decommitted at
  // once (its slot stays reserved in its slab for reuse).
  std::size_t pool_limit = std::size_t{1} << 20U;
  // Bytes at the top of a pooled stack that stay committed; deeper pages a
  // coroutine touched are given back with madvise when its stack is pooled.
  std::size_t hot_bytes = 16 * 1024;
  // Size of the guard below each guarded stack, rounded up to pages; 0 (the
  // default) makes it as large as the stack, at least 64 KiB. A frame that
  // allocates more than the guard before touching it jumps over it into
  // the stack below; GCC's -fstack-clash-protection on aarch64 only probes
  // frames above 64 KiB, and GCC 12 does not probe at all on riscv64.
  // Guard pages cost address space and page-table entries only, never
  // memory nor (with either guard kind) more VMAs.
  std::size_t guard_bytes = 0;
  // Measure the exact peak of one in this many stacks handed out (0, the
  // default: none; 1: every one). Such a stack's hot area is filled with a
  // pattern and the rest below decommitted, so it reads zero, when it is
  // handed out; when its coroutine finishes, the deepest word changed is
  // found (mincore skips the pages never touched). It costs about two
  // system calls and three page faults more per measured coroutine (about
  // 30 us where a system call costs 1 us); 1024 makes that a few ns each.
  // The other stacks get the cheap figure (see PeakMethod). While this is
  // not 0, every finishing coroutine is counted in the peak histogram,
  // whatever peak_sample_every says.
  std::size_t exact_peak_every = 0;
  // Count one in this many stacks released (release_stack(), which every
  // coroutine's cosync-allocated stack goes through when it is released),
  // per thread, in the peak histogram stack_stats() reports (1: every one;
  // 0: none). Measuring a peak there costs a probe of one word and, for a
  // coroutine that went below the hot area, a mincore call; sampling keeps
  // that off most releases. configure_stacks() restarts the count of the
  // calling thread; other threads take a new rate when their current count
  // runs out (at most 4096 releases after it when it was 0).
  std::size_t peak_sample_every = 64;
};

// One coroutine stack. Owned by the coroutine using it, or by a pool.
// Exactly 32 bytes on 64-bit targets, so copies move two whole 16-byte halves
// (a partial copy that straddles earlier stores stalls store forwarding on
// the coroutine creation path).
struct COSYNC_API Stack {
  void* base = nullptr;                   // lowest usable address
  std::size_t size = 0;                   // usable bytes
  std::size_t guard_bytes = 0;            // guard below `base` (0 for a canary stack)
  std::uint32_t valgrind_id = 0;          // registration id while valgrind watches it
  StackGuard guard = StackGuard::canary;  // how this stack is guarded

  // One past the highest usable address: the stack grows down from here.
  void* top() const noexcept { return static_cast<char*>(base) + size; }
  // Bytes of the guard below `base` (0 for a canary stack).
  std::size_t guard_size() const noexcept { return guard_bytes; }
  // Lowest mapped address: the start of the guard.
  void* mapping_base() const noexcept { return static_cast<char*>(base) - guard_size(); }
  // Bytes from mapping_base() to top(): the guard and the usable stack.
  std::size_t mapping_size() const noexcept { return guard_size() + size; }
  // True when `address` lies in the usable stack, [base, top()).
  bool contains(const void* address) const noexcept;
  // True when `address` lies in the guard, [mapping_base(), base).
  bool guard_contains(const void* address) const noexcept;
};

// How a stack's peak use was measured, each a different promise.
enum class PeakMethod : std::uint8_t {
  // The coroutine's stack pointer now: for a suspended coroutine the one
  // it is suspended at, for the running one the caller's frame, none (0
  // bytes) once it finished. On a cosync stack the coroutine also never
  // wrote below the top hot_bytes, so its peak lies between `bytes` and
  // hot_bytes (16 KiB by default); on a stack the program provided,
  // `bytes` is only a lower bound.
  stack_pointer,
  // The coroutine wrote below the top hot_bytes: the deepest page it
  // touched there (one mincore call at finish), so the peak rounded up to a
  // page. Seen through the word just below hot_bytes, which the pool
  // probes to give deep pages back: a coroutine whose frames there left
  // that word unwritten (a large buffer it never filled) is measured by
  // its stack pointer instead, and a page an earlier coroutine on the same
  // pooled stack touched that way may count too.
  pages,
  // The stack was filled when handed out (StackConfig::exact_peak_every):
  // the deepest word changed, exact to the word unless the deepest words
  // the coroutine wrote held zero (below the hot area) or the pattern.
  pattern,
};

// A coroutine's peak stack use: bytes from its stack's top() down to the
// deepest use seen, its control block at the top included.
struct StackPeak {
  std::size_t bytes = 0;                          // peak use
  PeakMethod method = PeakMethod::stack_pointer;  // how it was measured
};

// Buckets of StackStats::peak_histogram.
inline constexpr std::size_t peak_histogram_buckets = 21;

// Counters for this thread's pool and the process-wide ones. A stack is
// live from allocate_stack() to release_stack(), on whichever threads they
// run; it is then pooled by the thread that released it. The live counts
// are a sum over the threads, which may miss a stack another thread is
// allocating or releasing meanwhile.
struct StackStats {
  std::size_t live_guard_region = 0;     // process-wide, in use by coroutines
  std::size_t live_guard_page = 0;       // process-wide, in use by coroutines
  std::size_t live_canary = 0;           // process-wide, in use by coroutines
  std::size_t pooled = 0;                // this thread, waiting for reuse
  std::size_t mapped = 0;                // this thread, new stacks carved from slabs
  std::size_t reused = 0;                // this thread, allocations served by the pool
                                         // or by a decommitted free stack
  std::size_t trimmed = 0;               // this thread, pooled stacks madvise'd
  std::size_t canary_fallbacks = 0;      // this thread, canary stacks made because
                                         // guard pages would exceed the budget
  std::size_t system_calls = 0;          // this thread, mmap/munmap/madvise/mprotect/
                                         // process_madvise calls of the stack layer
  std::size_t slabs = 0;                 // process-wide, slabs mapped now
  std::size_t decommitted = 0;           // process-wide, free stacks given back to the
                                         // kernel, their slots kept for reuse
  std::size_t process_guard_pages = 0;   // process-wide, live and pooled
  std::size_t guard_page_budget = 0;     // process-wide limit for the above
  std::size_t max_map_count = 0;         // the kernel's vm.max_map_count
  bool guard_regions_supported = false;  // MADV_GUARD_INSTALL works here
  bool guard_batches_supported = false;  // and process_madvise takes it: guards go in
                                         // batches, a fraction of a call per stack
  // Process-wide, the peaks (StackPeak) of a sample of the stacks released
  // to cosync, each measured as its last coroutine left it (one in
  // StackConfig::peak_sample_every per thread, 64 by default; every one
  // while exact peaks are on), by power of two: bucket 0 counts peaks up to
  // 1 KiB, bucket i those in (2^(i-1), 2^i] KiB, the last one everything
  // above 512 MiB. A peak measured by PeakMethod::stack_pointer, known only
  // to stay within the hot area, counts in hot_bytes' bucket.
  std::array<std::size_t, peak_histogram_buckets> peak_histogram{};
  std::size_t peaks = 0;             // process-wide, the sample's size: the histogram's total
  std::size_t peak_max = 0;          // process-wide, the largest peak measured, in bytes
  std::size_t peaks_exact = 0;       // process-wide, sampled peaks measured by PeakMethod::pattern
  std::size_t peaks_within_hot = 0;  // process-wide, by PeakMethod::stack_pointer
  // Process-wide, what the advice sizes stacks for: peak_max, or hot_bytes
  // (as configured now) when larger and a peak was measured by
  // PeakMethod::stack_pointer, which says only that it stayed below that.
  std::size_t peak_bound = 0;
};

// Replaces the process-wide settings, for stacks allocated from now on.
// Throws std::invalid_argument when guard_bytes exceeds max_stack_size or
// guard_page_vma_share_percent exceeds 100 (nothing is changed then).
COSYNC_API void configure_stacks(const StackConfig& config);
// The current process-wide settings, as last given to configure_stacks.
COSYNC_API StackConfig stack_config() noexcept;

// Rounds a requested size up to whole pages, after checking it against
// min_stack_size and max_stack_size. Throws std::invalid_argument naming the
// size and the limit.
COSYNC_API std::size_t checked_stack_size(std::size_t requested);

// Takes a stack of `size` usable bytes (0: default_stack_size) from this
// thread's pool, or maps a new one. Throws std::invalid_argument for a bad
// size and std::system_error when the kernel refuses the mapping.
COSYNC_API Stack allocate_stack(std::size_t size = 0);

// Returns a stack to this thread's pool (or decommits it when the pool is
// at its bound), whichever thread allocated it. The coroutine that ran on
// it must be finished and not running.
COSYNC_API void release_stack(Stack& stack) noexcept;

// Gives back every stack in this thread's pool: unmaps each slab whose
// stacks are all free, decommits the other free stacks.
COSYNC_API void trim_stack_pool() noexcept;

// This thread's stack counters and the process-wide ones (see StackStats).
COSYNC_API StackStats stack_stats() noexcept;

// The smallest stack the sampled coroutines counted in `stats` would all
// have fitted with room to spare: the next power of two at or above twice
// stats.peak_bound, at least min_stack_size; 0 when none was sampled yet.
COSYNC_API std::size_t recommended_stack_size(const StackStats& stats) noexcept;

// recommended_stack_size() as a sentence, e.g. "peak 23 KiB across 10000
// sampled coroutines: a 64 KiB stack would do (the default is 256 KiB)".
COSYNC_API std::string stack_advice(const StackStats& stats);

// The peak use of `stack` by its current coroutine, measured now (see
// PeakMethod). `deepest_seen` is the lowest address of the stack the caller
// saw in use, such as the coroutine's saved stack pointer (null: none).
COSYNC_API StackPeak measure_stack_peak(const Stack& stack, const void* deepest_seen) noexcept;

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
