// The version: CMake's project(VERSION), the headers' macros, and what the
// library reports through the C++ and the C API, all one.
#include <gtest/gtest.h>

#include <string_view>

#include "cosync.h"
#include "cosync/cosync.hpp"

namespace {

TEST(Version, TheLibraryReportsTheProjectVersion) {
  EXPECT_EQ(cosync::version(), COSYNC_PROJECT_VERSION);
  EXPECT_EQ(std::string_view(cosync_version()), COSYNC_PROJECT_VERSION);
  EXPECT_EQ(std::string_view(COSYNC_VERSION_STRING), COSYNC_PROJECT_VERSION);
}

TEST(Version, TheMacrosSpellTheString) {
  const std::string parts = std::to_string(COSYNC_VERSION_MAJOR) + "." +
                            std::to_string(COSYNC_VERSION_MINOR) + "." +
                            std::to_string(COSYNC_VERSION_PATCH);
  EXPECT_EQ(parts, COSYNC_VERSION_STRING);
}

}  // namespace
