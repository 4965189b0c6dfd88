/* test_executor.c: the executor interface common to every executor: typed
 * submits of every parameter and result kind (run on a thread pool),
 * cf_task_fail() reaching the future, cf_submit_values(), argument checks,
 * and the dispatch to an executor's ops (through a fake executor built on
 * executor_priv.h that does not share memory; refs_of() from support.h reads
 * a future's reference count). */
#include "config.h"

#include <check.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cfutures.h>

#include "executor_priv.h"
#include "support.h"

/* ---- Tasks of every kind ------------------------------------------------------ */

static int8_t add_i8(int8_t a, int8_t b) { return (int8_t)(a + b); }
CF_TASK(int8_t, add_i8, int8_t, int8_t);
static uint8_t add_u8(uint8_t a, uint8_t b) { return (uint8_t)(a + b); }
CF_TASK(uint8_t, add_u8, uint8_t, uint8_t);
static int16_t add_i16(int16_t a, int16_t b) { return (int16_t)(a + b); }
CF_TASK(int16_t, add_i16, int16_t, int16_t);
static uint16_t add_u16(uint16_t a, uint16_t b) { return (uint16_t)(a + b); }
CF_TASK(uint16_t, add_u16, uint16_t, uint16_t);
static int32_t add_i32(int32_t a, int32_t b) { return a + b; }
CF_TASK(int32_t, add_i32, int32_t, int32_t);
static uint32_t add_u32(uint32_t a, uint32_t b) { return a + b; }
CF_TASK(uint32_t, add_u32, uint32_t, uint32_t);
static int64_t add_i64(int64_t a, int64_t b) { return a + b; }
CF_TASK(int64_t, add_i64, int64_t, int64_t);
static uint64_t add_u64(uint64_t a, uint64_t b) { return a + b; }
CF_TASK(uint64_t, add_u64, uint64_t, uint64_t);

/* The standard integer types map onto the fixed-width kinds. */
static long long mix_std(char c, short s, int i, long l, unsigned u, unsigned long ul)
{
    return (long long)c + s + i + l + (long long)u + (long long)ul;
}
CF_TASK(long long, mix_std, char, short, int, long, unsigned, unsigned long);

static float half_f32(float x) { return x / 2.0f; }
CF_TASK(float, half_f32, float);
static double hypot2(double a, double b) { return a * a + b * b; }
CF_TASK(double, hypot2, double, double);
static bool negate(bool b) { return !b; }
CF_TASK(bool, negate, bool);

/* Strings: the result is copied out of this thread-local buffer when the task
 * returns. NULL in, NULL out. */
static const char *shout(const char *s)
{
    static _Thread_local char buf[128];
    if (s == NULL)
        return NULL;
    size_t n = strlen(s);
    if (n >= sizeof buf)
        n = sizeof buf - 1;
    for (size_t i = 0; i < n; i++)
        buf[i] = (char)(s[i] >= 'a' && s[i] <= 'z' ? s[i] - 'a' + 'A' : s[i]);
    buf[n] = '\0';
    return buf;
}
CF_TASK(const char *, shout, const char *);

static size_t length_or_max(char *s)
{
    return s == NULL ? SIZE_MAX : strlen(s);
}
CF_TASK(size_t, length_or_max, char *);

static cf_bytes reverse_bytes(cf_bytes b)
{
    static _Thread_local unsigned char buf[256];
    const unsigned char *in = b.data;
    size_t n = b.len < sizeof buf ? b.len : sizeof buf;
    for (size_t i = 0; i < n; i++)
        buf[i] = in[n - 1 - i];
    return (cf_bytes){.data = n > 0 ? buf : NULL, .len = n};
}
CF_TASK(cf_bytes, reverse_bytes, cf_bytes);

typedef struct point {
    int32_t x;
    double y;
    char tag[5];
} point;

