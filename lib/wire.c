/* wire.c: encoding and decoding the process pool's messages.
 *
 * Design notes
 * - Encoding uses msgpack-c's packer, writing straight into the caller's
 *   cf__frame_out through a callback: no intermediate buffer, no allocation
 *   once the frame buffer has grown. Floats are the exception: their bits are
 *   written as they are, never through a floating-point register, so every
 *   NaN payload, infinity and -0.0 travels bit for bit on any ABI.
 * - Decoding uses the small validating reader below instead of msgpack-c's
 *   unpacker: it reads the payload in place, in one pass, checking each
 *   element against what the declaration expects, and builds nothing. (The
 *   unpacker builds a generic object tree in a zone first, which then needs
 *   the same checks; it measured slower, see doc/wire-format.md, and its
 *   errors cannot name the argument at fault.) Every read is bounds-checked
 *   against the payload's end, lengths are compared as sizes (no pointer
 *   arithmetic past the end), and every failure names the field, the byte
 *   offset and what was found.
 * - Memory: a cf__wire_decoder owns an arena for decoded strings (they need a
 *   terminating NUL, so they are copied) and the argument block. Both are
 *   reused from one decode to the next and only grow. Byte buffers are not
 *   copied: they point into the payload. While a CALL's arguments are decoded
 *   the arena may move, so string arguments are recorded as arena offsets and
 *   turned into pointers at the end.
 * - Tasks are named by their name, or by their key "name@file:line" when the
 *   name is shared (cf__task_wire_id, task.c); CALLs and CHUNKs find them
 *   with cf_task_find(), which takes either, and remember them in a
 *   few decoder slots, trusted only while the registry's generation is the
 *   one they were found under: a dlopen or dlclose clears them.
 * - Nothing here locks or keeps global state; a decoder or a frame buffer is
 *   used by one thread at a time.
 */
#include "config.h"

#include "wire.h"

#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <msgpack.h>

#include "alloc.h"
#include "error_priv.h"
#include "task_priv.h"

/* The MessagePack extension type of a struct's bytes. */
#define CF__WIRE_EXT_STRUCT 1

/* Fields of each message type, header included. */
static const uint32_t cf__wire_fields[] = {
    [CF__WIRE_HELLO] = 6, [CF__WIRE_CALL] = 5,     [CF__WIRE_RESULT] = 4,
    [CF__WIRE_FAILED] = 6, [CF__WIRE_SHUTDOWN] = 2, [CF__WIRE_VALUE] = 5,
    [CF__WIRE_CHUNK] = 13,
};
#define CF__WIRE_TYPE_MAX CF__WIRE_CHUNK

const char *cf__wire_type_name(uint32_t type)
{
    switch (type) {
    case CF__WIRE_HELLO: return "HELLO";
    case CF__WIRE_CALL: return "CALL";
    case CF__WIRE_RESULT: return "RESULT";
    case CF__WIRE_FAILED: return "FAILED";
    case CF__WIRE_SHUTDOWN: return "SHUTDOWN";
    case CF__WIRE_VALUE: return "VALUE";
    case CF__WIRE_CHUNK: return "CHUNK";
    default: return "unknown";
    }
}

/* ---- Descriptors --------------------------------------------------------------- */

/* The size a value of `kind` must have in C, or 0 when any size goes (struct). */
static uint32_t cf__kind_size(uint32_t kind)
{
    switch (kind) {
    case CF_KIND_VOID: return 0;
    case CF_KIND_BOOL: return sizeof(bool);
    case CF_KIND_I8: case CF_KIND_U8: return 1;
    case CF_KIND_I16: case CF_KIND_U16: return 2;
    case CF_KIND_I32: case CF_KIND_U32: case CF_KIND_F32: return 4;
    case CF_KIND_I64: case CF_KIND_U64: case CF_KIND_F64: return 8;
    case CF_KIND_STR: return sizeof(const char *);
    case CF_KIND_BYTES: return sizeof(cf_bytes);
    case CF_KIND_PTR: return sizeof(void *);
    default: return 0;
    }
}

static bool cf__type_sane(cf_type t)
{
    if (t.kind >= CF_KIND_COUNT_)
        return false;
    return t.kind == CF_KIND_STRUCT || t.size == cf__kind_size(t.kind);
}

/* Check a descriptor before its argument block is read or written: the shape
 * CF_TASK makes, sizes that match the kinds, and no raw pointer (`err_ptr`
 * says what a raw pointer gives: CF_EUNSUPPORTED encoding, CF_EDECODE
 * decoding). */
static int cf__wire_check_task(const cf_task *task, const char *what, int err_ptr)
{
    if (task == NULL)
        return cf__fail(CF_EINVAL, "%s: NULL task", what);
    int rc = cf__task_check(task);
    if (rc != 0)
        return rc;
    if (task->args_align == 0 || (task->args_align & (task->args_align - 1)) != 0)
        return cf__fail(CF_EINVAL, "%s: task '%s' has an argument alignment of %u", what,
                        task->name, task->args_align);
    for (uint32_t i = 0; i < task->nparams; i++) {
        cf_type t = task->params[i];
        if (!cf__type_sane(t))
            return cf__fail(CF_EINVAL, "%s: argument %u of task '%s' is a %s of %u bytes", what,
                            i + 1, task->name, cf_kind_name(t.kind), t.size);
        if (t.kind == CF_KIND_PTR)
            return cf__fail(err_ptr,
                            "%s: argument %u of task '%s' is a raw pointer, which cannot "
                            "travel between processes",
                            what, i + 1, task->name);
    }
    return 0;
}

static int cf__wire_check_result(const cf_task *task, const char *what, int err_ptr)
{
    if (task == NULL)
        return cf__fail(CF_EINVAL, "%s: NULL task", what);
    int rc = cf__task_check(task);
    if (rc != 0)
        return rc;
    if (!cf__type_sane(task->result))
        return cf__fail(CF_EINVAL, "%s: the result of task '%s' is a %s of %u bytes", what,
                        task->name, cf_kind_name(task->result.kind), task->result.size);
    if (task->result.kind == CF_KIND_PTR)
        return cf__fail(err_ptr,
                        "%s: the result of task '%s' is a raw pointer, which cannot travel "
                        "between processes",
                        what, task->name);
    return 0;
}

/* ---- Encoding ------------------------------------------------------------------ */

static int cf__pack_to_frame(void *data, const char *buf, size_t len)
{
    cf__frame_append((cf__frame_out *)data, buf, len);
    return 0;
}

static void cf__pack_init(msgpack_packer *pk, cf__frame_out *out)
{
    msgpack_packer_init(pk, out, cf__pack_to_frame);
}

/* The header every message starts with: [version, type, ...]. */
static void cf__pack_header(msgpack_packer *pk, uint32_t type)
{
    msgpack_pack_array(pk, cf__wire_fields[type]);
    msgpack_pack_uint8(pk, CF__WIRE_VERSION);
    msgpack_pack_uint8(pk, (uint8_t)type);
}

static void cf__pack_bits32(msgpack_packer *pk, const void *src)
{
    uint32_t bits;
    memcpy(&bits, src, sizeof bits);
    uint8_t buf[5] = {0xca};
    bits = htobe32(bits);
    memcpy(buf + 1, &bits, sizeof bits);
    pk->callback(pk->data, (const char *)buf, sizeof buf);
}

static void cf__pack_bits64(msgpack_packer *pk, const void *src)
{
    uint64_t bits;
    memcpy(&bits, src, sizeof bits);
    uint8_t buf[9] = {0xcb};
    bits = htobe64(bits);
    memcpy(buf + 1, &bits, sizeof bits);
    pk->callback(pk->data, (const char *)buf, sizeof buf);
}

