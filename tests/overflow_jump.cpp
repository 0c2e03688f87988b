// A frame that allocates more than a guard and touches only its far end, as
// code built without -fstack-clash-protection does (g++'s default on
// Debian). tests/CMakeLists.txt compiles this file with
// -fno-stack-clash-protection.
#include "overflow_jump.hpp"

#include <alloca.h>

namespace cosync::test {

int touch_far_below(std::size_t distance) {
  auto* frame = static_cast<volatile char*>(alloca(distance));
  frame[0] = 1;
  return frame[0];
}

}  // namespace cosync::test
