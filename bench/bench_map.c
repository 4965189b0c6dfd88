/* bench_map.c: cf_map over C arrays on both pools, against a serial loop,
 * OpenMP's `parallel for` and Python's multiprocessing.Pool.map.
 *
 * Design notes: four tables, each figure the median of R runs after one
 * warm-up run, the contenders taking turns going first within a run and
 * every ratio taken within the run:
 *   CPU-bound map    out[i] = 20 rounds of x = sin(x) + 1 over in[i], M
 *                    doubles (bench_kernels.h: the same inline function in
 *                    every contender); at each worker count 1..T: serial,
 *                    OpenMP (bench_omp.c), the thread pool's cf_map, the
 *                    process pool's cf_map over plain arrays (copied into
 *                    shared memory and back) and over cf_shared_alloc
 *                    arrays (used in place);
 *   near-empty map   out[i] = in[i] + 1 over E ints, T workers: serial, the
 *                    thread pool, the process pool (plain and shared
 *                    arrays), and Python's Pool.map(inc, list) with its
 *                    default chunking, run first and alone
 *                    (bench/peers/python_map.py, bench_python.c);
 *   chunk-size sweep the near-empty map over E/5 ints on both pools, from
 *                    1,024 elements per chunk up, and cf_map's default;
 *   bounded map      cf_map_generate over B generated ints, chunk size and
 *                    chunks in flight set, in a fresh process each run
 *                    (`cf-bench --child map bounded-<pool>:<workers> B`),
 *                    whose peak RSS (VmHWM, reset through
 *                    /proc/self/clear_refs before the map) is compared with
 *                    a ceiling computed from those settings.
 * Pools are created once per worker count and table. Every result is
 * checked; a wrong one, or a failed call, ends the program.
 */
#include "config.h"

#include <cfutures.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "bench_cf.h"
#include "bench_kernels.h"
#include "bench_omp.h"
#include "bench_python.h"
#include "bench_stats.h"

#define PYTHON_SCRIPT "python_map.py"
#define PYTHON_TIME_LIMIT_NS (600 * (int64_t)1000000000)

/* The bounded map's settings, and the fixed allowance of its ceiling. */
#define BOUNDED_CHUNK 65536
#define BOUNDED_CHUNKS_PER_WORKER 4
#define BOUNDED_ALLOWANCE (16u << 20)
/* Bytes of the map's window per element: the input copy, the result and
 * the element's status. */
#define BOUNDED_ELEMENT_BYTES (sizeof(int) + sizeof(int) + sizeof(int))

static double sin_rounds(double x)
{
    return cf__bench_sin_rounds(x);
}
CF_TASK(double, sin_rounds, double);

static int increment(int x)
{
    return cf__bench_increment(x);
}
CF_TASK(int, increment, int);

static void *shared_alloc(size_t size)
{
    void *p = cf_shared_alloc(size);
    if (p == NULL)
        cf__bench_die("cf_shared_alloc(%zu): %s", size, cf_last_error());
    return p;
}

static void check_doubles(const char *who, const double *got, const double *want, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!(fabs(got[i] - want[i]) <= 1e-12 * fabs(want[i])))
            cf__bench_die("%s: element %zu is %.17g, want %.17g", who, i, got[i], want[i]);
}

static void check_increments(const char *who, const int *got, const int *in, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (got[i] != in[i] + 1)
            cf__bench_die("%s: element %zu is %d, want %d", who, i, got[i], in[i] + 1);
}

/* ---- CPU-bound map against OpenMP ------------------------------------------------ */

enum { SIN_SERIAL, SIN_OMP, SIN_THREADS, SIN_PLAIN, SIN_SHARED, SIN_CONTENDERS };

static const struct {
    const char *id, *label;
} sin_contenders[SIN_CONTENDERS] = {
    [SIN_SERIAL] = {"serial", "serial loop"},
    [SIN_OMP] = {"omp", "OpenMP parallel for"},
    [SIN_THREADS] = {"threads", "thread pool cf_map"},
    [SIN_PLAIN] = {"process", "process pool cf_map, plain arrays"},
    [SIN_SHARED] = {"process_shared", "process pool cf_map, cf_shared_alloc arrays"},
};