static void cf__pack_opt_str(msgpack_packer *pk, const char *s)
{
    if (s == NULL)
        msgpack_pack_nil(pk);
    else
        msgpack_pack_str_with_body(pk, s, strlen(s));
}

/* Who a value belongs to, for messages: "argument 2 of task 'f'" (arg is
 * 1-based), "the result of task 'f'" (arg 0) or "the value" (no task). */
static const char *cf__who(char *buf, size_t size, const cf_task *task, unsigned arg)
{
    if (task == NULL)
        snprintf(buf, size, "the value");
    else if (arg > 0)
        snprintf(buf, size, "argument %u of task '%s'", arg, task->name);
    else
        snprintf(buf, size, "the result of task '%s'", task->name);
    return buf;
}

/* Pack the integer of type T at src with msgpack-c's packer `fn`, which
 * picks the smallest form for the value. */
#define CF__PACK_INT(T, fn)                                                        \
    do {                                                                           \
        T x_;                                                                      \
        memcpy(&x_, src, sizeof x_);                                               \
        fn(pk, x_);                                                                \
        return 0;                                                                  \
    } while (0)

/* Pack the C object of type t at src. `limit` is the frame's payload limit
 * (a string or buffer longer than that cannot fit; checked here so that the
 * message names it). */
static int cf__pack_value(msgpack_packer *pk, const cf_task *task, unsigned arg, cf_type t,
                          const uint8_t *src, uint32_t limit, const char *what)
{
    char who[160];
    switch (t.kind) {
    case CF_KIND_VOID:
        msgpack_pack_nil(pk);
        return 0;
    case CF_KIND_BOOL: {
        uint8_t raw;
        memcpy(&raw, src, 1);
        if (raw != 0)
            msgpack_pack_true(pk);
        else
            msgpack_pack_false(pk);
        return 0;
    }
    case CF_KIND_I8: CF__PACK_INT(int8_t, msgpack_pack_int8);
    case CF_KIND_U8: CF__PACK_INT(uint8_t, msgpack_pack_uint8);
    case CF_KIND_I16: CF__PACK_INT(int16_t, msgpack_pack_int16);
    case CF_KIND_U16: CF__PACK_INT(uint16_t, msgpack_pack_uint16);
    case CF_KIND_I32: CF__PACK_INT(int32_t, msgpack_pack_int32);
    case CF_KIND_U32: CF__PACK_INT(uint32_t, msgpack_pack_uint32);
    case CF_KIND_I64: CF__PACK_INT(int64_t, msgpack_pack_int64);
    case CF_KIND_U64: CF__PACK_INT(uint64_t, msgpack_pack_uint64);
    case CF_KIND_F32:
        cf__pack_bits32(pk, src);
        return 0;
    case CF_KIND_F64:
        cf__pack_bits64(pk, src);
        return 0;
    case CF_KIND_STR: {
        const char *s;
        memcpy(&s, src, sizeof s);
        if (s == NULL) {
            msgpack_pack_nil(pk);
            return 0;
        }
        size_t n = strlen(s);
        if (n > limit)
            return cf__fail(CF_ETOOBIG,
                            "%s: %s is a string of %zu bytes, larger than the %" PRIu32
                            "-byte frame limit",
                            what, cf__who(who, sizeof who, task, arg), n, limit);
        msgpack_pack_str_with_body(pk, s, n);
        return 0;
    }
    case CF_KIND_BYTES: {
        cf_bytes b;
        memcpy(&b, src, sizeof b);
        if (b.data == NULL && b.len > 0)
            return cf__fail(CF_EINVAL, "%s: %s is %zu bytes at NULL", what,
                            cf__who(who, sizeof who, task, arg), b.len);
        if (b.len > limit)
            return cf__fail(CF_ETOOBIG,
                            "%s: %s is %zu bytes, larger than the %" PRIu32 "-byte frame limit",
                            what, cf__who(who, sizeof who, task, arg), b.len, limit);
        msgpack_pack_bin(pk, b.len);
        if (b.len > 0)
            msgpack_pack_bin_body(pk, b.data, b.len);
        return 0;
    }
    case CF_KIND_STRUCT:
        if (t.size > limit)
            return cf__fail(CF_ETOOBIG,
                            "%s: %s is a %" PRIu32 "-byte struct, larger than the %" PRIu32
                            "-byte frame limit",
                            what, cf__who(who, sizeof who, task, arg), t.size, limit);
        msgpack_pack_ext(pk, t.size, CF__WIRE_EXT_STRUCT);
        msgpack_pack_ext_body(pk, src, t.size);
        return 0;
    default: /* CF_KIND_PTR: refused by the descriptor checks */
        return cf__fail(CF_EUNSUPPORTED, "%s: %s is a raw pointer, which cannot travel between "
                        "processes", what, cf__who(who, sizeof who, task, arg));
    }
}

/* Seal the frame, naming the message when it is too big. */
static int cf__wire_end(cf__frame_out *out, const char *what, const char *task_name)
{
    uint32_t limit = out->limit;
    int rc = cf__frame_end(out);
    if (rc == CF_ETOOBIG)
        return cf__fail(rc, "%s%s%s%s is larger than the %" PRIu32 "-byte frame limit", what,
                        task_name != NULL ? " of task '" : "", task_name != NULL ? task_name : "",
                        task_name != NULL ? "'" : "", limit);
    return rc;
}

/* The task a CALL or CHUNK names: its name, or its key when the name is
 * shared (cf__task_wire_id). */
static void cf__pack_task(msgpack_packer *pk, const cf_task *task)
{
    char buf[CF__TASK_ID_MAX];
    size_t len;
    const char *task_id = cf__task_wire_id(task, buf, sizeof buf, &len);
    msgpack_pack_str_with_body(pk, task_id, len);
}

int cf__wire_encode_call(cf__frame_out *out, uint64_t id, const cf_task *task, const void *args)
{
    int rc = cf__wire_check_task(task, "CALL", CF_EUNSUPPORTED);
    if (rc != 0)
        return rc;
    if (args == NULL && task->nparams > 0)
        return cf__fail(CF_EINVAL, "CALL: task '%s' takes %u arguments, got no argument block",
                        task->name, task->nparams);
    msgpack_packer pk;
    cf__pack_init(&pk, out);
    cf__frame_begin(out);
    cf__pack_header(&pk, CF__WIRE_CALL);
    msgpack_pack_uint64(&pk, id);
    cf__pack_task(&pk, task);
    msgpack_pack_array(&pk, task->nparams);
    for (uint32_t i = 0; i < task->nparams; i++) {
        rc = cf__pack_value(&pk, task, i + 1, task->params[i],
                            (const uint8_t *)args + task->offsets[i], out->limit, "CALL");
        if (rc != 0) {
            cf__frame_abort(out);
            return rc;
        }
    }
    return cf__wire_end(out, "CALL", task->name);
}

int cf__wire_encode_result(cf__frame_out *out, uint64_t id, const cf_task *task, const void *slot)
{
    int rc = cf__wire_check_result(task, "RESULT", CF_EUNSUPPORTED);
    if (rc != 0)
        return rc;
    if (slot == NULL && task->result.kind != CF_KIND_VOID)
        return cf__fail(CF_EINVAL, "RESULT: NULL result slot for task '%s'", task->name);
    msgpack_packer pk;
    cf__pack_init(&pk, out);
    cf__frame_begin(out);
    cf__pack_header(&pk, CF__WIRE_RESULT);
    msgpack_pack_uint64(&pk, id);
    rc = cf__pack_value(&pk, task, 0, task->result, slot, out->limit, "RESULT");
    if (rc != 0) {
        cf__frame_abort(out);
        return rc;
    }
    return cf__wire_end(out, "RESULT", task->name);
}

