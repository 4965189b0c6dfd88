/* subprocess_communicate.c: feeding a child's stdin and collecting its
 * stdout and stderr; run, call and check_output on top
 * (cfutures/subprocess.h).
 *
 * Design notes
 * - One ppoll loop over the three pipes with an absolute deadline: input is
 *   written as the child takes it and output read as it comes, so neither
 *   side ever waits for the other however full the pipes get. Once the
 *   output pipes have ended, the child is reaped (subprocess.c) before the
 *   same deadline.
 * - Nothing is lost on a timeout: the output read so far stays in the
 *   handle's buffers and the input's offset in the handle; the next call
 *   continues from there. The stdin end is non-blocking only while a
 *   communicate runs (so a write takes what fits and never blocks), and
 *   blocking again for a caller who writes to it directly.
 * - SIGPIPE: a child that closes its stdin early makes a write fail with
 *   EPIPE and raise SIGPIPE. The loop runs with SIGPIPE blocked in the
 *   calling thread and takes a SIGPIPE its own write raised (sigtimedwait,
 *   only when none was pending before), so the application's disposition
 *   is never touched and it never sees one.
 * - Buffers grow by doubling, through the library's allocator; each holds a
 *   NUL after its data.
 */
#include "config.h"

#include "subprocess_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "clock.h"
#include "error_priv.h"

/* Bytes asked of read() at a time, and the first buffer's size. */
#define CF__SUB_READ ((size_t)65536)

static const char cf__sub_empty[1] = "";

/* Make room for CF__SUB_READ more bytes and the NUL. */
static int cf__sub_buf_reserve(cf__sub_buf *b)
{
    if (b->cap - b->len > CF__SUB_READ)
        return 0;
    size_t cap = b->cap == 0 ? 2 * CF__SUB_READ : 2 * b->cap;
    if (cap < b->cap)
        return -ENOMEM;
    char *d = cf__realloc(b->data, cap);
    if (d == NULL)
        return -ENOMEM;
    b->data = d;
    b->cap = cap;
    return 0;
}

static cf_bytes cf__sub_buf_bytes(const cf__sub_buf *b)
{
    return b->data != NULL ? (cf_bytes){b->data, b->len} : (cf_bytes){cf__sub_empty, 0};
}

/* Read what the pipe has. Returns 0 (data, or end of file: *fd closed and
 * -1), or -errno. */
static int cf__sub_read(int *fd, cf__sub_buf *b)
{
    if (cf__sub_buf_reserve(b) != 0)
        return -ENOMEM;
    ssize_t n = read(*fd, b->data + b->len, b->cap - b->len - 1);
    if (n > 0) {
        b->len += (size_t)n;
        b->data[b->len] = '\0';
        return 0;
    }
    if (n == 0) {
        close(*fd);
        *fd = -1;
        b->data[b->len] = '\0';
        return 0;
    }
    return errno == EINTR || errno == EAGAIN ? 0 : -errno;
}

/* Write what the pipe takes of the rest of the input (SIGPIPE blocked). A
 * reader gone ends the input: stdin is closed. `keep_sigpipe`: a SIGPIPE
 * was pending before, so the one a failed write raises merged with it and
 * is not ours to take. Returns 0 or -errno. */
static int cf__sub_write(cf_subprocess *p, bool keep_sigpipe)
{
    size_t left = p->input_len - p->input_pos;
    ssize_t n = write(p->in_fd, (const char *)p->input + p->input_pos, left);
    if (n >= 0) {
        p->input_pos += (size_t)n;
        return 0;
    }
    if (errno == EINTR || errno == EAGAIN)
        return 0;
    if (errno != EPIPE)
        return -errno;
    p->input_pos = p->input_len;
    if (keep_sigpipe)
        return 0;
    /* The child closed its stdin: take the SIGPIPE this write raised. */
    sigset_t pipe_only;
    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    struct timespec zero = {0, 0};
    while (sigtimedwait(&pipe_only, NULL, &zero) < 0 && errno == EINTR) {
    }
    return 0;
}

static void cf__sub_set_blocking(int fd, bool blocking)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0)
        fcntl(fd, F_SETFL, blocking ? fl & ~O_NONBLOCK : fl | O_NONBLOCK);
}

