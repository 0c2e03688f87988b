/* A C program that links libcosync-hook through pkg-config (cosync-hook):
   its self-check must find the hooks in effect. */
#include <cosync.h>
#include <stdio.h>

int main(void) {
  if (!cosync_hook_active()) {
    fprintf(stderr, "%s\n", cosync_hook_status());
    return 1;
  }
  puts("hooked program: ok");
  return 0;
}
