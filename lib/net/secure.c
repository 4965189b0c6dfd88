/* secure.c: sockets that speak only CURVE, the ZAP handler that admits one
 * client key, handshake monitoring, and sending and receiving whole
 * messages (net_priv.h).
 *
 * Design notes
 * - A serving socket is a ROUTER with ZMQ_CURVE_SERVER and the server's
 *   secret key. CURVE alone admits anyone who knows the server's public key;
 *   the ZAP handler (a REP socket on inproc://zeromq.zap.01 in the same
 *   context) admits only the client public key of the deployment, with
 *   sodium_memcmp so that the comparison takes the same time whatever
 *   differs. A client without CURVE, with another server key or with
 *   another client key fails the handshake before any message reaches the
 *   application; so does a peer that is not ZeroMQ at all.
 * - Each listener has a monitor (a PAIR socket on inproc) that counts the
 *   handshakes that failed: cf_net_server_refused and the tests read it.
 * - A connecting socket is a DEALER with the client's keys and the server's
 *   public key; cf__net_connect waits on its monitor for the handshake's
 *   outcome, so that refused keys are reported (-EACCES) instead of requests
 *   that are never answered.
 * - All sockets: linger 0 (nothing queued outlives a close), a receive size
 *   limit of max_message plus the header, and an explicit handshake limit.
 * - Threads: the caller owns the sockets; nothing here locks.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "net_priv.h"

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"

double cf__net_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int cf__net_opts_init(cf__net_opts *o, const cf_net_options *opts, bool serving,
                      const char *caller)
{
    memset(o, 0, sizeof *o);
    if (opts == NULL || opts->keys == NULL)
        return CF__FAIL(CF_EINVAL, "%s: no keys (cf_net_options.keys)", caller);
    const cf_net_keys *k = opts->keys;
    bool ok = serving ? strlen(k->server_secret) == 40 && strlen(k->client_public) == 40
                      : strlen(k->server_public) == 40 && strlen(k->client_public) == 40 &&
                            strlen(k->client_secret) == 40;
    if (!ok)
        return CF__FAIL(CF_EINVAL, "%s: the keys lack what a %s side needs (%s)", caller,
                        serving ? "serving" : "connecting",
                        serving ? "server_secret, client_public"
                                : "server_public, client_public, client_secret");
    if (isnan(opts->heartbeat) || isnan(opts->heartbeat_timeout) ||
        isnan(opts->connect_timeout) || opts->heartbeat < 0 || opts->heartbeat_timeout < 0 ||
        opts->connect_timeout < 0)
        return CF__FAIL(CF_EINVAL, "%s: negative or NaN heartbeat or timeout", caller);
    o->keys = *k;
    o->heartbeat = opts->heartbeat > 0 ? opts->heartbeat : 1.0;
    o->heartbeat_timeout = opts->heartbeat_timeout > 0 ? opts->heartbeat_timeout : 10.0;
    o->connect_timeout = opts->connect_timeout > 0 ? opts->connect_timeout : 10.0;
    o->max_message = opts->max_message > 0 ? opts->max_message : 64u << 20;
    if (o->heartbeat_timeout <= o->heartbeat) {
        cf__net_opts_wipe(o);
        return CF__FAIL(CF_EINVAL, "%s: heartbeat_timeout (%g s) must exceed heartbeat (%g s)",
                        caller, opts->heartbeat_timeout, opts->heartbeat);
    }
    return 0;
}

void cf__net_opts_wipe(cf__net_opts *o)
{
    sodium_memzero(&o->keys, sizeof o->keys);
}

static int zmq_fail(const char *caller, const char *what)
{
    int e = zmq_errno();
    return CF__FAIL(-e, "%s: %s: %s", caller, what, zmq_strerror(e));
}

/* Options every socket gets. */
static int common_options(void *s, const cf__net_opts *o)
{
    int zero = 0;
    int64_t max = (int64_t)o->max_message + CF__NET_HEADER + CF_NET_NAME_MAX + 64;
    int hs = (int)(o->connect_timeout * 1000);
    if (zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero) != 0 ||
        zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &max, sizeof max) != 0 ||
        zmq_setsockopt(s, ZMQ_HANDSHAKE_IVL, &hs, sizeof hs) != 0)
        return -1;
    return 0;
}

void cf__net_listener_close(cf__net_listener *l)
{
    if (l->monitor != NULL)
        zmq_close(l->monitor);
    if (l->sock != NULL)
        zmq_close(l->sock);
    if (l->zap != NULL)
        zmq_close(l->zap);
    if (l->ctx != NULL)
        zmq_ctx_term(l->ctx);
    l->monitor = l->sock = l->zap = l->ctx = NULL;
    sodium_memzero(l->client_key, sizeof l->client_key);
}

