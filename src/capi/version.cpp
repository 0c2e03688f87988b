// cosync.h's cosync_version(): the library's version for C programs.
#include "cosync.h"

// Exported from libcosync.so (the library builds with hidden visibility).
extern "C" __attribute__((visibility("default"))) const char* cosync_version(void) {
  return COSYNC_VERSION_STRING;
}
