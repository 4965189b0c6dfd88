/* test_task.c: CF_TASK descriptors, the registry (cf_task_find), calling a
 * descriptor's trampoline on a packed argument block, and cf_task_fail()
 * outside a task (refused) and inside one (run on a one-worker thread pool).
 *
 * Expected layouts come from mirror structs written here by hand, not from
 * the argument structs CF_TASK generates, so that a wrong offset or size in
 * the macro shows up.
 */
#include "config.h"

#include <check.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cfutures.h>

#include "support.h"
#include "task_twin.h"

typedef struct point { /* no padding, so that copies compare bytewise */
    int32_t x, y;
    double w;
} point;

/* ---- Tasks ------------------------------------------------------------------------ */

static int answer_calls;
static int answer(void)
{
    answer_calls++;
    return 42;
}
static const int answer_line = __LINE__ + 1;
CF_TASK(int, answer);

static int nothing_calls;
static void nothing(void)
{
    nothing_calls++;
}
CF_TASK(void, nothing);

/* Every supported type, each with an identity task: T name(T x) { return x; }. */
#define EVERY_IDENTITY_TASK(X)                                                     \
    X(bool, id_bool)                                                               \
    X(char, id_char)                                                               \
    X(signed char, id_schar)                                                       \
    X(unsigned char, id_uchar)                                                     \
    X(short, id_short)                                                             \
    X(unsigned short, id_ushort)                                                   \
    X(int, id_int)                                                                 \
    X(unsigned int, id_uint)                                                       \
    X(long, id_long)                                                               \
    X(unsigned long, id_ulong)                                                     \
    X(long long, id_llong)                                                         \
    X(unsigned long long, id_ullong)                                               \
    X(int8_t, id_i8)                                                               \
    X(uint8_t, id_u8)                                                              \
    X(int16_t, id_i16)                                                             \
    X(uint16_t, id_u16)                                                            \
    X(int32_t, id_i32)                                                             \
    X(uint32_t, id_u32)                                                            \
    X(int64_t, id_i64)                                                             \
    X(uint64_t, id_u64)                                                            \
    X(float, id_float)                                                             \
    X(double, id_double)                                                           \
    X(const char *, id_cstr)                                                       \
    X(char *, id_str)                                                              \
    X(cf_bytes, id_bytes)                                                          \
    X(point, id_point)                                                             \
    X(void *, id_ptr)                                                              \
    X(int *, id_intptr)

#define IDENTITY_TASK(T, name)                                                     \
    static T name(T x)                                                             \
    {                                                                              \
        return x;                                                                  \
    }                                                                              \
    CF_TASK(T, name, T);

EVERY_IDENTITY_TASK(IDENTITY_TASK)

/* Tasks of 1..8 parameters over a list of mixed types, chosen so that the
 * packed block needs padding:
 *   char, double, int16_t, const char *, float, cf_bytes, point, uint64_t.
 * Each returns a weighted sum of its arguments, so that a swapped or
 * misplaced argument changes the result. */
static double num_str(const char *s)
{
    return s == NULL ? -1.0 : (double)strlen(s);
}
static double num_bytes(cf_bytes b)
{
    return (double)b.len + (b.len > 0 ? ((const unsigned char *)b.data)[0] : 0);
}
static double num_point(point p)
{
    return p.x + p.y + p.w;
}

static double p1(char a0)
{
    return a0;
}
static double p2(char a0, double a1)
{
    return p1(a0) + 2 * a1;
}
static double p3(char a0, double a1, int16_t a2)
{
    return p2(a0, a1) + 3 * a2;
}
static double p4(char a0, double a1, int16_t a2, const char *a3)
{
    return p3(a0, a1, a2) + 4 * num_str(a3);
}
static double p5(char a0, double a1, int16_t a2, const char *a3, float a4)
{
    return p4(a0, a1, a2, a3) + 5 * a4;
}
static double p6(char a0, double a1, int16_t a2, const char *a3, float a4, cf_bytes a5)
{
    return p5(a0, a1, a2, a3, a4) + 6 * num_bytes(a5);
}
static double p7(char a0, double a1, int16_t a2, const char *a3, float a4, cf_bytes a5, point a6)
{
    return p6(a0, a1, a2, a3, a4, a5) + 7 * num_point(a6);
}
static uint64_t p8(char a0, double a1, int16_t a2, const char *a3, float a4, cf_bytes a5,
                   point a6, uint64_t a7)
{
    return (uint64_t)p7(a0, a1, a2, a3, a4, a5, a6) + 8 * a7;
}
CF_TASK(double, p1, char);
CF_TASK(double, p2, char, double);
CF_TASK(double, p3, char, double, int16_t);
CF_TASK(double, p4, char, double, int16_t, const char *);
CF_TASK(double, p5, char, double, int16_t, const char *, float);
CF_TASK(double, p6, char, double, int16_t, const char *, float, cf_bytes);
CF_TASK(double, p7, char, double, int16_t, const char *, float, cf_bytes, point);
static const int p8_line = __LINE__ + 1;
CF_TASK(uint64_t, p8, char, double, int16_t, const char *, float, cf_bytes, point, uint64_t);

/* The blocks those tasks must use: a struct with one member per parameter. */
struct mirror1 { char a0; };
struct mirror2 { char a0; double a1; };
struct mirror3 { char a0; double a1; int16_t a2; };
struct mirror4 { char a0; double a1; int16_t a2; const char *a3; };
struct mirror5 { char a0; double a1; int16_t a2; const char *a3; float a4; };
struct mirror6 { char a0; double a1; int16_t a2; const char *a3; float a4; cf_bytes a5; };
struct mirror7 { char a0; double a1; int16_t a2; const char *a3; float a4; cf_bytes a5; point a6; };
struct mirror8 {
    char a0; double a1; int16_t a2; const char *a3; float a4; cf_bytes a5; point a6; uint64_t a7;
};

