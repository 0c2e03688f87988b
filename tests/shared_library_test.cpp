// Links against libcosync.so instead of the static library: the inline
// switch in the public header must find every symbol it calls.
#include <gtest/gtest.h>

#include "cosync/cosync.hpp"

namespace cosync {
namespace {

TEST(SharedLibrary, CoroutinesAndRequestsWork) {
  auto task = create(
      [](int x) {
        yield();
        return x + 1;
      },
      41);
  task.resume();
  EXPECT_EQ(task.join(), 42);
  EXPECT_EQ(spawn([] { return 7; }).get(), 7);
}

TEST(SharedLibrary, UsageErrorsCrossTheLibraryBoundary) { EXPECT_THROW(yield(), UsageError); }

}  // namespace
}  // namespace cosync
