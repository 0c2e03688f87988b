// The C++ runtime's per-thread exception state, read through the Itanium C++
// ABI (libstdc++ and libc++abi both implement it): the stack of exceptions
// being handled (one per active catch block) and the count of exceptions in
// flight (thrown, not yet caught: unwinding is in progress).
//
// cosync does not save and restore this state per coroutine (Boost 1.88 did,
// and needed three follow-up fixes); it refuses to suspend a coroutine that
// changed it, see coroutine.hpp.
#pragma once

#include <cxxabi.h>

namespace cosync::exception_state {

// Mirrors __cxa_eh_globals (Itanium C++ ABI, section 2.2.2).
struct Globals {
  void* caught_exceptions;
  unsigned int uncaught_exceptions;
};

inline const Globals& read() noexcept {
  return *reinterpret_cast<const Globals*>(abi::__cxa_get_globals());
}

}  // namespace cosync::exception_state
