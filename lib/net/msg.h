/* msg.h: the frames of cfutures' network protocol (private; doc/net.md).
 *
 * A message is one ZeroMQ message of one or two parts (after the routing id
 * a ROUTER socket adds): a header part, 24 bytes plus a queue name, and an
 * optional body part. The body of a value, call or answer is a payload of
 * the process pool's wire format (wire.h, without its 4-byte length prefix),
 * checked by that format's decoders; the header is checked here. Anything
 * that does not follow doc/net.md exactly is refused with CF_EDECODE.
 */
#ifndef CF_NET_MSG_H
#define CF_NET_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cfutures/net.h>

#define CF__NET_VERSION 1
#define CF__NET_HEADER 24u
/* The longest error text a reply carries. */
#define CF__NET_TEXT_MAX 1024u
/* A wait a request asks the server for, in microseconds: at most this
 * (longer waits are made of several requests). */
#define CF__NET_MAX_WAIT_US 2000000
/* The most calls a worker may take at once. */
#define CF__NET_MAX_CAPACITY 4096

enum {
    CF__NET_Q_PUT = 1,
    CF__NET_Q_GET = 2,
    CF__NET_Q_TASK_DONE = 3,
    CF__NET_Q_JOIN = 4,
    CF__NET_Q_QSIZE = 5,
    CF__NET_Q_CLOSE = 6,
    CF__NET_REPLY = 7,
    CF__NET_Q_OPEN = 8,
    CF__NET_W_HELLO = 16,
    CF__NET_W_HEARTBEAT = 17,
    CF__NET_W_CALL = 18,
    CF__NET_W_ANSWER = 19,
    CF__NET_W_SHUTDOWN = 20,
};

/* The GET body's kind for "any type" (cf_net_queue_get_value). */
#define CF__NET_ANY_KIND UINT32_MAX

typedef struct cf__net_msg {
    uint8_t kind;
    uint64_t id;
    int64_t arg;
    char name[CF_NET_NAME_MAX + 1];
    const uint8_t *body; /* NULL when the message has no body */
    size_t body_len;
} cf__net_msg;

/* Write a header into buf (CF__NET_HEADER + CF_NET_NAME_MAX bytes) and
 * return its length. `name` may be NULL (no name). */
size_t cf__net_header(uint8_t *buf, uint8_t kind, uint64_t id, int64_t arg, const char *name);

/* Check a received message: header part, and the body part when has_body.
 * Errors: CF_EDECODE (cf_last_error() says why). On error *id_known says
 * whether m->id was read from a header of this protocol (so a reply can
 * name the request it refuses). */
int cf__net_parse(cf__net_msg *m, const void *head, size_t head_len, const void *body,
                  size_t body_len, bool has_body, bool *id_known);

/* The type a GET body asks for (kind CF__NET_ANY_KIND: any).
 * Errors: CF_EDECODE (an unknown kind, a size that does not match it, a
 * raw pointer, a struct over max_message). */
int cf__net_get_type(const cf__net_msg *m, uint32_t max_message, cf_type *type);

/* Encode a GET body for `type` into buf[8]. */
void cf__net_put_type(uint8_t buf[8], cf_type type);

/* Whether a reply text is acceptable (printable, no NUL). */
bool cf__net_text_ok(const uint8_t *p, size_t n);

#endif
