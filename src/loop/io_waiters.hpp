// The waits on one fd, as the loop core's fd records keep them for every
// backend: one reader and one writer at a time,
// and a wait for both directions holds both slots.
#pragma once

#include <cerrno>
#include <string>

#include "cosync/loop.hpp"
#include "support/errors.hpp"

namespace cosync::loop {

struct IoWaiters {
  IoWait* reader = nullptr;
  IoWait* writer = nullptr;

  // True when no other wait holds a direction `wait` asks for.
  bool is_free_for(const IoWait& wait) const noexcept {
    return !reader_taken_for(wait) && !writer_taken_for(wait);
  }
  // Refuses (EBUSY, naming the fd) a direction another wait holds.
  void check_free(const IoWait& wait) const {
    if (reader_taken_for(wait)) refuse(wait, "reader");
    if (writer_taken_for(wait)) refuse(wait, "writer");
  }

  // Puts `wait` in the slots of the directions it asks for, armed.
  void hold(IoWait& wait) noexcept {
    if (reads(wait)) reader = &wait;
    if (writes(wait)) writer = &wait;
    wait.error = 0;
    wait.armed = true;
  }

  // Takes `wait` out of every slot it holds (a cancel).
  void release(IoWait& wait) noexcept {
    if (reader == &wait) reader = nullptr;
    if (writer == &wait) writer = nullptr;
    wait.armed = false;
  }

  // Takes the wait in `direction` (&IoWaiters::reader or ::writer) out of
  // both slots and marks it ended with `error`; the caller runs its
  // callback. Null when nobody waits that way.
  IoWait* take(IoWait* IoWaiters::*direction, int error) noexcept {
    IoWait* wait = this->*direction;
    if (wait != nullptr) {
      release(*wait);
      wait->error = error;
    }
    return wait;
  }

 private:
  bool reader_taken_for(const IoWait& wait) const noexcept {
    return reads(wait) && reader != nullptr && reader != &wait;
  }
  bool writer_taken_for(const IoWait& wait) const noexcept {
    return writes(wait) && writer != nullptr && writer != &wait;
  }
  static bool reads(const IoWait& wait) noexcept { return (wait.events & io_readable) != 0; }
  static bool writes(const IoWait& wait) noexcept { return (wait.events & io_writable) != 0; }

  [[noreturn]] static void refuse(const IoWait& wait, const char* role) {
    support::throw_errno(EBUSY,
                         "fd " + std::to_string(wait.fd) + " already has a " + role + " waiting");
  }
};

}  // namespace cosync::loop
