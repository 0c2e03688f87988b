#include <cerrno>
#include <system_error>

#include "loop/io_uring_factory.hpp"

namespace cosync::loop {

const std::string& io_uring_refusal() {
  static const std::string problem =
      "io_uring: this cosync was built without the io_uring loop (COSYNC_WITH_IO_URING=OFF)";
  return problem;
}

std::unique_ptr<Loop> new_io_uring_loop() {
  throw std::system_error(std::make_error_code(std::errc::function_not_supported),
                          "cosync: " + io_uring_refusal());
}

}  // namespace cosync::loop
