/* test_process_pool.c: the process pool executor through its public API:
 * every kind of task parameter and result travelling to a worker process and
 * back, crashes that fail only their own future, cf_task_fail, initializers
 * (success, failure, crash), max_tasks_per_child, cancelling pending and
 * running calls, per-task time limits, every kind of shutdown (also under
 * load, racing crashes, and from done-callbacks), submitting from callbacks,
 * how long calls spread over the workers, the fork server dying, frames over
 * the size limit, a worker that cannot be started, a pool created by a
 * thread that ends, and two pools freed in creation order.
 *
 * Tasks run in other processes, so they talk to the test through pipes
 * created before the pool (the workers inherit them): a task that must stay
 * running writes its pid to a "started" pipe and then waits on a "release"
 * pipe (or forever); the test waits on those pipes with a generous deadline,
 * never on time passing.
 */
#include "config.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <cfutures.h>

#include "support.h"


/* ---- Helpers ---------------------------------------------------------------------- */


/* ---- Tasks ---------------------------------------------------------------------- */

static int8_t echo_i8(int8_t x) { return x; }
CF_TASK(int8_t, echo_i8, int8_t);
static uint8_t echo_u8(uint8_t x) { return x; }
CF_TASK(uint8_t, echo_u8, uint8_t);
static int16_t echo_i16(int16_t x) { return x; }
CF_TASK(int16_t, echo_i16, int16_t);
static uint16_t echo_u16(uint16_t x) { return x; }
CF_TASK(uint16_t, echo_u16, uint16_t);
static int32_t echo_i32(int32_t x) { return x; }
CF_TASK(int32_t, echo_i32, int32_t);
static uint32_t echo_u32(uint32_t x) { return x; }
CF_TASK(uint32_t, echo_u32, uint32_t);
static int64_t echo_i64(int64_t x) { return x; }
CF_TASK(int64_t, echo_i64, int64_t);
static uint64_t echo_u64(uint64_t x) { return x; }
CF_TASK(uint64_t, echo_u64, uint64_t);
static long echo_long(long x) { return x; }
CF_TASK(long, echo_long, long);
static unsigned short echo_ushort(unsigned short x) { return x; }
CF_TASK(unsigned short, echo_ushort, unsigned short);
static bool negate(bool x) { return !x; }
CF_TASK(bool, negate, bool);
static float echo_f32(float x) { return x; }
CF_TASK(float, echo_f32, float);
static double echo_f64(double x) { return x; }
CF_TASK(double, echo_f64, double);

CF_TASK(uint64_t, mix8, int8_t, uint16_t, int32_t, uint64_t, float, double, bool, int64_t);

#define BIG (1u << 20)
static char big_text[BIG + 1];
static unsigned char big_bytes[BIG];

/* UINT64_MAX for NULL; else a hash of the string and its length. */
static uint64_t str_digest(const char *s)
{
    return s == NULL ? UINT64_MAX : fnv1a(s, strlen(s)) ^ strlen(s);
}
CF_TASK(uint64_t, str_digest, const char *);

/* The string in upper case (NULL for NULL), from a buffer of the worker's. */
static const char *str_upper(const char *s)
{
    static char out[BIG + 1];
    if (s == NULL)
        return NULL;
    size_t n = strlen(s);
    for (size_t i = 0; i <= n && i <= BIG; i++)
        out[i] = (s[i] >= 'a' && s[i] <= 'z') ? (char)(s[i] - 'a' + 'A') : s[i];
    return out;
}
CF_TASK(const char *, str_upper, const char *);

/* The bytes reversed, from a buffer of the worker's. */
static cf_bytes bytes_reverse(cf_bytes b)
{
    static unsigned char out[BIG];
    if (b.len > BIG)
        return (cf_bytes){NULL, 0};
    const unsigned char *in = b.data;
    for (size_t i = 0; i < b.len; i++)
        out[i] = in[b.len - 1 - i];
    return (cf_bytes){b.len > 0 ? out : NULL, b.len};
}
CF_TASK(cf_bytes, bytes_reverse, cf_bytes);

typedef struct point3 {
    double x, y, z;
    int32_t id;
    char tag[6];
} point3;

static point3 scale3(point3 p, double k)
{
    p.x *= k;
    p.y *= k;
    p.z *= k;
    p.id += 1;
    p.tag[0] = 'S';
    return p;
}
CF_TASK(point3, scale3, point3, double);

/* A string, a buffer and a struct in one call. */
static uint64_t mixed(const char *s, cf_bytes b, point3 p, int32_t k)
{
    return str_digest(s) ^ fnv1a(b.data, b.len) ^ (uint64_t)(int64_t)(p.x * k) ^ (uint64_t)p.id;
}
CF_TASK(uint64_t, mixed, const char *, cf_bytes, point3, int32_t);

/* A string of n 'z' (at most BIG), from a buffer of the worker's. */
static const char *repeat_z(int32_t n)
{
    static char out[BIG + 1];
    size_t len = n < 0 ? 0 : (size_t)n > BIG ? BIG : (size_t)n;
    memset(out, 'z', len);
    out[len] = '\0';
    return out;
}
CF_TASK(const char *, repeat_z, int32_t);

static int32_t forty_two(void) { return 42; }
CF_TASK(int32_t, forty_two);

static void nothing(void) {}
CF_TASK(void, nothing);

static void swallow(int32_t x) { (void)x; }
CF_TASK(void, swallow, int32_t);

static int32_t deref(int32_t *p) { return *p; }
CF_TASK(int32_t, deref, int32_t *);

static void *make_ptr(int32_t x)
{
    (void)x;
    return NULL;
}
CF_TASK(void *, make_ptr, int32_t);

/* From support.h: worker_pid, server_pid, the pids of the worker and of its
 * parent, the fork server; gate, which announces the worker's pid on
 * `started` and returns once a byte comes on `release_fd`; hang, which
 * announces it and never returns. */
CF_TASK(int32_t, worker_pid);
CF_TASK(int32_t, server_pid);
CF_TASK(int32_t, gate, int32_t, int32_t);
CF_TASK(int32_t, hang, int32_t);

static int32_t add_one(int32_t x) { return x + 1; }
CF_TASK(int32_t, add_one, int32_t);

enum { CRASH_NONE, CRASH_SEGV, CRASH_ABORT, CRASH_SIGKILL, CRASH_EXIT3, CRASH__EXIT4 };

/* Returns `value`, or ends its worker the way `how` says. */
static int32_t crash(int32_t how, int32_t value)
{
    switch (how) {
    case CRASH_SEGV: {
        /* A write to an address nothing maps; read through a volatile so
         * the compiler cannot see (and warn about) the bad address. */
        static volatile uintptr_t unmapped = 8;
        *(volatile int *)unmapped = value;
        break;
    }
    case CRASH_ABORT:
        abort();
    case CRASH_SIGKILL:
        raise(SIGKILL);
        break;
    case CRASH_EXIT3:
        exit(3);
    case CRASH__EXIT4:
        _exit(4);
    }
    return value;
}
CF_TASK(int32_t, crash, int32_t, int32_t);

static int32_t fail_with(int32_t code, const char *what)
{
    cf_task_fail(code, "refused: %s", what);
    return 0;
}
CF_TASK(int32_t, fail_with, int32_t, const char *);

/* Returns x; for a negative x, announces the worker and never returns. The
 * same task short and long: a worker holds the answers of the short calls
 * while a long one it took for short runs. */
static int32_t maybe_hang(int32_t x, int32_t started)
{
    if (x >= 0)
        return x;
    return hang(started);
}
CF_TASK(int32_t, maybe_hang, int32_t, int32_t);

typedef struct span {
    int64_t start, end;
    int32_t pid;
} span;

/* Like gate(), recording when it started and ended (CLOCK_MONOTONIC is the
 * same clock in every process). */
static span timed_gate(int32_t started, int32_t release_fd)
{
    span s = {.start = now_ns(), .pid = (int32_t)getpid()};
    write_all(started, &s.pid, sizeof s.pid);
    char c;
    while (read(release_fd, &c, 1) < 0 && errno == EINTR) {
    }
    s.end = now_ns();
    return s;
}
CF_TASK(span, timed_gate, int32_t, int32_t);

/* Sleeps `ms` milliseconds, then returns `value`. */
static int32_t snooze(int32_t ms, int32_t value)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
    return value;
}
CF_TASK(int32_t, snooze, int32_t, int32_t);

/* Spins for about `us` microseconds, then returns `value`. */
static int32_t spin(int32_t us, int32_t value)
{
    int64_t until = now_ns() + (int64_t)us * 1000;
    while (now_ns() < until) {
    }
    return value;
}
CF_TASK(int32_t, spin, int32_t, int32_t);

/* Initializer state, in each worker's own copy of memory. */
static int32_t init_pid;
static int32_t init_runs;

static int init_ok(void *arg)
{
    (void)arg;
    init_pid = (int32_t)getpid();
    init_runs++;
    return 0;
}

typedef struct init_seen {
    int32_t pid, init_pid, init_runs;
} init_seen;

static init_seen report_init(void)
{
    return (init_seen){(int32_t)getpid(), init_pid, init_runs};
}
CF_TASK(init_seen, report_init);

/* Append "<pid>\n" to the file `arg` names: one line per initializer run. */
static void log_run(const char *path)
{
    char line[32];
    int n = snprintf(line, sizeof line, "%d\n", (int)getpid());
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd >= 0) {
        write_all(fd, line, (size_t)n);
        close(fd);
    }
}

static int init_fails(void *arg)
{
    log_run(arg);
    cf_task_fail(7, "no database at %s", "/srv/db");
    return -1;
}

