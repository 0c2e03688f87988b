// The loop's own fds (the epoll set, the wake-up eventfd, the signalfd)
// live above the numbers a program normally uses: the kernel hands out the
// lowest free number, so a loop created on first use would otherwise take
// the numbers the program's next open() or socket() expects, and a wait on
// a just-closed number could land on the loop's own eventfd.
#pragma once

namespace cosync::loop {

// Moves `fd` to the lowest free number at or above the internal floor
// (close-on-exec) and closes the original. Keeps `fd` as it is when no
// number that high is free or allowed. Returns the fd to use.
int move_above_user_fds(int fd) noexcept;

}  // namespace cosync::loop
