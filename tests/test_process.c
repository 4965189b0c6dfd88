/* test_process.c: Process across real process boundaries: results of every
 * kind coming back (a large one included), join with a timeout on a child
 * held by the test, is_alive transitions, exit codes (return, cf_task_fail,
 * exit(), SIGKILL, SIGTERM) for tasks and functions, the list of active
 * children, daemons terminated and other children joined when the parent
 * exits, daemons dying with a crashed parent while other children live on,
 * no zombie and no descriptor left behind, free reaping, starts from many
 * threads at once, a Pipe handed to a child, default and nested names, the
 * child's signal dispositions, stdio flushed once, and invalid uses.
 *
 * Children that must stay running wait on a pipe (a "chan", support.h) for
 * the test's go-ahead; the test waits on pipes, or polls /proc, with a
 * generous deadline, never on time passing.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cfutures.h>

#include "support.h"


/* ---- Helpers ---------------------------------------------------------------------- */


/* In a child that is not a started process: a failed check ends it with
 * status 1, saying which. */
#define CHILD_CHECK(cond)                                                                  \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            fprintf(stderr, "%s:%d: child check failed: %s (%s)\n", __FILE__, __LINE__,    \
                    #cond, cf_last_error());                                               \
            _exit(1);                                                                      \
        }                                                                                  \
    } while (0)

/* `start` (a cf_process_start... call) must succeed and set p. */
#define START_OK(start, p)                                                                 \
    do {                                                                                   \
        int start_rc_ = (start);                                                           \
        ck_assert_msg(start_rc_ == 0, "%s: %s (%s)", #start, cf_err_name(start_rc_),       \
                      cf_last_error());                                                    \
        ck_assert_ptr_nonnull(p);                                                          \
        ck_assert_int_gt(cf_process_pid(p), 0);                                            \
    } while (0)

static void join_ok(cf_process *p)
{
    int rc = cf_process_join(p, DEADLINE_S);
    ck_assert_msg(rc == 0, "join %s: %s (%s)", cf_process_name(p), cf_err_name(rc),
                  cf_last_error());
}

static int exitcode_of(cf_process *p)
{
    join_ok(p);
    int code = 12345;
    ck_assert_int_eq(cf_process_exitcode(p, &code), 0);
    return code;
}

/* Whether `pid` appears in pids[0..n). */
/* Reaps child `pid` (at most DEADLINE_S) and returns its wait status. */
static int reap(pid_t pid)
{
    int status;
    pid_t r;
    double deadline = now_s() + DEADLINE_S;
    while ((r = waitpid(pid, &status, WNOHANG)) == 0)
        ck_assert_msg(keep_polling(deadline), "process %d still runs", (int)pid);
    ck_assert_int_eq(r, pid);
    return status;
}

static bool listed(const pid_t *pids, size_t n, pid_t pid)
{
    for (size_t i = 0; i < n; i++)
        if (pids[i] == pid)
            return true;
    return false;
}

/* ---- Tasks and functions ---------------------------------------------------------- */

static int32_t square(int32_t x)
{
    return x * x;
}
CF_TASK(int32_t, square, int32_t);

static const char *greet(const char *name)
{
    static char out[64];
    snprintf(out, sizeof out, "hello, %s, from %d", name, (int)getpid());
    return out;
}
CF_TASK(const char *, greet, const char *);

typedef struct point {
    int32_t x, y;
    double norm;
} point;

static point make_point(int32_t x, int32_t y)
{
    point p;
    memset(&p, 0, sizeof p);
    p.x = x;
    p.y = y;
    p.norm = sqrt((double)x * x + (double)y * y);
    return p;
}
CF_TASK(point, make_point, int32_t, int32_t);

enum { BLOB = 5 << 20 };

static cf_bytes big_blob(uint32_t seed)
{
    static unsigned char out[BLOB];
    for (size_t i = 0; i < BLOB; i++)
        out[i] = (unsigned char)(i * 31 + seed);
    return (cf_bytes){out, BLOB};
}
CF_TASK(cf_bytes, big_blob, uint32_t);

static int32_t touched;

static void touch(int32_t value)
{
    touched = value;
}
CF_TASK(void, touch, int32_t);

/* A raw pointer argument: the child reads its copy of the parent's memory. */
static int32_t deref(int32_t *p)
{
    return *p;
}
CF_TASK(int32_t, deref, int32_t *);

static int32_t *leak_pointer(void)
{
    return &touched;
}
CF_TASK(int32_t *, leak_pointer);

static int32_t fail_with(int32_t code)
{
    cf_task_fail(code, "failed on purpose with %d", code);
    return 0;
}
CF_TASK(int32_t, fail_with, int32_t);

