/* pipe.c: Pipe, two connected ends carrying typed values and byte messages
 * (cfutures/pipe.h).
 *
 * Design notes
 * - One SOCK_STREAM socketpair (close-on-exec, non-blocking): a stream keeps
 *   no message boundaries of its own, so every message is a frame (frame.h)
 *   holding one VALUE message (wire.h). A byte message is a VALUE of a
 *   cf_bytes: one format, so cf_pipe_recv into a cf_bytes and
 *   cf_pipe_recv_bytes read the same messages.
 * - Each direction of an end has its own mutex, held only for work that
 *   never blocks (encoding, non-blocking send/recv, decoding); waits for
 *   room or data happen in ppoll() without it. So a slow peer never holds up
 *   the other direction, a timeout bounds the whole call, and concurrent
 *   senders cannot interleave: a message is appended whole to the end's
 *   output buffer under the lock, and the buffer is written in order.
 * - A send succeeds once the bytes up to the end of its own message have
 *   been written: two counters, bytes ever sealed into the buffer and bytes
 *   ever written, say so whichever thread did the writing. A send that times
 *   out leaves its message queued (never half-dropped, which would break the
 *   stream); a later send or cf_pipe_flush pushes it out first.
 * - Receiving reads whatever the socket holds into the end's reassembly
 *   buffer and takes one frame. A message of the wrong type is put back by
 *   moving the reassembler's head back over it (the frame's bytes have not
 *   moved: nothing was read in between), so the next receive sees it again.
 *   Received strings live in the end's decoder arena, byte buffers in the
 *   reassembly buffer itself, dynamic values' bytes in `scratch`: all are
 *   valid until the next receive or poll on the end.
 * - Lifetimes: an end is one allocation owned by the process that holds it;
 *   after fork each process has its own copy (same descriptor, own buffers)
 *   and closes it with cf_pipe_close. End of file is the socket's: it comes
 *   once every copy of the other end's descriptor is closed.
 */
#include "config.h"

#include <cfutures/pipe.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "clock.h"
#include "error_priv.h"
#include "frame.h"
#include "wire.h"

struct cf_pipe_end {
    int fd;
    bool can_send, can_recv;

    pthread_mutex_t send_mu; /* guards the fields up to recv_mu */
    cf__frame_out out;       /* sealed messages not yet written */
    uint64_t sealed_total;   /* bytes ever sealed into `out` */
    uint64_t sent_total;     /* bytes ever written from it */
    bool peer_gone;          /* a send found the other end closed */

    pthread_mutex_t recv_mu; /* guards the fields below */
    cf__frame_in in;
    cf__wire_decoder dec;
    bool eof;                /* the socket said end of file */
    void *scratch;           /* the last dynamic value's bytes */
    size_t scratch_cap;
};

/* ---- Waiting on the socket --------------------------------------------------------- */

/* Wait until fd has one of `events` (or a hang-up or error) or the deadline
 * passes: 0 or CF_ETIMEDOUT. Signals never cut it short. */
static int cf__pipe_wait(int fd, short events, int64_t deadline)
{
    for (;;) {
        struct timespec ts, *limit = NULL;
        if (deadline != CF__NO_DEADLINE) {
            int64_t left = deadline - cf__now_ns();
            if (left < 0)
                left = 0;
            ts.tv_sec = left / 1000000000;
            ts.tv_nsec = left % 1000000000;
            limit = &ts;
        }
        struct pollfd pfd = {.fd = fd, .events = events};
        int n = ppoll(&pfd, 1, limit, NULL);
        if (n > 0)
            return 0;
        if (n == 0)
            return CF_ETIMEDOUT;
        if (errno != EINTR)
            return -errno;
    }
}

/* The checks every call makes: the end, the direction, the timeout. */
static int cf__pipe_begin(const char *caller, cf_pipe_end *end, bool sending, double timeout,
                          int64_t *deadline)
{
    if (end == NULL)
        return cf__fail(CF_EINVAL, "%s: NULL end", caller);
    if (sending ? !end->can_send : !end->can_recv)
        return cf__fail(CF_EUNSUPPORTED, "%s: this end of a one-way pipe only %s", caller,
                        sending ? "receives" : "sends");
    if (cf__deadline(timeout, deadline) != 0)
        return cf__fail(CF_EINVAL, "%s: NaN timeout", caller);
    return 0;
}

/* ---- Lifetime ---------------------------------------------------------------------- */

static cf_pipe_end *cf__pipe_end_new(int fd, bool can_send, bool can_recv)
{
    cf_pipe_end *end = cf__calloc(1, sizeof *end);
    if (end == NULL)
        return NULL;
    end->fd = fd;
    end->can_send = can_send;
    end->can_recv = can_recv;
    pthread_mutex_init(&end->send_mu, NULL);
    pthread_mutex_init(&end->recv_mu, NULL);
    cf__frame_out_init(&end->out, (uint32_t)CF_PIPE_MAX_MESSAGE);
    cf__frame_in_init(&end->in, (uint32_t)CF_PIPE_MAX_MESSAGE);
    cf__wire_decoder_init(&end->dec);
    return end;
}

