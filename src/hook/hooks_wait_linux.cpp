// The interposed waits: poll, select and epoll_wait over any number of fds
// (a coroutine waits on all of them at once and gets the kernel's own
// answer), and the sleeps.
#include <poll.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <time.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <vector>

#include "hook/fd_state.hpp"
#include "hook/real_linux.hpp"
#include "hook/waiting.hpp"

// glibc's report of a fortified call's overflow (it does not return).
extern "C" [[noreturn]] void __chk_fail(void);  // NOLINT(readability-identifier-naming): glibc's

namespace cosync::hook {
namespace {

constexpr std::int64_t kNanosPerSecond = 1000000000;

Deadline deadline_in_ms(int timeout_ms) noexcept {
  return timeout_ms < 0 ? no_deadline : Clock::now() + std::chrono::milliseconds(timeout_ms);
}

std::chrono::nanoseconds to_duration(const timespec& length) noexcept {
  return std::chrono::seconds(length.tv_sec) + std::chrono::nanoseconds(length.tv_nsec);
}

Deadline deadline_in(const timespec* timeout) noexcept {
  return timeout == nullptr ? no_deadline : Clock::now() + to_duration(*timeout);
}

timespec to_timespec(Clock::duration length) noexcept {
  const auto nanos = std::max<std::int64_t>(
      0, std::chrono::duration_cast<std::chrono::nanoseconds>(length).count());
  return {static_cast<time_t>(nanos / kNanosPerSecond), static_cast<long>(nanos % kNanosPerSecond)};
}

bool passed(Deadline deadline) noexcept {
  return deadline != no_deadline && Clock::now() >= deadline;
}

// The loop directions a poll(2) event mask needs; errors and hang-ups, which
// poll always reports, come as readability.
unsigned directions(short events) noexcept {
  unsigned wanted = 0;
  if ((events & (POLLOUT | POLLWRNORM | POLLWRBAND)) != 0) wanted |= io_writable;
  if ((events & ~(POLLOUT | POLLWRNORM | POLLWRBAND)) != 0 || wanted == 0) wanted |= io_readable;
  return wanted;
}

// The fds of one poll, with their generations when it began.
class Interests {
 public:
  Interests() = default;
  Interests(const Interests&) = delete;
  Interests& operator=(const Interests&) = delete;
  ~Interests() = default;

  void add(int fd, unsigned events) {
    const FdRecord* record = fd_record(fd);
    const FdInterest interest{fd, events, record != nullptr ? record->current_generation() : 0};
    if (count_ < inline_.size()) {
      inline_[count_++] = interest;
      return;
    }
    if (heap_.empty()) heap_.assign(inline_.begin(), inline_.end());
    heap_.push_back(interest);
    ++count_;
  }
  const FdInterest* data() const noexcept { return heap_.empty() ? inline_.data() : heap_.data(); }
  std::size_t size() const noexcept { return count_; }
  // Whether `fd` was closed (or its number reused) since the poll began.
  bool closed(int fd) const noexcept {
    for (std::size_t i = 0; i < count_; ++i) {
      const FdInterest& interest = data()[i];
      const FdRecord* record = fd_record(fd);
      if (interest.fd == fd && record != nullptr &&
          record->current_generation() != interest.generation) {
        return true;
      }
    }
    return false;
  }