int cf__net_listen(cf__net_listener *l, const char *address, const cf__net_opts *o,
                   const char *caller)
{
    memset(l, 0, sizeof *l);
    if (sodium_init() < 0)
        return CF__FAIL(-EIO, "%s: libsodium failed to initialise", caller);
    if (zmq_z85_decode(l->client_key, o->keys.client_public) == NULL)
        return CF__FAIL(CF_EINVAL, "%s: malformed client_public key", caller);
    int rc;
    l->ctx = zmq_ctx_new();
    if (l->ctx == NULL)
        return zmq_fail(caller, "zmq_ctx_new");
    int one = 1;
    l->zap = zmq_socket(l->ctx, ZMQ_REP);
    if (l->zap == NULL || zmq_bind(l->zap, ZAP_ENDPOINT) != 0) {
        rc = zmq_fail(caller, "ZAP handler");
        goto fail;
    }
    l->sock = zmq_socket(l->ctx, ZMQ_ROUTER);
    if (l->sock == NULL || common_options(l->sock, o) != 0 ||
        zmq_setsockopt(l->sock, ZMQ_CURVE_SERVER, &one, sizeof one) != 0 ||
        zmq_setsockopt(l->sock, ZMQ_CURVE_SECRETKEY, o->keys.server_secret, 40) != 0 ||
        zmq_setsockopt(l->sock, ZMQ_ZAP_DOMAIN, "cfutures", 8) != 0 ||
        zmq_setsockopt(l->sock, ZMQ_ROUTER_MANDATORY, &one, sizeof one) != 0) {
        rc = zmq_fail(caller, "socket options");
        goto fail;
    }
    char mon[64];
    snprintf(mon, sizeof mon, "inproc://cf-net-monitor-%p", (void *)l);
    if (zmq_socket_monitor(l->sock, mon,
                           ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) != 0 ||
        (l->monitor = zmq_socket(l->ctx, ZMQ_PAIR)) == NULL || zmq_connect(l->monitor, mon) != 0) {
        rc = zmq_fail(caller, "socket monitor");
        goto fail;
    }
    if (zmq_bind(l->sock, address) != 0) {
        int e = zmq_errno();
        rc = CF__FAIL(-e, "%s: cannot listen on '%s': %s", caller, address, zmq_strerror(e));
        goto fail;
    }
    size_t len = sizeof l->endpoint;
    if (zmq_getsockopt(l->sock, ZMQ_LAST_ENDPOINT, l->endpoint, &len) != 0) {
        rc = zmq_fail(caller, "ZMQ_LAST_ENDPOINT");
        goto fail;
    }
    return 0;
fail:
    cf__net_listener_close(l);
    return rc;
}

/* Receive one frame of a multi-part message into buf (truncated); its
 * length, or -1. *more: whether parts follow. */
static int recv_part(void *s, void *buf, size_t cap, bool *more)
{
    int n = zmq_recv(s, buf, cap, ZMQ_DONTWAIT);
    int m = 0;
    size_t ml = sizeof m;
    zmq_getsockopt(s, ZMQ_RCVMORE, &m, &ml);
    *more = m != 0;
    return n;
}

void cf__net_zap_serve(cf__net_listener *l)
{
    /* version, request id, domain, address, identity, mechanism, credentials... */
    char part[7][256];
    int len[7];
    int n = 0;
    bool more = true;
    while (more) {
        char scratch[256];
        char *dst = n < 7 ? part[n] : scratch;
        int r = recv_part(l->zap, dst, 256, &more);
        if (r < 0)
            return; /* nothing to read after all */
        if (n < 7)
            len[n] = r;
        n++;
    }
    bool admit = n == 7 && len[0] == 3 && memcmp(part[0], "1.0", 3) == 0 && len[5] == 5 &&
                 memcmp(part[5], "CURVE", 5) == 0 && len[6] == 32 &&
                 sodium_memcmp(part[6], l->client_key, 32) == 0;
    int idlen = n >= 2 && len[1] <= 255 ? len[1] : 0;
    const char *status = admit ? "200" : "400";
    const char *text = admit ? "OK" : "client key not admitted";
    zmq_send(l->zap, "1.0", 3, ZMQ_SNDMORE);
    zmq_send(l->zap, part[1], (size_t)idlen, ZMQ_SNDMORE);
    zmq_send(l->zap, status, 3, ZMQ_SNDMORE);
    zmq_send(l->zap, text, strlen(text), ZMQ_SNDMORE);
    zmq_send(l->zap, "", 0, ZMQ_SNDMORE);
    zmq_send(l->zap, "", 0, 0);
    sodium_memzero(part, sizeof part);
}

/* One monitor event: its number, or -1 when none is waiting. */
static int monitor_event(void *mon, int flags)
{
    uint8_t ev[6];
    char addr[256];
    bool more;
    int n = zmq_recv(mon, ev, sizeof ev, flags);
    if (n < 0)
        return -1;
    int m = 0;
    size_t ml = sizeof m;
    zmq_getsockopt(mon, ZMQ_RCVMORE, &m, &ml);
    if (m)
        recv_part(mon, addr, sizeof addr, &more); /* the endpoint: not needed */
    if (n < 2)
        return 0;
    uint16_t e;
    memcpy(&e, ev, 2);
    return e;
}

void cf__net_monitor_drain(cf__net_listener *l)
{
    int e;
    while ((e = monitor_event(l->monitor, ZMQ_DONTWAIT)) >= 0) {
        if (e & (ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                 ZMQ_EVENT_HANDSHAKE_FAILED_AUTH))
            atomic_fetch_add(&l->refused, 1);
    }
}