static int init_crashes(void *arg)
{
    log_run(arg);
    raise(SIGSEGV);
    return 0;
}

static int count_lines(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 0;
    int n = 0;
    for (int c; (c = fgetc(f)) != EOF;)
        n += c == '\n';
    fclose(f);
    return n;
}

static char *temp_path(void)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/cf-test-pp-%d-XXXXXX", (int)getpid());
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    return path;
}

/* ---- Every kind of parameter and result ---------------------------------------------- */

START_TEST(process_pool_integers_at_extremes)
{
    cf_executor *ex = new_process_pool_of(2);
    cf_future *f[24];
    int k = 0;
    ck_assert_int_eq(cf_submit(&f[k++], ex, echo_i8, INT8_MIN), 0);
    ck_assert_int_eq(cf_submit(&f[k++], ex, echo_i8, INT8_MAX), 0);
    ck_assert_int_eq(cf_submit(&f[k++], ex, echo_u8, UINT8_MAX), 0);
    ck_assert_int_eq(cf_submit(&f[k++], ex, echo_i16, INT16_MIN), 0);
    ck_assert_int_eq(cf_submit(&f[k++], ex, echo_i16, INT16_MAX), 0);
    ck_assert_int_eq(cf_submit(&f[k++], ex, echo_u16, UINT16_MAX), 0);
    ck_assert_int_eq(cf_submit(&f[k++], ex, echo_i32, INT32_MIN), 0);
    ck_assert_int_eq(cf_submit(&f[k++], ex, echo_i32, INT32_MAX), 0);
    ck_assert_int_eq(cf_submit(&f[k++], ex, echo_u32, UINT32_MAX), 0);
    ck_assert_int_eq(cf_submit(&f[k++], ex, echo_i64, INT64_MIN), 0);
    ck_assert_int_eq(cf_submit(&f[k++], ex, echo_i64, INT64_MAX), 0);
    ck_assert_int_eq(cf_submit(&f[k++], ex, echo_u64, UINT64_MAX), 0);
    ck_assert_int_eq(cf_submit(&f[k++], ex, echo_u64, 0), 0);
    ck_assert_int_eq(cf_submit(&f[k++], ex, echo_long, LONG_MIN), 0);
    ck_assert_int_eq(cf_submit(&f[k++], ex, echo_ushort, USHRT_MAX), 0);
    ck_assert_int_eq(cf_submit(&f[k++], ex, negate, true), 0);
    ck_assert_int_eq(cf_submit(&f[k++], ex, negate, false), 0);

    int8_t i8;
    uint8_t u8;
    int16_t i16;
    uint16_t u16;
    int32_t i32;
    uint32_t u32;
    int64_t i64;
    uint64_t u64;
    long l;
    unsigned short us;
    bool b;
    k = 0;
    ck_assert_int_eq(cf_future_result(f[k++], &i8, DEADLINE_S), 0);
    ck_assert_int_eq(i8, INT8_MIN);
    ck_assert_int_eq(cf_future_result(f[k++], &i8, DEADLINE_S), 0);
    ck_assert_int_eq(i8, INT8_MAX);
    ck_assert_int_eq(cf_future_result(f[k++], &u8, DEADLINE_S), 0);
    ck_assert_uint_eq(u8, UINT8_MAX);
    ck_assert_int_eq(cf_future_result(f[k++], &i16, DEADLINE_S), 0);
    ck_assert_int_eq(i16, INT16_MIN);
    ck_assert_int_eq(cf_future_result(f[k++], &i16, DEADLINE_S), 0);
    ck_assert_int_eq(i16, INT16_MAX);
    ck_assert_int_eq(cf_future_result(f[k++], &u16, DEADLINE_S), 0);
    ck_assert_uint_eq(u16, UINT16_MAX);
    ck_assert_int_eq(cf_future_result(f[k++], &i32, DEADLINE_S), 0);
    ck_assert_int_eq(i32, INT32_MIN);
    ck_assert_int_eq(cf_future_result(f[k++], &i32, DEADLINE_S), 0);
    ck_assert_int_eq(i32, INT32_MAX);
    ck_assert_int_eq(cf_future_result(f[k++], &u32, DEADLINE_S), 0);
    ck_assert_uint_eq(u32, UINT32_MAX);
    ck_assert_int_eq(cf_future_result(f[k++], &i64, DEADLINE_S), 0);
    ck_assert(i64 == INT64_MIN);
    ck_assert_int_eq(cf_future_result(f[k++], &i64, DEADLINE_S), 0);
    ck_assert(i64 == INT64_MAX);
    ck_assert_int_eq(cf_future_result(f[k++], &u64, DEADLINE_S), 0);
    ck_assert(u64 == UINT64_MAX);
    ck_assert_int_eq(cf_future_result(f[k++], &u64, DEADLINE_S), 0);
    ck_assert(u64 == 0);
    ck_assert_int_eq(cf_future_result(f[k++], &l, DEADLINE_S), 0);
    ck_assert(l == LONG_MIN);
    ck_assert_int_eq(cf_future_result(f[k++], &us, DEADLINE_S), 0);
    ck_assert_uint_eq(us, USHRT_MAX);
    ck_assert_int_eq(cf_future_result(f[k++], &b, DEADLINE_S), 0);
    ck_assert(!b);
    ck_assert_int_eq(cf_future_result(f[k++], &b, DEADLINE_S), 0);
    ck_assert(b);
    for (int i = 0; i < k; i++)
        cf_future_release(f[i]);
    cf_executor_free(ex);
}
END_TEST

START_TEST(process_pool_floating_point)
{
    cf_executor *ex = new_process_pool_of(2);
    const double doubles[] = {NAN, -0.0, INFINITY, -INFINITY, DBL_MAX, DBL_MIN,
                              DBL_TRUE_MIN, -1.5e-300, M_PI};
    const float floats[] = {NAN, -0.0f, INFINITY, FLT_MAX, FLT_MIN, FLT_TRUE_MIN, 3.25f};
    enum { ND = sizeof doubles / sizeof doubles[0], NF = sizeof floats / sizeof floats[0] };
    cf_future *fd[ND], *ff[NF];
    for (int i = 0; i < ND; i++)
        ck_assert_int_eq(cf_submit(&fd[i], ex, echo_f64, doubles[i]), 0);
    for (int i = 0; i < NF; i++)
        ck_assert_int_eq(cf_submit(&ff[i], ex, echo_f32, floats[i]), 0);
    for (int i = 0; i < ND; i++) {
        double d;
        ck_assert_int_eq(cf_future_result(fd[i], &d, DEADLINE_S), 0);
        if (isnan(doubles[i]))
            ck_assert(isnan(d));
        else
            ck_assert(memcmp(&d, &doubles[i], sizeof d) == 0); /* bit for bit: -0.0 too */
        cf_future_release(fd[i]);
    }
    for (int i = 0; i < NF; i++) {
        float v;
        ck_assert_int_eq(cf_future_result(ff[i], &v, DEADLINE_S), 0);
        if (isnan(floats[i]))
            ck_assert(isnan(v));
        else
            ck_assert(memcmp(&v, &floats[i], sizeof v) == 0);
        cf_future_release(ff[i]);
    }
    cf_executor_free(ex);
}
END_TEST

START_TEST(process_pool_eight_parameters)
{
    cf_executor *ex = new_process_pool_of(1);
    cf_future *f;
    ck_assert_int_eq(cf_submit(&f, ex, mix8, INT8_MIN, UINT16_MAX, -123456, UINT64_MAX - 5,
                               -0.125f, 6.02214076e23, true, INT64_MIN + 9),
                     0);
    uint64_t got;
    ck_assert_int_eq(cf_future_result(f, &got, DEADLINE_S), 0);
    ck_assert(got == mix8(INT8_MIN, UINT16_MAX, -123456, UINT64_MAX - 5, -0.125f, 6.02214076e23,
                          true, INT64_MIN + 9));
    cf_future_release(f);
    cf_executor_free(ex);
}
END_TEST

static void fill_big(void)
{
    uint32_t x = 12345;
    for (size_t i = 0; i < BIG; i++) {
        x = x * 1103515245u + 12345u;
        big_text[i] = (char)('a' + (x >> 16) % 26);
        big_bytes[i] = (unsigned char)(x >> 8);
    }
    big_text[BIG] = '\0';
}

