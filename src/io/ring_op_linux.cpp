#include <cerrno>

#include "cosync/request.hpp"
#include "io/ring_op.hpp"
#include "support/scope_guard.hpp"

namespace cosync::io {

int run_on_ring(loop::RingOps& ring, loop::RingOp& op, Deadline deadline) {
  impl::Waiter waiter;
  op.data = &waiter;
  op.fn = [](loop::RingOp* self) { static_cast<impl::Waiter*>(self->data)->wake(); };
  ring.submit(op);
  const support::ScopeExit settle([&ring, &op]() noexcept { ring.cancel(op); });
  if (!waiter.wait([&op] { return op.done; }, deadline)) {
    ring.cancel(op);
    return op.result == -ECANCELED ? -ETIMEDOUT : op.result;
  }
  return op.result;
}

}  // namespace cosync::io
