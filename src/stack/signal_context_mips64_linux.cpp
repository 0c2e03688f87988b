#include <ucontext.h>

#include "stack/signal_context.hpp"

namespace cosync::stack::overflow {

// mips64: $29 (sp).
std::uintptr_t interrupted_stack_pointer(const void* ucontext) noexcept {
  const auto* uc = static_cast<const ucontext_t*>(ucontext);
  return static_cast<std::uintptr_t>(uc->uc_mcontext.gregs[29]);
}

}  // namespace cosync::stack::overflow
