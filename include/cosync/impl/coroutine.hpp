// The coroutine layer's internals that its public header (cosync/coroutine.hpp)
// needs before class Coroutine: the record every control block is built on,
// and the out-of-line entry points the inline API calls. Internal to cosync;
// not part of the API.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>

#include "cosync/export.hpp"
#include "cosync/stack.hpp"

namespace cosync {

class Coroutine;
struct Options;
enum class CoroutineState : std::uint8_t;

namespace impl {

struct Runtime;
struct Switch;
struct Scheduling;

// The API that made a coroutine: cosync's own, or libcosync-pcl's co_create.
enum class CoroutineMaker : std::uint8_t { cosync, pcl };

// The C++ runtime's per-thread exception state, as laid out by the Itanium
// C++ ABI (__cxa_eh_globals, section 2.2.2): the exceptions being handled
// (one per active catch block) and the count of exceptions in flight.
struct EhGlobals {
  void* caught_exceptions;
  unsigned int uncaught_exceptions;
};

// The data of a control block. Coroutine derives from it (protected), so
// its layout is the block's: polymorphic, so the vtable pointer comes first
// and the fields keep the offsets the switch and the gdb helper rely on.
class COSYNC_API CoroutineRecord {
 public:
  CoroutineRecord(const CoroutineRecord&) = delete;
  CoroutineRecord& operator=(const CoroutineRecord&) = delete;

 protected:
  // Every field a control block starts with, in one pass (the rest start
  // zero).
  CoroutineRecord(void* context, std::uint8_t slow_path, CoroutineState state, bool owns_stack,
                  const Stack& stack, std::uint64_t id, void* user_data) noexcept
      : context_(context),
        slow_path_(slow_path),
        state_(state),
        owns_stack_(owns_stack),
        stack_(stack),
        id_(id),
        user_data_(user_data) {}
  ~CoroutineRecord() = default;

  // Runs the callable and stores its value. Exceptions are the caller's.
  virtual void run_body() = 0;
  // Destroys the callable and its arguments, at the end of run or when a
  // coroutine is destroyed before it ever ran.
  virtual void drop_callable() noexcept = 0;
  // Destroys the whole control block (the result slot included).
  virtual void destroy() noexcept = 0;
  // Checks a stack the program provided (Frame::owns_stack false), which
  // has no stack-layer canary, each time the coroutine leaves it; reports
  // and aborts when it overflowed. Such a stack may not be checked at all.
  virtual void check_program_stack() const noexcept {}

  // What a switch and a wait touch comes first, in the block's first cache
  // line (the block is 64-byte aligned at its stack's top): with thousands
  // of coroutines taking turns, each resume then brings back one line of
  // it, not three.
  void* context_ = nullptr;       // token of the suspended context
  Coroutine* resumer_ = nullptr;  // yield() target
  // Who may resume this coroutine through the inline fast path: resumer_,
  // unless resumer_ is null or has a canary stack (which the slow path
  // checks as it leaves it), then null, which no running context is.
  Coroutine* resume_key_ = nullptr;
  // The C++ runtime's exception state when this context last left by
  // resuming another one (copied whole, padding included, in one move); a
  // context that switches back must leave it so. 16-aligned (the offset it
  // has anyway), so one vector compare checks it.
  alignas(16) EhGlobals eh_{};
  // Reasons a switch involving this context leaves the inline fast path.
  static constexpr std::uint8_t kCanaryStack = 1;      // check it when leaving
  static constexpr std::uint8_t kUnwindRequested = 2;  // destroyed or cancelled
  static constexpr std::uint8_t kUnwindPending = 4;    // ForcedUnwind not thrown yet
  static constexpr std::uint8_t kDestroying = 8;       // unwinding another coroutine
  static constexpr std::uint8_t kFinishing = 16;       // body done, callable being dropped
  static constexpr std::uint8_t kMainContext = 32;     // yield() here is a misuse
  static constexpr std::uint8_t kReapExited = 64;      // free ThreadState::exited on arrival
  // What a context must do when it arrives, before it goes on.
  static constexpr std::uint8_t kDuties = kUnwindPending | kReapExited;
  std::uint8_t slow_path_ = 0;
  // created, suspended (which here means "started") or finished: a switch
  // writes no state, because the running context is its thread's current
  // one, which state() reads.
  CoroutineState state_{};
  // How the request layer resumes and cancels this coroutine (null for a
  // coroutine it never waited in).
  Scheduling* scheduling_ = nullptr;
  // How many coroutines name this one as their resumer_.
  std::size_t resumer_refs_ = 0;
  void* thread_ = nullptr;  // owning thread's runtime state

