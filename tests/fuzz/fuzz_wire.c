/* fuzz_wire.c: libFuzzer target for the framing and the wire format.
 *
 * Input: one byte giving the size of the chunks the rest is fed in (0: all
 * at once), then a byte stream of frames. Each complete frame is opened and
 * decoded as its type says: a CALL against the tasks declared below (found
 * by name), a RESULT against the task its request id picks (id modulo the
 * number of tasks, so that every result type is reached), a FAILED or a
 * HELLO. Besides "never crash, never read out of bounds" (run it under ASan
 * and UBSan), every message that decodes must survive a round trip: encoded
 * again, it must decode to the same values, bit for bit.
 *
 * Build: configure CC=clang --enable-asan --enable-fuzz && make
 * tests/fuzz/fuzz_wire. Run: tests/fuzz/fuzz_wire -max_total_time=60
 * <scratch corpus dir> $(srcdir)/tests/fuzz/corpus (new inputs go to the
 * first directory). The seed corpus in tests/fuzz/corpus holds valid streams;
 * CF_FUZZ_WRITE_CORPUS=<dir> tests/fuzz/fuzz_wire writes them again.
 */
#include "config.h"

#include <errno.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cfutures.h>

#include "frame.h"
#include "wire.h"

/* ---- Tasks of every type ---------------------------------------------------------- */

typedef struct pair {
    int32_t a;
    double b;
} pair;

static bool z_bool(bool x) { return x; }
CF_TASK(bool, z_bool, bool);
static int8_t z_i8(int8_t x) { return x; }
CF_TASK(int8_t, z_i8, int8_t);
static uint8_t z_u8(uint8_t x) { return x; }
CF_TASK(uint8_t, z_u8, uint8_t);
static int16_t z_i16(int16_t x) { return x; }
CF_TASK(int16_t, z_i16, int16_t);
static uint16_t z_u16(uint16_t x) { return x; }
CF_TASK(uint16_t, z_u16, uint16_t);
static int32_t z_i32(int32_t x) { return x; }
CF_TASK(int32_t, z_i32, int32_t);
static uint32_t z_u32(uint32_t x) { return x; }
CF_TASK(uint32_t, z_u32, uint32_t);
static int64_t z_i64(int64_t x) { return x; }
CF_TASK(int64_t, z_i64, int64_t);
static uint64_t z_u64(uint64_t x) { return x; }
CF_TASK(uint64_t, z_u64, uint64_t);
static float z_f32(float x) { return x; }
CF_TASK(float, z_f32, float);
static double z_f64(double x) { return x; }
CF_TASK(double, z_f64, double);
static const char *z_str(const char *x) { return x; }
CF_TASK(const char *, z_str, const char *);
static cf_bytes z_bytes(cf_bytes x) { return x; }
CF_TASK(cf_bytes, z_bytes, cf_bytes);
static pair z_pair(pair x) { return x; }
CF_TASK(pair, z_pair, pair);
static void z_void(void) {}
CF_TASK(void, z_void);
static double z_mix(bool a, int8_t b, uint64_t c, float d, const char *e, cf_bytes f, pair g,
                    const char *h)
{
    (void)a, (void)b, (void)c, (void)d, (void)e, (void)f, (void)h;
    return g.b;
}
CF_TASK(double, z_mix, bool, int8_t, uint64_t, float, const char *, cf_bytes, pair,
        const char *);
static void *z_ptr(void *p) { return p; }
CF_TASK(void *, z_ptr, void *);

static const char *const task_names[] = {"z_bool", "z_i8",  "z_u8",    "z_i16",  "z_u16",
                                         "z_i32",  "z_u32", "z_i64",   "z_u64",  "z_f32",
                                         "z_f64",  "z_str", "z_bytes", "z_pair", "z_void",
                                         "z_mix",  "z_ptr"};
#define N_TASKS (sizeof task_names / sizeof task_names[0])

static const cf_task *tasks[N_TASKS];

#define FUZZ_LIMIT (1u << 20)

/* ---- The round-trip oracle -------------------------------------------------------- */

static void check(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_wire: %s (%s)\n", what, cf_last_error());
        abort();
    }
}

