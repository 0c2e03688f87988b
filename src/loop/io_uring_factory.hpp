// The io_uring loop as the loop maker (loop.cpp) sees it: made by
// io_uring_loop_linux.cpp, or refused by io_uring_loop_absent.cpp in a build
// without it (COSYNC_WITH_IO_URING=OFF), so loop.cpp needs no liburing.
#pragma once

#include <memory>
#include <string>

#include "cosync/loop.hpp"

namespace cosync::loop {

// Empty when io_uring loops can run in this process, else what refused
// them (the kernel, valgrind, or the build); decided once.
const std::string& io_uring_refusal();
// A new io_uring loop; throws std::system_error naming what refused it.
std::unique_ptr<Loop> new_io_uring_loop();

}  // namespace cosync::loop
