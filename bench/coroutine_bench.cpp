// cosync measured against the libraries it is judged by ("anchors"):
// Boost.Context fibers, libpcl and glibc's ucontext (and libcosync-pcl
// against libpcl, in BM_SwitchRoundTrip/cosync_pcl). Every family runs the
// same work on each library, under names that pair up:
//
//   BM_SwitchRoundTrip/<lib>  resume a coroutine and let it yield back
//   BM_SwitchFrames/cosync/N  the same, each side N calls deep (no anchor)
//   BM_Lifecycle/<lib>        create a coroutine, run it to completion, free it
//   BM_IdleMemory/<lib>       RSS added per suspended coroutine, 100,000 of them
//   BM_Create1M/cosync        1,000,000 suspended coroutines, default settings
//
// Every coroutine gets the same usable stack size, cosync's default 256 KiB.
// tools/bench_ratios.py turns the JSON output into cosync/anchor ratios.
#include <benchmark/benchmark.h>
#include <dlfcn.h>
#include <malloc.h>
#include <pcl.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <boost/context/fiber.hpp>
#include <boost/context/fixedsize_stack.hpp>
#include <boost/context/pooled_fixedsize_stack.hpp>
#include <boost/context/protected_fixedsize_stack.hpp>
#include <cosync/coroutine.hpp>
#include <cosync/stack.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <iterator>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

#include "process_usage.hpp"

namespace {

namespace ctx = boost::context;

constexpr std::size_t kStackSize = cosync::default_stack_size;
constexpr int kPclStackSize = static_cast<int>(kStackSize);  // libpcl takes an int
constexpr std::size_t kIdleCoroutines = 100'000;
constexpr std::size_t kMillionCoroutines = 1'000'000;

// ---------------------------------------------------------------------------
// Measuring memory

using cosync::usage::mapping_count;
using cosync::usage::resident_bytes;

// Gives memory freed by earlier benchmarks back to the kernel, so that a
// measurement pays for every page it touches instead of silently reusing
// pages that are still resident from the previous library's run.
void release_cached_memory() {
  malloc_trim(0);
  cosync::trim_stack_pool();
}

// What an idle connection leaves on its stack: a small buffer it wrote
// before waiting. `suspend` switches away while the buffer is still live.
template <class Suspend>
void idle_body(Suspend&& suspend) {
  std::array<unsigned char, 256> buffer;
  buffer.fill(0xA5);
  benchmark::DoNotOptimize(buffer.data());  // the writes must happen
  suspend();
  benchmark::DoNotOptimize(buffer.data());  // and the buffer outlive the wait
}

// Creates `count` suspended coroutines with `spawn` (which returns an owning
// handle) and reports the RSS they added, in total and per coroutine, and
// the process's mapping count at the peak. Only the creation is timed; the
// coroutines are destroyed with the clock stopped.
template <class Spawn>
void measure_idle_memory(benchmark::State& state, std::size_t count, Spawn spawn) {
  using Handle = decltype(spawn());
  for (auto _ : state) {
    state.PauseTiming();
    release_cached_memory();
    const std::size_t before = resident_bytes();
    // The handles are part of what a program keeps per coroutine: their
    // pages are touched, and counted, as the vector fills.
    std::vector<Handle> handles;
    handles.reserve(count);
    state.ResumeTiming();

    for (std::size_t i = 0; i < count; ++i) {
      handles.push_back(spawn());
    }

    state.PauseTiming();
    const double added = static_cast<double>(resident_bytes()) - static_cast<double>(before);
    state.counters["coroutines"] = static_cast<double>(count);
    state.counters["rss_per_coroutine_bytes"] = added / static_cast<double>(count);
    state.counters["maps"] = static_cast<double>(mapping_count());
    handles.clear();
    state.ResumeTiming();
  }
}

// ---------------------------------------------------------------------------
// Bare ucontext: what a program without a coroutine library writes.

// A coroutine on getcontext/makecontext/swapcontext. The stack is the
// caller's; when the body returns, uc_link switches back to `caller`. It
// cannot move: a ucontext_t points into itself (uc_mcontext.fpregs).
class UcontextCoroutine {
 public:
  using Body = void (*)(UcontextCoroutine&);

