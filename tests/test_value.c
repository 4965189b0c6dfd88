/* test_value.c: compile-time type tags (CF_TYPE_OF), dynamic values, their
 * constructors and CF_VALUE, cf_value_store / cf_value_load, kind names. */
#include "config.h"

#include <check.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cfutures.h>

#include "support.h"

typedef struct point {
    int x;
    double y;
} point;

typedef struct triple {
    char tag;
    int64_t values[3];
} triple;

static void assert_type(cf_type t, cf_kind kind, size_t size, const char *what)
{
    ck_assert_msg(t.kind == (uint32_t)kind && t.size == size,
                  "%s: got kind %u size %u, want kind %d (%s) size %zu", what, t.kind, t.size,
                  (int)kind, cf_kind_name((uint32_t)kind), size);
}

#define ASSERT_TYPE(T, kind, size) assert_type(CF_TYPE_OF(T), (kind), (size), #T)

static cf_kind signed_kind(size_t size)
{
    return size == 1 ? CF_KIND_I8 : size == 2 ? CF_KIND_I16 : size == 4 ? CF_KIND_I32 : CF_KIND_I64;
}

static cf_kind unsigned_kind(size_t size)
{
    return size == 1 ? CF_KIND_U8 : size == 2 ? CF_KIND_U16 : size == 4 ? CF_KIND_U32 : CF_KIND_U64;
}

/* Runs `fn` in a new thread (whose cf_last_error() starts empty) and returns
 * whether the thread's cf_last_error() was non-empty afterwards. */
static void *run_and_read_last_error(void *arg)
{
    void (*fn)(void) = *(void (**)(void))arg;
    fn();
    return (void *)(uintptr_t)(cf_last_error()[0] != '\0');
}

static bool records_last_error(void (*fn)(void))
{
    pthread_t t;
    void *recorded;
    ck_assert_int_eq(pthread_create(&t, NULL, run_and_read_last_error, &fn), 0);
    ck_assert_int_eq(pthread_join(t, &recorded), 0);
    return recorded != NULL;
}

/* ---- CF_TYPE_OF ---------------------------------------------------------------- */

START_TEST(value_type_of_integers)
{
    ASSERT_TYPE(bool, CF_KIND_BOOL, 1);
    ASSERT_TYPE(char, CHAR_MIN < 0 ? CF_KIND_I8 : CF_KIND_U8, 1);
    ASSERT_TYPE(signed char, CF_KIND_I8, 1);
    ASSERT_TYPE(unsigned char, CF_KIND_U8, 1);
    ASSERT_TYPE(short, CF_KIND_I16, 2);
    ASSERT_TYPE(unsigned short, CF_KIND_U16, 2);
    ASSERT_TYPE(int, signed_kind(sizeof(int)), sizeof(int));
    ASSERT_TYPE(unsigned int, unsigned_kind(sizeof(int)), sizeof(int));
    ASSERT_TYPE(long, signed_kind(sizeof(long)), sizeof(long));
    ASSERT_TYPE(unsigned long, unsigned_kind(sizeof(long)), sizeof(long));
    ASSERT_TYPE(long long, CF_KIND_I64, 8);
    ASSERT_TYPE(unsigned long long, CF_KIND_U64, 8);
    ASSERT_TYPE(int8_t, CF_KIND_I8, 1);
    ASSERT_TYPE(uint8_t, CF_KIND_U8, 1);
    ASSERT_TYPE(int16_t, CF_KIND_I16, 2);
    ASSERT_TYPE(uint16_t, CF_KIND_U16, 2);
    ASSERT_TYPE(int32_t, CF_KIND_I32, 4);
    ASSERT_TYPE(uint32_t, CF_KIND_U32, 4);
    ASSERT_TYPE(int64_t, CF_KIND_I64, 8);
    ASSERT_TYPE(uint64_t, CF_KIND_U64, 8);
    ASSERT_TYPE(size_t, unsigned_kind(sizeof(size_t)), sizeof(size_t));
    ASSERT_TYPE(ptrdiff_t, signed_kind(sizeof(ptrdiff_t)), sizeof(ptrdiff_t));
}
END_TEST

