// Must compile as C++17, warning-free under -Wall -Wextra -pedantic: every
// typed macro of the public headers used right, with the headers included
// inside an extern "C" block as C++ code often includes C headers.
extern "C" {
#include <cfutures.h>
}

#include <string>

typedef struct point {
    int x, y;
} point;

enum color { RED, GREEN };

static double hypot2(double a, double b)
{
    return a * a + b * b;
}
CF_TASK(double, hypot2, double, double);

static void fill(int *out, int n)
{
    *out = n;
}
CF_TASK(void, fill, int *, int);

static const char *greet(const char *who, cf_bytes data, point p)
{
    (void)data;
    (void)p;
    return who;
}
CF_TASK(const char *, greet, const char *, cf_bytes, point);

static int nothing(void)
{
    return 0;
}
CF_TASK(int, nothing);

static void tick(void) {}
CF_TASK(void, tick);

static long eight(char a, short b, int c, long d, float e, double f, void *g, bool h)
{
    (void)g;
    return a + b + c + d + (long)e + (long)f + h;
}
CF_TASK(long, eight, char, short, int, long, float, double, void *, bool);

static point shift(point p, color c)
{
    p.x += c;
    return p;
}
CF_TASK(point, shift, point, color);

static size_t source(void *tuples, size_t max, size_t first, void *arg)
{
    (void)tuples, (void)max, (void)first, (void)arg;
    return 0;
}

// The type tags agree with C's (value.h).
static_assert(CF__KIND_OF_PTR((int32_t *)0) == CF_KIND_I32, "int32_t");
static_assert(CF__KIND_OF_PTR((const char **)0) == CF_KIND_STR, "string");
static_assert(CF__KIND_OF_PTR((point *)0) == CF_KIND_STRUCT, "struct");
static_assert(CF__KIND_OF_PTR((void **)0) == CF_KIND_PTR, "raw pointer");
static_assert(CF__KIND_OF_PTR((color *)0) == CF__UINT_KIND(sizeof(int)), "enum");

int use_executor(cf_executor *ex);
int use_executor(cf_executor *ex)
{
    cf_future *f;
    int n = 0, rc = 0;
    char name[] = "mutable";
    static const unsigned char raw[2] = {1, 2};
    std::string owned = "from a std::string";
    rc |= cf_submit(&f, ex, hypot2, 3.0, 4.0);
    rc |= cf_submit(&f, ex, hypot2, 3, 4.0f); // arithmetic conversions, as in a call
    rc |= cf_submit(&f, ex, fill, &n, 7);
    rc |= cf_submit(NULL, ex, greet, "world", cf_bytes{raw, sizeof raw}, point{1, 2});
    rc |= cf_submit(nullptr, ex, greet, name, cf_bytes{nullptr, 0}, point{0, 0});
    rc |= cf_submit(&f, ex, greet, owned.c_str(), cf_bytes(), point());
    rc |= cf_submit(&f, ex, nothing);
    rc |= cf_submit(&f, ex, tick);
    rc |= cf_submit(&f, ex, eight, 'a', 1, 2, 3L, 4.0f, 5.0, &n, true);
    rc |= cf_submit(&f, ex, shift, point{1, 2}, GREEN);
    cf_submit_options opts = {};
    opts.timeout = 2.0;
    rc |= cf_submit_with(&f, ex, &opts, hypot2, 1.0, 2.0);
    rc |= cf_submit_with(&f, ex, NULL, nothing);

    double r;
    const char *s;
    point p;
    rc |= cf_future_result(f, &r, 1.0);
    rc |= cf_future_result(f, &s, CF_FOREVER);
    rc |= cf_future_result(f, &p, CF_FOREVER);
    rc |= cf_future_result(f, NULL, 0);
    rc |= cf_future_result(f, nullptr, 0);

    static double a[4], b[4], out[4];
    static point pts[4], moved[4];
    static color colors[4];
    static CF_ARGS(hypot2) pairs[4];
    pairs[0].a0 = 1.0;
    pairs[0].a1 = 2.0;
    cf_map_options mopts = {};
    mopts.keep_going = true;
    rc |= cf_map(ex, hypot2, NULL, 4, out, a, b);
    rc |= cf_map(ex, hypot2, &mopts, 4, NULL, a, b);
    rc |= cf_map(ex, shift, NULL, 4, moved, pts, colors);
    rc |= cf_map(ex, nothing, NULL, 4, (int *)NULL);
    rc |= cf_starmap(ex, hypot2, NULL, 4, out, pairs);
    rc |= cf_map_async(&f, ex, hypot2, NULL, 4, out, a, b);
    rc |= cf_starmap_async(&f, ex, hypot2, NULL, 4, out, pairs);
    mopts.on_chunk = [](const cf_map_chunk *chunk, void *arg) { (void)chunk, (void)arg; };
    rc |= cf_map_generate(ex, hypot2, &mopts, source, NULL);
    return rc;
}

