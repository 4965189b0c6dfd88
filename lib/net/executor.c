/* executor.c: an executor whose workers are remote processes
 * (cf_net_executor_new; the workers run worker.c).
 *
 * Design notes
 * - Threads: submitters push futures onto `pending` under `mu` and poke
 *   `wake_fd`. One dispatcher thread owns the ZeroMQ context and sockets,
 *   the table of workers and the calls in flight; it sends calls, reads
 *   answers, completes futures (so done-callbacks run on it) and never holds
 *   `mu` while completing one.
 * - Workers: a worker says HELLO with its room (its local pool's size); the
 *   dispatcher sends it at most that many calls at a time, each made
 *   RUNNING as it is sent (a cancelled one is skipped). Every message from a
 *   worker counts as a sign of life; both sides send a HEARTBEAT each
 *   `heartbeat` seconds. A worker silent for `heartbeat_timeout` is lost:
 *   the calls it held fail with CF_ECRASHED, its entry is dropped, and later
 *   messages from it are ignored (it stops hearing heartbeats, so it gives
 *   up too). Pending calls go to the workers left.
 * - Answers: the body is a wire RESULT or FAILED whose id must be that of a
 *   call in flight on that very worker; anything else is dropped and
 *   counted, so a worker can only complete its own calls.
 * - Shutdown: stop accepting; CANCEL_FUTURES cancels the pending ones;
 *   TERMINATE fails the calls in flight (CF_ETERMINATED). The dispatcher
 *   exits when nothing is pending or in flight, after telling the workers
 *   SHUTDOWN. A WAIT waits for that (or its timeout).
 * - Lifetimes: the executor holds one reference per future from submit
 *   until it is done. cf_executor_free shuts down (waiting) and joins the
 *   dispatcher.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "executor_priv.h"
#include "future_priv.h"
#include "net_priv.h"

typedef struct call {
    struct call *next;
    cf_future *f;
    uint64_t id;
} call;

typedef struct worker {
    struct worker *next;
    uint8_t route[256];
    size_t route_len;
    char label[128];
    size_t capacity;
    size_t busy;
    call *calls;       /* in flight here */
    double last_heard;
} worker;

typedef struct net_ex {
    cf_executor base;
    cf__net_opts opts;
    cf__net_listener l;
    pthread_t thread;
    int wake_fd;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    cf_future *pending_head, *pending_tail; /* under mu */
    bool closing;      /* under mu: no more submits */
    bool terminate;    /* under mu */
    bool finished;     /* under mu: the dispatcher has exited */
    size_t workers_now; /* under mu */
    size_t room_now;    /* under mu */
    /* The dispatcher's own. */
    worker *workers;
    uint64_t next_id;
    double next_beat;
    cf__wire_decoder dec;
    cf__frame_out out;
} net_ex;

static const cf__executor_ops net_ops;

static void wake(net_ex *ex)
{
    uint64_t one = 1;
    ssize_t w = write(ex->wake_fd, &one, sizeof one);
    (void)w;
}

/* ---- The dispatcher ----------------------------------------------------------------- */

static void publish_counts(net_ex *ex)
{
    size_t n = 0, room = 0;
    for (worker *w = ex->workers; w != NULL; w = w->next) {
        n++;
        room += w->capacity;
    }
    pthread_mutex_lock(&ex->mu);
    ex->workers_now = n;
    ex->room_now = room;
    pthread_cond_broadcast(&ex->cond);
    pthread_mutex_unlock(&ex->mu);
}

static void send_to(net_ex *ex, worker *w, uint8_t kind, uint64_t id, int64_t arg,
                    const void *body, size_t blen, bool has_body)
{
    uint8_t head[CF__NET_HEADER + CF_NET_NAME_MAX];
    size_t hl = cf__net_header(head, kind, id, arg, NULL);
    cf__net_send(ex->l.sock, w->route, w->route_len, head, hl, body, blen, has_body);
}

static void lose_worker(net_ex *ex, worker *w, int code, const char *why)
{
    worker **pp = &ex->workers;
    while (*pp != w)
        pp = &(*pp)->next;
    *pp = w->next;
    publish_counts(ex); /* before the futures fail: their waiters may look */
    call *c = w->calls;
    while (c != NULL) {
        call *next = c->next;
        CF__CORE->future_fail(c->f, code, 0, w->label, "remote worker %s: %s", w->label, why);
        cf_future_release(c->f);
        free(c);
        c = next;
    }
    free(w);
}

