/* cfutures/net.h: queues and workers over the network (libcfutures-net, an
 * optional part: pkg-config cfutures-net; built when configure finds
 * ZeroMQ, doc/net.md).
 *
 * Python's pattern: a task master serves queues on an address with an
 * authkey (BaseManager.register / start), task workers on other machines
 * connect with the same key (BaseManager.connect) and put and get typed
 * values as on a local cf_queue. And one more: an executor whose workers are
 * remote processes that connect to it, each running its calls in a local
 * process pool.
 *
 * Security: every connection is ZeroMQ CURVE (Curve25519 key exchange,
 * XSalsa20-Poly1305 for every byte after the greeting), and the serving side
 * admits only clients whose public key it was given (a ZAP handler); a
 * client without the keys, with other keys, or that is not speaking ZeroMQ
 * is refused before any request is read. Keys come from one shared secret
 * (cf_net_keys_from_secret: Argon2id, then BLAKE2b, doc/net.md) or from key
 * files (cf_net_keys_load).
 *
 * Liveness: both ends of an executor's worker connection send a heartbeat
 * every `heartbeat` seconds; a peer silent for `heartbeat_timeout` seconds
 * is lost. A queue client waits for any one answer at most its request's
 * own wait plus `heartbeat_timeout`: a server that is gone or cut off gives
 * -ETIMEDOUT, never a hang.
 *
 * Values travel in cfutures' wire format (doc/wire-format.md, VALUE and
 * CALL/RESULT/FAILED) inside the frames doc/net.md describes; decoding is as
 * strict as the process pool's.
 *
 * ZeroMQ objects do not survive fork(): every object here belongs to the
 * process that made it. A forked child makes its own connections.
 */
#ifndef CFUTURES_NET_H
#define CFUTURES_NET_H

#include "common.h"
#include "error.h"
#include "executor.h"
#include "queue.h"
#include "value.h"

/* A CURVE key in Z85 text: 40 characters and a NUL. */
#define CF_NET_KEY_LEN 41

/* The two key pairs of one deployment. A serving side needs server_secret
 * and client_public; a connecting side needs server_public, client_public
 * and client_secret. An empty string is a key not held. */
typedef struct cf_net_keys {
    char server_public[CF_NET_KEY_LEN];
    char server_secret[CF_NET_KEY_LEN];
    char client_public[CF_NET_KEY_LEN];
    char client_secret[CF_NET_KEY_LEN];
} cf_net_keys;

/* What cf_net_keys_save writes. */
enum {
    CF_NET_KEYS_SERVER = 1, /* server_public, server_secret, client_public */
    CF_NET_KEYS_CLIENT = 2, /* server_public, client_public, client_secret */
};

/* Settings of every network object. Zero-initialise for the defaults. */
typedef struct cf_net_options {
    const cf_net_keys *keys;  /* required */
    double heartbeat;         /* seconds between heartbeats; 0: 1.0 */
    double heartbeat_timeout; /* seconds of silence after which a peer is lost;
                                 0: 10.0. Must exceed heartbeat */
    double connect_timeout;   /* a connecting side's wait for the handshake;
                                 0: 10.0 */
    uint32_t max_message;     /* largest value, call or answer in bytes;
                                 0: 64 MiB. Larger ones fail with CF_ETOOBIG */
} cf_net_options;

/* The most bytes in a queue's name (without the NUL). */
#define CF_NET_NAME_MAX 63

typedef struct cf_net_server cf_net_server;
typedef struct cf_net_queue cf_net_queue;

CF_BEGIN_DECLS

/* ---- Keys ----------------------------------------------------------------------- */

/* Derive both key pairs from a shared secret of `len` bytes (any bytes; an
 * authkey string): every holder of the secret derives the same keys. Slow on
 * purpose (Argon2id, 16 MiB, 3 passes: tens of milliseconds), so that a
 * guessed secret costs an attacker as much; a weak secret stays weak.
 * Errors: CF_EINVAL (NULL keys, NULL secret with len > 0, len 0), -ENOMEM. */
CF_EXTERN int cf_net_keys_from_secret(cf_net_keys *keys, const void *secret, size_t len);

/* Fresh random key pairs. Errors: CF_EINVAL (NULL keys), -EIO. */
CF_EXTERN int cf_net_keys_generate(cf_net_keys *keys);

