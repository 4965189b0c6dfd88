/* bench_threads.c: the cfutures thread pool against GLib's GThreadPool.
 *
 * Design notes: four tables, each measured in R runs after one warm-up
 * run, pools created once per table (so the measured runs see started
 * workers, as a long-lived application does); within a run the contenders
 * take turns going first:
 *   tiny-task throughput  N tasks submitted, then every result taken;
 *                         cfutures with T workers and with its default
 *                         max_workers, GThreadPool with T threads; the
 *                         ratio is taken within each run;
 *   serial round trip     submit one task, wait for its result, repeat;
 *                         plus the floor, a mutex/condvar ping-pong
 *                         between two threads, in the same run;
 *   round trip after idle the same, the caller sleeping 1 ms before each
 *                         one, so that threads which spin before sleeping
 *                         have gone to sleep (spinning is not free: the
 *                         CPU time per round trip shows it);
 *   pending memory        RSS growth per pending future while the pool's
 *                         only worker is blocked on a gate; each run is a
 *                         fresh process (cf-bench --child), so memory the
 *                         allocator kept from an earlier run is not reused.
 * The GLib side lives in bench_glib.c. Every result is checked: a wrong
 * result or a failed call ends the program, never a silently bad figure.
 */
#include "config.h"

#include <cfutures.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "bench_cf.h"
#include "bench_glib.h"
#include "bench_stats.h"

/* ---- Tasks ----------------------------------------------------------------- */

/* A gate that a task blocks on until the measuring thread opens it. */
typedef struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    bool started; /* guarded by mu */
    bool open;    /* guarded by mu */
} gate;

static int hold_gate(gate *g)
{
    pthread_mutex_lock(&g->mu);
    g->started = true;
    pthread_cond_broadcast(&g->cond);
    while (!g->open)
        pthread_cond_wait(&g->cond, &g->mu);
    pthread_mutex_unlock(&g->mu);
    return 0;
}
CF_TASK(int, hold_gate, gate *);

/* ---- cfutures workloads ------------------------------------------------------ */

/* In a fresh process: with a one-worker pool blocked on a gate, submit n
 * tiny tasks; report the RSS growth per pending future and the time per
 * submit; then open the gate and drain. */