static worker *find_worker(net_ex *ex, const void *route, size_t len)
{
    for (worker *w = ex->workers; w != NULL; w = w->next)
        if (w->route_len == len && memcmp(w->route, route, len) == 0)
            return w;
    return NULL;
}

static void on_answer(net_ex *ex, worker *w, const cf__net_msg *m)
{
    call **pp = &w->calls;
    while (*pp != NULL && (*pp)->id != m->id)
        pp = &(*pp)->next;
    call *c = *pp;
    if (c == NULL)
        return; /* not a call of this worker's */
    cf__wire_msg msg;
    int rc = CF__CORE->wire_open(&msg, m->body, m->body_len);
    if (rc == 0 && msg.id != m->id)
        rc = CF__FAIL(CF_EDECODE, "net: ANSWER %llu carries an answer to %llu",
                      (unsigned long long)m->id, (unsigned long long)msg.id);
    if (rc == 0 && msg.type == CF__WIRE_RESULT) {
        rc = CF__CORE->wire_decode_result(&ex->dec, &msg, c->f->task,
                                          CF__CORE->future_result_slot(c->f));
        if (rc == 0)
            CF__CORE->future_finish_from_slot(c->f);
    } else if (rc == 0 && msg.type == CF__WIRE_FAILED) {
        cf__wire_failure fl;
        rc = CF__CORE->wire_decode_failed(&ex->dec, &msg, &fl);
        if (rc == 0)
            CF__CORE->future_fail(c->f, fl.code, fl.detail, w->label, "%s",
                                  fl.message != NULL ? fl.message : cf_strerror(fl.code));
    } else if (rc == 0) {
        rc = CF__FAIL(CF_EDECODE, "net: ANSWER holds a %s", CF__CORE->wire_type_name(msg.type));
    }
    if (rc != 0)
        CF__CORE->future_fail(c->f, CF_EDECODE, 0, w->label,
                              "remote worker %s sent a malformed answer: %s", w->label,
                              cf_last_error());
    *pp = c->next;
    w->busy--;
    cf_future_release(c->f);
    free(c);
}

static void on_message(net_ex *ex, cf__net_in *in)
{
    size_t rl, hl, bl = 0;
    const void *route = cf__net_in_data(in, 0, &rl);
    if (in->nparts < 2 || in->too_many || rl > sizeof ((worker *)0)->route)
        return;
    const void *head = cf__net_in_data(in, 1, &hl);
    const void *body = in->nparts == 3 ? cf__net_in_data(in, 2, &bl) : NULL;
    cf__net_msg m;
    bool id_known;
    if (cf__net_parse(&m, head, hl, body, bl, in->nparts == 3, &id_known) != 0)
        return;
    worker *w = find_worker(ex, route, rl);
    if (m.kind == CF__NET_W_HELLO && w == NULL) {
        w = calloc(1, sizeof *w);
        if (w == NULL)
            return;
        memcpy(w->route, route, rl);
        w->route_len = rl;
        w->capacity = (size_t)m.arg;
        snprintf(w->label, sizeof w->label, "%.*s", (int)(m.body != NULL ? m.body_len : 0),
                 m.body != NULL ? (const char *)m.body : "");
        if (w->label[0] == '\0')
            snprintf(w->label, sizeof w->label, "worker");
        w->last_heard = cf__net_now();
        w->next = ex->workers;
        ex->workers = w;
        publish_counts(ex);
        return;
    }
    if (w == NULL)
        return; /* unknown or lost: ignored */
    w->last_heard = cf__net_now();
    if (m.kind == CF__NET_W_ANSWER)
        on_answer(ex, w, &m);
}

