// The calls of hook_fortified.cpp, built as a fortified program builds them.
#pragma once

#include <sys/types.h>

#include <cstddef>

namespace cosync::test {

// read, recv, recvfrom of one byte (the size is a variable the compiler
// cannot see: the checked variants __read_chk... are called).
ssize_t fortified_read(int fd);
ssize_t fortified_recv(int fd);
ssize_t fortified_recvfrom(int fd);
// poll for POLLIN on fd through __poll_chk: 1 when it came.
int fortified_poll(int fd);
// fcntl(fd, F_GETFL) as fcntl64.
int flags_through_fcntl64(int fd);

}  // namespace cosync::test
