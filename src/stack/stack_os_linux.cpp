#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <mutex>

#include "stack/os.hpp"

// MADV_GUARD_INSTALL arrived in Linux 6.13; glibc 2.36 does not name it yet.
#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif
// Linux 5.14; named by glibc 2.35, spelled out for older headers.
#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

namespace cosync::stack::os {
namespace {

// The kernel's default vm.max_map_count, used when /proc is not readable.
constexpr std::size_t kDefaultMaxMapCount = 65530;

// Ranges per process_madvise call (the kernel takes up to UIO_MAXIOV): the
// iovec array lives on the caller's stack, which may be a small coroutine
// stack, and 64 already makes the calls rare.
constexpr std::size_t kMaxBatch = 64;

thread_local std::size_t t_system_calls __attribute__((tls_model("initial-exec"))) = 0;

// A pidfd of this process for process_madvise, opened on first use. A
// forked child must not advise its parent's memory, so fork drops it.
std::mutex g_pidfd_mutex;
std::atomic<int> g_pidfd{-1};

void forget_pidfd_in_child() noexcept {
  const int fd = g_pidfd.exchange(-1, std::memory_order_relaxed);
  if (fd >= 0) {
    close(fd);
  }
}

int own_pidfd() noexcept {
  const int cached = g_pidfd.load(std::memory_order_acquire);
  if (cached >= 0) {
    return cached;
  }
  const std::lock_guard lock(g_pidfd_mutex);
  static const bool fork_hook = pthread_atfork(nullptr, nullptr, &forget_pidfd_in_child) == 0;
  if (!fork_hook) {
    return -1;
  }
  int fd = g_pidfd.load(std::memory_order_relaxed);
  if (fd < 0) {
    fd = static_cast<int>(syscall(SYS_pidfd_open, getpid(), 0U));
    g_pidfd.store(fd, std::memory_order_release);
  }
  return fd;
}

// Applies `advice` to up to kMaxBatch ranges in one call. False when the
// kernel refused or advised only part of them.
bool advise_batch(const Range* ranges, std::size_t count, int advice) noexcept {
  const int pidfd = own_pidfd();
  if (pidfd < 0) {
    return false;
  }
  iovec vectors[kMaxBatch];
  std::size_t total = 0;
  for (std::size_t i = 0; i < count; ++i) {
    vectors[i] = iovec{ranges[i].address, ranges[i].bytes};
    total += ranges[i].bytes;
  }
  ++t_system_calls;
  const long advised = syscall(SYS_process_madvise, pidfd, vectors, count, advice, 0U);
  return advised >= 0 && static_cast<std::size_t>(advised) == total;
}

bool advise_one_by_one(const Range* ranges, std::size_t count, int advice) noexcept {
  bool all = true;
  for (std::size_t i = 0; i < count; ++i) {
    ++t_system_calls;
    all = madvise(ranges[i].address, ranges[i].bytes, advice) == 0 && all;
  }
  return all;
}

bool advise_all(const Range* ranges, std::size_t count, int advice) noexcept {
  bool all = true;
  for (std::size_t done = 0; done < count; done += kMaxBatch) {
    const std::size_t batch = count - done < kMaxBatch ? count - done : kMaxBatch;
    if (!guard_batches_supported() || !advise_batch(ranges + done, batch, advice)) {
      all = advise_one_by_one(ranges + done, batch, advice) && all;
    }
  }
  return all;
}

// Writes one byte from `address` into a pipe: the kernel answers EFAULT
// exactly when the page cannot be read, which is the guard's promise.
bool page_is_unreadable(const void* address) noexcept {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    return false;
  }
  const ssize_t written = write(fds[1], address, 1);
  const int error = errno;
  close(fds[0]);
  close(fds[1]);
  return written < 0 && error == EFAULT;
}

bool probe_guard_regions() noexcept {
  const std::size_t page = page_size();
  void* probe = map_lazy(2 * page);
  if (probe == nullptr) {
    return false;
  }
  const bool works = madvise(probe, page, MADV_GUARD_INSTALL) == 0 && page_is_unreadable(probe);
  unmap(probe, 2 * page);
  return works;
}

bool probe_batches() noexcept {
  if (!guard_regions_supported()) {
    return false;
  }
  const std::size_t page = page_size();
  void* probe = map_lazy(2 * page);
  if (probe == nullptr) {
    return false;
  }
  const Range range{probe, page};
  const bool works = advise_batch(&range, 1, MADV_GUARD_INSTALL) && page_is_unreadable(probe);
  unmap(probe, 2 * page);
  return works;
}

}  // namespace

