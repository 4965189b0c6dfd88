/* bench_process.c: the cfutures process pool against Python's
 * ProcessPoolExecutor, the raw cost of a round trip between two processes,
 * and the thread pool on the same workloads.
 *
 * Design notes: three tables, each figure the median of R runs after one
 * warm-up run; within a run the contenders take turns going first and the
 * ratios are taken within each run:
 *   tiny-task throughput  N tasks of add(int, int) submitted, then every
 *                         result taken (futures included), on a process
 *                         pool of T workers and, in the same runs, on a
 *                         thread pool of T workers;
 *   serial round trip     submit one task, wait for its result, repeat; on
 *                         both pools, plus the floor: a 16-byte message
 *                         echoed over a socketpair by a child process,
 *                         blocking reads and writes;
 *   threads vs processes  the two pools' figures from the runs above, side
 *                         by side (the thread pool's own tables are in the
 *                         threads section).
 * Pools are created once per table, so the measured runs see started
 * workers. Python runs first, alone, as python3 bench/peers/python_pool.py:
 * its own warm-up run and R measured runs of both workloads, with smaller
 * counts (it is about 100 times slower), printed as one JSON line; its i-th
 * run is paired with cfutures' i-th run for the ratio. It runs in a process
 * group of its own, killed whole (its workers too) after PYTHON_TIME_LIMIT_NS;
 * when python3 is missing, fails or runs out of time, its figures are
 * skipped with the reason. The echo child is this program re-executed
 * (`cf-bench --child process echo 16`, the socket as its stdin), so it
 * starts clean rather than as a copy of a process full of threads; it is
 * stopped with shutdown(SHUT_WR), which reaches it even though the pools'
 * processes, forked after it started, hold copies of our end. Every result
 * is checked: a wrong result or a failed call ends the program.
 */
#include "config.h"

#include <cfutures.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "bench_cf.h"
#include "bench_stats.h"

#ifndef CF_BENCH_PEERS_DIR
#error "CF_BENCH_PEERS_DIR (where bench/peers/python_pool.py is) must be defined"
#endif

#define PYTHON_SCRIPT CF_BENCH_PEERS_DIR "/python_pool.py"
#define PYTHON_TIME_LIMIT_NS (120 * (int64_t)1000000000)
/* What is kept of each of Python's output streams. */
#define PYTHON_OUTPUT_LIMIT (1u << 20)

/* ---- The task and the cfutures workloads ----------------------------------- */

static cf_executor *new_process_pool(unsigned workers)
{
    cf_executor *ex;
    int rc = cf_process_pool_new(&ex, &(cf_process_pool_options){.max_workers = workers});
    if (rc != 0)
        cf__bench_cf_failed("cf_process_pool_new", rc);
    return ex;
}

static cf_executor *new_thread_pool(unsigned workers)
{
    cf_executor *ex;
    int rc = cf_thread_pool_new(&ex, &(cf_thread_pool_options){.max_workers = workers,
                                                                .thread_name_prefix = "bench"});
    if (rc != 0)
        cf__bench_cf_failed("cf_thread_pool_new", rc);
    return ex;
}

/* ---- The floor: a child process echoes 16-byte messages ---------------------- */

#define ECHO_SIZE 16

typedef struct echo {
    int fd; /* our end of the socketpair */
    pid_t pid;
} echo;

/* Transfer exactly `len` bytes (blocking). Returns false at end of file or
 * on an error. */
static bool read_full(int fd, void *buf, size_t len)
{
    char *p = buf;
    while (len > 0) {
        ssize_t got = read(fd, p, len);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return false;
        p += got;
        len -= (size_t)got;
    }
    return true;
}

static bool write_full(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t put = send(fd, p, len, MSG_NOSIGNAL);
        if (put < 0 && errno == EINTR)
            continue;
        if (put < 0)
            return false;
        p += put;
        len -= (size_t)put;
    }
    return true;
}

/* In the child (`cf-bench --child process echo <size>`): send every
 * message of `size` bytes that arrives on stdin back the same way, until
 * the other end shuts down. */