  UcontextCoroutine(Body body, void* stack, std::size_t stack_size, ucontext_t& caller)
      : caller_(&caller), body_(body) {
    if (getcontext(&context_) != 0) {
      throw std::runtime_error("ucontext: getcontext failed");
    }
    context_.uc_stack.ss_sp = stack;
    context_.uc_stack.ss_size = stack_size;
    context_.uc_link = caller_;
    // makecontext passes int arguments only: the pointer travels in halves.
    const auto self = reinterpret_cast<std::uintptr_t>(this);
    makecontext(&context_, reinterpret_cast<void (*)()>(&entry), 2,
                static_cast<unsigned>(self >> 32U), static_cast<unsigned>(self));
  }
  UcontextCoroutine(const UcontextCoroutine&) = delete;
  UcontextCoroutine& operator=(const UcontextCoroutine&) = delete;
  ~UcontextCoroutine() = default;

  // Runs the coroutine until it yields or its body returns.
  void resume() { swapcontext(caller_, &context_); }
  void yield() { swapcontext(&context_, caller_); }

 private:
  static void entry(unsigned high, unsigned low) {
    const auto self = (static_cast<std::uintptr_t>(high) << 32U) | low;
    auto* coroutine = reinterpret_cast<UcontextCoroutine*>(self);
    coroutine->body_(*coroutine);
  }

  ucontext_t context_{};
  ucontext_t* caller_;
  Body body_;
};

struct FreeDeleter {
  void operator()(void* block) const noexcept { std::free(block); }
};
using MallocStack = std::unique_ptr<void, FreeDeleter>;

MallocStack malloc_stack() {
  void* stack = std::malloc(kStackSize);
  if (stack == nullptr) {
    throw std::bad_alloc();
  }
  return MallocStack(stack);
}

// A lazily committed mmap'd stack without a guard page: the usual way to
// get many ucontext stacks, and one VMA shared with its neighbours (a guard
// page each would take two VMAs, and 100,000 of them exceed the default
// vm.max_map_count of 65530).
class MappedStack {
 public:
  MappedStack()
      : base_(mmap(nullptr, kStackSize, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0)) {
    if (base_ == MAP_FAILED) {
      throw std::bad_alloc();
    }
  }
  MappedStack(const MappedStack&) = delete;
  MappedStack& operator=(const MappedStack&) = delete;
  ~MappedStack() { munmap(base_, kStackSize); }

  void* base() const noexcept { return base_; }

 private:
  void* base_;
};

// One idle ucontext coroutine and the stack it is suspended on.
struct IdleUcontext {
  explicit IdleUcontext(ucontext_t& caller)
      : coroutine([](UcontextCoroutine& self) { idle_body([&self] { self.yield(); }); },
                  stack.base(), kStackSize, caller) {}

