/* co_call chains and where co_resume goes: the restarter (who started the
   coroutine, or who called it since its last co_resume returned), which is
   not always the latest caller. */
#include <pcl.h>
#include <stddef.h>
#include <stdio.h>

enum { kStack = 64 * 1024 };

static coroutine_t a;
static coroutine_t b;
static coroutine_t c;
static coroutine_t x;
static coroutine_t y;

static const char *name_of(coroutine_t co) {
  if (co == a) return "A";
  if (co == b) return "B";
  if (co == c) return "C";
  if (co == x) return "X";
  if (co == y) return "Y";
  return "?";
}

static void trace(const char *what) { printf("%s in %s\n", what, name_of(co_current())); }

static void chain_c(void *data) {
  (void)data;
  trace("start");
  co_resume(); /* to B, which started C */
  trace("again");
  co_resume(); /* to main, which called C last */
  trace("never printed");
}

static void chain_b(void *data) {
  (void)data;
  trace("start");
  co_call(c);
  trace("back from C");
  co_resume(); /* to A */
  trace("never printed");
}

static void chain_a(void *data) {
  (void)data;
  trace("start");
  co_call(co_current()); /* calling oneself returns at once */
  trace("self call returned");
  co_call(b);
  trace("back from B");
  co_resume(); /* to main */
  trace("never printed");
}

static void run_chain(void) {
  a = co_create(chain_a, NULL, NULL, kStack);
  b = co_create(chain_b, NULL, NULL, kStack);
  c = co_create(chain_c, NULL, NULL, kStack);
  co_call(a);
  printf("main: back from A\n");
  co_call(c);
  printf("main: back from C\n");
  co_delete(a);
  co_delete(b);
  co_delete(c);
  a = b = c = NULL; /* a new coroutine may reuse their memory */
}

static int ping_count;

/* X and Y hand control to each other with co_call only. */
static void ping(void *data) {
  coroutine_t *peer = data;
  for (;;) {
    printf("%s %d\n", name_of(co_current()), ping_count++);
    if (ping_count >= 6) {
      co_resume();
    }
    co_call(*peer);
  }
}

/* X is started by main, calls Y, and Y calls X back: X's caller is now Y,
   yet X's co_resume goes to main, its restarter. After main calls X again,
   X's restarter becomes main (its caller when co_resume returned). */
static void restarter_x(void *data) {
  (void)data;
  trace("start");
  co_call(y);
  trace("called back by Y; co_resume goes to the restarter");
  co_resume();
  trace("called by main");
  co_resume();
}

static void restarter_y(void *data) {
  (void)data;
  trace("start");
  co_call(x);
  trace("never printed");
}

int main(void) {
  run_chain();

  x = co_create(ping, &y, NULL, kStack);
  y = co_create(ping, &x, NULL, kStack);
  co_call(x);
  printf("main: ping-pong returned after %d turns\n", ping_count);
  co_delete(x);
  co_delete(y);

  x = co_create(restarter_x, NULL, NULL, kStack);
  y = co_create(restarter_y, NULL, NULL, kStack);
  co_call(x);
  printf("main: X resumed main\n");
  co_call(x);
  printf("main: X resumed main again\n");
  co_delete(x);
  co_delete(y);
  printf("call_chain: end\n");
  return 0;
}