int cf__wire_encode_failed(cf__frame_out *out, uint64_t id, int code, int detail,
                           const char *message)
{
    if (code >= 0)
        return cf__fail(CF_EINVAL, "FAILED: the error code must be negative, got %d", code);
    msgpack_packer pk;
    cf__pack_init(&pk, out);
    cf__frame_begin(out);
    cf__pack_header(&pk, CF__WIRE_FAILED);
    msgpack_pack_uint64(&pk, id);
    msgpack_pack_int32(&pk, code);
    msgpack_pack_int32(&pk, detail);
    cf__pack_opt_str(&pk, message);
    return cf__wire_end(out, "FAILED", NULL);
}

int cf__wire_encode_hello(cf__frame_out *out, const cf__wire_hello *hello)
{
    if (hello == NULL)
        return cf__fail(CF_EINVAL, "HELLO: NULL hello");
    if (hello->pid <= 0)
        return cf__fail(CF_EINVAL, "HELLO: invalid process id %" PRId32, hello->pid);
    if (hello->code > 0)
        return cf__fail(CF_EINVAL, "HELLO: the error code must be 0 or negative, got %d",
                        hello->code);
    if (hello->code == 0 && (hello->detail != 0 || hello->message != NULL))
        return cf__fail(CF_EINVAL, "HELLO: a ready worker has no failure detail or message");
    msgpack_packer pk;
    cf__pack_init(&pk, out);
    cf__frame_begin(out);
    cf__pack_header(&pk, CF__WIRE_HELLO);
    msgpack_pack_int32(&pk, hello->pid);
    msgpack_pack_int32(&pk, hello->code);
    msgpack_pack_int32(&pk, hello->detail);
    cf__pack_opt_str(&pk, hello->message);
    return cf__wire_end(out, "HELLO", NULL);
}

int cf__wire_encode_value(cf__frame_out *out, cf_type type, const void *src)
{
    if (!cf__type_sane(type))
        return cf__fail(CF_EINVAL, "VALUE: a %s of %" PRIu32 " bytes is not a value type",
                        cf_kind_name(type.kind), type.size);
    if (type.kind == CF_KIND_PTR)
        return cf__fail(CF_EUNSUPPORTED,
                        "VALUE: a raw pointer cannot travel between processes");
    if (src == NULL && type.kind != CF_KIND_VOID)
        return cf__fail(CF_EINVAL, "VALUE: NULL source for a %s", cf_kind_name(type.kind));
    msgpack_packer pk;
    cf__pack_init(&pk, out);
    cf__frame_begin(out);
    cf__pack_header(&pk, CF__WIRE_VALUE);
    msgpack_pack_uint32(&pk, type.kind);
    msgpack_pack_uint32(&pk, type.size);
    int rc = cf__pack_value(&pk, NULL, 0, type, src, out->limit, "VALUE");
    if (rc != 0) {
        cf__frame_abort(out);
        return rc;
    }
    return cf__wire_end(out, "VALUE", NULL);
}

static void cf__pack_ref(msgpack_packer *pk, const cf__wire_ref *ref)
{
    if (ref->fd == CF__WIRE_NO_REF) {
        msgpack_pack_nil(pk);
        return;
    }
    msgpack_pack_array(pk, 3);
    msgpack_pack_uint32(pk, ref->fd);
    msgpack_pack_uint64(pk, ref->offset);
    msgpack_pack_uint64(pk, ref->stride);
}

int cf__wire_encode_chunk(cf__frame_out *out, uint64_t id, const cf__wire_chunk *c,
                          const int *fds)
{
    if (c == NULL)
        return cf__fail(CF_EINVAL, "CHUNK: NULL chunk");
    int rc = cf__wire_check_task(c->task, "CHUNK", CF_EUNSUPPORTED);
    if (rc == 0)
        rc = cf__wire_check_result(c->task, "CHUNK", CF_EUNSUPPORTED);
    if (rc != 0)
        return rc;
    if (c->count == 0 || (c->nfds > 0 && fds == NULL))
        return cf__fail(CF_EINVAL, "CHUNK: %s", c->count == 0 ? "no elements" : "NULL fds");
    msgpack_packer pk;
    cf__pack_init(&pk, out);
    cf__frame_begin(out);
    for (uint32_t i = 0; i < c->nfds && rc == 0; i++)
        rc = cf__frame_attach_fd(out, fds[i]);
    if (rc != 0) {
        cf__frame_abort(out);
        return rc;
    }
    const cf_task *t = c->task;
    cf__pack_header(&pk, CF__WIRE_CHUNK);
    msgpack_pack_uint64(&pk, id);
    msgpack_pack_uint32(&pk, c->nfds);
    cf__pack_task(&pk, t);
    msgpack_pack_uint64(&pk, c->first);
    msgpack_pack_uint64(&pk, c->count);
    msgpack_pack_uint32(&pk, c->flags);
    msgpack_pack_int64(&pk, c->deadline);
    if (c->flags & CF__WIRE_CHUNK_INLINE) {
        msgpack_pack_array(&pk, (size_t)c->count);
        for (uint64_t e = 0; e < c->count && rc == 0; e++) {
            msgpack_pack_array(&pk, t->nparams);
            for (uint32_t k = 0; k < t->nparams && rc == 0; k++)
                rc = cf__pack_value(&pk, t, k + 1, t->params[k],
                                    (const uint8_t *)c->src[k] + e * c->src_stride[k], out->limit,
                                    "CHUNK");
        }
    } else {
        msgpack_pack_array(&pk, t->nparams);
        for (uint32_t k = 0; k < t->nparams; k++)
            cf__pack_ref(&pk, &c->in[k]);
    }
    if (rc != 0) {
        cf__frame_abort(out);
        return rc;
    }
    cf__pack_ref(&pk, &c->out);
    cf__pack_ref(&pk, &c->status);
    cf__pack_ref(&pk, &c->stop);
    return cf__wire_end(out, "CHUNK", t->name);
}

int cf__wire_encode_shutdown(cf__frame_out *out)
{
    msgpack_packer pk;
    cf__pack_init(&pk, out);
    cf__frame_begin(out);
    cf__pack_header(&pk, CF__WIRE_SHUTDOWN);
    return cf__wire_end(out, "SHUTDOWN", NULL);
}

/* ---- The validating reader ----------------------------------------------------- */

typedef struct cf__rd {
    const uint8_t *start;  /* the payload */
    const uint8_t *p;      /* next byte */
    const uint8_t *end;
    const uint8_t *elem;   /* start of the element being read (for messages) */
    const char *msg;       /* "CALL", ... or "message" before the type is known */
    /* What is being read: a header field, or a value of a task. */
    const char *field;     /* a field's name, or NULL for a value */
    const cf_task *task;
    unsigned arg;          /* value: 1-based argument, or 0 for the result */
} cf__rd;

static void cf__rd_init(cf__rd *r, const void *payload, size_t len)
{
    memset(r, 0, sizeof *r);
    r->start = r->p = r->elem = payload;
    r->end = len > 0 ? r->start + len : r->start; /* no arithmetic on a NULL start */
    r->msg = "message";
}

