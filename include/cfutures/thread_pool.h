/* cfutures/thread_pool.h: an executor backed by a pool of POSIX threads.
 *
 * Workers start on demand, up to max_workers; an idle worker is always reused
 * before a new one starts. Whenever a worker is idle and a task is pending,
 * that worker starts it, whatever the other workers hold, so a task that
 * waits for a later-submitted one completes while fewer than max_workers
 * tasks block. A future stays pending (cancellable) until a worker starts it.
 * Tasks share the application's memory, so raw pointer parameters are
 * allowed. A task may submit to its own pool.
 */
#ifndef CFUTURES_THREAD_POOL_H
#define CFUTURES_THREAD_POOL_H

#include "common.h"
#include "executor.h"

/* A worker initializer: runs once in each worker thread before its first
 * task. A nonzero return breaks the pool: every pending and later submit
 * fails with CF_EBROKEN, carrying the message the initializer gave with
 * cf_task_fail() (or a generic one). */
typedef int (*cf_initializer_fn)(void *arg);

/* CPUs: those this process may use, the affinity mask's count lowered to a
 * cgroup v2 CPU quota (cpu.max, rounded up) when one is set. Thread names are
 * cut to Linux's 15 bytes from the prefix's end, keeping "_<n>". */
typedef struct cf_thread_pool_options {
    size_t max_workers;            /* 0: min(32, CPUs + 4) */
    const char *thread_name_prefix; /* NULL: "cf-<pool>", pools numbered from 0 in creation
                                       order; threads are "<prefix>_<n>" (n from 0) */
    cf_initializer_fn initializer; /* NULL: none */
    void *initializer_arg;
} cf_thread_pool_options;

CF_BEGIN_DECLS

/* Create a thread pool. `opts` may be NULL for the defaults. No thread
 * starts before the first submit. *out gets the executor.
 * Errors: CF_EINVAL (NULL out), -ENOMEM. */
CF_EXTERN int cf_thread_pool_new(cf_executor **out, const cf_thread_pool_options *opts);

CF_END_DECLS

#endif