  MappedStack stack;
  UcontextCoroutine coroutine;
};

// ---------------------------------------------------------------------------
// libpcl. It keeps its thread state in a pthread key but falls back to a
// global one on a thread that never called co_thread_init(): Google
// Benchmark runs these single-threaded benchmarks on the main thread, so
// none is needed.

// Owns a suspended libpcl coroutine; co_delete frees it and its stack (a
// C library: nothing on that stack is unwound). Stateless, so the handle is
// one pointer, like a fiber.
struct PclDelete {
  void operator()(coroutine_t coroutine) const noexcept { co_delete(coroutine); }
};
using PclCoroutine = std::unique_ptr<void, PclDelete>;

// co_create with a NULL stack: libpcl mallocs the stack and its control
// block together, which is what its documentation and its own cobench do.
coroutine_t pcl_create(void (*function)(void*)) {
  coroutine_t coroutine = co_create(function, nullptr, nullptr, kPclStackSize);
  if (coroutine == nullptr) {
    throw std::bad_alloc();
  }
  return coroutine;
}

// ---------------------------------------------------------------------------
// BM_SwitchRoundTrip: one resume plus one yield back, coroutine already
// started. Each coroutine is destroyed while suspended.

void BM_SwitchRoundTrip_cosync(benchmark::State& state) {
  cosync::Task<void> task = cosync::create([] {
    for (;;) {
      cosync::yield();
    }
  });
  task.resume();
  for (auto _ : state) {
    task.resume();
  }
}

void BM_SwitchRoundTrip_boost_context(benchmark::State& state) {
  ctx::fiber fiber{std::allocator_arg, ctx::fixedsize_stack(kStackSize),
                   [](ctx::fiber&& caller) -> ctx::fiber {
                     for (;;) {
                       caller = std::move(caller).resume();
                     }
                   }};
  fiber = std::move(fiber).resume();
  for (auto _ : state) {
    fiber = std::move(fiber).resume();
  }
}

// ---------------------------------------------------------------------------
// BM_SwitchFrames: BM_SwitchRoundTrip's resume and yield, each made from
// the bottom of `frames` ordinary calls that return after the switch, as an
// event loop's dispatch and a sync-style read do. Every such return goes to
// an address the return-stack buffer lost to the other stack's calls; the
// rows price that per frame (the reason cosync keeps its wait path flat).

[[gnu::noinline]] void yield_below(int frames) {
  if (frames > 1) {
    yield_below(frames - 1);
    benchmark::ClobberMemory();  // keeps the call a real call, not a tail call
    return;
  }
  cosync::yield();
}

[[gnu::noinline]] void resume_below(cosync::Task<void>& task, int frames) {
  if (frames > 1) {
    resume_below(task, frames - 1);
    benchmark::ClobberMemory();
    return;
  }
  task.resume();
}

void BM_SwitchFrames_cosync(benchmark::State& state) {
  const auto frames = static_cast<int>(state.range(0));
  cosync::Task<void> task = cosync::create([frames] {
    for (;;) {
      yield_below(frames);
    }
  });
  task.resume();
  for (auto _ : state) {
    resume_below(task, frames);
  }
}

// The pcl round trip runs the same calls against Debian's libpcl and
// against libcosync-pcl. Both export the same names, so neither is linked
// for it: each is dlopen'ed privately (RTLD_LOCAL; RTLD_DEEPBIND keeps its
// own calls inside it) and both cases call through one table.
struct PclApi {
  coroutine_t (*create)(void (*)(void*), void*, void*, int);
  void (*remove)(coroutine_t);
  void (*call)(coroutine_t);
  void (*resume)();
};

template <class Function>
Function pcl_symbol(void* library, const char* path, const char* name) {
  void* symbol = dlsym(library, name);
  if (symbol == nullptr) {
    throw std::runtime_error(std::string(path) + " has no " + name);
  }
  return reinterpret_cast<Function>(symbol);
}

// The library stays loaded for the whole run: its coroutines run its code.
PclApi load_pcl_api(const char* path) {
  void* library = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
  if (library == nullptr) {
    throw std::runtime_error(std::string("cannot load ") + path + ": " + dlerror());
  }
  return PclApi{
      pcl_symbol<decltype(PclApi::create)>(library, path, "co_create"),
      pcl_symbol<decltype(PclApi::remove)>(library, path, "co_delete"),
      pcl_symbol<decltype(PclApi::call)>(library, path, "co_call"),
      pcl_symbol<decltype(PclApi::resume)>(library, path, "co_resume"),
  };
}

const PclApi& libpcl_api() {
  static const PclApi api = load_pcl_api("libpcl.so.1");
  return api;
}

const PclApi& cosync_pcl_api() {
  static const PclApi api = load_pcl_api(COSYNC_PCL_LIBRARY);
  return api;
}

void pcl_resume_forever(void* data) {
  const auto* api = static_cast<const PclApi*>(data);
  for (;;) {
    api->resume();
  }
}

void switch_round_trip_pcl(benchmark::State& state, const PclApi& api) {
  coroutine_t coroutine =
      api.create(pcl_resume_forever, const_cast<PclApi*>(&api), nullptr, kPclStackSize);
  if (coroutine == nullptr) {
    throw std::bad_alloc();
  }
  api.call(coroutine);
  for (auto _ : state) {
    api.call(coroutine);
  }
  api.remove(coroutine);
}

void BM_SwitchRoundTrip_libpcl(benchmark::State& state) {
  switch_round_trip_pcl(state, libpcl_api());
}

void BM_SwitchRoundTrip_cosync_pcl(benchmark::State& state) {
  switch_round_trip_pcl(state, cosync_pcl_api());
}

void BM_SwitchRoundTrip_ucontext(benchmark::State& state) {
  const MallocStack stack = malloc_stack();
  ucontext_t caller;
  UcontextCoroutine coroutine(
      [](UcontextCoroutine& self) {
        for (;;) {
          self.yield();
        }
      },
      stack.get(), kStackSize, caller);
  coroutine.resume();
  for (auto _ : state) {
    coroutine.resume();
  }
}

// ---------------------------------------------------------------------------
// BM_Lifecycle: create, run an empty body to completion, free the coroutine
// and its stack.

void BM_Lifecycle_cosync(benchmark::State& state) {
  for (auto _ : state) {
    cosync::create([] {}).join();
  }
}

// The fiber keeps a copy of `allocator` (for a pool: a counted reference to
// it) to give its stack back when it finishes.
template <class StackAllocator>
void run_fiber_to_completion(StackAllocator& allocator) {
  ctx::fiber fiber{std::allocator_arg, allocator,
                   [](ctx::fiber&& caller) { return std::move(caller); }};
  std::move(fiber).resume();
}

// Stacks come back to a boost::pool and are reused: closest to cosync's pool,
// but without any guard.
void BM_Lifecycle_boost_context_pooled(benchmark::State& state) {
  ctx::pooled_fixedsize_stack pool(kStackSize);
  for (auto _ : state) {
    run_fiber_to_completion(pool);
  }
}

// A fresh mmap and mprotect'd guard page per fiber, unmapped at the end:
// guarded like cosync, but not pooled.
void BM_Lifecycle_boost_context_protected(benchmark::State& state) {
  ctx::protected_fixedsize_stack allocator(kStackSize);
  for (auto _ : state) {
    run_fiber_to_completion(allocator);
  }
}

void pcl_return_at_once(void* /*data*/) {}

// A libpcl coroutine whose function returns is deleted by libpcl itself
// (co_runner calls co_exit), stack included: co_call is the whole life.
void BM_Lifecycle_libpcl(benchmark::State& state) {
  for (auto _ : state) {
    co_call(pcl_create(pcl_return_at_once));
  }
}

void BM_Lifecycle_ucontext(benchmark::State& state) {
  ucontext_t caller;
  for (auto _ : state) {
    const MallocStack stack = malloc_stack();
    UcontextCoroutine coroutine([](UcontextCoroutine& /*self*/) {}, stack.get(), kStackSize,
                                caller);
    coroutine.resume();
  }
}

// ---------------------------------------------------------------------------
// BM_IdleMemory: 100,000 coroutines, each suspended with a small buffer on
// its stack, like idle connections.

cosync::Task<void> spawn_idle_cosync() {
  cosync::Task<void> task = cosync::create([] { idle_body([] { cosync::yield(); }); });
  task.resume();
  return task;
}

void BM_IdleMemory_cosync(benchmark::State& state) {
  measure_idle_memory(state, kIdleCoroutines, spawn_idle_cosync);
}

// fixedsize_stack (malloc) rather than protected_fixedsize_stack: a guard
// page costs each stack two VMAs, and 100,000 stacks would need 200,000,
// far past the default vm.max_map_count of 65530.
ctx::fiber spawn_idle_fiber() {
  ctx::fiber fiber{std::allocator_arg, ctx::fixedsize_stack(kStackSize), [](ctx::fiber&& caller) {
                     idle_body([&caller] { caller = std::move(caller).resume(); });
                     return std::move(caller);
                   }};
  return std::move(fiber).resume();
}

void BM_IdleMemory_boost_context(benchmark::State& state) {
  measure_idle_memory(state, kIdleCoroutines, spawn_idle_fiber);
}

void pcl_idle(void* /*data*/) {
  idle_body([] { co_resume(); });
}

PclCoroutine spawn_idle_pcl() {
  PclCoroutine coroutine(pcl_create(pcl_idle));
  co_call(coroutine.get());
  return coroutine;
}

void BM_IdleMemory_libpcl(benchmark::State& state) {
  measure_idle_memory(state, kIdleCoroutines, spawn_idle_pcl);
}

void BM_IdleMemory_ucontext(benchmark::State& state) {
  ucontext_t caller;
  measure_idle_memory(state, kIdleCoroutines, [&caller] {
    auto idle = std::make_unique<IdleUcontext>(caller);
    idle->coroutine.resume();
    return idle;
  });
}

// ---------------------------------------------------------------------------
// BM_Create1M: a million suspended cosync coroutines with the default
// configuration (256 KiB guarded stacks) fit a stock kernel's
// vm.max_map_count of 65530; "maps" shows how many VMAs they took. With
// guard regions (Linux 6.13+) the stacks merge into a few VMAs; older
// kernels get guard pages up to cosync's VMA budget, then canaries.
// "stack_calls_per_coroutine" counts the stack layer's mmap, munmap,
// madvise, mprotect and process_madvise calls, creation and teardown
// included (the first-touch page fault of each stack is not a call).

void BM_Create1M_cosync(benchmark::State& state) {
  const std::size_t calls_before = cosync::stack_stats().system_calls;
  measure_idle_memory(state, kMillionCoroutines, spawn_idle_cosync);
  const auto calls = static_cast<double>(cosync::stack_stats().system_calls - calls_before);
  state.counters["stack_calls_per_coroutine"] =
      calls / (static_cast<double>(kMillionCoroutines) * static_cast<double>(state.iterations()));
}

}  // namespace

