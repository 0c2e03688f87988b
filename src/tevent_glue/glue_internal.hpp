// What the tevent glue's translation units share.
#pragma once

#include "capi/capi_internal.hpp"
#include "cosync/loop_tevent.hpp"
#include "cosync/tevent.h"

extern "C" {  // tevent.h does not declare C linkage itself
#include <tevent.h>
}

namespace cosync::tevent_glue {

// True when this thread's loop is the tevent adapter of `ev`: only then do
// ev's dispatch and the coroutines of this thread run each other.
bool loop_runs_inside(const tevent_context* ev) noexcept;

// The message for a glue call made on a thread whose loop is not `ev`.
void report_wrong_loop(const char* call) noexcept;

}  // namespace cosync::tevent_glue
