/* test_wire.c: the process pool's messages (lib/wire.h).
 *
 * Round trips of every type a task may take or return (integers at their
 * limits, floats bit for bit, bool, strings, bytes, structs of every
 * extension width, void, 0 and 8 parameters), of FAILED, HELLO and SHUTDOWN;
 * what the encoder refuses; and the decoder against every kind of malformed
 * payload: cut at every byte, wrong version, type, field or argument count,
 * wrong MessagePack type for each declared kind, integers out of range,
 * lengths larger than the payload, garbage and trailing bytes. Malformed
 * payloads are built with msgpack-c's packer, so that each one is exactly the
 * mistake it names. Decoded payloads live in heap blocks of exactly their
 * size, so that any read past the end shows under ASan or valgrind.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <msgpack.h>

#include <cfutures.h>

#include "frame.h"
#include "wire.h"
#include "support.h"

/* ---- Tasks of every type ---------------------------------------------------------- */

#define IDENTITY(T, name)                                                          \
    static T name(T x) { return x; }                                               \
    CF_TASK(T, name, T)

IDENTITY(bool, w_bool);
IDENTITY(int8_t, w_i8);
IDENTITY(uint8_t, w_u8);
IDENTITY(int16_t, w_i16);
IDENTITY(uint16_t, w_u16);
IDENTITY(int32_t, w_i32);
IDENTITY(uint32_t, w_u32);
IDENTITY(int64_t, w_i64);
IDENTITY(uint64_t, w_u64);
IDENTITY(float, w_f32);
IDENTITY(double, w_f64);
IDENTITY(cf_bytes, w_bytes);

static const char *w_str(const char *s) { return s; }
CF_TASK(const char *, w_str, const char *);

typedef struct point3 {
    double x, y, z;
    int32_t tag;
} point3;
IDENTITY(point3, w_point);

/* Structs whose sizes pick every MessagePack extension form: fixext 1, 2, 4,
 * 8, 16, then ext 8, ext 16, ext 32. */
#define BLOB(n)                                                                    \
    typedef struct blob##n {                                                       \
        uint8_t b[n];                                                              \
    } blob##n;                                                             \
    IDENTITY(blob##n, w_blob##n)
BLOB(1);
BLOB(2);
BLOB(3);
BLOB(4);
BLOB(8);
BLOB(16);
BLOB(300);
BLOB(70000);

static int add2(int a, int b) { return a + b; }
CF_TASK(int, add2, int, int);

static int32_t w_none(void) { return 42; }
CF_TASK(int32_t, w_none);

static void w_void(int32_t x) { (void)x; }
CF_TASK(void, w_void, int32_t);

static double w_eight(int8_t a, uint16_t b, int32_t c, uint64_t d, float e, double f,
                      const char *g, cf_bytes h)
{
    return a + b + c + (double)d + e + f + (g != NULL ? (double)strlen(g) : -1.0) + (double)h.len;
}
CF_TASK(double, w_eight, int8_t, uint16_t, int32_t, uint64_t, float, double, const char *,
        cf_bytes);

static void *w_ptr(void *p) { return p; }
CF_TASK(void *, w_ptr, void *);

static int w_ptr_arg(int *p) { return *p; }
CF_TASK(int, w_ptr_arg, int *);

static const cf_task *task_named(const char *name)
{
    const cf_task *t = NULL;
    ck_assert_int_eq(cf_task_find(name, &t), 0);
    ck_assert_ptr_nonnull(t);
    return t;
}

/* ---- Helpers ---------------------------------------------------------------------- */

/* An argument block, aligned for any task above but the largest blobs. */
typedef struct block {
    alignas(16) uint8_t b[256];
} block;

static void put_arg(const cf_task *t, void *blk, unsigned i, const void *v)
{
    memcpy((uint8_t *)blk + t->offsets[i], v, t->params[i].size);
}

/* The one frame in `out`, taken out: its payload in a heap block of exactly
 * its size (free it), after checking the length prefix. */
static uint8_t *take_payload(cf__frame_out *out, size_t *len)
{
    size_t n;
    const uint8_t *data = cf__frame_out_data(out, &n);
    ck_assert_uint_ge(n, 4);
    size_t announced =
        (size_t)data[0] << 24 | (size_t)data[1] << 16 | (size_t)data[2] << 8 | data[3];
    ck_assert_uint_eq(announced, n - 4);
    uint8_t *payload = malloc(n - 4 > 0 ? n - 4 : 1);
    ck_assert_ptr_nonnull(payload);
    memcpy(payload, data + 4, n - 4);
    cf__frame_out_consume(out, n);
    *len = n - 4;
    return payload;
}

/* The payload of one message of task t for request `id`, encoded by
 * `encode` (cf__wire_encode_call from an argument block, or
 * cf__wire_encode_result from a result slot), as take_payload() gives it
 * (free it). */
static uint8_t *encoded(int (*encode)(cf__frame_out *, uint64_t, const cf_task *, const void *),
                        const cf_task *t, uint64_t id, const void *data, size_t *len)
{
    cf__frame_out out;
    cf__frame_out_init(&out, 0);
    ck_assert_int_eq(encode(&out, id, t, data), 0);
    uint8_t *payload = take_payload(&out, len);
    cf__frame_out_free(&out);
    return payload;
}

/* How many bytes `out` holds. */
static size_t bytes_in(cf__frame_out *out)
{
    size_t n;
    cf__frame_out_data(out, &n);
    return n;
}

/* A heap copy of exactly n bytes (n may be 0). */
static uint8_t *exact_copy(const void *p, size_t n)
{
    uint8_t *c = malloc(n > 0 ? n : 1);
    ck_assert_ptr_nonnull(c);
    if (n > 0)
        memcpy(c, p, n);
    return c;
}

static void assert_same_value(cf_type t, const void *expected, const void *got)
{
    if (t.kind == CF_KIND_STR) {
        const char *a, *b;
        memcpy(&a, expected, sizeof a);
        memcpy(&b, got, sizeof b);
        if (a == NULL)
            ck_assert_ptr_null(b);
        else {
            ck_assert_ptr_nonnull(b);
            ck_assert_int_eq(strcmp(a, b), 0);
        }
    } else if (t.kind == CF_KIND_BYTES) {
        cf_bytes a, b;
        memcpy(&a, expected, sizeof a);
        memcpy(&b, got, sizeof b);
        ck_assert_uint_eq(a.len, b.len);
        if (b.len == 0)
            ck_assert_ptr_null(b.data);
        else
            ck_assert_int_eq(memcmp(a.data, b.data, a.len), 0);
    } else if (t.kind == CF_KIND_BOOL) {
        bool a, b;
        memcpy(&a, expected, 1);
        memcpy(&b, got, 1);
        ck_assert(a == b);
    } else {
        ck_assert_int_eq(memcmp(expected, got, t.size), 0); /* floats: bit for bit */
    }
}

/* Encode a CALL, decode it again, and check every argument came back. */
static void call_round_trip(const cf_task *t, const void *args)
{
    size_t len;
    uint8_t *payload = encoded(cf__wire_encode_call, t, 77, args, &len);
    cf__wire_decoder dec;
    cf__wire_decoder_init(&dec);
    cf__wire_msg msg;
    ck_assert_int_eq(cf__wire_open(&msg, payload, len), 0);
    ck_assert_uint_eq(msg.type, CF__WIRE_CALL);
    ck_assert_uint_eq(msg.id, 77);
    const cf_task *got_task = NULL;
    void *got = NULL;
    int rc = cf__wire_decode_call(&dec, &msg, &got_task, &got);
    ck_assert_msg(rc == 0, "decode_call: %s", cf_last_error());
    ck_assert_ptr_eq(got_task, t);
    if (t->nparams == 0)
        ck_assert_ptr_null(got);
    else
        ck_assert_uint_eq((uintptr_t)got % t->args_align, 0);
    for (uint32_t i = 0; i < t->nparams; i++)
        assert_same_value(t->params[i], (const uint8_t *)args + t->offsets[i],
                          (const uint8_t *)got + t->offsets[i]);
    cf__wire_decoder_free(&dec);
    free(payload);
}

/* Encode a RESULT from `slot`, decode it into a fresh slot, and compare. */
static void result_round_trip(const cf_task *t, const void *slot)
{
    size_t len;
    uint8_t *payload = encoded(cf__wire_encode_result, t, 1ull << 40, slot, &len);
    cf__wire_decoder dec;
    cf__wire_decoder_init(&dec);
    cf__wire_msg msg;
    ck_assert_int_eq(cf__wire_open(&msg, payload, len), 0);
    ck_assert_uint_eq(msg.type, CF__WIRE_RESULT);
    ck_assert_uint_eq(msg.id, 1ull << 40);
    void *got = t->result.size > 0 ? calloc(1, t->result.size) : NULL;
    int rc = cf__wire_decode_result(&dec, &msg, t, got);
    ck_assert_msg(rc == 0, "decode_result: %s", cf_last_error());
    if (t->result.kind != CF_KIND_VOID)
        assert_same_value(t->result, slot, got);
    free(got);
    cf__wire_decoder_free(&dec);
    free(payload);
}

/* One value through both a CALL and a RESULT of the identity task `name`. */
static void value_round_trip(const char *name, const void *v)
{
    const cf_task *t = task_named(name);
    block blk;
    memset(&blk, 0, sizeof blk);
    put_arg(t, blk.b, 0, v);
    call_round_trip(t, blk.b);
    result_round_trip(t, v);
}

/* ---- Hand-made payloads (msgpack-c's packer into a growing buffer) ---------------- */

typedef struct mp {
    msgpack_sbuffer sb;
    msgpack_packer pk;
} mp;

static void mp_init(mp *m)
{
    msgpack_sbuffer_init(&m->sb);
    msgpack_packer_init(&m->pk, &m->sb, msgpack_sbuffer_write);
}

static void mp_str(mp *m, const char *s)
{
    msgpack_pack_str_with_body(&m->pk, s, strlen(s));
}

/* [1, CALL, id, name, [ (nargs follow) */
static void mp_call(mp *m, const char *name, size_t nargs)
{
    mp_init(m);
    msgpack_pack_array(&m->pk, 5);
    msgpack_pack_uint8(&m->pk, 1);
    msgpack_pack_uint8(&m->pk, CF__WIRE_CALL);
    msgpack_pack_uint64(&m->pk, 9);
    mp_str(m, name);
    msgpack_pack_array(&m->pk, nargs);
}

/* [1, RESULT, id, (value follows) */
static void mp_result(mp *m)
{
    mp_init(m);
    msgpack_pack_array(&m->pk, 4);
    msgpack_pack_uint8(&m->pk, 1);
    msgpack_pack_uint8(&m->pk, CF__WIRE_RESULT);
    msgpack_pack_uint64(&m->pk, 9);
}

/* Open and decode m's bytes as a CALL (from an exact heap copy). */
static int mp_decode_call(mp *m, const cf_task **task)
{
    uint8_t *payload = exact_copy(m->sb.data, m->sb.size);
    cf__wire_decoder dec;
    cf__wire_decoder_init(&dec);
    cf__wire_msg msg;
    const cf_task *t = NULL;
    void *args;
    int rc = cf__wire_open(&msg, payload, m->sb.size);
    if (rc == 0)
        rc = cf__wire_decode_call(&dec, &msg, &t, &args);
    if (task != NULL)
        *task = t;
    cf__wire_decoder_free(&dec);
    free(payload);
    msgpack_sbuffer_destroy(&m->sb);
    return rc;
}

/* Open and decode m's bytes as a RESULT of `task` into slot. */
static int mp_decode_result(mp *m, const cf_task *task, void *slot)
{
    uint8_t *payload = exact_copy(m->sb.data, m->sb.size);
    cf__wire_decoder dec;
    cf__wire_decoder_init(&dec);
    cf__wire_msg msg;
    int rc = cf__wire_open(&msg, payload, m->sb.size);
    if (rc == 0)
        rc = cf__wire_decode_result(&dec, &msg, task, slot);
    cf__wire_decoder_free(&dec);
    free(payload);
    msgpack_sbuffer_destroy(&m->sb);
    return rc;
}

static void assert_error_mentions(const char *a, const char *b)
{
    const char *e = cf_last_error();
    ck_assert_msg(strstr(e, a) != NULL, "'%s' not in: %s", a, e);
    if (b != NULL)
        ck_assert_msg(strstr(e, b) != NULL, "'%s' not in: %s", b, e);
}

/* ---- Round trips ------------------------------------------------------------------ */

START_TEST(wire_integers_at_their_limits)
{
    int8_t i8[] = {INT8_MIN, -33, -32, -1, 0, 1, 127, INT8_MAX};
    for (size_t i = 0; i < sizeof i8 / sizeof i8[0]; i++)
        value_round_trip("w_i8", &i8[i]);
    uint8_t u8[] = {0, 1, 127, 128, UINT8_MAX};
    for (size_t i = 0; i < sizeof u8 / sizeof u8[0]; i++)
        value_round_trip("w_u8", &u8[i]);
    int16_t i16[] = {INT16_MIN, -129, -128, -1, 0, 255, 256, INT16_MAX};
    for (size_t i = 0; i < sizeof i16 / sizeof i16[0]; i++)
        value_round_trip("w_i16", &i16[i]);
    uint16_t u16[] = {0, 255, 256, UINT16_MAX};
    for (size_t i = 0; i < sizeof u16 / sizeof u16[0]; i++)
        value_round_trip("w_u16", &u16[i]);
    int32_t i32[] = {INT32_MIN, -32769, -1, 0, 65535, 65536, INT32_MAX};
    for (size_t i = 0; i < sizeof i32 / sizeof i32[0]; i++)
        value_round_trip("w_i32", &i32[i]);
    uint32_t u32[] = {0, 65536, UINT32_MAX};
    for (size_t i = 0; i < sizeof u32 / sizeof u32[0]; i++)
        value_round_trip("w_u32", &u32[i]);
    int64_t i64[] = {INT64_MIN, (int64_t)INT32_MIN - 1, -1, 0, (int64_t)UINT32_MAX + 1, INT64_MAX};
    for (size_t i = 0; i < sizeof i64 / sizeof i64[0]; i++)
        value_round_trip("w_i64", &i64[i]);
    uint64_t u64[] = {0, UINT32_MAX, (uint64_t)UINT32_MAX + 1, (uint64_t)INT64_MAX + 1, UINT64_MAX};
    for (size_t i = 0; i < sizeof u64 / sizeof u64[0]; i++)
        value_round_trip("w_u64", &u64[i]);
}
END_TEST

START_TEST(wire_floats_bit_for_bit)
{
    /* Zeros, infinities, quiet and signalling NaNs with payloads and either
     * sign, the smallest subnormal, the largest finite value. */
    static const uint32_t f32[] = {0x00000000, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000,
                                   0x7f800001, 0xffc12345, 0x7fbfffff, 0x00000001, 0x7f7fffff,
                                   0x3f800000};
    for (size_t i = 0; i < sizeof f32 / sizeof f32[0]; i++) {
        float f;
        memcpy(&f, &f32[i], sizeof f);
        value_round_trip("w_f32", &f);
    }
    static const uint64_t f64[] = {0x0000000000000000, 0x8000000000000000, 0x7ff0000000000000,
                                   0xfff0000000000000, 0x7ff8000000000000, 0x7ff0000000000001,
                                   0xfff8dead00000001, 0x7ff7ffffffffffff, 0x0000000000000001,
                                   0x7fefffffffffffff, 0x3ff0000000000000};
    for (size_t i = 0; i < sizeof f64 / sizeof f64[0]; i++) {
        double d;
        memcpy(&d, &f64[i], sizeof d);
        value_round_trip("w_f64", &d);
    }
}
END_TEST

START_TEST(wire_bool)
{
    bool t = true, f = false;
    value_round_trip("w_bool", &t);
    value_round_trip("w_bool", &f);
}
END_TEST

START_TEST(wire_strings)
{
    const char *fixed[] = {"", NULL, "a", "héllo wörld ✓ — ünïcödé", "tab\tnew\nline"};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        value_round_trip("w_str", &fixed[i]);
    /* Lengths at each MessagePack string form's edges, and 1 MiB. */
    size_t lens[] = {31, 32, 255, 256, 65535, 65536, 1u << 20};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        char *s = malloc(lens[i] + 1);
        ck_assert_ptr_nonnull(s);
        for (size_t k = 0; k < lens[i]; k++)
            s[k] = (char)('a' + k % 26);
        s[lens[i]] = '\0';
        const char *cs = s;
        value_round_trip("w_str", &cs);
        free(s);
    }
}
END_TEST

