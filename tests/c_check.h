/* The tiny harness of the C tests (tests/capi, tests/tevent_glue): CHECK
   reports a failed condition with its file and line and counts it, and
   c_check_main runs the case named on the command line (every case without
   one), printing "<case>: ok" or "<case>: FAILED", and gives main its exit
   status. Each test file includes this once: the state is per executable.
   A case that leaves an fd open fails. What the process keeps from its
   first use of cosync is made before the first case: this thread's
   built-in loop and the stack layer's pidfd, opened when the first stack
   goes back to the pool.

   C_TEST(name) { ... } defines a case and registers it, once: the linker
   gathers the cases in the section c_check_cases, which c_check_main runs,
   and cosync_add_c_tests (tests/CMakeLists.txt) reads the names from the
   source to make each case its own ctest. */
#ifndef COSYNC_TESTS_C_CHECK_H
#define COSYNC_TESTS_C_CHECK_H

#include <cosync.h>
#include <dirent.h>
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

/* Open fds of this process, but the one that reads them. */
static inline int c_check_open_fds(void) {
  DIR *directory = opendir("/proc/self/fd");
  int entries = 0;
  if (directory == NULL) {
    return -1;
  }
  while (readdir(directory) != NULL) {
    ++entries;
  }
  closedir(directory);
  return entries - 3; /* ".", ".." and the directory's own fd */
}

static inline void c_check_run_if_named(const struct c_check_case *test_case, int argc,
                                        char **argv) {
  if (argc < 2 || strcmp(argv[1], test_case->name) == 0) {
    const int fds_before = c_check_open_fds();
    test_case->run();
    const int fds_after = c_check_open_fds();
    if (fds_after != fds_before) {
      fprintf(stderr, "%s: %d fds open before, %d after\n", test_case->name, fds_before, fds_after);
      ++failures;
    }
    printf("%s: %s\n", test_case->name, failures == 0 ? "ok" : "FAILED");
  }
}

static void *c_check_return_arg(void *arg) { return arg; }

static inline void c_check_warm_up(void) {
  cosync_task *task = NULL;
  cosync_this_loop();
  if (cosync_create(&task, NULL, c_check_return_arg, NULL) == 0) {
    cosync_resume(task);
    cosync_join(task, NULL);
  }
}

/* The section holds pointers, not the cases: pointers are packed without
   padding, so the linker's start and stop symbols bound an array. */
#define C_TEST(name)                                                           \
  static void test_##name(void);                                               \
  static const struct c_check_case c_check_case_##name = {#name, test_##name}; \
  static const struct c_check_case *const c_check_entry_##name                 \
      __attribute__((used, section("c_check_cases"))) = &c_check_case_##name;  \
  static void test_##name(void)

extern const struct c_check_case *const __start_c_check_cases[];
extern const struct c_check_case *const __stop_c_check_cases[];

/* Runs the C_TEST case named on the command line (every case without one,
   in the order the linker placed them). */
static inline int c_check_main(int argc, char **argv) {
  c_check_warm_up();
  for (const struct c_check_case *const *entry = __start_c_check_cases;
       entry != __stop_c_check_cases; ++entry) {
    c_check_run_if_named(*entry, argc, argv);
  }
  return failures == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#endif /* COSYNC_TESTS_C_CHECK_H */