namespace {
const auto g_page_size = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
}  // namespace

std::size_t page_size() noexcept { return g_page_size; }

std::size_t max_map_count() noexcept {
  static const std::size_t count = [] {
    std::FILE* file = std::fopen("/proc/sys/vm/max_map_count", "re");
    if (file == nullptr) {
      return kDefaultMaxMapCount;
    }
    unsigned long value = 0;
    const bool read = std::fscanf(file, "%lu", &value) == 1 && value > 0;
    std::fclose(file);
    return read ? static_cast<std::size_t>(value) : kDefaultMaxMapCount;
  }();
  return count;
}

std::size_t system_calls() noexcept { return t_system_calls; }

void* map_lazy(std::size_t bytes) noexcept {
  ++t_system_calls;
  void* address = mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
  return address == MAP_FAILED ? nullptr : address;
}

void unmap(void* address, std::size_t bytes) noexcept {
  ++t_system_calls;
  munmap(address, bytes);
}

void decommit(void* address, std::size_t bytes) noexcept {
  ++t_system_calls;
  madvise(address, bytes, MADV_DONTNEED);
}

void decommit(const Range* ranges, std::size_t count) noexcept {
  advise_all(ranges, count, MADV_DONTNEED);
}

bool guard_regions_supported() noexcept {
  static const bool supported = probe_guard_regions();
  return supported;
}

// Linux 6.13+ takes any advice through process_madvise for the calling
// process itself.
bool guard_batches_supported() noexcept {
  static const bool supported = probe_batches();
  return supported;
}

bool install_guard_region(void* address, std::size_t bytes) noexcept {
  ++t_system_calls;
  return madvise(address, bytes, MADV_GUARD_INSTALL) == 0;
}

bool install_guard_regions(const Range* ranges, std::size_t count) noexcept {
  return advise_all(ranges, count, MADV_GUARD_INSTALL);
}

void prefault(const Range* writes, const Range* reads, std::size_t count) noexcept {
  if (!guard_batches_supported()) {
    return;
  }
  for (std::size_t done = 0; done < count; done += kMaxBatch) {
    const std::size_t batch = count - done < kMaxBatch ? count - done : kMaxBatch;
    advise_batch(writes + done, batch, MADV_POPULATE_WRITE);
    if (reads != nullptr) {
      advise_batch(reads + done, batch, MADV_POPULATE_READ);
    }
  }
}

bool protect_guard_page(void* address, std::size_t bytes) noexcept {
  ++t_system_calls;
  return mprotect(address, bytes, PROT_NONE) == 0;
}

// Chunks of 256 pages keep the residency vector small enough for a
// coroutine's stack, which may be the one calling.
const void* lowest_resident(const void* address, std::size_t bytes) noexcept {
  constexpr std::size_t kChunkPages = 256;
  const std::size_t page = page_size();
  const auto* low = static_cast<const unsigned char*>(address);
  const std::size_t pages = bytes / page;
  unsigned char resident[kChunkPages];
  for (std::size_t done = 0; done < pages; done += kChunkPages) {
    const std::size_t count = pages - done < kChunkPages ? pages - done : kChunkPages;
    ++t_system_calls;
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-const-cast): mincore only reads the range
    if (mincore(const_cast<unsigned char*>(low + done * page), count * page, resident) != 0) {
      return nullptr;
    }
    for (std::size_t i = 0; i < count; ++i) {
      if ((resident[i] & 1U) != 0) {
        return low + (done + i) * page;
      }
    }
  }
  return nullptr;
}

void random_bytes(void* out, std::size_t size) noexcept {
  if (getrandom(out, size, GRND_NONBLOCK) == static_cast<ssize_t>(size)) {
    return;
  }
  const auto seed =
      static_cast<unsigned long long>(std::chrono::steady_clock::now().time_since_epoch().count());
  std::memcpy(out, &seed, size < sizeof seed ? size : sizeof seed);
}

}  // namespace cosync::stack::os
