/* Stacks given by the caller, the size limit, and many coroutines at once
   on a round robin. */
#include <pcl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { kStack = 64 * 1024, kRing = 200 };

static char static_stack[kStack];

static int deep_sum(int n) {
  char buffer[256];
  memset(buffer, n & 0x7f, sizeof buffer);
  return n == 0 ? 0 : buffer[n % 256] + deep_sum(n - 1);
}

static void works(void *data) {
  int *result = data;
  *result = deep_sum(40);
  co_resume();
  *result += 1;
}

static void try_size(void *stack, int size) {
  coroutine_t co = co_create(works, NULL, stack, size);
  printf("co_create(%s, %d): %s\n", stack != NULL ? "caller stack" : "NULL", size,
         co != NULL ? "created" : "refused");
  if (co != NULL) {
    co_delete(co); /* never started */
  }
}

static void run_on(void *stack, const char *what) {
  int result = 0;
  coroutine_t co = co_create(works, &result, stack, kStack);
  co_call(co);
  printf("%s: first result %d\n", what, result);
  co_call(co); /* returns: deleted; the stack stays the caller's */
  printf("%s: second result %d\n", what, result);
}

static long ring_total;

static void ring_member(void *data) {
  long id = (long)(size_t)data;
  for (int turn = 0; turn < 3; ++turn) {
    ring_total += id * (turn + 1);
    co_resume();
  }
}

static void ring(void) {
  static coroutine_t members[kRing];
  void *stacks[kRing];
  for (long i = 0; i < kRing; ++i) {
    stacks[i] = i % 2 == 0 ? malloc(kStack) : NULL;
    members[i] = co_create(ring_member, (void *)(size_t)i, stacks[i], kStack);
  }
  for (int turn = 0; turn < 4; ++turn) { /* the fourth turn ends them */
    for (int i = 0; i < kRing; ++i) {
      co_call(members[i]);
    }
  }
  for (int i = 0; i < kRing; ++i) {
    free(stacks[i]);
  }
  printf("ring of %d: total %ld\n", kRing, ring_total);
}

int main(void) {
  char *heap = malloc(kStack);
  try_size(heap, 4088);
  try_size(heap, 4092);
  try_size(heap, 4096);
  try_size(heap, 4100);
  try_size(heap, 0);
  try_size(heap, -4096);
  try_size(NULL, 4095);
  try_size(NULL, 4096);
  try_size(NULL, 1 << 20);
  run_on(heap, "heap stack");
  run_on(static_stack, "static stack");
  run_on(NULL, "allocated stack");
  /* A coroutine deleted while suspended in the middle of its function. */
  int result = 0;
  coroutine_t co = co_create(works, &result, heap, kStack);
  co_call(co);
  co_delete(co);
  printf("deleted while suspended: result %d\n", result);
  free(heap);
  ring();
  printf("stacks: end\n");
  return 0;
}