/* Write the keys one side needs (`which`: CF_NET_KEYS_SERVER or
 * CF_NET_KEYS_CLIENT) to a new file `path`, readable by its owner only
 * (mode 0600; an existing file is refused). Format: doc/net.md.
 * Errors: CF_EINVAL (NULL argument, unknown which, a needed key missing),
 * -EEXIST, -errno. */
CF_EXTERN int cf_net_keys_save(const cf_net_keys *keys, const char *path, int which);

/* Read a key file written by cf_net_keys_save (or by hand: lines
 * `name = Z85KEY`, `#` comments). Keys it does not hold are left empty; a
 * public key missing beside its secret is computed. A file others may read
 * or write is refused.
 * Errors: CF_EINVAL (NULL argument), CF_EDECODE (a malformed line or key,
 * with the line number), -EPERM (the file's mode lets others read it),
 * -errno. */
CF_EXTERN int cf_net_keys_load(cf_net_keys *keys, const char *path);

/* Overwrite the keys with zeros (the compiler may not skip it). NULL ignored. */
CF_EXTERN void cf_net_keys_wipe(cf_net_keys *keys);

/* ---- Serving queues (the task master's side) -------------------------------------- */

/* Listen on `address` ("tcp://HOST:PORT"; PORT may be "*" for any free port,
 * see cf_net_server_endpoint) and serve the queues added to it, with one
 * thread of its own. Nothing is served until a queue is added.
 * Errors: CF_EINVAL (NULL out, address or opts; no keys; keys without
 * server_secret or client_public; bad timeouts), -EADDRINUSE and the other
 * -errno of binding, -ENOMEM. */
CF_EXTERN int cf_net_server_new(cf_net_server **out, const char *address,
                                const cf_net_options *opts);

/* Serve `q` under `name` (1 to CF_NET_NAME_MAX printable ASCII bytes). The
 * queue stays the caller's: it must outlive the server (cf_net_server_free
 * first, then cf_queue_free). Any thread.
 * Errors: CF_EINVAL (NULL argument, a bad name), CF_ESTATE (name taken),
 * -ENOMEM. */
CF_EXTERN int cf_net_server_add_queue(cf_net_server *srv, const char *name, cf_queue *q);

/* The address the server listens on, with the port it got
 * ("tcp://127.0.0.1:40123"). Valid until the server is freed. Never fails. */
CF_EXTERN const char *cf_net_server_endpoint(const cf_net_server *srv);

/* How many connections the server has refused so far: handshakes that failed
 * (no CURVE, a wrong server key, a client key it does not admit, bytes that
 * are not ZeroMQ). Never blocks, never fails. */
CF_EXTERN uint64_t cf_net_server_refused(const cf_net_server *srv);

/* How many messages from admitted clients it has dropped as malformed (a
 * reply says CF_EDECODE when the request's id could be read). Never fails. */
CF_EXTERN uint64_t cf_net_server_rejected(const cf_net_server *srv);

/* Stop serving and free the server: requests in progress end (a waiting get
 * or put is given up within about a second; its client retries or times
 * out). Does not touch the queues. NULL is ignored. */
CF_EXTERN void cf_net_server_free(cf_net_server *srv);

/* ---- A remote queue (the task worker's side) ---------------------------------------- */

/* Connect to the queue served under `name` at `address` and wait up to
 * opts->connect_timeout for the secure handshake. The handle may be used by
 * one thread at a time (calls are serialized by a lock).
 * Errors: CF_EINVAL (NULL argument, bad name, keys without server_public or
 * client_secret), -EACCES (the server refused the keys), -ETIMEDOUT (no
 * handshake in time: nobody listening, or a server that does not know the
 * keys), CF_ENOTFOUND (no queue of that name there), -ENOMEM, -errno. */
CF_EXTERN int cf_net_queue_connect(cf_net_queue **out, const char *address, const char *name,
                                   const cf_net_options *opts);

/* Disconnect and free. NULL is ignored. */
CF_EXTERN void cf_net_queue_free(cf_net_queue *nq);

/* As cf_queue_put, to the remote queue. Errors: those of cf_queue_put (from
 * the server), plus -ETIMEDOUT (no answer from the server within the wait
 * plus heartbeat_timeout: whether the item went in is unknown), CF_EDECODE
 * (a malformed answer), CF_ESTATE (the handle was made by another process). */
#define cf_net_queue_put(nq, x, timeout)                                           \
    (__extension__({                                                               \
        __auto_type cf__item_ = (x);                                               \
        _Static_assert(CF__KIND_OF_PTR(&cf__item_) != CF_KIND_PTR,                 \
                       "cf_net_queue_put: a raw pointer cannot travel between machines"); \
        cf__net_queue_put((nq), CF__TYPE_OF_OUT(&cf__item_), &cf__item_, (timeout)); \
    }))