static void cf__rd_field(cf__rd *r, const char *field)
{
    r->field = field;
    r->elem = r->p;
}

static void cf__rd_value(cf__rd *r, const cf_task *task, unsigned arg)
{
    r->field = NULL;
    r->task = task;
    r->arg = arg;
    r->elem = r->p;
}

/* Fail with CF_EDECODE: "<msg> at byte <n>: <what is read>: <detail>". */
__attribute__((format(printf, 2, 3))) static int cf__bad(const cf__rd *r, const char *fmt, ...)
{
    char detail[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    size_t at = (size_t)(r->elem - r->start);
    if (r->field != NULL)
        return cf__fail(CF_EDECODE, "%s at byte %zu: %s: %s", r->msg, at, r->field, detail);
    if (r->task != NULL && r->arg > 0)
        return cf__fail(CF_EDECODE, "%s at byte %zu: argument %u of task '%s': %s", r->msg, at,
                        r->arg, r->task->name, detail);
    if (r->task != NULL)
        return cf__fail(CF_EDECODE, "%s at byte %zu: the result of task '%s': %s", r->msg, at,
                        r->task->name, detail);
    return cf__fail(CF_EDECODE, "%s at byte %zu: %s", r->msg, at, detail);
}

/* What a MessagePack element starting with byte b is, for messages. */
static const char *cf__tag_name(uint8_t b)
{
    if (b <= 0x7f || b >= 0xe0 || (b >= 0xcc && b <= 0xd3))
        return "an integer";
    if (b <= 0x8f || b == 0xde || b == 0xdf)
        return "a map";
    if (b <= 0x9f || b == 0xdc || b == 0xdd)
        return "an array";
    if (b <= 0xbf || (b >= 0xd9 && b <= 0xdb))
        return "a string";
    switch (b) {
    case 0xc0: return "nil";
    case 0xc1: return "the unused byte 0xc1";
    case 0xc2: case 0xc3: return "a boolean";
    case 0xc4: case 0xc5: case 0xc6: return "a binary";
    case 0xca: return "a float32";
    case 0xcb: return "a float64";
    default: return "an extension"; /* 0xc7..0xc9, 0xd4..0xd8 */
    }
}

static size_t cf__left(const cf__rd *r)
{
    return (size_t)(r->end - r->p);
}

static int cf__truncated(const cf__rd *r, size_t need)
{
    return cf__bad(r, "the message ends %zu bytes short", need - cf__left(r));
}

/* Take n bytes (after checking they are there). */
static int cf__take(cf__rd *r, size_t n, const uint8_t **bytes)
{
    if (cf__left(r) < n)
        return cf__truncated(r, n);
    *bytes = r->p;
    r->p += n;
    return 0;
}

static int cf__tag(cf__rd *r, uint8_t *tag)
{
    if (r->p == r->end)
        return cf__truncated(r, 1);
    *tag = *r->p++;
    return 0;
}

/* A big-endian unsigned integer of n (1, 2, 4 or 8) bytes. */
static int cf__be(cf__rd *r, size_t n, uint64_t *v)
{
    const uint8_t *b = NULL;
    int rc = cf__take(r, n, &b);
    if (rc != 0)
        return rc;
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++)
        x = (x << 8) | b[i];
    *v = x;
    return 0;
}

/* An integer of any MessagePack width: negative values in *s (with *neg),
 * the others in *u. */
typedef struct cf__int {
    bool neg;
    int64_t s;
    uint64_t u;
} cf__int;

static int cf__read_int_tagged(cf__rd *r, uint8_t tag, cf__int *v, const char *expected)
{
    uint64_t x = 0;
    int rc;
    v->neg = false;
    if (tag <= 0x7f) {
        v->u = tag;
        return 0;
    }
    if (tag >= 0xe0) {
        v->neg = true;
        v->s = (int8_t)tag;
        return 0;
    }
    switch (tag) {
    case 0xcc: case 0xcd: case 0xce: case 0xcf:
        rc = cf__be(r, (size_t)1 << (tag - 0xcc), &x);
        if (rc != 0)
            return rc;
        v->u = x;
        return 0;
    case 0xd0: case 0xd1: case 0xd2: case 0xd3: {
        size_t n = (size_t)1 << (tag - 0xd0);
        rc = cf__be(r, n, &x);
        if (rc != 0)
            return rc;
        /* Sign-extend the n-byte two's complement value. */
        uint64_t sign = 1ull << (8 * n - 1);
        int64_t s = n == 8 ? (int64_t)x : (int64_t)(x ^ sign) - (int64_t)sign;
        if (s < 0) {
            v->neg = true;
            v->s = s;
        } else {
            v->u = (uint64_t)s;
        }
        return 0;
    }
    default:
        return cf__bad(r, "expected %s, got %s", expected, cf__tag_name(tag));
    }
}

static int cf__read_int(cf__rd *r, cf__int *v, const char *expected)
{
    uint8_t tag = 0;
    int rc = cf__tag(r, &tag);
    return rc != 0 ? rc : cf__read_int_tagged(r, tag, v, expected);
}

/* An integer that must lie in [lo, hi], with lo <= 0 <= hi or 0 < lo <= hi. */
static int cf__read_int_in(cf__rd *r, int64_t lo, uint64_t hi, cf__int *v)
{
    int rc = cf__read_int(r, v, "an integer");
    if (rc != 0)
        return rc;
    if (v->neg ? v->s < lo : (v->u > hi || (lo > 0 && v->u < (uint64_t)lo)))
        return v->neg ? cf__bad(r, "%" PRId64 " is out of range", v->s)
                      : cf__bad(r, "%" PRIu64 " is out of range", v->u);
    return 0;
}

/* The length after the tag of a family whose 8-, 16- and 32-bit length forms
 * are tag8, tag8 + 1 and tag8 + 2 (str, bin, ext). */
static int cf__read_len(cf__rd *r, uint8_t tag, uint8_t tag8, size_t *len)
{
    uint64_t n = 0;
    int rc = cf__be(r, (size_t)1 << (tag - tag8), &n);
    if (rc == 0)
        *len = (size_t)n;
    return rc;
}

/* A string (tag already read), or false in *is_str when the tag is no string. */
static int cf__read_str_tagged(cf__rd *r, uint8_t tag, const uint8_t **s, size_t *len,
                               bool *is_str)
{
    *is_str = true;
    int rc;
    if (tag >= 0xa0 && tag <= 0xbf)
        *len = tag & 0x1f;
    else if (tag >= 0xd9 && tag <= 0xdb) {
        rc = cf__read_len(r, tag, 0xd9, len);
        if (rc != 0)
            return rc;
    } else {
        *is_str = false;
        return 0;
    }
    rc = cf__take(r, *len, s);
    if (rc != 0)
        return rc;
    if (memchr(*s, '\0', *len) != NULL)
        return cf__bad(r, "the string holds a NUL byte");
    return 0;
}

/* A string or nil (NULL). */
static int cf__read_opt_str(cf__rd *r, const uint8_t **s, size_t *len)
{
    uint8_t tag = 0;
    int rc = cf__tag(r, &tag);
    if (rc != 0)
        return rc;
    if (tag == 0xc0) {
        *s = NULL;
        *len = 0;
        return 0;
    }
    bool is_str;
    rc = cf__read_str_tagged(r, tag, s, len, &is_str);
    if (rc == 0 && !is_str)
        return cf__bad(r, "expected a string or nil, got %s", cf__tag_name(tag));
    return rc;
}

