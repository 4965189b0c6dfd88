/* bench_process.c: the cfutures process pool against Python's pools, the
 * raw cost of a round trip between two processes, and the thread pool on the
 * same workloads.
 *
 * Design notes: five tables, each figure the median of R runs after one
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
 *                         threads section);
 *   Python's pools        ThreadPoolExecutor and multiprocessing.Pool on the
 *                         same two workloads, beside cfutures' pools;
 *   pending memory        RSS growth per future queued behind the one
 *                         worker of a process pool, blocked on a gate in
 *                         shared memory; each run a fresh process.
 * Pools are created once per table, so the measured runs see started
 * workers. Python runs first, alone, as python3 bench/peers/python_pool.py
 * (bench_python.c): its own warm-up run and R measured runs of both
 * workloads on each of its three pools, with smaller counts (it is about
 * 100 times slower), printed as one JSON line; its i-th run is paired with
 * cfutures' i-th run for the ratios. When python3 is missing, fails or runs
 * out of time, its figures are skipped with the reason. The echo child is
 * this program re-executed (`cf-bench --child process echo 16`, the socket
 * as its stdin), so it starts clean rather than as a copy of a process full
 * of threads; it is stopped with shutdown(SHUT_WR), which reaches it even
 * though the pools' processes, forked after it started, hold copies of our
 * end. Every result is checked: a wrong result or a failed call ends the
 * program.
 */
#include "config.h"

#include <cfutures.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "bench_cf.h"
#include "bench_python.h"
#include "bench_stats.h"

#define PYTHON_SCRIPT "python_pool.py"
#define PYTHON_TIME_LIMIT_NS (180 * (int64_t)1000000000)

/* ---- The task and the cfutures workloads ----------------------------------- */

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

/* ---- Memory per pending future ------------------------------------------------ */

/* A gate in shared memory, allocated before the pool so that its worker
 * processes share it: the gate task marks `started`, then waits for `open`. */
typedef struct shared_gate {
    atomic_int started;
    atomic_int open;
} shared_gate;

static shared_gate *the_gate;

static int hold_shared_gate(void)
{
    atomic_store(&the_gate->started, 1);
    while (!atomic_load(&the_gate->open))
        cf__bench_sleep_ns(100000);
    return 0;
}
CF_TASK(int, hold_shared_gate);

/* In a fresh process (`cf-bench --child process pending <n>`): with the
 * only worker of a process pool held on the gate, submit n tiny tasks;
 * print the RSS growth per pending future and the time per submit; then
 * open the gate and drain. */
static int pending_serve(size_t n)
{
    the_gate = cf_shared_alloc(sizeof *the_gate);
    if (the_gate == NULL)
        cf__bench_die("cf_shared_alloc: %s", cf_last_error());
    cf_executor *ex = cf__bench_cf_pool(true, 1);
    cf_future *gate_future;
    int rc = cf_submit(&gate_future, ex, hold_shared_gate);
    if (rc != 0)
        cf__bench_cf_failed("cf_submit", rc);
    while (!atomic_load(&the_gate->started))
        cf__bench_sleep_ns(100000);

    double bytes, ns;
    cf_future **fs = cf__bench_cf_submit_pending(ex, n, &bytes, &ns);

    atomic_store(&the_gate->open, 1);
    int gate_result;
    rc = cf_future_result(gate_future, &gate_result, CF_FOREVER);
    if (rc != 0)
        cf__bench_cf_failed("cf_future_result", rc);
    cf_future_release(gate_future);
    cf__bench_cf_take_tiny(n, fs);
    cf_executor_free(ex);
    free(fs);
    cf_shared_free(the_gate);
    printf("bytes=%.6f ns=%.6f\n", bytes, ns);
    return fflush(stdout) == 0 ? 0 : 1;
}

