/* The tiny harness of the C tests (tests/capi, tests/tevent_glue): CHECK
   reports a failed condition with its file and line and counts it, and
   c_check_run runs the case named on the command line (every case without
   one), printing "<case>: ok" or "<case>: FAILED", and gives main its exit
   status. Each test file includes this once: the state is per executable. */
#ifndef COSYNC_TESTS_C_CHECK_H
#define COSYNC_TESTS_C_CHECK_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;

#define CHECK(condition)                                                            \
  do {                                                                              \
    if (!(condition)) {                                                             \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #condition); \
      ++failures;                                                                   \
    }                                                                               \
  } while (0)

/* Nanoseconds per millisecond, for cosync deadlines and durations. */
#define MS (INT64_C(1000000))

struct c_check_case {
  const char *name;
  void (*run)(void);
};

static inline int c_check_run(const struct c_check_case *cases, size_t count, int argc,
                              char **argv) {
  for (size_t i = 0; i < count; ++i) {
    if (argc < 2 || strcmp(argv[1], cases[i].name) == 0) {
      cases[i].run();
      printf("%s: %s\n", cases[i].name, failures == 0 ? "ok" : "FAILED");
    }
  }
  return failures == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#endif /* COSYNC_TESTS_C_CHECK_H */
