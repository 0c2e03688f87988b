// The coroutine layer's internal API for a library that keeps another
// coroutine API's semantics on cosync's records (libcosync-pcl): a switch
// between any two contexts of a thread, an exit that leaves a stack without
// unwinding it, and frames on memory the program provides. Internal to
// cosync; not part of the API.
#pragma once

#include <cstddef>

#include "cosync/coroutine.hpp"

namespace cosync::coroutine {

// Switches from the running context to `to`, a context of this thread that
// is not running, as resume() does (and throws what it throws), with the
// inline path taken for a yield to the running coroutine's resumer too.
[[gnu::always_inline]] inline void transfer_to(Coroutine& to) { impl::Switch::transfer(to); }

// Ends the running coroutine without unwinding its stack and switches to
// `to`, which frees it (control block and stack) on arrival. Throws
// UsageError, before leaving, on the main context, when `to` is the running
// coroutine, or when `to` could not be resumed.
[[noreturn]] void exit_to(Coroutine& to);

// A frame for a `body_size` control block at the top of [memory, memory +
// size), memory the program owns: release() does not give it to the stack
// pool, and the block's check_program_stack() checks it at every switch
// away from it (the stack layer's canary is not there). Throws std::invalid_argument when too
// little of it is left below the block.
impl::Frame frame_on(void* memory, std::size_t size, std::size_t body_size, std::size_t body_align);

}  // namespace cosync::coroutine