static int32_t exit_with(int32_t status)
{
    exit(status);
}
CF_TASK(int32_t, exit_with, int32_t);

/* Waits for one byte on fd (the test's go-ahead); returns the byte. */
static int32_t wait_for(int32_t fd)
{
    char c = 0;
    return read_full(fd, &c, 1) == 0 ? c : -1;
}
CF_TASK(int32_t, wait_for, int32_t);

/* Sums int64 values from a pipe end until end of file. The child first
 * closes its copy of the sending end, or the end of file would never come. */
static int64_t sum_pipe(cf_pipe_end *end, cf_pipe_end *unused)
{
    cf_pipe_close(unused);
    int64_t sum = 0, x;
    int rc;
    while ((rc = cf_pipe_recv(end, &x, DEADLINE_S)) == 0)
        sum += x;
    return rc == CF_EEOF ? sum : -1;
}
CF_TASK(int64_t, sum_pipe, cf_pipe_end *, cf_pipe_end *);

static void fn_wait(void *arg)
{
    const chan *c = arg;
    char byte;
    if (read_full(c->rd, &byte, 1) != 0)
        _exit(99);
}

/* Reports how it sees its signals (one int32 of bits on started, all set
 * when they are as a started process should have them), then waits for the
 * go-ahead. */
typedef struct handshake {
    chan started, go;
} handshake;

