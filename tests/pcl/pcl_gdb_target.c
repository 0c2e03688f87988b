/* Parks two libpcl coroutines for tests/pcl/pcl_gdb_test.sh, which lists
   them with the gdb helper's cosync-list and shows one's backtrace. */
#include <pcl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cosync_pcl_gdb_stop_here(void) __attribute__((noinline));
void cosync_pcl_gdb_stop_here(void) { __asm__ volatile(""); }

static void pcl_parked_here(void *data) {
  (void)data;
  for (;;) {
    co_resume();
  }
}

/* With the argument "abort", it dumps core where the debugger stops it. */
int main(int argc, char **argv) {
  coroutine_t first = co_create(pcl_parked_here, NULL, NULL, 64 * 1024);
  coroutine_t second = co_create(pcl_parked_here, NULL, NULL, 64 * 1024);
  if (first == NULL || second == NULL) {
    return 1;
  }
  co_call(first);
  co_call(second);
  cosync_pcl_gdb_stop_here();
  if (argc > 1 && strcmp(argv[1], "abort") == 0) {
    abort();
  }
  co_delete(first);
  co_delete(second);
  puts("pcl_gdb_target: done");
  return 0;
}