START_TEST(value_type_of_others)
{
    ASSERT_TYPE(float, CF_KIND_F32, sizeof(float));
    ASSERT_TYPE(double, CF_KIND_F64, sizeof(double));
    ASSERT_TYPE(const char *, CF_KIND_STR, sizeof(const char *));
    ASSERT_TYPE(char *, CF_KIND_STR, sizeof(char *));
    ASSERT_TYPE(cf_bytes, CF_KIND_BYTES, sizeof(cf_bytes));
    ASSERT_TYPE(point, CF_KIND_STRUCT, sizeof(point));
    ASSERT_TYPE(triple, CF_KIND_STRUCT, sizeof(triple));
    ASSERT_TYPE(struct point, CF_KIND_STRUCT, sizeof(struct point));
    ASSERT_TYPE(void *, CF_KIND_PTR, sizeof(void *));
    ASSERT_TYPE(const void *, CF_KIND_PTR, sizeof(const void *));
    ASSERT_TYPE(int *, CF_KIND_PTR, sizeof(int *));
    ASSERT_TYPE(double *, CF_KIND_PTR, sizeof(double *));
    ASSERT_TYPE(point *, CF_KIND_PTR, sizeof(point *));
    ASSERT_TYPE(char **, CF_KIND_PTR, sizeof(char **));
    ASSERT_TYPE(const char **, CF_KIND_PTR, sizeof(const char **));
    ASSERT_TYPE(void, CF_KIND_VOID, 0);
}
END_TEST

/* CF__TYPE_INIT is a constant initializer. */
static const cf_type static_types[] = {
    CF__TYPE_INIT(double), CF__TYPE_INIT(const char *), CF__TYPE_INIT(point),
    CF__TYPE_INIT(void *), CF__TYPE_INIT(void),         CF__TYPE_INIT(uint16_t),
};

START_TEST(value_type_of_static)
{
    assert_type(static_types[0], CF_KIND_F64, sizeof(double), "static double");
    assert_type(static_types[1], CF_KIND_STR, sizeof(const char *), "static const char *");
    assert_type(static_types[2], CF_KIND_STRUCT, sizeof(point), "static point");
    assert_type(static_types[3], CF_KIND_PTR, sizeof(void *), "static void *");
    assert_type(static_types[4], CF_KIND_VOID, 0, "static void");
    assert_type(static_types[5], CF_KIND_U16, 2, "static uint16_t");
}
END_TEST

START_TEST(value_type_equal)
{
    ck_assert(cf_type_equal(CF_TYPE_OF(int), CF_TYPE_OF(int32_t)));
    ck_assert(cf_type_equal(CF_TYPE_OF(long long), CF_TYPE_OF(int64_t)));
    ck_assert(cf_type_equal(CF_TYPE_OF(char *), CF_TYPE_OF(const char *)));
    ck_assert(cf_type_equal(CF_TYPE_OF(void), CF_TYPE_OF(void)));
    ck_assert(cf_type_equal(CF_TYPE_OF(point), CF_TYPE_OF(struct point)));
    ck_assert(!cf_type_equal(CF_TYPE_OF(int), CF_TYPE_OF(unsigned)));
    ck_assert(!cf_type_equal(CF_TYPE_OF(int32_t), CF_TYPE_OF(int64_t)));
    ck_assert(!cf_type_equal(CF_TYPE_OF(float), CF_TYPE_OF(double)));
    ck_assert(!cf_type_equal(CF_TYPE_OF(const char *), CF_TYPE_OF(void *)));
    ck_assert(!cf_type_equal(CF_TYPE_OF(point), CF_TYPE_OF(triple)));
    /* Same kind, different size: two structs. */
    cf_type a = {CF_KIND_STRUCT, 8}, b = {CF_KIND_STRUCT, 16};
    ck_assert(!cf_type_equal(a, b));
    ck_assert(cf_type_equal(a, a));
    /* Same size, different kind. */
    ck_assert(!cf_type_equal(CF_TYPE_OF(uint64_t), CF_TYPE_OF(double)));
}
END_TEST

/* ---- Constructors ------------------------------------------------------------- */