static void cf__pipe_end_free(cf_pipe_end *end)
{
    cf__wire_decoder_free(&end->dec);
    cf__frame_in_free(&end->in);
    cf__frame_out_free(&end->out);
    cf__free(end->scratch);
    pthread_mutex_destroy(&end->send_mu);
    pthread_mutex_destroy(&end->recv_mu);
    cf__free(end);
}

int cf_pipe_new(cf_pipe_end **a, cf_pipe_end **b, bool duplex)
{
    if (a == NULL || b == NULL)
        return cf__fail(CF_EINVAL, "cf_pipe_new: NULL end pointer");
    *a = *b = NULL;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) < 0) {
        int err = errno;
        return cf__fail(-err, "cf_pipe_new: socketpair: %s", cf_strerror(-err));
    }
    cf_pipe_end *first = cf__pipe_end_new(sv[0], duplex, true);
    cf_pipe_end *second = cf__pipe_end_new(sv[1], true, duplex);
    if (first == NULL || second == NULL) {
        if (first != NULL)
            cf__pipe_end_free(first);
        if (second != NULL)
            cf__pipe_end_free(second);
        close(sv[0]);
        close(sv[1]);
        return cf__fail(-ENOMEM, "cf_pipe_new: no memory for the ends");
    }
    *a = first;
    *b = second;
    return 0;
}

void cf_pipe_close(cf_pipe_end *end)
{
    if (end == NULL)
        return;
    close(end->fd);
    cf__pipe_end_free(end);
}

/* ---- Sending ----------------------------------------------------------------------- */

/* The other end is gone: drop what is queued (send_mu held). */
static int cf__pipe_peer_gone(const char *caller, cf_pipe_end *end)
{
    if (!end->peer_gone) {
        end->peer_gone = true;
        cf__frame_out_free(&end->out);
    }
    return cf__fail(CF_EEOF, "%s: the other end of the pipe is closed", caller);
}

/* Write queued bytes until the first `target` bytes ever sealed have gone,
 * waiting for room (without the lock) until the deadline. send_mu held on
 * entry and on return. */
static int cf__pipe_push(const char *caller, cf_pipe_end *end, uint64_t target, int64_t deadline)
{
    for (;;) {
        if (end->peer_gone)
            return cf__pipe_peer_gone(caller, end);
        if (end->sent_total >= target)
            return 0;
        size_t before, after;
        cf__frame_out_data(&end->out, &before);
        int rc = cf__frame_out_send(&end->out, end->fd);
        cf__frame_out_data(&end->out, &after);
        end->sent_total += before - after;
        if (end->sent_total >= target)
            return 0;
        if (rc == -EPIPE || rc == -ECONNRESET)
            return cf__pipe_peer_gone(caller, end);
        if (rc != -EAGAIN)
            return rc; /* cf_last_error() set by the frame layer */
        pthread_mutex_unlock(&end->send_mu);
        rc = cf__pipe_wait(end->fd, POLLOUT, deadline);
        pthread_mutex_lock(&end->send_mu);
        if (rc == CF_ETIMEDOUT && end->sent_total < target && !end->peer_gone)
            return cf__fail(CF_ETIMEDOUT,
                            "%s: the pipe did not take the message in time; it stays queued "
                            "(%llu bytes not yet written)", caller,
                            (unsigned long long)(target - end->sent_total));
        if (rc < 0 && rc != CF_ETIMEDOUT)
            return cf__fail(rc, "%s: waiting for room in the pipe: %s", caller, cf_strerror(rc));
    }
}

/* Queue one VALUE message and push it out. */
static int cf__pipe_send_typed(const char *caller, cf_pipe_end *end, cf_type type,
                               const void *src, double timeout)
{
    int64_t deadline;
    int rc = cf__pipe_begin(caller, end, true, timeout, &deadline);
    if (rc != 0)
        return rc;
    pthread_mutex_lock(&end->send_mu);
    if (end->peer_gone) {
        rc = cf__pipe_peer_gone(caller, end);
    } else {
        size_t before, after;
        cf__frame_out_data(&end->out, &before);
        rc = cf__wire_encode_value(&end->out, type, src);
        if (rc == 0) {
            cf__frame_out_data(&end->out, &after);
            end->sealed_total += after - before;
            rc = cf__pipe_push(caller, end, end->sealed_total, deadline);
        } else if (rc == CF_ETOOBIG) {
            rc = cf__fail(rc, "%s: the message is larger than the pipe's %zu-byte limit", caller,
                          CF_PIPE_MAX_MESSAGE);
        }
    }
    pthread_mutex_unlock(&end->send_mu);
    return rc;
}

