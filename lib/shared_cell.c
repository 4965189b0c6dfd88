/* shared_cell.c: encoding values into the cells of the shared dict and
 * list, and the per-thread memory they are read out into (shared_cell.h).
 *
 * Design notes
 * - Encodings are flat and self-contained (no pointers), so a cell copied
 *   byte for byte is the same value in any process; equality is memcmp.
 * - Per-thread memory: two growing buffers (a key and a value) behind a
 *   pthread key, freed with the thread.
 */
#include "config.h"

#include "shared_cell.h"

#include <cfutures/error.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <string.h>

#include "alloc.h"
#include "error_priv.h"

void (*cf__shared_test_hook)(void);

int cf__cell_check(const cf_value *v, size_t max, size_t *len, const char *caller,
                   const char *role)
{
    size_t n;
    switch (v->type.kind) {
    case CF_KIND_VOID:
        n = 0;
        break;
    case CF_KIND_BOOL:
    case CF_KIND_I8:
    case CF_KIND_U8:
    case CF_KIND_I16:
    case CF_KIND_U16:
    case CF_KIND_I32:
    case CF_KIND_U32:
    case CF_KIND_I64:
    case CF_KIND_U64:
    case CF_KIND_F32:
    case CF_KIND_F64:
        n = 8;
        break;
    case CF_KIND_STR:
        n = v->as.str != NULL ? strlen(v->as.str) + 1 : 0;
        break;
    case CF_KIND_BYTES:
        if (v->as.bytes.data == NULL && v->as.bytes.len > 0)
            return cf__fail(CF_EINVAL, "%s: the %s is a byte buffer of %zu bytes at NULL", caller,
                            role, v->as.bytes.len);
        n = v->as.bytes.len;
        break;
    case CF_KIND_STRUCT:
        if (v->as.data == NULL && v->type.size > 0)
            return cf__fail(CF_EINVAL, "%s: the %s is a struct at NULL", caller, role);
        n = v->type.size;
        break;
    case CF_KIND_PTR:
        return cf__fail(CF_EUNSUPPORTED, "%s: the %s is a raw pointer, which means nothing in "
                        "another process", caller, role);
    default:
        return cf__fail(CF_EINVAL, "%s: the %s has unknown kind %" PRIu32, caller, role,
                        v->type.kind);
    }
    if (n > max)
        return cf__fail(CF_ETOOBIG, "%s: the %s (%s) takes %zu bytes; at most %zu fit", caller,
                        role, cf_kind_name(v->type.kind), n, max);
    *len = sizeof(cf__cell_hdr) + n;
    return 0;
}

void cf__cell_encode(void *dst, const cf_value *v)
{
    cf__cell_hdr h = {.kind = v->type.kind, .size = v->type.size};
    unsigned char *data = (unsigned char *)dst + sizeof h;
    uint64_t word = 0;
    const void *src = &word;
    switch (v->type.kind) {
    case CF_KIND_VOID:
        break;
    case CF_KIND_BOOL:
        word = v->as.b ? 1 : 0;
        h.len = 8;
        break;
    case CF_KIND_I8:
    case CF_KIND_I16:
    case CF_KIND_I32:
    case CF_KIND_I64:
    case CF_KIND_U8:
    case CF_KIND_U16:
    case CF_KIND_U32:
    case CF_KIND_U64:
        word = v->as.u;
        h.len = 8;
        break;
    case CF_KIND_F32:
    case CF_KIND_F64:
        memcpy(&word, &v->as.f, 8);
        h.len = 8;
        break;
    case CF_KIND_STR:
        h.null = v->as.str == NULL;
        h.len = v->as.str != NULL ? (uint32_t)strlen(v->as.str) + 1 : 0;
        src = v->as.str;
        break;
    case CF_KIND_BYTES:
        h.len = (uint32_t)v->as.bytes.len;
        src = v->as.bytes.data;
        break;
    default: /* CF_KIND_STRUCT: checked before */
        h.len = v->type.size;
        src = v->as.data;
        break;
    }
    memcpy(dst, &h, sizeof h);
    if (h.len > 0)
        memcpy(data, src, h.len);
}

size_t cf__cell_size(const void *enc)
{
    cf__cell_hdr h;
    memcpy(&h, enc, sizeof h);
    return sizeof h + h.len;
}

bool cf__cell_equal(const void *a, const void *b)
{
    size_t n = cf__cell_size(a);
    return n == cf__cell_size(b) && memcmp(a, b, n) == 0;
}

uint64_t cf__cell_hash(const void *enc)
{
    const unsigned char *p = enc;
    size_t n = cf__cell_size(enc);
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ULL;
    return h;
}

void cf__cell_decode(const void *enc, cf_value *out)
{
    cf__cell_hdr h;
    memcpy(&h, enc, sizeof h);
    const unsigned char *data = (const unsigned char *)enc + sizeof h;
    memset(out, 0, sizeof *out);
    out->type.kind = h.kind;
    out->type.size = h.size;
    uint64_t word = 0;
    if (h.len == 8)
        memcpy(&word, data, 8);
    switch (h.kind) {
    case CF_KIND_VOID:
        break;
    case CF_KIND_BOOL:
        out->as.b = word != 0;
        break;
    case CF_KIND_F32:
    case CF_KIND_F64:
        memcpy(&out->as.f, &word, 8);
        break;
    case CF_KIND_STR:
        out->as.str = h.null ? NULL : (const char *)data;
        break;
    case CF_KIND_BYTES:
        out->as.bytes = (cf_bytes){data, h.len};
        break;
    case CF_KIND_STRUCT:
        out->as.data = data;
        break;
    default: /* integers */
        out->as.u = word;
        break;
    }
}