int use_future(void);
int use_future(void)
{
    cf_future *f;
    int rc = cf_future_new(&f);
    int n = 0;
    rc |= cf_future_set_result(f, 42);
    rc |= cf_future_set_result(f, 2.5);
    rc |= cf_future_set_result(f, "text");
    rc |= cf_future_set_result(f, true);
    rc |= cf_future_set_result(f, 'c');
    rc |= cf_future_set_result(f, (int8_t)1);
    rc |= cf_future_set_result(f, (uint64_t)1);
    rc |= cf_future_set_result(f, 1.5f);
    rc |= cf_future_set_result(f, (void *)&n);
    rc |= cf_future_set_result(f, nullptr);
    cf_value v = CF_VALUE(7u);
    cf_type t = CF_TYPE_OF(double);
    cf_type u = CF_TYPE_OF(void);
    cf_type w = CF_TYPE_OF(point);
    rc |= v.type.kind == CF_KIND_U32 && t.kind == CF_KIND_F64 && u.kind == CF_KIND_VOID
          && w.size == sizeof(point);
    cf_future_release(f);
    return rc;
}

int use_multiprocessing(void);
int use_multiprocessing(void)
{
    int rc = 0;
    cf_queue *q;
    rc |= cf_queue_new(&q, NULL);
    double d = 1.5;
    point p = {1, 2};
    rc |= cf_queue_put(q, d, 0);
    rc |= cf_queue_put(q, 3, 0);
    rc |= cf_queue_put(q, "text", 0);
    rc |= cf_queue_put(q, p, 0);
    rc |= cf_queue_get(q, &d, 0);
    rc |= cf_queue_get(q, &p, 0);
    rc |= cf_queue_get(q, NULL, 0);

    cf_pipe_end *rx, *tx;
    rc |= cf_pipe_new(&rx, &tx, false);
    rc |= cf_pipe_send(tx, d, 0);
    rc |= cf_pipe_send(tx, "text", 0);
    rc |= cf_pipe_send(tx, p, 0);
    rc |= cf_pipe_recv(rx, &d, 0);
    rc |= cf_pipe_recv(rx, nullptr, 0);

    cf_process *proc;
    int32_t r;
    rc |= cf_process_start(&proc, NULL, hypot2, 1.0, 2.0);
    rc |= cf_process_start(&proc, NULL, fill, &r, 2);
    rc |= cf_process_result(proc, &d, 1.0);
    rc |= cf_process_result(proc, NULL, 1.0);

    cf_lock *lock;
    cf_rlock *rlock;
    cf_condition *cond;
    rc |= cf_lock_new(&lock);
    rc |= cf_rlock_new(&rlock);
    rc |= cf_condition_new(&cond, lock);
    rc |= cf_condition_new(&cond, rlock);
    rc |= cf_condition_new(&cond, NULL);
    rc |= cf_condition_new(&cond, nullptr);

    cf_shared_value *sv;
    int64_t old, *data;
    rc |= cf_shared_value_new(&sv, int64_t, 0, NULL);
    rc |= cf_shared_value_get(sv, &old, CF_FOREVER);
    rc |= cf_shared_value_set(sv, int64_t, 5, CF_FOREVER);
    rc |= cf_shared_value_add(sv, int64_t, 1, &old, CF_FOREVER);
    rc |= cf_shared_value_add(sv, int64_t, 1, NULL, CF_FOREVER);
    rc |= cf_shared_value_data(sv, &data);

    cf_shared_array *sa;
    static const double init[3] = {1, 2, 3};
    double *elems;
    rc |= cf_shared_array_new(&sa, double, 3, init, NULL);
    rc |= cf_shared_array_new(&sa, bool, 3, NULL, NULL);
    rc |= cf_shared_array_get(sa, 0, &d, CF_FOREVER);
    rc |= cf_shared_array_set(sa, double, 1, 2.5, CF_FOREVER);
    rc |= cf_shared_array_add(sa, double, 1, 2.5, &d, CF_FOREVER);
    rc |= cf_shared_array_data(sa, &elems);
    return rc;
}