static void fn_report_signals(void *arg)
{
    const handshake *h = arg;
    struct sigaction sa;
    sigset_t mask;
    int32_t bits = 0;
    bits |= sigaction(SIGINT, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN ? 1 : 0;
    bits |= sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN ? 2 : 0;
    bits |= sigaction(SIGUSR1, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL ? 4 : 0;
    bits |= sigaction(SIGTERM, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL ? 8 : 0;
    bits |= pthread_sigmask(SIG_SETMASK, NULL, &mask) == 0 && !sigismember(&mask, SIGUSR2) ? 16
                                                                                            : 0;
    char byte;
    if (write_full(h->started.wr, &bits, sizeof bits) != 0 || read_full(h->go.rd, &byte, 1) != 0)
        _exit(99);
}

/* Never returns on its own. */
static void fn_pause(void *arg)
{
    (void)arg;
    for (;;)
        pause();
}

static void fn_return(void *arg)
{
    (void)arg;
}

static void fn_fail(void *arg)
{
    (void)arg;
    cf_task_fail(-7, "the function failed");
}

static void fn_exit5(void *arg)
{
    (void)arg;
    _exit(5);
}

static void fn_abort(void *arg)
{
    (void)arg;
    abort();
}

/* ---- Results -------------------------------------------------------------------------- */

START_TEST(process_task_results_come_back)
{
    cf_process *p;
    START_OK(cf_process_start(&p, NULL, square, 7), p);
    int32_t r = 0;
    ck_assert_int_eq(cf_process_result(p, &r, DEADLINE_S), 0);
    ck_assert_int_eq(r, 49);
    ck_assert_ptr_null(cf_process_error(p));
    ck_assert_int_eq(exitcode_of(p), 0);
    cf_process_free(p);

    START_OK(cf_process_start(&p, NULL, greet, "parent"), p);
    const char *s = NULL;
    ck_assert_int_eq(cf_process_result(p, &s, DEADLINE_S), 0);
    char want[64];
    snprintf(want, sizeof want, "hello, parent, from %d", (int)cf_process_pid(p));
    ck_assert_str_eq(s, want);
    double wrong;
    ck_assert_int_eq(cf_process_result(p, &wrong, 0), CF_ETYPE);
    cf_process_free(p);

    START_OK(cf_process_start(&p, NULL, make_point, 3, 4), p);
    point pt;
    ck_assert_int_eq(cf_process_result(p, &pt, DEADLINE_S), 0);
    ck_assert_int_eq(pt.x, 3);
    ck_assert_int_eq(pt.y, 4);
    ck_assert(pt.norm == 5.0);
    cf_process_free(p);

    touched = 1;
    START_OK(cf_process_start(&p, NULL, touch, 2), p);
    ck_assert_int_eq(cf_process_result(p, NULL, DEADLINE_S), 0);
    ck_assert_int_eq(touched, 1); /* the child changed its own copy */
    cf_process_free(p);

    int32_t secret = 31337;
    START_OK(cf_process_start(&p, NULL, deref, &secret), p);
    ck_assert_int_eq(cf_process_result(p, &r, DEADLINE_S), 0);
    ck_assert_int_eq(r, 31337);
    cf_process_free(p);
}
END_TEST

/* A result larger than the socket holds: read while the child still sends. */
START_TEST(process_large_result)
{
    cf_process *p;
    START_OK(cf_process_start(&p, NULL, big_blob, 9), p);
    cf_bytes b = {0};
    ck_assert_int_eq(cf_process_result(p, &b, DEADLINE_S), 0);
    ck_assert_uint_eq(b.len, BLOB);
    const unsigned char *d = b.data;
    for (size_t i = 0; i < BLOB; i++)
        if (d[i] != (unsigned char)(i * 31 + 9))
            ck_abort_msg("byte %zu of the result differs", i);
    cf_process_free(p);
}
END_TEST

/* ---- Join, is_alive ------------------------------------------------------------------------ */

START_TEST(process_join_with_timeout)
{
    chan go = new_chan();
    cf_process *p;
    START_OK(cf_process_start(&p, NULL, wait_for, go.rd), p);
    ck_assert(cf_process_is_alive(p));
    ck_assert_int_eq(cf_process_join(p, 0), CF_ETIMEDOUT);
    ck_assert_int_eq(cf_process_join(p, 0.05), CF_ETIMEDOUT);
    int code;
    ck_assert_int_eq(cf_process_exitcode(p, &code), CF_ESTATE);
    int32_t r;
    ck_assert_int_eq(cf_process_result(p, &r, 0), CF_ETIMEDOUT);
    ck_assert_ptr_null(cf_process_error(p));
    ck_assert(cf_process_is_alive(p));
    ck_assert_int_eq(write_full(go.wr, "A", 1), 0);
    ck_assert_int_eq(cf_process_join(p, DEADLINE_S), 0);
    ck_assert(!cf_process_is_alive(p));
    ck_assert_int_eq(cf_process_join(p, 0), 0); /* again: at once */
    ck_assert_int_eq(cf_process_exitcode(p, &code), 0);
    ck_assert_int_eq(code, 0);
    ck_assert_int_eq(cf_process_result(p, &r, 0), 0);
    ck_assert_int_eq(r, 'A');
    ck_assert(!process_exists(cf_process_pid(p))); /* reaped */
    cf_process_free(p);
    close_chan(go);
}
END_TEST

/* Several threads join the same child at once; all see it end. */
static void *join_forever(void *arg)
{
    return (void *)(intptr_t)cf_process_join(arg, DEADLINE_S);
}

START_TEST(process_join_from_several_threads)
{
    chan go = new_chan();
    cf_process *p;
    START_OK(cf_process_start_fn(&p, NULL, fn_wait, &go), p);
    pthread_t t[3];
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, join_forever, p), 0);
    release(go, 1);
    for (int i = 0; i < 3; i++) {
        void *rc;
        ck_assert_int_eq(pthread_join(t[i], &rc), 0);
        ck_assert_int_eq((int)(intptr_t)rc, 0);
    }
    ck_assert_int_eq(exitcode_of(p), 0);
    cf_process_free(p);
    close_chan(go);
}
END_TEST

/* ---- Exit codes ----------------------------------------------------------------------------- */

START_TEST(process_exit_codes_of_tasks)
{
    cf_process *p;
    START_OK(cf_process_start(&p, NULL, fail_with, 42), p);
    int32_t r;
    ck_assert_int_eq(cf_process_result(p, &r, DEADLINE_S), CF_ETASK);
    const cf_error *e = cf_process_error(p);
    ck_assert_ptr_nonnull(e);
    ck_assert_int_eq(e->code, CF_ETASK);
    ck_assert_int_eq(e->detail, 42);
    ck_assert_str_eq(e->message, "failed on purpose with 42");
    ck_assert_str_eq(e->task, "fail_with");
    expect_origin_is(e, cf_process_pid(p));
    ck_assert_int_eq(exitcode_of(p), 1);
    cf_process_free(p);

    START_OK(cf_process_start(&p, NULL, exit_with, 3), p);
    ck_assert_int_eq(exitcode_of(p), 3);
    ck_assert_int_eq(cf_process_result(p, &r, 0), CF_ECRASHED);
    ck_assert_int_eq(cf_process_error(p)->detail, 3);
    cf_process_free(p);

    chan go = new_chan();
    START_OK(cf_process_start(&p, NULL, wait_for, go.rd), p);
    ck_assert_int_eq(cf_process_kill(p), 0);
    ck_assert_int_eq(exitcode_of(p), -SIGKILL);
    ck_assert_int_eq(cf_process_result(p, &r, 0), CF_ECRASHED);
    ck_assert_int_eq(cf_process_error(p)->detail, SIGKILL);
    ck_assert_int_eq(cf_process_kill(p), 0); /* ended: nothing to do */
    ck_assert_int_eq(cf_process_terminate(p), 0);
    cf_process_free(p);

    START_OK(cf_process_start(&p, NULL, wait_for, go.rd), p);
    ck_assert_int_eq(cf_process_terminate(p), 0);
    ck_assert_int_eq(exitcode_of(p), -SIGTERM);
    cf_process_free(p);
    close_chan(go);
}
END_TEST

START_TEST(process_exit_codes_of_functions)
{
    cf_process *p;
    START_OK(cf_process_start_fn(&p, NULL, fn_return, NULL), p);
    ck_assert_int_eq(exitcode_of(p), 0);
    int32_t r;
    ck_assert_int_eq(cf_process_result(p, &r, 0), CF_EINVAL); /* no result */
    ck_assert_ptr_null(cf_process_error(p));
    cf_process_free(p);

    START_OK(cf_process_start_fn(&p, NULL, fn_fail, NULL), p);
    ck_assert_int_eq(exitcode_of(p), 1);
    cf_process_free(p);

    START_OK(cf_process_start_fn(&p, NULL, fn_exit5, NULL), p);
    ck_assert_int_eq(exitcode_of(p), 5);
    cf_process_free(p);

    START_OK(cf_process_start_fn(&p, NULL, fn_abort, NULL), p);
    ck_assert_int_eq(exitcode_of(p), -SIGABRT);
    cf_process_free(p);
}
END_TEST

/* ---- Active children ---------------------------------------------------------------------------- */

START_TEST(process_active_children_listed)
{
    size_t n = 99;
    ck_assert_int_eq(cf_process_active_children(NULL, 0, &n), 0);
    ck_assert_uint_eq(n, 0);
    chan go[3] = {new_chan(), new_chan(), new_chan()};
    cf_process *p[3];
    for (int i = 0; i < 3; i++)
        START_OK(cf_process_start_fn(&p[i], NULL, fn_wait, &go[i]), p[i]);
    pid_t pids[8];
    ck_assert_int_eq(cf_process_active_children(pids, 8, &n), 0);
    ck_assert_uint_eq(n, 3);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(pids[i], cf_process_pid(p[i])); /* in start order */
    ck_assert_int_eq(cf_process_active_children(pids, 1, &n), 0);
    ck_assert_uint_eq(n, 3); /* all counted, one written */
    ck_assert_int_eq(pids[0], cf_process_pid(p[0]));

    /* One ends: it leaves the list, reaped by the listing itself. */
    release(go[1], 1);
    double deadline = now_s() + DEADLINE_S;
    do
        ck_assert_int_eq(cf_process_active_children(pids, 8, &n), 0);
    while (n == 3 && keep_polling(deadline));
    ck_assert_uint_eq(n, 2);
    ck_assert(!listed(pids, n, cf_process_pid(p[1])));
    ck_assert(!process_exists(cf_process_pid(p[1])));
    ck_assert(!cf_process_is_alive(p[1]));

    release(go[0], 1);
    release(go[2], 1);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(exitcode_of(p[i]), 0);
        cf_process_free(p[i]);
        close_chan(go[i]);
    }
    ck_assert_int_eq(cf_process_active_children(pids, 8, &n), 0);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(cf_process_active_children(NULL, 1, &n), CF_EINVAL);
    ck_assert_int_eq(cf_process_active_children(pids, 8, NULL), CF_EINVAL);
}
END_TEST