typedef struct sin_arrays {
    size_t n;
    double *in, *out, *want;          /* ordinary memory */
    double *shared_in, *shared_out;   /* cf_shared_alloc */
} sin_arrays;

static int64_t sin_one(int who, const sin_arrays *a, unsigned w, cf_executor *tp,
                       cf_executor *pp)
{
    int64_t start = cf__bench_now_ns();
    int rc = 0;
    switch (who) {
    case SIN_SERIAL:
        for (size_t i = 0; i < a->n; i++)
            a->want[i] = cf__bench_sin_rounds(a->in[i]);
        return cf__bench_now_ns() - start;
    case SIN_OMP:
        memset(a->out, 0, a->n * sizeof *a->out);
        start = cf__bench_now_ns();
        cf__bench_omp_sin(a->in, a->out, a->n, w);
        break;
    case SIN_THREADS:
        memset(a->out, 0, a->n * sizeof *a->out);
        start = cf__bench_now_ns();
        rc = cf_map(tp, sin_rounds, NULL, a->n, a->out, a->in);
        break;
    case SIN_PLAIN:
        memset(a->out, 0, a->n * sizeof *a->out);
        start = cf__bench_now_ns();
        rc = cf_map(pp, sin_rounds, NULL, a->n, a->out, a->in);
        break;
    case SIN_SHARED:
        memset(a->shared_out, 0, a->n * sizeof *a->shared_out);
        start = cf__bench_now_ns();
        rc = cf_map(pp, sin_rounds, NULL, a->n, a->shared_out, a->shared_in);
        break;
    }
    int64_t elapsed = cf__bench_now_ns() - start;
    if (rc != 0)
        cf__bench_cf_failed("cf_map", rc);
    check_doubles(sin_contenders[who].label, who == SIN_SHARED ? a->shared_out : a->out,
                  a->want, a->n);
    return elapsed;
}

