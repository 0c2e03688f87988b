#include "cosync/stack.hpp"

#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include "stack/os.hpp"
#include "stack/overflow.hpp"
#include "support/sanitizer.hpp"

namespace cosync {

static_assert(sizeof(Stack) == 32, "Stack must stay padding-free: see its comment");

namespace {

std::mutex g_config_mutex;
StackConfig g_config;  // guarded by g_config_mutex
std::atomic<GuardPolicy> g_policy{GuardPolicy::automatic};
std::atomic<std::size_t> g_pool_limit{StackConfig{}.pool_limit};
std::atomic<std::size_t> g_hot_bytes{StackConfig{}.hot_bytes};      // page multiple
std::atomic<std::size_t> g_guard_bytes{StackConfig{}.guard_bytes};  // page multiple
std::atomic<unsigned> g_vma_share{StackConfig{}.guard_page_vma_share_percent};

// Guard-page stacks alive or pooled in the whole process: each one costs two
// VMAs (its guard and its usable pages cannot merge with neighbours).
std::atomic<std::size_t> g_guard_pages{0};
constexpr std::size_t kVmasPerGuardPage = 2;

std::uintptr_t canary_secret() noexcept {
  static const std::uintptr_t secret = [] {
    std::uintptr_t value = 0;
    stack_os::random_bytes(&value, sizeof value);
    return value | 1U;  // never zero, the value of untouched memory
  }();
  return secret;
}

std::uintptr_t canary_for(const Stack& stack) noexcept {
  return canary_secret() ^ reinterpret_cast<std::uintptr_t>(stack.base);
}

void write_canary(const Stack& stack) noexcept {
  *static_cast<std::uintptr_t*>(stack.base) = canary_for(stack);
}

std::size_t guard_page_budget() noexcept {
  return stack_os::max_map_count() * g_vma_share.load(std::memory_order_relaxed) / 100 /
         kVmasPerGuardPage;
}

std::size_t round_up(std::size_t value, std::size_t unit) noexcept {
  return (value + unit - 1) / unit * unit;
}

// A thread's cache of free stacks, one bucket per size in use.
class ThreadStacks {
 public:
  ThreadStacks() = default;
  ThreadStacks(const ThreadStacks&) = delete;
  ThreadStacks& operator=(const ThreadStacks&) = delete;
  ~ThreadStacks() { trim(); }

  Stack allocate(std::size_t size);
  void release(Stack& stack) noexcept;
  void trim() noexcept;
  void fill(StackStats& stats) const noexcept;

 private:
  // A pooled stack keeps its own list node at its top, in memory that is
  // committed anyway, so pooling allocates nothing.
  struct PooledNode {
    Stack stack;
    PooledNode* next;
  };
  struct Bucket {
    std::size_t size;
    PooledNode* head;
    std::size_t count;
  };
  static PooledNode* node_for(const Stack& stack) noexcept {
    return static_cast<PooledNode*>(stack.top()) - 1;
  }

  Bucket& bucket_for(std::size_t size);
  Stack map_new(std::size_t size);
  StackGuard choose_guard() noexcept;
  bool install_guard(Stack& stack) noexcept;
  void give_back_deep_pages(Stack& stack) noexcept;
  void unmap(Stack& stack) noexcept;
  void count_live(StackGuard guard, int delta) noexcept;