/* ---- At exit ------------------------------------------------------------------------------------- */

/* What the helper application reports, and its children. */
static struct {
    cf_process *daemon, *worker;
    int report;
} helper;

/* Registered before the first start, so it runs after the library's exit
 * handler: it reports how both children ended. */
static void report_after_library(void)
{
    int codes[2] = {99, 99};
    cf_process_exitcode(helper.daemon, &codes[0]);
    cf_process_exitcode(helper.worker, &codes[1]);
    write_all(helper.report, codes, sizeof codes);
}

/* Registered after the first start, so it runs before the library's exit
 * handler: it says the application is exiting. */
static void report_exiting(void)
{
    int32_t marker = -1;
    write_all(helper.report, &marker, sizeof marker);
}

/* A helper application: a daemon that would run forever, and a non-daemon
 * child that waits for the test; it reports their pids, then returns from
 * "main" through exit(). */
static void __attribute__((noreturn)) exiting_application(chan report, chan go)
{
    helper.report = report.wr;
    CHILD_CHECK(atexit(report_after_library) == 0);
    CHILD_CHECK(cf_process_start_fn(&helper.daemon, &(cf_process_options){.daemon = true},
                                    fn_pause, NULL) == 0);
    CHILD_CHECK(cf_process_start_fn(&helper.worker, NULL, fn_wait, &go) == 0);
    CHILD_CHECK(cf_process_is_daemon(helper.daemon) && !cf_process_is_daemon(helper.worker));
    CHILD_CHECK(atexit(report_exiting) == 0);
    int32_t pids[2] = {cf_process_pid(helper.daemon), cf_process_pid(helper.worker)};
    write_all(report.wr, pids, sizeof pids);
    exit(0);
}

