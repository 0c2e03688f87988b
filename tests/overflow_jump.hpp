// Helpers of the overflow death tests built without stack-clash probes,
// and the recursion every overflow test uses.
#pragma once

#include <cstddef>

namespace cosync::test {

// Moves the stack pointer about `distance` bytes down in one step, without
// probing the pages in between, and writes there.
int touch_far_below(std::size_t distance);

// Calls itself until the stack overflows, 256 bytes of frame at a time
// (the addition after the call keeps it from becoming a loop).
inline int recurse_forever(int depth) {
  volatile char frame[256];
  frame[0] = static_cast<char>(depth);
  if (depth < 0) {  // never true; keeps the compiler from proving the obvious
    return 0;
  }
  return recurse_forever(depth + 1) + frame[0];
}

}  // namespace cosync::test
