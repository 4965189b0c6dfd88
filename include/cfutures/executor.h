/* cfutures/executor.h: the interface every executor implements.
 *
 *     cf_future *f;
 *     if (cf_submit(&f, ex, hypot2, 3.0, 4.0) == 0) { ... }
 *
 * One executor type, many implementations (thread pool, process pool, ...):
 * the same declared task runs unchanged on any of them. All functions are
 * thread-safe, and may be called from tasks and done-callbacks, except where
 * noted.
 */
#ifndef CFUTURES_EXECUTOR_H
#define CFUTURES_EXECUTOR_H

#include "common.h"
#include "future.h"
#include "task.h"

typedef struct cf_executor cf_executor;

/* Flags for cf_executor_shutdown(). */
enum {
    CF_SHUTDOWN_WAIT = 1u << 0,           /* block until every submitted future is done */
    CF_SHUTDOWN_CANCEL_FUTURES = 1u << 1, /* cancel every future still pending */
    /* Stop running work now where the executor can (process pools kill their
     * workers: the futures they held fail with CF_ETERMINATED), and cancel
     * every pending future. Executors that cannot stop running work (thread
     * pools) treat it as CF_SHUTDOWN_CANCEL_FUTURES. */
    CF_SHUTDOWN_TERMINATE = 1u << 2,
};

/* Settings for one submit (cf_submit_with). Zero-initialise for the defaults. */
typedef struct cf_submit_options {
    /* Seconds the task may run once started, after which the executor stops
     * it and its future fails with CF_ETASKTIMEOUT. 0: the executor's default
     * (process pools: cf_process_pool_options.task_timeout); CF_FOREVER (any
     * negative value): no limit, whatever the default. Only executors that
     * can stop a running task take a limit: a thread pool refuses any
     * nonzero value with CF_EUNSUPPORTED. NaN: CF_EINVAL. */
    double timeout;
    /* The future's user pointer (cf_future_data), set before the future is
     * queued, so every thread that ever sees the future (a worker, a
     * done-callback, cf_as_completed) sees it too. NULL: none. */
    void *data;
} cf_submit_options;

CF_BEGIN_DECLS

/* Submit `task(args...)`: cf_submit(&f, ex, task, args...).
 * The task must be declared with CF_TASK in this translation unit (or a header
 * it includes). The arguments are checked like those of a direct call, with
 * pointer/integer confusions and incompatible pointers made errors: a wrong
 * count or kind of argument does not compile. Strings and byte buffers are
 * copied before cf_submit returns. On success *fut (when fut is not NULL) gets
 * a reference to the new future; with fut NULL the work runs and its outcome
 * is dropped. Never blocks on the work itself.
 * Errors (nothing was submitted; *fut is set to NULL):
 *   CF_ESHUTDOWN (after shutdown), CF_EBROKEN (the pool is broken),
 *   CF_EUNSUPPORTED (a raw pointer on an executor that does not share memory),
 *   CF_EINVAL (NULL ex; a cf_bytes argument with a length but NULL data, or
 *   string and byte arguments whose copies would exceed PTRDIFF_MAX bytes),
 *   -ENOMEM, -EAGAIN (no worker could be started).
 * What the future can then fail with (cf_future_result, cf_future_error):
 *   CF_ETASK (the task called cf_task_fail), CF_ECANCELLED (cancelled), and
 *   on a process pool: CF_ECRASHED (its worker died in it), CF_ETASKTIMEOUT,
 *   CF_ETERMINATED (shutdown with CF_SHUTDOWN_TERMINATE), CF_EBROKEN,
 *   CF_ETOOBIG (the call or its result is larger than max_frame_size),
 *   CF_EDECODE (a message failed its checks), -ENOMEM (in the worker),
 *   CF_ENOTFOUND (the worker does not have the task: it was registered, by a
 *   dlopen, after the worker was forked) and CF_EAMBIGUOUS (two different
 *   functions with the same name, file name and line, e.g. same-named files
 *   compiled from different directories; task.h, "Identity"). */
#define cf_submit(fut, ex, ...) cf_submit_with(fut, ex, NULL, __VA_ARGS__)

/* cf_submit with settings for this submit (NULL: the defaults):
 * cf_submit_with(&f, ex, &(cf_submit_options){.timeout = 2.0}, task, args...).
 * Errors: as cf_submit, plus CF_EINVAL (a NaN timeout) and CF_EUNSUPPORTED (a
 * time limit on an executor that cannot stop a running task). */
#ifdef __cplusplus
/* C++ refuses those conversions by itself. */
#define cf_submit_with(fut, ex, opts, ...)                                         \
    CF__CAT(cf__submit_, CF__FIRST(__VA_ARGS__))((opts), (fut), (ex), __VA_ARGS__)
#else
#define cf_submit_with(fut, ex, opts, ...)                                         \
    (__extension__({                                                               \
        _Pragma("GCC diagnostic push")                                             \
        _Pragma("GCC diagnostic error \"-Wint-conversion\"")                       \
        _Pragma("GCC diagnostic error \"-Wincompatible-pointer-types\"")           \
        _Pragma("GCC diagnostic error \"-Wimplicit-function-declaration\"")        \
        int cf__rc_ = CF__CAT(cf__submit_, CF__FIRST(__VA_ARGS__))((opts), (fut),  \
                                                                   (ex), __VA_ARGS__); \
        _Pragma("GCC diagnostic pop") cf__rc_;                                     \
    }))
#endif

/* Submit a task found at run time (cf_task_find) with dynamic arguments:
 * args[i] must have exactly the type of the task's parameter i.
 * Errors: as cf_submit, plus CF_EINVAL (NULL task, NULL args with nargs > 0,
 * wrong argument count) and CF_ETYPE (an argument of the wrong type);
 * cf_last_error() names the argument. */
CF_EXTERN int cf_submit_values(cf_future **fut, cf_executor *ex, const cf_task *task,
                               const cf_value *args, size_t nargs);

/* Stop accepting work. Idempotent; later submits fail with CF_ESHUTDOWN.
 * Every future submitted before completes, except those that
 * CF_SHUTDOWN_CANCEL_FUTURES cancels while still pending.
 * With CF_SHUTDOWN_WAIT, blocks until every submitted future is done and the
 * workers have exited, or until `timeout` seconds pass (CF_FOREVER: no limit):
 * then CF_ETIMEDOUT. What happens to the unfinished work then depends on the
 * executor: a thread pool cannot stop its threads, so the work goes on in the
 * background (cf_executor_free waits for it); a process pool terminates it
 * (as CF_SHUTDOWN_TERMINATE) and returns once its killed workers are reaped.
 * Errors: CF_EINVAL (NULL ex, unknown flags, NaN timeout), CF_ETIMEDOUT,
 * CF_EDEADLOCK (CF_SHUTDOWN_WAIT from one of the executor's own workers: the
 * shutdown is done, only the wait is refused). */
CF_EXTERN int cf_executor_shutdown(cf_executor *ex, unsigned flags, double timeout);

/* Shut down (waiting, without limit) and free the executor. Futures stay valid.
 * Called from one of the executor's own workers, it shuts down without
 * waiting and the last worker to exit frees the executor. NULL is ignored. */
CF_EXTERN void cf_executor_free(cf_executor *ex);

/* The number of workers the executor may run at once. 0 for NULL. */
CF_EXTERN size_t cf_executor_max_workers(const cf_executor *ex);

/* A short name for the kind of executor: "thread_pool", "process_pool". */
CF_EXTERN const char *cf_executor_kind(const cf_executor *ex);

CF_END_DECLS

#endif