START_TEST(process_pool_strings)
{
    fill_big();
    cf_executor *ex = new_process_pool_of(2);
    const char *inputs[] = {"hello, world", "", NULL, big_text};
    cf_future *digest[4], *upper[4];
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(cf_submit(&digest[i], ex, str_digest, inputs[i]), 0);
        ck_assert_int_eq(cf_submit(&upper[i], ex, str_upper, inputs[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        uint64_t d;
        ck_assert_int_eq(cf_future_result(digest[i], &d, DEADLINE_S), 0);
        ck_assert(d == str_digest(inputs[i]));
        const char *s = "not set";
        ck_assert_int_eq(cf_future_result(upper[i], &s, DEADLINE_S), 0);
        if (inputs[i] == NULL) {
            ck_assert_ptr_null(s);
        } else {
            ck_assert_ptr_nonnull(s);
            ck_assert_uint_eq(strlen(s), strlen(inputs[i]));
            for (size_t k = 0; inputs[i][k] != '\0'; k++) {
                char c = inputs[i][k];
                char want = (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c;
                if (s[k] != want)
                    ck_abort_msg("string %d differs at %zu", i, k);
            }
        }
        cf_future_release(digest[i]);
        cf_future_release(upper[i]);
    }
    cf_executor_free(ex);
}
END_TEST

START_TEST(process_pool_byte_buffers)
{
    fill_big();
    cf_executor *ex = new_process_pool_of(2);
    static const unsigned char small[] = {0, 1, 2, 0xff, 0};
    const cf_bytes inputs[] = {{small, sizeof small}, {NULL, 0}, {big_bytes, BIG}};
    cf_future *f[3];
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(cf_submit(&f[i], ex, bytes_reverse, inputs[i]), 0);
    for (int i = 0; i < 3; i++) {
        cf_bytes b;
        ck_assert_int_eq(cf_future_result(f[i], &b, DEADLINE_S), 0);
        ck_assert_uint_eq(b.len, inputs[i].len);
        const unsigned char *in = inputs[i].data, *out = b.data;
        for (size_t k = 0; k < b.len; k++)
            if (out[k] != in[b.len - 1 - k])
                ck_abort_msg("buffer %d differs at %zu", i, k);
        cf_future_release(f[i]);
    }
    cf_executor_free(ex);
}
END_TEST

START_TEST(process_pool_structs_and_mixed)
{
    fill_big();
    cf_executor *ex = new_process_pool_of(1);
    point3 p;
    memset(&p, 0, sizeof p); /* its padding travels too */
    p.x = 1.5;
    p.y = -2.0;
    p.z = 1e100;
    p.id = 41;
    memcpy(p.tag, "pt", 3);
    cf_future *f, *g;
    ck_assert_int_eq(cf_submit(&f, ex, scale3, p, 2.0), 0);
    ck_assert_int_eq(cf_submit(&g, ex, mixed, "text", ((cf_bytes){big_bytes, 1000}), p, 3), 0);
    point3 q;
    ck_assert_int_eq(cf_future_result(f, &q, DEADLINE_S), 0);
    point3 want = scale3(p, 2.0);
    ck_assert(q.x == want.x && q.y == want.y && q.z == want.z);
    ck_assert_int_eq(q.id, 42);
    ck_assert_str_eq(q.tag, "St");
    uint64_t m;
    ck_assert_int_eq(cf_future_result(g, &m, DEADLINE_S), 0);
    ck_assert(m == mixed("text", (cf_bytes){big_bytes, 1000}, p, 3));
    cf_future_release(f);
    cf_future_release(g);
    cf_executor_free(ex);
}
END_TEST

START_TEST(process_pool_no_parameters_and_void_results)
{
    cf_executor *ex = new_process_pool_of(1);
    cf_future *a, *b, *c;
    ck_assert_int_eq(cf_submit(&a, ex, forty_two), 0);
    ck_assert_int_eq(cf_submit(&b, ex, nothing), 0);
    ck_assert_int_eq(cf_submit(&c, ex, swallow, 5), 0);
    expect_value_i32(a, 42);
    ck_assert_int_eq(cf_future_result(b, NULL, DEADLINE_S), 0);
    ck_assert_int_eq(cf_future_result(c, NULL, DEADLINE_S), 0);
    ck_assert_uint_eq(cf_future_result_type(c).kind, CF_KIND_VOID);
    int32_t v;
    ck_assert_int_eq(cf_future_result(c, &v, 0), CF_ETYPE); /* nothing to store */
    ck_assert(!cf_future_failed(b));
    cf_future_release(a);
    cf_future_release(b);
    cf_future_release(c);
    cf_executor_free(ex);
}
END_TEST

START_TEST(process_pool_refuses_raw_pointers)
{
    cf_executor *ex = new_process_pool_of(1);
    int32_t x = 7;
    cf_future *f = (cf_future *)&x;
    ck_assert_int_eq(cf_submit(&f, ex, deref, &x), CF_EUNSUPPORTED);
    ck_assert_ptr_null(f);
    ck_assert_ptr_nonnull(strstr(cf_last_error(), "deref"));
    f = (cf_future *)&x;
    ck_assert_int_eq(cf_submit(&f, ex, make_ptr, 1), CF_EUNSUPPORTED);
    ck_assert_ptr_null(f);
    const cf_task *t;
    ck_assert_int_eq(cf_task_find("deref", &t), 0);
    cf_value arg = cf_value_ptr(&x);
    ck_assert_int_eq(cf_submit_values(&f, ex, t, &arg, 1), CF_EUNSUPPORTED);
    /* The pool is unharmed. */
    ck_assert_int_eq(cf_submit(&f, ex, add_one, 1), 0);
    expect_value_i32(f, 2);
    cf_future_release(f);
    cf_executor_free(ex);
}
END_TEST

START_TEST(process_pool_result_type_check)
{
    cf_executor *ex = new_process_pool_of(1);
    cf_future *f;
    ck_assert_int_eq(cf_submit(&f, ex, echo_i64, 5), 0);
    int32_t wrong;
    double also_wrong;
    ck_assert_int_eq(cf_future_result(f, &wrong, DEADLINE_S), CF_ETYPE);
    ck_assert_int_eq(cf_future_result(f, &also_wrong, DEADLINE_S), CF_ETYPE);
    int64_t right;
    ck_assert_int_eq(cf_future_result(f, &right, DEADLINE_S), 0);
    ck_assert(right == 5);
    ck_assert_int_eq(cf_future_result(f, NULL, 0), 0);
    cf_future_release(f);
    cf_executor_free(ex);
}
END_TEST

START_TEST(process_pool_submit_values)
{
    cf_executor *ex = new_process_pool_of(1);
    const cf_task *t;
    ck_assert_int_eq(cf_task_find("str_digest", &t), 0);
    cf_value arg = cf_value_str("dynamic");
    cf_future *f;
    ck_assert_int_eq(cf_submit_values(&f, ex, t, &arg, 1), 0);
    cf_value v;
    ck_assert_int_eq(cf_future_value(f, &v, DEADLINE_S), 0);
    ck_assert_uint_eq(v.type.kind, CF_KIND_U64);
    ck_assert(v.as.u == str_digest("dynamic"));
    cf_future_release(f);
    cf_executor_free(ex);
}
END_TEST

/* ---- Crashes ---------------------------------------------------------------------- */

/* The exit status a worker that calls exit(status) is seen to end with.
 * Under valgrind (which follows forks), the leak check at a worker's exit
 * finds blocks it inherited that nothing of its own points to (the
 * thread-local storage of the pool's thread that forked the fork server)
 * and, as --error-exitcode asks, replaces the status with 1. */
static int seen_exit_status(int status)
{
    return RUNNING_ON_VALGRIND ? 1 : status;
}

/* One worker: learn its pid, crash it the way `how` says, check the error,
 * and that a later task runs in a new worker. */
static void check_crash(int how, bool by_signal, int detail)
{
    cf_executor *ex = new_process_pool_of(1);
    cf_future *f;
    ck_assert_int_eq(cf_submit(&f, ex, worker_pid), 0);
    pid_t victim = result_i32(f);
    cf_future_release(f);
    ck_assert_int_ne(victim, getpid());

    ck_assert_int_eq(cf_submit(&f, ex, crash, how, 1), 0);
    const cf_error *e = expect_failure(f, CF_ECRASHED);
    ck_assert_int_eq(e->detail, detail);
    ck_assert_str_eq(e->task, "crash");
    expect_origin_is(e, victim);
    ck_assert_ptr_nonnull(strstr(e->message, "crash"));
    ck_assert_ptr_nonnull(strstr(e->message, by_signal ? "signal" : "status"));
    cf_future_release(f);

    ck_assert_int_eq(cf_submit(&f, ex, worker_pid), 0);
    pid_t successor = result_i32(f);
    cf_future_release(f);
    ck_assert_int_ne(successor, victim);
    ck_assert(process_gone(victim)); /* reaped: no zombie left behind */
    cf_executor_free(ex);
}

START_TEST(process_pool_crash_sigsegv)
{
    check_crash(CRASH_SEGV, true, SIGSEGV);
}
END_TEST

START_TEST(process_pool_crash_abort)
{
    check_crash(CRASH_ABORT, true, SIGABRT);
}
END_TEST

START_TEST(process_pool_crash_sigkill)
{
    check_crash(CRASH_SIGKILL, true, SIGKILL);
}
END_TEST

START_TEST(process_pool_crash_exit)
{
    check_crash(CRASH_EXIT3, false, seen_exit_status(3));
}
END_TEST

START_TEST(process_pool_crash__exit)
{
    check_crash(CRASH__EXIT4, false, seen_exit_status(4));
}
END_TEST

/* 1000 calls with five crashing ones among them: only those fail. */
START_TEST(process_pool_crash_among_many)
{
    enum { N = 1000 };
    static const int kinds[] = {CRASH_SEGV, CRASH_ABORT, CRASH_SIGKILL, CRASH_EXIT3,
                                CRASH__EXIT4};
    const int details[] = {SIGSEGV, SIGABRT, SIGKILL, seen_exit_status(3),
                           seen_exit_status(4)};
    cf_executor *ex = new_process_pool_of(2);
    static cf_future *f[N];
    for (int i = 0; i < N; i++) {
        int how = i % 200 == 100 ? kinds[i / 200] : CRASH_NONE;
        ck_assert_int_eq(cf_submit(&f[i], ex, crash, how, i), 0);
    }
    for (int i = 0; i < N; i++) {
        if (i % 200 == 100) {
            const cf_error *e = expect_failure(f[i], CF_ECRASHED);
            ck_assert_int_eq(e->detail, details[i / 200]);
            ck_assert_ptr_nonnull(e->origin);
            ck_assert_int_eq(strncmp(e->origin, "process ", 8), 0);
        } else {
            expect_value_i32(f[i], i);
        }
        cf_future_release(f[i]);
    }
    /* Still usable. */
    cf_future *g;
    ck_assert_int_eq(cf_submit(&g, ex, add_one, 41), 0);
    expect_value_i32(g, 42);
    cf_future_release(g);
    cf_executor_free(ex);
}
END_TEST

START_TEST(process_pool_task_fail)
{
    cf_executor *ex = new_process_pool_of(1);
    cf_future *p, *f;
    ck_assert_int_eq(cf_submit(&p, ex, worker_pid), 0);
    pid_t worker = result_i32(p);
    ck_assert_int_eq(cf_submit(&f, ex, fail_with, 1234, "the answer"), 0);
    const cf_error *e = expect_failure(f, CF_ETASK);
    ck_assert_int_eq(e->detail, 1234);
    ck_assert_str_eq(e->message, "refused: the answer");
    ck_assert_str_eq(e->task, "fail_with");
    expect_origin_is(e, worker);
    ck_assert_str_eq(cf_last_error(), "refused: the answer");
    cf_future_release(f);
    /* The same worker goes on. */
    ck_assert_int_eq(cf_submit(&f, ex, worker_pid), 0);
    expect_value_i32(f, worker);
    cf_future_release(f);
    cf_future_release(p);
    cf_executor_free(ex);
}
END_TEST

/* ---- Initializers ----------------------------------------------------------------- */

START_TEST(process_pool_initializer_runs_once_per_worker)
{
    enum { N = 40 };
    cf_executor *ex = new_process_pool(
        &(cf_process_pool_options){.max_workers = 2, .initializer = init_ok});
    cf_future *f[N];
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(cf_submit(&f[i], ex, report_init), 0);
    for (int i = 0; i < N; i++) {
        init_seen s;
        ck_assert_int_eq(cf_future_result(f[i], &s, DEADLINE_S), 0);
        ck_assert_int_eq(s.init_pid, s.pid); /* ran in this very worker */
        ck_assert_int_eq(s.init_runs, 1);    /* once */
        cf_future_release(f[i]);
    }
    ck_assert_int_eq(init_runs, 0); /* never in this process */
    cf_executor_free(ex);
}
END_TEST

static void check_broken_by_initializer(cf_initializer_fn init, const char *says)
{
    enum { MAX_WORKERS = 3, N = 12 };
    char *path = temp_path();
    cf_executor *ex = new_process_pool(&(cf_process_pool_options){
        .max_workers = MAX_WORKERS, .initializer = init, .initializer_arg = path});
    cf_future *f[N];
    int n = 0, rc;
    /* The pool may break while this loop runs: then submits fail. */
    while (n < N && (rc = cf_submit(&f[n], ex, add_one, n)) == 0)
        n++;
    ck_assert_int_ge(n, 1);
    ck_assert(n == N || rc == CF_EBROKEN);
    for (int i = 0; i < n; i++) {
        const cf_error *e = expect_failure(f[i], CF_EBROKEN);
        ck_assert_msg(strstr(e->message, says) != NULL, "message: %s", e->message);
        cf_future_release(f[i]);
    }
    /* Later submits fail at once, with the same message. */
    cf_future *g = NULL;
    ck_assert_int_eq(cf_submit(&g, ex, add_one, 1), CF_EBROKEN);
    ck_assert_ptr_null(g);
    ck_assert_msg(strstr(cf_last_error(), says) != NULL, "last error: %s", cf_last_error());
    cf_executor_free(ex);
    /* No respawn loop: at most one run per worker slot, and nothing after free. */
    int runs = count_lines(path);
    ck_assert_int_ge(runs, 1);
    ck_assert_int_le(runs, MAX_WORKERS);
    unlink(path);
}

START_TEST(process_pool_initializer_failure_breaks_pool)
{
    check_broken_by_initializer(init_fails, "no database at /srv/db");
}
END_TEST

START_TEST(process_pool_initializer_crash_breaks_pool)
{
    check_broken_by_initializer(init_crashes, "initializer crashed");
}
END_TEST

/* ---- max_tasks_per_child ------------------------------------------------------------ */

START_TEST(process_pool_max_tasks_per_child)
{
    enum { PER_CHILD = 3, N = 15 };
    cf_executor *ex = new_process_pool(
        &(cf_process_pool_options){.max_workers = 1, .max_tasks_per_child = PER_CHILD});
    cf_future *f[N];
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(cf_submit(&f[i], ex, worker_pid), 0);
    pid_t pids[N];
    for (int i = 0; i < N; i++) {
        pids[i] = result_i32(f[i]);
        cf_future_release(f[i]);
    }
    for (int i = 0; i < N; i++) {
        if (i % PER_CHILD != 0)
            ck_assert_int_eq(pids[i], pids[i - 1]); /* same block, same worker */
        if (i >= PER_CHILD)
            ck_assert_int_ne(pids[i], pids[i - PER_CHILD]); /* next block, new worker */
    }
    cf_executor_free(ex);
}
END_TEST

/* ---- Cancelling ---------------------------------------------------------------------- */

static atomic_int callbacks_run;

static void count_callback(cf_future *f, void *arg)
{
    (void)f;
    (void)arg;
    atomic_fetch_add(&callbacks_run, 1);
}

/* Hold the worker of ex with a gate (*blocker) until a byte comes on `go`,
 * and queue n calls add_one(i) behind it (f[i]); returns the worker's pid. */
static pid_t queue_behind_gate(cf_executor *ex, chan started, chan go, cf_future **blocker,
                               cf_future **f, int n)
{
    ck_assert_int_eq(cf_submit(blocker, ex, gate, started.wr, go.rd), 0);
    pid_t worker = read_i32(started.rd);
    for (int i = 0; i < n; i++)
        ck_assert_int_eq(cf_submit(&f[i], ex, add_one, i), 0);
    return worker;
}

/* Behind a busy worker, calls wait in the pool's queue: pending, they cancel
 * as on a thread pool. */
START_TEST(process_pool_cancel_pending)
{
    enum { N = 300 };
    chan started = new_chan(), go = new_chan();
    cf_executor *ex = new_process_pool_of(1);
    cf_future *blocker, *f[N];
    pid_t worker = queue_behind_gate(ex, started, go, &blocker, f, N);
    /* The pool sends a worker only a few calls ahead: the last ones wait. */
    cf_future *last = f[N - 1];
    ck_assert_int_eq(cf_future_state_of(last), CF_FUTURE_PENDING);
    atomic_store(&callbacks_run, 0);
    ck_assert_int_eq(cf_future_add_done_callback(last, count_callback, NULL), 0);
    ck_assert(cf_future_cancel(last));
    ck_assert(cf_future_cancel(last)); /* already cancelled: still true */
    ck_assert(cf_future_cancelled(last));
    ck_assert_int_eq(atomic_load(&callbacks_run), 1);
    expect_failure(last, CF_ECANCELLED);
    release(go, 1);
    expect_value_i32(blocker, worker);
    for (int i = 0; i < N - 1; i++) {
        expect_value_i32(f[i], i + 1);
        ck_assert(!cf_future_cancel(f[i])); /* finished: false */
        cf_future_release(f[i]);
    }
    cf_future_release(last);
    cf_future_release(blocker);
    cf_executor_free(ex);
    close_chan(started);
    close_chan(go);
}
END_TEST

/* Poll until f is running (or done), within the deadline: true when it is
 * running. */
static bool eventually_running(cf_future *f)
{
    return EVENTUALLY(cf_future_running(f) || cf_future_done(f)) && cf_future_running(f);
}

START_TEST(process_pool_cancel_running)
{
    chan started = new_chan();
    cf_executor *ex = new_process_pool_of(1);
    cf_future *f;
    ck_assert_int_eq(cf_submit(&f, ex, hang, started.wr), 0);
    pid_t victim = read_i32(started.rd);
    ck_assert(cf_future_running(f));
    ck_assert(!cf_future_cancel(f)); /* running: plain cancel refuses */
    atomic_store(&callbacks_run, 0);
    ck_assert_int_eq(cf_future_add_done_callback(f, count_callback, NULL), 0);
    ck_assert(cf_future_cancel_running(f));
    ck_assert(cf_future_cancelled(f));
    ck_assert_int_eq(atomic_load(&callbacks_run), 1);
    ck_assert_int_eq(cf_future_wait(f, 0), 0);
    expect_failure(f, CF_ECANCELLED);
    ck_assert(cf_future_cancel_running(f)); /* already cancelled: true */
    ck_assert(process_gone(victim));        /* its worker was killed */

    cf_future *next;
    ck_assert_int_eq(cf_submit(&next, ex, worker_pid), 0);
    pid_t successor = result_i32(next);
    ck_assert_int_ne(successor, victim);
    ck_assert(!cf_future_cancel_running(next)); /* finished: false, value kept */
    expect_value_i32(next, successor);
    cf_future_release(next);
    cf_future_release(f);
    cf_executor_free(ex);
    close_chan(started);
}
END_TEST

/* A call cancelled while it waits in a worker behind another is stopped when
 * its turn comes: the calls behind it still run. */
START_TEST(process_pool_cancel_running_queued_in_worker)
{
    chan started = new_chan(), go = new_chan();
    cf_executor *ex = new_process_pool_of(1);
    cf_future *a, *b, *c;
    ck_assert_int_eq(cf_submit(&a, ex, gate, started.wr, go.rd), 0);
    pid_t first = read_i32(started.rd);
    ck_assert_int_eq(cf_submit(&b, ex, hang, started.wr), 0);
    ck_assert_int_eq(cf_submit(&c, ex, worker_pid), 0);
    ck_assert(eventually_running(b)); /* sent to the worker, behind a */
    ck_assert(cf_future_cancel_running(b));
    ck_assert(cf_future_cancelled(b));
    release(go, 1);
    expect_value_i32(a, first);
    int32_t pid = result_i32(c);
    ck_assert_int_gt(pid, 0);
    expect_failure(b, CF_ECANCELLED);
    cf_future_release(a);
    cf_future_release(b);
    cf_future_release(c);
    cf_executor_free(ex);
    close_chan(started);
    close_chan(go);
}
END_TEST

/* Cancel-running aimed at calls that may answer just before the kill: a
 * cancelled future ends cancelled, every other one with its value. */
START_TEST(process_pool_cancel_running_races_answers)
{
    enum { N = 120 };
    cf_executor *ex = new_process_pool_of(2);
    cf_future *f[N];
    bool cancelled[N] = {0};
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(cf_submit(&f[i], ex, spin, 300 + (i % 7) * 100, i), 0);
    for (int i = 0; i < N; i += 3) {
        ck_assert(eventually_running(f[i]) || cf_future_done(f[i]));
        cancelled[i] = cf_future_cancel_running(f[i]);
    }
    int ncancelled = 0;
    for (int i = 0; i < N; i++) {
        if (cancelled[i]) {
            expect_failure(f[i], CF_ECANCELLED);
            ncancelled++;
        } else {
            expect_value_i32(f[i], i);
        }
        cf_future_release(f[i]);
    }
    ck_assert_int_le(ncancelled, (N + 2) / 3);
    cf_future *g;
    ck_assert_int_eq(cf_submit(&g, ex, add_one, 1), 0);
    expect_value_i32(g, 2);
    cf_future_release(g);
    cf_executor_free(ex);
}
END_TEST

/* Queue `n` short calls of maybe_hang and then one that hangs, all behind a
 * gate, so that the worker gets them in one read: it holds the short calls'
 * answers while the hanging one runs. Returns the hanging call's worker. */
static pid_t short_calls_then_hang(cf_executor *ex, chan started, chan go, cf_future **shorts,
                                   int n, cf_future **hanging)
{
    cf_future *gated;
    ck_assert_int_eq(cf_submit(&gated, ex, gate, started.wr, go.rd), 0);
    pid_t worker = read_i32(started.rd);
    for (int i = 0; i < n; i++)
        ck_assert_int_eq(cf_submit(&shorts[i], ex, maybe_hang, i, started.wr), 0);
    ck_assert_int_eq(cf_submit(hanging, ex, maybe_hang, -1, started.wr), 0);
    ck_assert(eventually_running(*hanging)); /* everything is in the worker's socket */
    release(go, 1);
    expect_value_i32(gated, worker);
    cf_future_release(gated);
    ck_assert_int_eq(read_i32(started.rd), worker); /* it hangs */
    return worker;
}

START_TEST(process_pool_cancel_running_with_answers_held)
{
    enum { N = 5 };
    chan started = new_chan(), go = new_chan();
    cf_executor *ex = new_process_pool_of(1);
    cf_future *shorts[N], *hanging;
    pid_t victim = short_calls_then_hang(ex, started, go, shorts, N, &hanging);
    ck_assert(cf_future_cancel_running(hanging));
    for (int i = 0; i < N; i++) {
        expect_value_i32(shorts[i], i);
        cf_future_release(shorts[i]);
    }
    expect_failure(hanging, CF_ECANCELLED);
    ck_assert(process_gone(victim));
    cf_future_release(hanging);
    cf_executor_free(ex);
    close_chan(started);
    close_chan(go);
}
END_TEST

/* ---- Time limits --------------------------------------------------------------------- */

START_TEST(process_pool_task_timeout_with_answers_held)
{
    enum { N = 5 };
    chan started = new_chan(), go = new_chan();
    cf_executor *ex = new_process_pool(
        &(cf_process_pool_options){.max_workers = 1, .task_timeout = 1.0});
    cf_future *shorts[N], *hanging;
    pid_t victim = short_calls_then_hang(ex, started, go, shorts, N, &hanging);
    const cf_error *e = expect_failure(hanging, CF_ETASKTIMEOUT);
    expect_origin_is(e, victim);
    for (int i = 0; i < N; i++) { /* their answers died with the worker: they ran again */
        expect_value_i32(shorts[i], i);
        cf_future_release(shorts[i]);
    }
    cf_future_release(hanging);
    cf_executor_free(ex);
    close_chan(started);
    close_chan(go);
}
END_TEST

START_TEST(process_pool_task_timeout)
{
    enum { N = 20 };
    chan started = new_chan();
    cf_executor *ex = new_process_pool(
        &(cf_process_pool_options){.max_workers = 1, .task_timeout = 1.0});
    cf_future *before[N], *stuck, *after[N], *in_time;
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(cf_submit(&before[i], ex, add_one, i), 0);
    ck_assert_int_eq(cf_submit(&stuck, ex, hang, started.wr), 0);
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(cf_submit(&after[i], ex, add_one, 100 + i), 0);
    ck_assert_int_eq(cf_submit(&in_time, ex, snooze, 20, 7), 0);
    pid_t victim = read_i32(started.rd);

    const cf_error *e = expect_failure(stuck, CF_ETASKTIMEOUT);
    ck_assert_str_eq(e->task, "hang");
    ck_assert_int_eq(e->detail, 0);
    expect_origin_is(e, victim);
    ck_assert_ptr_nonnull(strstr(e->message, "time limit"));
    for (int i = 0; i < N; i++) {
        expect_value_i32(before[i], i + 1);
        expect_value_i32(after[i], 101 + i);
        cf_future_release(before[i]);
        cf_future_release(after[i]);
    }
    expect_value_i32(in_time, 7);
    ck_assert(process_gone(victim));
    cf_future *g;
    ck_assert_int_eq(cf_submit(&g, ex, worker_pid), 0);
    ck_assert_int_ne(result_i32(g), victim);
    cf_future_release(g);
    cf_future_release(stuck);
    cf_future_release(in_time);
    cf_executor_free(ex);
    close_chan(started);
}
END_TEST

/* cf_submit_with: a call's own time limit, and lifting the pool's. */
START_TEST(process_pool_submit_timeout)
{
    chan started = new_chan(), go = new_chan();
    cf_executor *ex = new_process_pool(&(cf_process_pool_options){.max_workers = 1});
    cf_future *stuck, *bad = (cf_future *)&bad;
    ck_assert_int_eq(cf_submit_with(&bad, ex, &(cf_submit_options){.timeout = NAN}, add_one, 1),
                     CF_EINVAL);
    ck_assert_ptr_null(bad);
    ck_assert_int_eq(
        cf_submit_with(&stuck, ex, &(cf_submit_options){.timeout = 0.5}, hang, started.wr), 0);
    pid_t victim = read_i32(started.rd);
    const cf_error *e = expect_failure(stuck, CF_ETASKTIMEOUT);
    ck_assert_ptr_nonnull(strstr(e->message, "time limit of 0.5 s"));
    expect_origin_is(e, victim);
    cf_future_release(stuck);
    cf_executor_free(ex);

    /* CF_FOREVER lifts the pool's limit for that call only. */
    ex = new_process_pool(&(cf_process_pool_options){.max_workers = 1, .task_timeout = 0.2});
    cf_future *patient;
    ck_assert_int_eq(cf_submit_with(&patient, ex, &(cf_submit_options){.timeout = CF_FOREVER},
                                    gate, started.wr, go.rd),
                     0);
    (void)read_i32(started.rd);
    /* Five times the pool's limit later it still runs. */
    ck_assert_int_eq(cf_future_wait(patient, 1.0), CF_ETIMEDOUT);
    write_all(go.wr, "x", 1);
    ck_assert_int_eq(cf_future_wait(patient, DEADLINE_S), 0);
    ck_assert_ptr_null(cf_future_error(patient));
    cf_future_release(patient);
    cf_executor_free(ex);
    close_chan(started);
    close_chan(go);
}
END_TEST

START_TEST(process_pool_rejects_nan_timeout)
{
    cf_executor *ex = (cf_executor *)&ex;
    ck_assert_int_eq(cf_process_pool_new(&ex, &(cf_process_pool_options){.task_timeout = NAN}),
                     CF_EINVAL);
    ck_assert_ptr_null(ex);
    ck_assert_int_eq(cf_process_pool_new(NULL, NULL), CF_EINVAL);
    /* Defaults: one worker per CPU. */
    ck_assert_int_eq(cf_process_pool_new(&ex, NULL), 0);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    ck_assert_uint_eq(cf_executor_max_workers(ex), (size_t)(cpus > 0 ? cpus : 1));
    cf_executor_free(ex);
}
END_TEST

/* ---- Shutdown ------------------------------------------------------------------------- */

START_TEST(process_pool_shutdown_idempotent)
{
    cf_executor *ex = new_process_pool_of(2);
    cf_future *f;
    ck_assert_int_eq(cf_submit(&f, ex, add_one, 1), 0);
    ck_assert_int_eq(cf_executor_shutdown(ex, 0, CF_FOREVER), 0);
    ck_assert_int_eq(cf_executor_shutdown(ex, 0, CF_FOREVER), 0);
    cf_future *g = (cf_future *)&g;
    ck_assert_int_eq(cf_submit(&g, ex, add_one, 2), CF_ESHUTDOWN);
    ck_assert_ptr_null(g);
    ck_assert_int_eq(cf_executor_shutdown(ex, CF_SHUTDOWN_WAIT, CF_FOREVER), 0);
    ck_assert_int_eq(cf_executor_shutdown(ex, CF_SHUTDOWN_WAIT, CF_FOREVER), 0);
    ck_assert(cf_future_done(f)); /* submitted before: completed */
    expect_value_i32(f, 2);
    ck_assert_int_eq(cf_executor_shutdown(ex, 1u << 9, 0), CF_EINVAL);
    ck_assert_int_eq(cf_executor_shutdown(ex, 0, NAN), CF_EINVAL);
    cf_future_release(f);
    cf_executor_free(ex);
}
END_TEST

START_TEST(process_pool_shutdown_wait_completes_everything)
{
    enum { N = 60 };
    cf_executor *ex = new_process_pool_of(2);
    cf_future *f[N];
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(cf_submit(&f[i], ex, snooze, i % 3, i), 0);
    ck_assert_int_eq(cf_executor_shutdown(ex, CF_SHUTDOWN_WAIT, CF_FOREVER), 0);
    for (int i = 0; i < N; i++) {
        ck_assert(cf_future_done(f[i]));
        expect_value_i32(f[i], i);
        cf_future_release(f[i]);
    }
    cf_executor_free(ex);
}
END_TEST

START_TEST(process_pool_shutdown_cancel_futures)
{
    enum { N = 200 };
    chan started = new_chan(), go = new_chan();
    cf_executor *ex = new_process_pool_of(1);
    cf_future *blocker, *f[N];
    pid_t worker = queue_behind_gate(ex, started, go, &blocker, f, N);
    ck_assert_int_eq(cf_executor_shutdown(ex, CF_SHUTDOWN_CANCEL_FUTURES, 0), 0);
    ck_assert(cf_future_cancelled(f[N - 1])); /* was still pending */
    release(go, 1);
    ck_assert_int_eq(cf_executor_shutdown(ex, CF_SHUTDOWN_WAIT, CF_FOREVER), 0);
    expect_value_i32(blocker, worker); /* running: finished */
    int cancelled = 0;
    for (int i = 0; i < N; i++) {
        ck_assert(cf_future_done(f[i]));
        if (cf_future_cancelled(f[i]))
            cancelled++;
        else
            expect_value_i32(f[i], i + 1); /* already sent to the worker: ran */
        cf_future_release(f[i]);
    }
    ck_assert_int_gt(cancelled, 0);
    cf_future_release(blocker);
    cf_executor_free(ex);
    close_chan(started);
    close_chan(go);
}
END_TEST

/* A waiting shutdown whose deadline passes terminates what still runs. */
START_TEST(process_pool_shutdown_wait_timeout_terminates)
{
    chan started = new_chan();
    cf_executor *ex = new_process_pool_of(2);
    cf_future *stuck, *quick;
    ck_assert_int_eq(cf_submit(&stuck, ex, hang, started.wr), 0);
    pid_t victim = read_i32(started.rd);
    ck_assert_int_eq(cf_submit(&quick, ex, add_one, 1), 0);
    expect_value_i32(quick, 2);
    ck_assert_int_eq(cf_executor_shutdown(ex, CF_SHUTDOWN_WAIT, 0.2), CF_ETIMEDOUT);
    ck_assert(cf_future_done(stuck)); /* the pool returns once it is reaped */
    const cf_error *e = expect_failure(stuck, CF_ETERMINATED);
    ck_assert_str_eq(e->task, "hang");
    expect_origin_is(e, victim);
    ck_assert(process_gone(victim));
    cf_future_release(stuck);
    cf_future_release(quick);
    cf_executor_free(ex);
    close_chan(started);
}
END_TEST

START_TEST(process_pool_shutdown_terminate)
{
    enum { N = 100 };
    chan started = new_chan();
    cf_executor *ex = new_process_pool_of(1);
    cf_future *stuck, *f[N];
    ck_assert_int_eq(cf_submit(&stuck, ex, hang, started.wr), 0);
    pid_t victim = read_i32(started.rd);
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(cf_submit(&f[i], ex, add_one, i), 0);
    ck_assert_int_eq(cf_executor_shutdown(ex, CF_SHUTDOWN_TERMINATE | CF_SHUTDOWN_WAIT, 10.0),
                     0);
    const cf_error *e = expect_failure(stuck, CF_ETERMINATED);
    expect_origin_is(e, victim);
    int cancelled = 0;
    for (int i = 0; i < N; i++) {
        ck_assert(cf_future_done(f[i]));
        if (cf_future_cancelled(f[i]))
            cancelled++; /* was pending */
        else
            expect_failure(f[i], CF_ETERMINATED); /* was sent to the killed worker */
        cf_future_release(f[i]);
    }
    ck_assert_int_gt(cancelled, 0);
    ck_assert(process_gone(victim));
    cf_future *g = (cf_future *)&g;
    ck_assert_int_eq(cf_submit(&g, ex, add_one, 1), CF_ESHUTDOWN);
    cf_future_release(stuck);
    cf_executor_free(ex);
    close_chan(started);
}
END_TEST

/* Shutdown under load, with each kind of flags: nothing hangs, nothing is
 * lost (every future ends done, with its value or an error). */
static void check_shutdown_under_load(unsigned flags)
{
    enum { N = 10000 };
    cf_executor *ex = new_process_pool_of(2);
    cf_future **f = calloc(N, sizeof *f);
    ck_assert_ptr_nonnull(f);
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(cf_submit(&f[i], ex, add_one, i), 0);
    ck_assert_int_eq(cf_executor_shutdown(ex, flags | CF_SHUTDOWN_WAIT, CF_FOREVER), 0);
    int values = 0;
    for (int i = 0; i < N; i++) {
        ck_assert(cf_future_done(f[i]));
        if (cf_future_cancelled(f[i])) {
            ck_assert(flags != 0);
        } else if (cf_future_failed(f[i])) {
            ck_assert(flags & CF_SHUTDOWN_TERMINATE);
            ck_assert_int_eq(cf_future_error(f[i])->code, CF_ETERMINATED);
        } else {
            expect_value_i32(f[i], i + 1);
            values++;
        }
        cf_future_release(f[i]);
    }
    if (flags == 0)
        ck_assert_int_eq(values, N);
    free(f);
    cf_executor_free(ex);
}

START_TEST(process_pool_shutdown_under_load)
{
    check_shutdown_under_load(0);
    check_shutdown_under_load(CF_SHUTDOWN_CANCEL_FUTURES);
    check_shutdown_under_load(CF_SHUTDOWN_TERMINATE);
}
END_TEST

/* Crashing calls among others, and a shutdown right away. */
START_TEST(process_pool_shutdown_racing_crashes)
{
    enum { N = 400 };
    for (int round = 0; round < 3; round++) {
        cf_executor *ex = new_process_pool_of(2);
        cf_future *f[N];
        for (int i = 0; i < N; i++)
            ck_assert_int_eq(cf_submit(&f[i], ex, crash, i % 50 == 7 ? CRASH_ABORT : CRASH_NONE, i),
                             0);
        unsigned flags = round == 0 ? 0 : round == 1 ? CF_SHUTDOWN_CANCEL_FUTURES
                                                      : CF_SHUTDOWN_TERMINATE;
        ck_assert_int_eq(cf_executor_shutdown(ex, flags | CF_SHUTDOWN_WAIT, CF_FOREVER), 0);
        for (int i = 0; i < N; i++) {
            ck_assert(cf_future_done(f[i]));
            if (cf_future_cancelled(f[i])) {
                ck_assert(flags != 0);
            } else if (cf_future_failed(f[i])) {
                int code = cf_future_error(f[i])->code;
                if (i % 50 == 7)
                    ck_assert(code == CF_ECRASHED || code == CF_ETERMINATED);
                else
                    ck_assert_int_eq(code, CF_ETERMINATED);
                ck_assert(code == CF_ECRASHED || flags == CF_SHUTDOWN_TERMINATE);
            } else {
                ck_assert(i % 50 != 7);
                expect_value_i32(f[i], i);
            }
            cf_future_release(f[i]);
        }
        cf_executor_free(ex);
    }
}
END_TEST

/* ---- Callbacks ------------------------------------------------------------------------ */

typedef struct callback_probe {
    cf_executor *ex;
    atomic_int shutdown_rc; /* what the callback's shutdown returned (1: not yet) */
    atomic_int submit_rc;
    char thread_name[32];
    pthread_t thread;
    cf_future *submitted;
    atomic_int done;
} callback_probe;

static void shutdown_in_callback(cf_future *f, void *arg)
{
    (void)f;
    callback_probe *probe = arg;
    probe->thread = pthread_self();
    pthread_getname_np(pthread_self(), probe->thread_name, sizeof probe->thread_name);
    atomic_store(&probe->shutdown_rc,
                 cf_executor_shutdown(probe->ex, CF_SHUTDOWN_WAIT, CF_FOREVER));
    cf_future *g = NULL;
    atomic_store(&probe->submit_rc, cf_submit(&g, probe->ex, add_one, 1));
    atomic_store(&probe->done, 1);
}

/* Callbacks run on the pool's dispatcher thread, where a waiting shutdown
 * would wait for itself: it is refused (the shutdown itself happens). */
START_TEST(process_pool_shutdown_from_callback)
{
    cf_executor *ex = new_process_pool_of(1);
    callback_probe probe = {.ex = ex};
    atomic_init(&probe.shutdown_rc, 1);
    atomic_init(&probe.submit_rc, 1);
    atomic_init(&probe.done, 0);
    cf_future *f;
    ck_assert_int_eq(cf_submit(&f, ex, snooze, 10, 1), 0);
    ck_assert_int_eq(cf_future_add_done_callback(f, shutdown_in_callback, &probe), 0);
    expect_value_i32(f, 1);
    ck_assert(EVENTUALLY(atomic_load(&probe.done)));
    ck_assert_int_eq(atomic_load(&probe.shutdown_rc), CF_EDEADLOCK);
    ck_assert_int_eq(atomic_load(&probe.submit_rc), CF_ESHUTDOWN);
    ck_assert(!pthread_equal(probe.thread, pthread_self()));
    ck_assert_str_eq(probe.thread_name, "cf-dispatch");
    ck_assert_int_eq(cf_executor_shutdown(ex, CF_SHUTDOWN_WAIT, CF_FOREVER), 0);
    cf_future_release(f);
    cf_executor_free(ex);
}
END_TEST

static void free_in_callback(cf_future *f, void *arg)
{
    (void)f;
    callback_probe *probe = arg;
    cf_executor_free(probe->ex); /* deferred: the dispatcher frees it when it ends */
    atomic_store(&probe->done, 1);
}

START_TEST(process_pool_free_from_callback)
{
    ck_assert_int_eq(count_children(), 0);
    cf_executor *ex = new_process_pool_of(1);
    callback_probe probe = {.ex = ex};
    atomic_init(&probe.done, 0);
    cf_future *f, *later;
    ck_assert_int_eq(cf_submit(&f, ex, add_one, 1), 0);
    ck_assert_int_eq(cf_submit(&later, ex, snooze, 20, 5), 0);
    ck_assert_int_eq(cf_future_add_done_callback(f, free_in_callback, &probe), 0);
    expect_value_i32(f, 2);
    expect_value_i32(later, 5); /* submitted before the free: completes */
    /* The dispatcher ends, freeing the pool, and the fork server is reaped. */
    ck_assert(EVENTUALLY(count_threads_named("cf-dispatch") == 0));
    ck_assert(atomic_load(&probe.done));
    ck_assert(EVENTUALLY(count_children() == 0));
    cf_future_release(f);
    cf_future_release(later);
}
END_TEST

static void *cancel_running_thread(void *arg)
{
    return cf_future_cancel_running(arg) ? arg : NULL;
}

/* Join thread t (its result in *result, unless NULL); true when it ended
 * within the deadline. The join waits for the thread's end itself, a second
 * at a time so that the deadline is checked. */
static bool joined_in_time(pthread_t t, void **result)
{
    double deadline = now_s() + DEADLINE_S;
    for (;;) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        if (pthread_timedjoin_np(t, result, &ts) == 0)
            return true;
        if (now_s() > deadline)
            return false;
    }
}

/* The callbacks of a future cancelled while running run in the cancelling
 * thread, inside the pool's canceller: freeing the pool there is deferred. */
START_TEST(process_pool_free_from_callback_of_cancel_running)
{
    chan started = new_chan();
    cf_executor *ex = new_process_pool_of(1);
    callback_probe probe = {.ex = ex};
    atomic_init(&probe.done, 0);
    cf_future *f;
    ck_assert_int_eq(cf_submit(&f, ex, hang, started.wr), 0);
    pid_t victim = read_i32(started.rd);
    ck_assert_int_eq(cf_future_add_done_callback(f, free_in_callback, &probe), 0);
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, cancel_running_thread, f), 0);
    void *outcome = NULL;
    ck_assert_msg(joined_in_time(t, &outcome), "cf_future_cancel_running did not return");
    ck_assert_ptr_eq(outcome, f); /* it returned true */
    ck_assert(atomic_load(&probe.done));
    ck_assert(cf_future_cancelled(f));
    ck_assert(EVENTUALLY(count_threads_named("cf-dispatch") == 0));
    ck_assert(EVENTUALLY(count_children() == 0));
    ck_assert(process_gone(victim));
    cf_future_release(f);
    close_chan(started);
}
END_TEST