#define ASSERT_VALUE_TYPE(v, T)                                                    \
    assert_type((v).type, (cf_kind)CF_TYPE_OF(T).kind, CF_TYPE_OF(T).size, "value of type " #T)

START_TEST(value_constructors_integers)
{
    cf_value v;
    v = cf_value_bool(true);
    ASSERT_VALUE_TYPE(v, bool);
    ck_assert(v.as.b);
    v = cf_value_bool(false);
    ck_assert(!v.as.b);

    v = cf_value_i8(INT8_MIN);
    ASSERT_VALUE_TYPE(v, int8_t);
    ck_assert_int_eq(v.as.i, INT8_MIN);
    v = cf_value_u8(UINT8_MAX);
    ASSERT_VALUE_TYPE(v, uint8_t);
    ck_assert_uint_eq(v.as.u, UINT8_MAX);
    v = cf_value_i16(INT16_MIN);
    ASSERT_VALUE_TYPE(v, int16_t);
    ck_assert_int_eq(v.as.i, INT16_MIN);
    v = cf_value_u16(UINT16_MAX);
    ASSERT_VALUE_TYPE(v, uint16_t);
    ck_assert_uint_eq(v.as.u, UINT16_MAX);
    v = cf_value_i32(INT32_MIN);
    ASSERT_VALUE_TYPE(v, int32_t);
    ck_assert_int_eq(v.as.i, INT32_MIN);
    v = cf_value_u32(UINT32_MAX);
    ASSERT_VALUE_TYPE(v, uint32_t);
    ck_assert_uint_eq(v.as.u, UINT32_MAX);
    v = cf_value_i64(INT64_MIN);
    ASSERT_VALUE_TYPE(v, int64_t);
    ck_assert_int_eq(v.as.i, INT64_MIN);
    v = cf_value_u64(UINT64_MAX);
    ASSERT_VALUE_TYPE(v, uint64_t);
    ck_assert_uint_eq(v.as.u, UINT64_MAX);
    /* Negative values are sign-extended into i. */
    ck_assert_int_eq(cf_value_i8(-1).as.i, -1);
    ck_assert_int_eq(cf_value_i16(-2).as.i, -2);
    ck_assert_int_eq(cf_value_i32(-3).as.i, -3);
}
END_TEST

START_TEST(value_constructors_others)
{
    cf_value v;
    v = cf_value_f32(1.25f);
    ASSERT_VALUE_TYPE(v, float);
    ck_assert(v.as.f == 1.25);
    v = cf_value_f64(-2.5e300);
    ASSERT_VALUE_TYPE(v, double);
    ck_assert(v.as.f == -2.5e300);

    const char *text = "text";
    v = cf_value_str(text);
    ASSERT_VALUE_TYPE(v, const char *);
    ck_assert_ptr_eq(v.as.str, text); /* refers to, does not copy */
    v = cf_value_str(NULL);
    ASSERT_VALUE_TYPE(v, const char *);
    ck_assert_ptr_null(v.as.str);

    unsigned char buf[5] = {1, 2, 3, 4, 5};
    v = cf_value_bytes(buf, sizeof buf);
    ASSERT_VALUE_TYPE(v, cf_bytes);
    ck_assert_ptr_eq(v.as.bytes.data, buf);
    ck_assert_uint_eq(v.as.bytes.len, sizeof buf);

    point p = {3, 4.5};
    v = cf_value_struct(&p, sizeof p);
    ASSERT_VALUE_TYPE(v, point);
    ck_assert_ptr_eq(v.as.data, &p);

    int x = 7;
    v = cf_value_ptr(&x);
    ASSERT_VALUE_TYPE(v, void *);
    ck_assert_ptr_eq(v.as.ptr, &x);
    v = cf_value_ptr(NULL);
    ck_assert_ptr_null(v.as.ptr);

    v = cf_value_void();
    ASSERT_VALUE_TYPE(v, void);
}
END_TEST

START_TEST(value_macro_picks_constructor)
{
    cf_value v;
    v = CF_VALUE((bool)true);
    ASSERT_VALUE_TYPE(v, bool);
    ck_assert(v.as.b);
    v = CF_VALUE((char)'a');
    ASSERT_VALUE_TYPE(v, char);
    ck_assert_int_eq(CHAR_MIN < 0 ? v.as.i : (int64_t)v.as.u, 'a');
    v = CF_VALUE((signed char)-5);
    ASSERT_VALUE_TYPE(v, signed char);
    ck_assert_int_eq(v.as.i, -5);
    v = CF_VALUE((unsigned char)250);
    ASSERT_VALUE_TYPE(v, unsigned char);
    ck_assert_uint_eq(v.as.u, 250);
    v = CF_VALUE((short)-300);
    ASSERT_VALUE_TYPE(v, short);
    ck_assert_int_eq(v.as.i, -300);
    v = CF_VALUE((unsigned short)60000);
    ASSERT_VALUE_TYPE(v, unsigned short);
    ck_assert_uint_eq(v.as.u, 60000);
    v = CF_VALUE(-70000);
    ASSERT_VALUE_TYPE(v, int);
    ck_assert_int_eq(v.as.i, -70000);
    v = CF_VALUE(4000000000u);
    ASSERT_VALUE_TYPE(v, unsigned int);
    ck_assert_uint_eq(v.as.u, 4000000000u);
    v = CF_VALUE(LONG_MIN);
    ASSERT_VALUE_TYPE(v, long);
    ck_assert_int_eq(v.as.i, LONG_MIN);
    v = CF_VALUE(ULONG_MAX);
    ASSERT_VALUE_TYPE(v, unsigned long);
    ck_assert_uint_eq(v.as.u, ULONG_MAX);
    v = CF_VALUE(LLONG_MIN);
    ASSERT_VALUE_TYPE(v, long long);
    ck_assert_int_eq(v.as.i, LLONG_MIN);
    v = CF_VALUE(ULLONG_MAX);
    ASSERT_VALUE_TYPE(v, unsigned long long);
    ck_assert_uint_eq(v.as.u, ULLONG_MAX);
    v = CF_VALUE((int8_t)-8);
    ASSERT_VALUE_TYPE(v, int8_t);
    v = CF_VALUE((uint16_t)16);
    ASSERT_VALUE_TYPE(v, uint16_t);
    v = CF_VALUE((int32_t)-32);
    ASSERT_VALUE_TYPE(v, int32_t);
    v = CF_VALUE((uint64_t)64);
    ASSERT_VALUE_TYPE(v, uint64_t);
    ck_assert_uint_eq(v.as.u, 64);
    v = CF_VALUE(1.5f);
    ASSERT_VALUE_TYPE(v, float);
    ck_assert(v.as.f == 1.5);
    v = CF_VALUE(0.1);
    ASSERT_VALUE_TYPE(v, double);
    ck_assert(v.as.f == 0.1);

    char mutable_text[] = "mutable";
    v = CF_VALUE(mutable_text);
    ASSERT_VALUE_TYPE(v, char *);
    ck_assert_ptr_eq(v.as.str, mutable_text);
    const char *text = "const";
    v = CF_VALUE(text);
    ASSERT_VALUE_TYPE(v, const char *);
    ck_assert_ptr_eq(v.as.str, text);
    v = CF_VALUE("literal");
    ASSERT_VALUE_TYPE(v, const char *);
    ck_assert_str_eq(v.as.str, "literal");

    int x;
    v = CF_VALUE((void *)&x);
    ASSERT_VALUE_TYPE(v, void *);
    ck_assert_ptr_eq(v.as.ptr, &x);
}
END_TEST

/* ---- cf_value_store / cf_value_load -------------------------------------------- */

/* Stores v as T into an object surrounded by guard bytes, checks the stored
 * object equals `expect` and that nothing outside it was written; then loads
 * it back and checks the loaded value has v's type and stores to the same
 * bytes again. */
#define ROUND_TRIP(T, v, expect)                                                   \
    do {                                                                           \
        struct {                                                                   \
            unsigned char before[16];                                              \
            T obj;                                                                 \
            unsigned char after[16];                                               \
        } box_;                                                                    \
        memset(&box_, 0xA5, sizeof box_);                                          \
        cf_value v_ = (v);                                                         \
        T expect_ = (expect);                                                      \
        ck_assert_int_eq(cf_value_store(&v_, CF_TYPE_OF(T), &box_.obj), 0);        \
        ck_assert_msg(memcmp(&box_.obj, &expect_, sizeof(T)) == 0, "store " #T);   \
        for (size_t k_ = 0; k_ < 16; k_++) {                                       \
            ck_assert_uint_eq(box_.before[k_], 0xA5);                              \
            ck_assert_uint_eq(box_.after[k_], 0xA5);                               \
        }                                                                          \
        cf_value loaded_;                                                          \
        memset(&loaded_, 0, sizeof loaded_);                                       \
        ck_assert_int_eq(cf_value_load(&loaded_, CF_TYPE_OF(T), &box_.obj), 0);    \
        ck_assert(cf_type_equal(loaded_.type, CF_TYPE_OF(T)));                     \
        T again_;                                                                  \
        memset(&again_, 0x5A, sizeof again_);                                      \
        ck_assert_int_eq(cf_value_store(&loaded_, CF_TYPE_OF(T), &again_), 0);     \
        ck_assert_msg(memcmp(&again_, &expect_, sizeof(T)) == 0, "reload " #T);    \
    } while (0)

START_TEST(value_store_load_scalars)
{
    ROUND_TRIP(bool, cf_value_bool(true), true);
    ROUND_TRIP(bool, cf_value_bool(false), false);
    ROUND_TRIP(int8_t, cf_value_i8(INT8_MIN), INT8_MIN);
    ROUND_TRIP(uint8_t, cf_value_u8(UINT8_MAX), UINT8_MAX);
    ROUND_TRIP(int16_t, cf_value_i16(-12345), -12345);
    ROUND_TRIP(uint16_t, cf_value_u16(54321), 54321);
    ROUND_TRIP(int32_t, cf_value_i32(INT32_MIN), INT32_MIN);
    ROUND_TRIP(uint32_t, cf_value_u32(UINT32_MAX), UINT32_MAX);
    ROUND_TRIP(int64_t, cf_value_i64(INT64_MIN), INT64_MIN);
    ROUND_TRIP(uint64_t, cf_value_u64(UINT64_MAX), UINT64_MAX);
    ROUND_TRIP(float, cf_value_f32(-0.375f), -0.375f);
    ROUND_TRIP(double, cf_value_f64(6.02214076e23), 6.02214076e23);
    ROUND_TRIP(double, cf_value_f64(-0.0), -0.0);
    ROUND_TRIP(double, cf_value_f64(INFINITY), INFINITY);
    /* The standard types, through CF_VALUE. */
    ROUND_TRIP(char, CF_VALUE((char)'z'), 'z');
    ROUND_TRIP(signed char, CF_VALUE((signed char)-100), -100);
    ROUND_TRIP(unsigned char, CF_VALUE((unsigned char)200), 200);
    ROUND_TRIP(short, CF_VALUE((short)-3), -3);
    ROUND_TRIP(unsigned short, CF_VALUE((unsigned short)3), 3);
    ROUND_TRIP(int, CF_VALUE(INT_MIN), INT_MIN);
    ROUND_TRIP(unsigned int, CF_VALUE(UINT_MAX), UINT_MAX);
    ROUND_TRIP(long, CF_VALUE(LONG_MAX), LONG_MAX);
    ROUND_TRIP(unsigned long, CF_VALUE(ULONG_MAX), ULONG_MAX);
    ROUND_TRIP(long long, CF_VALUE(LLONG_MIN), LLONG_MIN);
    ROUND_TRIP(unsigned long long, CF_VALUE(ULLONG_MAX), ULLONG_MAX);
    ROUND_TRIP(float, CF_VALUE(3.5f), 3.5f);
    ROUND_TRIP(double, CF_VALUE(-1e-300), -1e-300);
}
END_TEST

START_TEST(value_store_load_references)
{
    const char *text = "refers";
    ROUND_TRIP(const char *, cf_value_str(text), text);
    ROUND_TRIP(const char *, cf_value_str(NULL), NULL);
    char mutable_text[] = "mutable";
    ROUND_TRIP(char *, CF_VALUE(mutable_text), mutable_text);

    static const unsigned char buf[3] = {9, 8, 7};
    cf_bytes bytes = {buf, sizeof buf};
    ROUND_TRIP(cf_bytes, cf_value_bytes(buf, sizeof buf), bytes);
    cf_bytes empty = {NULL, 0};
    ROUND_TRIP(cf_bytes, cf_value_bytes(NULL, 0), empty);

    int x = 1;
    ROUND_TRIP(void *, cf_value_ptr(&x), (void *)&x);
    ROUND_TRIP(void *, cf_value_ptr(NULL), NULL);
}
END_TEST

START_TEST(value_store_load_struct)
{
    triple t;
    memset(&t, 0, sizeof t); /* padding too, for the byte comparison */
    t.tag = 'q';
    t.values[0] = -1;
    t.values[1] = INT64_MAX;
    t.values[2] = 42;
    ROUND_TRIP(triple, cf_value_struct(&t, sizeof t), t);

    /* The stored struct is a copy: the source may change afterwards. */
    triple out;
    cf_value v = cf_value_struct(&t, sizeof t);
    ck_assert_int_eq(cf_value_store(&v, CF_TYPE_OF(triple), &out), 0);
    t.values[1] = 0;
    ck_assert_int_eq(out.values[1], INT64_MAX);
    ck_assert_int_eq(out.tag, 'q');
}
END_TEST

START_TEST(value_load_refers_to_source)
{
    cf_value v;
    const char *s = "source";
    ck_assert_int_eq(cf_value_load(&v, CF_TYPE_OF(const char *), &s), 0);
    ck_assert_ptr_eq(v.as.str, s);

    unsigned char data[4] = {1, 2, 3, 4};
    cf_bytes b = {data, sizeof data};
    ck_assert_int_eq(cf_value_load(&v, CF_TYPE_OF(cf_bytes), &b), 0);
    ck_assert_ptr_eq(v.as.bytes.data, data);
    ck_assert_uint_eq(v.as.bytes.len, 4);

    point p = {1, 2.0};
    ck_assert_int_eq(cf_value_load(&v, CF_TYPE_OF(point), &p), 0);
    ck_assert_ptr_eq(v.as.data, &p);
    assert_type(v.type, CF_KIND_STRUCT, sizeof p, "loaded point");

    int16_t i16 = -7;
    ck_assert_int_eq(cf_value_load(&v, CF_TYPE_OF(int16_t), &i16), 0);
    ck_assert_int_eq(v.as.i, -7); /* widened */
    uint32_t u32 = UINT32_MAX;
    ck_assert_int_eq(cf_value_load(&v, CF_TYPE_OF(uint32_t), &u32), 0);
    ck_assert_uint_eq(v.as.u, UINT32_MAX);
    float f = 0.5f;
    ck_assert_int_eq(cf_value_load(&v, CF_TYPE_OF(float), &f), 0);
    ck_assert(v.as.f == 0.5);
    bool flag = true;
    ck_assert_int_eq(cf_value_load(&v, CF_TYPE_OF(bool), &flag), 0);
    ck_assert(v.as.b);
}
END_TEST

START_TEST(value_void)
{
    cf_value v = cf_value_void();
    ck_assert_int_eq(cf_value_store(&v, CF_TYPE_OF(void), NULL), 0);
    cf_value loaded;
    ck_assert_int_eq(cf_value_load(&loaded, CF_TYPE_OF(void), NULL), 0);
    assert_type(loaded.type, CF_KIND_VOID, 0, "loaded void");
}
END_TEST

/* Every pair of differing types is refused, and nothing is written. */
START_TEST(value_store_type_mismatch)
{
    unsigned char buf[4] = {0};
    point p = {0, 0.0};
    const cf_value values[] = {
        cf_value_bool(true), cf_value_i8(1),      cf_value_u8(1),     cf_value_i16(1),
        cf_value_u16(1),     cf_value_i32(1),     cf_value_u32(1),    cf_value_i64(1),
        cf_value_u64(1),     cf_value_f32(1),     cf_value_f64(1),    cf_value_str("s"),
        cf_value_bytes(buf, sizeof buf), cf_value_struct(&p, sizeof p),
        cf_value_struct(buf, sizeof buf), cf_value_ptr(buf),      cf_value_void(),
    };
    const size_t n = sizeof values / sizeof values[0];
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < n; j++) {
            if (i == j || values[j].type.kind == CF_KIND_VOID)
                continue;
            union {
                unsigned char bytes[64];
                max_align_t align;
            } out;
            memset(&out, 0xC3, sizeof out);
            int rc = cf_value_store(&values[i], values[j].type, &out);
            ck_assert_msg(rc == CF_ETYPE, "store %s (%u bytes) as %s (%u bytes): %s",
                          cf_kind_name(values[i].type.kind), values[i].type.size,
                          cf_kind_name(values[j].type.kind), values[j].type.size,
                          cf_err_name(rc));
            for (size_t k = 0; k < sizeof out.bytes; k++)
                ck_assert_uint_eq(out.bytes[k], 0xC3);
        }
    }
}
END_TEST

static void store_mismatch(void)
{
    cf_value v = cf_value_i32(1);
    int64_t out;
    ck_assert_int_eq(cf_value_store(&v, CF_TYPE_OF(int64_t), &out), CF_ETYPE);
}

static void store_null_out(void)
{
    cf_value v = cf_value_f64(1);
    ck_assert_int_eq(cf_value_store(&v, CF_TYPE_OF(double), NULL), CF_EINVAL);
}

static void load_unknown_kind(void)
{
    cf_value v;
    int x = 0;
    cf_type bad = {CF_KIND_COUNT_, 4};
    ck_assert_int_eq(cf_value_load(&v, bad, &x), CF_EINVAL);
}

START_TEST(value_store_errors)
{
    cf_value v = cf_value_f64(1);
    ck_assert_int_eq(cf_value_store(&v, CF_TYPE_OF(double), NULL), CF_EINVAL);
    cf_value s = cf_value_str("x");
    ck_assert_int_eq(cf_value_store(&s, CF_TYPE_OF(const char *), NULL), CF_EINVAL);

    ck_assert(records_last_error(store_mismatch));
    ck_assert(records_last_error(store_null_out));
}
END_TEST

START_TEST(value_load_errors)
{
    cf_value v;
    int x = 0;
    const uint32_t bad_kinds[] = {CF_KIND_COUNT_, CF_KIND_COUNT_ + 1, 1000, UINT32_MAX};
    for (size_t i = 0; i < sizeof bad_kinds / sizeof bad_kinds[0]; i++) {
        cf_type bad = {bad_kinds[i], 4};
        ck_assert_int_eq(cf_value_load(&v, bad, &x), CF_EINVAL);
    }
    ck_assert_int_eq(cf_value_load(&v, CF_TYPE_OF(int), NULL), CF_EINVAL);
    ck_assert_int_eq(cf_value_load(&v, CF_TYPE_OF(const char *), NULL), CF_EINVAL);
    ck_assert(records_last_error(load_unknown_kind));
}
END_TEST

/* ---- Kind names ------------------------------------------------------------------ */

START_TEST(value_kind_names)
{
    ck_assert_str_eq(cf_kind_name(CF_KIND_F64), "double");
    ck_assert_str_eq(cf_kind_name(CF_KIND_I32), "int32");
    ck_assert_str_eq(cf_kind_name(CF_KIND_STR), "string");
    ck_assert_str_eq(cf_kind_name(CF_KIND_STRUCT), "struct");
    for (uint32_t k = 0; k < CF_KIND_COUNT_; k++) {
        const char *name = cf_kind_name(k);
        ck_assert_ptr_nonnull(name);
        ck_assert_uint_gt(strlen(name), 0);
        ck_assert_str_ne(name, "unknown");
        for (uint32_t j = 0; j < k; j++)
            ck_assert_str_ne(cf_kind_name(j), name);
    }
    ck_assert_str_eq(cf_kind_name(CF_KIND_COUNT_), "unknown");
    ck_assert_str_eq(cf_kind_name(1000), "unknown");
    ck_assert_str_eq(cf_kind_name(UINT32_MAX), "unknown");
}
END_TEST

static Suite *value_suite(void)
{
    Suite *s = suite_create("value");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, value_type_of_integers);
    tcase_add_test(tc, value_type_of_others);
    tcase_add_test(tc, value_type_of_static);
    tcase_add_test(tc, value_type_equal);
    tcase_add_test(tc, value_constructors_integers);
    tcase_add_test(tc, value_constructors_others);
    tcase_add_test(tc, value_macro_picks_constructor);
    tcase_add_test(tc, value_store_load_scalars);
    tcase_add_test(tc, value_store_load_references);
    tcase_add_test(tc, value_store_load_struct);
    tcase_add_test(tc, value_load_refers_to_source);
    tcase_add_test(tc, value_void);
    tcase_add_test(tc, value_store_type_mismatch);
    tcase_add_test(tc, value_store_errors);
    tcase_add_test(tc, value_load_errors);
    tcase_add_test(tc, value_kind_names);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(value_suite());
}