static int cf__read_array(cf__rd *r, size_t *n)
{
    uint8_t tag = 0;
    int rc = cf__tag(r, &tag);
    if (rc != 0)
        return rc;
    if (tag >= 0x90 && tag <= 0x9f) {
        *n = tag & 0x0f;
        return 0;
    }
    if (tag == 0xdc || tag == 0xdd) {
        uint64_t x = 0;
        rc = cf__be(r, tag == 0xdc ? 2 : 4, &x);
        if (rc == 0)
            *n = (size_t)x;
        return rc;
    }
    return cf__bad(r, "expected an array, got %s", cf__tag_name(tag));
}

static int cf__read_end(cf__rd *r)
{
    r->field = "end of message";
    r->elem = r->p;
    if (r->p != r->end)
        return cf__bad(r, "%zu byte%s after the last field", cf__left(r),
                       cf__left(r) == 1 ? "" : "s");
    return 0;
}

/* ---- The decoder's memory ------------------------------------------------------ */

void cf__wire_decoder_init(cf__wire_decoder *dec)
{
    memset(dec, 0, sizeof *dec);
}

void cf__wire_decoder_free(cf__wire_decoder *dec)
{
    cf__free(dec->arena);
    cf__free(dec->block_mem);
    cf__wire_decoder_init(dec);
}

/* Copy n bytes into the arena with a terminating NUL; *at gets their offset. */
static int cf__arena_copy(cf__wire_decoder *dec, const uint8_t *s, size_t n, size_t *at)
{
    if (n >= dec->arena_cap - dec->arena_len) {
        size_t need = dec->arena_len + n + 1;
        size_t cap = dec->arena_cap > 0 ? dec->arena_cap : 256;
        while (cap < need)
            cap *= 2;
        char *p = cf__realloc(dec->arena, cap);
        if (p == NULL)
            return cf__fail(-ENOMEM, "out of memory decoding a %zu-byte string", n);
        dec->arena = p;
        dec->arena_cap = cap;
    }
    memcpy(dec->arena + dec->arena_len, s, n);
    dec->arena[dec->arena_len + n] = '\0';
    *at = dec->arena_len;
    dec->arena_len += n + 1;
    return 0;
}

/* A zeroed block of `size` bytes aligned to `align` (a power of two). */
static void *cf__block(cf__wire_decoder *dec, size_t size, size_t align)
{
    size_t need = size + align - 1;
    if (need > dec->block_mem_size) {
        size_t want = need < 256 ? 256 : need;
        void *p = cf__alloc(want);
        if (p == NULL)
            return NULL;
        cf__free(dec->block_mem);
        dec->block_mem = p;
        dec->block_mem_size = want;
    }
    uintptr_t at = ((uintptr_t)dec->block_mem + align - 1) & ~(uintptr_t)(align - 1);
    memset((void *)at, 0, size);
    return (void *)at;
}

/* ---- Values -------------------------------------------------------------------- */

/* Decode one value of type t into out (a C object of that type). A string
 * goes to the arena: *str_at gets its offset, or SIZE_MAX for NULL, and out
 * is left for the caller to point at it. */
static int cf__read_value(cf__wire_decoder *dec, cf__rd *r, cf_type t, uint8_t *out,
                          size_t *str_at)
{
    uint8_t tag = 0;
    int rc = cf__tag(r, &tag);
    if (rc != 0)
        return rc;
    const char *kind = cf_kind_name(t.kind);
    switch (t.kind) {
    case CF_KIND_VOID:
        if (tag != 0xc0)
            return cf__bad(r, "expected nil (void), got %s", cf__tag_name(tag));
        return 0;
    case CF_KIND_BOOL: {
        if (tag != 0xc2 && tag != 0xc3)
            return cf__bad(r, "expected bool, got %s", cf__tag_name(tag));
        bool b = tag == 0xc3;
        memcpy(out, &b, sizeof b);
        return 0;
    }
    case CF_KIND_I8: case CF_KIND_I16: case CF_KIND_I32: case CF_KIND_I64: {
        cf__int v;
        rc = cf__read_int_tagged(r, tag, &v, kind);
        if (rc != 0)
            return rc;
        int bits = 8 * (int)t.size;
        int64_t lo = bits == 64 ? INT64_MIN : -((int64_t)1 << (bits - 1));
        uint64_t hi = bits == 64 ? (uint64_t)INT64_MAX : ((uint64_t)1 << (bits - 1)) - 1;
        if (v.neg ? v.s < lo : v.u > hi)
            return v.neg ? cf__bad(r, "%" PRId64 " is out of range for %s", v.s, kind)
                         : cf__bad(r, "%" PRIu64 " is out of range for %s", v.u, kind);
        int64_t x = v.neg ? v.s : (int64_t)v.u;
        switch (t.size) {
        case 1: { int8_t y = (int8_t)x; memcpy(out, &y, 1); break; }
        case 2: { int16_t y = (int16_t)x; memcpy(out, &y, 2); break; }
        case 4: { int32_t y = (int32_t)x; memcpy(out, &y, 4); break; }
        default: memcpy(out, &x, 8); break;
        }
        return 0;
    }
    case CF_KIND_U8: case CF_KIND_U16: case CF_KIND_U32: case CF_KIND_U64: {
        cf__int v;
        rc = cf__read_int_tagged(r, tag, &v, kind);
        if (rc != 0)
            return rc;
        uint64_t hi = t.size == 8 ? UINT64_MAX : ((uint64_t)1 << (8 * t.size)) - 1;
        if (v.neg)
            return cf__bad(r, "%" PRId64 " is out of range for %s", v.s, kind);
        if (v.u > hi)
            return cf__bad(r, "%" PRIu64 " is out of range for %s", v.u, kind);
        switch (t.size) {
        case 1: { uint8_t y = (uint8_t)v.u; memcpy(out, &y, 1); break; }
        case 2: { uint16_t y = (uint16_t)v.u; memcpy(out, &y, 2); break; }
        case 4: { uint32_t y = (uint32_t)v.u; memcpy(out, &y, 4); break; }
        default: memcpy(out, &v.u, 8); break;
        }
        return 0;
    }
    case CF_KIND_F32: case CF_KIND_F64: {
        uint8_t want = t.kind == CF_KIND_F32 ? 0xca : 0xcb;
        if (tag != want)
            return cf__bad(r, "expected %s (%s), got %s", kind, cf__tag_name(want),
                           cf__tag_name(tag));
        uint64_t bits = 0;
        rc = cf__be(r, t.size, &bits);
        if (rc != 0)
            return rc;
        if (t.size == 4) {
            uint32_t b32 = (uint32_t)bits;
            memcpy(out, &b32, 4);
        } else {
            memcpy(out, &bits, 8);
        }
        return 0;
    }
    case CF_KIND_STR: {
        if (tag == 0xc0) {
            *str_at = SIZE_MAX;
            return 0;
        }
        const uint8_t *s;
        size_t len;
        bool is_str;
        rc = cf__read_str_tagged(r, tag, &s, &len, &is_str);
        if (rc != 0)
            return rc;
        if (!is_str)
            return cf__bad(r, "expected string (or nil), got %s", cf__tag_name(tag));
        return cf__arena_copy(dec, s, len, str_at);
    }
    case CF_KIND_BYTES: {
        if (tag < 0xc4 || tag > 0xc6)
            return cf__bad(r, "expected bytes (a binary), got %s", cf__tag_name(tag));
        cf_bytes b;
        rc = cf__read_len(r, tag, 0xc4, &b.len);
        const uint8_t *data = NULL;
        if (rc == 0)
            rc = cf__take(r, b.len, &data);
        if (rc != 0)
            return rc;
        b.data = b.len > 0 ? data : NULL;
        memcpy(out, &b, sizeof b);
        return 0;
    }
    case CF_KIND_STRUCT: {
        size_t len;
        if (tag >= 0xd4 && tag <= 0xd8) {
            len = (size_t)1 << (tag - 0xd4);
        } else if (tag >= 0xc7 && tag <= 0xc9) {
            rc = cf__read_len(r, tag, 0xc7, &len);
            if (rc != 0)
                return rc;
        } else {
            return cf__bad(r, "expected a %" PRIu32 "-byte struct (an extension), got %s",
                           t.size, cf__tag_name(tag));
        }
        const uint8_t *type_byte = NULL, *data = NULL;
        rc = cf__take(r, 1, &type_byte);
        if (rc != 0)
            return rc;
        if ((int8_t)*type_byte != CF__WIRE_EXT_STRUCT)
            return cf__bad(r, "expected a struct (extension type %d), got extension type %d",
                           CF__WIRE_EXT_STRUCT, (int8_t)*type_byte);
        if (len != t.size)
            return cf__bad(r, "expected a %" PRIu32 "-byte struct, got %zu bytes", t.size, len);
        rc = cf__take(r, len, &data);
        if (rc != 0)
            return rc;
        memcpy(out, data, len);
        return 0;
    }
    default: /* CF_KIND_PTR: refused by the descriptor checks */
        return cf__bad(r, "a raw pointer cannot travel between processes");
    }
}