static void free_after_dispatcher_ends(cf_future *f, void *arg)
{
    (void)f;
    callback_probe *probe = arg;
    /* Let the dispatcher end first (the case this callback sets up). It may
     * run on one of the pool's threads, so it frees the pool either way
     * rather than fail the test from there. */
    (void)EVENTUALLY(count_threads_named("cf-dispatch") == 0);
    cf_executor_free(probe->ex);
    atomic_store(&probe->done, 1);
}

/* The same, when the dispatcher has ended by the time the callback frees the
 * pool (here: the time limit stopped the call, and the pool was shut down). */
START_TEST(process_pool_free_from_callback_after_dispatcher_ended)
{
    chan started = new_chan();
    cf_executor *ex = new_process_pool(
        &(cf_process_pool_options){.max_workers = 1, .task_timeout = 0.5});
    callback_probe probe = {.ex = ex};
    atomic_init(&probe.done, 0);
    cf_future *f;
    ck_assert_int_eq(cf_submit(&f, ex, hang, started.wr), 0);
    pid_t victim = read_i32(started.rd);
    ck_assert_int_eq(cf_future_add_done_callback(f, free_after_dispatcher_ends, &probe), 0);
    ck_assert_int_eq(cf_executor_shutdown(ex, 0, 0), 0);
    ck_assert(cf_future_cancel_running(f)); /* runs the callback, which frees */
    ck_assert(atomic_load(&probe.done));
    ck_assert(cf_future_cancelled(f));
    ck_assert(EVENTUALLY(count_children() == 0));
    ck_assert(process_gone(victim));
    cf_future_release(f);
    close_chan(started);
}
END_TEST