static void check_same_value(cf_type t, const void *a, const void *b)
{
    if (t.kind == CF_KIND_STR) {
        const char *x, *y;
        memcpy(&x, a, sizeof x);
        memcpy(&y, b, sizeof y);
        check((x == NULL) == (y == NULL), "string NULL-ness changed in a round trip");
        check(x == NULL || strcmp(x, y) == 0, "string changed in a round trip");
    } else if (t.kind == CF_KIND_BYTES) {
        cf_bytes x, y;
        memcpy(&x, a, sizeof x);
        memcpy(&y, b, sizeof y);
        check(x.len == y.len, "byte buffer length changed in a round trip");
        check(x.len == 0 || memcmp(x.data, y.data, x.len) == 0, "bytes changed in a round trip");
    } else {
        check(memcmp(a, b, t.size) == 0, "value changed in a round trip");
    }
}

/* Take the one frame out of `out` as a payload in `in`. */
static void reframe(cf__frame_out *out, cf__frame_in *in, const uint8_t **payload, size_t *len)
{
    size_t n;
    const void *data = cf__frame_out_data(out, &n);
    check(cf__frame_in_push(in, data, n) == 0, "push");
    cf__frame_out_consume(out, n);
    check(cf__frame_in_next(in, payload, len) == 0, "a re-encoded frame is incomplete");
}

typedef struct oracle {
    cf__frame_out out;
    cf__frame_in in;
    cf__wire_decoder dec;
} oracle;

static void round_trip_call(oracle *o, const cf__wire_msg *msg, const cf_task *task,
                            const void *args)
{
    check(cf__wire_encode_call(&o->out, msg->id, task, args) == 0, "re-encoding a CALL");
    const uint8_t *p;
    size_t len;
    reframe(&o->out, &o->in, &p, &len);
    cf__wire_msg again;
    const cf_task *t2;
    void *args2;
    check(cf__wire_open(&again, p, len) == 0, "opening a re-encoded CALL");
    check(again.id == msg->id && again.type == CF__WIRE_CALL, "CALL header changed");
    check(cf__wire_decode_call(&o->dec, &again, &t2, &args2) == 0, "decoding a re-encoded CALL");
    check(t2 == task, "task changed in a round trip");
    for (uint32_t i = 0; i < task->nparams; i++)
        check_same_value(task->params[i], (const uint8_t *)args + task->offsets[i],
                         (const uint8_t *)args2 + task->offsets[i]);
}

static void round_trip_result(oracle *o, const cf__wire_msg *msg, const cf_task *task,
                              const void *slot)
{
    check(cf__wire_encode_result(&o->out, msg->id, task, slot) == 0, "re-encoding a RESULT");
    const uint8_t *p;
    size_t len;
    reframe(&o->out, &o->in, &p, &len);
    cf__wire_msg again;
    alignas(16) uint8_t slot2[64];
    check(cf__wire_open(&again, p, len) == 0, "opening a re-encoded RESULT");
    check(cf__wire_decode_result(&o->dec, &again, task, slot2) == 0,
          "decoding a re-encoded RESULT");
    if (task->result.kind != CF_KIND_VOID)
        check_same_value(task->result, slot, slot2);
}

static void round_trip_failed(oracle *o, const cf__wire_msg *msg, const cf__wire_failure *f)
{
    check(cf__wire_encode_failed(&o->out, msg->id, f->code, f->detail, f->message) == 0,
          "re-encoding a FAILED");
    const uint8_t *p;
    size_t len;
    reframe(&o->out, &o->in, &p, &len);
    cf__wire_msg again;
    cf__wire_failure f2;
    check(cf__wire_open(&again, p, len) == 0, "opening a re-encoded FAILED");
    check(cf__wire_decode_failed(&o->dec, &again, &f2) == 0, "decoding a re-encoded FAILED");
    check(f2.code == f->code && f2.detail == f->detail, "FAILED changed in a round trip");
    check((f->message == NULL) == (f2.message == NULL) &&
              (f->message == NULL || strcmp(f->message, f2.message) == 0),
          "FAILED message changed in a round trip");
}

