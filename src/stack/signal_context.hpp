// What the overflow handler reads from the signal context the kernel saved:
// the one machine-specific part of overflow reporting. One implementation
// per architecture (signal_context_<arch>_linux.cpp), chosen by the build;
// signal_context_unknown_linux.cpp for the rest.
#pragma once

#include <cstdint>

namespace cosync::stack::overflow {

// The stack pointer of the interrupted code, or 0 where unknown. It stays
// the integer the kernel saved: it is only compared, never dereferenced.
std::uintptr_t interrupted_stack_pointer(const void* ucontext) noexcept;

}  // namespace cosync::stack::overflow
