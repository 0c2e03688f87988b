// Symbol visibility: the library builds with -fvisibility=hidden and exports
// exactly what carries COSYNC_API.
#pragma once

#define COSYNC_API __attribute__((visibility("default")))
