#include "cosync/stack.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <memory>
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

// Guard-page stacks alive, pooled or decommitted in the whole process: each
// one costs two VMAs (its guard and its usable pages cannot merge with
// neighbours).
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

// The automatic guard is as large as the stack: a frame that jumps it
// cannot fit in the stack either, so unprobed frames cannot reach the
// neighbour below. It costs address space and page-table entries only.
constexpr std::size_t kMinAutomaticGuard = 64 * 1024;

std::size_t guard_bytes_for(std::size_t size) noexcept {
  const std::size_t configured = g_guard_bytes.load(std::memory_order_relaxed);
  if (configured != 0) {
    return configured;
  }
  return size > kMinAutomaticGuard ? size : kMinAutomaticGuard;
}

// Slabs grow from 64 to 4096 stacks (at most 4 GiB of address space), so a
// program with a few coroutines maps little and a million need ~250 mmaps.
constexpr std::size_t kFirstSlabStacks = 64;
constexpr std::size_t kMaxSlabStacks = 4096;
constexpr std::size_t kMaxSlabBytes = std::size_t{4} << 30U;
// Guard regions installed ahead of the carving, in one batched call: at
// first as many slots as the slab has carved (at least 8), then 64.
constexpr std::size_t kMinGuardBatch = 8;
constexpr std::size_t kGuardBatch = 64;
// Stacks given back per round: the array lives on the caller's stack,
// which may be a small coroutine stack.
constexpr std::size_t kGiveBackBatch = 32;
// Releases per epoch of the adaptive pool, at least.
constexpr std::size_t kMinEpoch = 4096;

// One mapping that holds `capacity` stacks of one size, each with its guard
// below it: slot i spans [base + i * stride, base + (i + 1) * stride).
struct Slab {
  char* base = nullptr;
  std::size_t bytes = 0;
  std::size_t size = 0;
  std::size_t guard = 0;
  std::size_t capacity = 0;
  // Written only by the thread carving it while `carving` is set.
  std::size_t carved = 0;       // slots handed out at least once
  std::size_t guarded = 0;      // slots whose guard region is installed ahead
  std::size_t guard_pages = 0;  // guard-page stacks in it (the VMA budget)
  // Guarded by g_slab_mutex.
  bool carving = true;      // a thread carves from it: never unmapped
  std::vector<Stack> free;  // decommitted free stacks, ready for reuse

  std::size_t stride() const noexcept { return guard + size; }
  char* slot(std::size_t index) const noexcept { return base + index * stride(); }
  bool all_free() const noexcept { return !carving && free.size() == carved; }
};

// Every slab of the process, sorted by address: a stack may be released on
// another thread than the one that carved it.
std::mutex g_slab_mutex;
std::vector<Slab*> g_slabs;                 // guarded by g_slab_mutex
std::atomic<std::size_t> g_decommitted{0};  // sum of the slabs' free stacks

Slab* slab_holding(const void* address) noexcept {
  const auto* byte = static_cast<const char*>(address);
  auto after = std::upper_bound(g_slabs.begin(), g_slabs.end(), byte,
                                [](const char* a, const Slab* slab) { return a < slab->base; });
  if (after == g_slabs.begin()) {
    return nullptr;
  }
  Slab* slab = *(after - 1);
  return byte < slab->base + slab->bytes ? slab : nullptr;
}

// Caller holds g_slab_mutex.
void unmap_slab(Slab* slab) noexcept {
  g_guard_pages.fetch_sub(slab->guard_pages, std::memory_order_relaxed);
  g_decommitted.fetch_sub(slab->free.size(), std::memory_order_relaxed);
  stack_os::unmap(slab->base, slab->bytes);
  g_slabs.erase(std::find(g_slabs.begin(), g_slabs.end(), slab));
  delete slab;
}

// Decommits free stacks and files them in their slabs; unmaps each slab
// whose stacks are then all free (without decommitting those first).
void give_back(Stack* stacks, std::size_t count) noexcept {
  stack_os::Range ranges[kGiveBackBatch];
  std::size_t decommit = 0;
  const std::lock_guard lock(g_slab_mutex);
  for (std::size_t i = 0; i < count; ++i) {
    support::valgrind_deregister_stack(stacks[i].valgrind_id);
    stacks[i].valgrind_id = 0;
    slab_holding(stacks[i].base)->free.push_back(stacks[i]);  // reserved: never throws
  }
  g_decommitted.fetch_add(count, std::memory_order_relaxed);
  for (std::size_t i = 0; i < count; ++i) {
    if (!slab_holding(stacks[i].base)->all_free()) {
      ranges[decommit++] = stack_os::Range{stacks[i].base, stacks[i].size};
    }
  }
  stack_os::decommit(ranges, decommit);
  for (std::size_t i = 0; i < count; ++i) {
    Slab* slab = slab_holding(stacks[i].base);
    if (slab != nullptr && slab->all_free()) {
      unmap_slab(slab);
    }
  }
}