static void round_trip_hello(oracle *o, const cf__wire_hello *h)
{
    check(cf__wire_encode_hello(&o->out, h) == 0, "re-encoding a HELLO");
    const uint8_t *p;
    size_t len;
    reframe(&o->out, &o->in, &p, &len);
    cf__wire_msg again;
    cf__wire_hello h2;
    check(cf__wire_open(&again, p, len) == 0, "opening a re-encoded HELLO");
    check(cf__wire_decode_hello(&o->dec, &again, &h2) == 0, "decoding a re-encoded HELLO");
    check(h2.pid == h->pid && h2.code == h->code && h2.detail == h->detail,
          "HELLO changed in a round trip");
    check((h->message == NULL) == (h2.message == NULL) &&
              (h->message == NULL || strcmp(h->message, h2.message) == 0),
          "HELLO message changed in a round trip");
}

/* ---- One frame ---------------------------------------------------------------------- */

static void decode_one(cf__wire_decoder *dec, oracle *o, const uint8_t *payload, size_t len)
{
    cf__wire_msg msg;
    int rc = cf__wire_open(&msg, payload, len);
    if (rc != 0) {
        check(rc == CF_EDECODE, "open failed with an unexpected code");
        return;
    }
    switch (msg.type) {
    case CF__WIRE_CALL: {
        const cf_task *task;
        void *args;
        rc = cf__wire_decode_call(dec, &msg, &task, &args);
        check(rc == 0 || rc == CF_EDECODE || rc == CF_ENOTFOUND, "CALL: unexpected code");
        if (rc == 0)
            round_trip_call(o, &msg, task, args);
        break;
    }
    case CF__WIRE_RESULT: {
        const cf_task *task = tasks[msg.id % N_TASKS];
        alignas(16) uint8_t slot[64];
        rc = cf__wire_decode_result(dec, &msg, task, slot);
        check(rc == 0 || rc == CF_EDECODE, "RESULT: unexpected code");
        if (rc == 0)
            round_trip_result(o, &msg, task, slot);
        break;
    }
    case CF__WIRE_FAILED: {
        cf__wire_failure f;
        rc = cf__wire_decode_failed(dec, &msg, &f);
        check(rc == 0 || rc == CF_EDECODE, "FAILED: unexpected code");
        if (rc == 0)
            round_trip_failed(o, &msg, &f);
        break;
    }
    case CF__WIRE_HELLO: {
        cf__wire_hello h;
        rc = cf__wire_decode_hello(dec, &msg, &h);
        check(rc == 0 || rc == CF_EDECODE, "HELLO: unexpected code");
        if (rc == 0)
            round_trip_hello(o, &h);
        break;
    }
    case CF__WIRE_VALUE: {
        cf_type t;
        rc = cf__wire_value_type(&msg, &t);
        check(rc == 0 || rc == CF_EDECODE, "VALUE: unexpected code from its type");
        if (rc != 0 || t.size > len)
            break;
        void *dst = malloc(t.size > 0 ? t.size : 1);
        rc = cf__wire_decode_value(dec, &msg, t, dst);
        check(rc == 0 || rc == CF_EDECODE, "VALUE: unexpected code");
        free(dst);
        break;
    }
    case CF__WIRE_CHUNK: {
        cf__wire_chunk c;
        rc = cf__wire_decode_chunk(dec, &msg, &c);
        check(rc == 0 || rc == CF_EDECODE || rc == CF_ENOTFOUND, "CHUNK: unexpected code");
        check(c.nfds <= 64, "CHUNK: more descriptors than a message carries");
        break;
    }
    default:
        check(msg.type == CF__WIRE_SHUTDOWN, "open gave an unknown type");
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    size_t chunk = data[0] == 0 ? size : data[0];
    data++;
    size--;
    cf__frame_in in;
    cf__frame_in_init(&in, FUZZ_LIMIT);
    cf__wire_decoder dec;
    cf__wire_decoder_init(&dec);
    oracle o;
    cf__frame_out_init(&o.out, FUZZ_LIMIT);
    cf__frame_in_init(&o.in, FUZZ_LIMIT);
    cf__wire_decoder_init(&o.dec);
    for (size_t at = 0; at < size;) {
        size_t n = size - at < chunk ? size - at : chunk;
        check(cf__frame_in_push(&in, data + at, n) == 0, "push");
        at += n;
        const uint8_t *payload;
        size_t len;
        int rc;
        while ((rc = cf__frame_in_next(&in, &payload, &len)) == 0)
            decode_one(&dec, &o, payload, len);
        if (rc == CF_ETOOBIG)
            break;
        check(rc == -EAGAIN, "next: unexpected code");
    }
    cf__wire_decoder_free(&o.dec);
    cf__frame_in_free(&o.in);
    cf__frame_out_free(&o.out);
    cf__wire_decoder_free(&dec);
    cf__frame_in_free(&in);
    return 0;
}

/* ---- The seed corpus ------------------------------------------------------------------ */

/* Write what `out` holds as seed number *n (nothing when it is empty). */
static void seed(const char *dir, int *n, uint8_t chunk, cf__frame_out *out)
{
    size_t len;
    const void *stream = cf__frame_out_data(out, &len);
    if (len == 0)
        return;
    char path[4096];
    snprintf(path, sizeof path, "%s/seed-%02d", dir, (*n)++);
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(&chunk, 1, 1, f) != 1 || fwrite(stream, 1, len, f) != len ||
        fclose(f) != 0) {
        perror(path);
        exit(1);
    }
    cf__frame_out_consume(out, len);
}

