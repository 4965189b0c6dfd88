/* cfutures/subprocess.h: run programs as child processes, feed them input
 * and collect their output: Python's subprocess module (run, call,
 * check_output, Popen with communicate, wait, poll, send_signal, terminate,
 * kill).
 *
 * How a program is started (every function that starts one):
 * - argv[0] is the program: with a '/' it is a path (relative to the
 *   child's working directory), without one it is searched in the PATH of
 *   the calling process, as execvp does.
 * - A program that cannot be started (missing, not executable, a working
 *   directory that does not exist) is reported at once by the starting
 *   call, with the system's errno (-ENOENT, -EACCES, ...) and a message
 *   naming the program: never as a child that exits with status 127.
 * - The child gets no descriptor of the parent but its standard input,
 *   output and error (close-on-exec is not relied on: everything from
 *   descriptor 3 up is closed in the child).
 * - Every signal is at its default disposition in the child and none is
 *   blocked, whatever the parent (or a cfutures worker, which ignores
 *   SIGINT and SIGPIPE) had set (but glibc's internal signals 32 and 33,
 *   which its posix_spawn leaves ignored; they are below SIGRTMIN).
 * - No SIGCHLD handler is installed and nothing reaps any child but the ones
 *   started here, each by its own pid (never waitpid(-1)). A program that
 *   ignores SIGCHLD, or reaps with waitpid(-1), takes the statuses away:
 *   waits then fail with -ECHILD.
 *
 * Each of the child's standard streams is one of cf_subprocess_stdio.
 * Pipes are made close-on-exec; the parent's ends are those that
 * cf_subprocess_stdin_fd() and friends return, blocking descriptors owned by
 * the handle.
 *
 * Output collected by communicate (and by run and check_output) is kept by
 * the handle: valid until cf_subprocess_free, with a terminating NUL byte
 * after the last byte (so text output can be read as a string).
 *
 * Threads: one thread at a time may communicate with or wait for a given
 * child; pid, poll, send_signal, terminate and kill may be called from any
 * thread at any time, also while another waits.
 */
#ifndef CFUTURES_SUBPROCESS_H
#define CFUTURES_SUBPROCESS_H

#include <sys/types.h>

#include "common.h"
#include "error.h"
#include "value.h"

typedef struct cf_subprocess cf_subprocess;

/* What one of the child's standard streams is. */
typedef enum cf_subprocess_stdio {
    CF_SUBPROCESS_INHERIT = 0, /* the parent's own descriptor 0, 1 or 2 */
    CF_SUBPROCESS_PIPE,        /* a pipe to the parent (communicate, or the _fd accessors) */
    CF_SUBPROCESS_DEVNULL,     /* /dev/null */
    CF_SUBPROCESS_FD,          /* a descriptor of the parent's (the *_fd option), dup'ed;
                                  the parent keeps its own */
    CF_SUBPROCESS_STDOUT,      /* stderr only: wherever stdout goes */
} cf_subprocess_stdio;

typedef struct cf_subprocess_options {
    cf_subprocess_stdio stdin_mode, stdout_mode, stderr_mode;
    int stdin_fd, stdout_fd, stderr_fd; /* for CF_SUBPROCESS_FD */
    const char *cwd;                    /* the child's working directory; NULL: the parent's */
    /* The child's environment: `env` ("NAME=value" strings, NULL-terminated)
     * replaces the parent's when not NULL; `env_add` entries are then added,
     * replacing those of the same name. Both NULL: the parent's environment. */
    const char *const *env;
    const char *const *env_add;
    bool new_session;                   /* the child calls setsid() (start_new_session) */
} cf_subprocess_options;

CF_BEGIN_DECLS

/* ---- Popen ------------------------------------------------------------------------ */

/* Start argv[0] with arguments argv (NULL-terminated) as a child process;
 * `opts` may be NULL (every stream inherited). *out is the handle.
 * Errors: CF_EINVAL (NULL out or argv, an empty argv, a mode out of range,
 * CF_SUBPROCESS_STDOUT for other than stderr, a negative *_fd with
 * CF_SUBPROCESS_FD, an env entry without '='); the system's -errno when the
 * program cannot be started (-ENOENT missing, -EACCES, -ENOEXEC, ... and
 * -ENOENT/-ENOTDIR for a missing cwd, named as such); -EMFILE, -ENOMEM,
 * -EAGAIN (pipes, fork). Nothing is left behind on failure. */
CF_EXTERN int cf_subprocess_spawn(cf_subprocess **out, const char *const argv[],
                                  const cf_subprocess_options *opts);

/* Send `input` (len bytes; NULL/0 for none) to the child's stdin, then
 * close it, while reading its stdout and stderr, until both end and the
 * child has exited, or until `timeout` seconds pass. Streams that are not
 * pipes are left alone; input to a child whose stdin is not a pipe is
 * CF_EINVAL. A child that closes its stdin early simply gets no more (no
 * SIGPIPE reaches the caller). Both pipes filling at once never deadlocks:
 * one poll loop serves all three.
 *
 * On return (success or timeout) *out and *err (each may be NULL) describe
 * everything read so far from stdout and stderr, kept by the handle (valid
 * until cf_subprocess_free; NUL-terminated). On CF_ETIMEDOUT nothing is
 * lost: call it again (passing the same input buffer and length, or
 * NULL/0) to continue where it stopped; the output then holds everything
 * from the start. A call after the child was fully collected returns the
 * same output at once.
 * Errors: CF_ETIMEDOUT; CF_EINVAL (NULL p, NaN timeout, input without a
 * stdin pipe, a different input on a repeated call); -ENOMEM; -errno from
 * poll or read; -ECHILD (someone else reaped the child). */