static void sin_table(const cf__bench_options *o, cf__bench_report *rep)
{
    const char *omp_detail;
    bool omp = cf__bench_omp_available(&omp_detail);
    sin_arrays a = {.n = o->map_elements};
    a.in = cf__bench_xcalloc(a.n, sizeof *a.in);
    a.out = cf__bench_xcalloc(a.n, sizeof *a.out);
    a.want = cf__bench_xcalloc(a.n, sizeof *a.want);
    a.shared_in = shared_alloc(a.n * sizeof *a.shared_in);
    a.shared_out = shared_alloc(a.n * sizeof *a.shared_out);
    for (size_t i = 0; i < a.n; i++)
        a.in[i] = a.shared_in[i] = cf__bench_sin_input(i);
    /* The reference results, before any contender is checked against them. */
    sin_one(SIN_SERIAL, &a, 1, NULL, NULL);

    char *title = cf__bench_xasprintf("Map, CPU-bound: %d rounds of x = sin(x) + 1 over %zu "
                                      "doubles, by worker count",
                                      CF_BENCH_SIN_ROUNDS, a.n);
    cf__bench_table *t = cf__bench_table_add(rep, "map.sin", title);
    free(title);
    for (unsigned w = 1; w <= o->threads; w++) {
        cf_executor *tp = cf__bench_cf_pool(false, w);
        cf_executor *pp = cf__bench_cf_pool(true, w);
        cf__bench_series ms[SIN_CONTENDERS] = {{0}}, vs_omp[SIN_CONTENDERS] = {{0}},
                         speedup[SIN_CONTENDERS] = {{0}};
        char *name = cf__bench_xasprintf("CPU-bound map, %u worker%s", w, cf__bench_plural(w));
        for (unsigned run = 0; run <= o->runs; run++) {
            cf__bench_progress_run("map", name, run, o->runs);
            int64_t ns[SIN_CONTENDERS] = {0};
            for (int k = 0; k < SIN_CONTENDERS; k++) {
                int who = (int)((k + run) % SIN_CONTENDERS);
                if (who == SIN_OMP && !omp)
                    continue;
                ns[who] = sin_one(who, &a, w, tp, pp);
            }
            if (run == 0)
                continue;
            for (int who = 0; who < SIN_CONTENDERS; who++) {
                if (who == SIN_OMP && !omp)
                    continue;
                cf__bench_series_add(&ms[who], (double)ns[who] * 1e-6);
                cf__bench_series_add(&speedup[who], (double)ns[SIN_SERIAL] / (double)ns[who]);
                if (omp)
                    cf__bench_series_add(&vs_omp[who], (double)ns[SIN_OMP] / (double)ns[who]);
            }
        }
        free(name);
        for (int who = 0; who < SIN_CONTENDERS; who++) {
            char id[64];
            char *label = cf__bench_xasprintf("%s, %u worker%s", sin_contenders[who].label, w,
                                              cf__bench_plural(w));
            if (who == SIN_SERIAL) {
                free(label);
                label = cf__bench_xasprintf("serial loop (in the %u-worker runs)", w);
            }
            snprintf(id, sizeof id, "%s.w%u.ms", sin_contenders[who].id, w);
            if (who == SIN_OMP && !omp) {
                cf__bench_table_skipped(t, id, label, omp_detail);
                free(label);
                continue;
            }
            cf__bench_table_figure(t, id, label, "ms", &ms[who], cf__bench_no_target);
            free(label);
        }
        for (int who = SIN_OMP; who < SIN_CONTENDERS; who++) {
            if (who == SIN_OMP && !omp)
                continue;
            char id[64];
            char *label = cf__bench_xasprintf("%s: speedup over serial, %u worker%s",
                                              sin_contenders[who].label, w, cf__bench_plural(w));
            snprintf(id, sizeof id, "%s.w%u.speedup", sin_contenders[who].id, w);
            cf__bench_table_figure(t, id, label, "x", &speedup[who], cf__bench_no_target);
            free(label);
        }
        for (int who = SIN_THREADS; who < SIN_CONTENDERS && omp; who++) {
            char id[64];
            char *label = cf__bench_xasprintf("%s / OpenMP (speed), %u worker%s",
                                              sin_contenders[who].label, w, cf__bench_plural(w));
            snprintf(id, sizeof id, "%s.w%u.vs_omp", sin_contenders[who].id, w);
            cf__bench_table_figure(t, id, label, "x", &vs_omp[who],
                                   (cf__bench_target){CF__BENCH_AT_LEAST, 0.95});
            free(label);
        }
        for (int who = 0; who < SIN_CONTENDERS; who++) {
            cf__bench_series_free(&ms[who]);
            cf__bench_series_free(&vs_omp[who]);
            cf__bench_series_free(&speedup[who]);
        }
        cf_executor_free(pp);
        cf_executor_free(tp);
    }
    cf__bench_table_note(t, "ms: elapsed milliseconds per map of the whole array. OpenMP: "
                            "#pragma omp parallel for schedule(static) num_threads(w), %s. "
                            "cfutures: cf_map(pool, task, NULL, n, out, in) with the default "
                            "options (chunk size n / (4 x workers), capped at 1 MiB of chunk "
                            "memory).",
                         omp_detail);
    cf__bench_table_note(t, "Plain arrays on a process pool are copied into shared memory a "
                            "window of chunks at a time, and results copied out; "
                            "cf_shared_alloc arrays are used in place. Ratios to OpenMP are "
                            "speeds (OpenMP's time / cfutures' time) within each run; the "
                            "contenders take turns going first.");
    cf_shared_free(a.shared_in);
    cf_shared_free(a.shared_out);
    free(a.in);
    free(a.out);
    free(a.want);
}

/* ---- Near-empty map against Python's Pool.map --------------------------------- */

typedef struct python_map {
    char *skipped;
    char version[32];
    cf__bench_series ns; /* elapsed ns of each measured run */
} python_map;

