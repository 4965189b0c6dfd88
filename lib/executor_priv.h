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
} cf__executor_ops;

struct cf_executor {
    const cf__executor_ops *ops;
};

#endif
