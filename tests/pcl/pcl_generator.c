/* Generators on co_resume: each co_call of a generator yields one value
   through its data slot; a generator that runs out returns, and libpcl
   deletes it and switches back to whoever started or restarted it. */
#include <pcl.h>
#include <stdio.h>

enum { kStack = 64 * 1024 };

struct fib_state {
  long value;
  int remaining;
  int done;
};

static void fibonacci(void *data) {
  struct fib_state *state = data;
  long a = 0;
  long b = 1;
  while (state->remaining-- > 0) {
    state->value = a;
    long next = a + b;
    a = b;
    b = next;
    co_resume();
  }
  state->done = 1;
}

/* Reads its data slot at every step, so co_set_data redirects it. */
static void squares(void *data) {
  (void)data;
  for (long i = 1; i <= 6; ++i) {
    long *out = co_get_data(co_current());
    *out = i * i;
    co_resume();
  }
}

static void drain_fibonacci(int count) {
  struct fib_state state = {0, count, 0};
  coroutine_t generator = co_create(fibonacci, &state, NULL, kStack);
  printf("fibonacci(%d):", count);
  for (;;) {
    co_call(generator);
    if (state.done) {
      break;
    }
    printf(" %ld", state.value);
  }
  printf("\n");
}

/* Two generators advanced in turn; the data slot is swapped mid-way. */
static void interleave(void) {
  struct fib_state fib = {0, 6, 0};
  long square = 0;
  long other = 0;
  coroutine_t f = co_create(fibonacci, &fib, NULL, kStack);
  coroutine_t s = co_create(squares, &square, NULL, kStack);
  for (int round = 0; round < 6; ++round) {
    co_call(f);
    co_call(s);
    long *slot = co_get_data(s);
    printf("round %d: fib=%ld square=%ld\n", round, fib.value, *slot);
    printf("main's data: %s\n", co_get_data(co_current()) == NULL ? "NULL" : "set");
    if (round == 2) {
      void *previous = co_set_data(s, &other);
      printf("set_data returned the first slot: %s\n", previous == &square ? "yes" : "no");
    }
  }
  printf("late squares went to the new slot: %ld, old slot kept %ld\n", other, square);
  co_call(f); /* runs out and returns */
  co_call(s); /* runs out and returns */
  printf("both generators finished: fib.done=%d\n", fib.done);
}

int main(void) {
  drain_fibonacci(0);
  drain_fibonacci(1);
  drain_fibonacci(12);
  interleave();
  printf("generator: end\n");
  return 0;
}
