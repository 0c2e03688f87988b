// The whole C++ API of cosync.
#pragma once

#include "cosync/coroutine.hpp"
#include "cosync/stack.hpp"