/* A void task with a pointer parameter and padding between small members. */
static void store_sum(int *out, uint8_t a, int64_t b, uint8_t c)
{
    *out = (int)(a + b + c);
}
CF_TASK(void, store_sum, int *, uint8_t, int64_t, uint8_t);
struct mirror_store_sum { int *a0; uint8_t a1; int64_t a2; uint8_t a3; };

/* Tasks whose names share prefixes with others: lookups are by whole name. */
static int p(int x)
{
    return x;
}
CF_TASK(int, p, int);

/* ---- Helpers ------------------------------------------------------------------------ */

/* A block large enough and aligned for every task here. */
typedef union block {
    max_align_t align;
    unsigned char bytes[256];
} block;

static void assert_registered(const cf_task *t)
{
    const cf_task *found = NULL;
    ck_assert_int_eq(cf_task_find(t->name, &found), 0);
    ck_assert_ptr_eq(found, t);
}

/* ---- Descriptors ----------------------------------------------------------------------- */

START_TEST(task_descriptor_no_params)
{
    const cf_task *t = &cf__task_answer;
    ck_assert_str_eq(t->name, "answer");
    ck_assert(t->fn == (void (*)(void))answer);
    ck_assert_ptr_nonnull(t->call);
    assert_type_eq(t->result, CF_TYPE_OF(int), "answer result");
    ck_assert_uint_eq(t->nparams, 0);
    ck_assert_uint_eq(t->args_size, 0);
    ck_assert_uint_ge(t->args_align, 1);
    ck_assert_str_eq(t->file, __FILE__);
    ck_assert_int_eq(t->line, answer_line);

    t = &cf__task_nothing;
    ck_assert_str_eq(t->name, "nothing");
    ck_assert(t->fn == (void (*)(void))nothing);
    assert_type_eq(t->result, CF_TYPE_OF(void), "nothing result");
    ck_assert_uint_eq(t->result.size, 0);
    ck_assert_uint_eq(t->nparams, 0);
}
END_TEST

/* The descriptor CF_TASK made for the identity task tname of type T (a block,
 * so that EVERY_IDENTITY_TASK can string these together). */
