#include <ucontext.h>

#include "stack/signal_context.hpp"

namespace cosync::stack::overflow {

// s390x: r15, the stack pointer of the ELF ABI.
std::uintptr_t interrupted_stack_pointer(const void* ucontext) noexcept {
  const auto* uc = static_cast<const ucontext_t*>(ucontext);
  return static_cast<std::uintptr_t>(uc->uc_mcontext.gregs[15]);
}

}  // namespace cosync::stack::overflow