static void python_map_measure(const cf__bench_options *o, python_map *py)
{
    *py = (python_map){0};
    cf__bench_progress("map: Python's multiprocessing.Pool.map over %zu ints, 1 warm-up run "
                       "and %u measured runs",
                       o->empty_elements, o->runs);
    char workers[32], elements[32], runs[32];
    snprintf(workers, sizeof workers, "%u", o->threads);
    snprintf(elements, sizeof elements, "%zu", o->empty_elements);
    snprintf(runs, sizeof runs, "%u", o->runs);
    char *args[] = {"--workers", workers, "--elements", elements, "--runs", runs, NULL};
    char *out = cf__bench_python_run(PYTHON_SCRIPT, args, PYTHON_TIME_LIMIT_NS, &py->skipped);
    if (out) {
        if (!(cf__bench_json_string(out, "python", py->version, sizeof py->version) &&
              cf__bench_json_numbers(out, "map_ns", o->runs, &py->ns)))
            cf__bench_python_malformed(PYTHON_SCRIPT, out, &py->skipped);
        free(out);
    }
    if (py->skipped)
        cf__bench_progress("map: Python skipped: %s", py->skipped);
}

enum { EMPTY_SERIAL, EMPTY_THREADS, EMPTY_PLAIN, EMPTY_SHARED, EMPTY_CONTENDERS };

static const struct {
    const char *id, *label;
} empty_contenders[EMPTY_CONTENDERS] = {
    [EMPTY_SERIAL] = {"serial", "serial loop"},
    [EMPTY_THREADS] = {"threads", "thread pool cf_map"},
    [EMPTY_PLAIN] = {"process", "process pool cf_map, plain arrays"},
    [EMPTY_SHARED] = {"process_shared", "process pool cf_map, cf_shared_alloc arrays"},
};

typedef struct int_arrays {
    size_t n;
    int *in, *out;
    int *shared_in, *shared_out;
} int_arrays;

static void int_arrays_new(int_arrays *a, size_t n)
{
    *a = (int_arrays){.n = n};
    a->in = cf__bench_xcalloc(n, sizeof *a->in);
    a->out = cf__bench_xcalloc(n, sizeof *a->out);
    a->shared_in = shared_alloc(n * sizeof *a->shared_in);
    a->shared_out = shared_alloc(n * sizeof *a->shared_out);
    for (size_t i = 0; i < n; i++)
        a->in[i] = a->shared_in[i] = (int)(i & 0x3fffffff);
}

static void int_arrays_free(int_arrays *a)
{
    cf_shared_free(a->shared_in);
    cf_shared_free(a->shared_out);
    free(a->in);
    free(a->out);
}

/* One near-empty map by `who`, with opts; its results checked. */
static int64_t empty_one(int who, const int_arrays *a, cf_executor *tp, cf_executor *pp,
                         const cf_map_options *opts)
{
    const int *in = who == EMPTY_SHARED ? a->shared_in : a->in;
    int *out = who == EMPTY_SHARED ? a->shared_out : a->out;
    memset(out, 0, a->n * sizeof *out);
    int64_t start = cf__bench_now_ns();
    int rc = 0;
    switch (who) {
    case EMPTY_SERIAL:
        for (size_t i = 0; i < a->n; i++)
            out[i] = cf__bench_increment(in[i]);
        break;
    case EMPTY_THREADS:
        rc = cf_map(tp, increment, opts, a->n, out, in);
        break;
    case EMPTY_PLAIN:
    case EMPTY_SHARED:
        rc = cf_map(pp, increment, opts, a->n, out, in);
        break;
    }
    int64_t elapsed = cf__bench_now_ns() - start;
    if (rc != 0)
        cf__bench_cf_failed("cf_map", rc);
    check_increments(empty_contenders[who].label, out, in, a->n);
    return elapsed;
}