/* Send pending calls to workers with room. */
static void dispatch(net_ex *ex)
{
    for (worker *w = ex->workers; w != NULL; w = w->next) {
        while (w->busy < w->capacity) {
            pthread_mutex_lock(&ex->mu);
            cf_future *f = ex->pending_head;
            if (f != NULL) {
                ex->pending_head = f->next;
                if (ex->pending_head == NULL)
                    ex->pending_tail = NULL;
                f->next = NULL;
            }
            pthread_mutex_unlock(&ex->mu);
            if (f == NULL)
                return;
            if (CF__CORE->future_start(f) != 0) {
                cf_future_release(f); /* cancelled while pending */
                continue;
            }
            call *c = calloc(1, sizeof *c);
            uint64_t id = ++ex->next_id;
            int rc = c == NULL ? -ENOMEM
                               : CF__CORE->wire_encode_call(&ex->out, id, f->task,
                                                            CF__CORE->future_args(f));
            if (rc != 0) {
                CF__CORE->future_fail(f, rc, 0, NULL, "cannot send the call: %s",
                                      cf_last_error());
                cf_future_release(f);
                free(c);
                continue;
            }
            size_t n, all;
            const uint8_t *p = cf__net_frame_payload(&ex->out, &n);
            int64_t limit = 0;
            double *lim = CF__CORE->future_extra(f);
            if (lim != NULL && *lim != 0)
                limit = *lim < 0 ? -1 : (int64_t)(*lim * 1e6) + 1;
            send_to(ex, w, CF__NET_W_CALL, id, limit, p, n, true);
            CF__CORE->frame_out_data(&ex->out, &all);
            CF__CORE->frame_out_consume(&ex->out, all);
            c->f = f;
            c->id = id;
            c->next = w->calls;
            w->calls = c;
            w->busy++;
        }
    }
}

static bool idle(net_ex *ex)
{
    for (worker *w = ex->workers; w != NULL; w = w->next)
        if (w->calls != NULL)
            return false;
    return ex->pending_head == NULL;
}

static void *dispatcher_main(void *arg)
{
    net_ex *ex = arg;
    zmq_pollitem_t items[4] = {
        {ex->l.sock, 0, ZMQ_POLLIN, 0},
        {ex->l.zap, 0, ZMQ_POLLIN, 0},
        {ex->l.monitor, 0, ZMQ_POLLIN, 0},
        {NULL, ex->wake_fd, ZMQ_POLLIN, 0},
    };
    ex->next_beat = cf__net_now() + ex->opts.heartbeat;
    for (;;) {
        double now = cf__net_now();
        long ms = (long)((ex->next_beat - now) * 1000) + 1;
        if (ms < 0)
            ms = 0;
        zmq_poll(items, 4, ms);
        if (items[1].revents & ZMQ_POLLIN)
            cf__net_zap_serve(&ex->l);
        if (items[2].revents & ZMQ_POLLIN)
            cf__net_monitor_drain(&ex->l);
        if (items[3].revents & ZMQ_POLLIN) {
            uint64_t v;
            ssize_t r = read(ex->wake_fd, &v, sizeof v);
            (void)r;
        }
        if (items[0].revents & ZMQ_POLLIN) {
            for (int k = 0; k < 256; k++) {
                cf__net_in in;
                if (cf__net_recv(ex->l.sock, &in) != 0)
                    break;
                on_message(ex, &in);
                cf__net_in_close(&in);
            }
        }
        now = cf__net_now();
        for (worker *w = ex->workers, *next; w != NULL; w = next) {
            next = w->next;
            if (now - w->last_heard > ex->opts.heartbeat_timeout) {
                char why[96];
                snprintf(why, sizeof why, "lost (no heartbeat for %g s)",
                         ex->opts.heartbeat_timeout);
                lose_worker(ex, w, CF_ECRASHED, why);
            }
        }
        if (now >= ex->next_beat) {
            for (worker *w = ex->workers; w != NULL; w = w->next)
                send_to(ex, w, CF__NET_W_HEARTBEAT, 0, 0, NULL, 0, false);
            ex->next_beat = now + ex->opts.heartbeat;
        }
        pthread_mutex_lock(&ex->mu);
        bool closing = ex->closing, terminate = ex->terminate;
        pthread_mutex_unlock(&ex->mu);
        if (terminate) {
            for (worker *w = ex->workers; w != NULL; w = w->next) {
                for (call *c = w->calls, *next; c != NULL; c = next) {
                    next = c->next;
                    CF__CORE->future_fail(c->f, CF_ETERMINATED, 0, w->label,
                                          "terminated by shutdown");
                    cf_future_release(c->f);
                    free(c);
                }
                w->calls = NULL;
                w->busy = 0;
            }
        }
        dispatch(ex);
        pthread_mutex_lock(&ex->mu);
        bool done = closing && idle(ex);
        pthread_mutex_unlock(&ex->mu);
        if (done)
            break;
    }
    for (worker *w = ex->workers; w != NULL; w = w->next)
        send_to(ex, w, CF__NET_W_SHUTDOWN, 0, 0, NULL, 0, false);
    while (ex->workers != NULL) {
        worker *next = ex->workers->next;
        free(ex->workers);
        ex->workers = next;
    }
    publish_counts(ex);
    pthread_mutex_lock(&ex->mu);
    ex->finished = true;
    pthread_cond_broadcast(&ex->cond);
    pthread_mutex_unlock(&ex->mu);
    return NULL;
}

