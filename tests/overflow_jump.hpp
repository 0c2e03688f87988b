// Helpers of the overflow death tests built without stack-clash probes.
#pragma once

#include <cstddef>

namespace cosync::test {

// Moves the stack pointer about `distance` bytes down in one step, without
// probing the pages in between, and writes there.
int touch_far_below(std::size_t distance);

}  // namespace cosync::test
