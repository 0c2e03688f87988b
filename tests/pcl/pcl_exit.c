/* Ending coroutines: co_exit from deep inside, co_exit_to another
   coroutine, and a function that returns. Each exits to the right place and
   is deleted; the exits land where libpcl lands. */
#include <pcl.h>
#include <stdio.h>

enum { kStack = 64 * 1024 };

static coroutine_t x;
static coroutine_t y;
static coroutine_t z;

static void nested_exit(int depth) {
  if (depth == 0) {
    printf("exiting from depth 0\n");
    co_exit();
  } else {
    nested_exit(depth - 1);
  }
  printf("never printed\n");
}

static void exits_deep(void *data) {
  printf("exits_deep(%s)\n", (const char *)data);
  nested_exit(5);
}

static void exits_to_y(void *data) {
  (void)data;
  printf("Z: exiting to Y\n");
  co_exit_to(y);
  printf("never printed\n");
}

/* Y is called by Z's exit: it continues after its own co_call(z). */
static void calls_z(void *data) {
  (void)data;
  printf("Y: calling Z\n");
  co_call(z);
  printf("Y: back, after Z exited to me\n");
  co_resume();
}

/* X yields to main; main calls Y, and Y calls X: X's restarter becomes Y
   when its co_resume returns, so X's return lands in Y, not in main. */
static void returns_to_restarter(void *data) {
  (void)data;
  printf("X: started\n");
  co_resume();
  printf("X: called again, returning\n");
}

static void calls_x(void *data) {
  (void)data;
  printf("Y: calling X\n");
  co_call(x);
  printf("Y: X returned into me\n");
  co_resume();
}

static int counter;

static void counts_and_returns(void *data) { counter += *(int *)data; }

int main(void) {
  co_call(co_create(exits_deep, "first", NULL, kStack));
  printf("main: after co_exit\n");

  y = co_create(calls_z, NULL, NULL, kStack);
  z = co_create(exits_to_y, NULL, NULL, kStack);
  co_call(y);
  printf("main: Y resumed main\n");
  co_delete(y);

  x = co_create(returns_to_restarter, NULL, NULL, kStack);
  y = co_create(calls_x, NULL, NULL, kStack);
  co_call(x);
  printf("main: X yielded\n");
  co_call(y);
  printf("main: Y resumed main\n");
  co_delete(y);

  for (int i = 1; i <= 100; ++i) {
    co_call(co_create(counts_and_returns, &i, NULL, kStack));
  }
  printf("100 coroutines returned; sum %d\n", counter);
  printf("exit: end\n");
  return 0;
}