/* ---- Ops ------------------------------------------------------------------------------- */

static int net_submit(cf_executor *base, cf_future *f, const cf_submit_options *opts)
{
    net_ex *ex = (net_ex *)base;
    /* Only the library's own tasks get here with a raw pointer: a map's
     * chunks, whose arrays live in this machine's shared memory. */
    for (uint32_t i = 0; i < f->task->nparams; i++)
        if (f->task->params[i].kind == CF_KIND_PTR)
            return CF__FAIL(CF_EUNSUPPORTED,
                            "cf_map: a network executor cannot run maps (their arrays are in "
                            "this machine's shared memory): submit the calls one by one");
    double *lim = CF__CORE->future_extra(f);
    if (lim != NULL)
        *lim = opts != NULL ? opts->timeout : 0;
    pthread_mutex_lock(&ex->mu);
    if (ex->closing) {
        pthread_mutex_unlock(&ex->mu);
        return CF__FAIL(CF_ESHUTDOWN, "cf_submit: the network executor is shut down");
    }
    cf_future_retain(f);
    f->next = NULL;
    if (ex->pending_tail != NULL)
        ex->pending_tail->next = f;
    else
        ex->pending_head = f;
    ex->pending_tail = f;
    pthread_mutex_unlock(&ex->mu);
    wake(ex);
    return 0;
}

static int net_shutdown(cf_executor *base, unsigned flags, double timeout)
{
    net_ex *ex = (net_ex *)base;
    cf_future *cancel = NULL;
    pthread_mutex_lock(&ex->mu);
    ex->closing = true;
    if (flags & CF_SHUTDOWN_TERMINATE)
        ex->terminate = true;
    if (flags & (CF_SHUTDOWN_CANCEL_FUTURES | CF_SHUTDOWN_TERMINATE)) {
        cancel = ex->pending_head;
        ex->pending_head = ex->pending_tail = NULL;
    }
    pthread_mutex_unlock(&ex->mu);
    while (cancel != NULL) {
        cf_future *next = cancel->next;
        cancel->next = NULL;
        cf_future_cancel(cancel);
        cf_future_release(cancel);
        cancel = next;
    }
    wake(ex);
    if (!(flags & CF_SHUTDOWN_WAIT))
        return 0;
    double deadline = timeout < 0 ? INFINITY : cf__net_now() + timeout;
    int rc = 0;
    pthread_mutex_lock(&ex->mu);
    while (!ex->finished && rc == 0) {
        double left = deadline - cf__net_now();
        if (left <= 0) {
            rc = CF__FAIL(CF_ETIMEDOUT, "cf_executor_shutdown: calls still pending or running");
            break;
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        double l = left > 1.0 ? 1.0 : left;
        ts.tv_sec += (time_t)l;
        ts.tv_nsec += (long)((l - (double)(time_t)l) * 1e9);
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&ex->cond, &ex->mu, &ts);
    }
    pthread_mutex_unlock(&ex->mu);
    return rc;
}

static void net_free(cf_executor *base)
{
    net_ex *ex = (net_ex *)base;
    net_shutdown(base, CF_SHUTDOWN_WAIT, CF_FOREVER);
    pthread_join(ex->thread, NULL);
    CF__CORE->frame_out_free(&ex->out);
    CF__CORE->wire_decoder_free(&ex->dec);
    cf__net_listener_close(&ex->l);
    close(ex->wake_fd);
    pthread_cond_destroy(&ex->cond);
    pthread_mutex_destroy(&ex->mu);
    cf__net_opts_wipe(&ex->opts);
    free(ex);
}