static void cf_pending(size_t n, double *bytes_per_future, double *ns_per_submit)
{
    cf_executor *ex = cf__bench_cf_pool(false, 1);
    gate g = {.mu = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
    cf_future *gate_future;
    int rc = cf_submit(&gate_future, ex, hold_gate, &g);
    if (rc != 0)
        cf__bench_cf_failed("cf_submit", rc);
    pthread_mutex_lock(&g.mu);
    while (!g.started)
        pthread_cond_wait(&g.cond, &g.mu);
    pthread_mutex_unlock(&g.mu);

    cf_future **fs = cf__bench_cf_submit_pending(ex, n, bytes_per_future, ns_per_submit);

    pthread_mutex_lock(&g.mu);
    g.open = true;
    pthread_cond_broadcast(&g.cond);
    pthread_mutex_unlock(&g.mu);
    int gate_result;
    rc = cf_future_result(gate_future, &gate_result, CF_FOREVER);
    if (rc != 0)
        cf__bench_cf_failed("cf_future_result", rc);
    cf_future_release(gate_future);
    cf__bench_cf_take_tiny(n, fs);
    cf_executor_free(ex);
    free(fs);
}

/* ---- The floor: a mutex/condvar ping-pong between two threads --------------- */

typedef struct pingpong {
    pthread_mutex_t mu;
    pthread_cond_t ping; /* sent changed, or stop */
    pthread_cond_t pong; /* answered changed */
    uint64_t sent;       /* guarded by mu */
    uint64_t answered;   /* guarded by mu */
    bool stop;           /* guarded by mu */
    pthread_t partner;
} pingpong;

static void *pingpong_partner(void *arg)
{
    pingpong *pp = arg;
    pthread_mutex_lock(&pp->mu);
    for (;;) {
        while (pp->answered == pp->sent && !pp->stop)
            pthread_cond_wait(&pp->ping, &pp->mu);
        if (pp->stop)
            break;
        pp->answered = pp->sent;
        pthread_cond_signal(&pp->pong);
    }
    pthread_mutex_unlock(&pp->mu);
    return NULL;
}

static void pingpong_start(pingpong *pp)
{
    *pp = (pingpong){.mu = PTHREAD_MUTEX_INITIALIZER,
                     .ping = PTHREAD_COND_INITIALIZER,
                     .pong = PTHREAD_COND_INITIALIZER};
    int rc = pthread_create(&pp->partner, NULL, pingpong_partner, pp);
    if (rc != 0)
        cf__bench_die("pthread_create: %s", strerror(rc));
}

/* One round trip: hand the counter over and wait for the answer. */
static void pingpong_one(void *ctx, size_t i)
{
    pingpong *pp = ctx;
    (void)i;
    pthread_mutex_lock(&pp->mu);
    pp->sent++;
    pthread_cond_signal(&pp->ping);
    while (pp->answered != pp->sent)
        pthread_cond_wait(&pp->pong, &pp->mu);
    pthread_mutex_unlock(&pp->mu);
}

static void pingpong_stop(pingpong *pp)
{
    pthread_mutex_lock(&pp->mu);
    pp->stop = true;
    pthread_cond_signal(&pp->ping);
    pthread_mutex_unlock(&pp->mu);
    pthread_join(pp->partner, NULL);
}

/* ---- Tables ---------------------------------------------------------------- */


/* The figures of one contender in a table: one sample per measured run. */
typedef struct contender {
    const char *id; /* "cf", "glib", ... */
    char *label;
    cf__bench_series rate;   /* operations per second */
    cf__bench_series wall;   /* elapsed time per operation, in the table's unit */
    cf__bench_series cpu;    /* CPU time of all threads per operation, same unit */
} contender;

static void contender_init(contender *c, const char *id, char *label)
{
    *c = (contender){.id = id, .label = label};
}

/* Record one run: `ops` operations cost `cost`; times per operation are
 * expressed in units of `unit_ns` nanoseconds. */
static void contender_add(contender *c, cf__bench_cost cost, size_t ops, double unit_ns)
{
    double n = (double)ops;
    cf__bench_series_add(&c->rate, n / ((double)cost.wall_ns * 1e-9));
    cf__bench_series_add(&c->wall, (double)cost.wall_ns / n / unit_ns);
    cf__bench_series_add(&c->cpu, (double)cost.cpu_ns / n / unit_ns);
}

/* Add c's figures to t: its rate (when rate_unit is not NULL), its elapsed
 * time and its CPU time per operation. */
static void contender_report(const contender *c, cf__bench_table *t, const char *rate_unit,
                             const char *wall_unit, const char *cpu_unit)
{
    char id[64];
    if (rate_unit) {
        snprintf(id, sizeof id, "%s.per_s", c->id);
        cf__bench_table_figure(t, id, c->label, rate_unit, &c->rate, cf__bench_no_target);
    }
    snprintf(id, sizeof id, "%s.wall", c->id);
    cf__bench_table_figure(t, id, c->label, wall_unit, &c->wall, cf__bench_no_target);
    snprintf(id, sizeof id, "%s.cpu", c->id);
    cf__bench_table_figure(t, id, c->label, cpu_unit, &c->cpu, cf__bench_no_target);
}

static void contender_free(contender *c)
{
    free(c->label);
    cf__bench_series_free(&c->rate);
    cf__bench_series_free(&c->wall);
    cf__bench_series_free(&c->cpu);
}

static void tiny_table(const cf__bench_options *o, cf__bench_report *rep)
{
    const char *glib_detail;
    bool glib = cf__bench_glib_available(&glib_detail);
    cf_executor *ex = cf__bench_cf_pool(false, o->threads);
    cf_executor *ex_default = cf__bench_cf_pool(false, 0);
    cf__bench_glib_pool *gp = glib ? cf__bench_glib_pool_new(o->threads) : NULL;
    cf_future **fs = cf__bench_xcalloc(o->tasks, sizeof *fs);

    contender cf, gl, def;
    contender_init(&cf, "cf", cf__bench_xasprintf("cfutures thread pool, %u worker%s", o->threads, cf__bench_plural(o->threads)));
    contender_init(&gl, "glib", cf__bench_xasprintf("GThreadPool, %u thread%s", o->threads, cf__bench_plural(o->threads)));
    contender_init(&def, "cf_default",
                   cf__bench_xasprintf("cfutures thread pool, default max_workers (%zu)",
                                       cf_executor_max_workers(ex_default)));
    cf__bench_series ratio = {0};
    for (unsigned run = 0; run <= o->runs; run++) {
        cf__bench_progress_run("threads", "tiny-task throughput", run, o->runs);
        cf__bench_cost c_cf, c_glib = {0};
        if (run % 2 == 0) {
            c_cf = cf__bench_cf_tiny(ex, o->tasks, fs);
            if (glib)
                c_glib = cf__bench_glib_tiny(gp, o->tasks);
        } else {
            if (glib)
                c_glib = cf__bench_glib_tiny(gp, o->tasks);
            c_cf = cf__bench_cf_tiny(ex, o->tasks, fs);
        }
        cf__bench_cost c_def = cf__bench_cf_tiny(ex_default, o->tasks, fs);
        if (run == 0)
            continue;
        contender_add(&cf, c_cf, o->tasks, 1);
        contender_add(&def, c_def, o->tasks, 1);
        if (glib) {
            contender_add(&gl, c_glib, o->tasks, 1);
            cf__bench_series_add(&ratio, (double)c_glib.wall_ns / (double)c_cf.wall_ns);
        }
    }

    char *title = cf__bench_xasprintf(
        "Tiny-task throughput: %zu tasks of add(int, int), submitted then every result taken",
        o->tasks);
    cf__bench_table *t = cf__bench_table_add(rep, "threads.tiny", title);
    free(title);
    contender_report(&cf, t, "tasks/s", "ns/task", "CPU ns/task");
    if (glib) {
        contender_report(&gl, t, "tasks/s", "ns/task", "CPU ns/task");
        cf__bench_table_figure(t, "ratio.cf_over_glib", "cfutures / GThreadPool (tasks/s)", "x",
                               &ratio, (cf__bench_target){CF__BENCH_AT_LEAST, 1.5});
    } else {
        cf__bench_table_skipped(t, "glib", gl.label, glib_detail);
    }
    contender_report(&def, t, "tasks/s", "ns/task", "CPU ns/task");
    cf__bench_table_note(t, "cfutures: cf_submit for each task, then cf_future_result and "
                            "cf_future_release for each future: futures included (one "
                            "allocated, completed, waited on and freed per task).");
    cf__bench_table_note(t, "GThreadPool (exclusive: T threads of its own): g_thread_pool_push "
                            "for each item; an item writes its result into a slot the caller "
                            "owns and bumps an atomic counter, the last one signals a condition "
                            "variable, then the caller reads every slot. No future: GLib does "
                            "less work per item.");
    cf__bench_table_note(t, "CPU time counts every thread of the process (spinning included). "
                            "The pools take turns going first; the ratio is taken within each "
                            "run.");

    contender_free(&cf);
    contender_free(&gl);
    contender_free(&def);
    cf__bench_series_free(&ratio);
    free(fs);
    if (gp)
        cf__bench_glib_pool_free(gp);
    cf_executor_free(ex_default);
    cf_executor_free(ex);
}

/* Serial round trips, m per run; with idle_ns > 0, the caller sleeps that
 * long before each one, so that the pool's threads may go to sleep. */
static void roundtrip_table(const cf__bench_options *o, cf__bench_report *rep, size_t m,
                            int64_t idle_ns)
{
    const char *glib_detail;
    bool glib = cf__bench_glib_available(&glib_detail);
    cf_executor *ex = cf__bench_cf_pool(false, o->threads);
    cf__bench_glib_pool *gp = glib ? cf__bench_glib_pool_new(o->threads) : NULL;
    pingpong pp;
    pingpong_start(&pp);

    contender cf, gl, floor;
    contender_init(&cf, "cf", cf__bench_xasprintf("cfutures thread pool, %u worker%s", o->threads, cf__bench_plural(o->threads)));
    contender_init(&gl, "glib", cf__bench_xasprintf("GThreadPool, %u thread%s", o->threads, cf__bench_plural(o->threads)));
    contender_init(&floor, "floor", cf__bench_xstrdup("floor: mutex/condvar ping-pong"));
    const char *name = idle_ns > 0 ? "round trip after idle" : "serial round trip";
    for (unsigned run = 0; run <= o->runs; run++) {
        cf__bench_progress_run("threads", name, run, o->runs);
        cf__bench_cost c_cf, c_glib = {0}, c_floor;
        if (run % 2 == 0) {
            c_cf = cf__bench_serial(m, idle_ns, cf__bench_cf_roundtrip, ex);
            if (glib)
                c_glib = cf__bench_glib_roundtrip(gp, m, idle_ns);
            c_floor = cf__bench_serial(m, idle_ns, pingpong_one, &pp);
        } else {
            c_floor = cf__bench_serial(m, idle_ns, pingpong_one, &pp);
            if (glib)
                c_glib = cf__bench_glib_roundtrip(gp, m, idle_ns);
            c_cf = cf__bench_serial(m, idle_ns, cf__bench_cf_roundtrip, ex);
        }
        if (run == 0)
            continue;
        contender_add(&cf, c_cf, m, 1e3);
        contender_add(&floor, c_floor, m, 1e3);
        if (glib)
            contender_add(&gl, c_glib, m, 1e3);
    }

    char *title;
    cf__bench_table *t;
    if (idle_ns > 0) {
        title = cf__bench_xasprintf("Round trip after idle: sleep %.0f ms, then submit one task and "
                                    "wait for its result, %zu times",
                                    (double)idle_ns * 1e-6, m);
        t = cf__bench_table_add(rep, "threads.roundtrip_idle", title);
    } else {
        title = cf__bench_xasprintf(
            "Serial round trip: submit one task, wait for its result, %zu times", m);
        t = cf__bench_table_add(rep, "threads.roundtrip", title);
    }
    free(title);
    contender_report(&cf, t, NULL, "us", "CPU us");
    if (glib)
        contender_report(&gl, t, NULL, "us", "CPU us");
    else
        cf__bench_table_skipped(t, "glib", gl.label, glib_detail);
    contender_report(&floor, t, NULL, "us", "CPU us");
    if (idle_ns > 0) {
        cf__bench_table_note(t, "us: elapsed microseconds per round trip, the sleeps excluded; "
                                "CPU us: CPU time of all threads over the whole loop (sleeps "
                                "included) per round trip, so it counts any spinning while "
                                "the caller sleeps.");
    } else {
        cf__bench_table_note(t, "cfutures: cf_submit, cf_future_result, cf_future_release. "
                                "GThreadPool: g_thread_pool_push, then wait on a condition "
                                "variable until the item is done.");
        cf__bench_table_note(t, "floor: two threads hand a counter back and forth under one "
                                "mutex with two condition variables, each hand-off waking a "
                                "sleeping thread; no pool, no allocation.");
        cf__bench_table_note(t, "us: elapsed microseconds per round trip; CPU us: CPU time of "
                                "all threads per round trip. A pool whose idle threads spin "
                                "for a while before they sleep answers back-to-back work "
                                "without a wake-up, and uses more CPU: see the next table for "
                                "work that arrives after an idle pause.");
    }

    contender_free(&cf);
    contender_free(&gl);
    contender_free(&floor);
    pingpong_stop(&pp);
    if (gp)
        cf__bench_glib_pool_free(gp);
    cf_executor_free(ex);
}

/* Run one pending-memory measurement in a fresh process. */
static void pending_child(const cf__bench_options *o, const char *argument, double *bytes,
                          double *ns)
{
    char line[256];
    cf__bench_run_child(o, cf__bench_threads_section.name, argument, o->pending, line,
                        sizeof line);
    if (sscanf(line, "bytes=%lf ns=%lf", bytes, ns) != 2)
        cf__bench_die("unexpected output from the %s measurement: '%s'", argument, line);
}

static void pending_table(const cf__bench_options *o, cf__bench_report *rep)
{
    const char *glib_detail;
    bool glib = cf__bench_glib_available(&glib_detail);
    cf__bench_series cf_bytes = {0}, cf_ns = {0}, glib_bytes = {0}, glib_ns = {0};
    for (unsigned run = 0; run <= o->runs; run++) {
        cf__bench_progress_run("threads", "memory per pending future", run, o->runs);
        double bytes, ns;
        pending_child(o, "pending-cf", &bytes, &ns);
        if (run > 0) {
            cf__bench_series_add(&cf_bytes, bytes);
            cf__bench_series_add(&cf_ns, ns);
        }
        if (!glib)
            continue;
        pending_child(o, "pending-glib", &bytes, &ns);
        if (run > 0) {
            cf__bench_series_add(&glib_bytes, bytes);
            cf__bench_series_add(&glib_ns, ns);
        }
    }

    char *title = cf__bench_xasprintf(
        "Memory per pending future: %zu tasks queued behind a blocked single worker", o->pending);
    cf__bench_table *t = cf__bench_table_add(rep, "threads.pending", title);
    free(title);
    cf__bench_table_figure(t, "cf.bytes_per_future", "cfutures: RSS growth per pending future",
                           "bytes", &cf_bytes, (cf__bench_target){CF__BENCH_AT_MOST, 128});
    cf__bench_table_figure(t, "cf.ns_per_submit", "cfutures: cf_submit, worker blocked",
                           "ns/submit", &cf_ns, cf__bench_no_target);
    if (glib) {
        cf__bench_table_figure(t, "glib.bytes_per_item", "GThreadPool: RSS growth per queued item",
                               "bytes", &glib_bytes, cf__bench_no_target);
        cf__bench_table_figure(t, "glib.ns_per_push", "GThreadPool: push, thread blocked",
                               "ns/push", &glib_ns, cf__bench_no_target);
    } else {
        cf__bench_table_skipped(t, "glib.bytes_per_item", "GThreadPool", glib_detail);
    }
    cf__bench_table_note(t, "Each run is a fresh process: RSS (/proc/self/statm) before and "
                            "after the submits, divided by the count. The caller's future "
                            "handles (8 bytes each) and GLib's item slots (12 bytes each) are "
                            "made resident before the first reading and not counted.");
    cf__bench_table_note(t, "GThreadPool queues the caller's pointer only; a cfutures future "
                            "also holds the arguments, the result and the state.");
    cf__bench_series_free(&cf_bytes);
    cf__bench_series_free(&cf_ns);
    cf__bench_series_free(&glib_bytes);
    cf__bench_series_free(&glib_ns);
}

static void threads_run(const cf__bench_options *o, cf__bench_report *rep)
{
    tiny_table(o, rep);
    roundtrip_table(o, rep, o->roundtrips, 0);
    size_t after_idle = o->roundtrips / 100 > 20 ? o->roundtrips / 100 : 20;
    roundtrip_table(o, rep, after_idle, 1000000);
    pending_table(o, rep);
}

static int threads_child(const char *argument, size_t count)
{
    double bytes, ns;
    if (strcmp(argument, "pending-cf") == 0) {
        cf_pending(count, &bytes, &ns);
    } else if (strcmp(argument, "pending-glib") == 0) {
        const char *detail;
        if (!cf__bench_glib_available(&detail))
            cf__bench_die("%s", detail);
        cf__bench_glib_pending(count, &bytes, &ns);
    } else {
        cf__bench_die("unknown measurement '%s'", argument);
    }
    printf("bytes=%.6f ns=%.6f\n", bytes, ns);
    return fflush(stdout) == 0 ? 0 : 1;
}

const cf__bench_section cf__bench_threads_section = {
    .name = "threads",
    .run = threads_run,
    .child = threads_child,
};
