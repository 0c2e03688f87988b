#include <ucontext.h>

#include "stack/signal_context.hpp"

namespace cosync::stack::overflow {

// aarch64: sp.
std::uintptr_t interrupted_stack_pointer(const void* ucontext) noexcept {
  const auto* uc = static_cast<const ucontext_t*>(ucontext);
  return static_cast<std::uintptr_t>(uc->uc_mcontext.sp);
}

}  // namespace cosync::stack::overflow