static size_t net_max_workers(const cf_executor *base)
{
    net_ex *ex = (net_ex *)base;
    pthread_mutex_lock(&ex->mu);
    size_t n = ex->room_now;
    pthread_mutex_unlock(&ex->mu);
    return n;
}

static bool net_is_own_thread(const cf_executor *base)
{
    const net_ex *ex = (const net_ex *)base;
    return pthread_equal(pthread_self(), ex->thread);
}

static const cf__executor_ops net_ops = {
    .kind = "net_executor",
    .shares_memory = false,
    .future_extra = sizeof(double),
    .submit = net_submit,
    .shutdown = net_shutdown,
    .free = net_free,
    .max_workers = net_max_workers,
    .is_own_thread = net_is_own_thread,
};

int cf_net_executor_new(cf_executor **out, const char *address, const cf_net_options *opts)
{
    static const char caller[] = "cf_net_executor_new";
    if (out == NULL || address == NULL)
        return CF__FAIL(CF_EINVAL, "%s: NULL %s", caller, out == NULL ? "out" : "address");
    *out = NULL;
    net_ex *ex = calloc(1, sizeof *ex);
    if (ex == NULL)
        return CF__FAIL(-ENOMEM, "%s: no memory", caller);
    ex->base.ops = &net_ops;
    int rc = cf__net_opts_init(&ex->opts, opts, true, caller);
    if (rc != 0) {
        free(ex);
        return rc;
    }
    ex->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (ex->wake_fd < 0) {
        rc = CF__FAIL(-errno, "%s: eventfd: %s", caller, strerror(errno));
        goto fail_opts;
    }
    rc = cf__net_listen(&ex->l, address, &ex->opts, caller);
    if (rc != 0)
        goto fail_fd;
    pthread_mutex_init(&ex->mu, NULL);
    pthread_cond_init(&ex->cond, NULL);
    CF__CORE->wire_decoder_init(&ex->dec);
    CF__CORE->frame_out_init(&ex->out, ex->opts.max_message);
    rc = pthread_create(&ex->thread, NULL, dispatcher_main, ex);
    if (rc != 0) {
        rc = CF__FAIL(-rc, "%s: pthread_create: %s", caller, strerror(rc));
        CF__CORE->frame_out_free(&ex->out);
        CF__CORE->wire_decoder_free(&ex->dec);
        pthread_cond_destroy(&ex->cond);
        pthread_mutex_destroy(&ex->mu);
        cf__net_listener_close(&ex->l);
        goto fail_fd;
    }
    *out = &ex->base;
    return 0;
fail_fd:
    close(ex->wake_fd);
fail_opts:
    cf__net_opts_wipe(&ex->opts);
    free(ex);
    return rc;
}

static net_ex *as_net(const cf_executor *ex)
{
    return ex != NULL && ex->ops == &net_ops ? (net_ex *)ex : NULL;
}

const char *cf_net_executor_endpoint(const cf_executor *base)
{
    net_ex *ex = as_net(base);
    return ex != NULL ? ex->l.endpoint : NULL;
}

uint64_t cf_net_executor_refused(const cf_executor *base)
{
    net_ex *ex = as_net(base);
    return ex != NULL ? atomic_load(&ex->l.refused) : 0;
}

int cf_net_executor_wait_workers(cf_executor *base, size_t n, double timeout)
{
    net_ex *ex = as_net(base);
    if (ex == NULL || isnan(timeout))
        return CF__FAIL(CF_EINVAL, "cf_net_executor_wait_workers: %s",
                        ex == NULL ? "not a network executor" : "NaN timeout");
    double deadline = timeout < 0 ? INFINITY : cf__net_now() + timeout;
    int rc = 0;
    pthread_mutex_lock(&ex->mu);
    while (ex->workers_now < n) {
        double left = deadline - cf__net_now();
        if (left <= 0) {
            rc = CF__FAIL(CF_ETIMEDOUT, "cf_net_executor_wait_workers: %zu of %zu connected",
                          ex->workers_now, n);
            break;
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        double l = left > 0.2 ? 0.2 : left;
        ts.tv_nsec += (long)(l * 1e9);
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&ex->cond, &ex->mu, &ts);
    }
    pthread_mutex_unlock(&ex->mu);
    return rc;
}