static point scale_point(point p, double k)
{
    p.x = (int32_t)(p.x * k);
    p.y *= k;
    p.tag[0] = 'S';
    return p;
}
CF_TASK(point, scale_point, point, double);

/* Larger than the stack block cf_submit_values packs into. */
typedef struct big {
    unsigned char data[300];
} big;

static uint32_t big_sum(big b, uint8_t weight)
{
    uint32_t sum = 0;
    for (size_t i = 0; i < sizeof b.data; i++)
        sum += b.data[i];
    return sum * weight;
}
CF_TASK(uint32_t, big_sum, big, uint8_t);

/* Raw pointers and a void result. */
static void store_int(int *where, int value)
{
    *where = value;
}
CF_TASK(void, store_int, int *, int);

static void *next_byte(void *p)
{
    return (char *)p + 1;
}
CF_TASK(void *, next_byte, void *);

static int answer(void)
{
    return 42;
}
CF_TASK(int, answer);

static double sum8(int8_t a, uint16_t b, int32_t c, uint64_t d, float e, double f, bool g,
                   const char *h)
{
    return a + b + c + (double)d + e + f + (g ? 1000.0 : 0.0) + (double)strlen(h);
}
CF_TASK(double, sum8, int8_t, uint16_t, int32_t, uint64_t, float, double, bool, const char *);

/* Fails with cf_task_fail() when `code` is nonzero. */
static int maybe_fail(int code)
{
    if (code != 0) {
        cf_task_fail(code, "refusing input %d", code);
        return -1;
    }
    return 7;
}
CF_TASK(int, maybe_fail, int);

/* Holds its worker until `gate` is done. */
static bool hold(cf_future *gate)
{
    return cf_future_wait(gate, DEADLINE_S) == 0;
}
CF_TASK(bool, hold, cf_future *);

/* ---- Utilities ------------------------------------------------------------------ */

static void close_pool(cf_executor *ex)
{
    ck_assert_int_eq(cf_executor_shutdown(ex, CF_SHUTDOWN_WAIT, DEADLINE_S), 0);
    cf_executor_free(ex);
}