 private:
  std::array<FdInterest, 8> inline_{};
  std::vector<FdInterest> heap_;
  std::size_t count_ = 0;
};

// The kernel's answer for the fds still open; POLLNVAL for those closed
// while the coroutine waited, whatever their number names now.
int poll_after_close(pollfd* fds, nfds_t count, const Interests& interests) {
  const int found = real::poll(fds, count, 0);
  if (found < 0) return found;
  int ready = 0;
  for (nfds_t i = 0; i < count; ++i) {
    if (fds[i].fd >= 0 && interests.closed(fds[i].fd)) fds[i].revents = POLLNVAL;
    if (fds[i].revents != 0) ++ready;
  }
  return ready;
}

int poll_in_coroutine(Loop& loop, pollfd* fds, nfds_t count, Deadline deadline) {
  const int saved = errno;
  Interests interests;
  for (nfds_t i = 0; i < count; ++i) {
    if (fds[i].fd >= 0) interests.add(fds[i].fd, directions(fds[i].events));
  }
  for (;;) {
    const int found = real::poll(fds, count, 0);
    if (found != 0) {
      if (found > 0) errno = saved;
      return found;
    }
    if (deadline != no_deadline && passed(deadline)) break;
    const int end = wait_fds(loop, interests.data(), interests.size(), deadline);
    if (end == ETIMEDOUT) break;
    if (end == EBADF) {
      errno = saved;
      return poll_after_close(fds, count, interests);
    }
    if (end != 0) {
      errno = end;
      return -1;
    }
  }
  errno = saved;
  return 0;
}

// select's sets as poll's list, and back.
struct SelectSets {
  fd_set* readable;
  fd_set* writable;
  fd_set* failed;

  static bool has(const fd_set* set, int fd) noexcept {
    return set != nullptr && FD_ISSET(fd, set);
  }
  void add_interests(int count, Interests& interests) const {
    for (int fd = 0; fd < count; ++fd) {
      unsigned events = has(readable, fd) || has(failed, fd) ? unsigned{io_readable} : 0U;
      if (has(writable, fd)) events |= io_writable;
      if (events != 0) interests.add(fd, events);
    }
  }
};

void copy_set(fd_set* to, const fd_set* from) noexcept {
  if (to != nullptr) *to = *from;
}

// Linux's select leaves the time not slept in *timeout.
void store_left(timeval* timeout, Deadline deadline) noexcept {
  if (timeout == nullptr || deadline == no_deadline) return;
  const auto left = std::max(Clock::duration::zero(), deadline - Clock::now());
  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(left).count();
  timeout->tv_sec = static_cast<time_t>(micros / 1000000);
  timeout->tv_usec = static_cast<suseconds_t>(micros % 1000000);
}

int select_in_coroutine(Loop& loop, int count, SelectSets sets, Deadline deadline) {
  const int saved = errno;
  fd_set wanted[3];
  fd_set* user[3] = {sets.readable, sets.writable, sets.failed};
  for (int i = 0; i < 3; ++i) {
    if (user[i] != nullptr) wanted[i] = *user[i];
  }
  Interests interests;
  sets.add_interests(count, interests);
  const timespec zero{};
  for (;;) {
    for (int i = 0; i < 3; ++i) copy_set(user[i], &wanted[i]);
    const int found = real::pselect(count, user[0], user[1], user[2], &zero, nullptr);
    if (found != 0) {
      if (found > 0) errno = saved;
      return found;
    }
    if (deadline != no_deadline && passed(deadline)) break;
    const int end = wait_fds(loop, interests.data(), interests.size(), deadline);
    if (end == ETIMEDOUT) break;
    if (end != 0 && end != EBADF) {
      errno = end;
      return -1;
    }
  }
  errno = saved;
  return 0;
}

int epoll_in_coroutine(Loop& loop, int epoll_fd, epoll_event* events, int count,
                       Deadline deadline) {
  const int saved = errno;
  const FdRecord* record = fd_record(epoll_fd);
  const FdInterest interest{epoll_fd, io_readable,
                            record != nullptr ? record->current_generation() : 0};
  for (;;) {
    const int found = real::epoll_pwait(epoll_fd, events, count, 0, nullptr);
    if (found != 0) {
      if (found > 0) errno = saved;
      return found;
    }
    if (deadline != no_deadline && passed(deadline)) break;
    const int end = wait_fds(loop, &interest, 1, deadline);
    if (end == ETIMEDOUT) break;
    if (end != 0 && end != EBADF) {
      errno = end;
      return -1;
    }
  }
  errno = saved;
  return 0;
}

bool valid(const timespec& length) noexcept {
  return length.tv_sec >= 0 && length.tv_nsec >= 0 && length.tv_nsec < kNanosPerSecond;
}

// A coroutine's sleep: 0, or ECANCELED with the time left in *left.
int sleep_in_coroutine(Deadline deadline, timespec* left) {
  const int saved = errno;
  if (const int end = sleep_until(deadline); end != 0) {
    if (left != nullptr) *left = to_timespec(deadline - Clock::now());
    return end;
  }
  errno = saved;
  return 0;
}

// clock_nanosleep's deadline on the monotonic clock; false for clocks a
// coroutine does not sleep on (CPU-time clocks).
bool clock_deadline(clockid_t clock, int flags, const timespec& request, Deadline& deadline) {
  if (clock != CLOCK_MONOTONIC && clock != CLOCK_REALTIME && clock != CLOCK_BOOTTIME) {
    return false;
  }
  if ((flags & TIMER_ABSTIME) == 0) {
    deadline = Clock::now() + to_duration(request);
    return true;
  }
  timespec now{};
  clock_gettime(clock, &now);
  deadline = Clock::now() + (to_duration(request) - to_duration(now));
  return true;
}

}  // namespace
}  // namespace cosync::hook