static void submit_in_callback(cf_future *f, void *arg)
{
    callback_probe *probe = arg;
    int32_t v = 0;
    cf_future_result(f, &v, 0);
    cf_future *g = NULL;
    atomic_store(&probe->submit_rc, cf_submit(&g, probe->ex, add_one, v));
    probe->submitted = g;
    atomic_store(&probe->done, 1);
}

START_TEST(process_pool_submit_from_callback)
{
    cf_executor *ex = new_process_pool_of(2);
    callback_probe probe = {.ex = ex};
    atomic_init(&probe.submit_rc, 1);
    atomic_init(&probe.done, 0);
    cf_future *f;
    ck_assert_int_eq(cf_submit(&f, ex, add_one, 40), 0);
    ck_assert_int_eq(cf_future_add_done_callback(f, submit_in_callback, &probe), 0);
    expect_value_i32(f, 41);
    ck_assert(EVENTUALLY(atomic_load(&probe.done)));
    ck_assert_int_eq(atomic_load(&probe.submit_rc), 0);
    expect_value_i32(probe.submitted, 42);
    cf_future_release(probe.submitted);
    cf_future_release(f);
    cf_executor_free(ex);
}
END_TEST

/* ---- Scheduling ------------------------------------------------------------------------- */

/* After many tiny calls (which pipeline deeply), two long ones still go to
 * different workers and run at the same time: each waits until the test has
 * seen both start, so they could not finish one after the other. */