START_TEST(process_daemons_terminated_others_joined_at_exit)
{
    chan report = new_chan(), go = new_chan();
    pid_t app = fork();
    ck_assert_int_ge(app, 0);
    if (app == 0)
        exiting_application(report, go);
    pid_t pids[2];
    ck_assert_int_eq(read_full(report.rd, pids, sizeof pids), 0);
    ck_assert_int_eq(read_i32(report.rd), -1); /* it is exiting */
    /* The daemon is terminated and reaped by the exiting application... */
    ck_assert(process_gone(pids[0]));
    /* ...which now waits for the other child: nothing more is reported yet,
     * and the child still runs (it cannot end before the test says so). */
    struct pollfd pfd = {report.rd, POLLIN, 0};
    ck_assert_int_eq(poll(&pfd, 1, 0), 0);
    ck_assert(process_exists(pids[1]));
    ck_assert_int_eq(parent_of(pids[1]), app);
    release(go, 1);
    int codes[2];
    ck_assert_int_eq(read_full(report.rd, codes, sizeof codes), 0);
    ck_assert_int_eq(codes[0], -SIGTERM);
    ck_assert_int_eq(codes[1], 0);
    int status = reap(app);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    ck_assert(!process_exists(pids[1]));
    close_chan(report);
    close_chan(go);
}
END_TEST

/* A helper application that starts a daemon and a non-daemon child from its
 * main thread, reports their pids, and waits to be killed. */
static void __attribute__((noreturn)) doomed_application(chan report, chan go)
{
    cf_process *d, *w;
    CHILD_CHECK(cf_process_start_fn(&d, &(cf_process_options){.daemon = true}, fn_pause,
                                    NULL) == 0);
    CHILD_CHECK(cf_process_start_fn(&w, NULL, fn_wait, &go) == 0);
    int32_t pids[2] = {cf_process_pid(d), cf_process_pid(w)};
    write_all(report.wr, pids, sizeof pids);
    for (;;)
        pause();
}

START_TEST(process_daemon_dies_with_a_crashed_parent)
{
    /* Orphans come to this process, which reaps them and so sees them end. */
    ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    chan report = new_chan(), go = new_chan();
    pid_t app = fork();
    ck_assert_int_ge(app, 0);
    if (app == 0)
        doomed_application(report, go);
    pid_t pids[2];
    ck_assert_int_eq(read_full(report.rd, pids, sizeof pids), 0);
    ck_assert_int_eq(kill(app, SIGKILL), 0);
    int status = reap(app);
    ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    /* The daemon got SIGTERM from the kernel; the other child lives on. */
    status = reap(pids[0]);
    ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);
    ck_assert_int_eq(waitpid(pids[1], &status, WNOHANG), 0);
    ck_assert_int_eq(parent_of(pids[1]), getpid());
    release(go, 1);
    status = reap(pids[1]);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    close_chan(report);
    close_chan(go);
}
END_TEST

/* ---- Hygiene ------------------------------------------------------------------------------------- */

START_TEST(process_no_zombies_no_descriptors_left)
{
    chan go = new_chan();
    int fds_before = count_fds(), zombies = -1;
    ck_assert_int_eq(count_children_of(getpid(), &zombies), 0);
    cf_process *p[6];
    START_OK(cf_process_start(&p[0], NULL, square, 3), p[0]);
    START_OK(cf_process_start(&p[1], NULL, fail_with, 1), p[1]);
    START_OK(cf_process_start(&p[2], NULL, exit_with, 4), p[2]);
    START_OK(cf_process_start(&p[3], NULL, wait_for, go.rd), p[3]);
    START_OK(cf_process_start_fn(&p[4], NULL, fn_abort, NULL), p[4]);
    START_OK(cf_process_start_fn(&p[5], &(cf_process_options){.daemon = true}, fn_wait,
                                        &go), p[5]);
    ck_assert_int_eq(count_children_of(getpid(), NULL), 6);
    ck_assert_int_eq(cf_process_kill(p[3]), 0);
    join_ok(p[3]); /* dead before the byte that releases p[5] is written */
    release(go, 1);
    for (int i = 0; i < 6; i++)
        join_ok(p[i]);
    /* Joined: reaped, and their channels closed, before any free. */
    ck_assert_int_eq(count_children_of(getpid(), &zombies), 0);
    ck_assert_int_eq(zombies, 0);
    ck_assert_int_eq(count_fds(), fds_before);
    for (int i = 0; i < 6; i++)
        cf_process_free(p[i]);
    ck_assert_int_eq(count_fds(), fds_before);
    close_chan(go);
}
END_TEST

