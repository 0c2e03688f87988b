#include <signal.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "cosync/impl/probes.hpp"
#include "stack/os.hpp"
#include "stack/overflow.hpp"
#include "support/errors.hpp"

namespace cosync::stack::overflow {
namespace {

constexpr std::size_t kMinSignalStack = 64 * 1024;

std::atomic<Resolver> g_resolver{nullptr};
std::mutex g_install_mutex;
struct sigaction g_previous;  // guarded by g_install_mutex; read in the handler
std::atomic<bool> g_installed{false};

// A fixed buffer and hand-written number formatting: the handler may not
// call printf or allocate.
class Line {
 public:
  void text(const char* s) noexcept {
    while (*s != '\0' && length_ < sizeof buffer_) {
      buffer_[length_++] = *s++;
    }
  }
  void decimal(std::uint64_t value) noexcept {
    char digits[20];
    std::size_t count = 0;
    do {
      digits[count++] = static_cast<char>('0' + value % 10);
      value /= 10;
    } while (value != 0);
    while (count > 0 && length_ < sizeof buffer_) {
      buffer_[length_++] = digits[--count];
    }
  }
  void hex(const void* pointer) noexcept {
    auto value = reinterpret_cast<std::uintptr_t>(pointer);
    text("0x");
    char digits[16];
    std::size_t count = 0;
    do {
      digits[count++] = "0123456789abcdef"[value & 0xfU];
      value >>= 4U;
    } while (value != 0);
    while (count > 0 && length_ < sizeof buffer_) {
      buffer_[length_++] = digits[--count];
    }
  }
  void write_to_stderr() const noexcept {
    std::size_t done = 0;
    while (done < length_) {
      const ssize_t n = write(STDERR_FILENO, buffer_ + done, length_ - done);
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n <= 0) {
        return;
      }
      done += static_cast<std::size_t>(n);
    }
  }

 private:
  char buffer_[1024] = {};
  std::size_t length_ = 0;
};

void describe(Line& line, const char* what, const Culprit& culprit) noexcept {
  const Stack& stack = *culprit.stack;
  line.text("cosync: ");
  line.text(what);
  line.text(" in coroutine #");
  line.decimal(culprit.id);
  line.text(" \"");
  line.text(culprit.name);
  line.text("\": stack [");
  line.hex(stack.base);
  line.text(", ");
  line.hex(stack.top());
  line.text(")");
}

void reset_to_default() noexcept {
  struct sigaction action {};
  action.sa_handler = SIG_DFL;
  sigemptyset(&action.sa_mask);
  sigaction(SIGSEGV, &action, nullptr);
}

bool previous_is_function() noexcept {
  if ((g_previous.sa_flags & SA_SIGINFO) != 0) {
    return g_previous.sa_sigaction != nullptr;
  }
  return g_previous.sa_handler != SIG_DFL && g_previous.sa_handler != SIG_IGN;
}

void call_previous(int signo, siginfo_t* info, void* context) noexcept {
  if ((g_previous.sa_flags & SA_SIGINFO) != 0) {
    g_previous.sa_sigaction(signo, info, context);
  } else {
    g_previous.sa_handler(signo);
  }
}

// The stack pointer of the interrupted code, or 0 where unknown. It stays
// the integer the kernel saved: it is only compared, never dereferenced.
std::uintptr_t interrupted_stack_pointer(const void* context) noexcept {
  const auto* uc = static_cast<const ucontext_t*>(context);
#if defined(__x86_64__)
  return static_cast<std::uintptr_t>(uc->uc_mcontext.gregs[REG_RSP]);
#elif defined(__aarch64__)
  return uc->uc_mcontext.sp;
#else
  (void)uc;
  return 0;
#endif
}

// True when `address` is known (not 0) and lies below `limit`.
bool below(std::uintptr_t address, const void* limit) noexcept {
  return address != 0 && address < reinterpret_cast<std::uintptr_t>(limit);
}

void describe_guard_hit(Line& line, const Culprit& culprit, const void* fault) noexcept {
  COSYNC_PROBE(overflow, culprit.id, culprit.name, fault, culprit.stack->base);
  describe(line, "stack overflow", culprit);
  line.text(", guard [");
  line.hex(culprit.stack->mapping_base());
  line.text(", ");
  line.hex(culprit.stack->base);
  line.text("), fault address ");
  line.hex(fault);
}

// The running coroutine's frame went below its stack and past its guard:
// say where it landed, since whatever lies there may have been written.
void describe_jumped_guard(Line& line, const Culprit& running, const Culprit& owner,
                           const void* fault) noexcept {
  describe_guard_hit(line, running, fault);
  line.text(" outside its stack and guard, in the ");
  if (owner.stack == nullptr) {
    line.text("memory of no coroutine");
  } else {
    line.text(owner.stack->guard_contains(fault) ? "guard" : "stack");
    line.text(" of coroutine #");
    line.decimal(owner.id);
    line.text(" \"");
    line.text(owner.name);
    line.text("\" (stack [");
    line.hex(owner.stack->base);
    line.text(", ");
    line.hex(owner.stack->top());
    line.text("))");
  }
  line.text(": a frame larger than the ");
  line.decimal(running.stack->guard_size());
  line.text(
      "-byte guard jumped it and may have overwritten the memory below; build with "
      "-fstack-clash-protection");
}

// Writes the report into `line` when the fault is a stack overflow:
//  - in the running coroutine's guard: that coroutine;
//  - in another coroutine's guard, on the main context or within the top
//    page of that guard (a coroutine that overflowed inside a switch is no
//    longer current): the guard's owner;
//  - below the running coroutine's stack, past its guard, with its stack
//    pointer there too or in another coroutine's memory: the running one
//    (a frame larger than the guard, not probed).
bool describe_overflow(Line& line, const void* fault, const void* context) noexcept {
  const Resolver resolver = g_resolver.load(std::memory_order_acquire);
  if (resolver == nullptr) {
    return false;
  }
  Culprit running;
  Culprit owner;
  resolver(fault, &running, &owner);
  if (running.stack != nullptr && running.stack->guard_contains(fault)) {
    describe_guard_hit(line, running, fault);
    return true;
  }
  const auto fault_address = reinterpret_cast<std::uintptr_t>(fault);
  const bool owner_guard = owner.stack != nullptr && owner.stack->guard_contains(fault);
  const char* owner_top_page =
      owner_guard ? static_cast<const char*>(owner.stack->base) - os::page_size() : nullptr;
  if (owner_guard && (running.stack == nullptr || !below(fault_address, owner_top_page))) {
    describe_guard_hit(line, owner, fault);
    return true;
  }
  if (running.stack == nullptr || !below(fault_address, running.stack->base)) {
    return false;
  }
  if (owner.stack != nullptr || below(interrupted_stack_pointer(context), running.stack->base)) {
    describe_jumped_guard(line, running, owner, fault);
    return true;
  }
  return false;
}

// On an overflow: report, let an application handler installed before us
// see the fault, then die of SIGSEGV (returning re-runs the faulting
// instruction under the default action). Other faults go to the previous
// handler as if cosync were not there.
// Set while this thread runs on_segv: an application handler installed
// after cosync's that chains back to it must not loop forever.
thread_local bool t_in_handler __attribute__((tls_model("initial-exec"))) = false;

void on_segv(int signo, siginfo_t* info, void* context) {
  const int saved_errno = errno;
  if (t_in_handler) {
    reset_to_default();  // re-entered through a chain: die of the fault
    return;
  }
  t_in_handler = true;
  Line line;
  if (describe_overflow(line, info->si_addr, context)) {
    line.text("\n");
    line.write_to_stderr();
    if (previous_is_function()) {
      call_previous(signo, info, context);
    }
    reset_to_default();
  } else if (previous_is_function()) {
    call_previous(signo, info, context);
  } else {
    sigaction(SIGSEGV, &g_previous, nullptr);
  }
  t_in_handler = false;
  errno = saved_errno;
}

// Thread-exit cleanup of the alternate stack cosync gave this thread.
class SignalStack {
 public:
  SignalStack() = default;
  SignalStack(const SignalStack&) = delete;
  SignalStack& operator=(const SignalStack&) = delete;
  ~SignalStack() {
    if (memory_ == nullptr) {
      return;
    }
    stack_t disable{};
    disable.ss_flags = SS_DISABLE;
    sigaltstack(&disable, nullptr);
    os::unmap(memory_, size_);
  }

