// A loop's per-fd records, indexed by the fd number (fds are small and
// dense): the built-in epoll loop and the host adapters keep one each.
#pragma once

#include <cerrno>
#include <cstddef>
#include <string>
#include <system_error>
#include <vector>

namespace cosync::loop_detail {

template <class Entry>
class FdTable {
 public:
  // The record of `fd`, or null when the table never grew that far. Growing
  // moves the records: callbacks may open fds, so look up again after one.
  Entry* find(int fd) noexcept {
    return fd >= 0 && static_cast<std::size_t>(fd) < entries_.size()
               ? &entries_[static_cast<std::size_t>(fd)]
               : nullptr;
  }
  const Entry* find(int fd) const noexcept { return const_cast<FdTable*>(this)->find(fd); }

  // The record of `fd`, growing the table to it; a negative fd is EBADF.
  Entry& grow_to(int fd) {
    if (fd < 0) {
      throw std::system_error(EBADF, std::generic_category(),
                              "cosync: cannot wait on fd " + std::to_string(fd));
    }
    if (static_cast<std::size_t>(fd) >= entries_.size()) {
      entries_.resize(static_cast<std::size_t>(fd) + 1);
    }
    return entries_[static_cast<std::size_t>(fd)];
  }

  auto begin() noexcept { return entries_.begin(); }
  auto end() noexcept { return entries_.end(); }

 private:
  std::vector<Entry> entries_;
};

}  // namespace cosync::loop_detail
