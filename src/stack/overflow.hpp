// Stack overflow reporting: a SIGSEGV handler on an alternate signal stack
// that recognises faults in the running coroutine's guard, and the same kind
// of report for a broken canary.
#pragma once

#include <cstdint>

#include "cosync/stack.hpp"

namespace cosync::stack::overflow {

// A coroutine a fault or a broken canary concerns; `stack` is null for none.
struct Culprit {
  std::uint64_t id = 0;
  const char* name = "";
  const Stack* stack = nullptr;
};

// Called from the SIGSEGV handler, so it must be async-signal-safe: fills
// `running` with the coroutine this thread runs (left empty on the main
// context) and `owner` with this thread's coroutine whose stack or guard
// holds `fault` (left empty when none does). The coroutine layer registers
// it.
using Resolver = void (*)(const void* fault, Culprit* running, Culprit* owner) noexcept;
void set_resolver(Resolver resolver) noexcept;

// Installs the handler once per process and this thread's alternate signal
// stack once per thread. Cheap after the first call on a thread.
void ensure_installed();

// Installs the handler now, in front of whatever SIGSEGV handler is current.
void install_now();

// Prints one line naming the coroutine and its stack, then aborts.
[[noreturn]] void report_broken_canary(const Culprit& culprit) noexcept;

}  // namespace cosync::stack::overflow
