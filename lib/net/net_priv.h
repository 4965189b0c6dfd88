/* net_priv.h: what the files of libcfutures-net share (private).
 *
 * - CF__CORE: the internals libcfutures lends (core_ext.h); CF__FAIL records
 *   cf_last_error() in the core, where the application reads it.
 * - Time: CLOCK_MONOTONIC seconds.
 * - Sockets (secure.c): every socket is CURVE; a serving socket answers to a
 *   ZAP handler that admits one client key; a connecting socket waits for
 *   its handshake. Each object has its own ZeroMQ context, used by the one
 *   thread that owns its sockets.
 */
#ifndef CF_NET_PRIV_H
#define CF_NET_PRIV_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <zmq.h>

#include <cfutures.h>
#include <cfutures/net.h>

#include "core_ext.h"
#include "msg.h"

#define CF__CORE (&cf__net_core_v1)
#define CF__FAIL(...) (CF__CORE->fail(__VA_ARGS__))

/* Options with the defaults filled in, checked. */
typedef struct cf__net_opts {
    cf_net_keys keys;
    double heartbeat;
    double heartbeat_timeout;
    double connect_timeout;
    uint32_t max_message;
} cf__net_opts;

/* Check `opts` and fill `o`. `serving`: the keys a serving side needs, else
 * those of a connecting side. Errors: CF_EINVAL. */
int cf__net_opts_init(cf__net_opts *o, const cf_net_options *opts, bool serving,
                      const char *caller);
void cf__net_opts_wipe(cf__net_opts *o);

double cf__net_now(void);

/* A serving socket (ROUTER) bound to `address`, its ZAP handler and its
 * monitor, in a new context. */
typedef struct cf__net_listener {
    void *ctx;
    void *sock;
    void *zap;     /* REP on inproc://zeromq.zap.01 */
    void *monitor; /* PAIR receiving the socket's handshake events */
    char endpoint[256];
    uint8_t client_key[32]; /* the one client public key admitted */
    _Atomic uint64_t refused;
} cf__net_listener;

/* Errors: -errno of zmq (binding), -ENOMEM. */
int cf__net_listen(cf__net_listener *l, const char *address, const cf__net_opts *o,
                   const char *caller);
void cf__net_listener_close(cf__net_listener *l);
/* Serve one ZAP request (the zap socket is readable). */
void cf__net_zap_serve(cf__net_listener *l);
/* Read the monitor's pending events (counts refused handshakes). */
void cf__net_monitor_drain(cf__net_listener *l);

/* A connecting socket (DEALER) to `address`, in context ctx, with its
 * handshake done. Errors: -EACCES, -ETIMEDOUT, -errno. */
int cf__net_connect(void *ctx, const char *address, const cf__net_opts *o, void **sock,
                    const char *caller);

/* Send a message: [route], header, [body], without waiting. Returns 0,
 * -EAGAIN (no room, or no peer connected: nothing was sent), -EHOSTUNREACH
 * (a ROUTER's peer is gone) or another -errno. `route` NULL for a DEALER. */
int cf__net_send(void *sock, const void *route, size_t route_len, const uint8_t *head,
                 size_t head_len, const void *body, size_t body_len, bool has_body);

/* A received message: up to 3 parts kept as zmq_msg_t. */
typedef struct cf__net_in {
    zmq_msg_t parts[3];
    int nparts;                 /* parts held (0..3); more than 3: the message is refused */
    bool too_many;
} cf__net_in;

/* Receive one whole message without waiting (-EAGAIN when none). */
int cf__net_recv(void *sock, cf__net_in *in);
void cf__net_in_close(cf__net_in *in);
const void *cf__net_in_data(cf__net_in *in, int part, size_t *len);

/* The payload of the last frame the wire encoders appended to `out` (their
 * frames carry a 4-byte length prefix that a ZeroMQ message does not need). */
const uint8_t *cf__net_frame_payload(cf__frame_out *out, size_t *len);

#endif
