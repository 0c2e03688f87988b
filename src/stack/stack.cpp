// The per-thread half of the stack layer: each thread's pool of free
// stacks, adapting to its population, over the slabs of slab.cpp; and the
// public functions of cosync/stack.hpp, in the same file so that the pool's
// fast paths inline into allocate_stack() and release_stack().
#include "cosync/stack.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "stack/os.hpp"
#include "stack/overflow.hpp"
#include "stack/peak.hpp"
#include "stack/slab.hpp"
#include "support/sanitizer.hpp"
#include "support/scope_guard.hpp"

namespace cosync {

// 32 bytes on 64-bit targets; 20 on 32-bit ones, where the halves argument
// of its comment does not arise.
static_assert(sizeof(Stack) == 3 * sizeof(void*) + 8, "Stack must stay this size: see its comment");

namespace stack {
namespace {

std::mutex g_config_mutex;
StackConfig g_config;  // guarded by g_config_mutex

std::size_t round_up(std::size_t value, std::size_t unit) noexcept {
  return (value + unit - 1) / unit * unit;
}

// Releases per epoch of the adaptive pool, at least.
constexpr std::size_t kMinEpoch = 4096;

void give_back_one(Stack& stack) noexcept { give_back(&stack, 1); }

// Live stacks per guard kind, counted process-wide: a stack may be released
// on another thread than the one that allocated it, and no stack records
// its allocating thread (Stack is full, and a lookup would cost the fast
// paths). So each thread counts its allocations minus its releases, which
// alone may go below zero (in wrapping arithmetic), and the sum over the
// threads, live and exited, is the count.
using LiveCounts = std::array<std::size_t, 3>;

LiveCounts& operator+=(LiveCounts& sum, const LiveCounts& part) noexcept {
  for (std::size_t kind = 0; kind < sum.size(); ++kind) {
    sum[kind] += part[kind];
  }
  return sum;
}

// The peaks of finished coroutines (StackStats::peak_histogram and the
// figures beside it), summed over threads like the live counts.
struct PeakCounts {
  std::array<std::size_t, peak_histogram_buckets> histogram{};
  std::size_t max = 0;
  std::size_t exact = 0;
  std::size_t within_hot = 0;
};

PeakCounts& operator+=(PeakCounts& sum, const PeakCounts& part) noexcept {
  for (std::size_t bucket = 0; bucket < sum.histogram.size(); ++bucket) {
    sum.histogram[bucket] += part.histogram[bucket];
  }
  sum.max = std::max(sum.max, part.max);
  sum.exact += part.exact;
  sum.within_hot += part.within_hot;
  return sum;
}

// Bucket 0 holds peaks up to 1 KiB, bucket i those in (2^(i-1), 2^i] KiB.
std::size_t peak_bucket(std::size_t bytes) noexcept {
  if (bytes <= 1024) {
    return 0;
  }
  const auto bucket = static_cast<std::size_t>(std::bit_width((bytes - 1) >> 10U));
  return std::min(bucket, peak_histogram_buckets - 1);
}

// One thread's PeakCounts, written only by that thread (a load and a store
// each, no atomic read-modify-write) and read by stack_stats() on any.
class PeakTally {
 public:
  // A peak seen by its stack pointer is counted at its bound, the hot area.
  void add(const StackPeak& peak) noexcept {
    const bool within_hot = peak.method == PeakMethod::stack_pointer;
    bump(histogram_[peak_bucket(within_hot ? g_hot_bytes.load(std::memory_order_relaxed)
                                           : peak.bytes)]);
    if (peak.bytes > max_.load(std::memory_order_relaxed)) {
      max_.store(peak.bytes, std::memory_order_relaxed);
    }
    // The common method is counted as what the others leave of the total.
    if (!within_hot) {
      bump(peak.method == PeakMethod::pattern ? exact_ : pages_);
    }
  }

