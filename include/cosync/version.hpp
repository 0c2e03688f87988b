// The library's version (C: cosync_version() in cosync.h).
#pragma once

#include <string_view>

#include "cosync/config.hpp"
#include "cosync/export.hpp"

namespace cosync {

/// The version of the cosync library the program runs with ("MAJOR.MINOR.PATCH");
/// COSYNC_VERSION_STRING is the version of the headers it was compiled with.
COSYNC_API std::string_view version() noexcept;

}  // namespace cosync