namespace hook = cosync::hook;
namespace real = cosync::hook::real;

// The definitions below replace libc's: their names are libc's, and
// their parameters cannot take glibc's reserved names.
// NOLINTBEGIN(readability-identifier-naming,readability-inconsistent-declaration-parameter-name)
extern "C" {

int poll(struct pollfd* fds, nfds_t count, int timeout_ms) {
  cosync::Loop* loop = timeout_ms != 0 ? hook::cooperative_loop() : nullptr;
  if (loop == nullptr) {
    return real::poll(fds, count, timeout_ms);
  }
  return hook::poll_in_coroutine(*loop, fds, count, hook::deadline_in_ms(timeout_ms));
}

int __poll_chk(struct pollfd* fds, nfds_t count, int timeout_ms, size_t fds_size) {
  if (fds_size / sizeof(pollfd) < count) __chk_fail();
  return poll(fds, count, timeout_ms);
}

int ppoll(struct pollfd* fds, nfds_t count, const struct timespec* timeout, const sigset_t* mask) {
  const bool waits = timeout == nullptr || timeout->tv_sec != 0 || timeout->tv_nsec != 0;
  cosync::Loop* loop =
      waits && (timeout == nullptr || hook::valid(*timeout)) ? hook::cooperative_loop() : nullptr;
  if (loop == nullptr) {
    return real::ppoll(fds, count, timeout, mask);
  }
  return hook::poll_in_coroutine(*loop, fds, count, hook::deadline_in(timeout));
}

int select(int count, fd_set* readable, fd_set* writable, fd_set* failed, struct timeval* timeout) {
  const bool waits = timeout == nullptr || timeout->tv_sec != 0 || timeout->tv_usec != 0;
  const bool sane = count >= 0 && count <= FD_SETSIZE &&
                    (timeout == nullptr || (timeout->tv_sec >= 0 && timeout->tv_usec >= 0));
  cosync::Loop* loop = waits && sane ? hook::cooperative_loop() : nullptr;
  if (loop == nullptr) {
    timespec length{};
    if (timeout != nullptr) length = {timeout->tv_sec, timeout->tv_usec * 1000L};
    const cosync::Deadline deadline = hook::deadline_in(timeout != nullptr ? &length : nullptr);
    const int found = real::pselect(count, readable, writable, failed,
                                    timeout != nullptr ? &length : nullptr, nullptr);
    hook::store_left(timeout, deadline);
    return found;
  }
  const cosync::Deadline deadline =
      timeout == nullptr ? cosync::no_deadline
                         : cosync::Clock::now() + std::chrono::seconds(timeout->tv_sec) +
                               std::chrono::microseconds(timeout->tv_usec);
  const int found = hook::select_in_coroutine(*loop, count, {readable, writable, failed}, deadline);
  hook::store_left(timeout, deadline);
  return found;
}

int pselect(int count, fd_set* readable, fd_set* writable, fd_set* failed,
            const struct timespec* timeout, const sigset_t* mask) {
  const bool waits = timeout == nullptr || timeout->tv_sec != 0 || timeout->tv_nsec != 0;
  const bool sane =
      count >= 0 && count <= FD_SETSIZE && (timeout == nullptr || hook::valid(*timeout));
  cosync::Loop* loop = waits && sane ? hook::cooperative_loop() : nullptr;
  if (loop == nullptr) {
    return real::pselect(count, readable, writable, failed, timeout, mask);
  }
  return hook::select_in_coroutine(*loop, count, {readable, writable, failed},
                                   hook::deadline_in(timeout));
}

int epoll_wait(int epoll_fd, struct epoll_event* events, int count, int timeout_ms) {
  cosync::Loop* loop = timeout_ms != 0 && count > 0 ? hook::cooperative_loop() : nullptr;
  if (loop == nullptr) {
    return real::epoll_pwait(epoll_fd, events, count, timeout_ms, nullptr);
  }
  return hook::epoll_in_coroutine(*loop, epoll_fd, events, count, hook::deadline_in_ms(timeout_ms));
}

int epoll_pwait(int epoll_fd, struct epoll_event* events, int count, int timeout_ms,
                const sigset_t* mask) {
  cosync::Loop* loop = timeout_ms != 0 && count > 0 ? hook::cooperative_loop() : nullptr;
  if (loop == nullptr) {
    return real::epoll_pwait(epoll_fd, events, count, timeout_ms, mask);
  }
  return hook::epoll_in_coroutine(*loop, epoll_fd, events, count, hook::deadline_in_ms(timeout_ms));
}

unsigned int sleep(unsigned int seconds) {
  cosync::Loop* loop = seconds != 0 ? hook::cooperative_loop() : nullptr;
  if (loop == nullptr) {
    timespec length{static_cast<time_t>(seconds), 0};
    timespec left{};
    if (real::nanosleep(&length, &left) == 0) return 0;
    return static_cast<unsigned>(left.tv_sec + (left.tv_nsec > 0 ? 1 : 0));
  }
  timespec left{};
  if (hook::sleep_in_coroutine(cosync::Clock::now() + std::chrono::seconds(seconds), &left) == 0) {
    return 0;
  }
  return static_cast<unsigned>(left.tv_sec + (left.tv_nsec > 0 ? 1 : 0));
}

int usleep(useconds_t micros) {
  cosync::Loop* loop = micros != 0 ? hook::cooperative_loop() : nullptr;
  if (loop == nullptr) {
    const timespec length = hook::to_timespec(std::chrono::microseconds(micros));
    return real::nanosleep(&length, nullptr);
  }
  if (const int end = hook::sleep_in_coroutine(
          cosync::Clock::now() + std::chrono::microseconds(micros), nullptr);
      end != 0) {
    errno = end;
    return -1;
  }
  return 0;
}

int nanosleep(const struct timespec* length, struct timespec* left) {
  cosync::Loop* loop =
      length != nullptr && hook::valid(*length) ? hook::cooperative_loop() : nullptr;
  if (loop == nullptr) {
    return real::nanosleep(length, left);
  }
  if (const int end = hook::sleep_in_coroutine(hook::deadline_in(length), left); end != 0) {
    errno = end;
    return -1;
  }
  return 0;
}

int clock_nanosleep(clockid_t clock, int flags, const struct timespec* request,
                    struct timespec* left) {
  cosync::Deadline deadline{};
  cosync::Loop* loop = request != nullptr && hook::valid(*request) &&
                               hook::clock_deadline(clock, flags, *request, deadline)
                           ? hook::cooperative_loop()
                           : nullptr;
  if (loop == nullptr) {
    return real::clock_nanosleep(clock, flags, request, left);
  }
  return hook::sleep_in_coroutine(deadline, (flags & TIMER_ABSTIME) != 0 ? nullptr : left);
}

}  // extern "C"
// NOLINTEND(readability-identifier-naming,readability-inconsistent-declaration-parameter-name)