CF_EXTERN int cf__net_queue_put(cf_net_queue *nq, cf_type type, const void *src, double timeout);

/* As cf_queue_get, from the remote queue: the type is checked by the server
 * (an item of another type stays at the front: CF_ETYPE). A string or
 * cf_bytes points into the handle's memory, valid until its next get.
 * Errors: those of cf_queue_get, plus -ETIMEDOUT (as for put: an item the
 * server took for a lost answer is lost), CF_EDECODE, CF_ESTATE. */
#define cf_net_queue_get(nq, out, timeout)                                         \
    cf__net_queue_get((nq), CF__TYPE_OF_OUT(out), (out), (timeout))
CF_EXTERN int cf__net_queue_get(cf_net_queue *nq, cf_type type, void *out, double timeout);

/* Dynamic forms (as cf_queue_put_value / cf_queue_get_value); a got value
 * refers to the handle's memory, valid until its next get. */
CF_EXTERN int cf_net_queue_put_value(cf_net_queue *nq, const cf_value *v, double timeout);
CF_EXTERN int cf_net_queue_get_value(cf_net_queue *nq, cf_value *out, double timeout);

/* As cf_queue_task_done, cf_queue_join, cf_queue_close, on the remote queue;
 * plus -ETIMEDOUT, CF_EDECODE, CF_ESTATE as above. */
CF_EXTERN int cf_net_queue_task_done(cf_net_queue *nq);
CF_EXTERN int cf_net_queue_join(cf_net_queue *nq, double timeout);
CF_EXTERN int cf_net_queue_close(cf_net_queue *nq);

/* The remote queue's cf_queue_qsize into *out. Errors: CF_EINVAL (NULL),
 * -ETIMEDOUT, CF_EDECODE, CF_ESTATE. */
CF_EXTERN int cf_net_queue_qsize(cf_net_queue *nq, size_t *out);

/* ---- An executor of remote workers ------------------------------------------------- */

/* An executor (cf_submit, cf_map, futures as usual) whose workers are
 * processes that connect to `address` with cf_net_worker_run. Each worker
 * takes as many calls at a time as its local pool has processes. Calls wait
 * (PENDING) until a worker has room; a call becomes RUNNING when it is sent.
 * A worker that disconnects or is silent for heartbeat_timeout is lost: the
 * calls it held fail with CF_ECRASHED (origin: the worker, message: why),
 * every other call goes on elsewhere. Futures complete on the executor's
 * thread (done-callbacks run there). Raw pointers are refused
 * (CF_EUNSUPPORTED); a submit's time limit is the worker pool's.
 * Shutdown with CF_SHUTDOWN_WAIT waits for every call (with no worker
 * connected, pending calls wait for one: give a timeout), then tells the
 * workers to exit; cf_executor_max_workers() is the room of the workers
 * connected now.
 * Errors: as cf_net_server_new. */
CF_EXTERN int cf_net_executor_new(cf_executor **out, const char *address,
                                  const cf_net_options *opts);

/* The address it listens on, with its port; NULL when ex is not one. */
CF_EXTERN const char *cf_net_executor_endpoint(const cf_executor *ex);

/* Wait up to `timeout` until at least n workers are connected.
 * Errors: CF_EINVAL (not a network executor, NaN timeout), CF_ETIMEDOUT. */
CF_EXTERN int cf_net_executor_wait_workers(cf_executor *ex, size_t n, double timeout);

/* Connections it refused so far (as cf_net_server_refused). */
CF_EXTERN uint64_t cf_net_executor_refused(const cf_executor *ex);

/* Be a remote worker: start a local process pool of `local_workers`
 * processes (0: the number of CPUs) first, then connect to the executor at
 * `address` and run the calls it sends, answering each as it completes.
 * Tasks are found by name (CF_TASK in this program). A task that crashes
 * fails only its own call. Returns when the executor shuts down (0), or
 * with an error: -EACCES (keys refused), -ETIMEDOUT (no handshake in time,
 * or the executor silent for heartbeat_timeout: the calls running here are
 * terminated), CF_EINVAL, -ENOMEM, -errno. Blocks its thread. */
CF_EXTERN int cf_net_worker_run(const char *address, const cf_net_options *opts,
                                size_t local_workers);

CF_END_DECLS

#endif
