/* cfutures/process.h: a child process running one task or function:
 * Python's multiprocessing.Process with the fork start method.
 *
 *     static int32_t square(int32_t x) { return x * x; }
 *     CF_TASK(int32_t, square, int32_t);
 *
 *     cf_process *p;
 *     cf_process_start(&p, NULL, square, 7);     // forks; runs square(7) in the child
 *     int32_t r;
 *     cf_process_result(p, &r, CF_FOREVER);     // joins it; r == 49
 *     cf_process_free(p);
 *
 * The child is a fork of the calling process, made by the calling thread:
 * it starts with a copy of the parent's memory as it is at that moment
 * (arguments, globals, pipe ends and queues made before), runs the task or
 * function in the one thread it has, and ends with _exit() (stdio flushed,
 * the parent's atexit handlers never run) with status 0 when it returned, 1
 * when it failed through cf_task_fail(); a task or function that calls exit()
 * ends the child the same way, with that status. The usual fork caveats hold: the
 * child has no other thread of the parent (a thread pool or process pool of
 * the parent cannot be used in it), and a lock another thread of the parent
 * held at the fork stays held in the child (the C library's malloc and stdio,
 * and the library's allocator, are made safe across fork; other libraries'
 * locks may not be). The parent may run threads: start processes early, or
 * from a thread that holds nothing the child will need. stdio is flushed
 * before the fork, so buffered output is never written twice.
 *
 * In the child every signal has its default disposition but SIGINT and
 * SIGPIPE, which are ignored (a Ctrl-C reaches the whole process group: the
 * parent decides what becomes of its children; writes to closed pipes fail
 * with EPIPE), and no signal is blocked. A task may change that. Ignored
 * signals stay ignored across exec().
 *
 * Reaping: the library waits only for the children it started (waitpid on
 * their pid, never -1) and never installs a SIGCHLD handler; a child is
 * reaped by join, is_alive, exitcode, active_children or free, whichever
 * first sees it ended, so none is left a zombie after join or free. The
 * application must not ignore SIGCHLD (SIG_IGN or SA_NOCLDWAIT: the kernel
 * would reap the children and lose their exit codes; start refuses) nor reap
 * them itself (waitpid(-1)).
 *
 * At exit: when the parent ends through exit() or a return from main, the
 * library (an atexit handler it installs at the first start) sends SIGTERM to
 * its daemon children still running, then waits for every child still
 * running, daemon or not, as Python does. When the parent ends any other way
 * (_exit, a crash, a signal): a daemon child started from the parent's main
 * thread gets SIGTERM from the kernel (PR_SET_PDEATHSIG); one started from
 * another thread is not told (the kernel's parent-death signal follows the
 * thread that forked, which may end long before the process), and neither is
 * a non-daemon child: both go on as orphans, reparented to init (or to the
 * nearest subreaper), as in Python.
 *
 * Handles: a cf_process is the parent's. Any thread of the parent may call
 * any function on it, concurrently, except that nothing may use it during or
 * after cf_process_free. In any other process (a child holding a copy) only
 * cf_process_pid, cf_process_name, cf_process_is_daemon and cf_process_free
 * mean anything; the others fail with CF_ESTATE (is_alive says false).
 */
#ifndef CFUTURES_PROCESS_H
#define CFUTURES_PROCESS_H

#include <sys/types.h>

#include "common.h"
#include "error.h"
#include "executor.h"
#include "task.h"
#include "value.h"

typedef struct cf_process cf_process;

/* Settings for one process. Zero-initialise for the defaults. */
typedef struct cf_process_options {
    /* Its name (copied); NULL: "Process-<n>", n counting the processes this
     * process started, from 1 (Python's names: a child's own children are
     * "Process-<n>:<m>"). */
    const char *name;
    /* A daemon is terminated (SIGTERM) when the parent exits, instead of
     * being waited for; see the top of this file. */
    bool daemon;
} cf_process_options;

CF_BEGIN_DECLS

/* ---- Starting ------------------------------------------------------------------- */