int cf__pipe_send(cf_pipe_end *end, cf_type type, const void *src, double timeout)
{
    return cf__pipe_send_typed("cf_pipe_send", end, type, src, timeout);
}

int cf_pipe_send_value(cf_pipe_end *end, const cf_value *v, double timeout)
{
    static const char caller[] = "cf_pipe_send_value";
    if (v == NULL)
        return cf__fail(CF_EINVAL, "%s: NULL value", caller);
    if (v->type.kind >= CF_KIND_COUNT_)
        return cf__fail(CF_EINVAL, "%s: unknown kind %u", caller, v->type.kind);
    if (v->type.kind == CF_KIND_PTR)
        return cf__fail(CF_EUNSUPPORTED, "%s: a raw pointer cannot travel between processes",
                        caller);
    if (v->type.kind == CF_KIND_STRUCT) {
        if (v->as.data == NULL && v->type.size > 0)
            return cf__fail(CF_EINVAL, "%s: a struct value without data", caller);
        return cf__pipe_send_typed(caller, end, v->type, v->as.data, timeout);
    }
    /* Every other kind is at most a cf_bytes in C. */
    union {
        cf_bytes bytes;
        int64_t i;
        double f;
        const char *str;
    } object;
    if (v->type.size > sizeof object)
        return cf__fail(CF_EINVAL, "%s: a %s of %u bytes is not a value type", caller,
                        cf_kind_name(v->type.kind), v->type.size);
    int rc = cf_value_store(v, v->type, &object);
    if (rc != 0)
        return cf__fail(rc, "%s: malformed %s value", caller, cf_kind_name(v->type.kind));
    return cf__pipe_send_typed(caller, end, v->type, &object, timeout);
}

int cf_pipe_send_bytes(cf_pipe_end *end, const void *data, size_t len, double timeout)
{
    cf_bytes b = {data, len};
    return cf__pipe_send_typed("cf_pipe_send_bytes", end, CF_TYPE_OF(cf_bytes), &b, timeout);
}

int cf_pipe_flush(cf_pipe_end *end, double timeout)
{
    int64_t deadline;
    int rc = cf__pipe_begin("cf_pipe_flush", end, true, timeout, &deadline);
    if (rc != 0)
        return rc;
    pthread_mutex_lock(&end->send_mu);
    rc = cf__pipe_push("cf_pipe_flush", end, end->sealed_total, deadline);
    pthread_mutex_unlock(&end->send_mu);
    return rc;
}

/* ---- Receiving --------------------------------------------------------------------- */

/* Whether a receive would not block: a whole frame is buffered, the stream
 * failed for good, or it ended (recv_mu held). Takes nothing. */
static bool cf__pipe_ready(cf_pipe_end *end)
{
    if (end->eof || end->in.error != 0)
        return true;
    const uint8_t *payload;
    size_t len;
    return cf__frame_in_peek(&end->in, &payload, &len) != -EAGAIN;
}

/* Read until a receive would not block, waiting for data (without the lock)
 * until the deadline. recv_mu held on entry and on return. */
static int cf__pipe_fill(const char *caller, cf_pipe_end *end, int64_t deadline)
{
    for (;;) {
        if (cf__pipe_ready(end))
            return 0;
        size_t got;
        int rc = cf__frame_in_recv(&end->in, end->fd, &got);
        if (rc == 0 && got == 0)
            end->eof = true;
        else if (rc == -ECONNRESET)
            end->eof = true; /* the other end went away with data unread */
        if (rc == 0 || rc == -ECONNRESET)
            continue;
        if (rc != -EAGAIN)
            return rc; /* cf_last_error() set by the frame layer */
        pthread_mutex_unlock(&end->recv_mu);
        rc = cf__pipe_wait(end->fd, POLLIN, deadline);
        pthread_mutex_lock(&end->recv_mu);
        if (rc == CF_ETIMEDOUT && !cf__pipe_ready(end))
            return cf__fail(CF_ETIMEDOUT, "%s: no message in time", caller);
        if (rc < 0 && rc != CF_ETIMEDOUT)
            return cf__fail(rc, "%s: waiting for the pipe: %s", caller, cf_strerror(rc));
    }
}

/* Where a received value goes: a C object of a known type, a dynamic value
 * (any type), or nowhere (drop the message). */
typedef struct cf__pipe_dest {
    enum { CF__PIPE_TO_OBJECT, CF__PIPE_TO_VALUE, CF__PIPE_DROP } how;
    cf_type type;
    void *object;
    cf_value *value;
} cf__pipe_dest;