START_TEST(process_pool_long_tasks_spread_over_workers)
{
    enum { TINY = 2000 };
    chan started = new_chan(), go = new_chan();
    cf_executor *ex = new_process_pool_of(2);
    cf_future **tiny = calloc(TINY, sizeof *tiny);
    ck_assert_ptr_nonnull(tiny);
    for (int i = 0; i < TINY; i++)
        ck_assert_int_eq(cf_submit(&tiny[i], ex, add_one, i), 0);
    for (int i = 0; i < TINY; i++) {
        expect_value_i32(tiny[i], i + 1);
        cf_future_release(tiny[i]);
    }
    free(tiny);
    cf_future *a, *b;
    ck_assert_int_eq(cf_submit(&a, ex, timed_gate, started.wr, go.rd), 0);
    ck_assert_int_eq(cf_submit(&b, ex, timed_gate, started.wr, go.rd), 0);
    int32_t p1 = read_i32(started.rd), p2 = read_i32(started.rd); /* both running */
    ck_assert_int_ne(p1, p2);
    release(go, 2);
    span sa, sb;
    ck_assert_int_eq(cf_future_result(a, &sa, DEADLINE_S), 0);
    ck_assert_int_eq(cf_future_result(b, &sb, DEADLINE_S), 0);
    ck_assert_int_ne(sa.pid, sb.pid);
    ck_assert(sa.start < sb.end && sb.start < sa.end); /* the intervals overlap */
    cf_future_release(a);
    cf_future_release(b);
    cf_executor_free(ex);
    close_chan(started);
    close_chan(go);
}
END_TEST