static void empty_table(const cf__bench_options *o, cf__bench_report *rep)
{
    python_map py;
    python_map_measure(o, &py);
    int_arrays a;
    int_arrays_new(&a, o->empty_elements);
    cf_executor *tp = cf__bench_cf_pool(false, o->threads);
    cf_executor *pp = cf__bench_cf_pool(true, o->threads);
    cf__bench_series ms[EMPTY_CONTENDERS] = {{0}}, python_ms = {0};
    cf__bench_series vs_python_plain = {0}, vs_python_shared = {0};
    for (unsigned run = 0; run <= o->runs; run++) {
        cf__bench_progress_run("map", "near-empty map", run, o->runs);
        int64_t ns[EMPTY_CONTENDERS];
        for (int k = 0; k < EMPTY_CONTENDERS; k++) {
            int who = (int)((k + run) % EMPTY_CONTENDERS);
            ns[who] = empty_one(who, &a, tp, pp, NULL);
        }
        if (run == 0)
            continue;
        for (int who = 0; who < EMPTY_CONTENDERS; who++)
            cf__bench_series_add(&ms[who], (double)ns[who] * 1e-6);
        if (!py.skipped) {
            double python_ns = py.ns.samples[run - 1];
            cf__bench_series_add(&python_ms, python_ns * 1e-6);
            cf__bench_series_add(&vs_python_plain, python_ns / (double)ns[EMPTY_PLAIN]);
            cf__bench_series_add(&vs_python_shared, python_ns / (double)ns[EMPTY_SHARED]);
        }
    }

    char *title = cf__bench_xasprintf("Map, near-empty: out[i] = in[i] + 1 over %zu ints, %u "
                                      "worker%s",
                                      a.n, o->threads, cf__bench_plural(o->threads));
    cf__bench_table *t = cf__bench_table_add(rep, "map.empty", title);
    free(title);
    for (int who = 0; who < EMPTY_CONTENDERS; who++) {
        char id[64];
        snprintf(id, sizeof id, "%s.ms", empty_contenders[who].id);
        cf__bench_table_figure(t, id, empty_contenders[who].label, "ms", &ms[who],
                               cf__bench_no_target);
    }
    char *py_label = cf__bench_xasprintf("Python multiprocessing.Pool.map, default chunking");
    if (!py.skipped) {
        cf__bench_table_figure(t, "python.ms", py_label, "ms", &python_ms, cf__bench_no_target);
        cf__bench_table_figure(t, "ratio.process_over_python",
                               "process pool cf_map / Python Pool.map (speed)", "x",
                               &vs_python_plain, (cf__bench_target){CF__BENCH_AT_LEAST, 10});
        cf__bench_table_figure(t, "ratio.process_shared_over_python",
                               "process pool cf_map, shared arrays / Python Pool.map (speed)",
                               "x", &vs_python_shared,
                               (cf__bench_target){CF__BENCH_AT_LEAST, 10});
        cf__bench_table_note(t, "Python %s: Pool(processes=%u).map(inc, data) over a list of "
                                "%zu ints built before the clock starts, chunksize left to "
                                "Pool.map (len / (4 x processes), rounded up); run first and "
                                "alone (bench/peers/python_map.py); the ratios pair its i-th run "
                                "with cfutures' i-th run.",
                             py.version, o->threads, a.n);
    } else {
        cf__bench_table_skipped(t, "python", py_label, py.skipped);
    }
    free(py_label);
    cf__bench_table_note(t, "cfutures: cf_map with the default options. The serial loop is "
                            "what the compiler makes of the inline element function "
                            "(vectorized): the floor that any pool's per-element call and "
                            "copies add to.");
    for (int who = 0; who < EMPTY_CONTENDERS; who++)
        cf__bench_series_free(&ms[who]);
    cf__bench_series_free(&python_ms);
    cf__bench_series_free(&vs_python_plain);
    cf__bench_series_free(&vs_python_shared);
    cf__bench_series_free(&py.ns);
    free(py.skipped);
    cf_executor_free(pp);
    cf_executor_free(tp);
    int_arrays_free(&a);
}

/* ---- Chunk-size sweep -------------------------------------------------------------- */