/* Start task(args...) in a new child process: cf_process_start(&p, &opts,
 * task, args...). The task must be declared with CF_TASK, and its arguments
 * are checked by the compiler as cf_submit's are: a wrong count or kind of
 * argument does not compile. Strings and byte buffers are copied before the
 * fork; raw pointers are allowed (the child has a copy of the parent's
 * memory), but a task that returns a raw pointer is refused. `opts` may be
 * NULL. The arguments must not themselves start processes.
 * On success *proc is the new handle; the child runs and the call returns
 * at once (it waits for nothing but the fork). On failure *proc is NULL and
 * no process was started. The result comes back through cf_process_result.
 * Errors: CF_EINVAL (NULL proc; a cf_bytes with NULL data and a nonzero
 * length), CF_EUNSUPPORTED (a raw pointer result), CF_ESTATE (SIGCHLD is
 * ignored), -ENOMEM, -errno from socketpair or fork (-EAGAIN: the process
 * limit). Any thread. */
#ifdef __cplusplus
#define cf_process_start(proc, opts, ...)                                          \
    (__extension__({                                                               \
        cf_executor *cf__launcher_ = cf__process_launcher((proc), (opts));         \
        CF__CAT(cf__submit_, CF__FIRST(__VA_ARGS__))(NULL, NULL, cf__launcher_,    \
                                                     __VA_ARGS__);                 \
    }))
#else
#define cf_process_start(proc, opts, ...)                                          \
    (__extension__({                                                               \
        _Pragma("GCC diagnostic push")                                             \
        _Pragma("GCC diagnostic error \"-Wint-conversion\"")                       \
        _Pragma("GCC diagnostic error \"-Wincompatible-pointer-types\"")           \
        _Pragma("GCC diagnostic error \"-Wimplicit-function-declaration\"")        \
        cf_executor *cf__launcher_ = cf__process_launcher((proc), (opts));         \
        int cf__rc_ = CF__CAT(cf__submit_, CF__FIRST(__VA_ARGS__))(NULL, NULL,     \
                                                                   cf__launcher_,  \
                                                                   __VA_ARGS__);   \
        _Pragma("GCC diagnostic pop") cf__rc_;                                     \
    }))
#endif

/* Start fn(arg) in a new child process. `arg` is the pointer as it is in the
 * parent; the child sees a copy of what it points to, as it was at the fork.
 * The child's exit status is 0 when fn returns, 1 when it called
 * cf_task_fail(), or what it gave exit() or _exit(). Otherwise as
 * cf_process_start (such a process has no result).
 * Errors: CF_EINVAL (NULL proc or fn), CF_ESTATE, -ENOMEM, -errno. */
CF_EXTERN int cf_process_start_fn(cf_process **proc, const cf_process_options *opts,
                                  void (*fn)(void *arg), void *arg);

/* ---- Waiting -------------------------------------------------------------------- */

/* Wait up to `timeout` seconds for the child to end, and reap it. Returns 0
 * once it has ended (at once if it had), CF_ETIMEDOUT when it still runs,
 * CF_EINVAL (NULL p, NaN timeout), CF_ESTATE (called in another process than
 * the parent), -ECHILD (someone else reaped the child: its exit code is
 * lost). Any thread of the parent, several at once; blocks as the timeout
 * says. */
CF_EXTERN int cf_process_join(cf_process *p, double timeout);

/* Whether the child still runs; reaps it once it has ended. False for NULL
 * and in another process than the parent. Never blocks. */
CF_EXTERN bool cf_process_is_alive(cf_process *p);

/* How the child ended, as Python's exitcode says: 0 after the task or
 * function returned; 1 when it failed through cf_task_fail() (or its result
 * could not be sent back); the status it gave exit() or _exit(); minus the
 * signal number when a signal killed it (-9 after cf_process_kill, -15 after
 * cf_process_terminate). Reaps it once it has ended. Never blocks.
 * Returns 0 with *code set, or CF_ESTATE (it still runs, or another process
 * than the parent calls), CF_EINVAL (NULL p or code), -ECHILD (someone else
 * reaped it). */