static void pending_table(const cf__bench_options *o, cf__bench_report *rep)
{
    cf__bench_series bytes = {0}, ns = {0};
    for (unsigned run = 0; run <= o->runs; run++) {
        cf__bench_progress_run("process", "memory per pending future", run, o->runs);
        char line[256];
        cf__bench_run_child(o, cf__bench_process_section.name, "pending", o->pending, line,
                            sizeof line);
        double b, t;
        if (sscanf(line, "bytes=%lf ns=%lf", &b, &t) != 2)
            cf__bench_die("unexpected output from the pending measurement: '%s'", line);
        if (run == 0)
            continue;
        cf__bench_series_add(&bytes, b);
        cf__bench_series_add(&ns, t);
    }
    char *title = cf__bench_xasprintf("Process pool, memory per pending future: %zu tasks queued "
                                      "behind a blocked single worker process",
                                      o->pending);
    cf__bench_table *t = cf__bench_table_add(rep, "process.pending", title);
    free(title);
    cf__bench_table_figure(t, "cf.bytes_per_future",
                           "cfutures process pool: RSS growth per pending future", "bytes",
                           &bytes, cf__bench_no_target);
    cf__bench_table_figure(t, "cf.ns_per_submit", "cfutures process pool: cf_submit, worker "
                           "blocked", "ns/submit", &ns, cf__bench_no_target);
    cf__bench_table_note(t, "Each run is a fresh process (cf-bench --child process pending): "
                            "RSS of the submitting process (/proc/self/statm) before and after "
                            "the submits, divided by the count; the worker waits on a gate in "
                            "cf_shared_alloc memory. Multiply by 1,000,000 for the RSS per "
                            "million pending futures. The thread pool's figure is in the "
                            "threads section.");
    cf__bench_series_free(&bytes);
    cf__bench_series_free(&ns);
}

/* ---- Python's pools (bench/peers/python_pool.py) ------------------------------ */

/* One of Python's pools: the elapsed ns of each measured run. */
typedef struct python_pool_figures {
    cf__bench_series tiny_ns;
    cf__bench_series roundtrip_ns;
} python_pool_figures;