static void chunks_table(const cf__bench_options *o, cf__bench_report *rep)
{
    static const size_t sizes[] = {1024, 4096, 16384, 65536, 262144, 0};
    enum { NSIZES = sizeof sizes / sizeof sizes[0] };
    int_arrays a;
    int_arrays_new(&a, o->empty_elements / 5 > 0 ? o->empty_elements / 5 : 1);
    cf_executor *tp = cf__bench_cf_pool(false, o->threads);
    cf_executor *pp = cf__bench_cf_pool(true, o->threads);
    cf__bench_series threads[NSIZES] = {{0}}, process[NSIZES] = {{0}};
    size_t default_chunks = 0;
    for (unsigned run = 0; run <= o->runs; run++) {
        cf__bench_progress_run("map", "chunk-size sweep", run, o->runs);
        for (size_t k = 0; k < NSIZES; k++) {
            size_t s = (k + run) % NSIZES;
            cf_map_report report;
            cf_map_options opts = {.chunk_size = sizes[s], .report = &report};
            int64_t t_ns, p_ns;
            if (run % 2 == 0) {
                t_ns = empty_one(EMPTY_THREADS, &a, tp, pp, &opts);
                p_ns = empty_one(EMPTY_PLAIN, &a, tp, pp, &opts);
            } else {
                p_ns = empty_one(EMPTY_PLAIN, &a, tp, pp, &opts);
                t_ns = empty_one(EMPTY_THREADS, &a, tp, pp, &opts);
            }
            if (sizes[s] == 0)
                default_chunks = report.chunks;
            if (run == 0)
                continue;
            cf__bench_series_add(&threads[s], (double)a.n / ((double)t_ns * 1e-9) * 1e-6);
            cf__bench_series_add(&process[s], (double)a.n / ((double)p_ns * 1e-9) * 1e-6);
        }
    }

    char *title = cf__bench_xasprintf("Map, chunk-size sweep: the near-empty map over %zu ints, "
                                      "%u worker%s",
                                      a.n, o->threads, cf__bench_plural(o->threads));
    cf__bench_table *t = cf__bench_table_add(rep, "map.chunks", title);
    free(title);
    for (size_t s = 0; s < NSIZES; s++) {
        char id[96], size_text[32];
        if (sizes[s])
            snprintf(size_text, sizeof size_text, "%zu", sizes[s]);
        else
            snprintf(size_text, sizeof size_text, "default");
        char *label = cf__bench_xasprintf("thread pool, chunk size %s", size_text);
        snprintf(id, sizeof id, "threads.chunk_%s", size_text);
        cf__bench_table_figure(t, id, label, "M elem/s", &threads[s], cf__bench_no_target);
        free(label);
        label = cf__bench_xasprintf("process pool, chunk size %s", size_text);
        snprintf(id, sizeof id, "process.chunk_%s", size_text);
        cf__bench_table_figure(t, id, label, "M elem/s", &process[s], cf__bench_no_target);
        free(label);
        cf__bench_series_free(&threads[s]);
        cf__bench_series_free(&process[s]);
    }
    cf__bench_table_note(t, "M elem/s: millions of elements mapped per second (plain arrays). "
                            "The default cut this array into %zu chunks on the process pool. "
                            "Small chunks pay a submit and a future per chunk; huge ones leave "
                            "workers idle at the end and hold more memory.",
                         default_chunks);
    cf_executor_free(pp);
    cf_executor_free(tp);
    int_arrays_free(&a);
}

/* ---- Bounded map: memory stays flat ------------------------------------------------- */

typedef struct bounded_check {
    size_t done;
    size_t wrong; /* results that were not their input + 1 */
} bounded_check;

static int bounded_input(size_t i)
{
    return (int)(i & 0x3fffffff);
}

static size_t bounded_source(void *tuples, size_t max, size_t first, void *arg)
{
    size_t n = *(const size_t *)arg;
    if (first >= n)
        return 0;
    size_t count = n - first < max ? n - first : max;
    CF_ARGS(increment) *t = tuples;
    for (size_t i = 0; i < count; i++)
        t[i].a0 = bounded_input(first + i);
    return count;
}

static void bounded_chunk(const cf_map_chunk *chunk, void *arg)
{
    bounded_check *c = arg;
    const int *results = chunk->results;
    for (size_t i = chunk->begin; i < chunk->end; i++)
        if (results[i - chunk->begin] != bounded_input(i) + 1)
            c->wrong++;
    c->done += chunk->end - chunk->begin;
}