static int echo_serve(size_t size)
{
    char *msg = cf__bench_xcalloc(size, 1);
    bool answered = true;
    while (answered && read_full(STDIN_FILENO, msg, size))
        answered = write_full(STDIN_FILENO, msg, size);
    free(msg);
    return answered ? 0 : 1;
}

static void echo_start(const cf__bench_options *o, echo *e)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        cf__bench_die("socketpair: %s", strerror(errno));
    posix_spawn_file_actions_t actions;
    int rc = posix_spawn_file_actions_init(&actions);
    if (rc == 0)
        rc = posix_spawn_file_actions_adddup2(&actions, sv[1], STDIN_FILENO);
    if (rc != 0)
        cf__bench_die("posix_spawn_file_actions: %s", strerror(rc));
    char size[32];
    snprintf(size, sizeof size, "%d", ECHO_SIZE);
    char *argv[] = {(char *)o->self, "--child", "process", "echo", size, NULL};
    pid_t pid;
    rc = posix_spawn(&pid, o->self, &actions, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    close(sv[1]);
    if (rc != 0)
        cf__bench_die("cannot run %s: %s", o->self, strerror(rc));
    *e = (echo){.fd = sv[0], .pid = pid};
}

/* One round trip: send the message numbered i, check what comes back. */
static void echo_one(void *ctx, size_t i)
{
    const echo *e = ctx;
    uint64_t msg[ECHO_SIZE / sizeof(uint64_t)] = {i, ~(uint64_t)i};
    uint64_t back[ECHO_SIZE / sizeof(uint64_t)];
    if (!write_full(e->fd, msg, sizeof msg) || !read_full(e->fd, back, sizeof back))
        cf__bench_die("echo round trip %zu: the echo process stopped answering", i);
    if (memcmp(msg, back, sizeof msg) != 0)
        cf__bench_die("echo round trip %zu: a different message came back", i);
}

static void echo_stop(echo *e)
{
    if (shutdown(e->fd, SHUT_WR) != 0)
        cf__bench_die("shutdown: %s", strerror(errno));
    int status;
    while (waitpid(e->pid, &status, 0) < 0)
        if (errno != EINTR)
            cf__bench_die("waitpid: %s", strerror(errno));
    close(e->fd);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        cf__bench_die("the echo process failed (wait status %#x)", (unsigned)status);
}

/* ---- Python's ProcessPoolExecutor (bench/peers/python_pool.py) ------------------ */

typedef struct python_figures {
    char *skipped; /* why Python's figures are missing, or NULL */
    char version[32];
    char executable[256];
    char start_method[32];
    size_t tasks;      /* per tiny run */
    size_t roundtrips; /* per round-trip run */
    cf__bench_series tiny_ns;      /* elapsed ns of each measured tiny run */
    cf__bench_series roundtrip_ns; /* elapsed ns of each measured round-trip run */
} python_figures;

/* Python's share of a count: n / divisor, at least `least` (or n when n is
 * smaller), at most `most`, so that its runs take a bounded time. */
static size_t python_count(size_t n, size_t divisor, size_t least, size_t most)
{
    size_t c = n / divisor;
    if (c < least)
        c = least < n ? least : n;
    return c < most ? c : most;
}

/* Bytes read from one of Python's output streams; beyond
 * PYTHON_OUTPUT_LIMIT, the rest is dropped. */
typedef struct capture {
    char *data; /* NUL-terminated */
    size_t len;
} capture;

static void capture_add(capture *c, const char *bytes, size_t n)
{
    if (c->data == NULL)
        c->data = cf__bench_xcalloc(PYTHON_OUTPUT_LIMIT + 1, 1);
    if (n > PYTHON_OUTPUT_LIMIT - c->len)
        n = PYTHON_OUTPUT_LIMIT - c->len;
    memcpy(c->data + c->len, bytes, n);
    c->len += n;
}

/* Read fds[0] into out[0] and fds[1] into out[1] until both end. Returns
 * false when the deadline passed first. */
