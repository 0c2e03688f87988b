/* A libpcl program, unchanged, relinked against libcosync-pcl through
   pkg-config (cosync-pcl): a generator. */
#include <pcl.h>
#include <stdio.h>

static int next_value;

static void generate(void *data) {
  int count = *(int *)data;
  for (int i = 1; i <= count; ++i) {
    next_value = i * i;
    co_resume();
  }
  next_value = -1;
  co_exit();
}

int main(void) {
  int count = 5;
  int sum = 0;
  co_thread_init();
  coroutine_t generator = co_create(generate, &count, NULL, 64 * 1024);
  if (generator == NULL) {
    return 1;
  }
  for (;;) {
    co_call(generator);
    if (next_value < 0) {
      break;
    }
    sum += next_value;
  }
  co_thread_cleanup();
  printf("pcl consumer: %d\n", sum);
  return sum == 55 ? 0 : 1;
}