/* ---- Messages ------------------------------------------------------------------ */

int cf__wire_open(cf__wire_msg *msg, const void *payload, size_t len)
{
    memset(msg, 0, sizeof *msg);
    if (payload == NULL && len > 0)
        return cf__fail(CF_EINVAL, "cf__wire_open: NULL payload");
    cf__rd r;
    cf__rd_init(&r, payload, len);
    size_t fields;
    cf__rd_field(&r, "header");
    if (len == 0)
        return cf__bad(&r, "empty message");
    int rc = cf__read_array(&r, &fields);
    if (rc != 0)
        return rc;
    if (fields < 2)
        return cf__bad(&r, "an array of %zu fields, at least 2 expected", fields);
    cf__int v;
    cf__rd_field(&r, "version");
    rc = cf__read_int(&r, &v, "the wire version (an integer)");
    if (rc != 0)
        return rc;
    if (v.neg || v.u != CF__WIRE_VERSION)
        return v.neg ? cf__bad(&r, "unsupported wire version %" PRId64 " (this side speaks %d)",
                               v.s, CF__WIRE_VERSION)
                     : cf__bad(&r, "unsupported wire version %" PRIu64 " (this side speaks %d)",
                               v.u, CF__WIRE_VERSION);
    cf__rd_field(&r, "message type");
    rc = cf__read_int(&r, &v, "the message type (an integer)");
    if (rc != 0)
        return rc;
    if (v.neg || v.u == 0 || v.u > CF__WIRE_TYPE_MAX)
        return v.neg ? cf__bad(&r, "unknown message type %" PRId64, v.s)
                     : cf__bad(&r, "unknown message type %" PRIu64, v.u);
    msg->type = (uint32_t)v.u;
    r.msg = cf__wire_type_name(msg->type);
    if (fields != cf__wire_fields[msg->type]) {
        r.elem = r.start;
        r.field = "header";
        return cf__bad(&r, "%zu fields, a %s has %u", fields, r.msg,
                       cf__wire_fields[msg->type]);
    }
    if (msg->type == CF__WIRE_CALL || msg->type == CF__WIRE_RESULT ||
        msg->type == CF__WIRE_FAILED || msg->type == CF__WIRE_CHUNK) {
        cf__rd_field(&r, "request id");
        rc = cf__read_int(&r, &v, "the request id (an unsigned integer)");
        if (rc != 0)
            return rc;
        if (v.neg)
            return cf__bad(&r, "negative request id %" PRId64, v.s);
        msg->id = v.u;
    }
    if (msg->type == CF__WIRE_SHUTDOWN) {
        rc = cf__read_end(&r);
        if (rc != 0)
            return rc;
    }
    msg->payload = payload;
    msg->len = len;
    msg->body = (size_t)(r.p - r.start);
    return 0;
}

/* Start reading the body of msg, which must be of type `type`. */
static int cf__rd_body(cf__rd *r, const cf__wire_msg *msg, uint32_t type)
{
    if (msg == NULL || msg->payload == NULL)
        return cf__fail(CF_EINVAL, "decoding a %s: no opened message", cf__wire_type_name(type));
    cf__rd_init(r, msg->payload, msg->len);
    r->msg = cf__wire_type_name(msg->type);
    if (msg->type != type) {
        cf__rd_field(r, "message type");
        return cf__bad(r, "expected a %s", cf__wire_type_name(type));
    }
    r->p = r->start + msg->body;
    return 0;
}

/* Find the task named by the next field (a string) of a CALL. */
static int cf__read_task(cf__wire_decoder *dec, cf__rd *r, const cf_task **task)
{
    cf__rd_field(r, "task name");
    uint8_t tag = 0;
    int rc = cf__tag(r, &tag);
    if (rc != 0)
        return rc;
    const uint8_t *s;
    size_t len;
    bool is_str;
    rc = cf__read_str_tagged(r, tag, &s, &len, &is_str);
    if (rc != 0)
        return rc;
    if (!is_str)
        return cf__bad(r, "expected a string, got %s", cf__tag_name(tag));
    uint64_t gen = cf__task_registry_generation();
    if (dec->recent_gen != gen) {
        memset(dec->recent, 0, sizeof dec->recent);
        dec->recent_gen = gen;
    }
    for (size_t i = 0; i < sizeof dec->recent / sizeof dec->recent[0]; i++) {
        const cf_task *t = dec->recent[i];
        if (t != NULL && cf__task_id_matches(t, s, len)) {
            *task = t; /* checked when it was found */
            return 0;
        }
    }
    size_t at;
    rc = cf__arena_copy(dec, s, len, &at);
    if (rc != 0)
        return rc;
    const char *name = dec->arena + at;
    rc = cf_task_find(name, task);
    if (rc != 0)
        return rc; /* CF_ENOTFOUND, CF_EAMBIGUOUS: cf_last_error() names the task */
    rc = cf__wire_check_task(*task, "CALL", CF_EDECODE);
    if (rc == 0) {
        memmove(&dec->recent[1], &dec->recent[0], sizeof dec->recent - sizeof dec->recent[0]);
        dec->recent[0] = *task;
    }
    return rc;
}

int cf__wire_decode_call(cf__wire_decoder *dec, const cf__wire_msg *msg, const cf_task **task,
                         void **args)
{
    cf__rd r;
    int rc = cf__rd_body(&r, msg, CF__WIRE_CALL);
    if (rc != 0)
        return rc;
    dec->arena_len = 0;
    const cf_task *t;
    rc = cf__read_task(dec, &r, &t);
    if (rc != 0)
        return rc;
    size_t n;
    cf__rd_field(&r, "arguments");
    rc = cf__read_array(&r, &n);
    if (rc != 0)
        return rc;
    if (n != t->nparams)
        return cf__bad(&r, "task '%s' takes %u arguments, got %zu", t->name, t->nparams, n);
    uint8_t *block = NULL;
    if (t->nparams > 0) {
        block = cf__block(dec, t->args_size, t->args_align);
        if (block == NULL)
            return cf__fail(-ENOMEM, "out of memory decoding the arguments of task '%s'",
                            t->name);
    }
    size_t str_at[CF_TASK_MAX_PARAMS];
    for (uint32_t i = 0; i < t->nparams; i++) {
        cf__rd_value(&r, t, i + 1);
        rc = cf__read_value(dec, &r, t->params[i], block + t->offsets[i], &str_at[i]);
        if (rc != 0)
            return rc;
    }
    rc = cf__read_end(&r);
    if (rc != 0)
        return rc;
    for (uint32_t i = 0; i < t->nparams; i++) {
        if (t->params[i].kind != CF_KIND_STR)
            continue;
        const char *s = str_at[i] == SIZE_MAX ? NULL : dec->arena + str_at[i];
        memcpy(block + t->offsets[i], &s, sizeof s);
    }
    *task = t;
    *args = block;
    return 0;
}

