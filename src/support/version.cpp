// The library's version, from CMake's project(VERSION) through cosync/config.h:
// compiled into the library, so a program can compare it with the headers'.
#include "cosync/version.hpp"

#include "cosync/config.h"

namespace cosync {

std::string_view version() noexcept { return COSYNC_VERSION_STRING; }

}  // namespace cosync
