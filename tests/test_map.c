/* test_map.c: map and starmap over arrays (map.h), each test run on a thread
 * pool and on a process pool (Check loop tests: _i is the executor kind):
 * zip over 1, 2 and 8 parameters, struct parameters, tasks without
 * parameters and void tasks, argument tuples, the _async forms, the
 * unordered and ordered chunk callbacks, generated (lazy) input with its
 * bound on chunks in flight, progress counts, sizes (0, 1, not a multiple
 * of the chunk size, chunks larger than the input, chunks of one), failing
 * elements in both error modes, crashing elements (process pools), time
 * limits, argument errors, maps started from the executor's own threads,
 * and maps meeting a shut-down executor.
 *
 * Tasks run in other threads or processes, so what they must tell the test
 * goes through `shared`, an anonymous shared mapping made before the pool
 * (forked workers inherit it). No test waits on time passing: elements that
 * must be held wait on a flag that the test (or a callback) raises, and
 * elements that must take a while poll a flag that is never raised for a
 * bounded time. Assertions are on codes, statuses and counts, never on
 * elapsed time.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cfutures.h>

#include "support.h"

/* ---- Executors and shared state ------------------------------------------------------ */

enum { THREADS = 0, PROCESSES = 1, KINDS = 2 };

static const char *const kind_names[KINDS] = {"thread_pool", "process_pool"};

static cf_executor *new_pool(int kind, size_t workers)
{
    cf_executor *ex = kind == THREADS ? new_thread_pool_of(workers) : new_process_pool_of(workers);
    ck_assert_str_eq(cf_executor_kind(ex), kind_names[kind]);
    return ex;
}

static void free_pool(cf_executor *ex)
{
    ck_assert_int_eq(cf_executor_shutdown(ex, CF_SHUTDOWN_WAIT, DEADLINE_S), 0);
    cf_executor_free(ex);
}

/* The most elements a test maps while tasks count runs per element. */
#define MAX_N 4096

/* What tasks tell the test, from any thread or process: made before the
 * pool, in the test's process (a checked fixture), so workers share it. */
typedef struct shared_state {
    _Atomic uint32_t runs[MAX_N]; /* runs of each element (tasks that count) */
    _Atomic uint32_t ticks;       /* runs of the task without parameters */
    _Atomic int32_t running;      /* elements of `slow` running now */
    _Atomic uint32_t started;     /* elements of `stuck` that started */
    _Atomic uint32_t gate;        /* held elements go once it is nonzero */
    _Atomic uint32_t holding;     /* element 0 of hold_first waits for the gate */
    _Atomic uint32_t never;       /* never raised: what slow elements poll */
} shared_state;

static shared_state *shared;