/* Decode a VALUE message into a dynamic value whose bytes live in scratch. */
static int cf__pipe_decode_any(cf_pipe_end *end, const cf__wire_msg *msg, cf_value *out)
{
    cf_type type;
    int rc = cf__wire_value_type(msg, &type);
    if (rc != 0)
        return rc;
    void *object = NULL;
    if (type.size > 0) {
        if (type.size > end->scratch_cap) {
            void *grown = cf__realloc(end->scratch, type.size);
            if (grown == NULL)
                return cf__fail(-ENOMEM, "no memory for a %u-byte value", type.size);
            end->scratch = grown;
            end->scratch_cap = type.size;
        }
        object = end->scratch;
    }
    rc = cf__wire_decode_value(&end->dec, msg, type, object);
    if (rc == 0)
        rc = cf_value_load(out, type, object);
    return rc;
}

/* Take the next message into dest (recv_mu held, a message ready). A message
 * of another type, or one that could not be decoded for lack of memory,
 * stays at the front. */
static int cf__pipe_take(const char *caller, cf_pipe_end *end, const cf__pipe_dest *dest)
{
    const uint8_t *payload;
    size_t len;
    int rc = cf__frame_in_peek(&end->in, &payload, &len);
    if (rc == -EAGAIN) { /* end of file before a whole message */
        size_t partial = cf__frame_in_buffered(&end->in);
        cf__frame_in_discard(&end->in);
        if (partial > 0)
            return cf__fail(CF_EEOF, "%s: the other end closed in the middle of a message "
                            "(%zu bytes dropped)", caller, partial);
        return cf__fail(CF_EEOF, "%s: the other end of the pipe is closed", caller);
    }
    if (rc != 0)
        return rc; /* CF_ETOOBIG, final; cf_last_error() says so */
    cf__wire_msg msg;
    rc = cf__wire_open(&msg, payload, len);
    if (rc == 0 && msg.type != CF__WIRE_VALUE)
        rc = cf__fail(CF_EDECODE, "%s: a %s message where a VALUE was expected", caller,
                      cf__wire_type_name(msg.type));
    if (rc == 0 && dest->how != CF__PIPE_DROP) {
        if (dest->how == CF__PIPE_TO_VALUE)
            rc = cf__pipe_decode_any(end, &msg, dest->value);
        else
            rc = cf__wire_decode_value(&end->dec, &msg, dest->type, dest->object);
        if (rc == CF_ETYPE || rc == -ENOMEM)
            return rc; /* not consumed: the message stays at the front */
    }
    cf__frame_in_drop(&end->in);
    return rc;
}

static int cf__pipe_recv_into(const char *caller, cf_pipe_end *end, const cf__pipe_dest *dest,
                              double timeout)
{
    int64_t deadline;
    int rc = cf__pipe_begin(caller, end, false, timeout, &deadline);
    if (rc != 0)
        return rc;
    pthread_mutex_lock(&end->recv_mu);
    rc = cf__pipe_fill(caller, end, deadline);
    if (rc == 0)
        rc = cf__pipe_take(caller, end, dest);
    pthread_mutex_unlock(&end->recv_mu);
    return rc;
}

int cf__pipe_recv(cf_pipe_end *end, cf_type type, void *out, double timeout)
{
    cf__pipe_dest dest = {.how = CF__PIPE_TO_OBJECT, .type = type, .object = out};
    if (out == NULL || type.kind == CF_KIND_VOID)
        dest.how = CF__PIPE_DROP;
    return cf__pipe_recv_into("cf_pipe_recv", end, &dest, timeout);
}

int cf_pipe_recv_value(cf_pipe_end *end, cf_value *out, double timeout)
{
    if (out == NULL)
        return cf__fail(CF_EINVAL, "cf_pipe_recv_value: NULL out");
    cf__pipe_dest dest = {.how = CF__PIPE_TO_VALUE, .value = out};
    return cf__pipe_recv_into("cf_pipe_recv_value", end, &dest, timeout);
}

int cf_pipe_recv_bytes(cf_pipe_end *end, cf_bytes *out, double timeout)
{
    if (out == NULL)
        return cf__fail(CF_EINVAL, "cf_pipe_recv_bytes: NULL out");
    cf__pipe_dest dest = {.how = CF__PIPE_TO_OBJECT, .type = CF_TYPE_OF(cf_bytes),
                          .object = out};
    return cf__pipe_recv_into("cf_pipe_recv_bytes", end, &dest, timeout);
}

int cf_pipe_poll(cf_pipe_end *end, double timeout)
{
    int64_t deadline;
    int rc = cf__pipe_begin("cf_pipe_poll", end, false, timeout, &deadline);
    if (rc != 0)
        return rc;
    pthread_mutex_lock(&end->recv_mu);
    rc = cf__pipe_fill("cf_pipe_poll", end, deadline);
    pthread_mutex_unlock(&end->recv_mu);
    return rc;
}
