/* test_cplusplus.cc: the typed macros compute the same types in C++ as in C
 * (built only when configure found a C++ compiler).
 *
 * cplusplus_types.c, compiled as C, lists CF_TYPE_OF and CF__TYPE_OF_OUT of
 * every type in CF_TEST_TYPES and declares a task; this file computes the
 * same in C++ and declares the same task, and every tag and every field of
 * the two descriptors must agree: a program half in C, half in C++, sends
 * and reads the same values. Then the C++ task runs on a thread pool and a
 * process pool, and CF_VALUE's kinds are checked. Exits 0 when all agree. */
#include <cstdio>
#include <cstring>

#include "cplusplus_types.h"

static int failures;

static void check(bool ok, const char *what, size_t i, const char *detail)
{
    if (!ok) {
        std::fprintf(stderr, "FAIL: %s [%zu] %s\n", what, i, detail);
        failures++;
    }
}

static bool same(cf_type a, cf_type b)
{
    return a.kind == b.kind && a.size == b.size;
}

static cf_test_point cxx_task(cf_test_point p, enum cf_test_color c, const char *s, cf_bytes b,
                              char k)
{
    p.x = (int64_t)(p.x + c + (s != nullptr ? (int)std::strlen(s) : 0) + (int)b.len + k);
    return p;
}
CF_TASK(cf_test_point, cxx_task, cf_test_point, enum cf_test_color, const char *, cf_bytes,
        char);

#define CF_TEST_NAME(T) #T,
static const char *const names[] = {CF_TEST_TYPES(CF_TEST_NAME)};
#define CF_TEST_TYPE_OF(T) CF_TYPE_OF(T),
static const cf_type cxx_types[] = {CF_TEST_TYPES(CF_TEST_TYPE_OF)};
#define CF_TEST_OUT_TYPE_OF(T) CF__TYPE_OF_OUT((T *)0),
static const cf_type cxx_out_types[] = {CF_TEST_TYPES(CF_TEST_OUT_TYPE_OF)};

static void compare_types(void)
{
    size_t n = sizeof cxx_types / sizeof cxx_types[0];
    check(n == cf_test_c_ntypes, "type count", n, "differs");
    for (size_t i = 0; i < n && i < cf_test_c_ntypes; i++) {
        check(same(cxx_types[i], cf_test_c_types[i]), "CF_TYPE_OF", i, names[i]);
        check(same(cxx_out_types[i], cf_test_c_out_types[i]), "CF__TYPE_OF_OUT", i, names[i]);
    }
}

static void compare_tasks(void)
{
    const cf_task *c = cf_test_c_task, *x = &cf__task_cxx_task;
    check(same(c->result, x->result), "task result", 0, "");
    check(c->nparams == x->nparams, "task nparams", x->nparams, "");
    for (uint32_t i = 0; i < x->nparams; i++) {
        check(same(c->params[i], x->params[i]), "task parameter", i, "");
        check(c->offsets[i] == x->offsets[i], "task offset", i, "");
    }
    check(c->args_size == x->args_size, "task args_size", x->args_size, "");
    check(c->args_align == x->args_align, "task args_align", x->args_align, "");
}

static void run_task(cf_executor *ex)
{
    static const unsigned char raw[3] = {1, 2, 3};
    cf_test_point p = {1, 2.5};
    cf_future *f;
    int rc = cf_submit(&f, ex, cxx_task, p, CF_TEST_GREEN, "four", cf_bytes{raw, sizeof raw}, 'A');
    check(rc == 0, "cf_submit", 0, cf_last_error());
    if (rc != 0)
        return;
    cf_test_point r = {0, 0};
    rc = cf_future_result(f, &r, 60.0);
    check(rc == 0, "cf_future_result", 0, cf_strerror(rc));
    check(r.x == 1 + 1 + 4 + 3 + 'A' && r.y == 2.5, "task result value", (size_t)r.x,
          cf_executor_kind(ex));
    cf_future_release(f);

    double out[2] = {0, 0};
    static cf_test_point pts[2] = {{1, 0.5}, {2, 1.5}};
    static const enum cf_test_color colors[2] = {CF_TEST_RED, CF_TEST_GREEN};
    static const char *const strings[2] = {"", "xy"};
    static const cf_bytes bytes[2] = {{nullptr, 0}, {raw, 1}};
    static const char chars[2] = {0, 1};
    cf_test_point moved[2];
    rc = cf_map(ex, cxx_task, nullptr, 2, moved, pts, colors, strings, bytes, chars);
    check(rc == 0, "cf_map", 0, cf_last_error());
    check(rc != 0 || (moved[0].x == 1 && moved[1].x == 2 + 1 + 2 + 1 + 1), "cf_map values", 0,
          cf_executor_kind(ex));
    (void)out;
}

int main(void)
{
    compare_types();
    compare_tasks();

    check(CF_VALUE(true).type.kind == CF_KIND_BOOL, "CF_VALUE(true)", 0, "");
    check(CF_VALUE(1).type.kind == CF_KIND_I32, "CF_VALUE(1)", 0, "");
    check(CF_VALUE((int64_t)1).type.kind == CF_KIND_I64, "CF_VALUE(int64_t)", 0, "");
    check(CF_VALUE("text").type.kind == CF_KIND_STR, "CF_VALUE(\"text\")", 0, "");
    check(CF_VALUE(nullptr).type.kind == CF_KIND_PTR, "CF_VALUE(nullptr)", 0, "");

    cf_executor *threads, *procs;
    cf_process_pool_options one = {.max_workers = 1};
    check(cf_process_pool_new(&procs, &one) == 0, "cf_process_pool_new", 0, cf_last_error());
    check(cf_thread_pool_new(&threads, nullptr) == 0, "cf_thread_pool_new", 0, cf_last_error());
    if (failures == 0) {
        run_task(threads);
        run_task(procs);
    }
    cf_executor_free(threads);
    cf_executor_free(procs);

    if (failures == 0)
        std::printf("C and C++ agree on %zu types and one task descriptor\n", cf_test_c_ntypes);
    return failures == 0 ? 0 : 1;
}