#define CHECK_IDENTITY_DESCRIPTOR(T, tname)                                          \
    {                                                                               \
        const cf_task *t_ = &cf__task_##tname;                                       \
        ck_assert_str_eq(t_->name, #tname);                                          \
        ck_assert(t_->fn == (void (*)(void))tname);                                  \
        ck_assert_uint_eq(t_->nparams, 1);                                          \
        assert_type_eq(t_->params[0], CF_TYPE_OF(T), #tname " parameter");          \
        assert_type_eq(t_->result, CF_TYPE_OF(T), #tname " result");                \
        ck_assert_uint_eq(t_->offsets[0], 0);                                       \
        ck_assert_uint_eq(t_->args_size, sizeof(T));                                \
        ck_assert_uint_eq(t_->args_align, alignof(T));                              \
        ck_assert_str_eq(t_->file, __FILE__);                                       \
        ck_assert_int_gt(t_->line, 0);                                              \
    }

START_TEST(task_descriptor_every_type)
{
    EVERY_IDENTITY_TASK(CHECK_IDENTITY_DESCRIPTOR)

    /* The kinds, spelled out for a few. */
    ck_assert_uint_eq(cf__task_id_cstr.params[0].kind, CF_KIND_STR);
    ck_assert_uint_eq(cf__task_id_str.params[0].kind, CF_KIND_STR);
    ck_assert_uint_eq(cf__task_id_bytes.params[0].kind, CF_KIND_BYTES);
    ck_assert_uint_eq(cf__task_id_point.params[0].kind, CF_KIND_STRUCT);
    ck_assert_uint_eq(cf__task_id_point.params[0].size, sizeof(point));
    ck_assert_uint_eq(cf__task_id_ptr.params[0].kind, CF_KIND_PTR);
    ck_assert_uint_eq(cf__task_id_intptr.params[0].kind, CF_KIND_PTR);
    ck_assert_uint_eq(cf__task_id_double.result.kind, CF_KIND_F64);
}
END_TEST

static const cf_type mixed_types[8] = {
    CF__TYPE_INIT(char),         CF__TYPE_INIT(double), CF__TYPE_INIT(int16_t),
    CF__TYPE_INIT(const char *), CF__TYPE_INIT(float),  CF__TYPE_INIT(cf_bytes),
    CF__TYPE_INIT(point),        CF__TYPE_INIT(uint64_t),
};

#define OFFSETS_OF_MIRROR(m)                                                         \
    {offsetof(struct m, a0), offsetof(struct m, a1), offsetof(struct m, a2),          \
     offsetof(struct m, a3), offsetof(struct m, a4), offsetof(struct m, a5),          \
     offsetof(struct m, a6), offsetof(struct m, a7)}

/* offsetof() of members a mirror lacks cannot be written, so each mirror's
 * offsets are listed up to its own size. */
typedef struct layout {
    const cf_task *task;
    const char *name;
    void (*fn)(void);
    uint32_t nparams;
    size_t offsets[8];
    size_t size, align;
} layout;

START_TEST(task_descriptor_params_1_to_8)
{
    const layout layouts[] = {
        {&cf__task_p1, "p1", (void (*)(void))p1, 1, {offsetof(struct mirror1, a0)},
         sizeof(struct mirror1), alignof(struct mirror1)},
        {&cf__task_p2, "p2", (void (*)(void))p2, 2,
         {offsetof(struct mirror2, a0), offsetof(struct mirror2, a1)}, sizeof(struct mirror2),
         alignof(struct mirror2)},
        {&cf__task_p3, "p3", (void (*)(void))p3, 3,
         {offsetof(struct mirror3, a0), offsetof(struct mirror3, a1), offsetof(struct mirror3, a2)},
         sizeof(struct mirror3), alignof(struct mirror3)},
        {&cf__task_p4, "p4", (void (*)(void))p4, 4,
         {offsetof(struct mirror4, a0), offsetof(struct mirror4, a1), offsetof(struct mirror4, a2),
          offsetof(struct mirror4, a3)},
         sizeof(struct mirror4), alignof(struct mirror4)},
        {&cf__task_p5, "p5", (void (*)(void))p5, 5,
         {offsetof(struct mirror5, a0), offsetof(struct mirror5, a1), offsetof(struct mirror5, a2),
          offsetof(struct mirror5, a3), offsetof(struct mirror5, a4)},
         sizeof(struct mirror5), alignof(struct mirror5)},
        {&cf__task_p6, "p6", (void (*)(void))p6, 6,
         {offsetof(struct mirror6, a0), offsetof(struct mirror6, a1), offsetof(struct mirror6, a2),
          offsetof(struct mirror6, a3), offsetof(struct mirror6, a4), offsetof(struct mirror6, a5)},
         sizeof(struct mirror6), alignof(struct mirror6)},
        {&cf__task_p7, "p7", (void (*)(void))p7, 7,
         {offsetof(struct mirror7, a0), offsetof(struct mirror7, a1), offsetof(struct mirror7, a2),
          offsetof(struct mirror7, a3), offsetof(struct mirror7, a4), offsetof(struct mirror7, a5),
          offsetof(struct mirror7, a6)},
         sizeof(struct mirror7), alignof(struct mirror7)},
        {&cf__task_p8, "p8", (void (*)(void))p8, 8, OFFSETS_OF_MIRROR(mirror8),
         sizeof(struct mirror8), alignof(struct mirror8)},
    };
    for (size_t i = 0; i < sizeof layouts / sizeof layouts[0]; i++) {
        const layout *l = &layouts[i];
        const cf_task *t = l->task;
        ck_assert_str_eq(t->name, l->name);
        ck_assert(t->fn == l->fn);
        ck_assert_uint_eq(t->nparams, l->nparams);
        for (uint32_t k = 0; k < l->nparams; k++) {
            assert_type_eq(t->params[k], mixed_types[k], l->name);
            ck_assert_msg(t->offsets[k] == l->offsets[k],
                          "%s: offset of parameter %u is %u, want %zu", l->name, k,
                          t->offsets[k], l->offsets[k]);
        }
        ck_assert_uint_eq(t->args_size, l->size);
        ck_assert_uint_eq(t->args_align, l->align);
        ck_assert_str_eq(t->file, __FILE__);
    }
    assert_type_eq(cf__task_p7.result, CF_TYPE_OF(double), "p7 result");
    assert_type_eq(cf__task_p8.result, CF_TYPE_OF(uint64_t), "p8 result");
    ck_assert_int_eq(cf__task_p8.line, p8_line);
}
END_TEST

START_TEST(task_descriptor_void_with_params)
{
    const cf_task *t = &cf__task_store_sum;
    ck_assert_str_eq(t->name, "store_sum");
    assert_type_eq(t->result, CF_TYPE_OF(void), "store_sum result");
    ck_assert_uint_eq(t->nparams, 4);
    assert_type_eq(t->params[0], CF_TYPE_OF(int *), "store_sum a0");
    assert_type_eq(t->params[1], CF_TYPE_OF(uint8_t), "store_sum a1");
    assert_type_eq(t->params[2], CF_TYPE_OF(int64_t), "store_sum a2");
    assert_type_eq(t->params[3], CF_TYPE_OF(uint8_t), "store_sum a3");
    ck_assert_uint_eq(t->offsets[0], offsetof(struct mirror_store_sum, a0));
    ck_assert_uint_eq(t->offsets[1], offsetof(struct mirror_store_sum, a1));
    ck_assert_uint_eq(t->offsets[2], offsetof(struct mirror_store_sum, a2));
    ck_assert_uint_eq(t->offsets[3], offsetof(struct mirror_store_sum, a3));
    ck_assert_uint_eq(t->args_size, sizeof(struct mirror_store_sum));
    ck_assert_uint_eq(t->args_align, alignof(struct mirror_store_sum));
}
END_TEST

/* ---- Trampolines ------------------------------------------------------------------------ */

/* Packs `value` (of type T) as a one-parameter block, runs the identity
 * task's trampoline and checks it returned the same bytes, with nothing
 * written past the result. */
#define CHECK_IDENTITY_CALL(T, tname, value)                                          \
    do {                                                                             \
        const cf_task *t_ = &cf__task_##tname;                                        \
        block args_, result_;                                                        \
        memset(&args_, 0, sizeof args_);                                             \
        memset(&result_, 0xEE, sizeof result_);                                      \
        T in_ = (value);                                                             \
        memcpy(args_.bytes + t_->offsets[0], &in_, sizeof in_);                      \
        t_->call(args_.bytes, result_.bytes);                                        \
        ck_assert_msg(memcmp(result_.bytes, &in_, sizeof in_) == 0, #tname);          \
        for (size_t k_ = sizeof in_; k_ < sizeof result_.bytes; k_++)                \
            ck_assert_uint_eq(result_.bytes[k_], 0xEE);                              \
    } while (0)

START_TEST(task_call_identity_every_type)
{
    static const unsigned char data[3] = {7, 8, 9};
    int target = 0;
    char mutable_text[] = "mutable";
    point pt;
    pt.x = -3;
    pt.y = 4;
    pt.w = 0.25;

    CHECK_IDENTITY_CALL(bool, id_bool, true);
    CHECK_IDENTITY_CALL(char, id_char, 'c');
    CHECK_IDENTITY_CALL(signed char, id_schar, -128);
    CHECK_IDENTITY_CALL(unsigned char, id_uchar, 255);
    CHECK_IDENTITY_CALL(short, id_short, SHRT_MIN);
    CHECK_IDENTITY_CALL(unsigned short, id_ushort, USHRT_MAX);
    CHECK_IDENTITY_CALL(int, id_int, INT_MIN);
    CHECK_IDENTITY_CALL(unsigned int, id_uint, UINT_MAX);
    CHECK_IDENTITY_CALL(long, id_long, LONG_MIN);
    CHECK_IDENTITY_CALL(unsigned long, id_ulong, ULONG_MAX);
    CHECK_IDENTITY_CALL(long long, id_llong, LLONG_MIN);
    CHECK_IDENTITY_CALL(unsigned long long, id_ullong, ULLONG_MAX);
    CHECK_IDENTITY_CALL(int8_t, id_i8, -1);
    CHECK_IDENTITY_CALL(uint8_t, id_u8, 200);
    CHECK_IDENTITY_CALL(int16_t, id_i16, -30000);
    CHECK_IDENTITY_CALL(uint16_t, id_u16, 60000);
    CHECK_IDENTITY_CALL(int32_t, id_i32, -2000000000);
    CHECK_IDENTITY_CALL(uint32_t, id_u32, 4000000000u);
    CHECK_IDENTITY_CALL(int64_t, id_i64, INT64_MIN + 1);
    CHECK_IDENTITY_CALL(uint64_t, id_u64, UINT64_MAX - 1);
    CHECK_IDENTITY_CALL(float, id_float, -1.5f);
    CHECK_IDENTITY_CALL(double, id_double, M_PI);
    CHECK_IDENTITY_CALL(const char *, id_cstr, "constant");
    CHECK_IDENTITY_CALL(const char *, id_cstr, NULL);
    CHECK_IDENTITY_CALL(char *, id_str, mutable_text);
    CHECK_IDENTITY_CALL(cf_bytes, id_bytes, ((cf_bytes){data, sizeof data}));
    CHECK_IDENTITY_CALL(point, id_point, pt);
    CHECK_IDENTITY_CALL(void *, id_ptr, &target);
    CHECK_IDENTITY_CALL(int *, id_intptr, &target);
}
END_TEST

START_TEST(task_call_no_params)
{
    int result = 0;
    answer_calls = 0;
    cf__task_answer.call(NULL, &result);
    ck_assert_int_eq(result, 42);
    ck_assert_int_eq(answer_calls, 1);

    /* A void task: the function runs; nothing it returns is read. */
    block slot;
    nothing_calls = 0;
    cf__task_nothing.call(NULL, slot.bytes);
    ck_assert_int_eq(nothing_calls, 1);
}
END_TEST

/* Places each argument at the descriptor's offset, as an executor does. */
static void pack(block *b, const cf_task *t, const void *const *args)
{
    memset(b, 0, sizeof *b);
    ck_assert_uint_le(t->args_size, sizeof b->bytes);
    for (uint32_t k = 0; k < t->nparams; k++)
        memcpy(b->bytes + t->offsets[k], args[k], t->params[k].size);
}

START_TEST(task_call_params_1_to_8)
{
    static const unsigned char data[2] = {100, 1};
    const char a0 = 'A';
    const double a1 = 1.25;
    const int16_t a2 = -30;
    const char *a3 = "four";
    const float a4 = 0.5f;
    const cf_bytes a5 = {data, sizeof data};
    const point a6 = {6, -2, 0.75};
    const uint64_t a7 = UINT64_C(1) << 40;
    const void *const args[8] = {&a0, &a1, &a2, &a3, &a4, &a5, &a6, &a7};

    const double expect[7] = {
        p1(a0),
        p2(a0, a1),
        p3(a0, a1, a2),
        p4(a0, a1, a2, a3),
        p5(a0, a1, a2, a3, a4),
        p6(a0, a1, a2, a3, a4, a5),
        p7(a0, a1, a2, a3, a4, a5, a6),
    };
    const cf_task *tasks[7] = {&cf__task_p1, &cf__task_p2, &cf__task_p3, &cf__task_p4,
                               &cf__task_p5, &cf__task_p6, &cf__task_p7};
    block b, result;
    for (int i = 0; i < 7; i++) {
        pack(&b, tasks[i], args);
        double r = NAN;
        tasks[i]->call(b.bytes, &r);
        ck_assert_msg(r == expect[i], "%s: %g, want %g", tasks[i]->name, r, expect[i]);
    }

    pack(&b, &cf__task_p8, args);
    memset(&result, 0, sizeof result);
    cf__task_p8.call(b.bytes, result.bytes);
    uint64_t r8;
    memcpy(&r8, result.bytes, sizeof r8);
    ck_assert_uint_eq(r8, p8(a0, a1, a2, a3, a4, a5, a6, a7));

    /* The trampoline reads the block, it does not keep it. */
    memset(&b, 0xFF, sizeof b);
    pack(&b, &cf__task_p8, args);
    cf__task_p8.call(b.bytes, result.bytes);
    memcpy(&r8, result.bytes, sizeof r8);
    ck_assert_uint_eq(r8, p8(a0, a1, a2, a3, a4, a5, a6, a7));
}
END_TEST

START_TEST(task_call_void_with_params)
{
    int out = 0;
    int *a0 = &out;
    uint8_t a1 = 200, a3 = 55;
    int64_t a2 = 1000000;
    const void *const args[4] = {&a0, &a1, &a2, &a3};
    block b, slot;
    pack(&b, &cf__task_store_sum, args);
    cf__task_store_sum.call(b.bytes, slot.bytes);
    ck_assert_int_eq(out, 1000255);
}
END_TEST

/* ---- The registry ----------------------------------------------------------------------- */

START_TEST(task_find_registered)
{
    const cf_task *all[] = {
        &cf__task_answer,  &cf__task_nothing, &cf__task_id_bool,   &cf__task_id_char,
        &cf__task_id_schar, &cf__task_id_uchar, &cf__task_id_short, &cf__task_id_ushort,
        &cf__task_id_int,  &cf__task_id_uint, &cf__task_id_long,   &cf__task_id_ulong,
        &cf__task_id_llong, &cf__task_id_ullong, &cf__task_id_i8,  &cf__task_id_u8,
        &cf__task_id_i16,  &cf__task_id_u16,  &cf__task_id_i32,    &cf__task_id_u32,
        &cf__task_id_i64,  &cf__task_id_u64,  &cf__task_id_float,  &cf__task_id_double,
        &cf__task_id_cstr, &cf__task_id_str,  &cf__task_id_bytes,  &cf__task_id_point,
        &cf__task_id_ptr,  &cf__task_id_intptr, &cf__task_p1,      &cf__task_p2,
        &cf__task_p3,      &cf__task_p4,      &cf__task_p5,        &cf__task_p6,
        &cf__task_p7,      &cf__task_p8,      &cf__task_store_sum, &cf__task_p,
    };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        assert_registered(all[i]);

    /* A found descriptor calls the same function. */
    const cf_task *t;
    ck_assert_int_eq(cf_task_find("id_double", &t), 0);
    double in = 2.5, out = 0;
    t->call(&in, &out);
    ck_assert(out == 2.5);
}
END_TEST

START_TEST(task_find_not_found)
{
    const cf_task *t = &cf__task_answer;
    ck_assert_int_eq(cf_task_find("no_such_task", &t), CF_ENOTFOUND);
    ck_assert_int_eq(cf_task_find("", &t), CF_ENOTFOUND);
    ck_assert_int_eq(cf_task_find("P8", &t), CF_ENOTFOUND);   /* case matters */
    ck_assert_int_eq(cf_task_find("p8 ", &t), CF_ENOTFOUND);  /* whole name */
    ck_assert_int_eq(cf_task_find("id_", &t), CF_ENOTFOUND);  /* not a prefix match */
    ck_assert_int_eq(cf_task_find("answe", &t), CF_ENOTFOUND);
    ck_assert_uint_gt(strlen(cf_last_error()), 0);
    /* "p" is a task of its own, distinct from p1..p8. */
    ck_assert_int_eq(cf_task_find("p", &t), 0);
    ck_assert_ptr_eq(t, &cf__task_p);
}
END_TEST

START_TEST(task_find_invalid)
{
    const cf_task *t;
    ck_assert_int_eq(cf_task_find(NULL, &t), CF_EINVAL);
    ck_assert_int_eq(cf_task_find("answer", NULL), CF_EINVAL);
    ck_assert_int_eq(cf_task_find(NULL, NULL), CF_EINVAL);
}
END_TEST

static int other_answer(void)
{
    return 43;
}

START_TEST(task_find_ambiguous)
{
    /* A second registration of "answer" naming the same function is harmless. */
    cf_task same = cf__task_answer;
    same.cf__next = NULL;
    cf__task_register(&same);
    const cf_task *t = NULL;
    ck_assert_int_eq(cf_task_find("answer", &t), 0);
    ck_assert(t == &cf__task_answer || t == &same);
    ck_assert(t->fn == (void (*)(void))answer);

    /* One naming a different function makes the name ambiguous. */
    cf_task other = cf__task_answer;
    other.cf__next = NULL;
    other.fn = (void (*)(void))other_answer;
    other.line = cf__task_answer.line + 1000; /* declared elsewhere */
    cf__task_register(&other);
    ck_assert_int_eq(cf_task_find("answer", &t), CF_EAMBIGUOUS);
    ck_assert_uint_gt(strlen(cf_last_error()), 0);
    /* Other names are unaffected. */
    ck_assert_int_eq(cf_task_find("p8", &t), 0);
    ck_assert_ptr_eq(t, &cf__task_p8);

    cf__task_unregister(&other);
    ck_assert_int_eq(cf_task_find("answer", &t), 0);
    ck_assert(t->fn == (void (*)(void))answer);
    cf__task_unregister(&same);
    ck_assert_int_eq(cf_task_find("answer", &t), 0);
    ck_assert_ptr_eq(t, &cf__task_answer);
}
END_TEST

START_TEST(task_register_unregister)
{
    cf_task extra = cf__task_answer;
    extra.cf__next = NULL;
    extra.name = "answer_under_another_name";
    const cf_task *t;
    ck_assert_int_eq(cf_task_find(extra.name, &t), CF_ENOTFOUND);
    cf__task_register(&extra);
    ck_assert_int_eq(cf_task_find(extra.name, &t), 0);
    ck_assert_ptr_eq(t, &extra);
    cf__task_unregister(&extra);
    ck_assert_int_eq(cf_task_find(extra.name, &t), CF_ENOTFOUND);
    /* The tasks registered around it are all still there. */
    assert_registered(&cf__task_answer);
    assert_registered(&cf__task_p8);
    assert_registered(&cf__task_id_bool);
}
END_TEST

/* Lookups from many threads while another thread registers and unregisters. */
typedef struct find_race {
    _Atomic bool stop;
    _Atomic int errors;
} find_race;

static void *find_loop(void *arg)
{
    find_race *r = arg;
    const char *names[] = {"answer", "p8", "id_point", "store_sum", "p"};
    const cf_task *want[] = {&cf__task_answer, &cf__task_p8, &cf__task_id_point,
                             &cf__task_store_sum, &cf__task_p};
    for (int i = 0; !r->stop || i < 1000; i++) {
        const cf_task *t = NULL;
        if (cf_task_find(names[i % 5], &t) != 0 || t != want[i % 5])
            r->errors++;
    }
    return NULL;
}

START_TEST(task_find_concurrent)
{
    find_race r = {false, 0};
    pthread_t threads[4];
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(pthread_create(&threads[i], NULL, find_loop, &r), 0);
    cf_task extras[16];
    char names[16][32];
    for (int round = 0; round < 200; round++) {
        for (int i = 0; i < 16; i++) {
            extras[i] = cf__task_answer;
            extras[i].cf__next = NULL;
            snprintf(names[i], sizeof names[i], "extra_%d", i);
            extras[i].name = names[i];
            cf__task_register(&extras[i]);
        }
        for (int i = 0; i < 16; i++) {
            const cf_task *t;
            ck_assert_int_eq(cf_task_find(names[i], &t), 0);
            ck_assert_ptr_eq(t, &extras[i]);
        }
        for (int i = 15; i >= 0; i--)
            cf__task_unregister(&extras[i]);
    }
    r.stop = true;
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(pthread_join(threads[i], NULL), 0);
    ck_assert_int_eq(r.errors, 0);
}
END_TEST

/* ---- cf_task_fail outside a task -------------------------------------------------------- */

static int fail_v(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = cf_task_failv(code, fmt, ap);
    va_end(ap);
    return rc;
}

static void *fail_in_new_thread(void *arg)
{
    (void)arg;
    int rc = cf_task_fail(5, "not in a task: %d", 5);
    if (rc != CF_ESTATE || cf_last_error()[0] == '\0')
        return (void *)1;
    return NULL;
}

START_TEST(task_fail_outside_task)
{
    ck_assert_int_eq(cf_task_fail(1, "not in a task"), CF_ESTATE);
    ck_assert_int_eq(cf_task_fail(CF_ETASK, "%s %d", "still not", 2), CF_ESTATE);
    ck_assert_int_eq(fail_v(-1, "via %s", "failv"), CF_ESTATE);
    /* From a thread that never ran anything, and recording why. */
    pthread_t t;
    void *bad;
    ck_assert_int_eq(pthread_create(&t, NULL, fail_in_new_thread, NULL), 0);
    ck_assert_int_eq(pthread_join(t, &bad), 0);
    ck_assert_ptr_null(bad);
}
END_TEST

/* A trampoline called directly is not a running task either. */
static int fail_rc;
static int try_fail(void)
{
    fail_rc = cf_task_fail(3, "called through a bare trampoline");
    return 0;
}
CF_TASK(int, try_fail);

START_TEST(task_fail_from_bare_trampoline)
{
    int result = -1;
    fail_rc = 0;
    cf__task_try_fail.call(NULL, &result);
    ck_assert_int_eq(fail_rc, CF_ESTATE);
    ck_assert_int_eq(result, 0);
}
END_TEST

/* ---- cf_task_fail inside a running task ------------------------------------------------- */

static int fail_first_rc, fail_second_rc;
static int fail_twice(int code)
{
    fail_first_rc = cf_task_fail(code, "first %d", code);
    fail_second_rc = cf_task_fail(code + 1, "second %s %d", "call", code + 1);
    return 123; /* ignored: the task failed */
}
CF_TASK(int, fail_twice, int);

static void fail_from_callback(cf_future *f, void *arg)
{
    (void)f;
    *(int *)arg = cf_task_fail(1, "a done-callback is not a task");
}

START_TEST(task_fail_inside_task)
{
    cf_executor *ex;
    ck_assert_int_eq(cf_thread_pool_new(&ex, &(cf_thread_pool_options){.max_workers = 1}), 0);
    cf_future *f;
    ck_assert_int_eq(cf_submit(&f, ex, fail_twice, 40), 0);
    int callback_rc = 1;
    ck_assert_int_eq(cf_future_add_done_callback(f, fail_from_callback, &callback_rc), 0);

    int out = -1;
    ck_assert_int_eq(cf_future_result(f, &out, 30.0), CF_ETASK);
    ck_assert_int_eq(out, -1);
    ck_assert(cf_future_failed(f));
    ck_assert_int_eq(fail_first_rc, 0);
    ck_assert_int_eq(fail_second_rc, 0);
    const cf_error *e = cf_future_error(f);
    ck_assert_ptr_nonnull(e);
    ck_assert_int_eq(e->code, CF_ETASK);
    ck_assert_int_eq(e->detail, 41);              /* the last call's code */
    ck_assert_str_eq(e->message, "second call 41"); /* and its message */
    ck_assert_ptr_nonnull(e->task);
    ck_assert_str_eq(e->task, "fail_twice");
    ck_assert_ptr_nonnull(e->origin);
    ck_assert_str_eq(cf_future_task_name(f), "fail_twice");

    /* The callback ran (in the worker, or here if the future was done when
     * it was added), outside any task. */
    cf_executor_free(ex);
    ck_assert_int_eq(callback_rc, CF_ESTATE);
    cf_future_release(f);
}
END_TEST


/* ---- Identity: static tasks of one name, a header's task ----------------------------- */

/* This unit's `twin`; task_twin.c has another, returning -x. */
static int32_t twin(int32_t x)
{
    return x * 10;
}
CF_TASK(int32_t, twin, int32_t);

static int32_t result_of(cf_future *f)
{
    int32_t r = 0;
    ck_assert_msg(cf_future_result(f, &r, DEADLINE_S) == 0, "%s", cf_last_error());
    cf_future_release(f);
    return r;
}

START_TEST(task_identity_static_twins)
{
    /* On each executor, each unit's `twin` runs its own code. */
    for (int kind = 0; kind < 2; kind++) {
        cf_executor *ex = kind == 0 ? new_thread_pool_of(2) : new_process_pool_of(2);
        for (int32_t i = 1; i <= 20; i++) {
            cf_future *mine, *other;
            ck_assert_int_eq(cf_submit(&mine, ex, twin, i), 0);
            ck_assert_int_eq(twin_submit_other(&other, ex, i), 0);
            ck_assert_int_eq(result_of(mine), i * 10);
            ck_assert_int_eq(result_of(other), -i);
        }
        /* Maps too (their chunks name the task as calls do). */
        int32_t in[64], out[64];
        for (int32_t i = 0; i < 64; i++)
            in[i] = i;
        ck_assert_int_eq(cf_map(ex, twin, &(cf_map_options){.chunk_size = 5}, 64, out, in), 0);
        for (int32_t i = 0; i < 64; i++)
            ck_assert_int_eq(out[i], i * 10);
        cf_executor_free(ex);
    }
    /* By name alone the two are ambiguous; by key each is found. */
    const cf_task *t;
    ck_assert_int_eq(cf_task_find("twin", &t), CF_EAMBIGUOUS);
    ck_assert_msg(strstr(cf_last_error(), "task_twin.c") != NULL &&
                      strstr(cf_last_error(), "test_task.c") != NULL,
                  "the message names both declarations: %s", cf_last_error());
    char key[512];
    snprintf(key, sizeof key, "twin@%s:%d", cf__task_twin.file, cf__task_twin.line);
    ck_assert_int_eq(cf_task_find(key, &t), 0);
    ck_assert_ptr_eq(t, &cf__task_twin);
    const cf_task *o = twin_other_task();
    snprintf(key, sizeof key, "twin@%s:%d", o->file, o->line);
    ck_assert_int_eq(cf_task_find(key, &t), 0);
    ck_assert_ptr_eq(t, o);
    snprintf(key, sizeof key, "twin@%s:%d", o->file, o->line + 1);
    ck_assert_int_eq(cf_task_find(key, &t), CF_ENOTFOUND);
    ck_assert_int_eq(cf_task_find("twin@", &t), CF_ENOTFOUND);
    ck_assert_int_eq(cf_task_find("twin@x.c:notanumber", &t), CF_ENOTFOUND);
}
END_TEST

START_TEST(task_identity_header_copies)
{
    /* Two units' copies of a header's task share a key: one task. */
    const cf_task *t;
    ck_assert_int_eq(cf_task_find("header_bump", &t), 0);
    for (int kind = 0; kind < 2; kind++) {
        cf_executor *ex = kind == 0 ? new_thread_pool_of(2) : new_process_pool_of(2);
        cf_future *a, *b;
        ck_assert_int_eq(cf_submit(&a, ex, header_bump, 1), 0);
        ck_assert_int_eq(twin_submit_header(&b, ex, 2), 0);
        ck_assert_int_eq(result_of(a), 1001);
        ck_assert_int_eq(result_of(b), 1002);
        cf_executor_free(ex);
    }
}
END_TEST

/* ---- Ownership of returned strings ------------------------------------------------------ */

/* Returns a thread-local buffer: the library must copy it. */
static const char *item_name(int32_t i)
{
    static _Thread_local char buf[32];
    snprintf(buf, sizeof buf, "item-%d", (int)i);
    return buf;
}
CF_TASK(const char *, item_name, int32_t);

/* Returns a fresh string, handed over with cf_string_take. */
static char *fresh_name(int32_t i)
{
    char *s = malloc(32);
    if (s == NULL)
        return NULL;
    snprintf(s, 32, "fresh-%d", (int)i);
    return cf_string_take(s);
}
CF_TASK(char *, fresh_name, int32_t);

/* Returns fresh bytes, handed over with cf_bytes_take. */
static cf_bytes fresh_bytes(int32_t n)
{
    unsigned char *p = n > 0 ? malloc((size_t)n) : NULL;
    for (int32_t i = 0; i < n; i++)
        p[i] = (unsigned char)(i + n);
    return cf_bytes_take(p, (size_t)n);
}
CF_TASK(cf_bytes, fresh_bytes, int32_t);

/* Takes a buffer, then fails: nothing leaks, the result is dropped. */
static char *take_then_fail(int32_t i)
{
    char *s = cf_string_take(strdup("doomed"));
    if (i % 2 == 1)
        cf_task_fail(i, "odd element %d", (int)i);
    return s;
}
CF_TASK(char *, take_then_fail, int32_t);

START_TEST(task_string_results_copied_everywhere)
{
    enum { N = 4 };
    for (int kind = 0; kind < 2; kind++) {
        cf_executor *ex = kind == 0 ? new_thread_pool_of(1) : new_process_pool_of(1);
        char want[32];
        /* cf_submit: each future has its own copy. */
        cf_future *fs[N];
        for (int32_t i = 0; i < N; i++)
            ck_assert_int_eq(cf_submit(&fs[i], ex, item_name, i), 0);
        for (int32_t i = 0; i < N; i++) {
            const char *s;
            ck_assert_int_eq(cf_future_result(fs[i], &s, DEADLINE_S), 0);
            snprintf(want, sizeof want, "item-%d", (int)i);
            ck_assert_str_eq(s, want);
        }
        for (int32_t i = 0; i < N; i++)
            cf_future_release(fs[i]);
        /* Fresh strings and bytes, taken: no leak (valgrind, ASan check it). */
        for (int32_t i = 0; i < N; i++) {
            cf_future *f, *g;
            ck_assert_int_eq(cf_submit(&f, ex, fresh_name, i), 0);
            ck_assert_int_eq(cf_submit(&g, ex, fresh_bytes, i * 3), 0);
            char *s;
            cf_bytes b;
            ck_assert_int_eq(cf_future_result(f, &s, DEADLINE_S), 0);
            snprintf(want, sizeof want, "fresh-%d", (int)i);
            ck_assert_str_eq(s, want);
            ck_assert_int_eq(cf_future_result(g, &b, DEADLINE_S), 0);
            ck_assert_uint_eq(b.len, (size_t)i * 3);
            for (size_t k = 0; k < b.len; k++)
                ck_assert_uint_eq(((const unsigned char *)b.data)[k], (unsigned char)(k + b.len));
            cf_future_release(f);
            cf_future_release(g);
        }
        cf_future *f;
        ck_assert_int_eq(cf_submit(&f, ex, take_then_fail, 1), 0);
        ck_assert_int_eq(cf_future_result(f, NULL, DEADLINE_S), CF_ETASK);
        cf_future_release(f);
        if (kind == 0) {
            /* cf_map: the same copies, the caller's to free. */
            int32_t in[N] = {0, 1, 2, 3};
            const char *out[N];
            ck_assert_int_eq(cf_map(ex, item_name, NULL, N, out, in), 0);
            for (int32_t i = 0; i < N; i++) {
                snprintf(want, sizeof want, "item-%d", (int)i);
                ck_assert_str_eq(out[i], want);
                free((void *)out[i]);
            }
            char *fresh[N];
            ck_assert_int_eq(cf_map(ex, fresh_name, &(cf_map_options){.chunk_size = 1}, N,
                                    fresh, in), 0);
            for (int32_t i = 0; i < N; i++) {
                snprintf(want, sizeof want, "fresh-%d", (int)i);
                ck_assert_str_eq(fresh[i], want);
                free(fresh[i]);
            }
            CF_ARGS(fresh_bytes) tuples[N] = {{1}, {2}, {0}, {5}};
            cf_bytes bs[N];
            ck_assert_int_eq(cf_starmap(ex, fresh_bytes, NULL, N, bs, tuples), 0);
            for (int32_t i = 0; i < N; i++) {
                ck_assert_uint_eq(bs[i].len, (size_t)tuples[i].a0);
                free((void *)bs[i].data);
            }
            /* Failed elements hold NULL; the rest are copies. */
            int status[N];
            ck_assert_int_eq(cf_map(ex, take_then_fail,
                                    &(cf_map_options){.keep_going = true, .status = status}, N,
                                    fresh, in), CF_ETASK);
            for (int32_t i = 0; i < N; i++) {
                if (i % 2 == 1) {
                    ck_assert_int_eq(status[i], CF_ETASK);
                    ck_assert_ptr_null(fresh[i]);
                } else {
                    ck_assert_int_eq(status[i], 0);
                    ck_assert_str_eq(fresh[i], "doomed");
                    free(fresh[i]);
                }
            }
            /* Dropped results: nothing leaks either. */
            ck_assert_int_eq(cf_map(ex, fresh_name, NULL, N, NULL, in), 0);
        } else {
            /* A process pool cannot bring strings back into an array: refused, not copied
             * halfway. */
            int32_t in[N] = {0, 1, 2, 3};
            const char *out[N];
            ck_assert_int_eq(cf_map(ex, item_name, NULL, N, out, in), CF_EUNSUPPORTED);
        }
        cf_executor_free(ex);
    }
}
END_TEST

START_TEST(task_take_outside_task)
{
    /* Outside a task, nothing is taken: the caller still owns it. */
    char *s = strdup("mine");
    ck_assert_ptr_eq(cf_string_take(s), s);
    free(s);
    void *p = malloc(4);
    cf_bytes b = cf_bytes_take(p, 4);
    ck_assert_ptr_eq(b.data, p);
    ck_assert_uint_eq(b.len, 4);
    free(p);
    ck_assert_ptr_null(cf_string_take(NULL));
}
END_TEST

static Suite *task_suite(void)
{
    Suite *s = suite_create("task");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, task_descriptor_no_params);
    tcase_add_test(tc, task_descriptor_every_type);
    tcase_add_test(tc, task_descriptor_params_1_to_8);
    tcase_add_test(tc, task_descriptor_void_with_params);
    tcase_add_test(tc, task_call_identity_every_type);
    tcase_add_test(tc, task_call_no_params);
    tcase_add_test(tc, task_call_params_1_to_8);
    tcase_add_test(tc, task_call_void_with_params);
    tcase_add_test(tc, task_find_registered);
    tcase_add_test(tc, task_find_not_found);
    tcase_add_test(tc, task_find_invalid);
    tcase_add_test(tc, task_find_ambiguous);
    tcase_add_test(tc, task_register_unregister);
    tcase_add_test(tc, task_find_concurrent);
    tcase_add_test(tc, task_fail_outside_task);
    tcase_add_test(tc, task_fail_from_bare_trampoline);
    tcase_add_test(tc, task_fail_inside_task);
    tcase_add_test(tc, task_identity_static_twins);
    tcase_add_test(tc, task_identity_header_copies);
    tcase_add_test(tc, task_string_results_copied_everywhere);
    tcase_add_test(tc, task_take_outside_task);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(task_suite());
}