BENCHMARK(BM_SwitchRoundTrip_cosync)->Name("BM_SwitchRoundTrip/cosync");
BENCHMARK(BM_SwitchRoundTrip_boost_context)->Name("BM_SwitchRoundTrip/boost_context");
BENCHMARK(BM_SwitchRoundTrip_libpcl)->Name("BM_SwitchRoundTrip/libpcl");
BENCHMARK(BM_SwitchRoundTrip_cosync_pcl)->Name("BM_SwitchRoundTrip/cosync_pcl");
BENCHMARK(BM_SwitchRoundTrip_ucontext)->Name("BM_SwitchRoundTrip/ucontext");
BENCHMARK(BM_SwitchFrames_cosync)->Name("BM_SwitchFrames/cosync")->Arg(1)->Arg(2)->Arg(4)->Arg(8);

BENCHMARK(BM_Lifecycle_cosync)->Name("BM_Lifecycle/cosync");
BENCHMARK(BM_Lifecycle_boost_context_pooled)->Name("BM_Lifecycle/boost_context_pooled");
BENCHMARK(BM_Lifecycle_boost_context_protected)->Name("BM_Lifecycle/boost_context_protected");
BENCHMARK(BM_Lifecycle_libpcl)->Name("BM_Lifecycle/libpcl");
BENCHMARK(BM_Lifecycle_ucontext)->Name("BM_Lifecycle/ucontext");

