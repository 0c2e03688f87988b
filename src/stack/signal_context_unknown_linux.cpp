#include "stack/signal_context.hpp"

namespace cosync::stack::overflow {

// An architecture without a reader: the handler then blames a fault below
// the running stack on it only when the fault lies in another coroutine's
// memory (overflow_linux.cpp).
std::uintptr_t interrupted_stack_pointer(const void* /*ucontext*/) noexcept { return 0; }

}  // namespace cosync::stack::overflow