  std::exception_ptr error_;  // what the body threw, rethrown by join()
  bool cancelled_ = false;    // unwound by a cancel: join() throws Cancelled
  bool owns_stack_ = true;    // false: the program's memory, never pooled
  // Which API made it. A foreign API's handle (libcosync-pcl's) must be
  // checked before its block is read as that API's layout: this byte sits
  // in the base record, so reading it is safe for every coroutine.
  CoroutineMaker maker_ = CoroutineMaker::cosync;

 public:
  // Links in the owning thread's registry (ThreadState::registry), the list
  // the debugger commands and the overflow report walk. After the fields a
  // switch reads, which keep their cache line.
  CoroutineRecord* prev = nullptr;
  CoroutineRecord* next = nullptr;

 protected:
  Stack stack_;
  std::uint64_t id_ = 0;
  void* user_data_ = nullptr;
  // ASan bookkeeping for the switch (unused without ASan).
  void* asan_fake_stack_ = nullptr;
  const void* asan_bottom_ = nullptr;
  std::size_t asan_size_ = 0;
  void* tsan_fiber_ = nullptr;  // TSan's state for this context (unused without TSan)
  char name_[32] = {};
};

// A new coroutine's stack, and where its control block goes on it.
struct Frame {
  Stack stack;
  void* body = nullptr;    // where the control block goes, at the stack top
  bool owns_stack = true;  // false for a stack the program provides
};
// Allocates a stack with room for a `body_size` control block at its top.
COSYNC_API Frame prepare_frame(const Options& options, std::size_t body_size,
                               std::size_t body_align);
// Gives back the stack of a frame whose control block was never built.
COSYNC_API void abandon_frame(Frame& frame) noexcept;
// Makes a built control block a live coroutine of this thread (registered).
COSYNC_API void activate(Coroutine& coroutine) noexcept;
// The request layer's scheduling record of `coroutine` (null when none).
inline Scheduling*& scheduling_of(Coroutine& coroutine) noexcept;
// Which API made `coroutine` (set once, by that API, before it first runs).
inline CoroutineMaker& maker_of(Coroutine& coroutine) noexcept;
// Waits until `coroutine` finishes (see Task::join).
COSYNC_API void await_finished(Coroutine& coroutine,
                               std::chrono::steady_clock::time_point deadline);
// How a join waits for a coroutine that suspended: registered by the
// request layer, which owns waiting (the coroutine layer cannot reach the
// loop, which sits above it).
using JoinHook = void (*)(Coroutine& coroutine, std::chrono::steady_clock::time_point deadline);
// Installs the join hook (the request layer does, when it is loaded).
COSYNC_API void set_join_hook(JoinHook hook) noexcept;
// Refuses (UsageError) a join from another thread or from inside the
// coroutine itself.
COSYNC_API void check_joinable(Coroutine& coroutine);
// Unwinds a suspended coroutine whose handle is destroyed.
COSYNC_API void unwind_for_destruction(Coroutine& coroutine) noexcept;
// Unwinds a suspended coroutine for Task::cancel.
COSYNC_API void unwind_for_cancel(Coroutine& coroutine);
// Unregisters a coroutine and frees its control block and stack.
COSYNC_API void release(Coroutine& coroutine) noexcept;
// The UsageError of a Task that is empty (`joined`: because it was joined).
[[noreturn]] COSYNC_API void throw_join_misuse(bool joined);

}  // namespace impl
}  // namespace cosync