  PeakCounts read() const noexcept {
    PeakCounts counts;
    for (std::size_t bucket = 0; bucket < counts.histogram.size(); ++bucket) {
      counts.histogram[bucket] = histogram_[bucket].load(std::memory_order_relaxed);
    }
    counts.max = max_.load(std::memory_order_relaxed);
    counts.exact = exact_.load(std::memory_order_relaxed);
    std::size_t total = 0;
    for (const std::size_t count : counts.histogram) {
      total += count;
    }
    counts.within_hot = total - counts.exact - pages_.load(std::memory_order_relaxed);
    return counts;
  }

 private:
  using Counter = std::atomic<std::size_t>;
  static void bump(Counter& counter) noexcept {
    counter.store(counter.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }

  std::array<Counter, peak_histogram_buckets> histogram_{};
  Counter max_{0};
  Counter exact_{0};
  Counter pages_{0};
};

// A thread's cache of free stacks, one bucket per size in use, and the
// slabs it carves new stacks from.
class ThreadStacks {
 public:
  ThreadStacks() = default;
  ThreadStacks(const ThreadStacks&) = delete;
  ThreadStacks& operator=(const ThreadStacks&) = delete;
  ~ThreadStacks();

  // The common cases inline: a stack of the size last used pops from or
  // pushes onto its bucket's list; everything else is out of line.
  Stack allocate(std::size_t size);
  void release(Stack& stack) noexcept;
  void trim() noexcept;
  void fill(StackStats& stats) const noexcept;
  // This thread's allocations minus its releases, read from any thread.
  LiveCounts net_live() const noexcept;
  // The peaks of the coroutines that finished on this thread.
  PeakTally& peaks() noexcept { return peaks_; }
  const PeakTally& peaks() const noexcept { return peaks_; }

 private:
  // A pooled stack keeps its own list node at its top, in memory that is
  // committed anyway, so pooling allocates nothing.
  struct PooledNode {
    Stack stack;
    PooledNode* next = nullptr;
  };
  // The slab this thread carves fresh stacks of one size and guard kind from.
  struct Carver {
    Slab* slab = nullptr;
    std::size_t next_capacity = kFirstSlabStacks;
  };
  // The pool adapts to the population: `keep` remembers the peak of live
  // stacks, halving each epoch in which the population stayed lower, and
  // the pool holds at most keep - live stacks after an epoch.
  struct Bucket {
    std::size_t size = 0;
    PooledNode* head = nullptr;
    std::size_t count = 0;  // stacks in the pool
    std::size_t live = 0;
    std::size_t epoch_peak = 0;
    std::size_t keep = 0;
    std::size_t releases = 0;  // in this epoch
    std::size_t epoch_length = kMinEpoch;
    Carver regions;  // guard_region stacks, guards installed in batches
    Carver plain;    // guard_page and canary stacks
  };
  static PooledNode* node_for(const Stack& stack) noexcept {
    return static_cast<PooledNode*>(stack.top()) - 1;
  }

  Stack allocate_slow(std::size_t size);
  void release_slow(Stack& stack) noexcept;
  static bool has_deep_pages(const Stack& stack) noexcept;
  Bucket& bucket_for(std::size_t size);
  Bucket* find_bucket(std::size_t size) noexcept;
  Stack carve(Bucket& bucket);
  void start_slab(Carver& carver, std::size_t size, std::size_t guard);
  StackGuard choose_guard() noexcept;
  void give_back_deep_pages(Stack& stack) noexcept;
  void end_epoch(Bucket& bucket) noexcept;
  void shrink_pool(Bucket& bucket, std::size_t keep) noexcept;
  static void retire(Carver& carver, bool only_if_all_free) noexcept;
  void count_live(StackGuard guard, std::size_t delta) noexcept;