static bool capture_until_eof(const int fds[2], capture out[2], int64_t deadline)
{
    struct pollfd pfd[2] = {{.fd = fds[0], .events = POLLIN}, {.fd = fds[1], .events = POLLIN}};
    int open = 2;
    while (open > 0) {
        int64_t left = deadline - cf__bench_now_ns();
        if (left <= 0)
            return false;
        int n = poll(pfd, 2, (int)(left / 1000000 + 1));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            cf__bench_die("poll: %s", strerror(errno));
        for (int i = 0; i < 2; i++) {
            if (pfd[i].fd < 0 || pfd[i].revents == 0)
                continue;
            char chunk[4096];
            ssize_t got = read(pfd[i].fd, chunk, sizeof chunk);
            if (got < 0 && errno == EINTR)
                continue;
            if (got > 0) {
                capture_add(&out[i], chunk, (size_t)got);
            } else {
                pfd[i].fd = -1; /* end of file, or a broken pipe: done */
                open--;
            }
        }
    }
    return true;
}

/* The last non-empty line of text, at most 200 characters of it. */
static char *last_line(const char *text)
{
    const char *end = text + strlen(text);
    while (end > text && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' '))
        end--;
    const char *start = end;
    while (start > text && start[-1] != '\n')
        start--;
    int len = end - start > 200 ? 200 : (int)(end - start);
    return cf__bench_xasprintf("%.*s", len, start);
}

/* Where "key": starts its value in the JSON object `line`, or NULL. */
static const char *json_value(const char *line, const char *key)
{
    char quoted[64];
    snprintf(quoted, sizeof quoted, "\"%s\"", key);
    const char *p = strstr(line, quoted);
    if (p == NULL)
        return NULL;
    p += strlen(quoted);
    p += strspn(p, " \t");
    if (*p != ':')
        return NULL;
    p++;
    return p + strspn(p, " \t");
}

/* The string value of `key` into buf. */
static bool json_string(const char *line, const char *key, char *buf, size_t size)
{
    const char *p = json_value(line, key);
    if (p == NULL || *p != '"')
        return false;
    const char *end = strchr(p + 1, '"');
    if (end == NULL)
        return false;
    snprintf(buf, size, "%.*s", (int)(end - p - 1), p + 1);
    return true;
}

/* The array of `want` positive numbers of `key` into s. */
static bool json_numbers(const char *line, const char *key, size_t want, cf__bench_series *s)
{
    const char *p = json_value(line, key);
    if (p == NULL || *p != '[')
        return false;
    p++;
    for (size_t i = 0; i < want; i++) {
        char *end;
        double v = strtod(p, &end);
        if (end == p || !(v > 0))
            return false;
        cf__bench_series_add(s, v);
        p = end + strspn(end, " \t");
        if (*p != (i + 1 < want ? ',' : ']'))
            return false;
        p++;
    }
    return true;
}

/* Read Python's JSON line into py; on a malformed line, say why in py->skipped. */
static void python_parse(const char *out, python_figures *py, unsigned runs)
{
    if (json_string(out, "python", py->version, sizeof py->version) &&
        json_string(out, "executable", py->executable, sizeof py->executable) &&
        json_string(out, "start_method", py->start_method, sizeof py->start_method) &&
        json_numbers(out, "tiny_ns", runs, &py->tiny_ns) &&
        json_numbers(out, "roundtrip_ns", runs, &py->roundtrip_ns))
        return;
    char *line = last_line(out);
    py->skipped = cf__bench_xasprintf("unexpected output from %s: '%s'", PYTHON_SCRIPT, line);
    free(line);
}

/* Run python_pool.py and fill py with its samples, or py->skipped with why
 * there are none. */