void give_back_one(Stack& stack) noexcept { give_back(&stack, 1); }

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

 private:
  // A pooled stack keeps its own list node at its top, in memory that is
  // committed anyway, so pooling allocates nothing.
  struct PooledNode {
    Stack stack;
    PooledNode* next;
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
  bool take_decommitted(std::size_t size, Stack& out) noexcept;
  Stack carve(Bucket& bucket);
  void start_slab(Carver& carver, std::size_t size, std::size_t guard);
  StackGuard choose_guard() noexcept;
  bool install_guard(Slab& slab, std::size_t slot, Stack& stack) noexcept;
  void give_back_deep_pages(Stack& stack) noexcept;
  void end_epoch(Bucket& bucket) noexcept;
  void shrink_pool(Bucket& bucket, std::size_t keep) noexcept;
  static void retire(Carver& carver, bool only_if_all_free) noexcept;
  void count_live(StackGuard guard, int delta) noexcept;

  std::vector<Bucket> buckets_;
  // The bucket last allocated from or released to: a thread that uses one
  // size finds it without a search. Points into buckets_, so it is set anew
  // whenever buckets_ grows.
  Bucket* recent_ = nullptr;
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
// Set once the pool's owner has run at thread exit: another thread_local
// destructor that runs later (the built-in loop's teardown unwinds spawned
// coroutines) must not make a pool nobody would free.
thread_local bool t_stacks_gone __attribute__((tls_model("initial-exec"))) = false;

struct ThreadStacksOwner {
  ThreadStacksOwner() = default;
  ThreadStacksOwner(const ThreadStacksOwner&) = delete;
  ThreadStacksOwner& operator=(const ThreadStacksOwner&) = delete;
  ~ThreadStacksOwner() {
    delete t_stacks;
    t_stacks = nullptr;
    t_stacks_gone = true;
  }
};
thread_local ThreadStacksOwner t_stacks_owner;

// Out of line, so the allocation and release paths save no registers for it.
[[gnu::noinline]] ThreadStacks& create_thread_stacks() {
  // Once per thread, not once per stack: a thread with a pool has its
  // overflow handling ready.
  stack_overflow::ensure_installed();
  (void)&t_stacks_owner;  // odr-use: registers the thread-exit destructor
  t_stacks = new ThreadStacks();
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

void ThreadStacks::count_live(StackGuard guard, int delta) noexcept {
  live_[static_cast<unsigned>(guard)] += static_cast<std::size_t>(delta);
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
  count_live(stack.guard, +1);
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
  count_live(stack.guard, +1);
  return stack;
}

bool ThreadStacks::take_decommitted(std::size_t size, Stack& out) noexcept {
  if (g_decommitted.load(std::memory_order_relaxed) == 0) {
    return false;
  }
  {
    const std::lock_guard lock(g_slab_mutex);
    auto found = std::find_if(g_slabs.begin(), g_slabs.end(), [size](const Slab* slab) {
      return slab->size == size && !slab->free.empty();
    });
    if (found == g_slabs.end()) {
      return false;
    }
    out = (*found)->free.back();
    (*found)->free.pop_back();
    g_decommitted.fetch_sub(1, std::memory_order_relaxed);
  }
  if (out.guard == StackGuard::canary) {
    write_canary(out);  // decommitted pages read zero
  }
  out.valgrind_id = support::valgrind_register_stack(out.base, out.size);
  return true;
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

// Stops carving from the slab; unmaps it when none of its stacks is in use.
void ThreadStacks::retire(Carver& carver, bool only_if_all_free) noexcept {
  if (carver.slab == nullptr) {
    return;
  }
  const std::lock_guard lock(g_slab_mutex);
  Slab* slab = carver.slab;
  if (only_if_all_free && slab->free.size() != slab->carved) {
    return;
  }
  slab->carving = false;
  carver.slab = nullptr;
  if (slab->all_free()) {
    unmap_slab(slab);
  }
}

void ThreadStacks::start_slab(Carver& carver, std::size_t size, std::size_t guard) {
  retire(carver, false);
  auto slab = std::make_unique<Slab>();
  slab->size = size;
  slab->guard = guard;
  const std::size_t fit = kMaxSlabBytes / slab->stride();
  slab->capacity = std::min(carver.next_capacity, fit > 0 ? fit : 1);
  slab->bytes = slab->capacity * slab->stride();
  slab->free.reserve(slab->capacity);
  void* mapping = stack_os::map_lazy(slab->bytes);
  if (mapping == nullptr) {
    throw std::system_error(errno, std::generic_category(),
                            "cosync: cannot map a slab of " + std::to_string(slab->capacity) +
                                " coroutine stacks of " + std::to_string(size) + " bytes");
  }
  slab->base = static_cast<char*>(mapping);
  {
    const std::lock_guard lock(g_slab_mutex);
    g_slabs.insert(std::upper_bound(g_slabs.begin(), g_slabs.end(), slab.get(),
                                    [](const Slab* a, const Slab* b) { return a->base < b->base; }),
                   slab.get());
  }
  carver.slab = slab.release();
  carver.next_capacity = std::min(carver.next_capacity * 2, kMaxSlabStacks);
}

Stack ThreadStacks::carve(Bucket& bucket) {
  const StackGuard kind = choose_guard();
  Carver& carver = kind == StackGuard::guard_region ? bucket.regions : bucket.plain;
  const std::size_t guard = guard_bytes_for(bucket.size);
  Slab* slab = carver.slab;
  if (slab == nullptr || slab->carved == slab->capacity || slab->guard != guard) {
    try {
      start_slab(carver, bucket.size, guard);
    } catch (...) {
      if (kind == StackGuard::guard_page) {
        g_guard_pages.fetch_sub(1, std::memory_order_relaxed);
      }
      throw;
    }
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
      g_guard_pages.fetch_sub(1, std::memory_order_relaxed);
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

// Every coroutine writes the top page of its stack, and release_stack()
// reads the word under the hot area: mapping both ahead for a batch of
// slots saves two page faults per new stack for two batched calls.
void prefault_batch(const Slab& slab, std::size_t first, std::size_t count) noexcept {
  const std::size_t page = stack_os::page_size();
  const std::size_t hot = g_hot_bytes.load(std::memory_order_relaxed);
  const bool probed = slab.size > hot;
  stack_os::Range writes[kGuardBatch];
  stack_os::Range reads[kGuardBatch];
  for (std::size_t i = 0; i < count; ++i) {
    char* top = slab.slot(first + i) + slab.stride();
    writes[i] = stack_os::Range{top - page, page};
    reads[i] = stack_os::Range{top - hot - page, page};
  }
  stack_os::prefault(writes, probed ? reads : nullptr, count);
}

// Guard regions go in ahead of the carving, in batches.
bool ThreadStacks::install_guard(Slab& slab, std::size_t slot, Stack& stack) noexcept {
  switch (stack.guard) {
    case StackGuard::guard_region: {
      if (slot < slab.guarded) {
        return true;
      }
      const std::size_t count =
          std::min({kGuardBatch, slab.capacity - slot, std::max(kMinGuardBatch, slot)});
      stack_os::Range ranges[kGuardBatch] = {};
      for (std::size_t i = 0; i < count; ++i) {
        ranges[i] = stack_os::Range{slab.slot(slot + i), slab.guard};
      }
      if (!stack_os::install_guard_regions(ranges, count)) {
        return stack_os::install_guard_region(stack.mapping_base(), stack.guard_size());
      }
      slab.guarded = slot + count;
      prefault_batch(slab, slot, count);
      return true;
    }
    case StackGuard::guard_page:
      return stack_os::protect_guard_page(stack.mapping_base(), stack.guard_size());
    case StackGuard::canary:
      write_canary(stack);
      return true;
  }
  return false;
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
    low += stack_os::page_size();  // keep the canary's page
  }
  stack_os::decommit(low, static_cast<std::size_t>(hot_bottom - low));
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
  count_live(stack.guard, -1);
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
  count_live(stack.guard, -1);
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
  const std::size_t checked = size == 0 ? default_stack_size : checked_stack_size(size);
  return thread_stacks().allocate(checked);
}

void release_stack(Stack& stack) noexcept {
  if (stack.base == nullptr) {
    return;
  }
  if (t_stacks_gone) [[unlikely]] {
    support::asan_unpoison(stack.base, stack.size);
    give_back_one(stack);  // straight to its slab: this thread pools no more
    stack = Stack{};
    return;
  }
  thread_stacks().release(stack);
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
  stats.system_calls = stack_os::system_calls();
  {
    const std::lock_guard lock(g_slab_mutex);
    stats.slabs = g_slabs.size();
  }
  stats.decommitted = g_decommitted.load(std::memory_order_relaxed);
  stats.process_guard_pages = g_guard_pages.load(std::memory_order_relaxed);
  stats.guard_page_budget = guard_page_budget();
  stats.max_map_count = stack_os::max_map_count();
  stats.guard_regions_supported = stack_os::guard_regions_supported();
  stats.guard_batches_supported = stack_os::guard_batches_supported();
  return stats;
}

bool stack_canary_intact(const Stack& stack) noexcept {
  return stack.guard != StackGuard::canary ||
         *static_cast<const std::uintptr_t*>(stack.base) == canary_for(stack);
}

void install_overflow_handler() { stack_overflow::install_now(); }

}  // namespace cosync
