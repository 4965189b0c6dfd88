/* bench_scaling.c: the serial baseline, the thread pool and the process pool
 * at 1..T workers: tiny-task throughput and CPU-bound speedup.
 *
 * Design notes: for each worker count w, one thread pool and one process
 * pool of w workers are created and serve R measured runs after one
 * warm-up run; in each run the contenders take turns going first, and
 * every ratio (speedup over serial) is taken within the run:
 *   tiny-task throughput  N tiny tasks submitted, then every result taken
 *                         (bench_cf.c), on each pool;
 *   CPU-bound speedup     K tasks of `spin` (SPIN_ROUNDS rounds of
 *                         x = sin(x) + 1, about a millisecond), submitted
 *                         then every result taken; the serial baseline
 *                         calls the same function K times in the caller.
 * Every result is checked against the serial one: the same code on the
 * same input gives the same bits on a thread and in a worker process.
 */
#include "config.h"

#include <cfutures.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "bench_cf.h"
#include "bench_stats.h"

/* Rounds of x = sin(x) + 1 per CPU-bound task. */
#define SPIN_ROUNDS 50000

static double spin(double seed, int rounds)
{
    double x = seed;
    for (int k = 0; k < rounds; k++)
        x = sin(x) + 1;
    return x;
}
CF_TASK(double, spin, double, int);

static double spin_seed(size_t i)
{
    return (double)(i % 97) * 0.01;
}

/* The K CPU-bound tasks in the caller; results into want[]. */
static int64_t spin_serial(size_t k, double *want)
{
    int64_t start = cf__bench_now_ns();
    for (size_t i = 0; i < k; i++)
        want[i] = spin(spin_seed(i), SPIN_ROUNDS);
    return cf__bench_now_ns() - start;
}

/* The K CPU-bound tasks on ex, each result checked against want[]. */
static int64_t spin_pool(cf_executor *ex, size_t k, const double *want, cf_future **fs)
{
    int64_t start = cf__bench_now_ns();
    for (size_t i = 0; i < k; i++) {
        int rc = cf_submit(&fs[i], ex, spin, spin_seed(i), SPIN_ROUNDS);
        if (rc != 0)
            cf__bench_cf_failed("cf_submit", rc);
    }
    for (size_t i = 0; i < k; i++) {
        double got;
        int rc = cf_future_result(fs[i], &got, CF_FOREVER);
        if (rc != 0)
            cf__bench_cf_failed("cf_future_result", rc);
        if (memcmp(&got, &want[i], sizeof got) != 0)
            cf__bench_die("spin task %zu: got %.17g, want %.17g", i, got, want[i]);
        cf_future_release(fs[i]);
    }
    return cf__bench_now_ns() - start;
}

/* The samples of one worker count. */
typedef struct at_workers {
    cf__bench_series threads_per_s, process_per_s;
    cf__bench_series serial_ms, threads_ms, process_ms;
    cf__bench_series threads_speedup, process_speedup;
} at_workers;

static void measure(const cf__bench_options *o, unsigned w, at_workers *a, double *want,
                    cf_future **fs)
{
    cf_executor *tp = cf__bench_cf_pool(false, w);
    cf_executor *pp = cf__bench_cf_pool(true, w);
    size_t k = o->cpu_tasks;
    char *table = cf__bench_xasprintf("%u worker%s", w, cf__bench_plural(w));
    for (unsigned run = 0; run <= o->runs; run++) {
        cf__bench_progress_run("scaling", table, run, o->runs);
        int64_t tiny_t, tiny_p, serial, cpu_t, cpu_p;
        if (run % 2 == 0) {
            tiny_t = cf__bench_cf_tiny(tp, o->tasks, fs).wall_ns;
            tiny_p = cf__bench_cf_tiny(pp, o->tasks, fs).wall_ns;
            serial = spin_serial(k, want);
            cpu_t = spin_pool(tp, k, want, fs);
            cpu_p = spin_pool(pp, k, want, fs);
        } else {
            tiny_p = cf__bench_cf_tiny(pp, o->tasks, fs).wall_ns;
            tiny_t = cf__bench_cf_tiny(tp, o->tasks, fs).wall_ns;
            cpu_p = spin_pool(pp, k, want, fs);
            cpu_t = spin_pool(tp, k, want, fs);
            serial = spin_serial(k, want);
        }
        if (run == 0)
            continue;
        double n = (double)o->tasks;
        cf__bench_series_add(&a->threads_per_s, n / ((double)tiny_t * 1e-9));
        cf__bench_series_add(&a->process_per_s, n / ((double)tiny_p * 1e-9));
        cf__bench_series_add(&a->serial_ms, (double)serial * 1e-6);
        cf__bench_series_add(&a->threads_ms, (double)cpu_t * 1e-6);
        cf__bench_series_add(&a->process_ms, (double)cpu_p * 1e-6);
        cf__bench_series_add(&a->threads_speedup, (double)serial / (double)cpu_t);
        cf__bench_series_add(&a->process_speedup, (double)serial / (double)cpu_p);
    }
    free(table);
    cf_executor_free(pp);
    cf_executor_free(tp);
}