/* The poll loop, SIGPIPE blocked. */
static int cf__sub_pump(cf_subprocess *p, int64_t deadline, bool keep_sigpipe,
                        const char *caller)
{
    for (;;) {
        if (p->in_fd >= 0 && p->input_pos >= p->input_len)
            cf_subprocess_close_stdin(p);
        struct pollfd fds[3];
        int n = 0, in_i = -1, out_i = -1, err_i = -1;
        if (p->in_fd >= 0)
            in_i = n, fds[n++] = (struct pollfd){.fd = p->in_fd, .events = POLLOUT};
        if (p->out_fd >= 0)
            out_i = n, fds[n++] = (struct pollfd){.fd = p->out_fd, .events = POLLIN};
        if (p->err_fd >= 0)
            err_i = n, fds[n++] = (struct pollfd){.fd = p->err_fd, .events = POLLIN};
        if (n == 0)
            return 0;
        int64_t left = deadline == CF__NO_DEADLINE ? -1 : deadline - cf__now_ns();
        if (deadline != CF__NO_DEADLINE && left < 0)
            left = 0;
        struct timespec ts = {.tv_sec = left / 1000000000, .tv_nsec = left % 1000000000};
        int r = ppoll(fds, (nfds_t)n, left < 0 ? NULL : &ts, NULL);
        if (r < 0 && errno != EINTR) {
            int err = errno;
            return cf__fail(-err, "%s: poll: %s", caller, strerror(err));
        }
        if (r == 0)
            return cf__fail(CF_ETIMEDOUT, "%s: \"%s\" (pid %d) did not finish in time; call "
                            "again to go on", caller, p->name, (int)p->pid);
        if (r < 0)
            continue;
        int rc = 0;
        if (out_i >= 0 && fds[out_i].revents != 0)
            rc = cf__sub_read(&p->out_fd, &p->out);
        if (rc == 0 && err_i >= 0 && fds[err_i].revents != 0)
            rc = cf__sub_read(&p->err_fd, &p->err);
        if (rc == 0 && in_i >= 0 && fds[in_i].revents != 0)
            rc = (fds[in_i].revents & POLLOUT) ? cf__sub_write(p, keep_sigpipe)
                                               : (p->input_pos = p->input_len, 0); /* POLLERR: reader gone */
        if (rc != 0)
            return cf__fail(rc, "%s: \"%s\" (pid %d): %s", caller, p->name, (int)p->pid,
                            cf_strerror(rc));
    }
}

int cf_subprocess_communicate(cf_subprocess *p, const void *input, size_t len, cf_bytes *out,
                              cf_bytes *err, double timeout)
{
    static const char caller[] = "cf_subprocess_communicate";
    if (p == NULL)
        return cf__fail(CF_EINVAL, "%s: NULL subprocess", caller);
    int64_t deadline;
    if (cf__deadline(timeout, &deadline) != 0)
        return cf__fail(CF_EINVAL, "%s: NaN timeout", caller);
    if (input == NULL && len > 0)
        return cf__fail(CF_EINVAL, "%s: NULL input of %zu bytes", caller, len);
    if (!p->comm_started) {
        if (len > 0 && p->in_fd < 0)
            return cf__fail(CF_EINVAL, "%s: input for \"%s\", whose stdin is not a pipe (or "
                            "was closed)", caller, p->name);
        p->comm_started = true;
        p->input = input;
        p->input_len = len;
        p->input_pos = 0;
    } else if (len > 0 && (input != p->input || len != p->input_len)) {
        return cf__fail(CF_EINVAL, "%s: a repeated call must pass the same input as the first "
                        "(or none)", caller);
    }

    sigset_t pipe_only, saved;
    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_only, &saved);
    sigset_t pending;
    bool was_pending = sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE);
    if (p->in_fd >= 0)
        cf__sub_set_blocking(p->in_fd, false);
    int rc = cf__sub_pump(p, deadline, was_pending, caller);
    if (p->in_fd >= 0)
        cf__sub_set_blocking(p->in_fd, true);
    pthread_sigmask(SIG_SETMASK, &saved, NULL);
    if (rc == 0)
        rc = cf__subprocess_reap(p, deadline, caller);
    if (out != NULL)
        *out = cf__sub_buf_bytes(&p->out);
    if (err != NULL)
        *err = cf__sub_buf_bytes(&p->err);
    return rc;
}

cf_bytes cf_subprocess_output(const cf_subprocess *p)
{
    return p != NULL ? cf__sub_buf_bytes(&p->out) : (cf_bytes){cf__sub_empty, 0};
}

cf_bytes cf_subprocess_errors(const cf_subprocess *p)
{
    return p != NULL ? cf__sub_buf_bytes(&p->err) : (cf_bytes){cf__sub_empty, 0};
}