/* VmRSS or VmHWM of this process, in bytes; -1 when unknown. */
static int64_t status_bytes(const char *key)
{
    FILE *in = fopen("/proc/self/status", "re");
    if (!in)
        return -1;
    char line[256];
    int64_t bytes = -1;
    size_t len = strlen(key);
    while (fgets(line, sizeof line, in)) {
        long long kb;
        if (strncmp(line, key, len) == 0 && line[len] == ':' &&
            sscanf(line + len + 1, "%lld", &kb) == 1) {
            bytes = (int64_t)kb * 1024;
            break;
        }
    }
    fclose(in);
    return bytes;
}

/* Reset VmHWM to the current RSS (Linux 4.0 and later). */
static bool reset_peak_rss(void)
{
    int fd;
    do
        fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
    while (fd < 0 && errno == EINTR);
    if (fd < 0)
        return false;
    ssize_t put;
    do
        put = write(fd, "5", 1);
    while (put < 0 && errno == EINTR);
    close(fd);
    return put == 1;
}

static size_t bounded_window_bytes(unsigned workers)
{
    return (size_t)BOUNDED_CHUNKS_PER_WORKER * workers * BOUNDED_CHUNK * BOUNDED_ELEMENT_BYTES;
}

/* In a fresh process: `bounded-<threads|process>:<workers>` over n elements. */
static int bounded_serve(const char *argument, size_t n)
{
    char kind[16];
    unsigned workers;
    if (sscanf(argument, "bounded-%15[a-z]:%u", kind, &workers) != 2 || workers == 0 ||
        (strcmp(kind, "threads") != 0 && strcmp(kind, "process") != 0))
        cf__bench_die("unknown measurement '%s'", argument);
    cf_executor *ex = cf__bench_cf_pool(strcmp(kind, "process") == 0, workers);
    bounded_check check = {0};
    cf_map_report report;
    cf_map_options opts = {
        .chunk_size = BOUNDED_CHUNK,
        .max_chunks_in_flight = (size_t)BOUNDED_CHUNKS_PER_WORKER * workers,
        .on_chunk = bounded_chunk,
        .arg = &check,
        .report = &report,
    };
    bool reset = reset_peak_rss();
    int64_t before = status_bytes("VmRSS");
    int64_t start = cf__bench_now_ns();
    int rc = cf_map_generate(ex, increment, &opts, bounded_source, &n);
    int64_t elapsed = cf__bench_now_ns() - start;
    int64_t peak = status_bytes("VmHWM");
    if (rc != 0)
        cf__bench_cf_failed("cf_map_generate", rc);
    if (check.done != n || check.wrong != 0)
        cf__bench_die("bounded map: %zu results of %zu, %zu wrong", check.done, n, check.wrong);
    if (before < 0 || peak < 0)
        cf__bench_die("cannot read /proc/self/status");
    cf_executor_free(ex);
    printf("before=%lld peak=%lld ns=%lld reset=%d chunks=%zu\n", (long long)before,
           (long long)peak, (long long)elapsed, reset ? 1 : 0, report.chunks);
    return fflush(stdout) == 0 ? 0 : 1;
}