CF_EXTERN int cf_subprocess_communicate(cf_subprocess *p, const void *input, size_t len,
                                        cf_bytes *out, cf_bytes *err, double timeout);

/* Wait up to `timeout` seconds for the child to end; *returncode (may be
 * NULL) gets its exit status, or -N when signal N killed it (Python's
 * returncode). Does not read pipes: a child blocked on a full output pipe
 * never ends (use communicate). Returns 0, CF_ETIMEDOUT, CF_EINVAL (NULL p,
 * NaN timeout), -ECHILD (reaped by someone else). */
CF_EXTERN int cf_subprocess_wait(cf_subprocess *p, int *returncode, double timeout);

/* Whether the child has ended, without waiting: 0 with *returncode set as
 * for wait, CF_ETIMEDOUT when it still runs, CF_EINVAL, -ECHILD. */
CF_EXTERN int cf_subprocess_poll(cf_subprocess *p, int *returncode);

/* Send signal `sig` to the child; nothing once it has been reaped (its pid
 * may belong to another process by then: never signalled). Returns 0,
 * CF_EINVAL (NULL p), -EINVAL (no such signal), -EPERM. */
CF_EXTERN int cf_subprocess_send_signal(cf_subprocess *p, int sig);

/* send_signal with SIGTERM / SIGKILL. */
CF_EXTERN int cf_subprocess_terminate(cf_subprocess *p);
CF_EXTERN int cf_subprocess_kill(cf_subprocess *p);

/* The child's pid (0 for NULL). */
CF_EXTERN pid_t cf_subprocess_pid(const cf_subprocess *p);

/* The parent's end of the child's stdin, stdout or stderr pipe, or -1 when
 * that stream is not a pipe or has been closed. The handle owns it: use it
 * (instead of communicate) to stream data, never close it yourself. */
CF_EXTERN int cf_subprocess_stdin_fd(const cf_subprocess *p);
CF_EXTERN int cf_subprocess_stdout_fd(const cf_subprocess *p);
CF_EXTERN int cf_subprocess_stderr_fd(const cf_subprocess *p);

/* Close the parent's end of the stdin pipe (the child sees end of file).
 * Closing again does nothing. Returns 0 or CF_EINVAL (NULL p). */
CF_EXTERN int cf_subprocess_close_stdin(cf_subprocess *p);

/* The child's return code once it has been reaped (by wait, poll,
 * communicate, run): 0 with *returncode set, or CF_ESTATE (not reaped yet),
 * CF_EINVAL. */
CF_EXTERN int cf_subprocess_returncode(const cf_subprocess *p, int *returncode);

/* Close the pipes, wait for the child to end (like leaving Python's `with
 * Popen(...)`; kill or terminate it first not to wait), reap it and free
 * the handle and the output it kept. NULL is ignored. */
CF_EXTERN void cf_subprocess_free(cf_subprocess *p);

/* ---- run, call, check_output ----------------------------------------------------- */

/* Python's subprocess.run: start argv as cf_subprocess_spawn does, send it
 * `input` (NULL/0: none; with input, stdin_mode must be INHERIT (made a
 * pipe) or PIPE) and collect its output as communicate does, all within
 * `timeout` seconds. On a timeout the child is killed (SIGKILL) and reaped.
 * *out is set whenever the child was started (also on CF_ETIMEDOUT, with the
 * output read until then; free it with cf_subprocess_free), else NULL.
 * Returns 0 whatever the child's return code (read it with
 * cf_subprocess_returncode), CF_ETIMEDOUT, or the errors of spawn and
 * communicate. */
CF_EXTERN int cf_subprocess_run(cf_subprocess **out, const char *const argv[],
                                const cf_subprocess_options *opts, const void *input,
                                size_t len, double timeout);

/* Python's subprocess.call: run argv (streams as `opts` says, NULL:
 * inherited) within `timeout`, and give its return code. On a timeout the
 * child is killed and reaped. Returns 0 (*returncode set, may be NULL),
 * CF_ETIMEDOUT, or the errors of spawn. */
CF_EXTERN int cf_subprocess_call(const char *const argv[], const cf_subprocess_options *opts,
                                 double timeout, int *returncode);

/* Python's subprocess.check_output: run argv with stdout captured (the
 * other streams as `opts` says) within `timeout`; *out as for run (its
 * stdout through cf_subprocess_output). Returns 0 when the child exited
 * with status 0; CF_ETASK when it exited otherwise or was killed (*out is
 * still set: its return code and output are there; cf_last_error() says
 * how it ended); CF_ETIMEDOUT; or the errors of run. */
CF_EXTERN int cf_subprocess_check_output(cf_subprocess **out, const char *const argv[],
                                         const cf_subprocess_options *opts, double timeout);

/* What communicate has collected so far from stdout / stderr (kept by the
 * handle, NUL-terminated; empty for a stream that is not a pipe). Never
 * fails (empty for NULL p). */
CF_EXTERN cf_bytes cf_subprocess_output(const cf_subprocess *p);
CF_EXTERN cf_bytes cf_subprocess_errors(const cf_subprocess *p);

CF_END_DECLS

#endif
