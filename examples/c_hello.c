/* Hello from C: three coroutines on cosync's loop, each a plain
   synchronous function that sleeps; they run concurrently, and main waits
   for all of them with one call. Build: link with -lcosync. */
#include <cosync.h>
#include <stdint.h>
#include <stdio.h>

#define MS (INT64_C(1000000))

static void *greet(void *arg) {
  const char *who = arg;
  for (int i = 1; i <= 2; ++i) {
    cosync_sleep_until(cosync_deadline_after(10 * MS));
    printf("hello %d from %s (coroutine %s)\n", i, who, cosync_name(cosync_current()));
  }
  return arg;
}

int main(void) {
  static const char *const names[] = {"ada", "brian", "carol"};
  cosync_request *requests[3];
  for (int i = 0; i < 3; ++i) {
    cosync_options options = COSYNC_OPTIONS_INIT;
    options.name = names[i];
    if (cosync_spawn(&requests[i], &options, greet, (void *)names[i]) != 0) {
      return 1;
    }
  }
  /* On the main context, waiting runs the loop (R4). */
  if (cosync_wait_all(requests, 3, cosync_deadline_after(1000 * MS)) != 0) {
    return 1;
  }
  for (int i = 0; i < 3; ++i) {
    void *result = NULL;
    cosync_request_get(requests[i], &result, COSYNC_NO_DEADLINE);
    printf("%s is done\n", (const char *)result);
  }
  return 0;
}