static void write_corpus(const char *dir)
{
    cf__frame_out out;
    cf__frame_out_init(&out, FUZZ_LIMIT);
    int n = 0;
    /* One CALL and one RESULT per task (the RESULT's id picks its task). */
    alignas(16) uint8_t block[256];
    for (size_t i = 0; i < N_TASKS; i++) {
        const cf_task *t = tasks[i];
        memset(block, 0x5a, sizeof block);
        for (uint32_t k = 0; k < t->nparams; k++) {
            uint8_t *p = block + t->offsets[k];
            if (t->params[k].kind == CF_KIND_STR) {
                const char *s = k % 2 ? "seed text" : NULL;
                memcpy(p, &s, sizeof s);
            } else if (t->params[k].kind == CF_KIND_BYTES) {
                cf_bytes b = {"\x00\x01\x02", 3};
                memcpy(p, &b, sizeof b);
            } else if (t->params[k].kind == CF_KIND_BOOL) {
                *p = 1;
            }
        }
        if (t->nparams == 0 || t->params[0].kind != CF_KIND_PTR)
            cf__wire_encode_call(&out, i, t, block);
        if (t->result.kind == CF_KIND_STR) {
            const char *s = "result text";
            memcpy(block, &s, sizeof s);
        } else if (t->result.kind == CF_KIND_BYTES) {
            cf_bytes b = {"result", 6};
            memcpy(block, &b, sizeof b);
        } else if (t->result.kind == CF_KIND_BOOL) {
            block[0] = 0;
        }
        if (t->result.kind != CF_KIND_PTR)
            cf__wire_encode_result(&out, i, t, block);
        seed(dir, &n, 0, &out);
    }
    cf__wire_encode_failed(&out, 3, CF_ETASK, 17, "the task failed");
    cf__wire_encode_failed(&out, 4, -ENOMEM, 0, NULL);
    seed(dir, &n, 0, &out);
    cf__wire_hello ready = {.pid = 4242};
    cf__wire_hello broken = {.pid = 4243, .code = CF_ETASK, .detail = -1, .message = "init"};
    cf__wire_encode_hello(&out, &ready);
    cf__wire_encode_hello(&out, &broken);
    cf__wire_encode_shutdown(&out);
    seed(dir, &n, 0, &out);
    /* A mixed stream, fed in 7-byte chunks. */
    cf__wire_encode_hello(&out, &ready);
    for (size_t i = 0; i < N_TASKS; i += 3) {
        memset(block, 0, sizeof block);
        cf__wire_encode_result(&out, i, tasks[i], block);
    }
    cf__wire_encode_failed(&out, 5, CF_ETASK, 0, "x");
    seed(dir, &n, 7, &out);
    cf__frame_out_free(&out);
    fprintf(stderr, "fuzz_wire: wrote %d seeds to %s\n", n, dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    for (size_t i = 0; i < N_TASKS; i++)
        if (cf_task_find(task_names[i], &tasks[i]) != 0) {
            fprintf(stderr, "fuzz_wire: %s\n", cf_last_error());
            exit(1);
        }
    const char *dir = getenv("CF_FUZZ_WRITE_CORPUS");
    if (dir != NULL) {
        write_corpus(dir);
        exit(0);
    }
    return 0;
}
