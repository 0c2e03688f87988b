// The whole C++ API of cosync.
#pragma once

#include "cosync/coroutine.hpp"
#include "cosync/io.hpp"
#include "cosync/loop.hpp"
#include "cosync/pool.hpp"
#include "cosync/request.hpp"
#include "cosync/stack.hpp"
#include "cosync/sync.hpp"
#include "cosync/version.hpp"