/* ---- run, call, check_output ------------------------------------------------------------ */

/* After a run's communicate failed: kill the child and reap it (its pipes
 * are left; the output read so far stays). */
static void cf__sub_kill_and_reap(cf_subprocess *p)
{
    cf_subprocess_kill(p);
    cf_subprocess_close_stdin(p);
    cf__subprocess_reap(p, CF__NO_DEADLINE, "cf_subprocess_run");
}

static int cf__sub_run(cf_subprocess **out, const char *const argv[], cf_subprocess_options o,
                       const void *input, size_t len, double timeout, const char *caller)
{
    if (out != NULL)
        *out = NULL;
    if (out == NULL)
        return cf__fail(CF_EINVAL, "%s: NULL out", caller);
    if (isnan(timeout))
        return cf__fail(CF_EINVAL, "%s: NaN timeout", caller);
    if (len > 0 && o.stdin_mode == CF_SUBPROCESS_INHERIT)
        o.stdin_mode = CF_SUBPROCESS_PIPE;
    if (len > 0 && o.stdin_mode != CF_SUBPROCESS_PIPE)
        return cf__fail(CF_EINVAL, "%s: input given, but stdin is not a pipe", caller);
    int64_t deadline;
    cf__deadline(timeout, &deadline);
    cf_subprocess *p;
    int rc = cf_subprocess_spawn(&p, argv, &o);
    if (rc != 0)
        return rc;
    /* The time spawning took counts against the timeout. */
    double t = CF_FOREVER;
    if (deadline != CF__NO_DEADLINE) {
        int64_t left = deadline - cf__now_ns();
        t = left > 0 ? (double)left / 1e9 : 0;
    }
    rc = cf_subprocess_communicate(p, input, len, NULL, NULL, t);
    if (rc == CF_ETIMEDOUT) {
        cf__sub_kill_and_reap(p);
        *out = p;
        return cf__fail(CF_ETIMEDOUT, "%s: \"%s\" timed out after %g s and was killed", caller,
                        argv[0], timeout);
    }
    if (rc != 0) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", cf_last_error());
        cf__sub_kill_and_reap(p);
        cf_subprocess_free(p);
        return cf__fail(rc, "%s", msg);
    }
    *out = p;
    return 0;
}

int cf_subprocess_run(cf_subprocess **out, const char *const argv[],
                      const cf_subprocess_options *opts, const void *input, size_t len,
                      double timeout)
{
    cf_subprocess_options o = opts != NULL ? *opts : (cf_subprocess_options){0};
    if (input == NULL && len > 0) {
        if (out != NULL)
            *out = NULL;
        return cf__fail(CF_EINVAL, "cf_subprocess_run: NULL input of %zu bytes", len);
    }
    return cf__sub_run(out, argv, o, input, len, timeout, "cf_subprocess_run");
}

int cf_subprocess_call(const char *const argv[], const cf_subprocess_options *opts,
                       double timeout, int *returncode)
{
    cf_subprocess_options o = opts != NULL ? *opts : (cf_subprocess_options){0};
    cf_subprocess *p;
    int rc = cf__sub_run(&p, argv, o, NULL, 0, timeout, "cf_subprocess_call");
    if (rc == 0 && returncode != NULL)
        rc = cf_subprocess_returncode(p, returncode);
    cf_subprocess_free(p);
    return rc;
}

int cf_subprocess_check_output(cf_subprocess **out, const char *const argv[],
                               const cf_subprocess_options *opts, double timeout)
{
    static const char caller[] = "cf_subprocess_check_output";
    cf_subprocess_options o = opts != NULL ? *opts : (cf_subprocess_options){0};
    if (o.stdout_mode != CF_SUBPROCESS_INHERIT && o.stdout_mode != CF_SUBPROCESS_PIPE) {
        if (out != NULL)
            *out = NULL;
        return cf__fail(CF_EINVAL, "%s: stdout is captured; it cannot be set", caller);
    }
    o.stdout_mode = CF_SUBPROCESS_PIPE;
    int rc = cf__sub_run(out, argv, o, NULL, 0, timeout, caller);
    if (rc != 0)
        return rc;
    int code = 0;
    cf_subprocess_returncode(*out, &code);
    if (code > 0)
        return cf__fail(CF_ETASK, "%s: \"%s\" exited with status %d", caller, argv[0], code);
    if (code < 0)
        return cf__fail(CF_ETASK, "%s: \"%s\" was killed by signal %d (%s)", caller, argv[0],
                        -code, strsignal(-code));
    return 0;
}
