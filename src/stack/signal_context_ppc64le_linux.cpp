#include <ucontext.h>

#include "stack/signal_context.hpp"

namespace cosync::stack::overflow {

// ppc64le: r1, the stack pointer of the ELFv2 ABI.
std::uintptr_t interrupted_stack_pointer(const void* ucontext) noexcept {
  const auto* uc = static_cast<const ucontext_t*>(ucontext);
  return static_cast<std::uintptr_t>(uc->uc_mcontext.gp_regs[1]);
}

}  // namespace cosync::stack::overflow
