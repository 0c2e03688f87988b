#include <ucontext.h>

#include "stack/signal_context.hpp"

namespace cosync::stack::overflow {

// riscv64: x2 (sp), slot REG_SP of the general registers.
std::uintptr_t interrupted_stack_pointer(const void* ucontext) noexcept {
  const auto* uc = static_cast<const ucontext_t*>(ucontext);
  return static_cast<std::uintptr_t>(uc->uc_mcontext.__gregs[REG_SP]);
}

}  // namespace cosync::stack::overflow