START_TEST(wire_bytes)
{
    static const uint8_t zeros[8] = {0};
    cf_bytes fixed[] = {{NULL, 0}, {"ignored", 0}, {zeros, sizeof zeros}, {"\xff\x00\x01", 3}};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        value_round_trip("w_bytes", &fixed[i]);
    size_t lens[] = {255, 256, 65535, 65536, 1u << 20};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        uint8_t *b = malloc(lens[i]);
        ck_assert_ptr_nonnull(b);
        for (size_t k = 0; k < lens[i]; k++)
            b[k] = (uint8_t)(k * 13);
        cf_bytes v = {b, lens[i]};
        value_round_trip("w_bytes", &v);
        free(b);
    }
}
END_TEST

START_TEST(wire_structs_of_every_size)
{
    point3 p;
    memset(&p, 0xee, sizeof p); /* padding included: it travels as it is */
    p.x = 1.5;
    p.y = -0.0;
    p.z = INFINITY;
    p.tag = -7;
    value_round_trip("w_point", &p);
#define BLOB_TRIP(n)                                                               \
    do {                                                                           \
        blob##n *v = malloc(sizeof *v);                                            \
        ck_assert_ptr_nonnull(v);                                                  \
        for (size_t k = 0; k < n; k++)                                             \
            v->b[k] = (uint8_t)(k * 7 + 1);                                        \
        const cf_task *t = task_named("w_blob" #n);                                \
        ck_assert_uint_eq(t->params[0].size, n);                                   \
        result_round_trip(t, v);                                                   \
        uint8_t *blk = aligned_alloc(16, (t->args_size + 15) / 16 * 16);           \
        ck_assert_ptr_nonnull(blk);                                                \
        put_arg(t, blk, 0, v);                                                     \
        call_round_trip(t, blk);                                                   \
        free(blk);                                                                 \
        free(v);                                                                   \
    } while (0)
    BLOB_TRIP(1);
    BLOB_TRIP(2);
    BLOB_TRIP(3);
    BLOB_TRIP(4);
    BLOB_TRIP(8);
    BLOB_TRIP(16);
    BLOB_TRIP(300);
    BLOB_TRIP(70000);
}
END_TEST

START_TEST(wire_no_parameters_and_void_result)
{
    const cf_task *t = task_named("w_none");
    call_round_trip(t, NULL);
    int32_t r = 42;
    result_round_trip(t, &r);
    const cf_task *v = task_named("w_void");
    ck_assert_uint_eq(v->result.kind, CF_KIND_VOID);
    result_round_trip(v, NULL);
    /* A void RESULT is nil. */
    size_t len;
    uint8_t *payload = encoded(cf__wire_encode_result, v, 5, NULL, &len);
    static const uint8_t expected[] = {0x94, 0x01, 0x03, 0x05, 0xc0};
    ck_assert_uint_eq(len, sizeof expected);
    ck_assert_mem_eq(payload, expected, sizeof expected);
    free(payload);
}
END_TEST

START_TEST(wire_eight_parameters_and_running_the_task)
{
    const cf_task *t = task_named("w_eight");
    ck_assert_uint_eq(t->nparams, 8);
    block blk;
    memset(&blk, 0, sizeof blk);
    int8_t a = -8;
    uint16_t b = 65535;
    int32_t c = -100000;
    uint64_t d = 1ull << 40;
    float e = 0.5f;
    double f = -2.25;
    const char *g = "seven";
    cf_bytes h = {"\x01\x02\x03", 3};
    const void *vals[] = {&a, &b, &c, &d, &e, &f, &g, &h};
    for (unsigned i = 0; i < 8; i++)
        put_arg(t, blk.b, i, vals[i]);
    call_round_trip(t, blk.b);

    /* Decode it once more and run the task on the decoded block. */
    size_t len;
    uint8_t *payload = encoded(cf__wire_encode_call, t, 3, blk.b, &len);
    cf__wire_decoder dec;
    cf__wire_decoder_init(&dec);
    cf__wire_msg msg;
    const cf_task *got;
    void *args;
    ck_assert_int_eq(cf__wire_open(&msg, payload, len), 0);
    ck_assert_int_eq(cf__wire_decode_call(&dec, &msg, &got, &args), 0);
    double r = 0;
    got->call(args, &r);
    ck_assert(r == w_eight(a, b, c, d, e, f, g, h));
    cf__wire_decoder_free(&dec);
    free(payload);
}
END_TEST

START_TEST(wire_call_byte_layout)
{
    /* add2(3, -4), request 300: the layout doc/wire-format.md gives. */
    const cf_task *t = task_named("add2");
    int args[2] = {3, -4};
    ck_assert_uint_eq(t->offsets[1], sizeof(int));
    cf__frame_out out;
    cf__frame_out_init(&out, 0);
    ck_assert_int_eq(cf__wire_encode_call(&out, 300, t, args), 0);
    size_t n;
    const uint8_t *data = cf__frame_out_data(&out, &n);
    static const uint8_t expected[] = {0x00, 0x00, 0x00, 0x0e, /* length: 14 */
                                       0x95, 0x01, 0x02,       /* [1, CALL, */
                                       0xcd, 0x01, 0x2c,       /* 300, */
                                       0xa4, 'a', 'd', 'd', '2', /* "add2", */
                                       0x92, 0x03, 0xfc};      /* [3, -4]] */
    ck_assert_uint_eq(n, sizeof expected);
    ck_assert_mem_eq(data, expected, sizeof expected);
    cf__frame_out_free(&out);
}
END_TEST

START_TEST(wire_failed_round_trip)
{
    cf__frame_out out;
    cf__frame_out_init(&out, 0);
    ck_assert_int_eq(cf__wire_encode_failed(&out, 12, CF_ETASK, -42, "boom ✓"), 0);
    ck_assert_int_eq(cf__wire_encode_failed(&out, UINT64_MAX, -ENOMEM, 0, NULL), 0);
    cf__frame_in in;
    cf__frame_in_init(&in, 0);
    size_t n;
    const void *data = cf__frame_out_data(&out, &n);
    ck_assert_int_eq(cf__frame_in_push(&in, data, n), 0);
    cf__wire_decoder dec;
    cf__wire_decoder_init(&dec);
    const uint8_t *p;
    size_t len;
    cf__wire_msg msg;
    cf__wire_failure fail;
    ck_assert_int_eq(cf__frame_in_next(&in, &p, &len), 0);
    ck_assert_int_eq(cf__wire_open(&msg, p, len), 0);
    ck_assert_uint_eq(msg.type, CF__WIRE_FAILED);
    ck_assert_uint_eq(msg.id, 12);
    ck_assert_int_eq(cf__wire_decode_failed(&dec, &msg, &fail), 0);
    ck_assert_int_eq(fail.code, CF_ETASK);
    ck_assert_int_eq(fail.detail, -42);
    ck_assert_str_eq(fail.message, "boom ✓");
    ck_assert_int_eq(cf__frame_in_next(&in, &p, &len), 0);
    ck_assert_int_eq(cf__wire_open(&msg, p, len), 0);
    ck_assert_uint_eq(msg.id, UINT64_MAX);
    ck_assert_int_eq(cf__wire_decode_failed(&dec, &msg, &fail), 0);
    ck_assert_int_eq(fail.code, -ENOMEM);
    ck_assert_int_eq(fail.detail, 0);
    ck_assert_ptr_null(fail.message);
    /* The code must be negative. */
    cf__frame_out_consume(&out, n);
    ck_assert_int_eq(cf__wire_encode_failed(&out, 1, 0, 0, "x"), CF_EINVAL);
    ck_assert_int_eq(cf__wire_encode_failed(&out, 1, 5, 0, "x"), CF_EINVAL);
    ck_assert_uint_eq(bytes_in(&out), 0);
    cf__wire_decoder_free(&dec);
    cf__frame_in_free(&in);
    cf__frame_out_free(&out);
}
END_TEST

START_TEST(wire_hello_round_trip)
{
    cf__frame_out out;
    cf__frame_out_init(&out, 0);
    cf__wire_hello ready = {.pid = (int32_t)getpid()};
    cf__wire_hello broken = {.pid = 1, .code = CF_ETASK, .detail = 7, .message = "no config"};
    cf__wire_hello silent = {.pid = INT32_MAX, .code = CF_EBROKEN};
    const cf__wire_hello *all[] = {&ready, &broken, &silent};
    cf__wire_decoder dec;
    cf__wire_decoder_init(&dec);
    for (size_t i = 0; i < 3; i++) {
        ck_assert_int_eq(cf__wire_encode_hello(&out, all[i]), 0);
        size_t len;
        uint8_t *payload = take_payload(&out, &len);
        cf__wire_msg msg;
        ck_assert_int_eq(cf__wire_open(&msg, payload, len), 0);
        ck_assert_uint_eq(msg.type, CF__WIRE_HELLO);
        cf__wire_hello got;
        ck_assert_int_eq(cf__wire_decode_hello(&dec, &msg, &got), 0);
        ck_assert_int_eq(got.pid, all[i]->pid);
        ck_assert_int_eq(got.code, all[i]->code);
        ck_assert_int_eq(got.detail, all[i]->detail);
        if (all[i]->message == NULL)
            ck_assert_ptr_null(got.message);
        else
            ck_assert_str_eq(got.message, all[i]->message);
        free(payload);
    }
    /* What a HELLO cannot say. */
    cf__wire_hello bad[] = {{.pid = 0}, {.pid = -5}, {.pid = 1, .code = 3},
                            {.pid = 1, .message = "ready, with a message"},
                            {.pid = 1, .detail = 2}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_int_eq(cf__wire_encode_hello(&out, &bad[i]), CF_EINVAL);
    ck_assert_int_eq(cf__wire_encode_hello(&out, NULL), CF_EINVAL);
    ck_assert_uint_eq(bytes_in(&out), 0);
    cf__wire_decoder_free(&dec);
    cf__frame_out_free(&out);
}
END_TEST

START_TEST(wire_shutdown)
{
    cf__frame_out out;
    cf__frame_out_init(&out, 0);
    ck_assert_int_eq(cf__wire_encode_shutdown(&out), 0);
    size_t len;
    uint8_t *payload = take_payload(&out, &len);
    static const uint8_t expected[] = {0x92, 0x01, 0x05};
    ck_assert_uint_eq(len, sizeof expected);
    ck_assert_mem_eq(payload, expected, sizeof expected);
    cf__wire_msg msg;
    ck_assert_int_eq(cf__wire_open(&msg, payload, len), 0);
    ck_assert_uint_eq(msg.type, CF__WIRE_SHUTDOWN);
    ck_assert_str_eq(cf__wire_type_name(msg.type), "SHUTDOWN");
    /* Not a CALL. */
    cf__wire_decoder dec;
    cf__wire_decoder_init(&dec);
    const cf_task *t;
    void *args;
    ck_assert_int_eq(cf__wire_decode_call(&dec, &msg, &t, &args), CF_EDECODE);
    assert_error_mentions("expected a CALL", NULL);
    cf__wire_decoder_free(&dec);
    free(payload);
    cf__frame_out_free(&out);
}
END_TEST

START_TEST(wire_stream_of_calls)
{
    /* Many CALLs batched in one buffer, reassembled from odd chunks. */
    const cf_task *t = task_named("w_eight");
    cf__frame_out out;
    cf__frame_out_init(&out, 0);
    enum { CALLS = 2000 };
    char text[32];
    for (int i = 0; i < CALLS; i++) {
        block blk;
        memset(&blk, 0, sizeof blk);
        int8_t a = (int8_t)i;
        uint16_t b = (uint16_t)(i * 3);
        int32_t c = -i;
        uint64_t d = (uint64_t)i << 33;
        float e = (float)i / 4;
        double f = i * 1.5;
        snprintf(text, sizeof text, "call %d", i);
        const char *g = i % 7 == 0 ? NULL : text;
        cf_bytes h = {text, (size_t)(i % 5)};
        const void *vals[] = {&a, &b, &c, &d, &e, &f, &g, &h};
        for (unsigned k = 0; k < 8; k++)
            put_arg(t, blk.b, k, vals[k]);
        ck_assert_int_eq(cf__wire_encode_call(&out, (uint64_t)i, t, blk.b), 0);
    }
    size_t n;
    const uint8_t *stream = cf__frame_out_data(&out, &n);
    cf__frame_in in;
    cf__frame_in_init(&in, 0);
    cf__wire_decoder dec;
    cf__wire_decoder_init(&dec);
    int seen = 0;
    size_t at = 0, chunk = 1;
    while (at < n) {
        size_t take = chunk < n - at ? chunk : n - at;
        ck_assert_int_eq(cf__frame_in_push(&in, stream + at, take), 0);
        at += take;
        chunk = chunk * 5 % 997 + 1;
        const uint8_t *p;
        size_t len;
        while (cf__frame_in_next(&in, &p, &len) == 0) {
            cf__wire_msg msg;
            const cf_task *got;
            void *args;
            ck_assert_int_eq(cf__wire_open(&msg, p, len), 0);
            ck_assert_uint_eq(msg.id, (uint64_t)seen);
            ck_assert_int_eq(cf__wire_decode_call(&dec, &msg, &got, &args), 0);
            int32_t c;
            memcpy(&c, (uint8_t *)args + t->offsets[2], sizeof c);
            ck_assert_int_eq(c, -seen);
            const char *g;
            memcpy(&g, (uint8_t *)args + t->offsets[6], sizeof g);
            if (seen % 7 == 0) {
                ck_assert_ptr_null(g);
            } else {
                snprintf(text, sizeof text, "call %d", seen);
                ck_assert_str_eq(g, text);
            }
            seen++;
        }
    }
    ck_assert_int_eq(seen, CALLS);
    cf__wire_decoder_free(&dec);
    cf__frame_in_free(&in);
    cf__frame_out_free(&out);
}
END_TEST

/* ---- What the encoder refuses ------------------------------------------------------ */

START_TEST(wire_encode_refuses_raw_pointers)
{
    cf__frame_out out;
    cf__frame_out_init(&out, 0);
    const cf_task *t = task_named("w_ptr_arg");
    int x = 5;
    int *p = &x;
    ck_assert_int_eq(cf__wire_encode_call(&out, 1, t, &p), CF_EUNSUPPORTED);
    assert_error_mentions("argument 1 of task 'w_ptr_arg'", "raw pointer");
    const cf_task *r = task_named("w_ptr");
    ck_assert_uint_eq(r->result.kind, CF_KIND_PTR);
    void *slot = &x;
    ck_assert_int_eq(cf__wire_encode_result(&out, 1, r, &slot), CF_EUNSUPPORTED);
    assert_error_mentions("result of task 'w_ptr'", "raw pointer");
    ck_assert_uint_eq(bytes_in(&out), 0);
    cf__frame_out_free(&out);
}
END_TEST

START_TEST(wire_encode_refuses_bad_input)
{
    cf__frame_out out;
    cf__frame_out_init(&out, 0);
    const cf_task *t = task_named("w_bytes");
    cf_bytes b = {NULL, 5};
    ck_assert_int_eq(cf__wire_encode_call(&out, 1, t, &b), CF_EINVAL);
    assert_error_mentions("argument 1 of task 'w_bytes'", "NULL");
    ck_assert_int_eq(cf__wire_encode_result(&out, 1, t, &b), CF_EINVAL);
    ck_assert_int_eq(cf__wire_encode_call(&out, 1, t, NULL), CF_EINVAL);
    ck_assert_int_eq(cf__wire_encode_result(&out, 1, t, NULL), CF_EINVAL);
    ck_assert_int_eq(cf__wire_encode_call(&out, 1, NULL, &b), CF_EINVAL);
    ck_assert_int_eq(cf__wire_encode_result(&out, 1, NULL, &b), CF_EINVAL);
    /* A descriptor CF_TASK would never make: a size that is not the kind's. */
    cf_task odd = *task_named("w_i32");
    odd.params[0].size = 8;
    int64_t v = 1;
    ck_assert_int_eq(cf__wire_encode_call(&out, 1, &odd, &v), CF_EINVAL);
    ck_assert_uint_eq(bytes_in(&out), 0);
    cf__frame_out_free(&out);
}
END_TEST

START_TEST(wire_encode_size_limit)
{
    cf__frame_out out;
    cf__frame_out_init(&out, 1024);
    const cf_task *t = task_named("w_str");
    ck_assert_int_eq(cf__wire_encode_shutdown(&out), 0);
    char *s = malloc(2001);
    ck_assert_ptr_nonnull(s);
    memset(s, 'x', 2000);
    s[2000] = '\0';
    const char *cs = s;
    ck_assert_int_eq(cf__wire_encode_call(&out, 1, t, &cs), CF_ETOOBIG);
    assert_error_mentions("2000 bytes", "1024-byte frame limit");
    ck_assert_int_eq(cf__wire_encode_result(&out, 1, t, &cs), CF_ETOOBIG);
    /* A string that fits but whose message does not. */
    s[1020] = '\0';
    ck_assert_int_eq(cf__wire_encode_call(&out, 1, t, &cs), CF_ETOOBIG);
    assert_error_mentions("CALL of task 'w_str'", "1024-byte frame limit");
    /* Exactly at the limit: RESULT header 4 bytes + str16 header 3 bytes. */
    s[1024 - 7] = '\0';
    memset(s, 'x', 1024 - 7);
    ck_assert_int_eq(cf__wire_encode_result(&out, 1, t, &cs), 0);
    size_t n;
    const uint8_t *data = cf__frame_out_data(&out, &n);
    ck_assert_uint_eq(n, 4 + 3 + 4 + 1024);
    ck_assert_uint_eq(data[7 + 2], 0x04); /* the second frame announces 1024 */
    ck_assert_uint_eq(data[7 + 3], 0x00);
    s[1024 - 7] = 'x'; /* one byte more */
    s[1024 - 6] = '\0';
    ck_assert_int_eq(cf__wire_encode_result(&out, 1, t, &cs), CF_ETOOBIG);
    /* Bytes and structs too. */
    const cf_task *tb = task_named("w_bytes");
    cf_bytes b = {s, 2000};
    ck_assert_int_eq(cf__wire_encode_call(&out, 1, tb, &b), CF_ETOOBIG);
    ck_assert_uint_eq(bytes_in(&out), 4 + 3 + 4 + 1024); /* the refused ones left nothing */
    free(s);
    cf__frame_out_free(&out);
}
END_TEST

/* ---- What the decoder refuses ------------------------------------------------------ */

/* Every prefix of a valid payload is refused with CF_EDECODE. */
static void assert_every_prefix_refused(const uint8_t *payload, size_t len, const cf_task *task)
{
    cf__wire_decoder dec;
    cf__wire_decoder_init(&dec);
    for (size_t cut = 0; cut < len; cut++) {
        uint8_t *p = exact_copy(payload, cut);
        cf__wire_msg msg;
        int rc = cf__wire_open(&msg, p, cut);
        if (rc == 0) {
            const cf_task *t;
            void *args;
            uint8_t slot[sizeof(point3) + 64];
            cf__wire_failure fail;
            cf__wire_hello hello;
            switch (msg.type) {
            case CF__WIRE_CALL: rc = cf__wire_decode_call(&dec, &msg, &t, &args); break;
            case CF__WIRE_RESULT: rc = cf__wire_decode_result(&dec, &msg, task, slot); break;
            case CF__WIRE_FAILED: rc = cf__wire_decode_failed(&dec, &msg, &fail); break;
            case CF__WIRE_HELLO: rc = cf__wire_decode_hello(&dec, &msg, &hello); break;
            default: ck_abort_msg("a prefix of %zu bytes opened as a whole SHUTDOWN", cut);
            }
        }
        ck_assert_msg(rc == CF_EDECODE, "prefix of %zu of %zu bytes: rc %d (%s)", cut, len, rc,
                      cf_last_error());
        free(p);
    }
    cf__wire_decoder_free(&dec);
}

START_TEST(wire_truncated_at_every_byte)
{
    cf__frame_out out;
    cf__frame_out_init(&out, 0);
    const cf_task *t8 = task_named("w_eight");
    block blk;
    memset(&blk, 0, sizeof blk);
    int8_t a = -100;
    uint16_t b = 40000;
    int32_t c = 1 << 30;
    uint64_t d = UINT64_MAX;
    float e = 1.0f;
    double f = 2.0;
    const char *g = "a string of some length, past fixstr's 31 bytes";
    cf_bytes h = {"bytes", 5};
    const void *vals[] = {&a, &b, &c, &d, &e, &f, &g, &h};
    for (unsigned i = 0; i < 8; i++)
        put_arg(t8, blk.b, i, vals[i]);
    size_t len;
    uint8_t *payload;

    ck_assert_int_eq(cf__wire_encode_call(&out, 1ull << 50, t8, blk.b), 0);
    payload = take_payload(&out, &len);
    assert_every_prefix_refused(payload, len, NULL);
    free(payload);

    const cf_task *tp = task_named("w_point");
    point3 p;
    memset(&p, 0, sizeof p);
    p.x = 1;
    p.y = 2;
    p.z = 3;
    p.tag = 4;
    ck_assert_int_eq(cf__wire_encode_call(&out, 2, tp, &p), 0);
    payload = take_payload(&out, &len);
    assert_every_prefix_refused(payload, len, NULL);
    free(payload);
    ck_assert_int_eq(cf__wire_encode_result(&out, 2, tp, &p), 0);
    payload = take_payload(&out, &len);
    assert_every_prefix_refused(payload, len, tp);
    free(payload);

    const cf_task *ts = task_named("w_str");
    ck_assert_int_eq(cf__wire_encode_result(&out, 3, ts, &g), 0);
    payload = take_payload(&out, &len);
    assert_every_prefix_refused(payload, len, ts);
    free(payload);

    ck_assert_int_eq(cf__wire_encode_failed(&out, 4, CF_ETASK, 1, "message"), 0);
    payload = take_payload(&out, &len);
    assert_every_prefix_refused(payload, len, NULL);
    free(payload);

    cf__wire_hello hello = {.pid = 1234, .code = CF_ETASK, .detail = 2, .message = "init"};
    ck_assert_int_eq(cf__wire_encode_hello(&out, &hello), 0);
    payload = take_payload(&out, &len);
    assert_every_prefix_refused(payload, len, NULL);
    free(payload);

    ck_assert_int_eq(cf__wire_encode_shutdown(&out), 0);
    payload = take_payload(&out, &len);
    assert_every_prefix_refused(payload, len, NULL);
    free(payload);
    cf__frame_out_free(&out);
}
END_TEST

START_TEST(wire_wrong_version)
{
    mp m;
    /* Version 2, 0, and a version that is not an integer. */
    const int versions[] = {2, 0, 127};
    for (size_t i = 0; i < 3; i++) {
        mp_init(&m);
        msgpack_pack_array(&m.pk, 2);
        msgpack_pack_int(&m.pk, versions[i]);
        msgpack_pack_uint8(&m.pk, CF__WIRE_SHUTDOWN);
        ck_assert_int_eq(mp_decode_call(&m, NULL), CF_EDECODE);
        assert_error_mentions("unsupported wire version", NULL);
    }
    mp_init(&m);
    msgpack_pack_array(&m.pk, 2);
    msgpack_pack_int(&m.pk, -1);
    msgpack_pack_uint8(&m.pk, CF__WIRE_SHUTDOWN);
    ck_assert_int_eq(mp_decode_call(&m, NULL), CF_EDECODE);
    assert_error_mentions("unsupported wire version -1", NULL);
    mp_init(&m);
    msgpack_pack_array(&m.pk, 2);
    mp_str(&m, "1");
    msgpack_pack_uint8(&m.pk, CF__WIRE_SHUTDOWN);
    ck_assert_int_eq(mp_decode_call(&m, NULL), CF_EDECODE);
    assert_error_mentions("version", "got a string");
}
END_TEST

START_TEST(wire_wrong_message_type)
{
    mp m;
    const int types[] = {0, 99, 255, -3};
    for (size_t i = 0; i < 4; i++) {
        mp_init(&m);
        msgpack_pack_array(&m.pk, 2);
        msgpack_pack_uint8(&m.pk, 1);
        msgpack_pack_int(&m.pk, types[i]);
        ck_assert_int_eq(mp_decode_call(&m, NULL), CF_EDECODE);
        assert_error_mentions("unknown message type", NULL);
    }
    /* A well-formed message of another type than the one asked for. */
    const cf_task *t = task_named("add2");
    int args[2] = {1, 2};
    size_t len;
    uint8_t *payload = encoded(cf__wire_encode_call, t, 1, args, &len);
    cf__wire_decoder dec;
    cf__wire_decoder_init(&dec);
    cf__wire_msg msg;
    ck_assert_int_eq(cf__wire_open(&msg, payload, len), 0);
    int r;
    ck_assert_int_eq(cf__wire_decode_result(&dec, &msg, t, &r), CF_EDECODE);
    assert_error_mentions("expected a RESULT", NULL);
    cf__wire_failure fail;
    ck_assert_int_eq(cf__wire_decode_failed(&dec, &msg, &fail), CF_EDECODE);
    assert_error_mentions("expected a FAILED", NULL);
    cf__wire_hello hello;
    ck_assert_int_eq(cf__wire_decode_hello(&dec, &msg, &hello), CF_EDECODE);
    assert_error_mentions("expected a HELLO", NULL);
    cf__wire_decoder_free(&dec);
    free(payload);
}
END_TEST

START_TEST(wire_wrong_field_count)
{
    mp m;
    const size_t counts[] = {0, 1, 4, 6};
    for (size_t i = 0; i < 4; i++) {
        mp_init(&m);
        msgpack_pack_array(&m.pk, counts[i]);
        msgpack_pack_uint8(&m.pk, 1);
        msgpack_pack_uint8(&m.pk, CF__WIRE_CALL);
        msgpack_pack_uint8(&m.pk, 1);
        mp_str(&m, "add2");
        msgpack_pack_array(&m.pk, 2);
        msgpack_pack_int(&m.pk, 1);
        msgpack_pack_int(&m.pk, 2);
        ck_assert_int_eq(mp_decode_call(&m, NULL), CF_EDECODE);
    }
    /* A SHUTDOWN with a field too many. */
    mp_init(&m);
    msgpack_pack_array(&m.pk, 3);
    msgpack_pack_uint8(&m.pk, 1);
    msgpack_pack_uint8(&m.pk, CF__WIRE_SHUTDOWN);
    msgpack_pack_nil(&m.pk);
    ck_assert_int_eq(mp_decode_call(&m, NULL), CF_EDECODE);
    assert_error_mentions("3 fields, a SHUTDOWN has 2", NULL);
}
END_TEST

START_TEST(wire_wrong_argument_count)
{
    const size_t counts[] = {0, 1, 3, 8};
    for (size_t i = 0; i < 4; i++) {
        mp m;
        mp_call(&m, "add2", counts[i]);
        for (size_t k = 0; k < counts[i]; k++)
            msgpack_pack_int(&m.pk, 1);
        ck_assert_int_eq(mp_decode_call(&m, NULL), CF_EDECODE);
        assert_error_mentions("task 'add2' takes 2 arguments", NULL);
    }
    mp m;
    mp_call(&m, "add2", 2);
    msgpack_pack_int(&m.pk, 1);
    msgpack_pack_int(&m.pk, 2);
    const cf_task *t;
    ck_assert_int_eq(mp_decode_call(&m, &t), 0);
    ck_assert_ptr_eq(t, task_named("add2"));
    /* The arguments are not an array. */
    mp_init(&m);
    msgpack_pack_array(&m.pk, 5);
    msgpack_pack_uint8(&m.pk, 1);
    msgpack_pack_uint8(&m.pk, CF__WIRE_CALL);
    msgpack_pack_uint8(&m.pk, 1);
    mp_str(&m, "add2");
    msgpack_pack_map(&m.pk, 0);
    ck_assert_int_eq(mp_decode_call(&m, NULL), CF_EDECODE);
    assert_error_mentions("arguments", "got a map");
}
END_TEST

/* MessagePack values a confused peer might send, and which declared kinds
 * accept each. */
enum { V_NIL, V_TRUE, V_INT, V_NEGINT, V_F32, V_F64, V_STR, V_BIN, V_EXT_POINT, V_EXT_OTHER_TYPE,
       V_EXT_SHORT, V_EXT_LONG, V_ARRAY, V_MAP, V_COUNT };

static void pack_sample(msgpack_packer *pk, int v)
{
    static const uint8_t ext[sizeof(point3) + 8] = {0};
    switch (v) {
    case V_NIL: msgpack_pack_nil(pk); break;
    case V_TRUE: msgpack_pack_true(pk); break;
    case V_INT: msgpack_pack_int(pk, 1); break;
    case V_NEGINT: msgpack_pack_int(pk, -1); break;
    case V_F32: msgpack_pack_float(pk, 1.0f); break;
    case V_F64: msgpack_pack_double(pk, 1.0); break;
    case V_STR: msgpack_pack_str_with_body(pk, "x", 1); break;
    case V_BIN: msgpack_pack_bin_with_body(pk, "x", 1); break;
    case V_EXT_POINT: msgpack_pack_ext_with_body(pk, ext, sizeof(point3), 1); break;
    case V_EXT_OTHER_TYPE: msgpack_pack_ext_with_body(pk, ext, sizeof(point3), 7); break;
    case V_EXT_SHORT: msgpack_pack_ext_with_body(pk, ext, sizeof(point3) - 8, 1); break;
    case V_EXT_LONG: msgpack_pack_ext_with_body(pk, ext, sizeof(point3) + 8, 1); break;
    case V_ARRAY: msgpack_pack_array(pk, 0); break;
    default: msgpack_pack_map(pk, 0); break;
    }
}

static bool accepts(uint32_t kind, int v)
{
    switch (kind) {
    case CF_KIND_BOOL: return v == V_TRUE;
    case CF_KIND_I8: case CF_KIND_I16: case CF_KIND_I32: case CF_KIND_I64:
        return v == V_INT || v == V_NEGINT;
    case CF_KIND_U8: case CF_KIND_U16: case CF_KIND_U32: case CF_KIND_U64: return v == V_INT;
    case CF_KIND_F32: return v == V_F32;
    case CF_KIND_F64: return v == V_F64;
    case CF_KIND_STR: return v == V_STR || v == V_NIL;
    case CF_KIND_BYTES: return v == V_BIN;
    case CF_KIND_STRUCT: return v == V_EXT_POINT;
    default: return false;
    }
}

START_TEST(wire_wrong_type_for_each_kind)
{
    static const char *const tasks[] = {"w_bool", "w_i8",  "w_u8",  "w_i16", "w_u16",
                                        "w_i32",  "w_u32", "w_i64", "w_u64", "w_f32",
                                        "w_f64",  "w_str", "w_bytes", "w_point"};
    for (size_t i = 0; i < sizeof tasks / sizeof tasks[0]; i++) {
        const cf_task *t = task_named(tasks[i]);
        char who[64];
        snprintf(who, sizeof who, "argument 1 of task '%s'", tasks[i]);
        char res[64];
        snprintf(res, sizeof res, "the result of task '%s'", tasks[i]);
        for (int v = 0; v < V_COUNT; v++) {
            mp m;
            mp_call(&m, tasks[i], 1);
            pack_sample(&m.pk, v);
            int rc = mp_decode_call(&m, NULL);
            if (accepts(t->params[0].kind, v)) {
                ck_assert_msg(rc == 0, "%s refused sample %d: %s", tasks[i], v, cf_last_error());
            } else {
                ck_assert_msg(rc == CF_EDECODE, "%s accepted sample %d", tasks[i], v);
                assert_error_mentions(who, NULL);
            }
            /* The same value as the task's result. */
            mp_result(&m);
            pack_sample(&m.pk, v);
            uint8_t slot[sizeof(point3)];
            rc = mp_decode_result(&m, t, slot);
            if (accepts(t->result.kind, v)) {
                ck_assert_msg(rc == 0, "%s result refused sample %d: %s", tasks[i], v,
                              cf_last_error());
            } else {
                ck_assert_msg(rc == CF_EDECODE, "%s result accepted sample %d", tasks[i], v);
                assert_error_mentions(res, NULL);
            }
        }
    }
    /* The message names both the declared kind and what came. */
    mp m;
    mp_call(&m, "w_f64", 1);
    mp_str(&m, "3.5");
    ck_assert_int_eq(mp_decode_call(&m, NULL), CF_EDECODE);
    assert_error_mentions("expected double", "got a string");
    mp_call(&m, "w_point", 1);
    pack_sample(&m.pk, V_EXT_SHORT);
    ck_assert_int_eq(mp_decode_call(&m, NULL), CF_EDECODE);
    assert_error_mentions("expected a 32-byte struct, got 24 bytes", NULL);
    mp_call(&m, "w_point", 1);
    pack_sample(&m.pk, V_EXT_LONG);
    ck_assert_int_eq(mp_decode_call(&m, NULL), CF_EDECODE);
    assert_error_mentions("expected a 32-byte struct, got 40 bytes", NULL);
    mp_call(&m, "w_point", 1);
    pack_sample(&m.pk, V_EXT_OTHER_TYPE);
    ck_assert_int_eq(mp_decode_call(&m, NULL), CF_EDECODE);
    assert_error_mentions("got extension type 7", NULL);
    /* A void result is nil and nothing else. */
    const cf_task *tv = task_named("w_void");
    mp_result(&m);
    msgpack_pack_int(&m.pk, 0);
    ck_assert_int_eq(mp_decode_result(&m, tv, NULL), CF_EDECODE);
    assert_error_mentions("expected nil", NULL);
}
END_TEST

START_TEST(wire_integers_out_of_range)
{
    struct {
        const char *task;
        int64_t lo_bad; /* used when has_lo_bad */
        bool has_lo_bad;
        uint64_t hi_bad;
        int64_t lo_ok;
        uint64_t hi_ok;
    } cases[] = {
        {"w_i8", -129, true, 128, INT8_MIN, INT8_MAX},
        {"w_u8", -1, true, 256, 0, UINT8_MAX},
        {"w_i16", -32769, true, 32768, INT16_MIN, INT16_MAX},
        {"w_u16", -1, true, 65536, 0, UINT16_MAX},
        {"w_i32", (int64_t)INT32_MIN - 1, true, (uint64_t)INT32_MAX + 1, INT32_MIN, INT32_MAX},
        {"w_u32", -1, true, (uint64_t)UINT32_MAX + 1, 0, UINT32_MAX},
        {"w_i64", 0, false, (uint64_t)INT64_MAX + 1, INT64_MIN, INT64_MAX},
        {"w_u64", -1, true, 0, 0, UINT64_MAX},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mp m;
        if (cases[i].has_lo_bad) {
            mp_call(&m, cases[i].task, 1);
            msgpack_pack_int64(&m.pk, cases[i].lo_bad);
            ck_assert_int_eq(mp_decode_call(&m, NULL), CF_EDECODE);
            assert_error_mentions("out of range", NULL);
        }
        if (cases[i].hi_bad != 0) {
            mp_call(&m, cases[i].task, 1);
            msgpack_pack_uint64(&m.pk, cases[i].hi_bad);
            ck_assert_int_eq(mp_decode_call(&m, NULL), CF_EDECODE);
            assert_error_mentions("out of range", NULL);
        }
        /* The limits themselves pass, in every width MessagePack allows. */
        mp_call(&m, cases[i].task, 1);
        msgpack_pack_fix_int64(&m.pk, cases[i].lo_ok);
        ck_assert_msg(mp_decode_call(&m, NULL) == 0, "%s: %s", cases[i].task, cf_last_error());
        mp_call(&m, cases[i].task, 1);
        msgpack_pack_fix_uint64(&m.pk, cases[i].hi_ok);
        ck_assert_msg(mp_decode_call(&m, NULL) == 0, "%s: %s", cases[i].task, cf_last_error());
    }
    /* The message says which value and which kind. */
    mp m;
    mp_call(&m, "w_i8", 1);
    msgpack_pack_int(&m.pk, 300);
    ck_assert_int_eq(mp_decode_call(&m, NULL), CF_EDECODE);
    assert_error_mentions("argument 1 of task 'w_i8'", "300 is out of range for int8");
    /* Every MessagePack width decodes to the same value. */
    const cf_task *t = task_named("w_i64");
    for (int form = 0; form < 8; form++) {
        mp_result(&m);
        switch (form) {
        case 0: msgpack_pack_fix_uint8(&m.pk, 100); break;
        case 1: msgpack_pack_fix_uint16(&m.pk, 100); break;
        case 2: msgpack_pack_fix_uint32(&m.pk, 100); break;
        case 3: msgpack_pack_fix_uint64(&m.pk, 100); break;
        case 4: msgpack_pack_fix_int8(&m.pk, 100); break;
        case 5: msgpack_pack_fix_int16(&m.pk, 100); break;
        case 6: msgpack_pack_fix_int32(&m.pk, 100); break;
        default: msgpack_pack_fix_int64(&m.pk, 100); break;
        }
        int64_t r = 0;
        ck_assert_int_eq(mp_decode_result(&m, t, &r), 0);
        ck_assert_int_eq(r, 100);
        mp_result(&m);
        switch (form) {
        case 0: case 4: msgpack_pack_fix_int8(&m.pk, -100); break;
        case 1: case 5: msgpack_pack_fix_int16(&m.pk, -100); break;
        case 2: case 6: msgpack_pack_fix_int32(&m.pk, -100); break;
        default: msgpack_pack_fix_int64(&m.pk, -100); break;
        }
        ck_assert_int_eq(mp_decode_result(&m, t, &r), 0);
        ck_assert_int_eq(r, -100);
    }
}
END_TEST

START_TEST(wire_unknown_task)
{
    mp m;
    mp_call(&m, "no_such_task_anywhere", 0);
    ck_assert_int_eq(mp_decode_call(&m, NULL), CF_ENOTFOUND);
    assert_error_mentions("no_such_task_anywhere", NULL);
    /* A name that is no string. */
    mp_init(&m);
    msgpack_pack_array(&m.pk, 5);
    msgpack_pack_uint8(&m.pk, 1);
    msgpack_pack_uint8(&m.pk, CF__WIRE_CALL);
    msgpack_pack_uint8(&m.pk, 1);
    msgpack_pack_bin_with_body(&m.pk, "add2", 4);
    msgpack_pack_array(&m.pk, 0);
    ck_assert_int_eq(mp_decode_call(&m, NULL), CF_EDECODE);
    assert_error_mentions("task name", "got a binary");
    /* A name with a NUL in it does not match its prefix. */
    mp_init(&m);
    msgpack_pack_array(&m.pk, 5);
    msgpack_pack_uint8(&m.pk, 1);
    msgpack_pack_uint8(&m.pk, CF__WIRE_CALL);
    msgpack_pack_uint8(&m.pk, 1);
    msgpack_pack_str_with_body(&m.pk, "add2\0evil", 9);
    msgpack_pack_array(&m.pk, 2);
    msgpack_pack_int(&m.pk, 1);
    msgpack_pack_int(&m.pk, 2);
    ck_assert_int_eq(mp_decode_call(&m, NULL), CF_EDECODE);
    assert_error_mentions("NUL", NULL);
}
END_TEST

START_TEST(wire_raw_pointer_task_refused)
{
    mp m;
    mp_call(&m, "w_ptr_arg", 1);
    msgpack_pack_uint64(&m.pk, 0x7fff12345678);
    ck_assert_int_eq(mp_decode_call(&m, NULL), CF_EDECODE);
    assert_error_mentions("raw pointer", NULL);
    const cf_task *t = task_named("w_ptr");
    mp_result(&m);
    msgpack_pack_uint64(&m.pk, 0x7fff12345678);
    void *slot = NULL;
    ck_assert_int_eq(mp_decode_result(&m, t, &slot), CF_EDECODE);
    assert_error_mentions("raw pointer", NULL);
    ck_assert_ptr_null(slot);
}
END_TEST

START_TEST(wire_trailing_bytes)
{
    const cf_task *t = task_named("add2");
    int args[2] = {1, 2};
    size_t len;
    uint8_t *payload = encoded(cf__wire_encode_call, t, 1, args, &len);
    uint8_t *longer = malloc(len + 1);
    ck_assert_ptr_nonnull(longer);
    memcpy(longer, payload, len);
    longer[len] = 0xc0;
    cf__wire_decoder dec;
    cf__wire_decoder_init(&dec);
    cf__wire_msg msg;
    const cf_task *got;
    void *a;
    ck_assert_int_eq(cf__wire_open(&msg, longer, len + 1), 0);
    ck_assert_int_eq(cf__wire_decode_call(&dec, &msg, &got, &a), CF_EDECODE);
    assert_error_mentions("1 byte after the last field", NULL);
    /* Two messages in one payload are trailing bytes too. */
    uint8_t *twice = malloc(2 * len);
    ck_assert_ptr_nonnull(twice);
    memcpy(twice, payload, len);
    memcpy(twice + len, payload, len);
    ck_assert_int_eq(cf__wire_open(&msg, twice, 2 * len), 0);
    ck_assert_int_eq(cf__wire_decode_call(&dec, &msg, &got, &a), CF_EDECODE);
    /* And after a SHUTDOWN, caught by open itself. */
    static const uint8_t shutdown_plus[] = {0x92, 0x01, 0x05, 0x00};
    uint8_t *sp = exact_copy(shutdown_plus, sizeof shutdown_plus);
    ck_assert_int_eq(cf__wire_open(&msg, sp, sizeof shutdown_plus), CF_EDECODE);
    free(sp);
    free(twice);
    free(longer);
    free(payload);
    cf__wire_decoder_free(&dec);
}
END_TEST

START_TEST(wire_lengths_past_the_end)
{
    /* Headers announcing far more than the payload holds: refused without
     * reading or allocating what they announce. */
    static const uint8_t str32[] = {0x95, 0x01, 0x02, 0x01, 0xdb, 0xff, 0xff, 0xff, 0xff, 'a'};
    static const uint8_t bin32[] = {0x95, 0x01, 0x02, 0x01, 0xa7, 'w', '_', 'b', 'y', 't',
                                    'e',  's',  0x91, 0xc6, 0xff, 0xff, 0xff, 0xf0, 0x00};
    static const uint8_t ext32[] = {0x95, 0x01, 0x02, 0x01, 0xa7, 'w',  '_',  'p',
                                    'o',  'i',  'n',  't',  0x91, 0xc9, 0x00, 0x00,
                                    0x00, 0x20, 0x01, 0x00};
    static const uint8_t arr32[] = {0xdd, 0xff, 0xff, 0xff, 0xff, 0x01, 0x05};
    static const uint8_t args32[] = {0x95, 0x01, 0x02, 0x01, 0xa4, 'a', 'd', 'd', '2',
                                     0xdd, 0x7f, 0xff, 0xff, 0xff, 0x01};
    const struct {
        const uint8_t *p;
        size_t n;
        const char *says;
    } cases[] = {
        {str32, sizeof str32, "ends 4294967294 bytes short"},
        {bin32, sizeof bin32, "bytes short"},
        {ext32, sizeof ext32, "bytes short"},
        {arr32, sizeof arr32, "fields"},
        {args32, sizeof args32, "takes 2 arguments, got 2147483647"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t *p = exact_copy(cases[i].p, cases[i].n);
        cf__wire_decoder dec;
        cf__wire_decoder_init(&dec);
        cf__wire_msg msg;
        int rc = cf__wire_open(&msg, p, cases[i].n);
        if (rc == 0) {
            const cf_task *t;
            void *a;
            rc = cf__wire_decode_call(&dec, &msg, &t, &a);
        }
        ck_assert_msg(rc == CF_EDECODE, "case %zu: rc %d", i, rc);
        assert_error_mentions(cases[i].says, NULL);
        ck_assert_uint_lt(dec.arena_cap, 4096);
        cf__wire_decoder_free(&dec);
        free(p);
    }
}
END_TEST

START_TEST(wire_garbage)
{
    cf__wire_msg msg;
    ck_assert_int_eq(cf__wire_open(&msg, "", 0), CF_EDECODE);
    assert_error_mentions("empty message", NULL);
    static const uint8_t never_used[] = {0xc1};
    ck_assert_int_eq(cf__wire_open(&msg, never_used, 1), CF_EDECODE);
    assert_error_mentions("0xc1", NULL);
    static const uint8_t a_map[] = {0x82, 0x01, 0x02, 0x03, 0x04};
    ck_assert_int_eq(cf__wire_open(&msg, a_map, sizeof a_map), CF_EDECODE);
    assert_error_mentions("expected an array, got a map", NULL);
    static const uint8_t bare_int[] = {0x01};
    ck_assert_int_eq(cf__wire_open(&msg, bare_int, 1), CF_EDECODE);
    ck_assert_int_eq(cf__wire_open(&msg, NULL, 3), CF_EINVAL);
    /* Random payloads, and random bytes after a valid CALL header: never a
     * crash, never success but by a real message. */
    uint32_t rng = 2024;
    cf__wire_decoder dec;
    cf__wire_decoder_init(&dec);
    static const uint8_t header[] = {0x95, 0x01, 0x02, 0x07, 0xa7, 'w',  '_',
                                     'e',  'i',  'g',  'h',  't',  0x98};
    for (int round = 0; round < 20000; round++) {
        rng = rng * 1103515245u + 12345u;
        size_t n = (rng >> 16) % 64;
        bool with_header = round % 2 == 1;
        size_t total = n + (with_header ? sizeof header : 0);
        uint8_t *p = malloc(total > 0 ? total : 1);
        ck_assert_ptr_nonnull(p);
        size_t at = 0;
        if (with_header) {
            memcpy(p, header, sizeof header);
            at = sizeof header;
        }
        for (size_t i = 0; i < n; i++) {
            rng = rng * 1103515245u + 12345u;
            p[at + i] = (uint8_t)(rng >> 24);
        }
        int rc = cf__wire_open(&msg, p, total);
        if (rc == 0) {
            const cf_task *t;
            void *a;
            uint8_t slot[64];
            cf__wire_failure fail;
            cf__wire_hello hello;
            switch (msg.type) {
            case CF__WIRE_CALL: rc = cf__wire_decode_call(&dec, &msg, &t, &a); break;
            case CF__WIRE_RESULT:
                rc = cf__wire_decode_result(&dec, &msg, task_named("w_u64"), slot);
                break;
            case CF__WIRE_FAILED: rc = cf__wire_decode_failed(&dec, &msg, &fail); break;
            case CF__WIRE_HELLO: rc = cf__wire_decode_hello(&dec, &msg, &hello); break;
            default: break;
            }
        }
        ck_assert(rc == 0 || rc == CF_EDECODE || rc == CF_ENOTFOUND);
        free(p);
    }
    cf__wire_decoder_free(&dec);
}
END_TEST

START_TEST(wire_bad_failed_and_hello)
{
    mp m;
    cf__wire_decoder dec;
    cf__wire_decoder_init(&dec);
    /* FAILED: a code that is not negative, or not an int32; a message that
     * is not a string. */
    const int64_t codes[] = {0, 1, (int64_t)INT32_MIN - 1};
    for (size_t i = 0; i < 3; i++) {
        mp_init(&m);
        msgpack_pack_array(&m.pk, 6);
        msgpack_pack_uint8(&m.pk, 1);
        msgpack_pack_uint8(&m.pk, CF__WIRE_FAILED);
        msgpack_pack_uint8(&m.pk, 1);
        msgpack_pack_int64(&m.pk, codes[i]);
        msgpack_pack_int(&m.pk, 0);
        msgpack_pack_nil(&m.pk);
        uint8_t *p = exact_copy(m.sb.data, m.sb.size);
        cf__wire_msg msg;
        cf__wire_failure fail;
        ck_assert_int_eq(cf__wire_open(&msg, p, m.sb.size), 0);
        ck_assert_int_eq(cf__wire_decode_failed(&dec, &msg, &fail), CF_EDECODE);
        assert_error_mentions("error code", NULL);
        free(p);
        msgpack_sbuffer_destroy(&m.sb);
    }
    mp_init(&m);
    msgpack_pack_array(&m.pk, 6);
    msgpack_pack_uint8(&m.pk, 1);
    msgpack_pack_uint8(&m.pk, CF__WIRE_FAILED);
    msgpack_pack_uint8(&m.pk, 1);
    msgpack_pack_int(&m.pk, CF_ETASK);
    msgpack_pack_int(&m.pk, 0);
    msgpack_pack_int(&m.pk, 5);
    uint8_t *p = exact_copy(m.sb.data, m.sb.size);
    cf__wire_msg msg;
    cf__wire_failure fail;
    ck_assert_int_eq(cf__wire_open(&msg, p, m.sb.size), 0);
    ck_assert_int_eq(cf__wire_decode_failed(&dec, &msg, &fail), CF_EDECODE);
    assert_error_mentions("error message", "got an integer");
    free(p);
    msgpack_sbuffer_destroy(&m.sb);
    /* HELLO: a process id that is not positive, an outcome that is positive,
     * a ready worker with a message. */
    const struct {
        int64_t pid, code;
        const char *message;
        const char *says;
    } hellos[] = {
        {0, 0, NULL, "process id"},
        {-7, 0, NULL, "process id"},
        {(int64_t)INT32_MAX + 1, 0, NULL, "process id"},
        {1, 4, NULL, "initializer outcome"},
        {1, 0, "hello", "ready worker"},
    };
    for (size_t i = 0; i < sizeof hellos / sizeof hellos[0]; i++) {
        mp_init(&m);
        msgpack_pack_array(&m.pk, 6);
        msgpack_pack_uint8(&m.pk, 1);
        msgpack_pack_uint8(&m.pk, CF__WIRE_HELLO);
        msgpack_pack_int64(&m.pk, hellos[i].pid);
        msgpack_pack_int64(&m.pk, hellos[i].code);
        msgpack_pack_int(&m.pk, 0);
        if (hellos[i].message != NULL)
            mp_str(&m, hellos[i].message);
        else
            msgpack_pack_nil(&m.pk);
        p = exact_copy(m.sb.data, m.sb.size);
        cf__wire_hello hello;
        ck_assert_int_eq(cf__wire_open(&msg, p, m.sb.size), 0);
        ck_assert_int_eq(cf__wire_decode_hello(&dec, &msg, &hello), CF_EDECODE);
        assert_error_mentions(hellos[i].says, NULL);
        free(p);
        msgpack_sbuffer_destroy(&m.sb);
    }
    cf__wire_decoder_free(&dec);
}
END_TEST

START_TEST(wire_result_slot_untouched_on_failure)
{
    const cf_task *t = task_named("w_point");
    point3 slot = {9, 9, 9, 9};
    mp m;
    mp_result(&m);
    pack_sample(&m.pk, V_EXT_POINT);
    msgpack_pack_nil(&m.pk); /* a trailing byte */
    ck_assert_int_eq(mp_decode_result(&m, t, &slot), CF_EDECODE);
    ck_assert(slot.x == 9 && slot.y == 9 && slot.z == 9 && slot.tag == 9);
    const cf_task *ts = task_named("w_str");
    const char *s = "unchanged";
    mp_result(&m);
    mp_str(&m, "new");
    msgpack_pack_nil(&m.pk);
    ck_assert_int_eq(mp_decode_result(&m, ts, &s), CF_EDECODE);
    ck_assert_str_eq(s, "unchanged");
    /* NULL slot for a result that has a value. */
    mp_result(&m);
    mp_str(&m, "new");
    ck_assert_int_eq(mp_decode_result(&m, ts, NULL), CF_EINVAL);
}
END_TEST

START_TEST(wire_decoded_memory)
{
    /* Strings land in the decoder's arena, NUL-terminated; byte buffers point
     * into the payload itself. */
    const cf_task *t = task_named("w_eight");
    block blk;
    memset(&blk, 0, sizeof blk);
    const char *g = "arena";
    cf_bytes h = {"payload", 7};
    put_arg(t, blk.b, 6, &g);
    put_arg(t, blk.b, 7, &h);
    size_t len;
    uint8_t *payload = encoded(cf__wire_encode_call, t, 1, blk.b, &len);
    cf__wire_decoder dec;
    cf__wire_decoder_init(&dec);
    cf__wire_msg msg;
    const cf_task *got;
    void *args;
    ck_assert_int_eq(cf__wire_open(&msg, payload, len), 0);
    ck_assert_int_eq(cf__wire_decode_call(&dec, &msg, &got, &args), 0);
    const char *s;
    cf_bytes b;
    memcpy(&s, (uint8_t *)args + t->offsets[6], sizeof s);
    memcpy(&b, (uint8_t *)args + t->offsets[7], sizeof b);
    ck_assert(s >= dec.arena && s < dec.arena + dec.arena_cap);
    ck_assert_str_eq(s, "arena");
    ck_assert((const uint8_t *)b.data >= payload &&
              (const uint8_t *)b.data + b.len <= payload + len);
    ck_assert_mem_eq(b.data, "payload", 7);
    /* A second decode reuses the same block. */
    void *args2;
    ck_assert_int_eq(cf__wire_decode_call(&dec, &msg, &got, &args2), 0);
    ck_assert_ptr_eq(args2, args);
    cf__wire_decoder_free(&dec);
    free(payload);
}
END_TEST

/* The payload of one VALUE message of type t holding *src (free it). */
static uint8_t *encoded_value(cf_type t, const void *src, size_t *len)
{
    cf__frame_out out;
    cf__frame_out_init(&out, 0);
    ck_assert_int_eq(cf__wire_encode_value(&out, t, src), 0);
    uint8_t *payload = take_payload(&out, len);
    cf__frame_out_free(&out);
    return payload;
}

START_TEST(wire_value_round_trip)
{
    int32_t i = -123456;
    double d = -0.0;
    const char *s = "queued text";
    const char *null_str = NULL;
    cf_bytes b = {"\0\1\2", 3};
    point3 pt;
    memset(&pt, 0, sizeof pt); /* padding too: structs travel byte for byte */
    pt.x = 1, pt.y = 2, pt.z = 3, pt.tag = 4;
    uint64_t big = UINT64_MAX;
    struct { cf_type t; const void *src; } cases[] = {
        {CF_TYPE_OF(int32_t), &i}, {CF_TYPE_OF(double), &d}, {CF_TYPE_OF(const char *), &s},
        {CF_TYPE_OF(const char *), &null_str}, {CF_TYPE_OF(cf_bytes), &b},
        {CF_TYPE_OF(point3), &pt}, {CF_TYPE_OF(uint64_t), &big}, {CF_TYPE_OF(void), NULL},
    };
    cf__wire_decoder dec;
    cf__wire_decoder_init(&dec);
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        size_t len;
        uint8_t *payload = encoded_value(cases[k].t, cases[k].src, &len);
        cf__wire_msg msg;
        ck_assert_int_eq(cf__wire_open(&msg, payload, len), 0);
        ck_assert_uint_eq(msg.type, CF__WIRE_VALUE);
        cf_type announced;
        ck_assert_int_eq(cf__wire_value_type(&msg, &announced), 0);
        ck_assert(cf_type_equal(announced, cases[k].t));
        uint8_t got[64] = {0};
        ck_assert_int_eq(cf__wire_decode_value(&dec, &msg, cases[k].t, got), 0);
        if (cases[k].t.kind != CF_KIND_VOID)
            assert_same_value(cases[k].t, cases[k].src, got);
        /* Every truncation is refused, never read past the end. */
        for (size_t cut = 0; cut < len; cut++) {
            uint8_t *part = exact_copy(payload, cut);
            if (cf__wire_open(&msg, part, cut) == 0)
                ck_assert_int_eq(cf__wire_decode_value(&dec, &msg, cases[k].t, got), CF_EDECODE);
            free(part);
        }
        free(payload);
    }
    cf__wire_decoder_free(&dec);
}
END_TEST

START_TEST(wire_value_refusals)
{
    size_t len;
    int32_t i = 7;
    uint8_t *payload = encoded_value(CF_TYPE_OF(int32_t), &i, &len);
    cf__wire_decoder dec;
    cf__wire_decoder_init(&dec);
    cf__wire_msg msg;
    ck_assert_int_eq(cf__wire_open(&msg, payload, len), 0);
    /* Another type than the one sent: CF_ETYPE naming both; dst untouched. */
    int64_t wide = 99;
    ck_assert_int_eq(cf__wire_decode_value(&dec, &msg, CF_TYPE_OF(int64_t), &wide), CF_ETYPE);
    assert_error_mentions("int32", "int64");
    ck_assert_int_eq(wide, 99);
    ck_assert_int_eq(cf__wire_decode_value(&dec, &msg, CF_TYPE_OF(int32_t), NULL), CF_EINVAL);
    free(payload);
    /* A raw pointer never travels; an unknown kind is no type. */
    cf__frame_out out;
    cf__frame_out_init(&out, 0);
    void *ptr = &i;
    ck_assert_int_eq(cf__wire_encode_value(&out, CF_TYPE_OF(void *), &ptr), CF_EUNSUPPORTED);
    ck_assert_int_eq(cf__wire_encode_value(&out, (cf_type){CF_KIND_COUNT_, 4}, &i), CF_EINVAL);
    ck_assert_int_eq(cf__wire_encode_value(&out, CF_TYPE_OF(int32_t), NULL), CF_EINVAL);
    ck_assert_uint_eq(bytes_in(&out), 0);
    cf__frame_out_free(&out);
    /* A message announcing a pointer, or a size that does not match the kind. */
    mp m;
    const uint32_t bad[][2] = {{CF_KIND_PTR, sizeof(void *)}, {CF_KIND_I32, 8}, {CF_KIND_COUNT_, 4}};
    for (size_t k = 0; k < 3; k++) {
        mp_init(&m);
        msgpack_pack_array(&m.pk, 5);
        msgpack_pack_uint8(&m.pk, CF__WIRE_VERSION);
        msgpack_pack_uint8(&m.pk, CF__WIRE_VALUE);
        msgpack_pack_uint32(&m.pk, bad[k][0]);
        msgpack_pack_uint32(&m.pk, bad[k][1]);
        msgpack_pack_int32(&m.pk, 1);
        ck_assert_int_eq(cf__wire_open(&msg, m.sb.data, m.sb.size), 0);
        cf_type t;
        ck_assert_int_eq(cf__wire_value_type(&msg, &t), CF_EDECODE);
        msgpack_sbuffer_destroy(&m.sb);
    }
    cf__wire_decoder_free(&dec);
}
END_TEST

/* Encode a CHUNK into its payload; fds are attached (and dropped here). */
static uint8_t *encoded_chunk(const cf__wire_chunk *c, const int *fds, size_t *len)
{
    cf__frame_out out;
    cf__frame_out_init(&out, 0);
    ck_assert_int_eq(cf__wire_encode_chunk(&out, 42, c, fds), 0);
    ck_assert_uint_eq(out.nfds, c->nfds);
    uint8_t *payload = take_payload(&out, len);
    cf__frame_out_free(&out);
    return payload;
}

START_TEST(wire_chunk_references)
{
    int fds[3];
    for (int i = 0; i < 3; i++)
        fds[i] = dup(0);
    cf__wire_chunk c = {.task = task_named("add2"), .first = 1000, .count = 77,
                        .flags = CF__WIRE_CHUNK_KEEP_GOING, .deadline = 123456789, .nfds = 3,
                        .in = {{0, 4096, 4}, {1, 8, 4}},
                        .out = {2, 64, 4}, .status = {0, 128, 4}, .stop = {0, 0, 0}};
    size_t len;
    uint8_t *payload = encoded_chunk(&c, fds, &len);
    cf__wire_decoder dec;
    cf__wire_decoder_init(&dec);
    cf__wire_msg msg;
    ck_assert_int_eq(cf__wire_open(&msg, payload, len), 0);
    ck_assert_uint_eq(msg.type, CF__WIRE_CHUNK);
    ck_assert_uint_eq(msg.id, 42);
    cf__wire_chunk d;
    ck_assert_int_eq(cf__wire_decode_chunk(&dec, &msg, &d), 0);
    ck_assert_ptr_eq(d.task, c.task);
    ck_assert(d.first == 1000 && d.count == 77 && d.nfds == 3 && d.deadline == 123456789);
    ck_assert_uint_eq(d.flags, CF__WIRE_CHUNK_KEEP_GOING);
    ck_assert_mem_eq(d.in, c.in, 2 * sizeof c.in[0]);
    ck_assert_mem_eq(&d.out, &c.out, sizeof c.out);
    ck_assert_mem_eq(&d.status, &c.status, sizeof c.status);
    /* Results are optional. */
    free(payload);
    c.out = (cf__wire_ref){CF__WIRE_NO_REF, 0, 0};
    payload = encoded_chunk(&c, fds, &len);
    ck_assert_int_eq(cf__wire_open(&msg, payload, len), 0);
    ck_assert_int_eq(cf__wire_decode_chunk(&dec, &msg, &d), 0);
    ck_assert_uint_eq(d.out.fd, CF__WIRE_NO_REF);
    /* Every truncation fails cleanly. */
    for (size_t cut = 0; cut < len; cut++) {
        uint8_t *part = exact_copy(payload, cut);
        if (cf__wire_open(&msg, part, cut) == 0)
            ck_assert_int_eq(cf__wire_decode_chunk(&dec, &msg, &d), CF_EDECODE);
        free(part);
    }
    free(payload);
    /* A reference to a descriptor the message does not carry. */
    c.nfds = 2;
    c.status.fd = 2;
    payload = encoded_chunk(&c, fds, &len);
    ck_assert_int_eq(cf__wire_open(&msg, payload, len), 0);
    ck_assert_int_eq(cf__wire_decode_chunk(&dec, &msg, &d), CF_EDECODE);
    assert_error_mentions("descriptor 2", NULL);
    ck_assert_uint_eq(d.nfds, 2); /* known even though the message failed */
    free(payload);
    for (int i = 0; i < 3; i++)
        close(fds[i]);
    cf__wire_decoder_free(&dec);
}
END_TEST

START_TEST(wire_chunk_inline_arguments)
{
    /* Tasks with strings send their arguments inside the CHUNK. */
    const cf_task *t = task_named("w_eight");
    enum { N = 5 };
    block blks[N];
    const char *strs[N] = {"a", NULL, "ccc", "", "eeeee"};
    for (int e = 0; e < N; e++) {
        memset(&blks[e], 0, sizeof blks[e]);
        int32_t x = e * 11;
        cf_bytes h = {"xy", (size_t)e % 3};
        put_arg(t, blks[e].b, 2, &x);
        put_arg(t, blks[e].b, 6, &strs[e]);
        put_arg(t, blks[e].b, 7, &h);
    }
    int fd = dup(0);
    cf__wire_chunk c = {.task = t, .first = 3, .count = N, .flags = CF__WIRE_CHUNK_INLINE,
                        .nfds = 1, .status = {0, 0, 4}, .stop = {0, 64, 0},
                        .out = {CF__WIRE_NO_REF, 0, 0}};
    for (uint32_t k = 0; k < t->nparams; k++) {
        c.src[k] = (const char *)blks[0].b + t->offsets[k];
        c.src_stride[k] = sizeof blks[0];
    }
    size_t len;
    uint8_t *payload = encoded_chunk(&c, &fd, &len);
    close(fd);
    cf__wire_decoder dec;
    cf__wire_decoder_init(&dec);
    cf__wire_msg msg;
    ck_assert_int_eq(cf__wire_open(&msg, payload, len), 0);
    cf__wire_chunk d;
    ck_assert_int_eq(cf__wire_decode_chunk(&dec, &msg, &d), 0);
    ck_assert_uint_eq(d.count, N);
    for (int e = 0; e < N; e++) {
        const uint8_t *b = (const uint8_t *)d.blocks + (size_t)e * t->args_size;
        int32_t x;
        const char *s;
        cf_bytes h;
        memcpy(&x, b + t->offsets[2], sizeof x);
        memcpy(&s, b + t->offsets[6], sizeof s);
        memcpy(&h, b + t->offsets[7], sizeof h);
        ck_assert_int_eq(x, e * 11);
        if (strs[e] == NULL)
            ck_assert_ptr_null(s);
        else
            ck_assert_str_eq(s, strs[e]);
        ck_assert_uint_eq(h.len, (size_t)e % 3);
    }
    cf__wire_decoder_free(&dec);
    free(payload);
}
END_TEST

static Suite *wire_suite(void)
{
    Suite *s = suite_create("wire");
    TCase *tc = tcase_create("round_trip");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, wire_integers_at_their_limits);
    tcase_add_test(tc, wire_floats_bit_for_bit);
    tcase_add_test(tc, wire_bool);
    tcase_add_test(tc, wire_strings);
    tcase_add_test(tc, wire_bytes);
    tcase_add_test(tc, wire_structs_of_every_size);
    tcase_add_test(tc, wire_no_parameters_and_void_result);
    tcase_add_test(tc, wire_eight_parameters_and_running_the_task);
    tcase_add_test(tc, wire_call_byte_layout);
    tcase_add_test(tc, wire_failed_round_trip);
    tcase_add_test(tc, wire_hello_round_trip);
    tcase_add_test(tc, wire_shutdown);
    tcase_add_test(tc, wire_stream_of_calls);
    tcase_add_test(tc, wire_decoded_memory);
    suite_add_tcase(s, tc);
    tc = tcase_create("encode_refusals");
    tcase_add_test(tc, wire_encode_refuses_raw_pointers);
    tcase_add_test(tc, wire_encode_refuses_bad_input);
    tcase_add_test(tc, wire_encode_size_limit);
    suite_add_tcase(s, tc);
    tc = tcase_create("decode_refusals");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, wire_truncated_at_every_byte);
    tcase_add_test(tc, wire_wrong_version);
    tcase_add_test(tc, wire_wrong_message_type);
    tcase_add_test(tc, wire_wrong_field_count);
    tcase_add_test(tc, wire_wrong_argument_count);
    tcase_add_test(tc, wire_wrong_type_for_each_kind);
    tcase_add_test(tc, wire_integers_out_of_range);
    tcase_add_test(tc, wire_unknown_task);
    tcase_add_test(tc, wire_raw_pointer_task_refused);
    tcase_add_test(tc, wire_trailing_bytes);
    tcase_add_test(tc, wire_lengths_past_the_end);
    tcase_add_test(tc, wire_garbage);
    tcase_add_test(tc, wire_bad_failed_and_hello);
    tcase_add_test(tc, wire_result_slot_untouched_on_failure);
    tcase_add_test(tc, wire_value_round_trip);
    tcase_add_test(tc, wire_value_refusals);
    tcase_add_test(tc, wire_chunk_references);
    tcase_add_test(tc, wire_chunk_inline_arguments);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(wire_suite());
}
