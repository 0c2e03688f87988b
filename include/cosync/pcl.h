/*
 * cosync's declarations of the libpcl 1.12 API (Portable Coroutine Library),
 * implemented by libcosync-pcl on cosync's context switch and stacks.
 *
 * Written for cosync, not copied: the function signatures are libpcl's, so
 * a program compiled against either this header or the system's <pcl.h>
 * links against libcosync-pcl or libpcl unchanged. The include guard is
 * libpcl's own (PCL_H) on purpose: whichever of the two headers comes first
 * provides the declarations, and they are identical.
 *
 * Build a libpcl program against libcosync-pcl without the system header by
 * adding `-I<prefix>/include/cosync` and linking `-lcosync-pcl`.
 * The semantics of every call are those of pcl(3); where libcosync-pcl
 * detects a misuse that libpcl leaves undefined, it says so on stderr and
 * aborts (see README.md, "C API and libpcl compatibility").
 */
#ifndef PCL_H
#define PCL_H

#ifdef __cplusplus
extern "C" {
#endif

/* co_create's handle of a coroutine; co_current() also returns one for the
   thread's main coroutine. */
typedef void *coroutine_t;

/* co_thread_init prepares the calling thread; optional, every call does it
   on first use. Returns 0, or a negative errno value. */
int co_thread_init(void);
/* co_thread_cleanup frees the calling thread's state once it has no live
   coroutines; otherwise the state stays until the thread exits. */
void co_thread_cleanup(void);

/* co_create makes a coroutine that runs func(data) when first called. With
   stack == NULL its stack is allocated; otherwise the caller's `size` bytes
   at `stack` are used, and stay the caller's. Returns NULL (errno EINVAL)
   for a size below 4096 bytes, or NULL (errno ENOMEM) without memory. */
coroutine_t co_create(void (*func)(void *), void *data, void *stack, int size);
/* co_delete frees a coroutine that is not running. */
void co_delete(coroutine_t coro);
/* co_call switches to coro and records the current coroutine as its caller. */
void co_call(coroutine_t coro);
/* co_resume switches back to the coroutine that started the current one, or
   that called it since its last co_resume. */
void co_resume(void);
/* co_exit_to deletes the current coroutine and switches to coro. */
void co_exit_to(coroutine_t coro);
/* co_exit deletes the current coroutine and does what co_resume would. */
void co_exit(void);
/* co_current returns the running coroutine (the main one outside any). */
coroutine_t co_current(void);
/* co_get_data returns the data given to co_create, or set since. */
void *co_get_data(coroutine_t coro);
/* co_set_data replaces a coroutine's data and returns the previous data. */
void *co_set_data(coroutine_t coro, void *data);

#ifdef __cplusplus
}
#endif

#endif