static void map_shared_state(void)
{
    void *p = mmap(NULL, sizeof *shared, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ck_assert_ptr_ne(p, MAP_FAILED);
    shared = p;
}

static void unmap_shared_state(void)
{
    munmap(shared, sizeof *shared);
    shared = NULL;
}

/* ---- Tasks ------------------------------------------------------------------------- */

static int64_t triple(int64_t x)
{
    return 3 * x + 1;
}
CF_TASK(int64_t, triple, int64_t);

static double affine(double a, double b)
{
    return 2.0 * a + b;
}
CF_TASK(double, affine, double, double);

CF_TASK(uint64_t, mix8, int8_t, uint16_t, int32_t, uint64_t, float, double, bool, int64_t);

typedef struct point {
    int32_t x, y;
} point;

static int64_t cross(point p, point q)
{
    return (int64_t)p.x * q.y - (int64_t)p.y * q.x;
}
CF_TASK(int64_t, cross, point, point);

/* No parameters: counts its runs. */
static int32_t tick(void)
{
    atomic_fetch_add(&shared->ticks, 1);
    return 7;
}
CF_TASK(int32_t, tick);

/* No result: counts the runs of element i. */
static void mark(int32_t i)
{
    if (i >= 0 && i < MAX_N)
        atomic_fetch_add(&shared->runs[i], 1);
}
CF_TASK(void, mark, int32_t);

/* 2x, or a failure (cf_task_fail with code 42) when `bad` is nonzero. */
static int32_t fail_when(int32_t x, int32_t bad)
{
    if (bad != 0) {
        cf_task_fail(42, "value %d is bad", x);
        return -1;
    }
    return 2 * x;
}
CF_TASK(int32_t, fail_when, int32_t, int32_t);

enum { CRASH_NONE = 0, CRASH_ABORT = 1, CRASH_KILL = 2 };

/* 2x + 1, or the worker dies in it the way `how` says. */
static int32_t crash_when(int32_t x, int32_t how)
{
    if (how == CRASH_ABORT)
        abort();
    if (how == CRASH_KILL)
        raise(SIGKILL);
    return 2 * x + 1;
}
CF_TASK(int32_t, crash_when, int32_t, int32_t);

/* Takes a while: polls a flag nobody raises for 20 ms, then returns x. */
static int32_t slow(int32_t x)
{
    atomic_fetch_add(&shared->running, 1);
    double until = now_s() + 0.02;
    while (atomic_load(&shared->never) == 0 && keep_polling(until)) {
    }
    atomic_fetch_sub(&shared->running, 1);
    return x;
}
CF_TASK(int32_t, slow, int32_t);

/* Never returns (process pools only: the pool must kill its worker). */
static int32_t stuck(int32_t x)
{
    atomic_fetch_add(&shared->started, 1);
    for (;;)
        pause();
    return x;
}
CF_TASK(int32_t, stuck, int32_t);

/* Element 0 says it is holding, then waits (at most DEADLINE_S) for the
 * gate; element `opener` opens it. Returns x. */
static int32_t hold_first(int32_t x, int32_t opener)
{
    if (x == opener)
        atomic_store(&shared->gate, 1);
    if (x == 0) {
        atomic_store(&shared->holding, 1);
        double until = now_s() + DEADLINE_S;
        while (atomic_load(&shared->gate) == 0 && keep_polling(until)) {
        }
    }
    return x;
}
CF_TASK(int32_t, hold_first, int32_t, int32_t);

static const char *const names[3] = {"zero", "one", "two"};

static const char *name_of(int32_t i)
{
    return names[i % 3];
}
CF_TASK(const char *, name_of, int32_t);

/* A digest of a string (NULL allowed) and a byte buffer. */
static uint64_t digest(const char *s, cf_bytes b)
{
    uint64_t h = s == NULL ? UINT64_MAX : fnv1a(s, strlen(s)) ^ strlen(s);
    return h * 31u + (b.len == 0 ? 0 : fnv1a(b.data, b.len)) + b.len;
}
CF_TASK(uint64_t, digest, const char *, cf_bytes);

static int32_t deref(const int32_t *p)
{
    return *p;
}
CF_TASK(int32_t, deref, const int32_t *);

/* ---- What a map's callbacks saw --------------------------------------------------------- */

typedef struct seen {
    size_t n;             /* the map's elements (a generated map's: the source's count) */
    const void *expected; /* n expected results of result_size bytes, or NULL */
    size_t result_size;
    unsigned char covered[MAX_N]; /* chunks that delivered each element */
    size_t chunks;                /* on_chunk calls */
    size_t first_begin;           /* the first delivered chunk's first element */
    size_t next_begin;            /* where the previous chunk ended */
    bool out_of_order;            /* a chunk did not start where the previous one ended */
    bool bad_bounds;              /* a chunk was empty or went past n */
    size_t wrong_results;         /* delivered results that were not the expected ones */
    size_t null_results;          /* chunks delivered with results NULL */
    size_t failed;                /* sum of the chunks' failed counts */
    size_t progress_calls;
    size_t last_done;
    bool done_decreased;
    size_t bad_totals;         /* progress calls whose total was neither n nor allowed */
    bool total_may_be_unknown; /* a generated map: SIZE_MAX is a fine total */
} seen;

static void seen_init(seen *s, size_t n, const void *expected, size_t result_size)
{
    memset(s, 0, sizeof *s);
    ck_assert_uint_le(n, MAX_N);
    s->n = n;
    s->expected = expected;
    s->result_size = result_size;
    s->first_begin = SIZE_MAX;
}

static void record_chunk(const cf_map_chunk *c, void *arg)
{
    seen *s = arg;
    if (s->chunks++ == 0)
        s->first_begin = c->begin;
    if (c->begin != s->next_begin)
        s->out_of_order = true;
    s->next_begin = c->end;
    if (c->begin >= c->end || c->end > s->n) {
        s->bad_bounds = true;
        return;
    }
    s->failed += c->failed;
    if (c->results == NULL)
        s->null_results++;
    for (size_t i = c->begin; i < c->end; i++) {
        s->covered[i]++;
        if (s->expected != NULL && c->results != NULL &&
            memcmp((const char *)c->results + (i - c->begin) * s->result_size,
                   (const char *)s->expected + i * s->result_size, s->result_size) != 0)
            s->wrong_results++;
    }
}

static void record_progress(size_t done, size_t total, void *arg)
{
    seen *s = arg;
    s->progress_calls++;
    if (done < s->last_done)
        s->done_decreased = true;
    s->last_done = done;
    if (total != s->n && !(s->total_may_be_unknown && total == SIZE_MAX))
        s->bad_totals++;
}

/* Every element delivered once with its expected result (when results are
 * expected), and a progress call per chunk counting up to n of n. */
static void expect_seen_all(const seen *s, size_t chunks)
{
    ck_assert(!s->bad_bounds);
    for (size_t i = 0; i < s->n; i++)
        ck_assert_msg(s->covered[i] == 1, "element %zu was delivered %u times", i, s->covered[i]);
    ck_assert_uint_eq(s->wrong_results, 0);
    ck_assert_uint_eq(s->failed, 0);
    ck_assert_uint_eq(s->chunks, chunks);
    ck_assert_uint_eq(s->progress_calls, chunks);
    ck_assert(!s->done_decreased);
    ck_assert_uint_eq(s->last_done, s->n);
    ck_assert_uint_eq(s->bad_totals, 0);
}

/* ---- Checking outcomes -------------------------------------------------------------- */

/* Sizes every form is tried with: {elements, chunk size (0: default)}. */
static const struct size_case {
    size_t n, chunk;
} sizes[] = {
    {0, 0},   {0, 5},   {1, 0},   {1, 1}, {1000, 7}, {1000, 0}, {1000, SIZE_MAX / 2},
    {300, 1}, {64, 64}, {65, 64},
};
#define NSIZES (sizeof sizes / sizeof sizes[0])

/* How many chunks n elements are cut into; SIZE_MAX when the chunk size
 * is the library's choice. */
static size_t chunks_for(size_t n, size_t chunk)
{
    if (chunk == 0 || n == 0)
        return n == 0 ? 0 : SIZE_MAX;
    size_t cs = chunk < n ? chunk : n;
    return n / cs + (n % cs != 0);
}

/* A report of a map in which every one of n elements succeeded, in
 * `chunks` chunks (SIZE_MAX: any number between 1 and n). */
static void expect_report_success(const cf_map_report *r, size_t n, size_t chunks)
{
    ck_assert_uint_eq(r->succeeded, n);
    ck_assert_uint_eq(r->failed, 0);
    ck_assert_uint_eq(r->not_run, 0);
    ck_assert_uint_eq(r->first_failed, SIZE_MAX);
    ck_assert_int_eq(r->first_code, 0);
    if (chunks != SIZE_MAX) {
        ck_assert_uint_eq(r->chunks, chunks);
    } else {
        ck_assert_uint_ge(r->chunks, 1);
        ck_assert_uint_le(r->chunks, n);
    }
}

static void expect_statuses(const int *status, size_t n, int code)
{
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(status[i] == code, "status[%zu] = %s, expected %s", i, cf_err_name(status[i]),
                      cf_err_name(code));
}

/* The options a form test maps with: its chunk size, statuses, report and
 * both callbacks recording into `s`. */
static cf_map_options recording_options(size_t chunk, int *status, cf_map_report *report, seen *s)
{
    return (cf_map_options){.chunk_size = chunk,
                            .status = status,
                            .report = report,
                            .progress = record_progress,
                            .on_chunk = record_chunk,
                            .arg = s};
}

/* rc must be `want`; the message says what the map said. */
#define EXPECT_RC(rc, want)                                                        \
    do {                                                                           \
        int rc_ = (rc);                                                            \
        ck_assert_msg(rc_ == (want), "expected %s, got %s: %s", cf_err_name(want), \
                      cf_err_name(rc_), cf_last_error());                          \
    } while (0)

/* Whether the last error names element i of the map of `task`. */
static bool last_error_names(size_t i, const char *task)
{
    char want[128];
    snprintf(want, sizeof want, "element %zu of the map of task '%s'", i, task);
    return strstr(cf_last_error(), want) != NULL;
}

/* ---- Forms ---------------------------------------------------------------------------- */

static int64_t in64[MAX_N], out64[MAX_N], want64[MAX_N];
static double ina[MAX_N], inb[MAX_N], outd[MAX_N], wantd[MAX_N];
static int status[MAX_N];

START_TEST(map_zip_one_parameter)
{
    cf_executor *ex = new_pool(_i, 2);
    for (size_t c = 0; c < NSIZES; c++) {
        size_t n = sizes[c].n;
        for (size_t i = 0; i < n; i++) {
            in64[i] = (int64_t)i * 1000003 - 500;
            want64[i] = triple(in64[i]);
            out64[i] = INT64_MIN;
            status[i] = 12345;
        }
        out64[n] = INT64_MIN;
        cf_map_report report;
        memset(&report, 0xff, sizeof report);
        static seen s;
        seen_init(&s, n, want64, sizeof *want64);
        cf_map_options o = recording_options(sizes[c].chunk, status, &report, &s);
        EXPECT_RC(cf_map(ex, triple, &o, n, out64, in64), 0);
        for (size_t i = 0; i < n; i++)
            ck_assert_msg(out64[i] == want64[i], "n %zu chunk %zu: out[%zu] = %lld", n,
                          sizes[c].chunk, i, (long long)out64[i]);
        ck_assert_msg(out64[n] == INT64_MIN, "written past the end");
        expect_statuses(status, n, 0);
        size_t chunks = chunks_for(n, sizes[c].chunk);
        expect_report_success(&report, n, chunks);
        expect_seen_all(&s, report.chunks);
        ck_assert_uint_eq(s.null_results, 0);
    }
    free_pool(ex);
}
END_TEST

START_TEST(map_zip_two_parameters)
{
    cf_executor *ex = new_pool(_i, 2);
    for (size_t c = 0; c < NSIZES; c++) {
        size_t n = sizes[c].n;
        for (size_t i = 0; i < n; i++) {
            ina[i] = (double)i / 3.0;
            inb[i] = -(double)i * 1.5;
            wantd[i] = affine(ina[i], inb[i]);
            outd[i] = NAN;
        }
        cf_map_report report;
        static seen s;
        seen_init(&s, n, wantd, sizeof *wantd);
        cf_map_options o = recording_options(sizes[c].chunk, status, &report, &s);
        EXPECT_RC(cf_map(ex, affine, &o, n, outd, ina, inb), 0);
        for (size_t i = 0; i < n; i++)
            ck_assert_msg(outd[i] == wantd[i], "n %zu: out[%zu] = %g, want %g", n, i, outd[i],
                          wantd[i]);
        expect_statuses(status, n, 0);
        expect_report_success(&report, n, chunks_for(n, sizes[c].chunk));
        expect_seen_all(&s, report.chunks);
    }
    free_pool(ex);
}
END_TEST

/* The eight parameter arrays of mix8, and the same as tuples. */
static int8_t p0[MAX_N];
static uint16_t p1[MAX_N];
static int32_t p2[MAX_N];
static uint64_t p3[MAX_N];
static float p4[MAX_N];
static double p5[MAX_N];
static bool p6[MAX_N];
static int64_t p7[MAX_N];
static CF_ARGS(mix8) tuples8[MAX_N];
static uint64_t out8[MAX_N], want8[MAX_N];

static void fill_mix8(size_t n)
{
    for (size_t i = 0; i < n; i++) {
        p0[i] = (int8_t)(i * 7);
        p1[i] = (uint16_t)(i * 131);
        p2[i] = (int32_t)(i * 100003) - 7;
        p3[i] = (uint64_t)i << 33 | i;
        p4[i] = (float)i * 0.25f;
        p5[i] = (double)i * -1.75;
        p6[i] = i % 3 == 0;
        p7[i] = -(int64_t)i * 99991;
        tuples8[i] = (CF_ARGS(mix8)){p0[i], p1[i], p2[i], p3[i], p4[i], p5[i], p6[i], p7[i]};
        want8[i] = mix8(p0[i], p1[i], p2[i], p3[i], p4[i], p5[i], p6[i], p7[i]);
        out8[i] = 0;
    }
}

START_TEST(map_zip_eight_parameters)
{
    cf_executor *ex = new_pool(_i, 2);
    for (size_t c = 0; c < NSIZES; c++) {
        size_t n = sizes[c].n;
        fill_mix8(n);
        cf_map_report report;
        static seen s;
        seen_init(&s, n, want8, sizeof *want8);
        cf_map_options o = recording_options(sizes[c].chunk, status, &report, &s);
        EXPECT_RC(cf_map(ex, mix8, &o, n, out8, p0, p1, p2, p3, p4, p5, p6, p7), 0);
        for (size_t i = 0; i < n; i++)
            ck_assert_msg(out8[i] == want8[i], "n %zu: out[%zu] wrong", n, i);
        expect_statuses(status, n, 0);
        expect_report_success(&report, n, chunks_for(n, sizes[c].chunk));
        expect_seen_all(&s, report.chunks);
    }
    free_pool(ex);
}
END_TEST

START_TEST(map_struct_parameters)
{
    cf_executor *ex = new_pool(_i, 2);
    enum { N = 777 };
    static point ps[N], qs[N];
    for (size_t i = 0; i < N; i++) {
        ps[i] = (point){(int32_t)i, -(int32_t)i * 3};
        qs[i] = (point){(int32_t)(i * i % 1000), 17};
        want64[i] = cross(ps[i], qs[i]);
        out64[i] = 0;
    }
    cf_map_report report;
    EXPECT_RC(
        cf_map(ex, cross, &(cf_map_options){.chunk_size = 50, .report = &report}, N, out64, ps, qs),
        0);
    for (size_t i = 0; i < N; i++)
        ck_assert_int_eq(out64[i], want64[i]);
    expect_report_success(&report, N, 16);
    free_pool(ex);
}
END_TEST

START_TEST(map_without_parameters)
{
    cf_executor *ex = new_pool(_i, 2);
    static int32_t out[MAX_N];
    for (size_t c = 0; c < NSIZES; c++) {
        size_t n = sizes[c].n;
        atomic_store(&shared->ticks, 0);
        for (size_t i = 0; i < n; i++)
            out[i] = 0;
        cf_map_report report;
        EXPECT_RC(cf_map(ex, tick,
                         &(cf_map_options){.chunk_size = sizes[c].chunk, .report = &report}, n,
                         out),
                  0);
        for (size_t i = 0; i < n; i++)
            ck_assert_int_eq(out[i], 7);
        ck_assert_uint_eq(atomic_load(&shared->ticks), n);
        expect_report_success(&report, n, chunks_for(n, sizes[c].chunk));

        /* With statuses and the chunk callbacks. */
        static int32_t sevens[MAX_N];
        for (size_t i = 0; i < n; i++)
            sevens[i] = 7;
        static seen s;
        seen_init(&s, n, sevens, sizeof *sevens);
        cf_map_options o = recording_options(sizes[c].chunk, status, &report, &s);
        EXPECT_RC(cf_map(ex, tick, &o, n, out), 0);
        expect_statuses(status, n, 0);
        expect_seen_all(&s, report.chunks);
        ck_assert_uint_eq(atomic_load(&shared->ticks), 2 * n);
    }
    free_pool(ex);
}
END_TEST

START_TEST(map_void_task)
{
    cf_executor *ex = new_pool(_i, 2);
    static int32_t idx[MAX_N];
    for (size_t c = 0; c < NSIZES; c++) {
        size_t n = sizes[c].n;
        for (size_t i = 0; i < MAX_N; i++) {
            idx[i] = (int32_t)i;
            atomic_store(&shared->runs[i], 0);
        }
        cf_map_report report;
        static seen s;
        seen_init(&s, n, NULL, 0);
        cf_map_options o = recording_options(sizes[c].chunk, status, &report, &s);
        EXPECT_RC(cf_map(ex, mark, &o, n, NULL, idx), 0);
        for (size_t i = 0; i < MAX_N; i++)
            ck_assert_msg(atomic_load(&shared->runs[i]) == (i < n),
                          "n %zu: element %zu ran %u times", n, i, atomic_load(&shared->runs[i]));
        expect_statuses(status, n, 0);
        expect_report_success(&report, n, chunks_for(n, sizes[c].chunk));
        expect_seen_all(&s, report.chunks);
        ck_assert_uint_eq(s.null_results, s.chunks); /* a void task has no results */
    }
    free_pool(ex);
}
END_TEST

START_TEST(starmap_tuples)
{
    cf_executor *ex = new_pool(_i, 2);
    static CF_ARGS(affine) pairs[MAX_N];
    for (size_t c = 0; c < NSIZES; c++) {
        size_t n = sizes[c].n;
        for (size_t i = 0; i < n; i++) {
            pairs[i].a0 = (double)i * 0.5;
            pairs[i].a1 = 1000.0 - (double)i;
            wantd[i] = affine(pairs[i].a0, pairs[i].a1);
            outd[i] = NAN;
        }
        cf_map_report report;
        static seen s;
        seen_init(&s, n, wantd, sizeof *wantd);
        cf_map_options o = recording_options(sizes[c].chunk, status, &report, &s);
        EXPECT_RC(cf_starmap(ex, affine, &o, n, outd, pairs), 0);
        for (size_t i = 0; i < n; i++)
            ck_assert_msg(outd[i] == wantd[i], "n %zu: out[%zu] = %g, want %g", n, i, outd[i],
                          wantd[i]);
        expect_statuses(status, n, 0);
        expect_report_success(&report, n, chunks_for(n, sizes[c].chunk));
        expect_seen_all(&s, report.chunks);

        /* Eight parameters of different sizes and alignments in one tuple. */
        fill_mix8(n);
        seen_init(&s, n, want8, sizeof *want8);
        o = recording_options(sizes[c].chunk, status, &report, &s);
        EXPECT_RC(cf_starmap(ex, mix8, &o, n, out8, tuples8), 0);
        for (size_t i = 0; i < n; i++)
            ck_assert_msg(out8[i] == want8[i], "n %zu: out[%zu] wrong", n, i);
        expect_report_success(&report, n, chunks_for(n, sizes[c].chunk));
        expect_seen_all(&s, report.chunks);
    }
    free_pool(ex);
}
END_TEST

START_TEST(map_async_forms)
{
    cf_executor *ex = new_pool(_i, 2);
    for (size_t c = 0; c < NSIZES; c++) {
        size_t n = sizes[c].n;
        static CF_ARGS(affine) pairs[MAX_N];
        for (size_t i = 0; i < n; i++) {
            in64[i] = (int64_t)i - 17;
            want64[i] = triple(in64[i]);
            out64[i] = 0;
            pairs[i] = (CF_ARGS(affine)){(double)i, 0.25};
            wantd[i] = affine((double)i, 0.25);
            outd[i] = NAN;
        }
        cf_map_report report;
        static seen s;
        seen_init(&s, n, want64, sizeof *want64);
        cf_map_options o = recording_options(sizes[c].chunk, status, &report, &s);
        cf_future *f = NULL;
        EXPECT_RC(cf_map_async(&f, ex, triple, &o, n, out64, in64), 0);
        ck_assert_ptr_nonnull(f);
        EXPECT_RC(cf_future_result(f, NULL, DEADLINE_S), 0);
        ck_assert_ptr_null(cf_future_error(f));
        cf_future_release(f);
        for (size_t i = 0; i < n; i++)
            ck_assert_int_eq(out64[i], want64[i]);
        expect_statuses(status, n, 0);
        expect_report_success(&report, n, chunks_for(n, sizes[c].chunk));
        expect_seen_all(&s, report.chunks);

        seen_init(&s, n, wantd, sizeof *wantd);
        o = recording_options(sizes[c].chunk, status, &report, &s);
        f = NULL;
        EXPECT_RC(cf_starmap_async(&f, ex, affine, &o, n, outd, pairs), 0);
        ck_assert_ptr_nonnull(f);
        EXPECT_RC(cf_future_result(f, NULL, DEADLINE_S), 0);
        cf_future_release(f);
        for (size_t i = 0; i < n; i++)
            ck_assert(outd[i] == wantd[i]);
        expect_report_success(&report, n, chunks_for(n, sizes[c].chunk));
        expect_seen_all(&s, report.chunks);
    }
    free_pool(ex);
}
END_TEST

START_TEST(map_async_failure)
{
    cf_executor *ex = new_pool(_i, 2);
    enum { N = 200, BAD = 117 };
    static int32_t xs[N], bad[N], out[N];
    for (int32_t i = 0; i < N; i++)
        xs[i] = i, bad[i] = i == BAD;
    cf_map_report report;
    cf_future *f = NULL;
    EXPECT_RC(cf_map_async(&f, ex, fail_when, &(cf_map_options){.chunk_size = 9, .report = &report},
                           N, out, xs, bad),
              0);
    ck_assert_ptr_nonnull(f);
    EXPECT_RC(cf_future_result(f, NULL, DEADLINE_S), CF_ETASK);
    const cf_error *e = cf_future_error(f);
    ck_assert_ptr_nonnull(e);
    ck_assert_int_eq(e->code, CF_ETASK);
    ck_assert_int_eq(e->detail, 42);
    ck_assert_msg(strstr(e->message, "element 117 of the map of task 'fail_when'") != NULL,
                  "message: %s", e->message);
    ck_assert_msg(strstr(e->message, "value 117 is bad") != NULL, "message: %s", e->message);
    ck_assert_uint_eq(report.first_failed, BAD);
    ck_assert_int_eq(report.first_code, CF_ETASK);
    ck_assert_uint_eq(report.failed, 1);
    cf_future_release(f);

    /* keep_going: every other element's result is there. */
    static CF_ARGS(fail_when) tuples[N];
    for (int32_t i = 0; i < N; i++)
        tuples[i] = (CF_ARGS(fail_when)){i, i == BAD};
    EXPECT_RC(cf_starmap_async(
                  &f, ex, fail_when,
                  &(cf_map_options){
                      .chunk_size = 9, .keep_going = true, .status = status, .report = &report},
                  N, out, tuples),
              0);
    EXPECT_RC(cf_future_result(f, NULL, DEADLINE_S), CF_ETASK);
    ck_assert_msg(strstr(cf_future_error(f)->message, "element 117 ") != NULL, "message: %s",
                  cf_future_error(f)->message);
    cf_future_release(f);
    for (int32_t i = 0; i < N; i++) {
        ck_assert_int_eq(status[i], i == BAD ? CF_ETASK : 0);
        if (i != BAD)
            ck_assert_int_eq(out[i], 2 * i);
    }
    ck_assert_uint_eq(report.succeeded, N - 1);
    ck_assert_uint_eq(report.failed, 1);
    ck_assert_uint_eq(report.not_run, 0);
    free_pool(ex);
}
END_TEST

/* Chunks handed over as they finish. Element 0 (chunk 0) is held until a
 * chunk has been delivered, so the first chunk delivered cannot be chunk 0;
 * every element still arrives once, with its result. Two chunks in flight
 * on two workers: chunk 1 never waits behind chunk 0. */
static void open_gate_on_chunk(const cf_map_chunk *c, void *arg)
{
    atomic_store(&shared->gate, 1);
    record_chunk(c, arg);
}

START_TEST(map_unordered_chunks)
{
    cf_executor *ex = new_pool(_i, 2);
    enum { N = 40 };
    static int32_t xs[N], nobody[N], out[N], want[N];
    for (int32_t i = 0; i < N; i++)
        xs[i] = i, nobody[i] = -1, want[i] = i, out[i] = -1;
    atomic_store(&shared->gate, 0);
    static seen s;
    seen_init(&s, N, want, sizeof *want);
    cf_map_report report;
    EXPECT_RC(cf_map(ex, hold_first,
                     &(cf_map_options){.chunk_size = 4,
                                       .max_chunks_in_flight = 2,
                                       .report = &report,
                                       .on_chunk = open_gate_on_chunk,
                                       .progress = record_progress,
                                       .arg = &s},
                     N, out, xs, nobody),
              0);
    ck_assert_uint_ne(s.first_begin, 0);
    ck_assert(s.out_of_order);
    for (int32_t i = 0; i < N; i++)
        ck_assert_int_eq(out[i], i);
    expect_report_success(&report, N, 10);
    expect_seen_all(&s, 10);

    /* A NULL out: chunks come without results. */
    atomic_store(&shared->gate, 0);
    seen_init(&s, N, NULL, 0);
    EXPECT_RC(cf_map(ex, hold_first,
                     &(cf_map_options){.chunk_size = 3,
                                       .max_chunks_in_flight = 2,
                                       .on_chunk = open_gate_on_chunk,
                                       .progress = record_progress,
                                       .arg = &s},
                     N, NULL, xs, nobody),
              0);
    expect_seen_all(&s, 14);
    ck_assert_uint_eq(s.null_results, 14);
    free_pool(ex);
}
END_TEST

/* ordered_chunks: element 0 is held until the last element of chunk 1 has
 * run (on the other worker), so chunk 0 finishes after chunk 1; chunks are
 * still delivered in input order. */
START_TEST(map_ordered_chunks)
{
    cf_executor *ex = new_pool(_i, 2);
    enum { N = 30, CHUNK = 3 };
    static CF_ARGS(hold_first) holds[N];
    static int32_t out[N], want[N];
    for (int32_t i = 0; i < N; i++) {
        holds[i] = (CF_ARGS(hold_first)){i, 2 * CHUNK - 1};
        want[i] = i;
    }
    atomic_store(&shared->gate, 0);
    static seen s;
    seen_init(&s, N, want, sizeof *want);
    cf_map_report report;
    EXPECT_RC(cf_starmap(ex, hold_first,
                         &(cf_map_options){.chunk_size = CHUNK,
                                           .max_chunks_in_flight = 2,
                                           .ordered_chunks = true,
                                           .report = &report,
                                           .on_chunk = record_chunk,
                                           .progress = record_progress,
                                           .arg = &s},
                         N, out, holds),
              0);
    ck_assert(!s.out_of_order);
    ck_assert_uint_eq(s.first_begin, 0);
    ck_assert_uint_eq(s.next_begin, N);
    expect_seen_all(&s, N / CHUNK);
    expect_report_success(&report, N, N / CHUNK);
    for (int32_t i = 0; i < N; i++)
        ck_assert_int_eq(out[i], i);

    /* The asynchronous form, and every size. */
    for (size_t c = 0; c < NSIZES; c++) {
        size_t n = sizes[c].n;
        for (size_t i = 0; i < n; i++) {
            in64[i] = (int64_t)i;
            want64[i] = triple((int64_t)i);
        }
        seen_init(&s, n, want64, sizeof *want64);
        cf_map_options o = recording_options(sizes[c].chunk, status, &report, &s);
        o.ordered_chunks = true;
        cf_future *f;
        EXPECT_RC(cf_map_async(&f, ex, triple, &o, n, out64, in64), 0);
        EXPECT_RC(cf_future_result(f, NULL, DEADLINE_S), 0);
        cf_future_release(f);
        ck_assert(!s.out_of_order);
        ck_assert_uint_eq(s.next_begin, n);
        expect_seen_all(&s, report.chunks);
    }
    free_pool(ex);
}
END_TEST

/* ---- Generated input ---------------------------------------------------------------- */

typedef struct generator {
    size_t total;     /* elements the source produces */
    size_t produced;  /* produced so far */
    size_t in_flight; /* chunks produced and not yet delivered */
    size_t most_in_flight;
    size_t most_asked; /* the largest `max` the source was given */
    size_t per_call;   /* the most elements one call gives (0: as many as asked) */
    bool bad_first;    /* the source was asked for elements out of sequence */
    bool ended;        /* the source returned 0 */
    bool called_after_end;
    seen s;
} generator;

/* Elements i: affine(i, 0.5). */
static size_t produce(void *tuples, size_t max, size_t first, void *arg)
{
    generator *g = arg;
    if (g->ended)
        g->called_after_end = true;
    if (first != g->produced)
        g->bad_first = true;
    if (max > g->most_asked)
        g->most_asked = max;
    size_t count = g->total - g->produced < max ? g->total - g->produced : max;
    if (g->per_call > 0 && count > g->per_call)
        count = g->per_call;
    CF_ARGS(affine) *t = tuples;
    for (size_t j = 0; j < count; j++)
        t[j] = (CF_ARGS(affine)){(double)(first + j), 0.5};
    g->produced += count;
    if (count == 0) {
        g->ended = true;
        return 0;
    }
    if (++g->in_flight > g->most_in_flight)
        g->most_in_flight = g->in_flight;
    return count;
}

static void consume(const cf_map_chunk *c, void *arg)
{
    generator *g = arg;
    g->in_flight--;
    record_chunk(c, &g->s);
}

static void generated_progress(size_t done, size_t total, void *arg)
{
    generator *g = arg;
    /* SIZE_MAX while the end is not known; the count once it may be. */
    if (total != SIZE_MAX && g->produced < g->total)
        g->s.bad_totals++;
    record_progress(done, total, &g->s);
}

static void run_generated(cf_executor *ex, size_t total, size_t chunk, size_t bound, bool ordered)
{
    static generator g;
    memset(&g, 0, sizeof g);
    g.total = total;
    for (size_t i = 0; i < total; i++)
        wantd[i] = affine((double)i, 0.5);
    seen_init(&g.s, total, wantd, sizeof *wantd);
    g.s.total_may_be_unknown = true;
    cf_map_report report;
    cf_map_options o = {.chunk_size = chunk,
                        .max_chunks_in_flight = bound,
                        .report = &report,
                        .on_chunk = consume,
                        .progress = generated_progress,
                        .ordered_chunks = ordered,
                        .arg = &g};
    EXPECT_RC(cf_map_generate(ex, affine, &o, produce, &g), 0);
    ck_assert(!g.bad_first);
    ck_assert(!g.called_after_end);
    ck_assert_uint_eq(g.produced, total);
    ck_assert_uint_eq(g.in_flight, 0);
    ck_assert_msg(g.most_in_flight <= bound, "%zu chunks in flight, bound %zu", g.most_in_flight,
                  bound);
    size_t chunks = total / chunk + (total % chunk != 0);
    expect_report_success(&report, total, chunks);
    expect_seen_all(&g.s, chunks);
    ck_assert_uint_eq(g.s.null_results, 0);
    if (ordered)
        ck_assert(!g.s.out_of_order);
}

START_TEST(map_generate)
{
    cf_executor *ex = new_pool(_i, 2);
    run_generated(ex, 1000, 16, 3, false);
    run_generated(ex, 1000, 16, 3, true);
    run_generated(ex, 0, 16, 3, false);
    run_generated(ex, 1, 16, 1, false);
    run_generated(ex, 48, 16, 1, false);
    run_generated(ex, 49, 1, 2, true);
    run_generated(ex, 3000, 1000, 2, false);
    free_pool(ex);
}
END_TEST

/* The default chunk size of a generated map: 4096 elements, which is the
 * most the source is asked for at a time. */
START_TEST(map_generate_defaults)
{
    cf_executor *ex = new_pool(_i, 2);
    static generator g;
    memset(&g, 0, sizeof g);
    g.total = MAX_N;
    for (size_t i = 0; i < MAX_N; i++)
        wantd[i] = affine((double)i, 0.5);
    seen_init(&g.s, MAX_N, wantd, sizeof *wantd);
    g.s.total_may_be_unknown = true;
    cf_map_options o = {.on_chunk = consume, .progress = generated_progress, .arg = &g};
    EXPECT_RC(cf_map_generate(ex, affine, &o, produce, &g), 0);
    ck_assert_uint_eq(g.produced, MAX_N);
    ck_assert_uint_eq(g.most_asked, 4096);
    ck_assert(!g.s.bad_bounds);
    for (size_t i = 0; i < MAX_N; i++)
        ck_assert_uint_eq(g.s.covered[i], 1);
    ck_assert_uint_eq(g.s.wrong_results, 0);
    ck_assert_uint_eq(g.s.last_done, MAX_N);
    free_pool(ex);
}
END_TEST

/* A source that gives fewer elements than asked for has not ended: only
 * 0 ends the input. */
START_TEST(map_generate_short_reads)
{
    cf_executor *ex = new_pool(_i, 2);
    static generator g;
    memset(&g, 0, sizeof g);
    g.total = 100;
    g.per_call = 5;
    for (size_t i = 0; i < g.total; i++)
        wantd[i] = affine((double)i, 0.5);
    seen_init(&g.s, g.total, wantd, sizeof *wantd);
    g.s.total_may_be_unknown = true;
    cf_map_report report;
    cf_map_options o = {.chunk_size = 16, .report = &report, .on_chunk = consume, .arg = &g};
    EXPECT_RC(cf_map_generate(ex, affine, &o, produce, &g), 0);
    ck_assert_msg(g.ended, "the source was not asked again after %zu elements", g.produced);
    ck_assert_uint_eq(g.produced, g.total);
    ck_assert_uint_eq(report.succeeded, g.total);
    for (size_t i = 0; i < g.total; i++)
        ck_assert_uint_eq(g.s.covered[i], 1);
    ck_assert_uint_eq(g.s.wrong_results, 0);
    free_pool(ex);
}
END_TEST

static size_t produce_nothing(void *tuples, size_t max, size_t first, void *arg)
{
    (void)tuples, (void)max, (void)first, (void)arg;
    return 0;
}

static void ignore_chunk(const cf_map_chunk *c, void *arg)
{
    (void)c, (void)arg;
}

START_TEST(map_generate_errors)
{
    cf_executor *ex = new_pool(_i, 1);
    cf_map_options o = {.on_chunk = ignore_chunk};
    EXPECT_RC(cf_map_generate(ex, affine, &o, NULL, NULL), CF_EINVAL);
    EXPECT_RC(cf_map_generate(ex, affine, NULL, produce_nothing, NULL), CF_EINVAL);
    EXPECT_RC(cf_map_generate(ex, affine, &(cf_map_options){0}, produce_nothing, NULL), CF_EINVAL);
    EXPECT_RC(cf_map_generate(ex, affine,
                              &(cf_map_options){.on_chunk = ignore_chunk, .status = status},
                              produce_nothing, NULL),
              CF_EINVAL);
    EXPECT_RC(cf_map_generate(ex, tick, &o, produce_nothing, NULL), CF_EINVAL);
    EXPECT_RC(cf_map_generate(NULL, affine, &o, produce_nothing, NULL), CF_EINVAL);
    EXPECT_RC(cf_map_generate(ex, affine,
                              &(cf_map_options){.on_chunk = ignore_chunk, .timeout = NAN},
                              produce_nothing, NULL),
              CF_EINVAL);
    EXPECT_RC(cf_map_generate(ex, affine, &o, produce_nothing, NULL), 0);
    free_pool(ex);
}
END_TEST

/* A generated map with a failing element: stop mode stops it there, and
 * the counts add up to what the source produced; keep_going runs all. */
typedef struct failing_source {
    size_t total, bad, produced;
} failing_source;

static size_t produce_failing(void *tuples, size_t max, size_t first, void *arg)
{
    failing_source *src = arg;
    size_t count = src->total - first < max ? src->total - first : max;
    CF_ARGS(fail_when) *t = tuples;
    for (size_t j = 0; j < count; j++)
        t[j] = (CF_ARGS(fail_when)){(int32_t)(first + j), first + j == src->bad};
    src->produced += count;
    return count;
}

static void count_failed(const cf_map_chunk *c, void *arg)
{
    *(size_t *)arg += c->failed;
}

START_TEST(map_generate_failure)
{
    cf_executor *ex = new_pool(_i, 2);
    failing_source src = {.total = 1000, .bad = 100};
    size_t failed = 0;
    cf_map_report report;
    EXPECT_RC(cf_map_generate(ex, fail_when,
                              &(cf_map_options){.chunk_size = 16,
                                                .report = &report,
                                                .on_chunk = count_failed,
                                                .arg = &failed},
                              produce_failing, &src),
              CF_ETASK);
    ck_assert_msg(last_error_names(100, "fail_when"), "last error: %s", cf_last_error());
    ck_assert_uint_eq(report.first_failed, 100);
    ck_assert_int_eq(report.first_code, CF_ETASK);
    ck_assert_uint_eq(report.failed, 1);
    ck_assert_msg(report.succeeded + report.failed + report.not_run == src.produced,
                  "succeeded %zu + failed %zu + not run %zu != produced %zu", report.succeeded,
                  report.failed, report.not_run, src.produced);

    src = (failing_source){.total = 1000, .bad = 100};
    failed = 0;
    EXPECT_RC(cf_map_generate(ex, fail_when,
                              &(cf_map_options){.chunk_size = 16,
                                                .keep_going = true,
                                                .report = &report,
                                                .on_chunk = count_failed,
                                                .arg = &failed},
                              produce_failing, &src),
              CF_ETASK);
    ck_assert_uint_eq(src.produced, 1000);
    ck_assert_uint_eq(failed, 1);
    ck_assert_uint_eq(report.succeeded, 999);
    ck_assert_uint_eq(report.failed, 1);
    ck_assert_uint_eq(report.not_run, 0);
    ck_assert_uint_eq(report.first_failed, 100);
    free_pool(ex);
}
END_TEST

/* ---- Failures ------------------------------------------------------------------------ */

static int32_t xs[MAX_N], flags[MAX_N], out32[MAX_N];

/* n elements of fail_when; elements listed in bad[] fail. */
static void fill_failing(size_t n, const size_t *bad, size_t nbad)
{
    for (size_t i = 0; i < n; i++) {
        xs[i] = (int32_t)i;
        flags[i] = 0;
        out32[i] = -1;
        status[i] = 12345;
    }
    for (size_t b = 0; b < nbad; b++)
        flags[bad[b]] = 1;
}

/* Default mode, one worker: chunks run one after another, so every element
 * before the failing one succeeded and none after it started. */
START_TEST(map_failure_stops)
{
    cf_executor *ex = new_pool(_i, 1);
    enum { N = 100, BAD = 37 };
    fill_failing(N, (size_t[]){BAD, 60}, 2);
    cf_map_report report;
    static seen s;
    seen_init(&s, N, NULL, 0);
    cf_map_options o = recording_options(10, status, &report, &s);
    EXPECT_RC(cf_map(ex, fail_when, &o, N, out32, xs, flags), CF_ETASK);
    ck_assert_msg(last_error_names(BAD, "fail_when"), "last error: %s", cf_last_error());
    ck_assert_msg(strstr(cf_last_error(), "value 37 is bad") != NULL, "last error: %s",
                  cf_last_error());
    for (size_t i = 0; i < N; i++) {
        int want = i < BAD ? 0 : i == BAD ? CF_ETASK : CF_ECANCELLED;
        ck_assert_msg(status[i] == want, "status[%zu] = %s", i, cf_err_name(status[i]));
        if (i < BAD)
            ck_assert_int_eq(out32[i], 2 * (int32_t)i);
    }
    ck_assert_uint_eq(report.succeeded, BAD);
    ck_assert_uint_eq(report.failed, 1);
    ck_assert_uint_eq(report.not_run, N - BAD - 1);
    ck_assert_uint_eq(report.first_failed, BAD);
    ck_assert_int_eq(report.first_code, CF_ETASK);
    /* The chunks delivered hold every element that ran; the elements of
     * theirs that did not succeed are the failing one and those after it. */
    size_t delivered = 0;
    for (size_t i = 0; i < N; i++)
        delivered += s.covered[i];
    ck_assert_uint_ge(delivered, BAD + 1);
    ck_assert_uint_eq(s.failed, delivered - BAD);
    ck_assert_uint_le(s.last_done, N);
    ck_assert(!s.done_decreased);

    /* The executor is fine afterwards. */
    fill_failing(N, NULL, 0);
    EXPECT_RC(cf_map(ex, fail_when, NULL, N, out32, xs, flags), 0);
    for (size_t i = 0; i < N; i++)
        ck_assert_int_eq(out32[i], 2 * (int32_t)i);
    free_pool(ex);
}
END_TEST

/* Default mode, several workers: only what the contract promises. The
 * failing element failed and is the map's error; every other element
 * either succeeded (with its result) or never ran; the counts agree. */
START_TEST(map_failure_stops_parallel)
{
    cf_executor *ex = new_pool(_i, 2);
    enum { N = 1000, BAD = 421 };
    fill_failing(N, (size_t[]){BAD}, 1);
    cf_map_report report;
    EXPECT_RC(cf_map(ex, fail_when,
                     &(cf_map_options){.chunk_size = 8, .status = status, .report = &report}, N,
                     out32, xs, flags),
              CF_ETASK);
    ck_assert_msg(last_error_names(BAD, "fail_when"), "last error: %s", cf_last_error());
    size_t ok = 0, cancelled = 0;
    for (size_t i = 0; i < N; i++) {
        if (i == BAD) {
            ck_assert_int_eq(status[i], CF_ETASK);
        } else if (status[i] == 0) {
            ok++;
            ck_assert_int_eq(out32[i], 2 * (int32_t)i);
        } else {
            ck_assert_msg(status[i] == CF_ECANCELLED, "status[%zu] = %s", i,
                          cf_err_name(status[i]));
            cancelled++;
        }
    }
    ck_assert_uint_gt(cancelled, 0); /* the chunk's own elements after BAD */
    ck_assert_uint_eq(report.succeeded, ok);
    ck_assert_uint_eq(report.not_run, cancelled);
    ck_assert_uint_eq(report.failed, 1);
    ck_assert_uint_eq(report.first_failed, BAD);
    ck_assert_int_eq(report.first_code, CF_ETASK);
    free_pool(ex);
}
END_TEST

START_TEST(map_failure_keep_going)
{
    cf_executor *ex = new_pool(_i, 2);
    enum { N = 500 };
    const size_t bad[] = {499, 3, 250, 251, 0};
    fill_failing(N, bad, 5);
    cf_map_report report;
    static seen s;
    seen_init(&s, N, NULL, 0);
    cf_map_options o = recording_options(7, status, &report, &s);
    o.keep_going = true;
    EXPECT_RC(cf_map(ex, fail_when, &o, N, out32, xs, flags), CF_ETASK);
    ck_assert_msg(last_error_names(0, "fail_when"), "last error: %s", cf_last_error());
    for (size_t i = 0; i < N; i++) {
        ck_assert_int_eq(status[i], flags[i] ? CF_ETASK : 0);
        if (!flags[i])
            ck_assert_int_eq(out32[i], 2 * (int32_t)i);
    }
    ck_assert_uint_eq(report.succeeded, N - 5);
    ck_assert_uint_eq(report.failed, 5);
    ck_assert_uint_eq(report.not_run, 0);
    ck_assert_uint_eq(report.first_failed, 0);
    ck_assert_int_eq(report.first_code, CF_ETASK);
    ck_assert_uint_eq(report.chunks, N / 7 + 1);
    /* Every chunk delivered once, with its failures counted. */
    for (size_t i = 0; i < N; i++)
        ck_assert_uint_eq(s.covered[i], 1);
    ck_assert_uint_eq(s.failed, 5);
    ck_assert_uint_eq(s.progress_calls, report.chunks);
    ck_assert_uint_eq(s.last_done, N);
    ck_assert(!s.done_decreased);

    /* The lowest failing element is reported whatever order chunks end in. */
    fill_failing(N, (size_t[]){480}, 1);
    o = (cf_map_options){.chunk_size = 1, .keep_going = true, .report = &report};
    EXPECT_RC(cf_map(ex, fail_when, &o, N, out32, xs, flags), CF_ETASK);
    ck_assert_msg(last_error_names(480, "fail_when"), "last error: %s", cf_last_error());
    ck_assert_uint_eq(report.first_failed, 480);
    ck_assert_uint_eq(report.succeeded, N - 1);
    free_pool(ex);
}
END_TEST

/* ---- Crashes (process pools) -------------------------------------------------------- */

static int32_t how[MAX_N];

/* n elements of crash_when; element `bad` dies the way `kind` says. */
static void fill_crashing(size_t n, size_t bad, int kind)
{
    for (size_t i = 0; i < n; i++) {
        xs[i] = (int32_t)i;
        how[i] = i == bad ? kind : CRASH_NONE;
        out32[i] = -1;
        status[i] = 12345;
    }
}

static void expect_pool_works(cf_executor *ex)
{
    enum { N = 333 };
    for (size_t i = 0; i < N; i++) {
        in64[i] = (int64_t)i;
        out64[i] = 0;
    }
    EXPECT_RC(cf_map(ex, triple, &(cf_map_options){.chunk_size = 10}, N, out64, in64), 0);
    for (size_t i = 0; i < N; i++)
        ck_assert_int_eq(out64[i], triple((int64_t)i));
}

/* _i: CRASH_ABORT or CRASH_KILL. One worker, so the chunks before the
 * crashing one ran first. */
START_TEST(map_crash_stops)
{
    cf_executor *ex = new_pool(PROCESSES, 1);
    enum { N = 60, BAD = 23 };
    fill_crashing(N, BAD, _i);
    cf_map_report report;
    EXPECT_RC(cf_map(ex, crash_when,
                     &(cf_map_options){.chunk_size = 10, .status = status, .report = &report}, N,
                     out32, xs, how),
              CF_ECRASHED);
    ck_assert_msg(last_error_names(BAD, "crash_when"), "last error: %s", cf_last_error());
    size_t ok = 0, cancelled = 0;
    for (size_t i = 0; i < N; i++) {
        if (i < BAD) {
            ck_assert_msg(status[i] == 0, "status[%zu] = %s", i, cf_err_name(status[i]));
        } else if (i == BAD) {
            ck_assert_int_eq(status[i], CF_ECRASHED);
            continue;
        }
        /* After it: the rest of its chunk never ran; later chunks may have
         * started on the new worker before the map heard of the crash. */
        if (status[i] == 0) {
            ok++;
            ck_assert_int_eq(out32[i], 2 * (int32_t)i + 1);
        } else {
            ck_assert_msg(status[i] == CF_ECANCELLED, "status[%zu] = %s", i,
                          cf_err_name(status[i]));
            cancelled++;
        }
    }
    for (size_t i = BAD + 1; i < 30; i++)
        ck_assert_int_eq(status[i], CF_ECANCELLED);
    ck_assert_uint_eq(report.succeeded, ok);
    ck_assert_uint_eq(report.failed, 1);
    ck_assert_uint_eq(report.not_run, cancelled);
    ck_assert_uint_eq(report.first_failed, BAD);
    ck_assert_int_eq(report.first_code, CF_ECRASHED);
    expect_pool_works(ex);
    free_pool(ex);
}
END_TEST

/* keep_going: the rest of the crashed chunk runs again; every other
 * element succeeds, and the pool goes on working. */
START_TEST(map_crash_keep_going)
{
    cf_executor *ex = new_pool(PROCESSES, 2);
    enum { N = 100, BAD = 43, CHUNK = 10 };
    fill_crashing(N, BAD, _i);
    cf_map_report report;
    static seen s;
    seen_init(&s, N, NULL, 0);
    cf_map_options o = recording_options(CHUNK, status, &report, &s);
    o.keep_going = true;
    EXPECT_RC(cf_map(ex, crash_when, &o, N, out32, xs, how), CF_ECRASHED);
    ck_assert_msg(last_error_names(BAD, "crash_when"), "last error: %s", cf_last_error());
    for (size_t i = 0; i < N; i++) {
        ck_assert_msg(status[i] == (i == BAD ? CF_ECRASHED : 0), "status[%zu] = %s", i,
                      cf_err_name(status[i]));
        if (i != BAD)
            ck_assert_int_eq(out32[i], 2 * (int32_t)i + 1);
    }
    ck_assert_uint_eq(report.succeeded, N - 1);
    ck_assert_uint_eq(report.failed, 1);
    ck_assert_uint_eq(report.not_run, 0);
    ck_assert_uint_eq(report.first_failed, BAD);
    ck_assert_int_eq(report.first_code, CF_ECRASHED);
    ck_assert_uint_eq(report.chunks, N / CHUNK + 1); /* the crashed chunk's rest, again */
    for (size_t i = 0; i < N; i++)
        ck_assert_uint_eq(s.covered[i], 1);
    ck_assert_uint_eq(s.failed, 1);
    ck_assert_uint_eq(s.last_done, N);

    /* A crash in the last element of a chunk leaves nothing to run again. */
    fill_crashing(N, 2 * CHUNK - 1, _i);
    EXPECT_RC(cf_map(ex, crash_when, &o, N, out32, xs, how), CF_ECRASHED);
    for (size_t i = 0; i < N; i++)
        ck_assert_int_eq(status[i], i == 2 * CHUNK - 1 ? CF_ECRASHED : 0);
    ck_assert_uint_eq(report.chunks, N / CHUNK);
    expect_pool_works(ex);
    free_pool(ex);
}
END_TEST

START_TEST(map_crash_async)
{
    cf_executor *ex = new_pool(PROCESSES, 2);
    enum { N = 50, BAD = 31 };
    fill_crashing(N, BAD, _i);
    cf_future *f;
    EXPECT_RC(
        cf_map_async(&f, ex, crash_when, &(cf_map_options){.chunk_size = 5}, N, out32, xs, how), 0);
    EXPECT_RC(cf_future_result(f, NULL, DEADLINE_S), CF_ECRASHED);
    ck_assert_msg(strstr(cf_future_error(f)->message, "element 31 of the map") != NULL,
                  "message: %s", cf_future_error(f)->message);
    cf_future_release(f);
    expect_pool_works(ex);
    free_pool(ex);
}
END_TEST

/* ---- Time limits ---------------------------------------------------------------------- */

/* Thread pools cannot stop an element: each element takes a while, and
 * the map stops starting them at its time limit; when it returns, no
 * element is still running. */
START_TEST(map_timeout_threads)
{
    cf_executor *ex = new_pool(THREADS, 2);
    enum { N = 2000 };
    for (size_t i = 0; i < N; i++)
        xs[i] = (int32_t)i, status[i] = 12345;
    atomic_store(&shared->running, 0);
    cf_map_report report;
    EXPECT_RC(cf_map(ex, slow,
                     &(cf_map_options){
                         .chunk_size = 4, .timeout = 0.1, .status = status, .report = &report},
                     N, out32, xs),
              CF_ETIMEDOUT);
    ck_assert_msg(strstr(cf_last_error(), "timed out") != NULL, "last error: %s", cf_last_error());
    ck_assert_int_eq(atomic_load(&shared->running), 0);
    size_t ok = 0, cancelled = 0;
    for (size_t i = 0; i < N; i++) {
        if (status[i] == 0) {
            ok++;
            ck_assert_int_eq(out32[i], (int32_t)i);
        } else {
            ck_assert_msg(status[i] == CF_ECANCELLED, "status[%zu] = %s", i,
                          cf_err_name(status[i]));
            cancelled++;
        }
    }
    ck_assert_uint_gt(cancelled, 0);
    ck_assert_uint_eq(report.succeeded, ok);
    ck_assert_uint_eq(report.not_run, cancelled);
    ck_assert_uint_eq(report.failed, 0);

    /* The asynchronous form ends the same way. */
    cf_future *f;
    EXPECT_RC(cf_map_async(&f, ex, slow, &(cf_map_options){.chunk_size = 4, .timeout = 0.1}, N,
                           out32, xs),
              0);
    EXPECT_RC(cf_future_result(f, NULL, DEADLINE_S), CF_ETIMEDOUT);
    cf_future_release(f);
    ck_assert(EVENTUALLY(atomic_load(&shared->running) == 0));
    free_pool(ex);
}
END_TEST

/* Process pools stop an element blocked for good by killing its worker:
 * every element that started ends with CF_ETASKTIMEOUT, the others never
 * ran, the map ends with CF_ETIMEDOUT and the pool goes on working. */
START_TEST(map_timeout_processes)
{
    cf_executor *ex = new_pool(PROCESSES, 2);
    expect_pool_works(ex); /* the workers are up */
    enum { N = 6 };
    for (size_t i = 0; i < N; i++)
        xs[i] = (int32_t)i, status[i] = 12345;
    atomic_store(&shared->started, 0);
    cf_map_report report;
    EXPECT_RC(cf_map(ex, stuck,
                     &(cf_map_options){.chunk_size = 1,
                                       .timeout = 0.3,
                                       .status = status,
                                       .report = &report,
                                       .keep_going = _i != 0},
                     N, out32, xs),
              CF_ETIMEDOUT);
    size_t stopped = 0;
    for (size_t i = 0; i < N; i++) {
        ck_assert_msg(status[i] == CF_ETASKTIMEOUT || status[i] == CF_ECANCELLED,
                      "status[%zu] = %s", i, cf_err_name(status[i]));
        stopped += status[i] == CF_ETASKTIMEOUT;
    }
    ck_assert_uint_eq(stopped, atomic_load(&shared->started));
    ck_assert_uint_eq(report.failed, stopped);
    ck_assert_uint_eq(report.not_run, N - stopped);
    ck_assert_uint_eq(report.succeeded, 0);
    expect_pool_works(ex);

    /* The asynchronous form: the time limit is kept without a waiting
     * caller. */
    cf_future *f;
    EXPECT_RC(
        cf_map_async(&f, ex, stuck,
                     &(cf_map_options){.chunk_size = 1, .timeout = 0.3, .keep_going = _i != 0}, N,
                     out32, xs),
        0);
    EXPECT_RC(cf_future_result(f, NULL, DEADLINE_S), CF_ETIMEDOUT);
    cf_future_release(f);
    expect_pool_works(ex);
    free_pool(ex);
}
END_TEST

/* A time limit that is not reached changes nothing; CF_FOREVER is none. */
START_TEST(map_timeout_not_reached)
{
    cf_executor *ex = new_pool(_i, 2);
    enum { N = 500 };
    for (size_t i = 0; i < N; i++)
        in64[i] = (int64_t)i;
    const double limits[] = {DEADLINE_S, CF_FOREVER, 1e12};
    for (size_t l = 0; l < 3; l++) {
        memset(out64, 0, sizeof out64);
        cf_map_report report;
        EXPECT_RC(cf_map(ex, triple, &(cf_map_options){.timeout = limits[l], .report = &report}, N,
                         out64, in64),
                  0);
        for (size_t i = 0; i < N; i++)
            ck_assert_int_eq(out64[i], triple((int64_t)i));
        expect_report_success(&report, N, SIZE_MAX);
    }
    free_pool(ex);
}
END_TEST

/* The executor shut down (cancelling what waits) while a map runs: the map
 * ends, every element either ran or is reported as never run. */
START_TEST(map_shutdown_during_map)
{
    cf_executor *ex = new_pool(_i, 1);
    enum { N = 100 };
    static CF_ARGS(hold_first) holds[N];
    for (int32_t i = 0; i < N; i++) {
        holds[i] = (CF_ARGS(hold_first)){i, -1};
        out32[i] = -1;
    }
    atomic_store(&shared->gate, 0);
    cf_map_report report;
    cf_future *f;
    EXPECT_RC(cf_starmap_async(&f, ex, hold_first,
                               &(cf_map_options){.chunk_size = 5,
                                                 .max_chunks_in_flight = 4,
                                                 .status = status,
                                                 .report = &report},
                               N, out32, holds),
              0);
    ck_assert(EVENTUALLY(atomic_load(&shared->holding) != 0));
    ck_assert_int_eq(cf_executor_shutdown(ex, CF_SHUTDOWN_CANCEL_FUTURES, 0), 0);
    atomic_store(&shared->gate, 1);
    int rc = cf_future_result(f, NULL, DEADLINE_S);
    ck_assert_msg(rc == CF_ECANCELLED || rc == CF_ESHUTDOWN, "the map ended with %s: %s",
                  cf_err_name(rc), cf_future_error(f) ? cf_future_error(f)->message : "");
    cf_future_release(f);
    size_t ok = 0, cancelled = 0;
    for (size_t i = 0; i < N; i++) {
        if (status[i] == 0) {
            ok++;
            ck_assert_int_eq(out32[i], (int32_t)i);
        } else {
            ck_assert_msg(status[i] == CF_ECANCELLED, "status[%zu] = %s", i,
                          cf_err_name(status[i]));
            cancelled++;
        }
    }
    ck_assert_int_eq(status[0], 0); /* it was running */
    ck_assert_uint_gt(cancelled, 0);
    ck_assert_uint_eq(report.succeeded, ok);
    ck_assert_uint_eq(report.not_run, cancelled);
    ck_assert_uint_eq(report.failed, 0);
    cf_executor_free(ex);
}
END_TEST

/* ---- Errors ------------------------------------------------------------------------ */

START_TEST(map_argument_errors)
{
    cf_executor *ex = new_pool(_i, 1);
    enum { N = 10 };
    for (size_t i = 0; i < N; i++)
        ina[i] = inb[i] = (double)i;
    EXPECT_RC(cf_map(NULL, affine, NULL, N, outd, ina, inb), CF_EINVAL);
    EXPECT_RC(cf_map(ex, affine, NULL, N, outd, (const double *)NULL, inb), CF_EINVAL);
    EXPECT_RC(cf_map(ex, affine, NULL, N, outd, ina, (const double *)NULL), CF_EINVAL);
    EXPECT_RC(cf_starmap(ex, affine, NULL, N, outd, (const CF_ARGS(affine) *)NULL), CF_EINVAL);
    cf_future *nf = (cf_future *)&nf;
    EXPECT_RC(cf_starmap_async(&nf, ex, affine, NULL, N, outd, (const CF_ARGS(affine) *)NULL),
              CF_EINVAL);
    ck_assert_ptr_null(nf);
    EXPECT_RC(cf_map(ex, affine, &(cf_map_options){.timeout = NAN}, N, outd, ina, inb), CF_EINVAL);
    cf_future *f = (cf_future *)&f;
    EXPECT_RC(cf_map_async(&f, NULL, affine, NULL, N, outd, ina, inb), CF_EINVAL);
    ck_assert_ptr_null(f);
    EXPECT_RC(cf_map_async(NULL, ex, affine, NULL, N, outd, ina, inb), CF_EINVAL);
    f = (cf_future *)&f;
    EXPECT_RC(cf_map_async(&f, ex, affine, &(cf_map_options){.timeout = NAN}, N, outd, ina, inb),
              CF_EINVAL);
    ck_assert_ptr_null(f);
    /* NULL arrays are fine when there are no elements; NULL out drops the
     * results. */
    EXPECT_RC(cf_map(ex, affine, NULL, 0, NULL, (const double *)NULL, (const double *)NULL), 0);
    EXPECT_RC(cf_map(ex, affine, NULL, N, NULL, ina, inb), 0);
    free_pool(ex);
}
END_TEST

/* Raw pointers only where memory is shared. */
START_TEST(map_pointer_parameter)
{
    cf_executor *ex = new_pool(_i, 2);
    enum { N = 100 };
    static int32_t values[N];
    static const int32_t *ptrs[N];
    for (int32_t i = 0; i < N; i++) {
        values[i] = i * i;
        ptrs[i] = &values[i];
        out32[i] = -1;
    }
    if (_i == PROCESSES) {
        EXPECT_RC(cf_map(ex, deref, NULL, N, out32, ptrs), CF_EUNSUPPORTED);
        ck_assert_msg(strstr(cf_last_error(), "pointer") != NULL, "last error: %s",
                      cf_last_error());
        cf_future *f = (cf_future *)&f;
        EXPECT_RC(cf_map_async(&f, ex, deref, NULL, N, out32, ptrs), CF_EUNSUPPORTED);
        ck_assert_ptr_null(f);
        for (int32_t i = 0; i < N; i++)
            ck_assert_int_eq(out32[i], -1);
    } else {
        EXPECT_RC(cf_map(ex, deref, &(cf_map_options){.chunk_size = 3}, N, out32, ptrs), 0);
        for (int32_t i = 0; i < N; i++)
            ck_assert_int_eq(out32[i], i * i);
    }
    free_pool(ex);
}
END_TEST

/* String results: a process pool cannot bring them back into an array; a
 * thread pool gives copies the caller owns (task.h's rule). */
START_TEST(map_string_result)
{
    cf_executor *ex = new_pool(_i, 2);
    enum { N = 50 };
    static const char *out[N];
    for (int32_t i = 0; i < N; i++)
        xs[i] = i;
    if (_i == PROCESSES) {
        EXPECT_RC(cf_map(ex, name_of, NULL, N, out, xs), CF_EUNSUPPORTED);
        ck_assert_msg(strstr(cf_last_error(), "name_of") != NULL, "last error: %s",
                      cf_last_error());
    } else {
        EXPECT_RC(cf_map(ex, name_of, &(cf_map_options){.chunk_size = 4}, N, out, xs), 0);
        for (int32_t i = 0; i < N; i++) {
            ck_assert_str_eq(out[i], names[i % 3]);
            ck_assert_ptr_ne(out[i], names[i % 3]);
            free((void *)out[i]);
        }
    }
    free_pool(ex);
}
END_TEST

/* String and byte-buffer parameters travel inside the chunks' messages on
 * a process pool. */
START_TEST(map_string_and_bytes_parameters)
{
    cf_executor *ex = new_pool(_i, 2);
    enum { N = 300 };
    static char text[N][40];
    static unsigned char raw[N][64];
    static const char *strs[N];
    static cf_bytes bufs[N];
    static uint64_t out[N], want[N];
    static CF_ARGS(digest) tuples[N];
    for (size_t i = 0; i < N; i++) {
        snprintf(text[i], sizeof text[i], "element %zu%s", i, i % 2 ? " odd" : "");
        strs[i] = i % 17 == 5 ? NULL : i % 13 == 0 ? "" : text[i];
        for (size_t j = 0; j < sizeof raw[i]; j++)
            raw[i][j] = (unsigned char)(i * 7 + j);
        bufs[i] = i % 11 == 0 ? (cf_bytes){NULL, 0} : (cf_bytes){raw[i], i % sizeof raw[i]};
        want[i] = digest(strs[i], bufs[i]);
        tuples[i] = (CF_ARGS(digest)){strs[i], bufs[i]};
    }
    const size_t chunks[] = {0, 1, 7, SIZE_MAX / 2};
    for (size_t c = 0; c < 4; c++) {
        memset(out, 0, sizeof out);
        cf_map_report report;
        EXPECT_RC(
            cf_map(ex, digest,
                   &(cf_map_options){.chunk_size = chunks[c], .status = status, .report = &report},
                   N, out, strs, bufs),
            0);
        for (size_t i = 0; i < N; i++)
            ck_assert_msg(out[i] == want[i], "chunk %zu: element %zu wrong", chunks[c], i);
        expect_statuses(status, N, 0);
        expect_report_success(&report, N, chunks_for(N, chunks[c]));
        memset(out, 0, sizeof out);
        EXPECT_RC(
            cf_starmap(ex, digest, &(cf_map_options){.chunk_size = chunks[c]}, N, out, tuples), 0);
        for (size_t i = 0; i < N; i++)
            ck_assert_uint_eq(out[i], want[i]);
    }
    free_pool(ex);
}
END_TEST

/* ---- Maps from the executor's own threads ---------------------------------------------- */

static cf_executor *inner_ex;
static int64_t inner_in[64], inner_out[64];
static cf_future *inner_future;

/* Runs on inner_ex: a blocking map on the same pool could starve it. */
static int32_t map_from_task(int32_t n)
{
    return cf_map(inner_ex, triple, NULL, (size_t)n, inner_out, inner_in);
}
CF_TASK(int32_t, map_from_task, int32_t);

/* The asynchronous form is fine there: it waits for nothing. */
static int32_t map_async_from_task(int32_t n)
{
    return cf_map_async(&inner_future, inner_ex, triple, &(cf_map_options){.chunk_size = 5},
                        (size_t)n, inner_out, inner_in);
}
CF_TASK(int32_t, map_async_from_task, int32_t);

static void fill_inner(void)
{
    for (int i = 0; i < 64; i++) {
        inner_in[i] = i;
        inner_out[i] = 0;
    }
}

START_TEST(map_from_own_worker)
{
    cf_executor *ex = inner_ex = new_pool(THREADS, 1);
    fill_inner();
    cf_future *f;
    ck_assert_int_eq(cf_submit(&f, ex, map_from_task, 64), 0);
    ck_assert_int_eq(result_i32(f), CF_EDEADLOCK);
    cf_future_release(f);
    ck_assert_int_eq(inner_out[5], 0);

    ck_assert_int_eq(cf_submit(&f, ex, map_async_from_task, 64), 0);
    ck_assert_int_eq(result_i32(f), 0);
    cf_future_release(f);
    ck_assert_ptr_nonnull(inner_future);
    EXPECT_RC(cf_future_result(inner_future, NULL, DEADLINE_S), 0);
    cf_future_release(inner_future);
    for (int i = 0; i < 64; i++)
        ck_assert_int_eq(inner_out[i], triple(i));
    free_pool(ex);
}
END_TEST

/* A process pool's done-callbacks run on its dispatcher: a blocking map
 * there is refused, an asynchronous one works. */
static _Atomic int callback_rc = 1;
static _Atomic int callback_async_rc = 1;

static void map_in_callback(cf_future *f, void *arg)
{
    (void)f, (void)arg;
    atomic_store(&callback_rc, cf_map(inner_ex, triple, NULL, 64, inner_out, inner_in));
    atomic_store(&callback_async_rc,
                 cf_map_async(&inner_future, inner_ex, triple, NULL, 64, inner_out, inner_in));
}

START_TEST(map_from_dispatcher)
{
    cf_executor *ex = inner_ex = new_pool(PROCESSES, 1);
    fill_inner();
    /* The call is held until the callback is in place, so that the
     * callback runs when the dispatcher completes it. */
    atomic_store(&shared->gate, 0);
    cf_future *f;
    ck_assert_int_eq(cf_submit(&f, ex, hold_first, 0, -1), 0);
    ck_assert_int_eq(cf_future_add_done_callback(f, map_in_callback, NULL), 0);
    atomic_store(&shared->gate, 1);
    ck_assert(EVENTUALLY(atomic_load(&callback_async_rc) != 1));
    ck_assert_int_eq(atomic_load(&callback_rc), CF_EDEADLOCK);
    ck_assert_int_eq(atomic_load(&callback_async_rc), 0);
    cf_future_release(f);
    EXPECT_RC(cf_future_result(inner_future, NULL, DEADLINE_S), 0);
    cf_future_release(inner_future);
    for (int i = 0; i < 64; i++)
        ck_assert_int_eq(inner_out[i], triple(i));
    free_pool(ex);
}
END_TEST

START_TEST(map_after_shutdown)
{
    cf_executor *ex = new_pool(_i, 2);
    ck_assert_int_eq(cf_executor_shutdown(ex, CF_SHUTDOWN_WAIT, DEADLINE_S), 0);
    enum { N = 10 };
    for (size_t i = 0; i < N; i++)
        in64[i] = (int64_t)i, out64[i] = -1;
    cf_map_report report;
    EXPECT_RC(
        cf_map(ex, triple, &(cf_map_options){.status = status, .report = &report}, N, out64, in64),
        CF_ESHUTDOWN);
    expect_statuses(status, N, CF_ECANCELLED);
    ck_assert_uint_eq(report.not_run, N);
    ck_assert_uint_eq(report.succeeded + report.failed, 0);
    for (size_t i = 0; i < N; i++)
        ck_assert_int_eq(out64[i], -1);

    static generator g;
    memset(&g, 0, sizeof g);
    g.total = N;
    seen_init(&g.s, N, NULL, 0);
    EXPECT_RC(
        cf_map_generate(
            ex, affine,
            &(cf_map_options){.chunk_size = 4, .on_chunk = consume, .report = &report, .arg = &g},
            produce, &g),
        CF_ESHUTDOWN);
    ck_assert_uint_eq(g.s.chunks, 0);
    /* Elements the source gave that never ran, and no more. */
    ck_assert_uint_eq(report.succeeded, 0);
    ck_assert_uint_le(report.not_run, g.produced);
    cf_executor_free(ex);
}
END_TEST

/* The asynchronous forms report the executor's error at once, with no
 * future. */
START_TEST(map_async_after_shutdown)
{
    cf_executor *ex = new_pool(_i, 2);
    ck_assert_int_eq(cf_executor_shutdown(ex, CF_SHUTDOWN_WAIT, DEADLINE_S), 0);
    enum { N = 10 };
    for (size_t i = 0; i < N; i++)
        in64[i] = (int64_t)i, out64[i] = -1;
    cf_future *f = (cf_future *)&f;
    int rc = cf_map_async(&f, ex, triple, NULL, N, out64, in64);
    if (rc == 0 && f != NULL) { /* not the contract: say what the future got */
        int frc = cf_future_result(f, NULL, DEADLINE_S);
        cf_future_release(f);
        ck_abort_msg("cf_map_async returned 0 and a future that ended with %s", cf_err_name(frc));
    }
    EXPECT_RC(rc, CF_ESHUTDOWN);
    ck_assert_ptr_null(f);
    static CF_ARGS(affine) pairs[N];
    f = (cf_future *)&f;
    EXPECT_RC(cf_starmap_async(&f, ex, affine, NULL, N, outd, pairs), CF_ESHUTDOWN);
    ck_assert_ptr_null(f);
    cf_executor_free(ex);
}
END_TEST

/* ---- Suite ---------------------------------------------------------------------------- */


/* ---- Cancelling an async map; a failing source ---------------------------------------- */

static _Atomic(cf_future *) cancel_target; /* the map's future, for the task below */
static _Atomic int first_done;           /* element 0 of until_cancelled returned */

/* Thread pools: element 0 runs until the map's future is cancelled (at most
 * DEADLINE_S); every element counts its runs. */
static int32_t until_cancelled(int32_t x)
{
    if (x == 0) {
        atomic_store(&shared->holding, 1);
        double until = now_s() + DEADLINE_S;
        cf_future *target = NULL; /* set once cf_map_async has returned it */
        while ((target = atomic_load(&cancel_target)) == NULL && keep_polling(until)) {
        }
        while (target != NULL && !cf_future_cancelled(target) && keep_polling(until)) {
        }
    }
    if (x >= 0 && x < MAX_N)
        atomic_fetch_add(&shared->runs[x], 1);
    if (x == 0)
        atomic_store(&first_done, 1);
    return x;
}
CF_TASK(int32_t, until_cancelled, int32_t);

/* Every element waits (at most DEADLINE_S) for the gate, then counts. */
static int32_t gated(int32_t x)
{
    double until = now_s() + DEADLINE_S;
    while (atomic_load(&shared->gate) == 0 && keep_polling(until)) {
    }
    if (x >= 0 && x < MAX_N)
        atomic_fetch_add(&shared->runs[x], 1);
    return x;
}
CF_TASK(int32_t, gated, int32_t);

static uint32_t total_runs(size_t n)
{
    uint32_t sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += atomic_load(&shared->runs[i]);
    return sum;
}

START_TEST(map_async_cancel_waits_for_running)
{
    /* One worker, one chunk of one element in flight: element 0 runs until
     * the cancel; cf_future_cancel returns only after it has returned, and
     * nothing after it ever starts. */
    cf_executor *ex = new_pool(THREADS, 1);
    enum { N = 50 };
    static int32_t in[N], out[N];
    static int status[N];
    for (int32_t i = 0; i < N; i++)
        in[i] = i;
    cf_map_report report;
    cf_future *f;
    cf_map_options o = {.chunk_size = 1, .max_chunks_in_flight = 1, .status = status,
                        .report = &report};
    EXPECT_RC(cf_map_async(&f, ex, until_cancelled, &o, N, out, in), 0);
    atomic_store(&cancel_target, f);
    double until = now_s() + DEADLINE_S;
    while (atomic_load(&shared->holding) == 0 && keep_polling(until)) {
    }
    ck_assert(!cf_future_done(f));
    ck_assert(cf_future_cancel(f));
    ck_assert_int_eq(atomic_load(&first_done), 1); /* it had returned */
    ck_assert(cf_future_cancelled(f));
    ck_assert_int_eq(cf_future_result(f, NULL, DEADLINE_S), CF_ECANCELLED);
    free_pool(ex);
    ck_assert_uint_eq(total_runs(N), 1);
    ck_assert_uint_eq(report.succeeded, 1);
    ck_assert_uint_eq(report.not_run, N - 1);
    ck_assert_int_eq(status[0], 0);
    for (int32_t i = 1; i < N; i++)
        ck_assert_int_eq(status[i], CF_ECANCELLED);
    cf_future_release(f);
}
END_TEST

static void cancel_on_first_chunk(const cf_map_chunk *c, void *arg)
{
    (void)c;
    cf_future **f = arg;
    ck_assert(cf_future_cancel(*f)); /* from the map's own callback: returns at once */
}

START_TEST(map_async_cancel_from_callback)
{
    /* Both pools: cancelled from its first chunk's callback, the map stops;
     * at most the chunks then in flight run. */
    cf_executor *ex = new_pool(_i, 2);
    enum { N = 400 };
    static int32_t in[N];
    for (int32_t i = 0; i < N; i++)
        in[i] = i;
    static cf_future *f;
    cf_map_report report;
    cf_map_options o = {.chunk_size = 1, .max_chunks_in_flight = 2, .on_chunk = cancel_on_first_chunk,
                        .arg = &f, .report = &report};
    /* The callback may run before cf_map_async returns: the elements wait
     * for the gate, opened once f is set. */
    EXPECT_RC(cf_map_async(&f, ex, gated, &o, N, NULL, in), 0);
    atomic_store(&shared->gate, 1);
    ck_assert_int_eq(cf_future_result(f, NULL, DEADLINE_S), CF_ECANCELLED);
    free_pool(ex);
    ck_assert_uint_lt(report.succeeded, N);
    ck_assert_uint_gt(report.not_run, 0);
    ck_assert_uint_eq(total_runs(N), report.succeeded);
    ck_assert_uint_eq(report.succeeded + report.failed + report.not_run, N);
    cf_future_release(f);
}
END_TEST

START_TEST(map_async_cancel_after_end)
{
    /* A map that has ended cannot be cancelled: its outcome stays. */
    cf_executor *ex = new_pool(_i, 2);
    enum { N = 64 };
    static int64_t in[N], out[N];
    for (int32_t i = 0; i < N; i++)
        in[i] = i;
    cf_future *f;
    EXPECT_RC(cf_map_async(&f, ex, triple, NULL, N, out, in), 0);
    EXPECT_RC(cf_future_result(f, NULL, DEADLINE_S), 0);
    ck_assert(!cf_future_cancel(f));
    ck_assert(!cf_future_cancelled(f));
    cf_future_release(f);
    free_pool(ex);
}
END_TEST

/* Gives elements 0.. in chunks of up to `max`, until `*fail_at` is reached:
 * then fails (cf_map_source_fail). */
static size_t source_failing_at(void *tuples, size_t max, size_t first, void *arg)
{
    size_t fail_at = *(size_t *)arg;
    if (first >= fail_at) {
        ck_assert_int_eq(cf_map_source_fail(-EIO, "cannot read record %zu", first), 0);
        return 7; /* ignored */
    }
    CF_ARGS(triple) *t = tuples;
    size_t n = fail_at - first < max ? fail_at - first : max;
    for (size_t i = 0; i < n; i++)
        t[i].a0 = (int64_t)(first + i);
    return n;
}

static void count_chunk(const cf_map_chunk *c, void *arg)
{
    *(size_t *)arg += c->end - c->begin;
}

START_TEST(map_generate_source_fails)
{
    cf_executor *ex = new_pool(_i, 2);
    size_t fail_at = 300, delivered = 0;
    cf_map_report report;
    cf_map_options o = {.chunk_size = 64, .on_chunk = count_chunk, .arg = &delivered,
                        .report = &report};
    int rc = cf_map_generate(ex, triple, &o, source_failing_at, &fail_at);
    ck_assert_msg(rc == -EIO, "%s: %s", cf_err_name(rc), cf_last_error());
    ck_assert_msg(strstr(cf_last_error(), "cannot read record 300") != NULL &&
                      strstr(cf_last_error(), "source") != NULL &&
                      strstr(cf_last_error(), "triple") != NULL,
                  "%s", cf_last_error());
    /* What the source gave before failing ran (or was stopped), nothing more. */
    ck_assert_uint_le(delivered, 300);
    ck_assert_uint_eq(report.succeeded + report.failed + report.not_run, delivered);
    /* Outside a source it is refused. */
    ck_assert_int_eq(cf_map_source_fail(-EIO, "no"), CF_ESTATE);
    free_pool(ex);
}
END_TEST

static Suite *map_suite(void)
{
    Suite *s = suite_create("map");
    TCase *tc = tcase_create("forms");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, map_shared_state, unmap_shared_state);
    tcase_add_loop_test(tc, map_zip_one_parameter, 0, KINDS);
    tcase_add_loop_test(tc, map_zip_two_parameters, 0, KINDS);
    tcase_add_loop_test(tc, map_zip_eight_parameters, 0, KINDS);
    tcase_add_loop_test(tc, map_struct_parameters, 0, KINDS);
    tcase_add_loop_test(tc, map_without_parameters, 0, KINDS);
    tcase_add_loop_test(tc, map_void_task, 0, KINDS);
    tcase_add_loop_test(tc, starmap_tuples, 0, KINDS);
    tcase_add_loop_test(tc, map_async_forms, 0, KINDS);
    tcase_add_loop_test(tc, map_unordered_chunks, 0, KINDS);
    tcase_add_loop_test(tc, map_ordered_chunks, 0, KINDS);
    tcase_add_loop_test(tc, map_generate, 0, KINDS);
    tcase_add_loop_test(tc, map_generate_defaults, 0, KINDS);
    tcase_add_loop_test(tc, map_generate_short_reads, 0, KINDS);
    tcase_add_loop_test(tc, map_generate_errors, 0, KINDS);
    tcase_add_loop_test(tc, map_generate_failure, 0, KINDS);
    suite_add_tcase(s, tc);

    tc = tcase_create("failures");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, map_shared_state, unmap_shared_state);
    tcase_add_loop_test(tc, map_failure_stops, 0, KINDS);
    tcase_add_loop_test(tc, map_failure_stops_parallel, 0, KINDS);
    tcase_add_loop_test(tc, map_failure_keep_going, 0, KINDS);
    tcase_add_loop_test(tc, map_async_failure, 0, KINDS);
    tcase_add_loop_test(tc, map_crash_stops, CRASH_ABORT, CRASH_KILL + 1);
    tcase_add_loop_test(tc, map_crash_keep_going, CRASH_ABORT, CRASH_KILL + 1);
    tcase_add_loop_test(tc, map_crash_async, CRASH_ABORT, CRASH_KILL + 1);
    tcase_add_test(tc, map_async_cancel_waits_for_running);
    tcase_add_loop_test(tc, map_async_cancel_from_callback, 0, KINDS);
    tcase_add_loop_test(tc, map_async_cancel_after_end, 0, KINDS);
    tcase_add_loop_test(tc, map_generate_source_fails, 0, KINDS);
    suite_add_tcase(s, tc);

    tc = tcase_create("time limits");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, map_shared_state, unmap_shared_state);
    tcase_add_test(tc, map_timeout_threads);
    tcase_add_loop_test(tc, map_timeout_processes, 0, 2); /* _i: keep_going */
    tcase_add_loop_test(tc, map_timeout_not_reached, 0, KINDS);
    suite_add_tcase(s, tc);

    tc = tcase_create("errors");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, map_shared_state, unmap_shared_state);
    tcase_add_loop_test(tc, map_argument_errors, 0, KINDS);
    tcase_add_loop_test(tc, map_pointer_parameter, 0, KINDS);
    tcase_add_loop_test(tc, map_string_result, 0, KINDS);
    tcase_add_loop_test(tc, map_string_and_bytes_parameters, 0, KINDS);
    tcase_add_test(tc, map_from_own_worker);
    tcase_add_test(tc, map_from_dispatcher);
    tcase_add_loop_test(tc, map_after_shutdown, 0, KINDS);
    tcase_add_loop_test(tc, map_async_after_shutdown, 0, KINDS);
    tcase_add_loop_test(tc, map_shutdown_during_map, 0, KINDS);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(map_suite());
}