// One iteration is a whole population of coroutines: repeat with
// --benchmark_repetitions rather than iterate.
BENCHMARK(BM_IdleMemory_cosync)
    ->Name("BM_IdleMemory/cosync")
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_IdleMemory_boost_context)
    ->Name("BM_IdleMemory/boost_context")
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_IdleMemory_libpcl)
    ->Name("BM_IdleMemory/libpcl")
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_IdleMemory_ucontext)
    ->Name("BM_IdleMemory/ucontext")
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

BENCHMARK(BM_Create1M_cosync)
    ->Name("BM_Create1M/cosync")
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

int main(int argc, char** argv) {
  // glibc serves a 256 KiB malloc with a private mmap until the first such
  // block is freed and from the heap afterwards (its dynamic mmap
  // threshold), and keeps at most 65,536 mmap'd blocks. The anchors that
  // malloc their stacks would then measure differently depending on which
  // benchmarks ran before them: pin the state a long-running program
  // reaches, stacks from the heap. Setting one threshold freezes the other,
  // so both are set as the dynamic rule would leave them: the mmap
  // threshold above any stack (at glibc's own 32 MiB cap) and the trim
  // threshold at twice it; the default 128 KiB trim threshold would give a
  // freed stack back to the kernel, and fault it in again, every time.
  mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
  mallopt(M_TRIM_THRESHOLD, 64 * 1024 * 1024);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) {
    return 1;
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
