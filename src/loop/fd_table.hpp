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
  FdTable() = default;
  FdTable(const FdTable&) = delete;  // find() points into the vector
  FdTable& operator=(const FdTable&) = delete;

  // The record of `fd`, or null when the table never grew that far. Growing
  // moves the records: callbacks may open fds, so look up again after one.
  // One unsigned compare covers a negative fd too; the count is kept
  // apart from the vector so the lookup on every wait needs no division.
  Entry* find(int fd) noexcept {
    return static_cast<unsigned>(fd) < count_ ? data_ + fd : nullptr;
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
      data_ = entries_.data();
      count_ = static_cast<unsigned>(entries_.size());
    }
    return entries_[static_cast<std::size_t>(fd)];
  }

  auto begin() noexcept { return entries_.begin(); }
  auto end() noexcept { return entries_.end(); }

 private:
  std::vector<Entry> entries_;
  Entry* data_ = nullptr;  // entries_.data() and size(), for find
  unsigned count_ = 0;
};

}  // namespace cosync::loop_detail
