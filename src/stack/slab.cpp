#include "stack/slab.hpp"

#include <algorithm>
#include <cerrno>
#include <memory>
#include <mutex>
#include <string>

#include "stack/os.hpp"
#include "support/errors.hpp"
#include "support/sanitizer.hpp"

namespace cosync::stack {
namespace {

// Guard-page stacks alive, pooled or decommitted in the whole process: each
// one costs two VMAs (its guard and its usable pages cannot merge with
// neighbours).
std::atomic<std::size_t> g_guard_pages{0};
constexpr std::size_t kVmasPerGuardPage = 2;

// The automatic guard is as large as the stack: a frame that jumps it
// cannot fit in the stack either, so unprobed frames cannot reach the
// neighbour below. It costs address space and page-table entries only.
constexpr std::size_t kMinAutomaticGuard = 64 * 1024;

// Guard regions installed ahead of the carving, in one batched call: at
// first as many slots as the slab has carved (at least 8), then 64.
constexpr std::size_t kMinGuardBatch = 8;
constexpr std::size_t kGuardBatch = 64;

// Every slab of the process, sorted by address: a stack may be released on
// another thread than the one that carved it.
std::mutex g_slab_mutex;
std::vector<Slab*> g_slabs;                 // guarded by g_slab_mutex
std::atomic<std::size_t> g_decommitted{0};  // sum of the slabs' free stacks

std::uintptr_t canary_secret() noexcept {
  static const std::uintptr_t secret = [] {
    std::uintptr_t value = 0;
    os::random_bytes(&value, sizeof value);
    return value | 1U;  // never zero, the value of untouched memory
  }();
  return secret;
}

// Caller holds g_slab_mutex.
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
  os::unmap(slab->base, slab->bytes);
  g_slabs.erase(std::find(g_slabs.begin(), g_slabs.end(), slab));
  delete slab;
}

// Every coroutine writes the top page of its stack, and release_stack()
// reads the word under the hot area: mapping both ahead for a batch of
// slots saves two page faults per new stack for two batched calls.
void prefault_batch(const Slab& slab, std::size_t first, std::size_t count) noexcept {
  const std::size_t page = os::page_size();
  const std::size_t hot = g_hot_bytes.load(std::memory_order_relaxed);
  const bool probed = slab.size > hot;
  os::Range writes[kGuardBatch];
  os::Range reads[kGuardBatch];
  for (std::size_t i = 0; i < count; ++i) {
    char* top = slab.slot(first + i) + slab.stride();
    writes[i] = os::Range{top - page, page};
    reads[i] = os::Range{top - hot - page, page};
  }
  os::prefault(writes, probed ? reads : nullptr, count);
}

bool install_guard_regions_ahead(Slab& slab, std::size_t slot, Stack& stack) noexcept {
  if (slot < slab.guarded) {
    return true;
  }
  const std::size_t count =
      std::min({kGuardBatch, slab.capacity - slot, std::max(kMinGuardBatch, slot)});
  os::Range ranges[kGuardBatch] = {};
  for (std::size_t i = 0; i < count; ++i) {
    ranges[i] = os::Range{slab.slot(slot + i), slab.guard};
  }
  if (!os::install_guard_regions(ranges, count)) {
    return os::install_guard_region(stack.mapping_base(), stack.guard_size());
  }
  slab.guarded = slot + count;
  prefault_batch(slab, slot, count);
  return true;
}

}  // namespace

std::uintptr_t canary_for(const Stack& stack) noexcept {
  return canary_secret() ^ reinterpret_cast<std::uintptr_t>(stack.base);
}

void write_canary(const Stack& stack) noexcept {
  *static_cast<std::uintptr_t*>(stack.base) = canary_for(stack);
}

std::size_t guard_page_budget() noexcept {
  return os::max_map_count() * g_vma_share.load(std::memory_order_relaxed) / 100 /
         kVmasPerGuardPage;
}

std::size_t guard_pages_in_use() noexcept { return g_guard_pages.load(std::memory_order_relaxed); }

bool reserve_guard_page() noexcept {
  std::size_t taken = g_guard_pages.load(std::memory_order_relaxed);
  const std::size_t budget = guard_page_budget();
  while (taken < budget) {
    if (g_guard_pages.compare_exchange_weak(taken, taken + 1, std::memory_order_relaxed)) {
      return true;
    }
  }
  return false;
}

void release_guard_page() noexcept { g_guard_pages.fetch_sub(1, std::memory_order_relaxed); }

std::size_t guard_bytes_for(std::size_t size) noexcept {
  const std::size_t configured = g_guard_bytes.load(std::memory_order_relaxed);
  if (configured != 0) {
    return configured;
  }
  return size > kMinAutomaticGuard ? size : kMinAutomaticGuard;
}

Slab* map_slab(std::size_t size, std::size_t guard, std::size_t capacity) {
  auto slab = std::make_unique<Slab>();
  slab->size = size;
  slab->guard = guard;
  const std::size_t fit = kMaxSlabBytes / slab->stride();
  slab->capacity = std::min(capacity, fit > 0 ? fit : 1);
  slab->bytes = slab->capacity * slab->stride();
  slab->free.reserve(slab->capacity);
  void* mapping = os::map_lazy(slab->bytes);
  if (mapping == nullptr) {
    support::throw_errno(errno, "cannot map a slab of " + std::to_string(slab->capacity) +
                                    " coroutine stacks of " + std::to_string(size) + " bytes");
  }
  slab->base = static_cast<char*>(mapping);
  const std::lock_guard lock(g_slab_mutex);
  g_slabs.insert(std::upper_bound(g_slabs.begin(), g_slabs.end(), slab.get(),
                                  [](const Slab* a, const Slab* b) { return a->base < b->base; }),
                 slab.get());
  return slab.release();
}

bool retire_slab(Slab& slab, bool only_if_all_free) noexcept {
  const std::lock_guard lock(g_slab_mutex);
  if (only_if_all_free && slab.free.size() != slab.carved) {
    return false;
  }
  slab.carving = false;
  if (slab.all_free()) {
    unmap_slab(&slab);
  }
  return true;
}

void give_back(Stack* stacks, std::size_t count) noexcept {
  os::Range ranges[kGiveBackBatch];
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
      ranges[decommit++] = os::Range{stacks[i].base, stacks[i].size};
    }
  }
  os::decommit(ranges, decommit);
  for (std::size_t i = 0; i < count; ++i) {
    Slab* slab = slab_holding(stacks[i].base);
    if (slab != nullptr && slab->all_free()) {
      unmap_slab(slab);
    }
  }
}

bool take_decommitted(std::size_t size, Stack& out) noexcept {
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

bool install_guard(Slab& slab, std::size_t slot, Stack& stack) noexcept {
  switch (stack.guard) {
    case StackGuard::guard_region:
      return install_guard_regions_ahead(slab, slot, stack);
    case StackGuard::guard_page:
      return os::protect_guard_page(stack.mapping_base(), stack.guard_size());
    case StackGuard::canary:
      write_canary(stack);
      return true;
  }
  return false;
}

std::size_t slab_count() noexcept {
  const std::lock_guard lock(g_slab_mutex);
  return g_slabs.size();
}

std::size_t decommitted_count() noexcept { return g_decommitted.load(std::memory_order_relaxed); }

}  // namespace cosync::stack
