/* msg.c: building and checking the headers of cfutures' network protocol
 * (msg.h, doc/net.md). Stateless; the bodies are the wire format's, checked
 * by its decoders where they are used.
 */
#include "config.h"

#include <string.h>

#include "net_priv.h"

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

size_t cf__net_header(uint8_t *buf, uint8_t kind, uint64_t id, int64_t arg, const char *name)
{
    size_t n = name != NULL ? strlen(name) : 0;
    if (n > CF_NET_NAME_MAX)
        n = CF_NET_NAME_MAX;
    buf[0] = 'C';
    buf[1] = 'F';
    buf[2] = 'N';
    buf[3] = CF__NET_VERSION;
    buf[4] = kind;
    buf[5] = (uint8_t)n;
    buf[6] = 0;
    buf[7] = 0;
    put_u64(buf + 8, id);
    put_u64(buf + 16, (uint64_t)arg);
    if (n > 0)
        memcpy(buf + CF__NET_HEADER, name, n);
    return CF__NET_HEADER + n;
}

bool cf__net_text_ok(const uint8_t *p, size_t n)
{
    if (n > CF__NET_TEXT_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (p[i] == 0)
            return false;
    return true;
}

static bool name_ok(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < 0x21 || s[i] > 0x7e)
            return false;
    return true;
}

/* What a kind requires. */
typedef struct rule {
    const char *name;
    uint8_t named;   /* 1: a queue name required; 0: none allowed */
    uint8_t body;    /* 0: none; 1: required; 2: optional */
    uint8_t arg;     /* ARG_* */
    uint8_t id;      /* 1: nonzero id required; 0: id must be 0 */
} rule;

enum { ARG_ZERO, ARG_WAIT, ARG_REPLY, ARG_CAPACITY, ARG_LIMIT };

static const rule *rule_of(uint8_t kind)
{
    static const rule rules[] = {
        [CF__NET_Q_PUT] = {"PUT", 1, 1, ARG_WAIT, 1},
        [CF__NET_Q_GET] = {"GET", 1, 1, ARG_WAIT, 1},
        [CF__NET_Q_TASK_DONE] = {"TASK_DONE", 1, 0, ARG_ZERO, 1},
        [CF__NET_Q_JOIN] = {"JOIN", 1, 0, ARG_WAIT, 1},
        [CF__NET_Q_QSIZE] = {"QSIZE", 1, 0, ARG_ZERO, 1},
        [CF__NET_Q_CLOSE] = {"CLOSE", 1, 0, ARG_ZERO, 1},
        [CF__NET_REPLY] = {"REPLY", 0, 2, ARG_REPLY, 1},
        [CF__NET_Q_OPEN] = {"OPEN", 1, 0, ARG_ZERO, 1},
        [CF__NET_W_HELLO] = {"HELLO", 0, 2, ARG_CAPACITY, 0},
        [CF__NET_W_HEARTBEAT] = {"HEARTBEAT", 0, 0, ARG_ZERO, 0},
        [CF__NET_W_CALL] = {"CALL", 0, 1, ARG_LIMIT, 1},
        [CF__NET_W_ANSWER] = {"ANSWER", 0, 1, ARG_ZERO, 1},
        [CF__NET_W_SHUTDOWN] = {"SHUTDOWN", 0, 0, ARG_ZERO, 0},
    };
    if (kind >= sizeof rules / sizeof rules[0] || rules[kind].name == NULL)
        return NULL;
    return &rules[kind];
}

