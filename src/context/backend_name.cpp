#include "context/context.hpp"

namespace cosync::context {

// COSYNC_CONTEXT_BACKEND is set by the build to the name of the switch file
// it selected, so reports always name the code that actually ran.
const char* backend_name() noexcept { return COSYNC_CONTEXT_BACKEND; }

}  // namespace cosync::context
