// The errors every layer raises the same way.
#pragma once

#include <cerrno>
#include <string>
#include <system_error>

namespace cosync::support {

// Throws std::system_error for `error` (an errno value) with "cosync: "
// and `what`, which names the call or the thing that failed ("cannot wait
// on fd 7").
[[noreturn]] inline void throw_errno(int error, const std::string& what) {
  throw std::system_error(error, std::generic_category(), "cosync: " + what);
}

// Prints "cosync: <message>" to stderr and aborts: for broken invariants a
// caller cannot recover from (the process state is no longer trustworthy).
[[noreturn]] void fatal(const std::string& message) noexcept;

}  // namespace cosync::support
