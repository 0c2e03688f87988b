// The loop's internals that cosync/loop.hpp needs inline for speed: the
// loop-owned parts of the callback nodes, the readiness cache Loop::io_ready
// reads, the post gate, and the thread's loop pointer. Internal to cosync;
// not part of the API: nothing here is for the user to set or read.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <mutex>

namespace cosync {

class Loop;

namespace impl {

// The loop's part of a Timer: its place in the timer heap.
struct TimerSlot {
  // heap_index's value while the timer is not armed.
  static constexpr std::size_t not_armed = std::numeric_limits<std::size_t>::max();
  std::uint64_t sequence = 0;          // orders timers with equal deadlines
  std::size_t heap_index = not_armed;  // the timer's place in the heap
};

// The loop's readiness cache as Loop's inline io_ready and io_not_ready read
// it (they run around every read and write, so they are not virtual calls):
// one byte per fd, kept in the backend's own per-fd records, kStride bytes
// apart, from `first` on for `count` fds (the loop core's FdTable keeps
// them up to date as it grows). The layout is compiled into the programs
// that call io_ready: changing it changes the library's binary interface.
struct Readiness {
  static constexpr unsigned kStride = 32;
  // Bits 0-1: the IoEvent directions seen ready and not consumed since.
  // Bits 2-3: directions that stay ready for good (the built-in loop sets
  // them after a hang-up or an error, when no further edge will come; the
  // host adapters' hosts report readiness for as long as it lasts).
  static constexpr unsigned kForGoodShift = 2;
  // Set while the loop keeps a record of the fd. An fd without one reads
  // as ready both ways, so an operation on an fd never waited on is tried.
  static constexpr std::uint8_t kKnown = 0x80;
  // Both directions (io_readable | io_writable; loop.hpp checks it).
  static constexpr std::uint8_t kUnknown = 3;

  static bool known(std::uint8_t bits) noexcept { return (bits & kKnown) != 0; }

  // Clears `event` (IoEvent bits) unless it is ready for good; bits beyond
  // the two directions are never touched, whatever `event` holds.
  static void clear(std::uint8_t& bits, unsigned event) noexcept {
    const unsigned cleared = event & kUnknown & ~(static_cast<unsigned>(bits) >> kForGoodShift);
    bits &= static_cast<std::uint8_t>(~cleared);
  }

  std::uint8_t* first = nullptr;
  unsigned count = 0;

  // The byte of fd number `index` (< count); std::size_t, so that no fd
  // number wraps the offset.
  std::uint8_t& at(unsigned index) const noexcept { return first[std::size_t{index} * kStride]; }
};

// How code on other threads that may outlive a loop (the blocking pool's
// workers) reaches it: post only while `open`, holding `mutex`. The loop
// closes it first thing in its destructor.
struct PostGate {
  std::mutex mutex;
  bool open = true;  // guarded by mutex
};

}  // namespace impl
}  // namespace cosync
