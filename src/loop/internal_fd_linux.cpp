// The floor is 512, or half the soft RLIMIT_NOFILE when that is lower:
// programs' own fds are small and dense, so 512 is out of their way, and it
// stays far from 1024 (FD_SETSIZE, where select() users need room) and far
// from the limit (servers use the top of their budget). It is not higher
// because the kernel sizes a process's fd table to its highest fd: a floor
// near a large limit would cost every process megabytes of fd table.
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>

#include "loop/internal_fd.hpp"

namespace cosync::loop {
namespace {

constexpr rlim_t kPreferredFloor = 512;

rlim_t internal_floor() noexcept {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) {
    return kPreferredFloor;
  }
  return std::min(kPreferredFloor, limit.rlim_cur / 2);
}

}  // namespace

int move_above_user_fds(int fd) noexcept {
  const rlim_t floor = internal_floor();
  if (fd < 0 || static_cast<rlim_t>(fd) >= floor) {
    return fd;
  }
  const int moved = fcntl(fd, F_DUPFD_CLOEXEC, static_cast<int>(floor));
  if (moved < 0) {
    return fd;  // EMFILE or EINVAL: a low number still works
  }
  close(fd);
  return moved;
}

}  // namespace cosync::loop
