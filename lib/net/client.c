/* client.c: a remote queue (net.h, cf_net_queue).
 *
 * Design notes
 * - One DEALER socket per handle, in a context of its own, used under the
 *   handle's lock: one request at a time, each answered by one REPLY with
 *   the request's id (a reply with another id is a late one, to a request
 *   given up, and is dropped).
 * - Waiting: a request asks the server to wait at most CF__NET_MAX_WAIT_US;
 *   a longer wait (CF_FOREVER included) is a series of requests until the
 *   deadline. The client waits for each reply that wait plus
 *   heartbeat_timeout: a server gone or cut off gives -ETIMEDOUT, and the
 *   socket is replaced (a new handshake on the next call), so that no stale
 *   request or reply is left queued on it.
 * - A got string or byte buffer points into the last reply, which the
 *   handle keeps until its next get.
 * - The handle belongs to the process that made it (ZeroMQ sockets do not
 *   survive fork): other processes get CF_ESTATE.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net_priv.h"

struct cf_net_queue {
    pthread_mutex_t mu;
    pid_t pid;
    cf__net_opts opts;
    char *address;
    char name[CF_NET_NAME_MAX + 1];
    void *ctx;
    void *sock;           /* NULL after a failure: reconnect on the next call */
    uint64_t next_id;
    cf__wire_decoder dec;
    cf__frame_out out;
    cf__net_in last;      /* the last reply, kept for the strings it holds */
    void *obj;            /* the C object behind the last cf_net_queue_get_value */
    size_t obj_cap;
};

static int check(cf_net_queue *nq, const char *caller)
{
    if (nq == NULL)
        return CF__FAIL(CF_EINVAL, "%s: NULL queue", caller);
    if (nq->pid != getpid())
        return CF__FAIL(CF_ESTATE, "%s: the handle was made by process %d: connect anew in "
                                   "this one", caller, (int)nq->pid);
    return 0;
}

static void drop_socket(cf_net_queue *nq)
{
    if (nq->sock != NULL)
        zmq_close(nq->sock);
    nq->sock = NULL;
}

/* Send one request and wait for its reply: its result (>= 0) or error code;
 * nq->last holds the reply. */
static int request(cf_net_queue *nq, const char *caller, uint8_t kind, int64_t arg,
                   const void *body, size_t blen, bool has_body, double wait)
{
    int rc;
    cf__net_in_close(&nq->last);
    if (nq->sock == NULL &&
        (rc = cf__net_connect(nq->ctx, nq->address, &nq->opts, &nq->sock, caller)) != 0)
        return rc;
    uint64_t id = ++nq->next_id;
    uint8_t head[CF__NET_HEADER + CF_NET_NAME_MAX];
    size_t hl = cf__net_header(head, kind, id, arg, nq->name);
    double deadline = cf__net_now() + wait + nq->opts.heartbeat_timeout;
    /* The socket takes the request once connected (it may be reconnecting). */
    while ((rc = cf__net_send(nq->sock, NULL, 0, head, hl, body, blen, has_body)) == -EAGAIN) {
        double left = deadline - cf__net_now();
        if (left <= 0)
            break;
        zmq_pollitem_t it = {nq->sock, 0, ZMQ_POLLOUT, 0};
        zmq_poll(&it, 1, (long)(left * 1000) + 1);
    }
    if (rc != 0) {
        drop_socket(nq);
        if (rc == -EAGAIN)
            return CF__FAIL(-ETIMEDOUT, "%s: could not send to '%s' within %g s (server gone "
                                        "or unreachable)", caller, nq->address,
                            wait + nq->opts.heartbeat_timeout);
        return CF__FAIL(rc, "%s: send: %s", caller, zmq_strerror(-rc));
    }
    for (;;) {
        double left = deadline - cf__net_now();
        if (left <= 0) {
            drop_socket(nq);
            return CF__FAIL(-ETIMEDOUT,
                            "%s: no answer from '%s' within %g s (server gone or unreachable)",
                            caller, nq->address, wait + nq->opts.heartbeat_timeout);
        }
        zmq_pollitem_t it = {nq->sock, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, (long)(left * 1000) + 1) <= 0)
            continue;
        if (cf__net_recv(nq->sock, &nq->last) != 0)
            continue;
        size_t hl2, bl = 0;
        const void *h = cf__net_in_data(&nq->last, 0, &hl2);
        const void *b = nq->last.nparts == 2 ? cf__net_in_data(&nq->last, 1, &bl) : NULL;
        cf__net_msg m;
        bool id_known;
        rc = nq->last.too_many || nq->last.nparts < 1 || nq->last.nparts > 2
                 ? CF__FAIL(CF_EDECODE, "net: a reply of %d parts", nq->last.nparts)
                 : cf__net_parse(&m, h, hl2, b, bl, nq->last.nparts == 2, &id_known);
        if (rc == 0 && m.kind != CF__NET_REPLY)
            rc = CF__FAIL(CF_EDECODE, "net: a queue client takes only replies (got kind %u)",
                          m.kind);
        if (rc != 0) {
            drop_socket(nq);
            return CF__FAIL(CF_EDECODE, "%s: malformed answer from '%s' (%s)", caller,
                            nq->address, cf_last_error());
        }
        if (m.id != id) {
            cf__net_in_close(&nq->last); /* a late reply to an abandoned request */
            continue;
        }
        if (m.arg < 0) {
            if (m.body != NULL)
                return CF__FAIL((int)m.arg, "%.*s", (int)m.body_len, (const char *)m.body);
            return CF__FAIL((int)m.arg, "%s: %s", caller, cf_strerror((int)m.arg));
        }
        return (int)(m.arg > INT32_MAX ? INT32_MAX : m.arg);
    }
}

