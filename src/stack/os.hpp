// Operating-system calls behind the stack layer. One implementation per OS
// (stack_os_linux.cpp); nothing else in the stack layer makes system calls.
#pragma once

#include <cstddef>

namespace cosync::stack::os {

// Read once at load time; a plain load afterwards.
std::size_t page_size() noexcept;

// vm.max_map_count, or a conservative default when it cannot be read.
std::size_t max_map_count() noexcept;

// Memory-management system calls (mmap, munmap, madvise, mprotect,
// process_madvise) this thread made through the functions below.
std::size_t system_calls() noexcept;

// One address range of a batch.
struct Range {
  void* address;
  std::size_t bytes;
};

// Reserves `bytes` of read/write address space that commits memory only
// when touched. Returns nullptr with errno set on failure.
void* map_lazy(std::size_t bytes) noexcept;
void unmap(void* address, std::size_t bytes) noexcept;

// Gives touched pages back to the kernel; they read as zero afterwards.
void decommit(void* address, std::size_t bytes) noexcept;
// The same for many ranges, in as few system calls as the kernel allows.
void decommit(const Range* ranges, std::size_t count) noexcept;

// True once this process has checked that madvise(MADV_GUARD_INSTALL) turns
// pages into guard regions (Linux 6.13+, and not under emulators that
// accept the call but ignore it).
bool guard_regions_supported() noexcept;
bool install_guard_region(void* address, std::size_t bytes) noexcept;
// True once this process has checked that process_madvise on itself takes
// MADV_GUARD_INSTALL (Linux 6.13+; not under valgrind), so guards, prefaults
// and decommits go in batched calls.
bool guard_batches_supported() noexcept;
// Installs guard regions over every range: with batched calls where the
// kernel takes MADV_GUARD_INSTALL through process_madvise, one madvise per
// range elsewhere. False when any range could not be guarded.
bool install_guard_regions(const Range* ranges, std::size_t count) noexcept;
bool protect_guard_page(void* address, std::size_t bytes) noexcept;

// Maps pages ahead of their first use, in batched calls, so the first
// write to each `writes` range and the first read of each `reads` range
// take no page fault (the reads map the shared zero page: no memory). Does
// nothing where the kernel cannot batch them: one call per range would
// cost more than the faults it saves.
void prefault(const Range* writes, const Range* reads, std::size_t count) noexcept;

// The lowest page of [address, address + bytes) (page-aligned) that is in
// memory (mincore), or null when none is: one call per 1 MiB searched.
const void* lowest_resident(const void* address, std::size_t bytes) noexcept;

// Fills `out` with random bytes, falling back to a weaker source.
void random_bytes(void* out, std::size_t size) noexcept;

}  // namespace cosync::stack::os
