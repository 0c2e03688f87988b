// Whether a host library function is among this stack's callers: how an
// adapter tells that a wait outside coroutines was called from inside one
// of the host's callbacks, when the host has no "dispatching now?" query
// (libuv) or has one only through a hook the application may want for
// itself (tevent's trace callback, which Samba's smbd installs). Only that
// slow path pays for the stack walk.
#pragma once

#include <algorithm>
#include <cstdint>
#include <span>

namespace cosync::loop_host {

// The code of one function: [begin, end). An empty range (begin == end)
// stands for a function that was not found: it contains no address, so it
// matches no caller.
struct CodeRange {
  std::uintptr_t begin = 0;
  std::uintptr_t end = 0;

  bool empty() const noexcept { return begin == end; }
};

// The extent of `symbol` as the shared library `soname` defines it, or else
// of the function at `fallback` (the caller's own reference to it, which a
// non-PIE executable may resolve to its PLT stub). Empty when neither is
// known.
CodeRange find_function(const char* soname, const char* symbol, void* fallback) noexcept;

// True when every range in `code` is empty: none of its functions was found.
inline bool none_found(std::span<const CodeRange> code) noexcept {
  return std::ranges::all_of(code, &CodeRange::empty);
}

// True when a return address on the current stack lies in any of `code`;
// one walk of the stack serves them all. False when none_found(code).
bool on_call_stack(std::span<const CodeRange> code) noexcept;

inline bool on_call_stack(const CodeRange& code) noexcept {
  return on_call_stack(std::span<const CodeRange>(&code, 1));
}

}  // namespace cosync::loop_host