/* A request that waits up to `timeout`, split into waits the server takes. */
static int waiting_request(cf_net_queue *nq, const char *caller, uint8_t kind, const void *body,
                           size_t blen, bool has_body, double timeout)
{
    double deadline = timeout < 0 ? INFINITY : cf__net_now() + timeout;
    for (;;) {
        double left = deadline - cf__net_now();
        if (left < 0)
            left = 0;
        double wait = left > CF__NET_MAX_WAIT_US * 1e-6 ? CF__NET_MAX_WAIT_US * 1e-6 : left;
        int rc = request(nq, caller, kind, (int64_t)(wait * 1e6), body, blen, has_body, wait);
        bool again = rc == CF_EFULL || rc == CF_EEMPTY || (kind == CF__NET_Q_JOIN && rc == CF_ETIMEDOUT);
        if (!again || cf__net_now() >= deadline)
            return rc;
    }
}

int cf_net_queue_connect(cf_net_queue **out, const char *address, const char *name,
                         const cf_net_options *opts)
{
    static const char caller[] = "cf_net_queue_connect";
    if (out == NULL || address == NULL || name == NULL)
        return CF__FAIL(CF_EINVAL, "%s: NULL %s", caller,
                        out == NULL ? "out" : address == NULL ? "address" : "name");
    *out = NULL;
    size_t n = strlen(name);
    bool ok = n >= 1 && n <= CF_NET_NAME_MAX;
    for (size_t i = 0; ok && i < n; i++)
        ok = name[i] >= 0x21 && name[i] <= 0x7e;
    if (!ok)
        return CF__FAIL(CF_EINVAL, "%s: a name is 1 to %d printable ASCII characters", caller,
                        CF_NET_NAME_MAX);
    cf_net_queue *nq = calloc(1, sizeof *nq);
    if (nq == NULL)
        return CF__FAIL(-ENOMEM, "%s: no memory", caller);
    int rc = cf__net_opts_init(&nq->opts, opts, false, caller);
    if (rc != 0) {
        free(nq);
        return rc;
    }
    nq->pid = getpid();
    memcpy(nq->name, name, n + 1);
    nq->address = strdup(address);
    nq->ctx = zmq_ctx_new();
    if (nq->address == NULL || nq->ctx == NULL) {
        rc = CF__FAIL(-ENOMEM, "%s: no memory", caller);
        goto fail;
    }
    pthread_mutex_init(&nq->mu, NULL);
    CF__CORE->wire_decoder_init(&nq->dec);
    CF__CORE->frame_out_init(&nq->out, nq->opts.max_message);
    rc = request(nq, caller, CF__NET_Q_OPEN, 0, NULL, 0, false, 0);
    if (rc != 0) {
        cf_net_queue_free(nq);
        return rc;
    }
    *out = nq;
    return 0;
fail:
    if (nq->ctx != NULL)
        zmq_ctx_term(nq->ctx);
    free(nq->address);
    cf__net_opts_wipe(&nq->opts);
    free(nq);
    return rc;
}