int cf__wire_decode_result(cf__wire_decoder *dec, const cf__wire_msg *msg, const cf_task *task,
                           void *slot)
{
    int rc = cf__wire_check_result(task, "RESULT", CF_EDECODE);
    if (rc != 0)
        return rc;
    if (slot == NULL && task->result.kind != CF_KIND_VOID)
        return cf__fail(CF_EINVAL, "RESULT: NULL result slot for task '%s'", task->name);
    cf__rd r;
    rc = cf__rd_body(&r, msg, CF__WIRE_RESULT);
    if (rc != 0)
        return rc;
    dec->arena_len = 0;
    /* Decode into scratch memory first, so that slot is untouched on failure. */
    union {
        uint8_t bytes[sizeof(cf_bytes)];
        cf_bytes b;
        const char *s;
        uint64_t u;
    } scalar;
    uint32_t size = task->result.size;
    uint8_t *scratch = scalar.bytes;
    if (size > sizeof scalar && (scratch = cf__block(dec, size, 1)) == NULL)
        return cf__fail(-ENOMEM, "out of memory decoding the result of task '%s'", task->name);
    size_t str_at = SIZE_MAX;
    cf__rd_value(&r, task, 0);
    rc = cf__read_value(dec, &r, task->result, scratch, &str_at);
    if (rc == 0)
        rc = cf__read_end(&r);
    if (rc != 0)
        return rc;
    if (task->result.kind == CF_KIND_STR) {
        const char *s = str_at == SIZE_MAX ? NULL : dec->arena + str_at;
        memcpy(scratch, &s, sizeof s);
    }
    if (size > 0)
        memcpy(slot, scratch, size);
    return 0;
}

/* The type a VALUE message announces; leaves r at the value. */
static int cf__read_value_type(cf__rd *r, cf_type *type)
{
    cf__int kind, size;
    cf__rd_field(r, "kind");
    int rc = cf__read_int_in(r, 0, CF_KIND_COUNT_ - 1, &kind);
    if (rc != 0)
        return rc;
    cf__rd_field(r, "size");
    rc = cf__read_int_in(r, 0, UINT32_MAX, &size);
    if (rc != 0)
        return rc;
    cf_type t = {(uint32_t)kind.u, (uint32_t)size.u};
    if (!cf__type_sane(t) || t.kind == CF_KIND_PTR)
        return cf__bad(r, "a %s of %" PRIu32 " bytes is not a value type", cf_kind_name(t.kind),
                       t.size);
    *type = t;
    return 0;
}

int cf__wire_value_type(const cf__wire_msg *msg, cf_type *type)
{
    cf__rd r;
    int rc = cf__rd_body(&r, msg, CF__WIRE_VALUE);
    if (rc == 0)
        rc = cf__read_value_type(&r, type);
    return rc;
}

int cf__wire_decode_value(cf__wire_decoder *dec, const cf__wire_msg *msg, cf_type type,
                          void *dst)
{
    if (dst == NULL && type.kind != CF_KIND_VOID)
        return cf__fail(CF_EINVAL, "VALUE: NULL destination for a %s", cf_kind_name(type.kind));
    cf__rd r;
    int rc = cf__rd_body(&r, msg, CF__WIRE_VALUE);
    if (rc != 0)
        return rc;
    cf_type sent;
    rc = cf__read_value_type(&r, &sent);
    if (rc != 0)
        return rc;
    if (!cf_type_equal(sent, type))
        return cf__fail(CF_ETYPE, "VALUE: a %s of %" PRIu32 " bytes was sent, a %s of %" PRIu32
                        " bytes was expected", cf_kind_name(sent.kind), sent.size,
                        cf_kind_name(type.kind), type.size);
    if (type.kind == CF_KIND_STRUCT && type.size > msg->len)
        return cf__fail(CF_EDECODE, "VALUE: a %" PRIu32 "-byte struct cannot be in a %zu-byte "
                        "message", type.size, msg->len);
    dec->arena_len = 0;
    uint8_t *scratch = type.size > 0 ? cf__block(dec, type.size, 16) : NULL;
    if (type.size > 0 && scratch == NULL)
        return cf__fail(-ENOMEM, "out of memory decoding a VALUE");
    size_t str_at = SIZE_MAX;
    cf__rd_field(&r, "value");
    rc = cf__read_value(dec, &r, type, scratch, &str_at);
    if (rc == 0)
        rc = cf__read_end(&r);
    if (rc != 0)
        return rc;
    if (type.kind == CF_KIND_STR) {
        const char *s = str_at == SIZE_MAX ? NULL : dec->arena + str_at;
        memcpy(scratch, &s, sizeof s);
    }
    if (type.size > 0)
        memcpy(dst, scratch, type.size);
    return 0;
}

/* A reference (nil: none, when `optional`); its descriptor index must be
 * below nfds. */
static int cf__read_ref(cf__rd *r, const char *field, uint32_t nfds, bool optional,
                        cf__wire_ref *ref)
{
    cf__rd_field(r, field);
    if (r->p < r->end && *r->p == 0xc0 && optional) {
        r->p++;
        *ref = (cf__wire_ref){CF__WIRE_NO_REF, 0, 0};
        return 0;
    }
    size_t n;
    int rc = cf__read_array(r, &n);
    if (rc != 0)
        return rc;
    if (n != 3)
        return cf__bad(r, "a reference has 3 fields, got %zu", n);
    cf__int fd, offset, stride;
    if ((rc = cf__read_int_in(r, 0, UINT32_MAX, &fd)) != 0 ||
        (rc = cf__read_int_in(r, 0, INT64_MAX, &offset)) != 0 ||
        (rc = cf__read_int_in(r, 0, UINT32_MAX, &stride)) != 0)
        return rc;
    if (fd.u >= nfds)
        return cf__bad(r, "descriptor %" PRIu64 " of a message that carries %" PRIu32, fd.u, nfds);
    *ref = (cf__wire_ref){(uint32_t)fd.u, offset.u, stride.u};
    return 0;
}

/* The arguments of a CHUNK that carries them: `count` blocks, one after the
 * other; strings are recorded as arena offsets first (the arena may move)
 * and turned into pointers at the end. */
