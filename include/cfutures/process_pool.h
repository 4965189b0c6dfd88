/* cfutures/process_pool.h: an executor backed by forked worker processes.
 *
 * Each worker is a process forked from a single-threaded fork server that the
 * pool starts first, so it sees the application's memory as it was when the
 * pool was created, and forking is safe even when the application runs other
 * threads later. Each worker talks to the pool over its own socketpair;
 * arguments and results travel serialized (doc/wire-format.md), so raw
 * pointer parameters and results are refused (CF_EUNSUPPORTED).
 *
 * Failures stay local: a task that crashes its worker (a signal, abort, exit)
 * fails only its own future with CF_ECRASHED (cf_error: the task, the worker's
 * pid as origin, the signal number or exit status as detail), the worker is
 * replaced, and every other future completes normally. A call that had
 * finished inside the dead worker but whose answer had not left it yet (a
 * worker batches answers for at most about half a millisecond) runs again:
 * a task with side effects beyond its result may repeat them after a crash.
 *
 * Create the pool before starting threads that might hold locks your tasks
 * need (for instance a thread inside printf): the fork server is forked from
 * the application's process at creation time.
 *
 * Structs travel as their bytes, padding included: zero one before filling
 * it if memory checkers must not see uninitialised padding sent.
 */
#ifndef CFUTURES_PROCESS_POOL_H
#define CFUTURES_PROCESS_POOL_H

#include "common.h"
#include "executor.h"
#include "thread_pool.h"

typedef struct cf_process_pool_options {
    size_t max_workers;          /* 0: the CPUs this process may use: its affinity
                                    mask, lowered to a cgroup v2 CPU quota when one
                                    is set (as cf_thread_pool_options) */
    cf_initializer_fn initializer; /* runs once in each worker; a nonzero return
                                    breaks the pool (CF_EBROKEN, with the message
                                    given to cf_task_fail), without respawning */
    void *initializer_arg;
    size_t max_tasks_per_child;  /* 0: unlimited; else a worker is replaced after
                                    running this many tasks */
    double task_timeout;         /* seconds a task may run before its worker is
                                    killed and its future fails with
                                    CF_ETASKTIMEOUT; 0 (or negative): no limit */
    uint32_t max_frame_size;     /* largest serialized call or result in bytes;
                                    0: 64 MiB. Larger ones fail with CF_ETOOBIG */
} cf_process_pool_options;

CF_BEGIN_DECLS

/* Create a process pool: starts the fork server (one process) and the pool's
 * dispatcher thread; workers start on the first submits. `opts` may be NULL.
 * Errors: CF_EINVAL (NULL out, a NaN task_timeout), -ENOMEM, -errno from
 * socketpair/fork/pthread_create. */
CF_EXTERN int cf_process_pool_new(cf_executor **out, const cf_process_pool_options *opts);

CF_END_DECLS

#endif