void cf_net_queue_free(cf_net_queue *nq)
{
    if (nq == NULL)
        return;
    cf__net_in_close(&nq->last);
    free(nq->obj);
    drop_socket(nq);
    zmq_ctx_term(nq->ctx);
    CF__CORE->frame_out_free(&nq->out);
    CF__CORE->wire_decoder_free(&nq->dec);
    pthread_mutex_destroy(&nq->mu);
    free(nq->address);
    cf__net_opts_wipe(&nq->opts);
    free(nq);
}

static int put_typed(cf_net_queue *nq, const char *caller, cf_type type, const void *src,
                     double timeout)
{
    int rc = check(nq, caller);
    if (rc != 0)
        return rc;
    if (isnan(timeout))
        return CF__FAIL(CF_EINVAL, "%s: NaN timeout", caller);
    pthread_mutex_lock(&nq->mu);
    rc = CF__CORE->wire_encode_value(&nq->out, type, src);
    if (rc == 0) {
        size_t n, all;
        const uint8_t *p = cf__net_frame_payload(&nq->out, &n);
        rc = waiting_request(nq, caller, CF__NET_Q_PUT, p, n, true, timeout);
        CF__CORE->frame_out_data(&nq->out, &all);
        CF__CORE->frame_out_consume(&nq->out, all);
    }
    pthread_mutex_unlock(&nq->mu);
    return rc;
}

int cf__net_queue_put(cf_net_queue *nq, cf_type type, const void *src, double timeout)
{
    return put_typed(nq, "cf_net_queue_put", type, src, timeout);
}

int cf_net_queue_put_value(cf_net_queue *nq, const cf_value *v, double timeout)
{
    static const char caller[] = "cf_net_queue_put_value";
    if (v == NULL)
        return CF__FAIL(CF_EINVAL, "%s: NULL value", caller);
    if (v->type.kind == CF_KIND_PTR)
        return CF__FAIL(CF_EUNSUPPORTED, "%s: a raw pointer cannot travel", caller);
    if (v->type.kind >= CF_KIND_COUNT_)
        return CF__FAIL(CF_EINVAL, "%s: unknown kind %u", caller, v->type.kind);
    union {
        max_align_t a;
        unsigned char b[64];
    } small;
    void *obj = v->type.size <= sizeof small ? (void *)&small : malloc(v->type.size);
    if (obj == NULL)
        return CF__FAIL(-ENOMEM, "%s: no memory", caller);
    int rc = cf_value_store(v, v->type, obj);
    if (rc == 0)
        rc = put_typed(nq, caller, v->type, v->type.kind == CF_KIND_VOID ? NULL : obj, timeout);
    if (obj != (void *)&small)
        free(obj);
    return rc;
}

/* GET: on success the VALUE payload is in nq->last's second part. */
static int get_request(cf_net_queue *nq, const char *caller, cf_type want, double timeout,
                       cf__wire_msg *msg)
{
    uint8_t body[8];
    cf__net_put_type(body, want);
    int rc = waiting_request(nq, caller, CF__NET_Q_GET, body, sizeof body, true, timeout);
    if (rc != 0)
        return rc;
    bool none = want.kind == CF_KIND_VOID;
    if (nq->last.nparts != (none ? 1 : 2)) {
        drop_socket(nq);
        return CF__FAIL(CF_EDECODE, "%s: a GET reply %s a value", caller,
                        none ? "with" : "without");
    }
    if (none)
        return 0;
    size_t n;
    const void *p = cf__net_in_data(&nq->last, 1, &n);
    rc = CF__CORE->wire_open(msg, p, n);
    if (rc == 0 && msg->type != CF__WIRE_VALUE)
        rc = CF__FAIL(CF_EDECODE, "net: a GET reply holds a %s",
                      CF__CORE->wire_type_name(msg->type));
    return rc;
}