/* Submit-and-read in one step, for the scalar kinds. */
#define ROUND_TRIP(ex, T, expected, ...)                                           \
    do {                                                                           \
        cf_future *f_ = NULL;                                                      \
        ck_assert_int_eq(cf_submit(&f_, (ex), __VA_ARGS__), 0);                    \
        T r_;                                                                      \
        memset(&r_, 0xAB, sizeof r_);                                              \
        ck_assert_int_eq(cf_future_result(f_, &r_, DEADLINE_S), 0);                \
        ck_assert_msg(r_ == (expected), "%s: wrong result", #__VA_ARGS__);         \
        cf_future_release(f_);                                                     \
    } while (0)

/* ---- Typed submits ------------------------------------------------------------------ */

START_TEST(executor_integer_kinds)
{
    cf_executor *ex = new_thread_pool_of(2);
    ROUND_TRIP(ex, int8_t, INT8_MIN, add_i8, INT8_MIN + 1, -1);
    ROUND_TRIP(ex, uint8_t, UINT8_MAX, add_u8, UINT8_MAX - 5, 5);
    ROUND_TRIP(ex, int16_t, INT16_MIN, add_i16, INT16_MIN + 7, -7);
    ROUND_TRIP(ex, uint16_t, UINT16_MAX, add_u16, 1, UINT16_MAX - 1);
    ROUND_TRIP(ex, int32_t, INT32_MIN, add_i32, INT32_MIN + 9, -9);
    ROUND_TRIP(ex, uint32_t, UINT32_MAX, add_u32, 3, UINT32_MAX - 3);
    ROUND_TRIP(ex, int64_t, INT64_MIN, add_i64, INT64_MIN + 11, -11);
    ROUND_TRIP(ex, uint64_t, UINT64_MAX, add_u64, UINT64_MAX - 13, 13);
    ROUND_TRIP(ex, long long, -3LL + 1000 + 100000 + 5000000000LL + 4000000000LL + 7,
               mix_std, (char)-3, (short)1000, 100000, 5000000000L, 4000000000u, 7ul);
    close_pool(ex);
}
END_TEST

START_TEST(executor_float_bool_kinds)
{
    cf_executor *ex = new_thread_pool_of(2);
    ROUND_TRIP(ex, float, 1.25f, half_f32, 2.5f);
    ROUND_TRIP(ex, double, 25.0, hypot2, 3.0, 4.0);
    ROUND_TRIP(ex, bool, false, negate, true);
    ROUND_TRIP(ex, bool, true, negate, false);
    cf_future *f;
    ck_assert_int_eq(cf_submit(&f, ex, hypot2, NAN, 1.0), 0);
    double r = 0;
    ck_assert_int_eq(cf_future_result(f, &r, DEADLINE_S), 0);
    ck_assert(isnan(r));
    cf_future_release(f);
    close_pool(ex);
}
END_TEST

START_TEST(executor_string_kinds)
{
    cf_executor *ex = new_thread_pool_of(1);
    /* Hold the only worker, so that the tasks below run after their
     * arguments' memory was overwritten: cf_submit must have copied it. */
    cf_future *gate = new_future(), *held, *f, *g, *n, *len_null;
    ck_assert_int_eq(cf_submit(&held, ex, hold, gate), 0);
    char text[16] = "hello";
    ck_assert_int_eq(cf_submit(&f, ex, shout, text), 0);
    ck_assert_int_eq(cf_submit(&g, ex, length_or_max, text), 0);
    ck_assert_int_eq(cf_submit(&n, ex, shout, NULL), 0);
    ck_assert_int_eq(cf_submit(&len_null, ex, length_or_max, NULL), 0);
    strcpy(text, "XXXXXXXXXXXXXX");
    open_gate(gate);

    const char *s = NULL;
    ck_assert_int_eq(cf_future_result(f, &s, DEADLINE_S), 0);
    ck_assert_str_eq(s, "HELLO");
    size_t len = 0;
    ck_assert_int_eq(cf_future_result(g, &len, DEADLINE_S), 0);
    ck_assert_uint_eq(len, 5);
    s = "not null";
    ck_assert_int_eq(cf_future_result(n, &s, DEADLINE_S), 0);
    ck_assert_ptr_null(s);
    ck_assert_int_eq(cf_future_result(len_null, &len, DEADLINE_S), 0);
    ck_assert_uint_eq(len, SIZE_MAX);

    /* The result is the future's own copy: another run of the task in the
     * same thread does not change it. */
    cf_future *other;
    ck_assert_int_eq(cf_submit(&other, ex, shout, "other"), 0);
    const char *s2 = NULL;
    ck_assert_int_eq(cf_future_result(other, &s2, DEADLINE_S), 0);
    ck_assert_str_eq(s2, "OTHER");
    ck_assert_int_eq(cf_future_result(f, &s, DEADLINE_S), 0);
    ck_assert_str_eq(s, "HELLO");

    cf_future *all[] = {held, f, g, n, len_null, other, gate};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        cf_future_release(all[i]);
    close_pool(ex);
}
END_TEST

START_TEST(executor_bytes_kind)
{
    cf_executor *ex = new_thread_pool_of(1);
    cf_future *gate = new_future(), *held, *f, *empty;
    ck_assert_int_eq(cf_submit(&held, ex, hold, gate), 0);
    unsigned char data[4] = {1, 2, 3, 4};
    ck_assert_int_eq(cf_submit(&f, ex, reverse_bytes, ((cf_bytes){data, sizeof data})), 0);
    ck_assert_int_eq(cf_submit(&empty, ex, reverse_bytes, ((cf_bytes){NULL, 0})), 0);
    memset(data, 0xEE, sizeof data);
    open_gate(gate);

    cf_bytes out = {0};
    ck_assert_int_eq(cf_future_result(f, &out, DEADLINE_S), 0);
    ck_assert_uint_eq(out.len, 4);
    const unsigned char *bytes = out.data;
    ck_assert(bytes[0] == 4 && bytes[1] == 3 && bytes[2] == 2 && bytes[3] == 1);
    ck_assert_int_eq(cf_future_result(empty, &out, DEADLINE_S), 0);
    ck_assert_uint_eq(out.len, 0);

    cf_future_release(held);
    cf_future_release(f);
    cf_future_release(empty);
    cf_future_release(gate);
    close_pool(ex);
}
END_TEST

START_TEST(executor_struct_kind)
{
    cf_executor *ex = new_thread_pool_of(2);
    cf_future *f;
    point p = {.x = 3, .y = 1.5, .tag = "abcd"};
    ck_assert_int_eq(cf_submit(&f, ex, scale_point, p, 2.0), 0);
    point r;
    memset(&r, 0, sizeof r);
    ck_assert_int_eq(cf_future_result(f, &r, DEADLINE_S), 0);
    ck_assert_int_eq(r.x, 6);
    ck_assert(r.y == 3.0);
    ck_assert_str_eq(r.tag, "Sbcd");
    cf_future_release(f);

    big b;
    for (size_t i = 0; i < sizeof b.data; i++)
        b.data[i] = (unsigned char)(i % 7);
    uint32_t expected = 0;
    for (size_t i = 0; i < sizeof b.data; i++)
        expected += b.data[i];
    ROUND_TRIP(ex, uint32_t, expected * 3, big_sum, b, 3);
    close_pool(ex);
}
END_TEST

START_TEST(executor_pointer_and_void_kinds)
{
    cf_executor *ex = new_thread_pool_of(2);
    int target = 0;
    cf_future *f;
    ck_assert_int_eq(cf_submit(&f, ex, store_int, &target, 99), 0);
    ck_assert_int_eq(cf_future_result(f, NULL, DEADLINE_S), 0);
    ck_assert_int_eq(target, 99);
    ck_assert_uint_eq(cf_future_result_type(f).kind, CF_KIND_VOID);
    /* A void result cannot be read as a value. */
    int not_a_result = 0;
    ck_assert_int_eq(cf_future_result(f, &not_a_result, 0.0), CF_ETYPE);
    cf_future_release(f);

    char buf[4] = "abc";
    ROUND_TRIP(ex, void *, (void *)(buf + 1), next_byte, buf);
    close_pool(ex);
}
END_TEST

START_TEST(executor_zero_and_eight_params)
{
    cf_executor *ex = new_thread_pool_of(2);
    ROUND_TRIP(ex, int, 42, answer);
    ROUND_TRIP(ex, double, -1 + 2 + 3 + 4.0 + 0.5 + 0.25 + 1000.0 + 3, sum8, -1, 2, 3, 4,
               0.5f, 0.25, true, "abc");
    close_pool(ex);
}
END_TEST

START_TEST(executor_result_type_mismatch)
{
    cf_executor *ex = new_thread_pool_of(1);
    cf_future *f;
    ck_assert_int_eq(cf_submit(&f, ex, add_i32, 1, 2), 0);
    double d = -1.0;
    ck_assert_int_eq(cf_future_result(f, &d, DEADLINE_S), CF_ETYPE);
    ck_assert(d == -1.0);
    int64_t wide = -1;
    ck_assert_int_eq(cf_future_result(f, &wide, DEADLINE_S), CF_ETYPE);
    ck_assert_int_eq(wide, -1);
    uint32_t unsigned_narrow = 0;
    ck_assert_int_eq(cf_future_result(f, &unsigned_narrow, DEADLINE_S), CF_ETYPE);
    /* The right type, and no value at all, both work after a mismatch. */
    int32_t r = 0;
    ck_assert_int_eq(cf_future_result(f, &r, DEADLINE_S), 0);
    ck_assert_int_eq(r, 3);
    ck_assert_int_eq(cf_future_result(f, NULL, DEADLINE_S), 0);
    cf_future_release(f);
    close_pool(ex);
}
END_TEST

START_TEST(executor_task_fail_reaches_future)
{
    cf_executor *ex = new_thread_pool_of(1);
    cf_future *bad, *good;
    ck_assert_int_eq(cf_submit(&bad, ex, maybe_fail, 13), 0);
    ck_assert_int_eq(cf_submit(&good, ex, maybe_fail, 0), 0);

    int r = 0;
    ck_assert_int_eq(cf_future_result(bad, &r, DEADLINE_S), CF_ETASK);
    ck_assert(cf_future_failed(bad));
    const cf_error *e = cf_future_error(bad);
    ck_assert_ptr_nonnull(e);
    ck_assert_int_eq(e->code, CF_ETASK);
    ck_assert_int_eq(e->detail, 13);
    ck_assert_str_eq(e->message, "refusing input 13");
    ck_assert_str_eq(e->task, "maybe_fail");
    ck_assert_str_eq(cf_future_task_name(bad), "maybe_fail");
    ck_assert_ptr_nonnull(e->origin);
    /* An unnamed pool's first thread: "cf-<pool>_0". */
    ck_assert_msg(strncmp(e->origin, "thread cf-", 10) == 0 &&
                      strcmp(e->origin + strlen(e->origin) - 2, "_0") == 0,
                  "origin %s", e->origin);

    /* The same worker goes on with the next task. */
    ck_assert_int_eq(cf_future_result(good, &r, DEADLINE_S), 0);
    ck_assert_int_eq(r, 7);
    ck_assert_ptr_null(cf_future_error(good));

    /* Outside a task, cf_task_fail() is refused. */
    ck_assert_int_eq(cf_task_fail(1, "not in a task"), CF_ESTATE);
    cf_future_release(bad);
    cf_future_release(good);
    close_pool(ex);
}
END_TEST

/* ---- cf_submit_values ------------------------------------------------------------------ */

static const cf_task *find_task(const char *name)
{
    const cf_task *t = NULL;
    ck_assert_int_eq(cf_task_find(name, &t), 0);
    ck_assert_ptr_nonnull(t);
    return t;
}

START_TEST(executor_submit_values)
{
    cf_executor *ex = new_thread_pool_of(2);
    cf_future *f = NULL;

    cf_value hv[] = {cf_value_f64(6.0), cf_value_f64(8.0)};
    ck_assert_int_eq(cf_submit_values(&f, ex, find_task("hypot2"), hv, 2), 0);
    double d = 0;
    ck_assert_int_eq(cf_future_result(f, &d, DEADLINE_S), 0);
    ck_assert(d == 100.0);
    cf_future_release(f);

    /* Strings are copied before the call returns. */
    char text[8] = "quiet";
    cf_value sv[] = {cf_value_str(text)};
    ck_assert_int_eq(cf_submit_values(&f, ex, find_task("shout"), sv, 1), 0);
    strcpy(text, "zzzzzzz");
    const char *s = NULL;
    ck_assert_int_eq(cf_future_result(f, &s, DEADLINE_S), 0);
    ck_assert_str_eq(s, "QUIET");
    cf_future_release(f);

    /* No parameters: args may be NULL. */
    ck_assert_int_eq(cf_submit_values(&f, ex, find_task("answer"), NULL, 0), 0);
    int r = 0;
    ck_assert_int_eq(cf_future_result(f, &r, DEADLINE_S), 0);
    ck_assert_int_eq(r, 42);
    cf_future_release(f);

    /* A struct bigger than the stack block: packed on the heap. */
    big b;
    memset(b.data, 1, sizeof b.data);
    cf_value bv[] = {cf_value_struct(&b, sizeof b), cf_value_u8(2)};
    ck_assert_int_eq(cf_submit_values(&f, ex, find_task("big_sum"), bv, 2), 0);
    uint32_t sum = 0;
    ck_assert_int_eq(cf_future_result(f, &sum, DEADLINE_S), 0);
    ck_assert_uint_eq(sum, 600);
    cf_future_release(f);

    /* Eight parameters of mixed kinds, and a NULL future (fire and forget). */
    cf_value ev[] = {cf_value_i8(1),   cf_value_u16(2),  cf_value_i32(3),   cf_value_u64(4),
                     cf_value_f32(.5f), cf_value_f64(.5), cf_value_bool(false), cf_value_str("xy")};
    ck_assert_int_eq(cf_submit_values(&f, ex, find_task("sum8"), ev, 8), 0);
    ck_assert_int_eq(cf_future_result(f, &d, DEADLINE_S), 0);
    ck_assert(d == 13.0);
    cf_future_release(f);
    ck_assert_int_eq(cf_submit_values(NULL, ex, find_task("sum8"), ev, 8), 0);
    close_pool(ex);
}
END_TEST

START_TEST(executor_submit_values_errors)
{
    cf_executor *ex = new_thread_pool_of(1);
    const cf_task *hyp = find_task("hypot2");
    cf_future *f = (cf_future *)&f; /* any non-NULL value: errors must reset it */

    cf_value one[] = {cf_value_f64(1.0)};
    ck_assert_int_eq(cf_submit_values(&f, ex, hyp, one, 1), CF_EINVAL);
    ck_assert_ptr_null(f);
    ck_assert_ptr_nonnull(strstr(cf_last_error(), "hypot2"));

    cf_value three[] = {cf_value_f64(1.0), cf_value_f64(2.0), cf_value_f64(3.0)};
    f = (cf_future *)&f;
    ck_assert_int_eq(cf_submit_values(&f, ex, hyp, three, 3), CF_EINVAL);
    ck_assert_ptr_null(f);

    cf_value wrong[] = {cf_value_f64(1.0), cf_value_str("2")};
    f = (cf_future *)&f;
    ck_assert_int_eq(cf_submit_values(&f, ex, hyp, wrong, 2), CF_ETYPE);
    ck_assert_ptr_null(f);
    const char *msg = cf_last_error();
    ck_assert_msg(strstr(msg, "args[1]") && strstr(msg, "double") && strstr(msg, "string") &&
                      strstr(msg, "hypot2"),
                  "unhelpful message: %s", msg);

    /* Same kind, other width. */
    cf_value narrow[] = {cf_value_i32(1), cf_value_i32(2)};
    ck_assert_int_eq(cf_submit_values(&f, ex, find_task("add_i64"), narrow, 2), CF_ETYPE);
    ck_assert_ptr_nonnull(strstr(cf_last_error(), "args[0]"));

    /* A struct of the wrong size. */
    point p = {0};
    cf_value sv[] = {cf_value_struct(&p, sizeof p - 1), cf_value_f64(1.0)};
    ck_assert_int_eq(cf_submit_values(&f, ex, find_task("scale_point"), sv, 2), CF_ETYPE);
    ck_assert_ptr_nonnull(strstr(cf_last_error(), "bytes"));

    ck_assert_int_eq(cf_submit_values(&f, ex, NULL, NULL, 0), CF_EINVAL);
    ck_assert_int_eq(cf_submit_values(&f, ex, hyp, NULL, 2), CF_EINVAL);
    ck_assert_int_eq(cf_submit_values(&f, NULL, hyp, three, 2), CF_EINVAL);
    ck_assert_ptr_null(f);

    /* None of the refused submits ran anything: the pool drains at once. */
    close_pool(ex);
}
END_TEST

/* ---- Checks and dispatch, with a fake executor ------------------------------------------ */

typedef struct fake_executor {
    cf_executor base;
    int submit_rc;           /* what submit returns */
    int submits;             /* calls to submit */
    cf_future *taken;        /* the future submit accepted (its reference) */
    unsigned shutdown_flags; /* last shutdown's arguments */
    double shutdown_timeout;
    int shutdowns;
    bool freed;
} fake_executor;

static int fake_submit(cf_executor *ex, cf_future *f, const cf_submit_options *opts)
{
    (void)opts;
    fake_executor *fx = (fake_executor *)ex;
    fx->submits++;
    if (fx->submit_rc != 0)
        return fx->submit_rc;
    fx->taken = cf_future_retain(f);
    return 0;
}

static int fake_shutdown(cf_executor *ex, unsigned flags, double timeout)
{
    fake_executor *fx = (fake_executor *)ex;
    fx->shutdowns++;
    fx->shutdown_flags = flags;
    fx->shutdown_timeout = timeout;
    return 0;
}

static void fake_free(cf_executor *ex)
{
    ((fake_executor *)ex)->freed = true;
}

static size_t fake_max_workers(const cf_executor *ex)
{
    (void)ex;
    return 5;
}

static const cf__executor_ops fake_ops = {
    .kind = "fake",
    .shares_memory = false,
    .submit = fake_submit,
    .shutdown = fake_shutdown,
    .free = fake_free,
    .max_workers = fake_max_workers,
};

START_TEST(executor_refuses_pointers_without_shared_memory)
{
    fake_executor fx = {.base.ops = &fake_ops};
    cf_executor *ex = &fx.base;
    int target = 0;
    cf_future *f = (cf_future *)&f;
    ck_assert_int_eq(cf_submit(&f, ex, store_int, &target, 1), CF_EUNSUPPORTED);
    ck_assert_ptr_null(f);
    ck_assert_ptr_nonnull(strstr(cf_last_error(), "store_int"));
    ck_assert_int_eq(cf_submit(&f, ex, next_byte, NULL), CF_EUNSUPPORTED);
    cf_value pv[] = {cf_value_ptr(&target), cf_value_i32(1)};
    ck_assert_int_eq(cf_submit_values(&f, ex, find_task("store_int"), pv, 2), CF_EUNSUPPORTED);
    ck_assert_int_eq(fx.submits, 0);

    /* Everything else reaches the executor. */
    ck_assert_int_eq(cf_submit(&f, ex, hypot2, 1.0, 2.0), 0);
    ck_assert_int_eq(fx.submits, 1);
    ck_assert_ptr_eq(f, fx.taken);
    ck_assert_int_eq(cf_future_state_of(f), CF_FUTURE_PENDING);
    ck_assert_str_eq(cf_future_task_name(f), "hypot2");
    cf_future_release(f);
    /* Only the executor completes its futures. */
    ck_assert_int_eq(cf_future_set_running(fx.taken), CF_EOWNED);
    ck_assert_int_eq(cf_future_set_result(fx.taken, 5.0), CF_EOWNED);
    ck_assert_int_eq(cf_future_state_of(fx.taken), CF_FUTURE_PENDING);
    ck_assert(cf_future_cancel(fx.taken));
    cf_future_release(fx.taken);
}
END_TEST

START_TEST(executor_submit_failure_releases_future)
{
    fake_executor fx = {.base.ops = &fake_ops, .submit_rc = CF_EBROKEN};
    cf_executor *ex = &fx.base;
    cf_future *f = (cf_future *)&f;
    ck_assert_int_eq(cf_submit(&f, ex, hypot2, 1.0, 2.0), CF_EBROKEN);
    ck_assert_ptr_null(f);
    ck_assert_int_eq(fx.submits, 1);
    ck_assert_ptr_null(fx.taken);
    ck_assert_int_eq(cf_submit(NULL, ex, answer), CF_EBROKEN);

    /* A fire-and-forget submit leaves the executor the only reference. */
    fx.submit_rc = 0;
    ck_assert_int_eq(cf_submit(NULL, ex, answer), 0);
    ck_assert_ptr_nonnull(fx.taken);
    ck_assert_uint_eq(refs_of(fx.taken), 1);
    cf_future_release(fx.taken);
}
END_TEST

START_TEST(executor_null_and_bad_arguments)
{
    cf_future *f = (cf_future *)&f;
    ck_assert_int_eq(cf_submit(&f, (cf_executor *)NULL, hypot2, 1.0, 2.0), CF_EINVAL);
    ck_assert_ptr_null(f);
    ck_assert_int_eq(cf_executor_shutdown(NULL, 0, 0.0), CF_EINVAL);
    cf_executor_free(NULL);
    ck_assert_uint_eq(cf_executor_max_workers(NULL), 0);
    ck_assert_str_eq(cf_executor_kind(NULL), "none");

    fake_executor fx = {.base.ops = &fake_ops};
    cf_executor *ex = &fx.base;
    ck_assert_int_eq(cf_executor_shutdown(ex, 1u << 7, 0.0), CF_EINVAL);
    ck_assert_int_eq(cf_executor_shutdown(ex, CF_SHUTDOWN_WAIT | (1u << 3), 0.0), CF_EINVAL);
    ck_assert_int_eq(cf_executor_shutdown(ex, CF_SHUTDOWN_WAIT, NAN), CF_EINVAL);
    ck_assert_int_eq(cf_executor_shutdown(ex, 0, NAN), CF_EINVAL);
    ck_assert_int_eq(fx.shutdowns, 0);
}
END_TEST

START_TEST(executor_dispatch)
{
    fake_executor fx = {.base.ops = &fake_ops};
    cf_executor *ex = &fx.base;
    ck_assert_str_eq(cf_executor_kind(ex), "fake");
    ck_assert_uint_eq(cf_executor_max_workers(ex), 5);
    ck_assert_int_eq(
        cf_executor_shutdown(ex, CF_SHUTDOWN_WAIT | CF_SHUTDOWN_CANCEL_FUTURES, 2.5), 0);
    ck_assert_int_eq(fx.shutdowns, 1);
    ck_assert_uint_eq(fx.shutdown_flags, CF_SHUTDOWN_WAIT | CF_SHUTDOWN_CANCEL_FUTURES);
    ck_assert(fx.shutdown_timeout == 2.5);
    ck_assert_int_eq(cf_executor_shutdown(ex, CF_SHUTDOWN_TERMINATE, 0.0), 0);
    ck_assert_uint_eq(fx.shutdown_flags, CF_SHUTDOWN_TERMINATE);
    ck_assert_int_eq(cf_executor_shutdown(ex, 0, CF_FOREVER), 0);
    ck_assert_uint_eq(fx.shutdown_flags, 0);
    cf_executor_free(ex);
    ck_assert(fx.freed);

    cf_executor *pool = new_thread_pool_of(3);
    ck_assert_str_eq(cf_executor_kind(pool), "thread_pool");
    ck_assert_uint_eq(cf_executor_max_workers(pool), 3);
    close_pool(pool);
}
END_TEST

static Suite *executor_suite(void)
{
    Suite *s = suite_create("executor");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, executor_integer_kinds);
    tcase_add_test(tc, executor_float_bool_kinds);
    tcase_add_test(tc, executor_string_kinds);
    tcase_add_test(tc, executor_bytes_kind);
    tcase_add_test(tc, executor_struct_kind);
    tcase_add_test(tc, executor_pointer_and_void_kinds);
    tcase_add_test(tc, executor_zero_and_eight_params);
    tcase_add_test(tc, executor_result_type_mismatch);
    tcase_add_test(tc, executor_task_fail_reaches_future);
    tcase_add_test(tc, executor_submit_values);
    tcase_add_test(tc, executor_submit_values_errors);
    tcase_add_test(tc, executor_refuses_pointers_without_shared_memory);
    tcase_add_test(tc, executor_submit_failure_releases_future);
    tcase_add_test(tc, executor_null_and_bad_arguments);
    tcase_add_test(tc, executor_dispatch);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(executor_suite());
}