/* ---- Per-thread memory ------------------------------------------------------------ */

typedef struct cf__cell_buffers {
    void *buf[2];
    size_t cap[2];
} cf__cell_buffers;

static pthread_key_t cf__cell_key;
static pthread_once_t cf__cell_once = PTHREAD_ONCE_INIT;
static int cf__cell_key_rc;

static void cf__cell_tls_free(void *p)
{
    cf__cell_buffers *b = p;
    cf__free(b->buf[0]);
    cf__free(b->buf[1]);
    cf__free(b);
}

static void cf__cell_key_init(void)
{
    cf__cell_key_rc = -pthread_key_create(&cf__cell_key, cf__cell_tls_free);
}

void *cf__cell_tls(int slot, size_t n, const char *caller)
{
    pthread_once(&cf__cell_once, cf__cell_key_init);
    if (cf__cell_key_rc != 0) {
        cf__fail(cf__cell_key_rc, "%s: no thread-specific key", caller);
        return NULL;
    }
    cf__cell_buffers *b = pthread_getspecific(cf__cell_key);
    if (b == NULL) {
        b = cf__calloc(1, sizeof *b);
        if (b == NULL || pthread_setspecific(cf__cell_key, b) != 0) {
            cf__free(b);
            cf__fail(-ENOMEM, "%s: out of memory", caller);
            return NULL;
        }
    }
    if (b->cap[slot] < n) {
        void *p = cf__alloc(n);
        if (p == NULL) {
            cf__fail(-ENOMEM, "%s: out of memory for %zu bytes", caller, n);
            return NULL;
        }
        cf__free(b->buf[slot]);
        b->buf[slot] = p;
        b->cap[slot] = n;
    }
    return b->buf[slot];
}

/* ---- Arithmetic ----------------------------------------------------------------------- */

bool cf__cell_is_int(uint32_t kind)
{
    return kind >= CF_KIND_I8 && kind <= CF_KIND_U64;
}

int cf__cell_add_int(void *enc, int64_t delta, int64_t *result, const char *caller)
{
    cf__cell_hdr h;
    memcpy(&h, enc, sizeof h);
    if (!cf__cell_is_int(h.kind))
        return cf__fail(CF_ETYPE, "%s: the value is a %s, not an integer", caller,
                        cf_kind_name(h.kind));
    unsigned char *data = (unsigned char *)enc + sizeof h;
    uint64_t word;
    memcpy(&word, data, 8);
    bool is_signed = h.kind == CF_KIND_I8 || h.kind == CF_KIND_I16 || h.kind == CF_KIND_I32
                     || h.kind == CF_KIND_I64;
    unsigned bits = h.kind <= CF_KIND_U8 ? 8 : h.kind <= CF_KIND_U16 ? 16
                  : h.kind <= CF_KIND_U32 ? 32 : 64;
    if (is_signed) {
        int64_t old = (int64_t)word, sum;
        int64_t lo = bits == 64 ? INT64_MIN : -((int64_t)1 << (bits - 1));
        int64_t hi = bits == 64 ? INT64_MAX : ((int64_t)1 << (bits - 1)) - 1;
        if (__builtin_add_overflow(old, delta, &sum) || sum < lo || sum > hi)
            return cf__fail(-ERANGE, "%s: %" PRId64 " + %" PRId64 " does not fit in a %s", caller,
                            old, delta, cf_kind_name(h.kind));
        word = (uint64_t)sum;
        if (result != NULL)
            *result = sum;
    } else {
        uint64_t hi = bits == 64 ? UINT64_MAX : ((uint64_t)1 << bits) - 1;
        uint64_t sum;
        bool bad = delta >= 0 ? __builtin_add_overflow(word, (uint64_t)delta, &sum)
                              : __builtin_sub_overflow(word, -(uint64_t)delta, &sum);
        if (bad || sum > hi || (result != NULL && sum > (uint64_t)INT64_MAX))
            return cf__fail(-ERANGE, "%s: %" PRIu64 " + %" PRId64 " does not fit in a %s%s",
                            caller, word, delta, cf_kind_name(h.kind),
                            bad || sum > hi ? "" : " read back as an int64_t");
        word = sum;
        if (result != NULL)
            *result = (int64_t)sum;
    }
    memcpy(data, &word, 8);
    return 0;
}

int cf__cell_add_f64(void *enc, double delta, double *result, const char *caller)
{
    cf__cell_hdr h;
    memcpy(&h, enc, sizeof h);
    if (h.kind != CF_KIND_F32 && h.kind != CF_KIND_F64)
        return cf__fail(CF_ETYPE, "%s: the value is a %s, not a float or double", caller,
                        cf_kind_name(h.kind));
    unsigned char *data = (unsigned char *)enc + sizeof h;
    double x;
    memcpy(&x, data, 8);
    x += delta;
    if (h.kind == CF_KIND_F32)
        x = (float)x;
    memcpy(data, &x, 8);
    if (result != NULL)
        *result = x;
    return 0;
}
