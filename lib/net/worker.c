/* worker.c: a remote worker (cf_net_worker_run): runs the calls a network
 * executor sends in a local process pool and answers them.
 *
 * Design notes
 * - Order: the local process pool is made first, before any ZeroMQ object
 *   exists, so that its fork server is forked from a process without
 *   ZeroMQ's threads; then the context, the DEALER and its handshake.
 * - Threads: the calling thread owns the socket. Each call is submitted to
 *   the pool; its done-callback (on the pool's dispatcher) only queues the
 *   finished future under `mu` and pokes an eventfd, and the owning thread
 *   encodes and sends the answer.
 * - A task that crashes its process fails only its own future (the pool
 *   replaces the process); that failure travels back as a FAILED answer.
 * - Liveness: a HEARTBEAT goes out every `heartbeat` seconds; an executor
 *   silent for heartbeat_timeout is lost: the pool is terminated (its
 *   running calls killed) and run returns -ETIMEDOUT. SHUTDOWN from the
 *   executor: the calls in hand are finished and answered, then run
 *   returns 0.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "future_priv.h"
#include "net_priv.h"

typedef struct done_call {
    struct done_call *next;
    struct wstate *st;
    cf_future *f;
    uint64_t id;
} done_call;

typedef struct wstate {
    pthread_mutex_t mu;
    done_call *done; /* under mu */
    int wake_fd;
    size_t running;  /* the owning thread's */
} wstate;

static void on_done(cf_future *f, void *arg)
{
    (void)f;
    done_call *d = arg;
    wstate *st = d->st;
    pthread_mutex_lock(&st->mu);
    d->next = st->done;
    st->done = d;
    pthread_mutex_unlock(&st->mu);
    uint64_t one = 1;
    ssize_t w = write(st->wake_fd, &one, sizeof one);
    (void)w;
}

static void send_msg(void *sock, uint8_t kind, uint64_t id, int64_t arg, const void *body,
                     size_t blen, bool has_body)
{
    uint8_t head[CF__NET_HEADER + CF_NET_NAME_MAX];
    size_t hl = cf__net_header(head, kind, id, arg, NULL);
    cf__net_send(sock, NULL, 0, head, hl, body, blen, has_body);
}

/* Answer a finished call. */
static void answer(void *sock, cf__frame_out *out, done_call *d)
{
    const cf_error *err = cf_future_error(d->f);
    int rc;
    if (cf_future_cancelled(d->f)) {
        rc = CF__CORE->wire_encode_failed(out, d->id, CF_ECANCELLED, 0, "cancelled on the worker");
    } else if (err != NULL) {
        rc = CF__CORE->wire_encode_failed(out, d->id, err->code, err->detail, err->message);
    } else {
        const cf_task *task = d->f->task;
        union {
            max_align_t a;
            unsigned char b[64];
        } small;
        void *slot = task->result.size <= sizeof small ? (void *)&small : malloc(task->result.size);
        rc = slot == NULL ? -ENOMEM
                          : cf__future_result(d->f, task->result,
                                              task->result.kind == CF_KIND_VOID ? NULL : slot, 0);
        if (rc == 0)
            rc = CF__CORE->wire_encode_result(out, d->id, task, slot);
        if (slot != NULL && slot != (void *)&small)
            free(slot);
    }
    if (rc != 0)
        rc = CF__CORE->wire_encode_failed(out, d->id, rc, 0, cf_last_error());
    if (rc == 0) {
        size_t n, all;
        const uint8_t *p = cf__net_frame_payload(out, &n);
        send_msg(sock, CF__NET_W_ANSWER, d->id, 0, p, n, true);
        CF__CORE->frame_out_data(out, &all);
        CF__CORE->frame_out_consume(out, all);
    }
    cf_future_release(d->f);
    free(d);
}

static void on_call(wstate *st, cf_executor *pool, cf__wire_decoder *dec, void *sock,
                    cf__frame_out *out, const cf__net_msg *m)
{
    cf__wire_msg msg;
    const cf_task *task;
    void *args;
    int rc = CF__CORE->wire_open(&msg, m->body, m->body_len);
    if (rc == 0 && (msg.type != CF__WIRE_CALL || msg.id != m->id))
        rc = CF__FAIL(CF_EDECODE, "net: a CALL whose body is not its call");
    if (rc == 0)
        rc = CF__CORE->wire_decode_call(dec, &msg, &task, &args);
    done_call *d = NULL;
    cf_future *f = NULL;
    if (rc == 0 && (d = calloc(1, sizeof *d)) == NULL)
        rc = CF__FAIL(-ENOMEM, "net: no memory for a call");
    if (rc == 0) {
        cf_submit_options so = {.timeout = m->arg < 0 ? -1.0 : (double)m->arg * 1e-6};
        rc = cf__submit_task(&f, pool, &so, task, args);
    }
    if (rc == 0) {
        d->st = st;
        d->f = f;
        d->id = m->id;
        st->running++;
        if (cf_future_add_done_callback(f, on_done, d) != 0) {
            cf_future_wait(f, CF_FOREVER);
            on_done(f, d);
        }
        return;
    }
    free(d);
    if (CF__CORE->wire_encode_failed(out, m->id, rc, 0, cf_last_error()) == 0) {
        size_t n, all;
        const uint8_t *p = cf__net_frame_payload(out, &n);
        send_msg(sock, CF__NET_W_ANSWER, m->id, 0, p, n, true);
        CF__CORE->frame_out_data(out, &all);
        CF__CORE->frame_out_consume(out, all);
    }
}

