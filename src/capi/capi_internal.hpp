// What the C API's translation units share: the one place where C++
// outcomes become negative errno values.
#pragma once

#include <cerrno>
#include <exception>
#include <new>
#include <stdexcept>
#include <system_error>

#include "cosync.h"
#include "cosync/coroutine.hpp"
#include "cosync/loop.hpp"
#include "cosync/request.hpp"

namespace cosync::capi {

void report_escaped(const char* what) noexcept;
Deadline to_deadline(cosync_deadline deadline) noexcept;
// True on the main context inside one of the loop's callbacks, where a wait
// would have to run the loop nested (cosync.h's -EPERM).
bool wait_would_nest();

// Runs `body` (which returns the C result) and maps what it throws:
// Cancelled -> -ECANCELED, TimedOut -> -ETIMEDOUT, a misuse -> -EINVAL,
// bad_alloc -> -ENOMEM, invalid_argument -> -EINVAL, system_error -> its
// code, anything else (an exception from a coroutine body) -> -EIO,
// reported once. ForcedUnwind passes: it must unwind the coroutine.
template <class Body>
int guarded(Body&& body) {
  try {
    return body();
  } catch (const ForcedUnwind&) {
    throw;
  } catch (const Cancelled&) {
    return -ECANCELED;
  } catch (const TimedOut&) {
    return -ETIMEDOUT;
  } catch (const UsageError&) {
    return -EINVAL;
  } catch (const std::bad_alloc&) {
    return -ENOMEM;
  } catch (const std::invalid_argument&) {
    return -EINVAL;
  } catch (const std::system_error& error) {
    return error.code().value() > 0 ? -error.code().value() : -EIO;
  } catch (const std::exception& error) {
    report_escaped(error.what());
    return -EIO;
  } catch (...) {
    report_escaped("an exception that is not a std::exception");
    return -EIO;
  }
}

}  // namespace cosync::capi
