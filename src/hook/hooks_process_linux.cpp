// The interposed calls around the process: signal handlers (counted, so
// that a hooked call inside one never yields) and the resolver (run on the
// blocking pool from a coroutine: glibc's resolver waits inside libc,
// where no interposed poll reaches it).
#include <netdb.h>
#include <signal.h>

#include <array>
#include <atomic>
#include <cerrno>

#include "hook/real_linux.hpp"
#include "hook/waiting.hpp"

namespace cosync::hook {
namespace {

// The handler the user installed for each signal the trampoline serves.
struct UserHandler {
  std::atomic<void*> function{nullptr};
  std::atomic<int> flags{0};
};
constinit std::array<UserHandler, _NSIG> g_handlers{};

// Faults are not wrapped: their handlers seldom return (they jump, or end
// the process), and would leave the depth counted for good.
bool wrapped(int signo, const struct sigaction* action) noexcept {
  if (action == nullptr || signo <= 0 || signo >= _NSIG) return false;
  if (signo == SIGSEGV || signo == SIGBUS || signo == SIGILL || signo == SIGFPE ||
      signo == SIGTRAP || signo == SIGSYS) {
    return false;
  }
  return (action->sa_flags & SA_SIGINFO) != 0 ||
         (action->sa_handler != SIG_DFL && action->sa_handler != SIG_IGN);
}

void trampoline(int signo, siginfo_t* info, void* context) {
  enter_signal_handler();
  void* function =
      g_handlers[static_cast<std::size_t>(signo)].function.load(std::memory_order_acquire);
  if ((g_handlers[static_cast<std::size_t>(signo)].flags.load(std::memory_order_relaxed) &
       SA_SIGINFO) != 0) {
    reinterpret_cast<void (*)(int, siginfo_t*, void*)>(function)(signo, info, context);
  } else {
    reinterpret_cast<void (*)(int)>(function)(signo);
  }
  leave_signal_handler();
}

void* handler_of(const struct sigaction& action) noexcept {
  return (action.sa_flags & SA_SIGINFO) != 0 ? reinterpret_cast<void*>(action.sa_sigaction)
                                             : reinterpret_cast<void*>(action.sa_handler);
}

// What the kernel reports for a signal the trampoline serves is the user's
// handler and flags.
void show_user_handler(struct sigaction& action, void* function, int flags) noexcept {
  action.sa_flags = (action.sa_flags & ~SA_SIGINFO) | (flags & SA_SIGINFO);
  if ((flags & SA_SIGINFO) != 0) {
    action.sa_sigaction = reinterpret_cast<void (*)(int, siginfo_t*, void*)>(function);
  } else {
    action.sa_handler = reinterpret_cast<void (*)(int)>(function);
  }
}

int install(int signo, const struct sigaction* action, struct sigaction* previous) noexcept {
  const bool wrap = wrapped(signo, action);
  const std::size_t index = signo > 0 && signo < _NSIG ? static_cast<std::size_t>(signo) : 0;
  void* old_function = g_handlers[index].function.load(std::memory_order_relaxed);
  const int old_flags = g_handlers[index].flags.load(std::memory_order_relaxed);
  struct sigaction through {};
  if (wrap) {
    g_handlers[index].flags.store(action->sa_flags, std::memory_order_relaxed);
    g_handlers[index].function.store(handler_of(*action), std::memory_order_release);
    through = *action;
    through.sa_flags |= SA_SIGINFO;
    through.sa_sigaction = &trampoline;
  }
  const int outcome = real::sigaction(signo, wrap ? &through : action, previous);
  if (outcome != 0 && wrap) {
    g_handlers[index].function.store(old_function, std::memory_order_release);
    g_handlers[index].flags.store(old_flags, std::memory_order_relaxed);
  }
  if (outcome == 0 && previous != nullptr && (previous->sa_flags & SA_SIGINFO) != 0 &&
      previous->sa_sigaction == &trampoline) {
    show_user_handler(*previous, old_function, old_flags);
  }
  return outcome;
}

struct Lookup {
  const char* node = nullptr;
  const char* service = nullptr;
  const addrinfo* hints = nullptr;
  addrinfo** result = nullptr;
  int outcome = EAI_SYSTEM;
  int error_number = 0;
  bool ran = false;
};

struct NameLookup {
  const sockaddr* address = nullptr;
  socklen_t size = 0;
  char* host = nullptr;
  socklen_t host_size = 0;
  char* service = nullptr;
  socklen_t service_size = 0;
  int flags = 0;
  int outcome = EAI_SYSTEM;
  int error_number = 0;
};

}  // namespace
}  // namespace cosync::hook

namespace hook = cosync::hook;
namespace real = cosync::hook::real;

// The definitions below replace libc's: their names are libc's, and
// their parameters cannot take glibc's reserved names.
// NOLINTBEGIN(readability-identifier-naming,readability-inconsistent-declaration-parameter-name)
extern "C" {

int sigaction(int signo, const struct sigaction* action, struct sigaction* previous) noexcept {
  return hook::install(signo, action, previous);
}

// BSD semantics, as glibc's signal: restarted calls, the signal blocked
// while its handler runs.
__sighandler_t signal(int signo, __sighandler_t handler) noexcept {
  struct sigaction action {};
  action.sa_handler = handler;
  sigemptyset(&action.sa_mask);
  if (signo > 0 && signo < _NSIG) sigaddset(&action.sa_mask, signo);
  action.sa_flags = SA_RESTART;
  struct sigaction previous {};
  if (hook::install(signo, &action, &previous) != 0) {
    return SIG_ERR;
  }
  return previous.sa_handler;
}

int getaddrinfo(const char* node, const char* service, const struct addrinfo* hints,
                struct addrinfo** result) {
  if (hook::cooperative_loop() == nullptr) {
    return real::getaddrinfo(node, service, hints, result);
  }
  const int saved = errno;
  hook::Lookup lookup{node, service, hints, result};
  const bool done = hook::bridge()->run_blocking(
      [](void* data) {
        auto* call = static_cast<hook::Lookup*>(data);
        call->ran = true;
        call->outcome = real::getaddrinfo(call->node, call->service, call->hints, call->result);
        call->error_number = errno;
      },
      &lookup);
  if (!done) {
    if (lookup.ran && lookup.outcome == 0) freeaddrinfo(*result);
    errno = ECANCELED;
    return EAI_SYSTEM;
  }
  errno = lookup.outcome == EAI_SYSTEM ? lookup.error_number : saved;
  return lookup.outcome;
}

int getnameinfo(const struct sockaddr* address, socklen_t size, char* host, socklen_t host_size,
                char* service, socklen_t service_size, int flags) {
  if (hook::cooperative_loop() == nullptr) {
    return real::getnameinfo(address, size, host, host_size, service, service_size, flags);
  }
  const int saved = errno;
  hook::NameLookup lookup{address, size, host, host_size, service, service_size, flags};
  const bool done = hook::bridge()->run_blocking(
      [](void* data) {
        auto* call = static_cast<hook::NameLookup*>(data);
        call->outcome = real::getnameinfo(call->address, call->size, call->host, call->host_size,
                                          call->service, call->service_size, call->flags);
        call->error_number = errno;
      },
      &lookup);
  if (!done) {
    errno = ECANCELED;
    return EAI_SYSTEM;
  }
  errno = lookup.outcome == EAI_SYSTEM ? lookup.error_number : saved;
  return lookup.outcome;
}

}  // extern "C"
// NOLINTEND(readability-identifier-naming,readability-inconsistent-declaration-parameter-name)