/* ---- Losing the fork server ------------------------------------------------------------- */

START_TEST(process_pool_fork_server_dies)
{
    enum { N = 50 };
    chan started = new_chan();
    cf_executor *ex = new_process_pool_of(2);
    cf_future *f;
    ck_assert_int_eq(cf_submit(&f, ex, server_pid), 0);
    pid_t server = result_i32(f);
    cf_future_release(f);
    ck_assert_int_ne(server, getpid());
    cf_future *stuck[2], *queued[N];
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(cf_submit(&stuck[i], ex, hang, started.wr), 0);
    pid_t w1 = read_i32(started.rd), w2 = read_i32(started.rd);
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(cf_submit(&queued[i], ex, add_one, i), 0);
    ck_assert_int_eq(kill(server, SIGKILL), 0);
    for (int i = 0; i < 2; i++) {
        expect_failure(stuck[i], CF_ETERMINATED);
        cf_future_release(stuck[i]);
    }
    for (int i = 0; i < N; i++) {
        const cf_error *e = expect_failure(queued[i], CF_EBROKEN);
        ck_assert_ptr_nonnull(strstr(e->message, "fork server"));
        cf_future_release(queued[i]);
    }
    cf_future *g = (cf_future *)&g;
    ck_assert_int_eq(cf_submit(&g, ex, add_one, 1), CF_EBROKEN);
    ck_assert_ptr_null(g);
    ck_assert(process_gone(w1)); /* the workers die with the server */
    ck_assert(process_gone(w2));
    cf_executor_free(ex);
    ck_assert(EVENTUALLY(count_children() == 0));
    close_chan(started);
}
END_TEST

