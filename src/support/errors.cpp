#include "support/errors.hpp"

#include <cstdio>
#include <cstdlib>

namespace cosync::support {

void fatal(const std::string& message) noexcept {
  std::fprintf(stderr, "cosync: %s\n", message.c_str());
  std::fflush(stderr);
  std::abort();
}

}  // namespace cosync::support
