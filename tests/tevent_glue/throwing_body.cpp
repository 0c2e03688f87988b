// A coroutine body that lets a C++ exception escape, for the C test of
// cosync_tevent_run_recv's -EIO (C code cannot throw).
#include <stdexcept>

extern "C" void* throwing_body(void* /*arg*/) {
  throw std::runtime_error("thrown by a synchronous function run through the tevent glue");
}