  void ensure() {
    if (checked_) {
      return;
    }
    checked_ = true;
    const std::size_t wanted =
        std::max<std::size_t>(kMinSignalStack, static_cast<std::size_t>(sysconf(_SC_SIGSTKSZ)));
    stack_t current{};
    if (sigaltstack(nullptr, &current) == 0 && (current.ss_flags & SS_DISABLE) == 0 &&
        current.ss_size >= wanted) {
      return;  // the application gave this thread a big enough one
    }
    memory_ = os::map_lazy(wanted);
    if (memory_ == nullptr) {
      support::throw_errno(errno, "cannot map the alternate signal stack");
    }
    size_ = wanted;
    stack_t fresh{};
    fresh.ss_sp = memory_;
    fresh.ss_size = wanted;
    if (sigaltstack(&fresh, nullptr) != 0) {
      support::throw_errno(errno, "sigaltstack failed");
    }
  }

 private:
  void* memory_ = nullptr;
  std::size_t size_ = 0;
  bool checked_ = false;
};

thread_local SignalStack t_signal_stack;
// Set once this thread has its signal stack and the handler is installed.
thread_local bool t_thread_ready __attribute__((tls_model("initial-exec"))) = false;

}  // namespace

void set_resolver(Resolver resolver) noexcept {
  g_resolver.store(resolver, std::memory_order_release);
}

void install_now() {
  t_signal_stack.ensure();
  const std::lock_guard lock(g_install_mutex);
  struct sigaction action {};
  action.sa_sigaction = &on_segv;
  action.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&action.sa_mask);
  struct sigaction previous {};
  if (sigaction(SIGSEGV, &action, &previous) != 0) {
    support::throw_errno(errno, "cannot install the SIGSEGV handler");
  }
  if (previous.sa_sigaction != &on_segv) {
    g_previous = previous;
  }
  g_installed.store(true, std::memory_order_release);
}

void ensure_installed() {
  if (t_thread_ready) [[likely]] {
    return;
  }
  t_signal_stack.ensure();
  if (!g_installed.load(std::memory_order_acquire)) {
    install_now();
  }
  t_thread_ready = true;
}

void report_broken_canary(const Culprit& culprit) noexcept {
  COSYNC_PROBE(overflow, culprit.id, culprit.name, nullptr, culprit.stack->base);
  Line line;
  describe(line, "stack overflow (canary overwritten)", culprit);
  line.text(", no guard page\n");
  line.write_to_stderr();
  std::abort();
}

}  // namespace cosync::stack::overflow
