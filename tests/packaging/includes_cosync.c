/* Compiled with -fsanitize=address by the packaging tests: cosync.h must
   refuse it unless the library was built with COSYNC_ASAN. */
#include <cosync.h>