static void at_workers_free(at_workers *a)
{
    cf__bench_series *all[] = {&a->threads_per_s, &a->process_per_s, &a->serial_ms,
                               &a->threads_ms,    &a->process_ms,    &a->threads_speedup,
                               &a->process_speedup};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        cf__bench_series_free(all[i]);
}

/* Add the figure `what` of worker count w: id "<pool>.w<w>.<suffix>". */
static void figure_at(cf__bench_table *t, const char *pool, unsigned w, const char *suffix,
                      const char *label, const char *unit, const cf__bench_series *s,
                      cf__bench_target target)
{
    char id[64];
    snprintf(id, sizeof id, "%s.w%u.%s", pool, w, suffix);
    char *full = cf__bench_xasprintf("%s, %u worker%s", label, w, cf__bench_plural(w));
    cf__bench_table_figure(t, id, full, unit, s, target);
    free(full);
}

static void scaling_run(const cf__bench_options *o, cf__bench_report *rep)
{
    size_t most = o->tasks > o->cpu_tasks ? o->tasks : o->cpu_tasks;
    cf_future **fs = cf__bench_xcalloc(most, sizeof *fs);
    double *want = cf__bench_xcalloc(o->cpu_tasks, sizeof *want);
    at_workers *a = cf__bench_xcalloc(o->threads, sizeof *a);
    for (unsigned w = 1; w <= o->threads; w++)
        measure(o, w, &a[w - 1], want, fs);

    char *title = cf__bench_xasprintf("Scaling, tiny-task throughput by worker count: %zu tasks "
                                      "of add(int, int), submitted then every result taken",
                                      o->tasks);
    cf__bench_table *t = cf__bench_table_add(rep, "scaling.tiny", title);
    free(title);
    for (unsigned w = 1; w <= o->threads; w++) {
        figure_at(t, "threads", w, "per_s", "thread pool", "tasks/s", &a[w - 1].threads_per_s,
                  cf__bench_no_target);
        figure_at(t, "process", w, "per_s", "process pool", "tasks/s", &a[w - 1].process_per_s,
                  cf__bench_no_target);
    }
    cf__bench_table_note(t, "Futures included: the caller submits and takes results on one "
                            "thread, so more workers help only as far as the caller keeps them "
                            "fed.");

    title = cf__bench_xasprintf("Scaling, CPU-bound speedup over serial: %zu tasks of %d rounds "
                                "of x = sin(x) + 1",
                                o->cpu_tasks, SPIN_ROUNDS);
    t = cf__bench_table_add(rep, "scaling.cpu", title);
    free(title);
    for (unsigned w = 1; w <= o->threads; w++) {
        at_workers *x = &a[w - 1];
        if (w == 1) {
            cf__bench_table_figure(t, "serial.ms", "serial: the same calls in the caller", "ms",
                                   &x->serial_ms, cf__bench_no_target);
        }
        figure_at(t, "threads", w, "ms", "thread pool", "ms", &x->threads_ms,
                  cf__bench_no_target);
        figure_at(t, "process", w, "ms", "process pool", "ms", &x->process_ms,
                  cf__bench_no_target);
        figure_at(t, "threads", w, "speedup", "thread pool: speedup over serial", "x",
                  &x->threads_speedup, cf__bench_no_target);
        figure_at(t, "process", w, "speedup", "process pool: speedup over serial", "x",
                  &x->process_speedup, cf__bench_no_target);
    }
    cf__bench_table_note(t, "speedup: the serial time of the same run divided by the pool's; "
                            "the ideal is the worker count, up to the number of CPUs. The "
                            "serial time shown is that of the 1-worker runs.");
    for (unsigned w = 0; w < o->threads; w++)
        at_workers_free(&a[w]);
    free(a);
    free(want);
    free(fs);
}

const cf__bench_section cf__bench_scaling_section = {
    .name = "scaling",
    .run = scaling_run,
};
