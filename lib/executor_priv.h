/* executor_priv.h: the interface every executor implements (private).
 *
 * executor.c does what is common to all executors (argument checks, building
 * the future, copying arguments) and calls the ops below. An executor embeds
 * struct cf_executor as its first member.
 */
#ifndef CF_EXECUTOR_PRIV_H
#define CF_EXECUTOR_PRIV_H

#include <cfutures.h>

typedef struct cf__executor_ops {
    const char *kind;     /* "thread_pool", "process_pool" */
    bool shares_memory;   /* raw pointer arguments allowed */
    /* Bytes of scratch the executor wants in each of its futures
     * (cf__future_extra), zeroed; 0 for none. */
    size_t future_extra;
    /* Queue f (PENDING, refs held by the caller). `opts` is NULL or checked
     * (no NaN). On success the executor takes a reference of its own
     * (cf_future_retain) and will complete or cancel f. On failure it keeps
     * nothing and returns the error (CF_ESHUTDOWN, CF_EBROKEN, -EAGAIN,
     * CF_EUNSUPPORTED, ...) with cf_last_error() set. */
    int (*submit)(cf_executor *ex, cf_future *f, const cf_submit_options *opts);
    /* Flags and timeout already validated. */
    int (*shutdown)(cf_executor *ex, unsigned flags, double timeout);
    /* Shut down (wait, no limit) and free; see cf_executor_free. */
    void (*free)(cf_executor *ex);
    size_t (*max_workers)(const cf_executor *ex);
    /* Whether the calling thread is one the executor needs to make progress
     * (a thread pool's worker, a process pool's dispatcher): waiting there
     * for the executor's own work could deadlock. */
    bool (*is_own_thread)(const cf_executor *ex);
} cf__executor_ops;

struct cf_executor {
    const cf__executor_ops *ops;
};

/* Submit a call of a task the library itself declares (map's chunks): as
 * cf_submit, but a raw pointer parameter is allowed on any executor (the
 * executor knows the task and what its argument means). */
int cf__executor_submit_internal(cf_future **fut, cf_executor *ex, const cf_submit_options *opts,
                                 const cf_task *task, const void *args);

#endif
