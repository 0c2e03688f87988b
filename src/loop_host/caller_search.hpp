// Whether a host library function is among this stack's callers: how an
// adapter tells that a wait outside coroutines was called from inside one
// of the host's callbacks, when the host has no "dispatching now?" query
// (libuv) or has one only through a hook the application may want for
// itself (tevent's trace callback, which Samba's smbd installs). Only that
// slow path pays for the stack walk.
#pragma once

#include <cstdint>

namespace cosync::host_loop {

// The code of one function: [begin, end).
struct CodeRange {
  std::uintptr_t begin = 0;
  std::uintptr_t end = 0;
};

// The extent of `symbol` as the shared library `soname` defines it, or else
// of the function at `fallback` (the caller's own reference to it, which a
// non-PIE executable may resolve to its PLT stub). Empty when neither is
// known: on_call_stack then answers false.
CodeRange find_function(const char* soname, const char* symbol, void* fallback) noexcept;

// True when a return address on the current stack lies in `code`.
bool on_call_stack(const CodeRange& code) noexcept;

}  // namespace cosync::host_loop
