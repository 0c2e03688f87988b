/* co_main(), libcosync-pcl's extension: any coroutine, at any depth, can
   hand control to the thread's main coroutine and be called back later.
   Built with cosync's own pcl.h (through cosync/pcl_ext.h). */
#include <cosync/pcl_ext.h>
#include <stdio.h>

enum { kStack = 64 * 1024 };

static coroutine_t a;
static coroutine_t b;

static void inner(void *data) {
  (void)data;
  printf("B: started by A, handing control to main\n");
  co_call(co_main());
  printf("B: called back by main, returning to A\n");
}

static void outer(void *data) {
  (void)data;
  printf("A: calling B\n");
  co_call(b);
  printf("A: B returned into me; returning to main\n");
}

int main(void) {
  printf("main: co_main() is co_current(): %d\n", co_main() == co_current());
  a = co_create(outer, NULL, NULL, kStack);
  b = co_create(inner, NULL, NULL, kStack);
  co_call(a);
  printf("main: B switched to me from depth 2\n");
  co_call(b);
  printf("main: A returned; co_main() is still co_current(): %d\n", co_main() == co_current());
  return 0;
}
