#include <fcntl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>

#include "stack/os.hpp"

// MADV_GUARD_INSTALL arrived in Linux 6.13; glibc 2.36 does not name it yet.
#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif

namespace cosync::stack_os {
namespace {

// The kernel's default vm.max_map_count, used when /proc is not readable.
constexpr std::size_t kDefaultMaxMapCount = 65530;

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

void* map_lazy(std::size_t bytes) noexcept {
  void* address = mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
  return address == MAP_FAILED ? nullptr : address;
}

void unmap(void* address, std::size_t bytes) noexcept { munmap(address, bytes); }

void decommit(void* address, std::size_t bytes) noexcept { madvise(address, bytes, MADV_DONTNEED); }

bool guard_regions_supported() noexcept {
  static const bool supported = probe_guard_regions();
  return supported;
}

bool install_guard_region(void* address, std::size_t bytes) noexcept {
  return madvise(address, bytes, MADV_GUARD_INSTALL) == 0;
}

bool protect_guard_page(void* address, std::size_t bytes) noexcept {
  return mprotect(address, bytes, PROT_NONE) == 0;
}

void random_bytes(void* out, std::size_t size) noexcept {
  if (getrandom(out, size, GRND_NONBLOCK) == static_cast<ssize_t>(size)) {
    return;
  }
  const auto seed =
      static_cast<unsigned long long>(std::chrono::steady_clock::now().time_since_epoch().count());
  std::memcpy(out, &seed, size < sizeof seed ? size : sizeof seed);
}

}  // namespace cosync::stack_os