static void python_measure(const cf__bench_options *o, python_figures *py)
{
    *py = (python_figures){
        .tasks = python_count(o->tasks, 100, 1000, 10000),
        .roundtrips = python_count(o->roundtrips, 10, 200, 2000),
    };
    if (access(PYTHON_SCRIPT, R_OK) != 0) {
        py->skipped = cf__bench_xasprintf("cannot read %s: %s", PYTHON_SCRIPT, strerror(errno));
        return;
    }
    cf__bench_progress("process: Python ProcessPoolExecutor: %zu tasks and %zu round trips, "
                       "1 warm-up run and %u measured runs",
                       py->tasks, py->roundtrips, o->runs);
    char workers[32], tasks[32], roundtrips[32], runs[32];
    snprintf(workers, sizeof workers, "%u", o->threads);
    snprintf(tasks, sizeof tasks, "%zu", py->tasks);
    snprintf(roundtrips, sizeof roundtrips, "%zu", py->roundtrips);
    snprintf(runs, sizeof runs, "%u", o->runs);
    char *argv[] = {"python3",      PYTHON_SCRIPT, "--workers", workers, "--tasks", tasks,
                    "--roundtrips", roundtrips,    "--runs",    runs,    NULL};

    int out[2], err[2];
    if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0)
        cf__bench_die("pipe2: %s", strerror(errno));
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    int rc = posix_spawn_file_actions_init(&actions);
    if (rc == 0)
        rc = posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
    if (rc == 0)
        rc = posix_spawn_file_actions_adddup2(&actions, err[1], STDERR_FILENO);
    if (rc == 0)
        rc = posix_spawnattr_init(&attr);
    /* A process group of its own, so that a kill reaches its workers too. */
    if (rc == 0)
        rc = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    if (rc == 0)
        rc = posix_spawnattr_setpgroup(&attr, 0);
    if (rc != 0)
        cf__bench_die("posix_spawn setup: %s", strerror(rc));
    pid_t pid;
    rc = posix_spawnp(&pid, "python3", &actions, &attr, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    close(out[1]);
    close(err[1]);
    if (rc != 0) {
        close(out[0]);
        close(err[0]);
        py->skipped = rc == ENOENT ? cf__bench_xstrdup("python3 was not found in PATH")
                                   : cf__bench_xasprintf("cannot run python3: %s", strerror(rc));
        return;
    }

    int fds[2] = {out[0], err[0]};
    capture got[2] = {{0}, {0}};
    bool finished = capture_until_eof(fds, got, cf__bench_now_ns() + PYTHON_TIME_LIMIT_NS);
    if (!finished)
        kill(-pid, SIGKILL);
    close(out[0]);
    close(err[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            cf__bench_die("waitpid: %s", strerror(errno));
    /* Whatever Python said on stderr (warnings, a traceback) is the reader's. */
    if (got[1].len > 0)
        fwrite(got[1].data, 1, got[1].len, stderr);

    if (!finished) {
        py->skipped = cf__bench_xasprintf("python3 %s did not finish within %.0f s and was "
                                          "killed",
                                          PYTHON_SCRIPT, PYTHON_TIME_LIMIT_NS * 1e-9);
    } else if (WIFSIGNALED(status)) {
        py->skipped = cf__bench_xasprintf("python3 was killed by signal %d", WTERMSIG(status));
    } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        char *line = last_line(got[1].data ? got[1].data : "");
        py->skipped = cf__bench_xasprintf("python3 %s failed (exit status %d): %s",
                                          PYTHON_SCRIPT, WEXITSTATUS(status), line);
        free(line);
    } else {
        python_parse(got[0].data ? got[0].data : "", py, o->runs);
    }
    if (py->skipped)
        cf__bench_progress("process: Python skipped: %s", py->skipped);
    free(got[0].data);
    free(got[1].data);
}

static void python_free(python_figures *py)
{
    free(py->skipped);
    cf__bench_series_free(&py->tiny_ns);
    cf__bench_series_free(&py->roundtrip_ns);
}

/* ---- Tables ---------------------------------------------------------------- */


/* The two pools' figures from the runs of the first two tables, for the
 * third. */
typedef struct versus {
    cf__bench_series process_per_s, threads_per_s, per_s_ratio;
    cf__bench_series process_us, threads_us, us_ratio;
} versus;

static void tiny_table(const cf__bench_options *o, cf__bench_report *rep,
                       const python_figures *py, versus *vs)
{
    cf_executor *pp = new_process_pool(o->threads);
    cf_executor *tp = new_thread_pool(o->threads);
    cf_future **fs = cf__bench_xcalloc(o->tasks, sizeof *fs);
    cf__bench_series cf_ns = {0}, python_per_s = {0}, python_ns = {0}, ratio = {0};
    for (unsigned run = 0; run <= o->runs; run++) {
        cf__bench_progress_run("process", "tiny-task throughput", run, o->runs);
        int64_t process_wall, threads_wall;
        if (run % 2 == 0) {
            process_wall = cf__bench_cf_tiny(pp, o->tasks, fs).wall_ns;
            threads_wall = cf__bench_cf_tiny(tp, o->tasks, fs).wall_ns;
        } else {
            threads_wall = cf__bench_cf_tiny(tp, o->tasks, fs).wall_ns;
            process_wall = cf__bench_cf_tiny(pp, o->tasks, fs).wall_ns;
        }
        if (run == 0)
            continue;
        double n = (double)o->tasks;
        double process_per_s = n / ((double)process_wall * 1e-9);
        double threads_per_s = n / ((double)threads_wall * 1e-9);
        cf__bench_series_add(&cf_ns, (double)process_wall / n);
        cf__bench_series_add(&vs->process_per_s, process_per_s);
        cf__bench_series_add(&vs->threads_per_s, threads_per_s);
        cf__bench_series_add(&vs->per_s_ratio, threads_per_s / process_per_s);
        if (!py->skipped) {
            double wall = py->tiny_ns.samples[run - 1];
            double python_per_s_run = (double)py->tasks / (wall * 1e-9);
            cf__bench_series_add(&python_per_s, python_per_s_run);
            cf__bench_series_add(&python_ns, wall / (double)py->tasks);
            cf__bench_series_add(&ratio, process_per_s / python_per_s_run);
        }
    }

    char *title = cf__bench_xasprintf("Process pool, tiny-task throughput: %zu tasks of "
                                      "add(int, int), submitted then every result taken",
                                      o->tasks);
    cf__bench_table *t = cf__bench_table_add(rep, "process.tiny", title);
    free(title);
    char *cf_label = cf__bench_xasprintf("cfutures process pool, %u worker%s", o->threads,
                                         cf__bench_plural(o->threads));
    char *py_label = cf__bench_xasprintf("Python ProcessPoolExecutor, %u worker%s, %zu tasks",
                                         o->threads, cf__bench_plural(o->threads), py->tasks);
    cf__bench_table_figure(t, "cf.per_s", cf_label, "tasks/s", &vs->process_per_s, cf__bench_no_target);
    cf__bench_table_figure(t, "cf.wall", cf_label, "ns/task", &cf_ns, cf__bench_no_target);
    if (!py->skipped) {
        cf__bench_table_figure(t, "python.per_s", py_label, "tasks/s", &python_per_s, cf__bench_no_target);
        cf__bench_table_figure(t, "python.wall", py_label, "ns/task", &python_ns, cf__bench_no_target);
        cf__bench_table_figure(t, "ratio.cf_over_python", "cfutures / Python (tasks/s)", "x",
                               &ratio, (cf__bench_target){CF__BENCH_AT_LEAST, 200});
    } else {
        cf__bench_table_skipped(t, "python", py_label, py->skipped);
        cf__bench_table_skipped(t, "ratio.cf_over_python", "cfutures / Python (tasks/s)",
                                "Python was not measured");
    }
    cf__bench_table_note(t, "cfutures: cf_submit for each task, then cf_future_result and "
                            "cf_future_release for each future; arguments and results travel "
                            "serialized over each worker's socketpair.");
    if (!py->skipped) {
        cf__bench_table_note(t, "Python %s (%s, start method %s): ProcessPoolExecutor("
                                "max_workers=%u), executor.submit for each task, then .result() "
                                "for each future; %zu tasks per run, as it is about 100 times "
                                "slower.",
                             py->version, py->executable, py->start_method, o->threads,
                             py->tasks);
        cf__bench_table_note(t, "Python runs first, in its own process (bench/peers/"
                                "python_pool.py, its own warm-up run); the ratio pairs its i-th "
                                "run with cfutures' i-th run.");
    }
    free(cf_label);
    free(py_label);
    cf__bench_series_free(&cf_ns);
    cf__bench_series_free(&python_per_s);
    cf__bench_series_free(&python_ns);
    cf__bench_series_free(&ratio);
    free(fs);
    cf_executor_free(tp);
    cf_executor_free(pp);
}

static void roundtrip_table(const cf__bench_options *o, cf__bench_report *rep,
                            const python_figures *py, versus *vs)
{
    size_t m = o->roundtrips;
    echo e;
    echo_start(o, &e);
    cf_executor *pp = new_process_pool(o->threads);
    cf_executor *tp = new_thread_pool(o->threads);
    cf__bench_series floor_us = {0}, python_us = {0}, floor_ratio = {0}, python_ratio = {0};
    for (unsigned run = 0; run <= o->runs; run++) {
        cf__bench_progress_run("process", "serial round trip", run, o->runs);
        cf__bench_cost process, floor, threads;
        if (run % 2 == 0) {
            process = cf__bench_serial(m, 0, cf__bench_cf_roundtrip, pp);
            floor = cf__bench_serial(m, 0, echo_one, &e);
            threads = cf__bench_serial(m, 0, cf__bench_cf_roundtrip, tp);
        } else {
            threads = cf__bench_serial(m, 0, cf__bench_cf_roundtrip, tp);
            floor = cf__bench_serial(m, 0, echo_one, &e);
            process = cf__bench_serial(m, 0, cf__bench_cf_roundtrip, pp);
        }
        if (run == 0)
            continue;
        double process_us = (double)process.wall_ns / (double)m * 1e-3;
        double floor_us_run = (double)floor.wall_ns / (double)m * 1e-3;
        double threads_us = (double)threads.wall_ns / (double)m * 1e-3;
        cf__bench_series_add(&vs->process_us, process_us);
        cf__bench_series_add(&vs->threads_us, threads_us);
        cf__bench_series_add(&vs->us_ratio, process_us / threads_us);
        cf__bench_series_add(&floor_us, floor_us_run);
        cf__bench_series_add(&floor_ratio, process_us / floor_us_run);
        if (!py->skipped) {
            double python_us_run =
                py->roundtrip_ns.samples[run - 1] / (double)py->roundtrips * 1e-3;
            cf__bench_series_add(&python_us, python_us_run);
            cf__bench_series_add(&python_ratio, python_us_run / process_us);
        }
    }

    char *title = cf__bench_xasprintf("Process pool, serial round trip: submit one task, wait "
                                      "for its result, %zu times",
                                      m);
    cf__bench_table *t = cf__bench_table_add(rep, "process.roundtrip", title);
    free(title);
    char *cf_label = cf__bench_xasprintf("cfutures process pool, %u worker%s", o->threads,
                                         cf__bench_plural(o->threads));
    char *py_label = cf__bench_xasprintf("Python ProcessPoolExecutor, %u worker%s, %zu times",
                                         o->threads, cf__bench_plural(o->threads), py->roundtrips);
    cf__bench_table_figure(t, "cf.wall", cf_label, "us", &vs->process_us, cf__bench_no_target);
    if (!py->skipped)
        cf__bench_table_figure(t, "python.wall", py_label, "us", &python_us, cf__bench_no_target);
    else
        cf__bench_table_skipped(t, "python", py_label, py->skipped);
    cf__bench_table_figure(t, "floor.wall", "floor: socketpair ping-pong, two processes", "us",
                           &floor_us, cf__bench_no_target);
    cf__bench_table_figure(t, "ratio.cf_over_floor", "cfutures / floor (us)", "x", &floor_ratio,
                           (cf__bench_target){CF__BENCH_AT_MOST, 2});
    if (!py->skipped)
        cf__bench_table_figure(t, "ratio.python_over_cf", "Python / cfutures (us)", "x",
                               &python_ratio, cf__bench_no_target);
    cf__bench_table_note(t, "us: elapsed microseconds per round trip. cfutures: cf_submit, "
                            "cf_future_result, cf_future_release; the call goes from the caller "
                            "to the pool's dispatcher thread, to a worker process and back.");
    cf__bench_table_note(t, "floor: a %d-byte message written to a socketpair and echoed back "
                            "by a child process, blocking read and write on both sides: two "
                            "wake-ups per round trip, no pool, no serialization.",
                         ECHO_SIZE);
    cf__bench_table_note(t, "Both figures depend on where the scheduler puts the processes: a "
                            "wake-up on the same CPU is a context switch, one on another CPU "
                            "also an inter-processor interrupt (dear on a virtual machine). "
                            "Compare them within a run.");
    if (!py->skipped)
        cf__bench_table_note(t, "Python: executor.submit(...).result(), %zu times per run, in "
                                "the runs described above; the Python ratio pairs i-th runs.",
                             py->roundtrips);
    free(cf_label);
    free(py_label);
    cf__bench_series_free(&floor_us);
    cf__bench_series_free(&python_us);
    cf__bench_series_free(&floor_ratio);
    cf__bench_series_free(&python_ratio);
    cf_executor_free(tp);
    cf_executor_free(pp);
    echo_stop(&e);
}

static void versus_table(const cf__bench_options *o, cf__bench_report *rep, const versus *vs)
{
    char *title = cf__bench_xasprintf("Threads vs processes: cfutures' two pools, %u worker%s "
                                      "each, in the same runs",
                                      o->threads, cf__bench_plural(o->threads));
    cf__bench_table *t = cf__bench_table_add(rep, "process.vs_threads", title);
    free(title);
    cf__bench_table_figure(t, "process.per_s", "process pool: tiny-task throughput", "tasks/s",
                           &vs->process_per_s, cf__bench_no_target);
    cf__bench_table_figure(t, "threads.per_s", "thread pool: tiny-task throughput", "tasks/s",
                           &vs->threads_per_s, cf__bench_no_target);
    cf__bench_table_figure(t, "ratio.threads_over_process", "thread pool / process pool (tasks/s)",
                           "x", &vs->per_s_ratio, cf__bench_no_target);
    cf__bench_table_figure(t, "process.roundtrip", "process pool: serial round trip", "us",
                           &vs->process_us, cf__bench_no_target);
    cf__bench_table_figure(t, "threads.roundtrip", "thread pool: serial round trip", "us",
                           &vs->threads_us, cf__bench_no_target);
    cf__bench_table_figure(t, "ratio.process_over_threads", "process pool / thread pool (us)",
                           "x", &vs->us_ratio, cf__bench_no_target);
    cf__bench_table_note(t, "Measured in the runs of the two tables above, the pools taking "
                            "turns; the ratios are taken within each run. The thread pool's "
                            "own tables are in the threads section.");
}

static void process_run(const cf__bench_options *o, cf__bench_report *rep)
{
    python_figures py;
    python_measure(o, &py);
    versus vs = {0};
    tiny_table(o, rep, &py, &vs);
    roundtrip_table(o, rep, &py, &vs);
    versus_table(o, rep, &vs);
    cf__bench_series_free(&vs.process_per_s);
    cf__bench_series_free(&vs.threads_per_s);
    cf__bench_series_free(&vs.per_s_ratio);
    cf__bench_series_free(&vs.process_us);
    cf__bench_series_free(&vs.threads_us);
    cf__bench_series_free(&vs.us_ratio);
    python_free(&py);
}

static int process_child(const char *argument, size_t count)
{
    if (strcmp(argument, "echo") != 0)
        cf__bench_die("unknown measurement '%s'", argument);
    return echo_serve(count);
}

const cf__bench_section cf__bench_process_section = {
    .name = "process",
    .run = process_run,
    .child = process_child,
};