int cf_net_worker_run(const char *address, const cf_net_options *opts, size_t local_workers)
{
    static const char caller[] = "cf_net_worker_run";
    if (address == NULL)
        return CF__FAIL(CF_EINVAL, "%s: NULL address", caller);
    cf__net_opts o;
    int rc = cf__net_opts_init(&o, opts, false, caller);
    if (rc != 0)
        return rc;
    cf_executor *pool = NULL;
    rc = cf_process_pool_new(&pool, &(cf_process_pool_options){.max_workers = local_workers});
    if (rc != 0) {
        cf__net_opts_wipe(&o);
        return rc;
    }
    wstate st = {.wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)};
    pthread_mutex_init(&st.mu, NULL);
    void *ctx = zmq_ctx_new(), *sock = NULL;
    cf__wire_decoder dec;
    cf__frame_out out;
    CF__CORE->wire_decoder_init(&dec);
    CF__CORE->frame_out_init(&out, o.max_message);
    if (st.wake_fd < 0 || ctx == NULL)
        rc = CF__FAIL(-ENOMEM, "%s: no eventfd or ZeroMQ context", caller);
    if (rc == 0)
        rc = cf__net_connect(ctx, address, &o, &sock, caller);
    if (rc == 0) {
        char label[128];
        char host[64] = "";
        gethostname(host, sizeof host - 1);
        snprintf(label, sizeof label, "%s:%d", host, (int)getpid());
        size_t cap = cf_executor_max_workers(pool);
        if (cap > CF__NET_MAX_CAPACITY)
            cap = CF__NET_MAX_CAPACITY;
        send_msg(sock, CF__NET_W_HELLO, 0, (int64_t)cap, label, strlen(label), true);
    }
    double last_heard = cf__net_now(), next_beat = last_heard + o.heartbeat;
    bool stopping = false;
    while (rc == 0) {
        zmq_pollitem_t items[2] = {{sock, 0, ZMQ_POLLIN, 0}, {NULL, st.wake_fd, ZMQ_POLLIN, 0}};
        long ms = (long)((next_beat - cf__net_now()) * 1000) + 1;
        zmq_poll(items, 2, ms < 0 ? 0 : ms);
        if (items[1].revents & ZMQ_POLLIN) {
            uint64_t v;
            ssize_t r = read(st.wake_fd, &v, sizeof v);
            (void)r;
            pthread_mutex_lock(&st.mu);
            done_call *list = st.done;
            st.done = NULL;
            pthread_mutex_unlock(&st.mu);
            while (list != NULL) {
                done_call *next = list->next;
                answer(sock, &out, list);
                st.running--;
                list = next;
            }
        }
        if (items[0].revents & ZMQ_POLLIN) {
            for (int k = 0; k < 256; k++) {
                cf__net_in in;
                if (cf__net_recv(sock, &in) != 0)
                    break;
                size_t hl, bl = 0;
                const void *h = cf__net_in_data(&in, 0, &hl);
                const void *b = in.nparts == 2 ? cf__net_in_data(&in, 1, &bl) : NULL;
                cf__net_msg m;
                bool id_known;
                if (!in.too_many && in.nparts <= 2 &&
                    cf__net_parse(&m, h, hl, b, bl, in.nparts == 2, &id_known) == 0) {
                    last_heard = cf__net_now();
                    if (m.kind == CF__NET_W_CALL && !stopping)
                        on_call(&st, pool, &dec, sock, &out, &m);
                    else if (m.kind == CF__NET_W_SHUTDOWN)
                        stopping = true;
                }
                cf__net_in_close(&in);
            }
        }
        double now = cf__net_now();
        if (stopping && st.running == 0)
            break;
        if (now - last_heard > o.heartbeat_timeout) {
            rc = CF__FAIL(-ETIMEDOUT, "%s: the executor at '%s' was silent for %g s (heartbeat "
                                      "timeout): giving up the calls in hand", caller, address,
                          o.heartbeat_timeout);
            break;
        }
        if (now >= next_beat) {
            send_msg(sock, CF__NET_W_HEARTBEAT, 0, 0, NULL, 0, false);
            next_beat = now + o.heartbeat;
        }
    }
    /* Keep the error text: the pool's shutdown may record others. */
    char why[512];
    snprintf(why, sizeof why, "%s", cf_last_error());
    cf_executor_shutdown(pool, CF_SHUTDOWN_WAIT | (rc != 0 ? CF_SHUTDOWN_TERMINATE : 0),
                         CF_FOREVER);
    cf_executor_free(pool);
    /* The callbacks have all run: drop what they queued. */
    while (st.done != NULL) {
        done_call *next = st.done->next;
        cf_future_release(st.done->f);
        free(st.done);
        st.done = next;
    }
    if (sock != NULL)
        zmq_close(sock);
    if (ctx != NULL)
        zmq_ctx_term(ctx);
    CF__CORE->frame_out_free(&out);
    CF__CORE->wire_decoder_free(&dec);
    if (st.wake_fd >= 0)
        close(st.wake_fd);
    pthread_mutex_destroy(&st.mu);
    cf__net_opts_wipe(&o);
    if (rc != 0)
        CF__FAIL(rc, "%s", why);
    return rc;
}
