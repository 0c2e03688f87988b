// Compiled with -fsanitize=address by the packaging tests: the headers must
// refuse it unless the library was built with COSYNC_ASAN.
#include <cosync/cosync.hpp>
