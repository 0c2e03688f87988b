// The process-wide half of the stack layer: the settings the allocation
// paths read, the slabs stacks are carved from (one mapping holds many
// stacks of one size, each with its guard below it), the guard-page budget
// and the canaries. Everything here may be reached from any thread: a
// stack can be released on another thread than the one that carved it.
// The per-thread pool on top of it is stack.cpp.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "cosync/stack.hpp"

namespace cosync::stack {

// The settings configure_stacks() last applied, read without a lock.
inline std::atomic<GuardPolicy> g_policy{GuardPolicy::automatic};
inline std::atomic<std::size_t> g_pool_limit{StackConfig{}.pool_limit};
inline std::atomic<std::size_t> g_hot_bytes{StackConfig{}.hot_bytes};      // page multiple
inline std::atomic<std::size_t> g_guard_bytes{StackConfig{}.guard_bytes};  // page multiple
inline std::atomic<unsigned> g_vma_share{StackConfig{}.guard_page_vma_share_percent};

// Slabs grow from 64 to 4096 stacks (at most 4 GiB of address space), so a
// program with a few coroutines maps little and a million need ~250 mmaps.
// A 32-bit process has 3-4 GiB in all: its slabs stop at 64 MiB.
inline constexpr std::size_t kFirstSlabStacks = 64;
inline constexpr std::size_t kMaxSlabStacks = 4096;
inline constexpr std::size_t kMaxSlabBytes =
    sizeof(void*) >= 8 ? static_cast<std::size_t>(std::uint64_t{4} << 30U) : std::size_t{64} << 20U;
// Stacks given back per round: the array lives on the caller's stack,
// which may be a small coroutine stack.
inline constexpr std::size_t kGiveBackBatch = 32;

// One mapping that holds `capacity` stacks of one size, each with its guard
// below it: slot i spans [base + i * stride, base + (i + 1) * stride).
struct Slab {
  char* base = nullptr;
  std::size_t bytes = 0;
  std::size_t size = 0;
  std::size_t guard = 0;
  std::size_t capacity = 0;
  // Written only by the thread carving it while `carving` is set.
  std::size_t carved = 0;       // slots handed out at least once
  std::size_t guarded = 0;      // slots whose guard region is installed ahead
  std::size_t guard_pages = 0;  // guard-page stacks in it (the VMA budget)
  // Guarded by the slab registry's lock.
  bool carving = true;      // a thread carves from it: never unmapped
  std::vector<Stack> free;  // decommitted free stacks, ready for reuse

  std::size_t stride() const noexcept { return guard + size; }
  char* slot(std::size_t index) const noexcept { return base + index * stride(); }
  bool all_free() const noexcept { return !carving && free.size() == carved; }
};

// Maps a slab of `capacity` stacks (fewer when they would exceed
// kMaxSlabBytes) and registers it; the caller carves from it. Throws
// std::system_error when the kernel refuses the mapping.
Slab* map_slab(std::size_t size, std::size_t guard, std::size_t capacity);
// Stops carving from `slab`, and unmaps it when none of its stacks is in
// use. With `only_if_all_free`, does nothing (and returns false) while some
// stack of it is in use or pooled.
bool retire_slab(Slab& slab, bool only_if_all_free) noexcept;
// Decommits free stacks and files them in their slabs; unmaps each slab
// whose stacks are then all free.
void give_back(Stack* stacks, std::size_t count) noexcept;
// Takes a decommitted free stack of `size` from any slab: false when there
// is none.
bool take_decommitted(std::size_t size, Stack& out) noexcept;
// Gives carved `stack`, slot `slot` of `slab`, its guard (guard regions go
// in ahead, in batches); false when the kernel refused it.
bool install_guard(Slab& slab, std::size_t slot, Stack& stack) noexcept;

// The guard below a stack of `size` usable bytes: the configured size, or
// as large as the stack (at least 64 KiB).
std::size_t guard_bytes_for(std::size_t size) noexcept;
// Takes one guard page from the process-wide VMA budget: false when it is
// spent. release_guard_page() returns one.
bool reserve_guard_page() noexcept;
void release_guard_page() noexcept;
// Guard-page stacks alive, pooled or decommitted, and their limit.
std::size_t guard_pages_in_use() noexcept;
std::size_t guard_page_budget() noexcept;

// Writes the canary of a canary-guarded stack at its base.
void write_canary(const Stack& stack) noexcept;
// The canary `stack` should hold.
std::uintptr_t canary_for(const Stack& stack) noexcept;

// Slabs mapped now, and free stacks decommitted in them.
std::size_t slab_count() noexcept;
std::size_t decommitted_count() noexcept;

}  // namespace cosync::stack
