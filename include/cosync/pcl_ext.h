/*
 * libcosync-pcl's extension to the libpcl API: the main coroutine, which
 * libpcl keeps static (the seed's "I gnash my teeth that the real co_main is
 * static"). Only libcosync-pcl provides it; a program that uses it no longer
 * links against libpcl.
 */
#ifndef COSYNC_PCL_EXT_H
#define COSYNC_PCL_EXT_H

#include "pcl.h"

#ifdef __cplusplus
extern "C" {
#endif

/* co_main returns the calling thread's main coroutine: the one that runs on
   the thread's own stack (usually the event loop). Any coroutine, at any
   depth, can co_call(co_main()) to hand control back to it. It is the
   thread's cosync main context (cosync::main_context()): libcosync-pcl's
   coroutines are cosync coroutines, named "pcl" (cosync-list, overflow
   reports), whose co_get_data is their cosync user data. */
coroutine_t co_main(void);

#ifdef __cplusplus
}
#endif

#endif