int cf__net_connect(void *ctx, const char *address, const cf__net_opts *o, void **out,
                    const char *caller)
{
    *out = NULL;
    void *s = zmq_socket(ctx, ZMQ_DEALER), *mon = NULL;
    int rc = 0;
    if (s == NULL || common_options(s, o) != 0 ||
        zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, o->keys.server_public, 40) != 0 ||
        zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, o->keys.client_public, 40) != 0 ||
        zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, o->keys.client_secret, 40) != 0) {
        rc = zmq_fail(caller, "socket options");
        goto out;
    }
    char name[64];
    static _Atomic unsigned serial;
    snprintf(name, sizeof name, "inproc://cf-net-connect-%p-%u", s, atomic_fetch_add(&serial, 1));
    if (zmq_socket_monitor(s, name,
                           ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
                               ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) != 0 ||
        (mon = zmq_socket(ctx, ZMQ_PAIR)) == NULL || zmq_connect(mon, name) != 0) {
        rc = zmq_fail(caller, "socket monitor");
        goto out;
    }
    if (zmq_connect(s, address) != 0) {
        int e = zmq_errno();
        rc = CF__FAIL(-e, "%s: cannot connect to '%s': %s", caller, address, zmq_strerror(e));
        goto out;
    }
    double deadline = cf__net_now() + o->connect_timeout;
    int failures = 0;
    for (;;) {
        double left = deadline - cf__net_now();
        if (left <= 0) {
            rc = CF__FAIL(-ETIMEDOUT,
                          "%s: no secure handshake with '%s' within %g s (%s)", caller, address,
                          o->connect_timeout,
                          failures > 0 ? "the server does not accept these keys"
                                       : "nobody answering, or a server with other keys");
            break;
        }
        zmq_pollitem_t it = {mon, 0, ZMQ_POLLIN, 0};
        int n = zmq_poll(&it, 1, (long)(left * 1000) + 1);
        if (n < 0 && zmq_errno() != EINTR) {
            rc = zmq_fail(caller, "zmq_poll");
            break;
        }
        if (n <= 0)
            continue;
        int e = monitor_event(mon, ZMQ_DONTWAIT);
        if (e == ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
            break;
        if (e == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
            rc = CF__FAIL(-EACCES, "%s: '%s' refused these keys", caller, address);
            break;
        }
        if (e > 0)
            failures++; /* a protocol failure: the server's key is another; zmq retries */
    }
out:
    if (s != NULL)
        zmq_socket_monitor(s, NULL, 0);
    if (mon != NULL)
        zmq_close(mon);
    if (rc != 0) {
        if (s != NULL)
            zmq_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

int cf__net_send(void *sock, const void *route, size_t route_len, const uint8_t *head,
                 size_t head_len, const void *body, size_t body_len, bool has_body)
{
    /* Never blocks: a peer that does not read (or no peer at all) must not
     * stop the sending thread. Once the first part is taken, ZeroMQ takes
     * the rest of the message. */
    if (route != NULL && zmq_send(sock, route, route_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
        return -zmq_errno();
    if (zmq_send(sock, head, head_len, ZMQ_DONTWAIT | (has_body ? ZMQ_SNDMORE : 0)) < 0)
        return -zmq_errno();
    if (has_body && zmq_send(sock, body_len > 0 ? body : "", body_len, ZMQ_DONTWAIT) < 0)
        return -zmq_errno();
    return 0;
}

int cf__net_recv(void *sock, cf__net_in *in)
{
    in->nparts = 0;
    in->too_many = false;
    for (;;) {
        zmq_msg_t tmp, *m = in->nparts < 3 ? &in->parts[in->nparts] : &tmp;
        zmq_msg_init(m);
        if (zmq_msg_recv(m, sock, in->nparts == 0 ? ZMQ_DONTWAIT : 0) < 0) {
            int e = zmq_errno();
            zmq_msg_close(m);
            cf__net_in_close(in);
            return -e;
        }
        bool more = zmq_msg_more(m);
        if (m == &tmp) {
            zmq_msg_close(m);
            in->too_many = true;
        } else {
            in->nparts++;
        }
        if (!more)
            return 0;
    }
}

void cf__net_in_close(cf__net_in *in)
{
    for (int i = 0; i < in->nparts; i++)
        zmq_msg_close(&in->parts[i]);
    in->nparts = 0;
}

const void *cf__net_in_data(cf__net_in *in, int part, size_t *len)
{
    *len = zmq_msg_size(&in->parts[part]);
    return zmq_msg_data(&in->parts[part]);
}

const uint8_t *cf__net_frame_payload(cf__frame_out *out, size_t *len)
{
    size_t n;
    const uint8_t *p = CF__CORE->frame_out_data(out, &n);
    if (n < CF__FRAME_HEADER) {
        *len = 0;
        return (const uint8_t *)"";
    }
    *len = n - CF__FRAME_HEADER;
    return p + CF__FRAME_HEADER;
}