CF_EXTERN int cf_process_exitcode(cf_process *p, int *code);

/* Wait up to `timeout` for a process started with cf_process_start to end,
 * then give its task's result: `out` points at a C object of the task's
 * result type (as cf_future_result's out): `int32_t r;
 * cf_process_result(p, &r, 1.0)`; NULL ignores the value. Returns 0 with
 * *out set, or:
 *   CF_ETIMEDOUT   the child still runs;
 *   CF_ETASK       the task called cf_task_fail() (cf_process_error says
 *                  why, with the code it gave as `detail`);
 *   CF_ECRASHED    the child ended without sending a result: killed by a
 *                  signal, or it called exit() (cf_process_error's detail is
 *                  the signal number or the exit status);
 *   CF_ETOOBIG     the result was too large to send back (64 MiB);
 *   CF_ETYPE       out's type is not the result's type (nothing stored);
 *   CF_EINVAL      NULL p, NaN timeout, a process started with
 *                  cf_process_start_fn (it has no result);
 *   CF_ESTATE, -ECHILD as cf_process_join; -ENOMEM.
 * A string or cf_bytes result points into memory of the handle: valid until
 * cf_process_free. Any thread of the parent; blocks as the timeout says. */
#define cf_process_result(p, out, timeout)                                         \
    cf__process_result((p), CF__TYPE_OF_OUT(out), (out), (timeout))
CF_EXTERN int cf__process_result(cf_process *p, cf_type type, void *out, double timeout);

/* Why a process started with cf_process_start failed (its cf_error: code,
 * detail, message, task, origin "process <pid>"), once it has ended without
 * a result; NULL otherwise (still running, a result, a function process).
 * Valid until cf_process_free. Never blocks. */
CF_EXTERN const cf_error *cf_process_error(const cf_process *p);

/* ---- Stopping ------------------------------------------------------------------- */

/* Send SIGTERM / SIGKILL to the child. Nothing happens when it has already
 * ended (never a signal to a pid that could be reused: a child is signalled
 * only until it is reaped). Does not wait: join it afterwards. Returns 0,
 * CF_EINVAL (NULL p), CF_ESTATE (another process than the parent), -errno
 * from kill(). Any thread of the parent. */
CF_EXTERN int cf_process_terminate(cf_process *p);
CF_EXTERN int cf_process_kill(cf_process *p);

/* ---- About it ------------------------------------------------------------------- */

/* The child's process id (0 for NULL). Never fails. */
CF_EXTERN pid_t cf_process_pid(const cf_process *p);

/* Its name (valid until cf_process_free; "" for NULL). Never fails. */
CF_EXTERN const char *cf_process_name(const cf_process *p);

/* Whether it is a daemon (false for NULL). Never fails. */
CF_EXTERN bool cf_process_is_daemon(const cf_process *p);

/* The process ids of the children this process started through this API
 * that still run, in the order they were started: up to `cap` of them into
 * pids[], and how many there are into *count (which may exceed cap). Reaps
 * those that have ended, as Python's active_children() joins them. A
 * snapshot: a child may end right after. Never blocks.
 * Errors: CF_EINVAL (NULL count; NULL pids with cap > 0). Any thread. */
CF_EXTERN int cf_process_active_children(pid_t *pids, size_t cap, size_t *count);

/* ---- Lifetime ------------------------------------------------------------------- */

/* Free the handle. In the parent, if the child still runs, this first waits
 * for it without limit (terminate or kill it first to stop it), so the child
 * is always reaped. In any other process it only frees that process's copy.
 * NULL is ignored. Never fails. */
CF_EXTERN void cf_process_free(cf_process *p);

/* Internal: cf_process_start's executor for the typed path (CF_TASK's
 * submit functions); it forks the child. Sets *proc to NULL. */
CF_EXTERN cf_executor *cf__process_launcher(cf_process **proc, const cf_process_options *opts);

CF_END_DECLS

#endif