/* ---- Limits and failures to start ---------------------------------------------------------- */

START_TEST(process_pool_frame_size_limit)
{
    static char text[20000];
    memset(text, 'q', sizeof text - 1);
    cf_executor *ex = new_process_pool(
        &(cf_process_pool_options){.max_workers = 1, .max_frame_size = 4096});
    cf_future *call_too_big, *result_too_big, *fine;
    ck_assert_int_eq(cf_submit(&call_too_big, ex, str_digest, text), 0);
    text[3000] = '\0'; /* a call that fits, whose result (upper case) does too */
    ck_assert_int_eq(cf_submit(&fine, ex, str_upper, text), 0);
    const cf_error *e = expect_failure(call_too_big, CF_ETOOBIG);
    ck_assert_str_eq(e->task, "str_digest");
    const char *s;
    ck_assert_int_eq(cf_future_result(fine, &s, DEADLINE_S), 0);
    ck_assert_uint_eq(strlen(s), 3000);
    /* A small call whose result is over the limit. */
    ck_assert_int_eq(cf_submit(&result_too_big, ex, repeat_z, 10000), 0);
    e = expect_failure(result_too_big, CF_ETOOBIG);
    ck_assert_str_eq(e->task, "repeat_z");
    /* The worker goes on. */
    cf_future *g;
    ck_assert_int_eq(cf_submit(&g, ex, repeat_z, 100), 0);
    ck_assert_int_eq(cf_future_result(g, &s, DEADLINE_S), 0);
    ck_assert_uint_eq(strlen(s), 100);
    cf_future_release(g);
    cf_future_release(result_too_big);
    cf_future_release(call_too_big);
    cf_future_release(fine);
    cf_executor_free(ex);
}
END_TEST

/* The highest descriptor number open in this process below `limit` (a tool
 * such as valgrind keeps descriptors of its own above the limit it shows). */
static int highest_fd(rlim_t limit)
{
    DIR *d = opendir("/proc/self/fd");
    ck_assert_ptr_nonnull(d);
    int high = -1;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        int fd = atoi(e->d_name);
        if (e->d_name[0] != '.' && fd > high && (rlim_t)fd < limit)
            high = fd;
    }
    closedir(d);
    return high;
}

/* With no descriptor left for a worker's socket, the waiting call fails with
 * the reason; once descriptors are back, the pool works again. */
START_TEST(process_pool_worker_cannot_start)
{
    cf_executor *ex = new_process_pool_of(1);
    struct rlimit old;
    ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &old), 0);
    struct rlimit low = old;
    low.rlim_cur = (rlim_t)highest_fd(old.rlim_cur) + 8;
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
    /* Take every descriptor left below the new limit. */
    int *hoard = calloc(low.rlim_cur, sizeof *hoard);
    ck_assert_ptr_nonnull(hoard);
    int n = 0, fd;
    while ((fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0)
        hoard[n++] = fd;
    ck_assert_int_eq(errno, EMFILE);

    cf_future *f;
    ck_assert_int_eq(cf_submit(&f, ex, add_one, 1), 0);
    ck_assert_int_eq(cf_future_wait(f, DEADLINE_S), 0);
    const cf_error *e = cf_future_error(f);
    ck_assert_ptr_nonnull(e);
    /* valgrind emulates running out of descriptors with its own errno */
    ck_assert_msg(e->code == -EMFILE || (RUNNING_ON_VALGRIND && e->code < 0 && e->code > -4000),
                  "%s: %s", cf_err_name(e->code), e->message);
    ck_assert_ptr_nonnull(strstr(e->message, "could be started"));
    cf_future_release(f);

    while (n > 0)
        close(hoard[--n]);
    free(hoard);
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &old), 0);
    ck_assert_int_eq(cf_submit(&f, ex, add_one, 2), 0);
    expect_value_i32(f, 3);
    cf_future_release(f);
    cf_executor_free(ex);
}
END_TEST

static void *make_pool(void *arg)
{
    cf_process_pool_new(arg, &(cf_process_pool_options){.max_workers = 1});
    return NULL;
}

/* The fork server outlives the thread that created the pool. */
START_TEST(process_pool_created_by_thread_that_ends)
{
    cf_executor *ex = NULL;
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, make_pool, &ex), 0);
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    ck_assert_ptr_nonnull(ex);
    for (int i = 0; i < 20; i++) {
        cf_future *f;
        int rc = cf_submit(&f, ex, add_one, i);
        ck_assert_msg(rc == 0, "submit %d: %s (%s)", i, cf_err_name(rc), cf_last_error());
        expect_value_i32(f, i + 1);
        cf_future_release(f);
    }
    cf_executor_free(ex);
}
END_TEST

static void *free_pool(void *arg)
{
    cf_executor_free(arg);
    return NULL;
}

/* Free ex from another thread; true when that ends within the deadline. */
static bool freed_in_time(cf_executor *ex)
{
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, free_pool, ex), 0);
    return joined_in_time(t, NULL);
}

/* A pool created after another holds copies of the first one's descriptors
 * (its fork server is a fork of this process): freeing the first still works. */
START_TEST(process_pool_two_pools_freed_in_creation_order)
{
    cf_executor *a = new_process_pool_of(1), *b = new_process_pool_of(1);
    cf_future *fa, *fb;
    ck_assert_int_eq(cf_submit(&fa, a, add_one, 1), 0);
    ck_assert_int_eq(cf_submit(&fb, b, add_one, 2), 0);
    expect_value_i32(fa, 2);
    expect_value_i32(fb, 3);
    ck_assert(freed_in_time(a));
    ck_assert(freed_in_time(b));
    ck_assert(EVENTUALLY(count_children() == 0));
    cf_future_release(fa);
    cf_future_release(fb);
}
END_TEST

/* ---- Suite ------------------------------------------------------------------------------ */

static Suite *process_pool_suite(void)
{
    Suite *s = suite_create("process_pool");
    TCase *tc = tcase_create("values");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, check_leaks_in_this_process_only, NULL);
    tcase_add_test(tc, process_pool_integers_at_extremes);
    tcase_add_test(tc, process_pool_floating_point);
    tcase_add_test(tc, process_pool_eight_parameters);
    tcase_add_test(tc, process_pool_strings);
    tcase_add_test(tc, process_pool_byte_buffers);
    tcase_add_test(tc, process_pool_structs_and_mixed);
    tcase_add_test(tc, process_pool_no_parameters_and_void_results);
    tcase_add_test(tc, process_pool_refuses_raw_pointers);
    tcase_add_test(tc, process_pool_result_type_check);
    tcase_add_test(tc, process_pool_submit_values);
    tcase_add_test(tc, process_pool_rejects_nan_timeout);
    tcase_add_test(tc, process_pool_frame_size_limit);
    suite_add_tcase(s, tc);

    tc = tcase_create("failures");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, check_leaks_in_this_process_only, NULL);
    tcase_add_test(tc, process_pool_crash_sigsegv);
    tcase_add_test(tc, process_pool_crash_abort);
    tcase_add_test(tc, process_pool_crash_sigkill);
    tcase_add_test(tc, process_pool_crash_exit);
    tcase_add_test(tc, process_pool_crash__exit);
    tcase_add_test(tc, process_pool_crash_among_many);
    tcase_add_test(tc, process_pool_task_fail);
    tcase_add_test(tc, process_pool_initializer_runs_once_per_worker);
    tcase_add_test(tc, process_pool_initializer_failure_breaks_pool);
    tcase_add_test(tc, process_pool_initializer_crash_breaks_pool);
    tcase_add_test(tc, process_pool_max_tasks_per_child);
    tcase_add_test(tc, process_pool_fork_server_dies);
    tcase_add_test(tc, process_pool_worker_cannot_start);
    tcase_add_test(tc, process_pool_created_by_thread_that_ends);
    tcase_add_test(tc, process_pool_two_pools_freed_in_creation_order);
    suite_add_tcase(s, tc);

    tc = tcase_create("stopping");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, check_leaks_in_this_process_only, NULL);
    tcase_add_test(tc, process_pool_cancel_pending);
    tcase_add_test(tc, process_pool_cancel_running);
    tcase_add_test(tc, process_pool_cancel_running_queued_in_worker);
    tcase_add_test(tc, process_pool_cancel_running_races_answers);
    tcase_add_test(tc, process_pool_task_timeout);
    tcase_add_test(tc, process_pool_submit_timeout);
    tcase_add_test(tc, process_pool_task_timeout_with_answers_held);
    tcase_add_test(tc, process_pool_cancel_running_with_answers_held);
    tcase_add_test(tc, process_pool_shutdown_idempotent);
    tcase_add_test(tc, process_pool_shutdown_wait_completes_everything);
    tcase_add_test(tc, process_pool_shutdown_cancel_futures);
    tcase_add_test(tc, process_pool_shutdown_wait_timeout_terminates);
    tcase_add_test(tc, process_pool_shutdown_terminate);
    tcase_add_test(tc, process_pool_shutdown_under_load);
    tcase_add_test(tc, process_pool_shutdown_racing_crashes);
    tcase_add_test(tc, process_pool_shutdown_from_callback);
    tcase_add_test(tc, process_pool_free_from_callback);
    tcase_add_test(tc, process_pool_free_from_callback_of_cancel_running);
    tcase_add_test(tc, process_pool_free_from_callback_after_dispatcher_ended);
    tcase_add_test(tc, process_pool_submit_from_callback);
    tcase_add_test(tc, process_pool_long_tasks_spread_over_workers);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(process_pool_suite());
}
