// A wake-up another thread can send to a loop that polls one fd: the
// built-in loop's epoll set and the libevent adapter's persistent read
// event both watch it. Sending only touches the kernel object, so it needs
// no lock shared with the loop (a libevent base need not have locking).
#pragma once

namespace cosync::loop {

class WakeFd {
 public:
  // Throws std::system_error when the kernel refuses the fd.
  WakeFd();
  ~WakeFd();
  WakeFd(const WakeFd&) = delete;
  WakeFd& operator=(const WakeFd&) = delete;

  // Readable from the first send until the next drain.
  int fd() const noexcept { return fd_; }
  // Any thread.
  void send() const noexcept;
  // The loop's thread, before it looks at what the senders left for it.
  void drain() const noexcept;

 private:
  int fd_ = -1;
};

}  // namespace cosync::loop