START_TEST(process_free_reaps)
{
    int fds_before = count_fds();
    chan go = new_chan();
    cf_process *p;
    /* Never joined: free waits for it and reaps it. */
    START_OK(cf_process_start(&p, NULL, square, 5), p);
    pid_t pid = cf_process_pid(p);
    cf_process_free(p);
    ck_assert(!process_exists(pid));
    /* Terminated but not joined: the same. */
    START_OK(cf_process_start_fn(&p, NULL, fn_wait, &go), p);
    pid = cf_process_pid(p);
    ck_assert_int_eq(cf_process_terminate(p), 0);
    cf_process_free(p);
    ck_assert(!process_exists(pid));
    ck_assert_int_eq(count_children(), 0);
    close_chan(go);
    ck_assert_int_eq(count_fds(), fds_before);
}
END_TEST

/* ---- Threads ---------------------------------------------------------------------------------------- */

enum { STARTERS = 4, PER_STARTER = 5 };

/* The sanitizers' runtimes (ThreadSanitizer before LLVM 19,
 * AddressSanitizer before LLVM 18) do not lock their own allocators across
 * fork(): a child forked while another thread is inside malloc can hang in
 * it (the C library's malloc and jemalloc lock theirs). Under a sanitizer
 * the threads below therefore fork only while no other thread can be
 * allocating: each start (with its checks) holds `forking`, which the test
 * also holds while it creates the threads, and no thread goes on to its
 * results (or exits) before all have started theirs. The forks still come
 * from several threads, in any order. */
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define FORK_UNSAFE_MALLOC 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
#define FORK_UNSAFE_MALLOC 1
#endif
#endif
#ifndef FORK_UNSAFE_MALLOC
#define FORK_UNSAFE_MALLOC 0
#endif

static pthread_mutex_t forking = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t all_started;

static void hold_forking(void)
{
    if (FORK_UNSAFE_MALLOC)
        pthread_mutex_lock(&forking);
}

static void let_go_forking(void)
{
    if (FORK_UNSAFE_MALLOC)
        pthread_mutex_unlock(&forking);
}

static void *start_several(void *arg)
{
    int base = (int)(intptr_t)arg;
    cf_process *p[PER_STARTER];
    for (int i = 0; i < PER_STARTER; i++) {
        hold_forking();
        START_OK(cf_process_start(&p[i], NULL, square, base + i), p[i]);
        let_go_forking();
    }
    if (FORK_UNSAFE_MALLOC)
        pthread_barrier_wait(&all_started);
    for (int i = 0; i < PER_STARTER; i++) {
        int32_t r = -1;
        ck_assert_int_eq(cf_process_result(p[i], &r, DEADLINE_S), 0);
        ck_assert_int_eq(r, (base + i) * (base + i));
        cf_process_free(p[i]);
    }
    return NULL;
}

START_TEST(process_started_from_many_threads)
{
    pthread_t t[STARTERS];
    ck_assert_int_eq(pthread_barrier_init(&all_started, NULL, STARTERS), 0);
    hold_forking();
    for (int i = 0; i < STARTERS; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, start_several, (void *)(intptr_t)(i * 100)),
                         0);
    let_go_forking();
    for (int i = 0; i < STARTERS; i++)
        ck_assert_int_eq(pthread_join(t[i], NULL), 0);
    pthread_barrier_destroy(&all_started);
    size_t n;
    ck_assert_int_eq(cf_process_active_children(NULL, 0, &n), 0);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(count_children(), 0);
}
END_TEST

/* ---- With a Pipe --------------------------------------------------------------------------------- */

START_TEST(process_pipe_handed_to_a_child)
{
    cf_pipe_end *rx, *tx;
    ck_assert_int_eq(cf_pipe_new(&rx, &tx, false), 0);
    cf_process *p;
    START_OK(cf_process_start(&p, NULL, sum_pipe, rx, tx), p);
    cf_pipe_close(rx); /* the child has its own copy */
    int64_t want = 0;
    for (int64_t i = 1; i <= 1000; i++) {
        ck_assert_int_eq(cf_pipe_send(tx, i, DEADLINE_S), 0);
        want += i;
    }
    cf_pipe_close(tx); /* end of file for the child */
    int64_t sum = 0;
    ck_assert_int_eq(cf_process_result(p, &sum, DEADLINE_S), 0);
    ck_assert_int_eq(sum, want);
    cf_process_free(p);
}
END_TEST

/* ---- Names ----------------------------------------------------------------------------------------- */

/* In a started child: start a grandchild and send its name and whether the
 * sibling's copied handle refuses to be joined here. */
typedef struct naming {
    cf_pipe_end *tx;
    cf_process *sibling;
} naming;