int cf__net_queue_get(cf_net_queue *nq, cf_type type, void *out, double timeout)
{
    static const char caller[] = "cf_net_queue_get";
    int rc = check(nq, caller);
    if (rc != 0)
        return rc;
    if (isnan(timeout))
        return CF__FAIL(CF_EINVAL, "%s: NaN timeout", caller);
    if (type.kind == CF_KIND_PTR || type.kind >= CF_KIND_COUNT_)
        return CF__FAIL(CF_EINVAL, "%s: not a value type (%s)", caller, cf_kind_name(type.kind));
    if (out == NULL)
        type = (cf_type){CF_KIND_VOID, 0};
    pthread_mutex_lock(&nq->mu);
    cf__wire_msg msg;
    rc = get_request(nq, caller, type, timeout, &msg);
    if (rc == 0 && type.kind != CF_KIND_VOID)
        rc = CF__CORE->wire_decode_value(&nq->dec, &msg, type, out);
    pthread_mutex_unlock(&nq->mu);
    return rc;
}

int cf_net_queue_get_value(cf_net_queue *nq, cf_value *out, double timeout)
{
    static const char caller[] = "cf_net_queue_get_value";
    int rc = check(nq, caller);
    if (rc != 0)
        return rc;
    if (out == NULL)
        return CF__FAIL(CF_EINVAL, "%s: NULL out", caller);
    if (isnan(timeout))
        return CF__FAIL(CF_EINVAL, "%s: NaN timeout", caller);
    pthread_mutex_lock(&nq->mu);
    cf__wire_msg msg;
    cf_type type;
    rc = get_request(nq, caller, (cf_type){CF__NET_ANY_KIND, 0}, timeout, &msg);
    if (rc == 0)
        rc = CF__CORE->wire_value_type(&msg, &type);
    if (rc == 0 && type.size + 16 > nq->obj_cap) {
        void *p = realloc(nq->obj, type.size + 16);
        if (p == NULL)
            rc = CF__FAIL(-ENOMEM, "%s: no memory for a %u-byte item", caller, type.size);
        else {
            nq->obj = p;
            nq->obj_cap = type.size + 16;
        }
    }
    if (rc == 0)
        rc = CF__CORE->wire_decode_value(&nq->dec, &msg, type,
                                         type.kind == CF_KIND_VOID ? NULL : nq->obj);
    if (rc == 0)
        rc = cf_value_load(out, type, nq->obj);
    pthread_mutex_unlock(&nq->mu);
    return rc;
}

static int simple(cf_net_queue *nq, const char *caller, uint8_t kind, double timeout)
{
    int rc = check(nq, caller);
    if (rc != 0)
        return rc;
    if (isnan(timeout))
        return CF__FAIL(CF_EINVAL, "%s: NaN timeout", caller);
    pthread_mutex_lock(&nq->mu);
    rc = kind == CF__NET_Q_JOIN ? waiting_request(nq, caller, kind, NULL, 0, false, timeout)
                                : request(nq, caller, kind, 0, NULL, 0, false, 0);
    pthread_mutex_unlock(&nq->mu);
    return rc < 0 ? rc : 0;
}

int cf_net_queue_task_done(cf_net_queue *nq)
{
    return simple(nq, "cf_net_queue_task_done", CF__NET_Q_TASK_DONE, 0);
}

int cf_net_queue_join(cf_net_queue *nq, double timeout)
{
    return simple(nq, "cf_net_queue_join", CF__NET_Q_JOIN, timeout);
}

int cf_net_queue_close(cf_net_queue *nq)
{
    return simple(nq, "cf_net_queue_close", CF__NET_Q_CLOSE, 0);
}

int cf_net_queue_qsize(cf_net_queue *nq, size_t *out)
{
    static const char caller[] = "cf_net_queue_qsize";
    int rc = check(nq, caller);
    if (rc != 0)
        return rc;
    if (out == NULL)
        return CF__FAIL(CF_EINVAL, "%s: NULL out", caller);
    pthread_mutex_lock(&nq->mu);
    rc = request(nq, caller, CF__NET_Q_QSIZE, 0, NULL, 0, false, 0);
    pthread_mutex_unlock(&nq->mu);
    if (rc < 0)
        return rc;
    *out = (size_t)rc;
    return 0;
}