  std::vector<Bucket> buckets_;
  std::size_t live_[3] = {0, 0, 0};
  std::size_t mapped_ = 0;
  std::size_t reused_ = 0;
  std::size_t trimmed_ = 0;
  std::size_t canary_fallbacks_ = 0;
};

// The pool is reached through a trivially initialised pointer (one TLS load
// on the allocation path); a second thread_local object frees it at thread
// exit.
thread_local ThreadStacks* t_stacks __attribute__((tls_model("initial-exec"))) = nullptr;

struct ThreadStacksOwner {
  ThreadStacksOwner() = default;
  ThreadStacksOwner(const ThreadStacksOwner&) = delete;
  ThreadStacksOwner& operator=(const ThreadStacksOwner&) = delete;
  ~ThreadStacksOwner() {
    delete t_stacks;
    t_stacks = nullptr;
  }
};
thread_local ThreadStacksOwner t_stacks_owner;

ThreadStacks& thread_stacks() {
  if (t_stacks != nullptr) [[likely]] {
    return *t_stacks;
  }
  (void)&t_stacks_owner;  // odr-use: registers the thread-exit destructor
  t_stacks = new ThreadStacks();
  return *t_stacks;
}

ThreadStacks::Bucket& ThreadStacks::bucket_for(std::size_t size) {
  for (Bucket& bucket : buckets_) {
    if (bucket.size == size) {
      return bucket;
    }
  }
  buckets_.push_back(Bucket{size, nullptr, 0});
  return buckets_.back();
}

void ThreadStacks::count_live(StackGuard guard, int delta) noexcept {
  live_[static_cast<unsigned>(guard)] += static_cast<std::size_t>(delta);
}

Stack ThreadStacks::allocate(std::size_t size) {
  Bucket& bucket = bucket_for(size);
  if (bucket.head == nullptr) {
    Stack stack = map_new(size);
    count_live(stack.guard, +1);
    return stack;
  }
  PooledNode* node = bucket.head;
  bucket.head = node->next;
  --bucket.count;
  Stack stack = node->stack;
  ++reused_;
  count_live(stack.guard, +1);
  return stack;
}

StackGuard ThreadStacks::choose_guard() noexcept {
  const GuardPolicy policy = g_policy.load(std::memory_order_relaxed);
  if (policy == GuardPolicy::canary) {
    return StackGuard::canary;
  }
  if (policy == GuardPolicy::automatic && stack_os::guard_regions_supported()) {
    return StackGuard::guard_region;
  }
  std::size_t taken = g_guard_pages.load(std::memory_order_relaxed);
  const std::size_t budget = guard_page_budget();
  while (taken < budget) {
    if (g_guard_pages.compare_exchange_weak(taken, taken + 1, std::memory_order_relaxed)) {
      return StackGuard::guard_page;
    }
  }
  ++canary_fallbacks_;
  return StackGuard::canary;
}

bool ThreadStacks::install_guard(Stack& stack) noexcept {
  switch (stack.guard) {
    case StackGuard::guard_region:
      return stack_os::install_guard_region(stack.mapping_base(), stack.guard_size());
    case StackGuard::guard_page:
      return stack_os::protect_guard_page(stack.mapping_base(), stack.guard_size());
    case StackGuard::canary:
      write_canary(stack);
      return true;
  }
  return false;
}

Stack ThreadStacks::map_new(std::size_t size) {
  Stack stack;
  stack.guard = choose_guard();
  const std::size_t guard_bytes =
      stack.guard == StackGuard::canary ? 0 : g_guard_bytes.load(std::memory_order_relaxed);
  stack.guard_bytes = guard_bytes;
  void* mapping = stack_os::map_lazy(guard_bytes + size);
  if (mapping == nullptr) {
    const int error = errno;
    if (stack.guard == StackGuard::guard_page) {
      g_guard_pages.fetch_sub(1, std::memory_order_relaxed);
    }
    throw std::system_error(
        error, std::generic_category(),
        "cosync: cannot map a coroutine stack of " + std::to_string(size) + " bytes");
  }
  stack.base = static_cast<char*>(mapping) + guard_bytes;
  stack.size = size;
  if (!install_guard(stack)) {
    // The kernel refused the guard (for mprotect: usually the VMA limit).
    // A canary still catches the overflow, so keep the stack.
    if (stack.guard == StackGuard::guard_page) {
      g_guard_pages.fetch_sub(1, std::memory_order_relaxed);
    }
    // The guard page stays mapped (inaccessible or not) below `base`; only
    // the bookkeeping forgets it, and unmap() frees it with the rest.
    stack.guard = StackGuard::canary;
    stack.guard_bytes = 0;
    stack.base = mapping;
    stack.size = guard_bytes + size;
    ++canary_fallbacks_;
    write_canary(stack);
  }
  stack.valgrind_id = support::valgrind_register_stack(stack.base, stack.size);
  ++mapped_;
  return stack;
}

// Pages below the hot area that a deep call wrote are given back. The probe
// is the top word under the hot area: fresh or decommitted memory reads zero
// there, and a call that went deeper almost always wrote it (a return
// address, a saved register). A deep frame that skipped it unwritten is
// missed; trim_stack_pool() releases everything.
void ThreadStacks::give_back_deep_pages(Stack& stack) noexcept {
  const std::size_t hot = g_hot_bytes.load(std::memory_order_relaxed);
  if (stack.size <= hot) {
    return;
  }
  char* hot_bottom = static_cast<char*>(stack.top()) - hot;
  const auto* probe = reinterpret_cast<const std::uintptr_t*>(hot_bottom) - 1;
  if (*probe == 0) {
    return;
  }
  char* low = static_cast<char*>(stack.base);
  if (stack.guard == StackGuard::canary) {
    low += stack_os::page_size();  // keep the canary's page
  }
  stack_os::decommit(low, static_cast<std::size_t>(hot_bottom - low));
  ++trimmed_;
}

void ThreadStacks::release(Stack& stack) noexcept {
  count_live(stack.guard, -1);
  support::asan_unpoison(stack.base, stack.size);
  Bucket* bucket = nullptr;
  for (Bucket& candidate : buckets_) {
    if (candidate.size == stack.size) {
      bucket = &candidate;
    }
  }
  if (bucket == nullptr || bucket->count >= g_pool_limit.load(std::memory_order_relaxed)) {
    unmap(stack);
    return;
  }
  give_back_deep_pages(stack);
  PooledNode* node = node_for(stack);
  node->stack = stack;
  node->next = bucket->head;
  bucket->head = node;
  ++bucket->count;
  stack = Stack{};
}

void ThreadStacks::unmap(Stack& stack) noexcept {
  support::valgrind_deregister_stack(stack.valgrind_id);
  if (stack.guard == StackGuard::guard_page) {
    g_guard_pages.fetch_sub(1, std::memory_order_relaxed);
  }
  stack_os::unmap(stack.mapping_base(), stack.mapping_size());
  stack = Stack{};
}

void ThreadStacks::trim() noexcept {
  for (Bucket& bucket : buckets_) {
    while (bucket.head != nullptr) {
      PooledNode* node = bucket.head;
      bucket.head = node->next;
      Stack stack = node->stack;
      unmap(stack);
    }
    bucket.count = 0;
  }
}

void ThreadStacks::fill(StackStats& stats) const noexcept {
  stats.live_guard_region = live_[static_cast<unsigned>(StackGuard::guard_region)];
  stats.live_guard_page = live_[static_cast<unsigned>(StackGuard::guard_page)];
  stats.live_canary = live_[static_cast<unsigned>(StackGuard::canary)];
  for (const Bucket& bucket : buckets_) {
    stats.pooled += bucket.count;
  }
  stats.mapped = mapped_;
  stats.reused = reused_;
  stats.trimmed = trimmed_;
  stats.canary_fallbacks = canary_fallbacks_;
}

}  // namespace

bool Stack::contains(const void* address) const noexcept {
  const auto* byte = static_cast<const char*>(address);
  return byte >= static_cast<const char*>(base) && byte < static_cast<const char*>(top());
}

bool Stack::guard_contains(const void* address) const noexcept {
  const auto* byte = static_cast<const char*>(address);
  return byte >= static_cast<const char*>(mapping_base()) && byte < static_cast<const char*>(base);
}

void configure_stacks(const StackConfig& config) {
  if (config.guard_bytes == 0 || config.guard_bytes > max_stack_size) {
    throw std::invalid_argument("cosync: StackConfig::guard_bytes is " +
                                std::to_string(config.guard_bytes) + "; it must be between 1 and " +
                                std::to_string(max_stack_size));
  }
  if (config.guard_page_vma_share_percent > 100) {
    throw std::invalid_argument("cosync: StackConfig::guard_page_vma_share_percent is " +
                                std::to_string(config.guard_page_vma_share_percent) +
                                ", above 100");
  }
  const std::lock_guard lock(g_config_mutex);
  g_config = config;
  g_policy.store(config.guard_policy, std::memory_order_relaxed);
  g_pool_limit.store(config.pool_limit, std::memory_order_relaxed);
  g_hot_bytes.store(round_up(config.hot_bytes, stack_os::page_size()), std::memory_order_relaxed);
  g_guard_bytes.store(round_up(config.guard_bytes, stack_os::page_size()),
                      std::memory_order_relaxed);
  g_vma_share.store(config.guard_page_vma_share_percent, std::memory_order_relaxed);
}

StackConfig stack_config() noexcept {
  const std::lock_guard lock(g_config_mutex);
  return g_config;
}

std::size_t checked_stack_size(std::size_t requested) {
  if (requested == 0) {
    return default_stack_size;  // a multiple of every page size Linux uses
  }
  const std::size_t size = requested;
  if (size < min_stack_size) {
    throw std::invalid_argument("cosync: stack size " + std::to_string(size) +
                                " bytes is below the minimum of " + std::to_string(min_stack_size));
  }
  if (size > max_stack_size) {
    throw std::invalid_argument("cosync: stack size " + std::to_string(size) +
                                " bytes is above the maximum of " + std::to_string(max_stack_size));
  }
  return round_up(size, stack_os::page_size());
}

Stack allocate_stack(std::size_t size) {
  const std::size_t checked = checked_stack_size(size);
  stack_overflow::ensure_installed();
  return thread_stacks().allocate(checked);
}

void release_stack(Stack& stack) noexcept {
  if (stack.base != nullptr) {
    thread_stacks().release(stack);
  }
}

void trim_stack_pool() noexcept {
  if (t_stacks != nullptr) {
    t_stacks->trim();
  }
}

StackStats stack_stats() noexcept {
  StackStats stats;
  if (t_stacks != nullptr) {
    t_stacks->fill(stats);
  }
  stats.process_guard_pages = g_guard_pages.load(std::memory_order_relaxed);
  stats.guard_page_budget = guard_page_budget();
  stats.max_map_count = stack_os::max_map_count();
  stats.guard_regions_supported = stack_os::guard_regions_supported();
  return stats;
}

bool stack_canary_intact(const Stack& stack) noexcept {
  return stack.guard != StackGuard::canary ||
         *static_cast<const std::uintptr_t*>(stack.base) == canary_for(stack);
}

void install_overflow_handler() { stack_overflow::install_now(); }

}  // namespace cosync