static void name_grandchild(void *arg)
{
    naming *n = arg;
    cf_process *g;
    if (cf_process_start(&g, NULL, square, 2) != 0)
        _exit(20);
    int32_t r = 0;
    if (cf_process_result(g, &r, DEADLINE_S) != 0 || r != 4)
        _exit(21);
    if (cf_pipe_send(n->tx, cf_process_name(g), DEADLINE_S) != 0)
        _exit(22);
    cf_process_free(g);
    int rc = cf_process_join(n->sibling, 0);
    bool alive = cf_process_is_alive(n->sibling);
    if (cf_pipe_send(n->tx, (int32_t)rc, DEADLINE_S) != 0 || alive)
        _exit(23);
    cf_process_free(n->sibling); /* only this process's copy */
}

START_TEST(process_names_and_options)
{
    cf_process *first, *named, *nested;
    START_OK(cf_process_start(&first, NULL, square, 1), first);
    ck_assert_str_eq(cf_process_name(first), "Process-1");
    ck_assert(!cf_process_is_daemon(first));
    cf_process_options opts = {.name = "worker-of-the-day", .daemon = true};
    START_OK(cf_process_start(&named, &opts, square, 2), named);
    opts.name = NULL; /* copied at start */
    ck_assert_str_eq(cf_process_name(named), "worker-of-the-day");
    ck_assert(cf_process_is_daemon(named));

    cf_pipe_end *rx, *tx;
    ck_assert_int_eq(cf_pipe_new(&rx, &tx, false), 0);
    naming n = {tx, first};
    START_OK(cf_process_start_fn(&nested, NULL, name_grandchild, &n), nested);
    ck_assert_str_eq(cf_process_name(nested), "Process-3");
    cf_pipe_close(tx);
    const char *s;
    ck_assert_int_eq(cf_pipe_recv(rx, &s, DEADLINE_S), 0);
    ck_assert_str_eq(s, "Process-3:1");
    int32_t rc = 0;
    ck_assert_int_eq(cf_pipe_recv(rx, &rc, DEADLINE_S), 0);
    ck_assert_int_eq(rc, CF_ESTATE);
    ck_assert_int_eq(exitcode_of(nested), 0);
    cf_pipe_close(rx);
    cf_process_free(nested);
    cf_process_free(named);
    cf_process_free(first);
}
END_TEST

/* ---- The child's signals, and stdio ------------------------------------------------------------------- */

static void on_usr1(int sig)
{
    (void)sig;
}

START_TEST(process_child_signal_dispositions)
{
    struct sigaction sa = {.sa_handler = on_usr1}, before;
    sigemptyset(&sa.sa_mask);
    ck_assert_int_eq(sigaction(SIGUSR1, &sa, NULL), 0);
    ck_assert_int_eq(sigaction(SIGINT, NULL, &before), 0);
    sigset_t blocked, saved;
    sigemptyset(&blocked);
    sigaddset(&blocked, SIGUSR2);
    ck_assert_int_eq(pthread_sigmask(SIG_BLOCK, &blocked, &saved), 0);
    handshake h = {new_chan(), new_chan()};
    cf_process *p;
    START_OK(cf_process_start_fn(&p, NULL, fn_report_signals, &h), p);
    /* SIGINT and SIGPIPE ignored, the parent's SIGUSR1 handler gone, SIGTERM
     * as default, SIGUSR2 no longer blocked. */
    ck_assert_int_eq(read_i32(h.started.rd), 1 | 2 | 4 | 8 | 16);
    /* A Ctrl-C to the group does not end it; the parent decides. */
    ck_assert_int_eq(kill(cf_process_pid(p), SIGINT), 0);
    ck_assert(cf_process_is_alive(p));
    release(h.go, 1);
    ck_assert_int_eq(exitcode_of(p), 0);
    /* The parent's own dispositions and mask are as they were. */
    struct sigaction after;
    ck_assert_int_eq(sigaction(SIGINT, NULL, &after), 0);
    ck_assert_ptr_eq((void *)after.sa_handler, (void *)before.sa_handler);
    ck_assert_int_eq(sigaction(SIGUSR1, NULL, &after), 0);
    ck_assert_ptr_eq((void *)after.sa_handler, (void *)on_usr1);
    sigset_t mine;
    ck_assert_int_eq(pthread_sigmask(SIG_SETMASK, &saved, &mine), 0);
    ck_assert(sigismember(&mine, SIGUSR2));
    cf_process_free(p);
    close_chan(h.started);
    close_chan(h.go);
}
END_TEST

static FILE *shared_file;

static void write_child_line(void *arg)
{
    (void)arg;
    fputs("child\n", shared_file); /* buffered: flushed when the child ends */
}