typedef struct python_figures {
    char *skipped; /* why Python's figures are missing, or NULL */
    char version[32];
    char executable[256];
    char start_method[32];
    size_t tasks;      /* per tiny run */
    size_t roundtrips; /* per round-trip run */
    python_pool_figures process; /* concurrent.futures.ProcessPoolExecutor */
    python_pool_figures thread;  /* concurrent.futures.ThreadPoolExecutor */
    python_pool_figures mp;      /* multiprocessing.Pool */
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

static bool python_parse_pool(const char *out, const char *pool, unsigned runs,
                              python_pool_figures *f)
{
    char tiny[32], roundtrip[32];
    snprintf(tiny, sizeof tiny, "%s_tiny_ns", pool);
    snprintf(roundtrip, sizeof roundtrip, "%s_roundtrip_ns", pool);
    return cf__bench_json_numbers(out, tiny, runs, &f->tiny_ns) &&
           cf__bench_json_numbers(out, roundtrip, runs, &f->roundtrip_ns);
}

/* Run python_pool.py and fill py with its samples, or py->skipped with why
 * there are none. */
static void python_measure(const cf__bench_options *o, python_figures *py)
{
    *py = (python_figures){
        .tasks = python_count(o->tasks, 100, 1000, 10000),
        .roundtrips = python_count(o->roundtrips, 10, 200, 2000),
    };
    cf__bench_progress("process: Python's ProcessPoolExecutor, ThreadPoolExecutor and "
                       "multiprocessing.Pool: %zu tasks and %zu round trips, 1 warm-up run "
                       "and %u measured runs",
                       py->tasks, py->roundtrips, o->runs);
    char workers[32], tasks[32], roundtrips[32], runs[32];
    snprintf(workers, sizeof workers, "%u", o->threads);
    snprintf(tasks, sizeof tasks, "%zu", py->tasks);
    snprintf(roundtrips, sizeof roundtrips, "%zu", py->roundtrips);
    snprintf(runs, sizeof runs, "%u", o->runs);
    char *args[] = {"--workers", workers,      "--tasks", tasks, "--roundtrips",
                    roundtrips,  "--runs",      runs,      NULL};
    char *out = cf__bench_python_run(PYTHON_SCRIPT, args, PYTHON_TIME_LIMIT_NS, &py->skipped);
    if (out) {
        if (!(cf__bench_json_string(out, "python", py->version, sizeof py->version) &&
              cf__bench_json_string(out, "executable", py->executable, sizeof py->executable) &&
              cf__bench_json_string(out, "start_method", py->start_method,
                                    sizeof py->start_method) &&
              python_parse_pool(out, "process", o->runs, &py->process) &&
              python_parse_pool(out, "thread", o->runs, &py->thread) &&
              python_parse_pool(out, "mp", o->runs, &py->mp)))
            cf__bench_python_malformed(PYTHON_SCRIPT, out, &py->skipped);
        free(out);
    }
    if (py->skipped)
        cf__bench_progress("process: Python skipped: %s", py->skipped);
}

static void python_pool_free(python_pool_figures *f)
{
    cf__bench_series_free(&f->tiny_ns);
    cf__bench_series_free(&f->roundtrip_ns);
}

static void python_free(python_figures *py)
{
    free(py->skipped);
    python_pool_free(&py->process);
    python_pool_free(&py->thread);
    python_pool_free(&py->mp);
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
    cf_executor *pp = cf__bench_cf_pool(true, o->threads);
    cf_executor *tp = cf__bench_cf_pool(false, o->threads);
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
            double wall = py->process.tiny_ns.samples[run - 1];
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
    cf_executor *pp = cf__bench_cf_pool(true, o->threads);
    cf_executor *tp = cf__bench_cf_pool(false, o->threads);
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
                py->process.roundtrip_ns.samples[run - 1] / (double)py->roundtrips * 1e-3;
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

/* Python's other pools beside cfutures' on the same tiny tasks: the runs of
 * python_pool.py paired with the runs of the tables above. */
static void python_pools_table(const cf__bench_options *o, cf__bench_report *rep,
                               const python_figures *py, const versus *vs)
{
    char *title = cf__bench_xasprintf("Python's ThreadPoolExecutor and multiprocessing.Pool on "
                                      "the same tiny tasks, %u worker%s",
                                      o->threads, cf__bench_plural(o->threads));
    cf__bench_table *t = cf__bench_table_add(rep, "process.python_pools", title);
    free(title);
    if (py->skipped) {
        cf__bench_table_skipped(t, "python", "Python's pools", py->skipped);
        return;
    }
    struct {
        const char *id, *label;
        const python_pool_figures *f;
        const cf__bench_series *cf_per_s, *cf_us; /* the cfutures pool it is set against */
        const char *cf_name;
    } pools[] = {
        {"thread", "ThreadPoolExecutor", &py->thread, &vs->threads_per_s, &vs->threads_us,
         "thread pool"},
        {"mp", "multiprocessing.Pool", &py->mp, &vs->process_per_s, &vs->process_us,
         "process pool"},
    };
    for (size_t k = 0; k < sizeof pools / sizeof pools[0]; k++) {
        cf__bench_series per_s = {0}, us = {0}, rate_ratio = {0}, us_ratio = {0};
        for (unsigned i = 0; i < o->runs; i++) {
            double rate = (double)py->tasks / (pools[k].f->tiny_ns.samples[i] * 1e-9);
            double trip = pools[k].f->roundtrip_ns.samples[i] / (double)py->roundtrips * 1e-3;
            cf__bench_series_add(&per_s, rate);
            cf__bench_series_add(&us, trip);
            cf__bench_series_add(&rate_ratio, pools[k].cf_per_s->samples[i] / rate);
            cf__bench_series_add(&us_ratio, trip / pools[k].cf_us->samples[i]);
        }
        char id[64];
        char *label = cf__bench_xasprintf("Python %s: tiny-task throughput", pools[k].label);
        snprintf(id, sizeof id, "%s.per_s", pools[k].id);
        cf__bench_table_figure(t, id, label, "tasks/s", &per_s, cf__bench_no_target);
        free(label);
        label = cf__bench_xasprintf("Python %s: serial round trip", pools[k].label);
        snprintf(id, sizeof id, "%s.roundtrip", pools[k].id);
        cf__bench_table_figure(t, id, label, "us", &us, cf__bench_no_target);
        free(label);
        label = cf__bench_xasprintf("cfutures %s / %s (tasks/s)", pools[k].cf_name,
                                    pools[k].label);
        snprintf(id, sizeof id, "ratio.cf_over_%s.per_s", pools[k].id);
        cf__bench_table_figure(t, id, label, "x", &rate_ratio, cf__bench_no_target);
        free(label);
        label = cf__bench_xasprintf("%s / cfutures %s (us)", pools[k].label, pools[k].cf_name);
        snprintf(id, sizeof id, "ratio.%s_over_cf.roundtrip", pools[k].id);
        cf__bench_table_figure(t, id, label, "x", &us_ratio, cf__bench_no_target);
        free(label);
        cf__bench_series_free(&per_s);
        cf__bench_series_free(&us);
        cf__bench_series_free(&rate_ratio);
        cf__bench_series_free(&us_ratio);
    }
    cf__bench_table_note(t, "Python %s, %zu tasks and %zu round trips per run "
                            "(bench/peers/python_pool.py): ThreadPoolExecutor submit/result; "
                            "multiprocessing.Pool apply_async/get for the tiny tasks, apply for "
                            "the round trip. The ratios pair Python's i-th run with the i-th run "
                            "of cfutures' pools in the tables above.",
                         py->version, py->tasks, py->roundtrips);
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
    python_pools_table(o, rep, &py, &vs);
    pending_table(o, rep);
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
    if (strcmp(argument, "echo") == 0)
        return echo_serve(count);
    if (strcmp(argument, "pending") == 0)
        return pending_serve(count);
    cf__bench_die("unknown measurement '%s'", argument);
}

const cf__bench_section cf__bench_process_section = {
    .name = "process",
    .run = process_run,
    .child = process_child,
};
