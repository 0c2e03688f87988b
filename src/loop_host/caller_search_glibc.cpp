// The caller search over glibc's dladdr1 and the unwinder's backtrace.
#include <dlfcn.h>
#include <link.h>
#include <unwind.h>

#include "loop_host/caller_search.hpp"

namespace cosync::loop_host {

CodeRange find_function(const char* soname, const char* symbol, void* fallback) noexcept {
  void* address = fallback;
  if (void* library = dlopen(soname, RTLD_LAZY | RTLD_NOLOAD); library != nullptr) {
    if (void* own = dlsym(library, symbol); own != nullptr) address = own;
    dlclose(library);
  }
  Dl_info info{};
  void* entry = nullptr;  // dladdr1 stores a const ElfW(Sym)* here
  if (address == nullptr || dladdr1(address, &info, &entry, RTLD_DL_SYMENT) == 0 ||
      entry == nullptr || info.dli_saddr == nullptr) {
    return {};
  }
  const auto begin = reinterpret_cast<std::uintptr_t>(info.dli_saddr);
  return {begin, begin + static_cast<const ElfW(Sym)*>(entry)->st_size};
}

// A return address points just past its call, so it may equal `end` when
// the call is the function's last instruction, never `begin`.
bool on_call_stack(std::span<const CodeRange> code) noexcept {
  struct Search {
    std::span<const CodeRange> code;
    bool found = false;
  } search{code};
  if (none_found(code)) {
    return false;
  }
  _Unwind_Backtrace(
      [](_Unwind_Context* context, void* data) {
        auto* state = static_cast<Search*>(data);
        const std::uintptr_t return_address = _Unwind_GetIP(context);
        for (const CodeRange& range : state->code) {
          if (return_address > range.begin && return_address <= range.end) {
            state->found = true;
            return _URC_END_OF_STACK;
          }
        }
        return _URC_NO_REASON;
      },
      &search);
  return search.found;
}

}  // namespace cosync::loop_host
