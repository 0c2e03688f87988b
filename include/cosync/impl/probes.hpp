// The one definition of cosync's USDT trace probes: provider `cosync`, one
// `COSYNC_PROBE(name, args...)` per site. Each site is a single nop plus a
// note in .note.stapsdt that tells a tracer (perf, bpftrace, gdb, SystemTap)
// where the nop is and where each argument lives (a register or a memory
// operand the code already has), so an untraced process pays the nop and
// nothing else: no semaphore, no branch. The probes and their arguments are
// listed in docs/tracing.md.
//
// The library's own sites are compiled in when it is built with
// COSYNC_PROBES (the default; the configure then requires sys/sdt.h). The
// inline switch (coroutine_switch.hpp) carries the resume and yield probes
// into the code that includes it too, where <sys/sdt.h> exists; without it
// those sites compile to nothing in that code only.
#pragma once

#include "cosync/config.hpp"

#if COSYNC_PROBES && __has_include(<sys/sdt.h>)
#include <sys/sdt.h>
// Fires probe cosync:`name` with one to six integer or pointer arguments,
// through sys/sdt.h's STAP_PROBE<n> (its variadic form needs a switch that
// code including sys/sdt.h first may not have set).
#define COSYNC_PROBE(name, ...)                                                            \
  COSYNC_DETAIL_PROBE_N(COSYNC_DETAIL_PROBE_ARITY(__VA_ARGS__, 6, 5, 4, 3, 2, 1, 0), name, \
                        __VA_ARGS__)
// The number of arguments, one to six.
#define COSYNC_DETAIL_PROBE_ARITY(a1, a2, a3, a4, a5, a6, n, ...) n
// STAP_PROBE<n>, with `n` expanded first.
#define COSYNC_DETAIL_PROBE_N(n, name, ...) COSYNC_DETAIL_PROBE_PASTE(n, name, __VA_ARGS__)
// STAP_PROBE<n>(cosync, name, args...).
#define COSYNC_DETAIL_PROBE_PASTE(n, name, ...) STAP_PROBE##n(cosync, name, __VA_ARGS__)
#else
// Probes compiled out: the arguments are not evaluated.
#define COSYNC_PROBE(name, ...) static_cast<void>(0)
#endif
