// Symbol visibility: the library builds with -fvisibility=hidden and exports
// exactly what carries COSYNC_API.
#pragma once

// COSYNC_API marks a declaration as part of the library's exported interface.
#define COSYNC_API __attribute__((visibility("default")))