static void bounded_table(const cf__bench_options *o, cf__bench_report *rep)
{
    static const char *const kinds[] = {"threads", "process"};
    cf__bench_series growth[2] = {{0}}, peak[2] = {{0}}, rate[2] = {{0}};
    bool reset_everywhere = true;
    for (unsigned run = 0; run <= o->runs; run++) {
        cf__bench_progress_run("map", "bounded map", run, o->runs);
        for (size_t k = 0; k < 2; k++) {
            size_t which = (k + run) % 2;
            char argument[64], line[256];
            snprintf(argument, sizeof argument, "bounded-%s:%u", kinds[which], o->threads);
            cf__bench_run_child(o, cf__bench_map_section.name, argument, o->bounded_elements,
                                line, sizeof line);
            long long before, hwm, ns;
            int reset;
            size_t chunks;
            if (sscanf(line, "before=%lld peak=%lld ns=%lld reset=%d chunks=%zu", &before, &hwm,
                       &ns, &reset, &chunks) != 5)
                cf__bench_die("unexpected output from the %s measurement: '%s'", argument,
                              line);
            if (!reset)
                reset_everywhere = false;
            if (run == 0)
                continue;
            cf__bench_series_add(&growth[which], (double)(hwm - before) / (1 << 20));
            cf__bench_series_add(&peak[which], (double)hwm / (1 << 20));
            cf__bench_series_add(&rate[which],
                                 (double)o->bounded_elements / ((double)ns * 1e-9) * 1e-6);
        }
    }
    size_t window = bounded_window_bytes(o->threads);
    double ceiling_mib = (2.0 * (double)window + BOUNDED_ALLOWANCE) / (1 << 20);
    char *title = cf__bench_xasprintf("Map, bounded memory: cf_map_generate over %zu generated "
                                      "ints, chunk size %d, %u chunks in flight, %u worker%s",
                                      o->bounded_elements, BOUNDED_CHUNK,
                                      BOUNDED_CHUNKS_PER_WORKER * o->threads, o->threads,
                                      cf__bench_plural(o->threads));
    cf__bench_table *t = cf__bench_table_add(rep, "map.bounded", title);
    free(title);
    for (size_t k = 0; k < 2; k++) {
        const char *pool = k == 0 ? "thread pool" : "process pool";
        char id[64];
        char *label = cf__bench_xasprintf("%s: peak RSS growth during the map", pool);
        snprintf(id, sizeof id, "%s.growth_mib", kinds[k]);
        cf__bench_table_figure(t, id, label, "MiB", &growth[k],
                               (cf__bench_target){CF__BENCH_AT_MOST, ceiling_mib});
        free(label);
        label = cf__bench_xasprintf("%s: peak RSS (VmHWM)", pool);
        snprintf(id, sizeof id, "%s.peak_mib", kinds[k]);
        cf__bench_table_figure(t, id, label, "MiB", &peak[k], cf__bench_no_target);
        free(label);
        label = cf__bench_xasprintf("%s: elements mapped", pool);
        snprintf(id, sizeof id, "%s.rate", kinds[k]);
        cf__bench_table_figure(t, id, label, "M elem/s", &rate[k], cf__bench_no_target);
        free(label);
        cf__bench_series_free(&growth[k]);
        cf__bench_series_free(&peak[k]);
        cf__bench_series_free(&rate[k]);
    }
    cf__bench_table_note(t, "Ceiling on the growth: 2 x the window (%u chunks in flight x %d "
                            "elements x %zu bytes: input copy, result, status = %.1f MiB) + a "
                            "fixed %u MiB for the pool's buffers and the allocator = %.1f MiB, "
                            "whatever the element count; the input and the results in full "
                            "would take %.0f MiB.",
                         BOUNDED_CHUNKS_PER_WORKER * o->threads, BOUNDED_CHUNK,
                         BOUNDED_ELEMENT_BYTES, (double)window / (1 << 20),
                         BOUNDED_ALLOWANCE >> 20, ceiling_mib,
                         (double)o->bounded_elements * 2 * sizeof(int) / (1 << 20));
    cf__bench_table_note(t, "Each run is a fresh process (cf-bench --child map bounded-<pool>): "
                            "VmRSS before the map, VmHWM after it%s; the source writes each "
                            "element on demand and the chunk callback checks every result. "
                            "Worker processes are not counted (they map the same window).",
                         reset_everywhere ? ", reset through /proc/self/clear_refs just "
                                            "before the map"
                                          : " (VmHWM could not be reset: the growth may "
                                            "include the start-up peak)");
}

static void map_run(const cf__bench_options *o, cf__bench_report *rep)
{
    sin_table(o, rep);
    empty_table(o, rep);
    chunks_table(o, rep);
    bounded_table(o, rep);
}

static int map_child(const char *argument, size_t count)
{
    return bounded_serve(argument, count);
}

const cf__bench_section cf__bench_map_section = {
    .name = "map",
    .run = map_run,
    .child = map_child,
};