START_TEST(process_stdio_flushed_once)
{
    shared_file = tmpfile();
    ck_assert_ptr_nonnull(shared_file);
    fputs("parent before\n", shared_file); /* buffered at the fork */
    cf_process *p;
    START_OK(cf_process_start_fn(&p, NULL, write_child_line, NULL), p);
    ck_assert_int_eq(exitcode_of(p), 0);
    fputs("parent after\n", shared_file);
    ck_assert_int_eq(fflush(shared_file), 0);
    rewind(shared_file);
    char text[128] = {0};
    size_t n = fread(text, 1, sizeof text - 1, shared_file);
    text[n] = '\0';
    ck_assert_str_eq(text, "parent before\nchild\nparent after\n");
    fclose(shared_file);
    cf_process_free(p);
}
END_TEST

/* ---- Invalid uses ---------------------------------------------------------------------------------- */

START_TEST(process_invalid_uses)
{
    cf_process *p = (cf_process *)&p; /* must be reset to NULL on failure */
    ck_assert_int_eq(cf_process_start_fn(&p, NULL, NULL, NULL), CF_EINVAL);
    ck_assert_ptr_null(p);
    ck_assert_int_eq(cf_process_start_fn(NULL, NULL, fn_return, NULL), CF_EINVAL);
    ck_assert_int_eq(cf_process_start((cf_process **)NULL, NULL, square, 1), CF_EINVAL);
    p = (cf_process *)&p;
    ck_assert_int_eq(cf_process_start(&p, NULL, leak_pointer), CF_EUNSUPPORTED);
    ck_assert_ptr_null(p);
    ck_assert_msg(strstr(cf_last_error(), "raw pointer") != NULL, "%s", cf_last_error());

    ck_assert_int_eq(cf_process_join(NULL, 0), CF_EINVAL);
    ck_assert(!cf_process_is_alive(NULL));
    int code;
    ck_assert_int_eq(cf_process_exitcode(NULL, &code), CF_EINVAL);
    ck_assert_int_eq(cf_process_terminate(NULL), CF_EINVAL);
    ck_assert_int_eq(cf_process_kill(NULL), CF_EINVAL);
    ck_assert_int_eq(cf_process_pid(NULL), 0);
    ck_assert_str_eq(cf_process_name(NULL), "");
    ck_assert_ptr_null(cf_process_error(NULL));
    cf_process_free(NULL);

    START_OK(cf_process_start(&p, NULL, square, 6), p);
    ck_assert_int_eq(cf_process_join(p, NAN), CF_EINVAL);
    ck_assert_int_eq(cf_process_exitcode(p, NULL), CF_EINVAL);
    ck_assert_int_eq(cf_process_result(p, (int32_t *)NULL, NAN), CF_EINVAL);
    ck_assert_int_eq(exitcode_of(p), 0);
    cf_process_free(p);

    /* With SIGCHLD ignored the kernel would reap the children: refused. */
    signal(SIGCHLD, SIG_IGN);
    ck_assert_int_eq(cf_process_start(&p, NULL, square, 1), CF_ESTATE);
    ck_assert_ptr_null(p);
    signal(SIGCHLD, SIG_DFL);
    ck_assert_int_eq(count_children(), 0);
}
END_TEST

static Suite *process_suite(void)
{
    Suite *s = suite_create("process");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, check_leaks_in_this_process_only, NULL);
    tcase_add_test(tc, process_task_results_come_back);
    tcase_add_test(tc, process_large_result);
    tcase_add_test(tc, process_join_with_timeout);
    tcase_add_test(tc, process_join_from_several_threads);
    tcase_add_test(tc, process_exit_codes_of_tasks);
    tcase_add_test(tc, process_exit_codes_of_functions);
    tcase_add_test(tc, process_active_children_listed);
    tcase_add_test(tc, process_daemons_terminated_others_joined_at_exit);
    tcase_add_test(tc, process_daemon_dies_with_a_crashed_parent);
    tcase_add_test(tc, process_no_zombies_no_descriptors_left);
    tcase_add_test(tc, process_free_reaps);
    /* Under valgrind, a child forked while other threads run reports at its
     * exit the blocks only those threads pointed to (their descriptors, the
     * starts they have in flight) as lost: memory it inherited and can never
     * reach. The sanitizer builds run this test. */
    if (!RUNNING_ON_VALGRIND)
        tcase_add_test(tc, process_started_from_many_threads);
    tcase_add_test(tc, process_pipe_handed_to_a_child);
    tcase_add_test(tc, process_names_and_options);
    tcase_add_test(tc, process_child_signal_dispositions);
    tcase_add_test(tc, process_stdio_flushed_once);
    tcase_add_test(tc, process_invalid_uses);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(process_suite());
}