int cf__net_parse(cf__net_msg *m, const void *head, size_t head_len, const void *body,
                  size_t body_len, bool has_body, bool *id_known)
{
    const uint8_t *h = head;
    *id_known = false;
    memset(m, 0, sizeof *m);
    if (head_len < CF__NET_HEADER || h[0] != 'C' || h[1] != 'F' || h[2] != 'N')
        return CF__FAIL(CF_EDECODE, "net: not a cfutures-net header (%zu bytes)", head_len);
    if (h[3] != CF__NET_VERSION)
        return CF__FAIL(CF_EDECODE, "net: protocol version %u, expected %u", h[3],
                        CF__NET_VERSION);
    m->kind = h[4];
    m->id = get_u64(h + 8);
    m->arg = (int64_t)get_u64(h + 16);
    *id_known = true;
    const rule *r = rule_of(m->kind);
    if (r == NULL)
        return CF__FAIL(CF_EDECODE, "net: unknown message kind %u", m->kind);
    size_t n = h[5];
    if (n > CF_NET_NAME_MAX || head_len != CF__NET_HEADER + n)
        return CF__FAIL(CF_EDECODE, "net: %s header of %zu bytes announces a %zu-byte name",
                        r->name, head_len, n);
    if (h[6] != 0 || h[7] != 0)
        return CF__FAIL(CF_EDECODE, "net: %s header with reserved bits set", r->name);
    if (r->named && (n == 0 || !name_ok((const char *)h + CF__NET_HEADER, n)))
        return CF__FAIL(CF_EDECODE, "net: %s needs a printable queue name", r->name);
    if (!r->named && n != 0)
        return CF__FAIL(CF_EDECODE, "net: %s carries a name", r->name);
    memcpy(m->name, h + CF__NET_HEADER, n);
    m->name[n] = '\0';
    if (r->id && m->id == 0)
        return CF__FAIL(CF_EDECODE, "net: %s with request id 0", r->name);
    if (!r->id && m->id != 0)
        return CF__FAIL(CF_EDECODE, "net: %s with a request id", r->name);
    bool arg_ok;
    switch (r->arg) {
    case ARG_ZERO: arg_ok = m->arg == 0; break;
    case ARG_WAIT: arg_ok = m->arg >= -1 && m->arg <= CF__NET_MAX_WAIT_US; break;
    case ARG_REPLY: arg_ok = m->arg >= INT32_MIN; break;
    case ARG_CAPACITY: arg_ok = m->arg >= 1 && m->arg <= CF__NET_MAX_CAPACITY; break;
    default: arg_ok = m->arg >= -1; break; /* ARG_LIMIT: µs, -1 none, 0 default */
    }
    if (!arg_ok)
        return CF__FAIL(CF_EDECODE, "net: %s with argument %lld out of range", r->name,
                        (long long)m->arg);
    if (r->body == 0 && has_body)
        return CF__FAIL(CF_EDECODE, "net: %s with a body", r->name);
    if (r->body == 1 && !has_body)
        return CF__FAIL(CF_EDECODE, "net: %s without its body", r->name);
    if (has_body) {
        m->body = body != NULL ? body : (const uint8_t *)"";
        m->body_len = body_len;
    }
    /* Bodies that are not wire payloads are checked here. */
    if (m->kind == CF__NET_Q_GET && body_len != 8)
        return CF__FAIL(CF_EDECODE, "net: GET body of %zu bytes, expected 8", body_len);
    if (m->kind == CF__NET_W_HELLO && has_body && !cf__net_text_ok(m->body, body_len))
        return CF__FAIL(CF_EDECODE, "net: HELLO with a malformed label");
    if (m->kind == CF__NET_REPLY && has_body && m->arg < 0 && !cf__net_text_ok(m->body, body_len))
        return CF__FAIL(CF_EDECODE, "net: REPLY with a malformed error text");
    return 0;
}

void cf__net_put_type(uint8_t buf[8], cf_type type)
{
    put_u32(buf, type.kind);
    put_u32(buf + 4, type.size);
}

int cf__net_get_type(const cf__net_msg *m, uint32_t max_message, cf_type *type)
{
    uint32_t kind = get_u32(m->body), size = get_u32(m->body + 4);
    uint32_t want;
    switch (kind) {
    case CF__NET_ANY_KIND: want = 0; break;
    case CF_KIND_VOID: want = 0; break;
    case CF_KIND_BOOL: want = sizeof(bool); break;
    case CF_KIND_I8: case CF_KIND_U8: want = 1; break;
    case CF_KIND_I16: case CF_KIND_U16: want = 2; break;
    case CF_KIND_I32: case CF_KIND_U32: case CF_KIND_F32: want = 4; break;
    case CF_KIND_I64: case CF_KIND_U64: case CF_KIND_F64: want = 8; break;
    case CF_KIND_STR: want = sizeof(char *); break;
    case CF_KIND_BYTES: want = sizeof(cf_bytes); break;
    case CF_KIND_STRUCT:
        if (size == 0 || size > max_message)
            return CF__FAIL(CF_EDECODE, "net: GET of a struct of %u bytes", size);
        want = size;
        break;
    default:
        return CF__FAIL(CF_EDECODE, "net: GET of kind %u (%s)", kind, cf_kind_name(kind));
    }
    if (size != want)
        return CF__FAIL(CF_EDECODE, "net: GET of a %s of %u bytes", cf_kind_name(kind), size);
    type->kind = kind;
    type->size = size;
    return 0;
}