static int cf__read_chunk_args(cf__wire_decoder *dec, cf__rd *r, cf__wire_chunk *c)
{
    const cf_task *t = c->task;
    size_t n;
    cf__rd_field(r, "arguments");
    int rc = cf__read_array(r, &n);
    if (rc != 0)
        return rc;
    if (n != c->count)
        return cf__bad(r, "%" PRIu64 " elements announced, %zu sent", c->count, n);
    size_t size = t->args_size > 0 ? t->args_size : 1;
    /* Each element takes at least a byte: a count past the bytes left is a
     * lie, and must not make us allocate for it. */
    if (n > cf__left(r) || n > SIZE_MAX / size)
        return cf__bad(r, "%zu elements cannot fit in the %zu bytes left", n, cf__left(r));
    uint8_t *blocks = cf__block(dec, n * size, t->args_align);
    if (blocks == NULL)
        return cf__fail(-ENOMEM, "out of memory decoding the arguments of a chunk of task '%s'",
                        t->name);
    for (size_t e = 0; e < n; e++) {
        size_t k_n;
        cf__rd_field(r, "arguments");
        if ((rc = cf__read_array(r, &k_n)) != 0)
            return rc;
        if (k_n != t->nparams)
            return cf__bad(r, "task '%s' takes %u arguments, got %zu", t->name, t->nparams, k_n);
        uint8_t *block = blocks + e * size;
        for (uint32_t k = 0; k < t->nparams; k++) {
            size_t str_at = SIZE_MAX;
            cf__rd_value(r, t, k + 1);
            rc = cf__read_value(dec, r, t->params[k], block + t->offsets[k], &str_at);
            if (rc != 0)
                return rc;
            if (t->params[k].kind == CF_KIND_STR)
                memcpy(block + t->offsets[k], &str_at, sizeof str_at);
        }
    }
    for (size_t e = 0; e < n; e++) {
        for (uint32_t k = 0; k < t->nparams; k++) {
            if (t->params[k].kind != CF_KIND_STR)
                continue;
            uint8_t *slot = blocks + e * size + t->offsets[k];
            size_t at;
            memcpy(&at, slot, sizeof at);
            const char *s = at == SIZE_MAX ? NULL : dec->arena + at;
            memcpy(slot, &s, sizeof s);
        }
    }
    c->blocks = blocks;
    return 0;
}

int cf__wire_decode_chunk(cf__wire_decoder *dec, const cf__wire_msg *msg, cf__wire_chunk *c)
{
    memset(c, 0, sizeof *c);
    cf__rd r;
    int rc = cf__rd_body(&r, msg, CF__WIRE_CHUNK);
    if (rc != 0)
        return rc;
    dec->arena_len = 0;
    cf__int v;
    cf__rd_field(&r, "descriptor count");
    if ((rc = cf__read_int_in(&r, 0, 64, &v)) != 0)
        return rc;
    c->nfds = (uint32_t)v.u;
    if ((rc = cf__read_task(dec, &r, &c->task)) != 0)
        return rc;
    if ((rc = cf__wire_check_result(c->task, "CHUNK", CF_EDECODE)) != 0)
        return rc;
    cf__rd_field(&r, "first element");
    if ((rc = cf__read_int_in(&r, 0, INT64_MAX, &v)) != 0)
        return rc;
    c->first = v.u;
    cf__rd_field(&r, "element count");
    if ((rc = cf__read_int_in(&r, 1, INT64_MAX, &v)) != 0)
        return rc;
    c->count = v.u;
    cf__rd_field(&r, "flags");
    if ((rc = cf__read_int_in(&r, 0, CF__WIRE_CHUNK_KEEP_GOING | CF__WIRE_CHUNK_INLINE, &v)) != 0)
        return rc;
    c->flags = (uint32_t)v.u;
    cf__rd_field(&r, "deadline");
    if ((rc = cf__read_int_in(&r, 0, INT64_MAX, &v)) != 0)
        return rc;
    c->deadline = (int64_t)v.u;
    if (c->flags & CF__WIRE_CHUNK_INLINE) {
        rc = cf__read_chunk_args(dec, &r, c);
    } else {
        size_t n;
        cf__rd_field(&r, "inputs");
        rc = cf__read_array(&r, &n);
        if (rc == 0 && n != c->task->nparams)
            rc = cf__bad(&r, "task '%s' takes %u arguments, got %zu references", c->task->name,
                         c->task->nparams, n);
        for (uint32_t k = 0; k < c->task->nparams && rc == 0; k++)
            rc = cf__read_ref(&r, "input", c->nfds, false, &c->in[k]);
    }
    if (rc == 0)
        rc = cf__read_ref(&r, "results", c->nfds, true, &c->out);
    if (rc == 0)
        rc = cf__read_ref(&r, "statuses", c->nfds, false, &c->status);
    if (rc == 0)
        rc = cf__read_ref(&r, "stop word", c->nfds, false, &c->stop);
    if (rc == 0)
        rc = cf__read_end(&r);
    return rc;
}

int cf__wire_decode_failed(cf__wire_decoder *dec, const cf__wire_msg *msg,
                           cf__wire_failure *failure)
{
    cf__rd r;
    int rc = cf__rd_body(&r, msg, CF__WIRE_FAILED);
    if (rc != 0)
        return rc;
    dec->arena_len = 0;
    cf__int code, detail;
    cf__rd_field(&r, "error code");
    rc = cf__read_int_in(&r, INT32_MIN, INT32_MAX, &code);
    if (rc != 0)
        return rc;
    if (!code.neg)
        return cf__bad(&r, "an error code is negative, got %" PRIu64, code.u);
    cf__rd_field(&r, "error detail");
    rc = cf__read_int_in(&r, INT32_MIN, INT32_MAX, &detail);
    if (rc != 0)
        return rc;
    const uint8_t *s;
    size_t len;
    cf__rd_field(&r, "error message");
    rc = cf__read_opt_str(&r, &s, &len);
    if (rc != 0)
        return rc;
    rc = cf__read_end(&r);
    if (rc != 0)
        return rc;
    size_t at = SIZE_MAX;
    if (s != NULL && (rc = cf__arena_copy(dec, s, len, &at)) != 0)
        return rc;
    failure->code = (int)code.s;
    failure->detail = detail.neg ? (int)detail.s : (int)detail.u;
    failure->message = at == SIZE_MAX ? NULL : dec->arena + at;
    return 0;
}

int cf__wire_decode_hello(cf__wire_decoder *dec, const cf__wire_msg *msg, cf__wire_hello *hello)
{
    cf__rd r;
    int rc = cf__rd_body(&r, msg, CF__WIRE_HELLO);
    if (rc != 0)
        return rc;
    dec->arena_len = 0;
    cf__int pid, code, detail;
    cf__rd_field(&r, "process id");
    rc = cf__read_int_in(&r, 1, INT32_MAX, &pid);
    if (rc != 0)
        return rc;
    cf__rd_field(&r, "initializer outcome");
    rc = cf__read_int_in(&r, INT32_MIN, 0, &code);
    if (rc != 0)
        return rc;
    cf__rd_field(&r, "initializer detail");
    rc = cf__read_int_in(&r, INT32_MIN, INT32_MAX, &detail);
    if (rc != 0)
        return rc;
    const uint8_t *s;
    size_t len;
    cf__rd_field(&r, "initializer message");
    rc = cf__read_opt_str(&r, &s, &len);
    if (rc != 0)
        return rc;
    bool ready = !code.neg;
    if (ready && (detail.neg || detail.u != 0 || s != NULL))
        return cf__bad(&r, "a ready worker sends no failure detail or message");
    rc = cf__read_end(&r);
    if (rc != 0)
        return rc;
    size_t at = SIZE_MAX;
    if (s != NULL && (rc = cf__arena_copy(dec, s, len, &at)) != 0)
        return rc;
    hello->pid = (int32_t)pid.u;
    hello->code = ready ? 0 : (int)code.s;
    hello->detail = detail.neg ? (int)detail.s : (int)detail.u;
    hello->message = at == SIZE_MAX ? NULL : dec->arena + at;
    return 0;
}
