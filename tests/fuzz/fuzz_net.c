/* fuzz_net.c: libFuzzer target for libcfutures-net's message decoding: the
 * checks every received message goes through (lib/net/msg.c), then the wire
 * decoder its body goes to, as the receivers do it (a PUT's or a REPLY's
 * VALUE, a CALL, an ANSWER's RESULT or FAILED, a GET's type).
 *
 * Input: byte 0 gives the number of parts (bit 0: whether there is a body);
 * bytes 1-2 (big-endian) the header's length; then the header, and the rest
 * is the body. Run it under ASan and UBSan: never crash, never read out of
 * bounds, never leak.
 *
 * Build: configure CC=clang --enable-asan --enable-fuzz && make
 * tests/fuzz/fuzz_net. Run: tests/fuzz/fuzz_net -max_total_time=30 <dir>.
 * CF_FUZZ_WRITE_CORPUS=<dir> tests/fuzz/fuzz_net writes a seed corpus of
 * valid messages.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cfutures.h>

#include "net/net_priv.h"

typedef struct pt {
    int32_t x, y;
} pt;

static int64_t f_i64(int64_t a, const char *s)
{
    return a + (s != NULL ? (int64_t)strlen(s) : 0);
}
CF_TASK(int64_t, f_i64, int64_t, const char *);
static pt f_pt(pt p, cf_bytes b)
{
    p.x += (int32_t)b.len;
    return p;
}
CF_TASK(pt, f_pt, pt, cf_bytes);

static void decode_body(const cf__net_msg *m)
{
    if (m->body == NULL)
        return;
    static cf__wire_decoder dec;
    static bool init;
    if (!init) {
        CF__CORE->wire_decoder_init(&dec);
        init = true;
    }
    cf__wire_msg w;
    if (m->kind == CF__NET_Q_GET) {
        cf_type t;
        cf__net_get_type(m, 1u << 20, &t);
        return;
    }
    if (CF__CORE->wire_open(&w, m->body, m->body_len) != 0)
        return;
    union {
        max_align_t a;
        unsigned char b[256];
    } obj;
    cf_type t;
    switch (w.type) {
    case CF__WIRE_VALUE:
        if (CF__CORE->wire_value_type(&w, &t) == 0 && t.size <= sizeof obj)
            CF__CORE->wire_decode_value(&dec, &w, t, t.kind == CF_KIND_VOID ? NULL : &obj);
        break;
    case CF__WIRE_CALL: {
        const cf_task *task;
        void *args;
        CF__CORE->wire_decode_call(&dec, &w, &task, &args);
        break;
    }
    case CF__WIRE_RESULT:
        CF__CORE->wire_decode_result(&dec, &w, (w.id & 1) ? &cf__task_f_pt : &cf__task_f_i64,
                                     &obj);
        break;
    case CF__WIRE_FAILED: {
        cf__wire_failure fl;
        CF__CORE->wire_decode_failed(&dec, &w, &fl);
        break;
    }
    default:
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    bool has_body = data[0] & 1;
    size_t hl = (size_t)data[1] << 8 | data[2];
    data += 3;
    size -= 3;
    if (hl > size)
        hl = size;
    cf__net_msg m;
    bool known;
    if (cf__net_parse(&m, data, hl, has_body ? data + hl : NULL, has_body ? size - hl : 0,
                      has_body, &known) == 0)
        decode_body(&m);
    return 0;
}

/* Seeds: one valid message of each kind that has a body. */
static void write_seed(const char *dir, int n, uint8_t kind, uint64_t id, int64_t arg,
                       const char *name, const void *body, size_t blen, bool has_body)
{
    uint8_t buf[4096];
    uint8_t head[CF__NET_HEADER + CF_NET_NAME_MAX];
    size_t hl = cf__net_header(head, kind, id, arg, name);
    buf[0] = has_body;
    buf[1] = (uint8_t)(hl >> 8);
    buf[2] = (uint8_t)hl;
    memcpy(buf + 3, head, hl);
    if (has_body && blen <= sizeof buf - 3 - hl)
        memcpy(buf + 3 + hl, body, blen);
    char path[1024];
    snprintf(path, sizeof path, "%s/net-seed-%02d", dir, n);
    FILE *f = fopen(path, "wb");
    if (f != NULL) {
        fwrite(buf, 1, 3 + hl + (has_body ? blen : 0), f);
        fclose(f);
    }
}

__attribute__((constructor)) static void maybe_write_corpus(void)
{
    const char *dir = getenv("CF_FUZZ_WRITE_CORPUS");
    if (dir == NULL)
        return;
    cf__frame_out out;
    CF__CORE->frame_out_init(&out, 0);
    size_t n, all;
    const uint8_t *p;
    int k = 0;
    int64_t v = 42;
    CF__CORE->wire_encode_value(&out, CF_TYPE_OF(int64_t), &v);
    p = cf__net_frame_payload(&out, &n);
    write_seed(dir, k++, CF__NET_Q_PUT, 1, 1000, "tasks", p, n, true);
    write_seed(dir, k++, CF__NET_REPLY, 1, 0, NULL, p, n, true);
    CF__CORE->frame_out_data(&out, &all);
    CF__CORE->frame_out_consume(&out, all);
    struct {
        int64_t a;
        const char *s;
    } args = {5, "five"};
    CF__CORE->wire_encode_call(&out, 7, &cf__task_f_i64, &args);
    p = cf__net_frame_payload(&out, &n);
    write_seed(dir, k++, CF__NET_W_CALL, 7, 0, NULL, p, n, true);
    CF__CORE->frame_out_data(&out, &all);
    CF__CORE->frame_out_consume(&out, all);
    CF__CORE->wire_encode_failed(&out, 8, CF_ECRASHED, 9, "boom");
    p = cf__net_frame_payload(&out, &n);
    write_seed(dir, k++, CF__NET_W_ANSWER, 8, 0, NULL, p, n, true);
    CF__CORE->frame_out_free(&out);
    uint8_t t[8];
    cf__net_put_type(t, CF_TYPE_OF(double));
    write_seed(dir, k++, CF__NET_Q_GET, 2, -1, "results", t, 8, true);
    write_seed(dir, k++, CF__NET_W_HELLO, 0, 4, NULL, "host:1", 6, true);
    write_seed(dir, k++, CF__NET_REPLY, 3, CF_EEMPTY, NULL, "empty", 5, true);
    exit(0);
}
