/* Misuse that libcosync-pcl reports on stderr before it aborts, one case
   per run: `pcl_misuse <case>`. tests/pcl/run_pcl.cmake checks the message. */
#include <errno.h>
#include <pcl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { kStack = 64 * 1024 };

static void deletes_itself(void *data) {
  (void)data;
  co_delete(co_current());
}

static void yields(void *data) {
  (void)data;
  co_resume();
}

static void exits_to_itself(void *data) {
  (void)data;
  co_exit_to(co_current());
}

static coroutine_t waiter;
static coroutine_t main_coroutine;

static void deletes_main(void *data) {
  (void)data;
  co_delete(main_coroutine);
}

static void exits_into_waiter(void *data) {
  (void)data;
  co_exit_to(waiter);
}

/* Resumes into a coroutine that then exits back into it: its restarter is
   gone, so its next co_resume has nowhere to go. */
static void resumes_after_exit(void *data) {
  (void)data;
  co_resume();
  co_resume();
}

/* Writes below the bottom of its (caller-provided) stack; the switch that
   leaves it finds the canary broken. */
static void overflows(void *data) {
  size_t bytes = *(size_t *)data;
  char big[bytes];
  memset(big, 1, bytes);
  printf("%d\n", big[bytes / 2]);
  co_resume();
}

static int run(const char *what) {
  if (strcmp(what, "delete_self") == 0) {
    co_call(co_create(deletes_itself, NULL, NULL, kStack));
  } else if (strcmp(what, "delete_main") == 0) {
    main_coroutine = co_current();
    co_call(co_create(deletes_main, NULL, NULL, kStack));
  } else if (strcmp(what, "resume_main") == 0) {
    co_resume();
  } else if (strcmp(what, "exit_main") == 0) {
    co_exit();
  } else if (strcmp(what, "exit_to_self") == 0) {
    co_call(co_create(exits_to_itself, NULL, NULL, kStack));
  } else if (strcmp(what, "call_null") == 0) {
    co_call(NULL);
  } else if (strcmp(what, "call_deleted") == 0) {
    coroutine_t co = co_create(yields, NULL, NULL, kStack);
    co_delete(co);
    co_call(co);
  } else if (strcmp(what, "resume_after_exit") == 0) {
    waiter = co_create(resumes_after_exit, NULL, NULL, kStack);
    co_call(waiter);
    co_call(co_create(exits_into_waiter, NULL, NULL, kStack));
  } else if (strcmp(what, "overflow") == 0) {
    static char memory[4 * kStack];
    size_t bytes = kStack + kStack / 2; /* stays inside `memory` */
    co_call(co_create(overflows, &bytes, memory + 2 * kStack, kStack));
  } else if (strcmp(what, "small_stack") == 0) {
    coroutine_t co = co_create(yields, NULL, NULL, 4095);
    printf("co_create(NULL, 4095): %s, errno %s\n", co == NULL ? "NULL" : "created",
           errno == EINVAL ? "EINVAL" : "other");
    return co == NULL && errno == EINVAL ? 0 : 1;
  } else {
    fprintf(stderr, "pcl_misuse: unknown case %s\n", what);
    return 2;
  }
  printf("pcl_misuse: %s was not caught\n", what);
  return 0;
}

int main(int argc, char **argv) { return argc == 2 ? run(argv[1]) : 2; }