  std::vector<Bucket> buckets_;
  // The bucket last allocated from or released to: a thread that uses one
  // size finds it without a search. Points into buckets_, so it is set anew
  // whenever buckets_ grows.
  Bucket* recent_ = nullptr;
  // Written only by this thread, read by stack_stats() on any thread.
  std::array<std::atomic<std::size_t>, 3> net_live_{};
  PeakTally peaks_;
  std::size_t mapped_ = 0;
  std::size_t reused_ = 0;
  std::size_t trimmed_ = 0;
  std::size_t canary_fallbacks_ = 0;
};

// The pools of the running threads, and what the exited ones left of their
// net live counts (and the releases after a thread's pool is gone).
std::mutex g_pools_mutex;
std::vector<const ThreadStacks*> g_pools;  // guarded by g_pools_mutex
LiveCounts g_exited_net_live{};            // guarded by g_pools_mutex
PeakCounts g_exited_peaks;                 // guarded by g_pools_mutex

// The pool is reached through a trivially initialised pointer (one TLS load
// on the allocation path); a second thread_local object frees it at thread
// exit.
thread_local ThreadStacks* t_stacks __attribute__((tls_model("initial-exec"))) = nullptr;
// Set once the pool's owner has run at thread exit: another thread_local
// destructor that runs later (the built-in loop's teardown unwinds spawned
// coroutines) must not make a pool nobody would free.
thread_local bool t_stacks_gone __attribute__((tls_model("initial-exec"))) = false;
// Releases this thread makes before the next one is sampled, the only test
// on the release path: a thread whose pool is gone keeps it at 1, so each
// of its releases takes the slow path too. Each thread's first release is
// sampled.
constinit thread_local std::size_t t_peak_countdown __attribute__((tls_model("initial-exec"))) = 1;

struct ThreadStacksOwner {
  ThreadStacksOwner() = default;
  ThreadStacksOwner(const ThreadStacksOwner&) = delete;
  ThreadStacksOwner& operator=(const ThreadStacksOwner&) = delete;
  ~ThreadStacksOwner() {
    delete t_stacks;
    t_stacks = nullptr;
    t_stacks_gone = true;
    t_peak_countdown = 1;
  }
};
thread_local ThreadStacksOwner t_stacks_owner;

// Out of line, so the allocation and release paths save no registers for it.
[[gnu::noinline]] ThreadStacks& create_thread_stacks() {
  // Once per thread, not once per stack: a thread with a pool has its
  // overflow handling ready.
  overflow::ensure_installed();
  (void)&t_stacks_owner;  // odr-use: registers the thread-exit destructor
  auto pool = std::make_unique<ThreadStacks>();
  {
    const std::lock_guard lock(g_pools_mutex);
    g_pools.push_back(pool.get());
  }
  t_stacks = pool.release();  // registered: its destructor may deregister it
  return *t_stacks;
}

ThreadStacks& thread_stacks() {
  if (t_stacks != nullptr) [[likely]] {
    return *t_stacks;
  }
  return create_thread_stacks();
}

// Slabs with stacks still in use (coroutines that outlive the thread) stay
// mapped; the thread that releases their last stack unmaps them.
ThreadStacks::~ThreadStacks() {
  trim();
  for (Bucket& bucket : buckets_) {
    retire(bucket.regions, false);
    retire(bucket.plain, false);
  }
  const std::lock_guard lock(g_pools_mutex);
  g_pools.erase(std::find(g_pools.begin(), g_pools.end(), this));
  g_exited_net_live += net_live();
  g_exited_peaks += peaks_.read();
}

// Counts a release on a thread whose pool is gone.
void count_release_without_pool(StackGuard guard) noexcept {
  const std::lock_guard lock(g_pools_mutex);
  --g_exited_net_live[static_cast<unsigned>(guard)];
}

// Each thread's net count is read as it stands: a sum taken while other
// threads pass stacks between them may miss a stack in flight, and goes
// no lower than zero for it.
void fill_live(StackStats& stats) noexcept {
  LiveCounts sum;
  {
    const std::lock_guard lock(g_pools_mutex);
    sum = g_exited_net_live;
    for (const ThreadStacks* pool : g_pools) {
      sum += pool->net_live();
    }
  }
  const auto at_least_zero = [](std::size_t count) {
    return static_cast<std::ptrdiff_t>(count) < 0 ? 0 : count;
  };
  stats.live_guard_region = at_least_zero(sum[static_cast<unsigned>(StackGuard::guard_region)]);
  stats.live_guard_page = at_least_zero(sum[static_cast<unsigned>(StackGuard::guard_page)]);
  stats.live_canary = at_least_zero(sum[static_cast<unsigned>(StackGuard::canary)]);
}

void fill_peaks(StackStats& stats) noexcept {
  PeakCounts sum;
  {
    const std::lock_guard lock(g_pools_mutex);
    sum = g_exited_peaks;
    for (const ThreadStacks* pool : g_pools) {
      sum += pool->peaks().read();
    }
  }
  stats.peak_histogram = sum.histogram;
  stats.peaks = 0;
  for (const std::size_t count : sum.histogram) {
    stats.peaks += count;
  }
  stats.peak_max = sum.max;
  // A peak seen only by its stack pointer stayed within the hot area.
  stats.peak_bound = sum.within_hot != 0
                         ? std::max(sum.max, g_hot_bytes.load(std::memory_order_relaxed))
                         : sum.max;
  stats.peaks_exact = sum.exact;
  stats.peaks_within_hot = sum.within_hot;
}

ThreadStacks::Bucket* ThreadStacks::find_bucket(std::size_t size) noexcept {
  if (recent_ != nullptr && recent_->size == size) [[likely]] {
    return recent_;
  }
  for (Bucket& bucket : buckets_) {
    if (bucket.size == size) {
      recent_ = &bucket;
      return &bucket;
    }
  }
  return nullptr;
}

ThreadStacks::Bucket& ThreadStacks::bucket_for(std::size_t size) {
  Bucket* found = find_bucket(size);
  if (found != nullptr) [[likely]] {
    return *found;
  }
  Bucket& fresh = buckets_.emplace_back();
  fresh.size = size;
  recent_ = &fresh;
  return fresh;
}

// A load and a store, not an atomic add: only this thread writes the count.
void ThreadStacks::count_live(StackGuard guard, std::size_t delta) noexcept {
  std::atomic<std::size_t>& count = net_live_[static_cast<unsigned>(guard)];
  count.store(count.load(std::memory_order_relaxed) + delta, std::memory_order_relaxed);
}

LiveCounts ThreadStacks::net_live() const noexcept {
  LiveCounts counts;
  for (std::size_t kind = 0; kind < counts.size(); ++kind) {
    counts[kind] = net_live_[kind].load(std::memory_order_relaxed);
  }
  return counts;
}

inline Stack ThreadStacks::allocate(std::size_t size) {
  Bucket* bucket = recent_;
  if (bucket == nullptr || bucket->size != size || bucket->head == nullptr) [[unlikely]] {
    return allocate_slow(size);
  }
  PooledNode* node = bucket->head;
  bucket->head = node->next;
  --bucket->count;
  Stack stack = node->stack;
  ++reused_;
  if (++bucket->live > bucket->epoch_peak) {
    bucket->epoch_peak = bucket->live;
  }
  count_live(stack.guard, 1);
  return stack;
}

[[gnu::noinline]] Stack ThreadStacks::allocate_slow(std::size_t size) {
  Bucket& bucket = bucket_for(size);
  Stack stack;
  if (bucket.head != nullptr) {
    PooledNode* node = bucket.head;
    bucket.head = node->next;
    --bucket.count;
    stack = node->stack;
    ++reused_;
  } else if (take_decommitted(size, stack)) {
    ++reused_;
  } else {
    stack = carve(bucket);
  }
  if (++bucket.live > bucket.epoch_peak) {
    bucket.epoch_peak = bucket.live;
  }
  count_live(stack.guard, 1);
  return stack;
}

StackGuard ThreadStacks::choose_guard() noexcept {
  const GuardPolicy policy = g_policy.load(std::memory_order_relaxed);
  if (policy == GuardPolicy::canary) {
    return StackGuard::canary;
  }
  if (policy == GuardPolicy::automatic && os::guard_regions_supported()) {
    return StackGuard::guard_region;
  }
  if (reserve_guard_page()) {
    return StackGuard::guard_page;
  }
  ++canary_fallbacks_;
  return StackGuard::canary;
}

// Stops carving from the slab; unmaps it when none of its stacks is in use.
void ThreadStacks::retire(Carver& carver, bool only_if_all_free) noexcept {
  if (carver.slab != nullptr && retire_slab(*carver.slab, only_if_all_free)) {
    carver.slab = nullptr;
  }
}

void ThreadStacks::start_slab(Carver& carver, std::size_t size, std::size_t guard) {
  retire(carver, false);
  carver.slab = map_slab(size, guard, carver.next_capacity);
  carver.next_capacity = std::min(carver.next_capacity * 2, kMaxSlabStacks);
}

Stack ThreadStacks::carve(Bucket& bucket) {
  const StackGuard kind = choose_guard();
  Carver& carver = kind == StackGuard::guard_region ? bucket.regions : bucket.plain;
  const std::size_t guard = guard_bytes_for(bucket.size);
  Slab* slab = carver.slab;
  if (slab == nullptr || slab->carved == slab->capacity || slab->guard != guard) {
    // The guard page reserved above goes back if no slab can be mapped.
    support::ScopeExit unreserve([kind] {
      if (kind == StackGuard::guard_page) {
        release_guard_page();
      }
    });
    start_slab(carver, bucket.size, guard);
    unreserve.dismiss();
    slab = carver.slab;
  }
  const std::size_t slot = slab->carved++;
  Stack stack;
  stack.base = slab->slot(slot) + guard;
  stack.size = bucket.size;
  stack.guard_bytes = kind == StackGuard::canary ? 0 : guard;
  stack.guard = kind;
  if (!install_guard(*slab, slot, stack)) {
    // The kernel refused the guard (for mprotect: usually the VMA limit).
    // A canary still catches the overflow, so keep the stack.
    if (kind == StackGuard::guard_page) {
      release_guard_page();
    }
    stack.guard = StackGuard::canary;
    stack.guard_bytes = 0;
    ++canary_fallbacks_;
    write_canary(stack);
  } else if (kind == StackGuard::guard_page) {
    ++slab->guard_pages;
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
  if (!has_deep_pages(stack)) {
    return;
  }
  char* hot_bottom = static_cast<char*>(stack.top()) - g_hot_bytes.load(std::memory_order_relaxed);
  char* low = static_cast<char*>(stack.base);
  if (stack.guard == StackGuard::canary) {
    low += os::page_size();  // keep the canary's page
  }
  os::decommit(low, static_cast<std::size_t>(hot_bottom - low));
  ++trimmed_;
}

bool ThreadStacks::has_deep_pages(const Stack& stack) noexcept {
  const std::size_t hot = g_hot_bytes.load(std::memory_order_relaxed);
  if (stack.size <= hot) {
    return false;
  }
  const auto* probe =
      reinterpret_cast<const std::uintptr_t*>(static_cast<char*>(stack.top()) - hot) - 1;
  return *probe != 0;
}

inline void ThreadStacks::release(Stack& stack) noexcept {
  Bucket* bucket = recent_;
  if (bucket == nullptr || bucket->size != stack.size ||
      bucket->count >= g_pool_limit.load(std::memory_order_relaxed) || has_deep_pages(stack) ||
      support::asan_enabled) [[unlikely]] {
    release_slow(stack);
    return;
  }
  count_live(stack.guard, static_cast<std::size_t>(-1));
  if (bucket->live > 0) {
    --bucket->live;
  }
  PooledNode* node = node_for(stack);
  node->stack = stack;
  node->next = bucket->head;
  bucket->head = node;
  ++bucket->count;
  stack = Stack{};
  if (++bucket->releases >= bucket->epoch_length) [[unlikely]] {
    end_epoch(*bucket);
  }
}

[[gnu::noinline]] void ThreadStacks::release_slow(Stack& stack) noexcept {
  count_live(stack.guard, static_cast<std::size_t>(-1));
  support::asan_unpoison(stack.base, stack.size);
  Bucket* bucket = find_bucket(stack.size);
  if (bucket == nullptr) {
    give_back_one(stack);  // carved by another thread, in a size this one never used
    stack = Stack{};
    return;
  }
  if (bucket->live > 0) {
    --bucket->live;
  }
  if (bucket->count < g_pool_limit.load(std::memory_order_relaxed)) {
    give_back_deep_pages(stack);
    PooledNode* node = node_for(stack);
    node->stack = stack;
    node->next = bucket->head;
    bucket->head = node;
    ++bucket->count;
  } else {
    give_back_one(stack);
  }
  stack = Stack{};
  if (++bucket->releases >= bucket->epoch_length) {
    end_epoch(*bucket);
  }
}

void ThreadStacks::end_epoch(Bucket& bucket) noexcept {
  bucket.keep = std::max(bucket.epoch_peak, bucket.keep / 2);
  const std::size_t spare = bucket.keep > bucket.live ? bucket.keep - bucket.live : 0;
  shrink_pool(bucket, std::min(spare, g_pool_limit.load(std::memory_order_relaxed)));
  bucket.epoch_peak = bucket.live;
  bucket.releases = 0;
  bucket.epoch_length = std::max(kMinEpoch, bucket.keep);
}

// Keeps the `keep` most recently pooled stacks and gives back the others.
void ThreadStacks::shrink_pool(Bucket& bucket, std::size_t keep) noexcept {
  if (bucket.count <= keep) {
    return;
  }
  PooledNode** link = &bucket.head;
  for (std::size_t i = 0; i < keep; ++i) {
    link = &(*link)->next;
  }
  PooledNode* rest = *link;
  *link = nullptr;
  bucket.count = keep;
  Stack batch[kGiveBackBatch];
  std::size_t filled = 0;
  while (rest != nullptr) {
    batch[filled++] = rest->stack;  // the node lives in the stack: read it first
    rest = rest->next;
    if (filled == kGiveBackBatch || rest == nullptr) {
      give_back(batch, filled);
      filled = 0;
    }
  }
}

void ThreadStacks::trim() noexcept {
  for (Bucket& bucket : buckets_) {
    shrink_pool(bucket, 0);
    retire(bucket.regions, true);
    retire(bucket.plain, true);
  }
}

void ThreadStacks::fill(StackStats& stats) const noexcept {
  for (const Bucket& bucket : buckets_) {
    stats.pooled += bucket.count;
  }
  stats.mapped = mapped_;
  stats.reused = reused_;
  stats.trimmed = trimmed_;
  stats.canary_fallbacks = canary_fallbacks_;
}

}  // namespace
}  // namespace stack

bool Stack::contains(const void* address) const noexcept {
  const auto* byte = static_cast<const char*>(address);
  return byte >= static_cast<const char*>(base) && byte < static_cast<const char*>(top());
}

bool Stack::guard_contains(const void* address) const noexcept {
  const auto* byte = static_cast<const char*>(address);
  return byte >= static_cast<const char*>(mapping_base()) && byte < static_cast<const char*>(base);
}

void configure_stacks(const StackConfig& config) {
  if (config.guard_bytes > max_stack_size) {
    throw std::invalid_argument("cosync: StackConfig::guard_bytes is " +
                                std::to_string(config.guard_bytes) + "; it must be at most " +
                                std::to_string(max_stack_size) + " (0: as large as the stack)");
  }
  if (config.guard_page_vma_share_percent > 100) {
    throw std::invalid_argument("cosync: StackConfig::guard_page_vma_share_percent is " +
                                std::to_string(config.guard_page_vma_share_percent) +
                                ", above 100");
  }
  const std::lock_guard lock(stack::g_config_mutex);
  stack::g_config = config;
  stack::g_policy.store(config.guard_policy, std::memory_order_relaxed);
  stack::g_pool_limit.store(config.pool_limit, std::memory_order_relaxed);
  stack::g_hot_bytes.store(stack::round_up(config.hot_bytes, stack::os::page_size()),
                           std::memory_order_relaxed);
  stack::g_guard_bytes.store(stack::round_up(config.guard_bytes, stack::os::page_size()),
                             std::memory_order_relaxed);
  stack::g_vma_share.store(config.guard_page_vma_share_percent, std::memory_order_relaxed);
  stack::g_exact_peak_every.store(config.exact_peak_every, std::memory_order_relaxed);
  stack::g_peak_sample_every.store(config.exact_peak_every != 0 ? 1 : config.peak_sample_every,
                                   std::memory_order_relaxed);
  if (!stack::t_stacks_gone) {
    stack::t_peak_countdown = stack::peak_countdown_start();
  }
}

StackConfig stack_config() noexcept {
  const std::lock_guard lock(stack::g_config_mutex);
  return stack::g_config;
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
  return stack::round_up(size, stack::os::page_size());
}

Stack allocate_stack(std::size_t size) {
  const std::size_t checked = size == 0 ? default_stack_size : checked_stack_size(size);
  const Stack stack = stack::thread_stacks().allocate(checked);
  stack::maybe_fill_for_peak(stack);
  return stack;
}

namespace stack {

// A release whose countdown ran out: one to sample (measured before the
// pool decommits what it looks at), or one on a thread whose pool is gone,
// which goes straight to its slab.
[[gnu::noinline]] void release_counted(Stack& stack) noexcept {
  if (t_stacks_gone) [[unlikely]] {
    t_peak_countdown = 1;
    support::asan_unpoison(stack.base, stack.size);
    count_release_without_pool(stack.guard);
    give_back_one(stack);
    stack = Stack{};
    return;
  }
  t_peak_countdown = peak_countdown_start();
  ThreadStacks& pool = thread_stacks();
  if (g_peak_sample_every.load(std::memory_order_relaxed) != 0) {
    pool.peaks().add(measure_peak(stack, nullptr, true));
  }
  pool.release(stack);
}

}  // namespace stack

void release_stack(Stack& stack) noexcept {
  if (stack.base == nullptr) {
    return;
  }
  if (--stack::t_peak_countdown == 0) [[unlikely]] {
    stack::release_counted(stack);
    return;
  }
  stack::thread_stacks().release(stack);
}

void trim_stack_pool() noexcept {
  if (stack::t_stacks != nullptr) {
    stack::t_stacks->trim();
  }
}

StackStats stack_stats() noexcept {
  StackStats stats;
  if (stack::t_stacks != nullptr) {
    stack::t_stacks->fill(stats);
  }
  stack::fill_live(stats);
  stack::fill_peaks(stats);
  stats.system_calls = stack::os::system_calls();
  stats.slabs = stack::slab_count();
  stats.decommitted = stack::decommitted_count();
  stats.process_guard_pages = stack::guard_pages_in_use();
  stats.guard_page_budget = stack::guard_page_budget();
  stats.max_map_count = stack::os::max_map_count();
  stats.guard_regions_supported = stack::os::guard_regions_supported();
  stats.guard_batches_supported = stack::os::guard_batches_supported();
  return stats;
}

std::size_t recommended_stack_size(const StackStats& stats) noexcept {
  if (stats.peaks == 0) {
    return 0;
  }
  return std::max(min_stack_size, std::bit_ceil(2 * stats.peak_bound));
}

namespace {

std::string kib(std::size_t bytes) { return std::to_string((bytes + 1023) / 1024) + " KiB"; }

}  // namespace

std::string stack_advice(const StackStats& stats) {
  if (stats.peaks == 0) {
    return "no coroutine in the peak sample yet: no stack size to advise";
  }
  std::string text = "peak " + kib(stats.peak_max);
  if (stats.peak_bound > stats.peak_max) {
    text = "peak under " + kib(stats.peak_bound);
    if (stats.peak_max != 0) {
      text += " (" + kib(stats.peak_max) + " measured)";
    }
  }
  text += " across " + std::to_string(stats.peaks) +
          (stats.peaks == 1 ? " sampled coroutine" : " sampled coroutines");
  return text + ": a " + kib(recommended_stack_size(stats)) + " stack would do (the default is " +
         kib(default_stack_size) + ")";
}

StackPeak measure_stack_peak(const Stack& stack, const void* deepest_seen) noexcept {
  return stack::measure_peak(stack, deepest_seen, false);
}

bool stack_canary_intact(const Stack& stack) noexcept {
  return stack.guard != StackGuard::canary ||
         *static_cast<const std::uintptr_t*>(stack.base) == stack::canary_for(stack);
}

void install_overflow_handler() { stack::overflow::install_now(); }

}  // namespace cosync
