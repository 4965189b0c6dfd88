/* mpi_executor.c: the root's side of the MPI executor: queues calls, sends
 * them to worker ranks in batches, completes futures from the answers, and
 * watches the ranks' heartbeats.
 *
 * Design notes
 * - Threads: submit, shutdown and cancel touch only the fields under `mu`
 *   (the queue, cancel requests, flags) and signal `wake`. One manager
 *   thread owns everything else: the workers, the calls in flight, the
 *   decoder. It makes every MPI call, with cf__mpi_lock held only around
 *   those calls, and completes futures (so done-callbacks run in it) with no
 *   lock held.
 * - A round of the manager: receive every message waiting (under the MPI
 *   lock, into `inbox`), then handle them (hellos, answers, pings, byes),
 *   check heartbeats, move queued calls into the workers' outgoing buffers,
 *   and send (under the MPI lock again). Sends are non-blocking, one per
 *   worker in progress; what is queued meanwhile leaves as one message.
 * - Flow: a worker rank takes up to `calls_per_rank` calls in flight; a
 *   call's request id holds the worker's index and a slot in its flight
 *   table (and a sequence number, so a late answer for a reused slot is
 *   recognised and dropped).
 * - Map chunks (the core's map task, see extension.h): this executor says it
 *   shares memory so that map hands it the chunk's own pointers; it copies
 *   the elements' arguments into one inline CHUNK message, and writes the
 *   results and statuses back into the map's arrays when the answer comes.
 *   Raw pointers in ordinary calls are refused here, since the core does not.
 * - Failures: a worker silent for heartbeat_timeout is lost: its calls fail
 *   with CF_EBROKEN naming its rank and host, and the executor is broken
 *   (queued calls fail too, later submits are refused). A worker whose
 *   hello shows another build is refused and breaks the executor the same
 *   way. Nothing waits on a lost rank: sends are never waited for.
 * - Lifetimes: the executor holds a reference to each future from submit
 *   until it is completed or dropped. Freeing joins the manager, then waits
 *   for cancellers still inside (canceller.busy); freed from a done-callback
 *   (the manager itself), it shuts down and the manager frees it on its way
 *   out.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mpi_priv.h"

/* Request ids: sequence << 32 | worker << 16 | slot. */
#define CF__MX_MAX_WORKERS 65535u
#define CF__MX_MAX_SLOTS 65535u

typedef struct cf__mx_call { /* the executor's scratch in each future */
    uint64_t id;
    double timeout;
    bool sent;                   /* its CALL left: a cancel must follow it */
} cf__mx_call;

typedef struct cf__mx_worker {
    int rank;
    bool hello, ready, refused, lost, bye, shutdown_sent;
    bool welcome_due;            /* hello handled; WELCOME to send */
    cf__mpi_welcome welcome;
    char host[CF__MPI_HOST_MAX];
    char origin[48];             /* "rank 3 on host" */
    uint32_t ncpus, pool;
    size_t slots, inflight;
    cf_future **flight;          /* slots entries */
    uint64_t *flight_id;
    uint32_t *free_slots;        /* stack of free slot indexes */
    size_t nfree;
    char *pending;               /* records not yet sent */
    size_t pending_len, pending_cap;
    char *sending;
    size_t sending_cap;
    MPI_Request req;
    int64_t send_since, last_heard, last_sent;
} cf__mx_worker;

typedef struct cf__mx {
    cf_executor base;
    pthread_mutex_t mu;
    pthread_cond_t wake;         /* the manager: work, cancels, shutdown */
    pthread_cond_t done_cv;      /* shutdown waiters: the manager is done */
    /* Under mu. */
    cf_future *qhead, *qtail;
    uint64_t *cancels;           /* ids whose calls to stop */
    size_t ncancels, cancels_cap;
    bool shutdown, terminate, broken, manager_done, wake_pending;
    char why_broken[384];
    /* The manager's. */
    pthread_t manager;
    cf_mpi_options opts;
    MPI_Comm comm;
    bool spawn, spawned, own_comm;
    size_t nworkers;
    cf__mx_worker *w;
    size_t next_worker;          /* round robin */
    uint32_t seq;
    cf__wire_decoder dec;
    cf__frame_out fo;
    char *inbox;                 /* received messages: [int32 source, tag, len] bytes ... */
    size_t inbox_len, inbox_cap;
    int64_t timeout_ns;
    _Atomic size_t max_workers;  /* what max_workers answers (any thread) */
    bool free_when_done;         /* freed from a done-callback: the manager frees */
    cf__canceller canceller;
} cf__mx;

static const cf__executor_ops cf__mx_ops;
static void cf__mx_destroy(cf__mx *x);
static void cf__mx_keepalive(cf__mx *x);

static cf__mx_call *cf__mx_call_of(cf_future *f)
{
    return cf__ext_future_extra(f);
}

/* Break the executor (first reason wins). Manager only. */
static void cf__mx_break(cf__mx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void cf__mx_break(cf__mx *x, const char *fmt, ...)
{
    pthread_mutex_lock(&x->mu);
    if (!x->broken) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(x->why_broken, sizeof x->why_broken, fmt, ap);
        va_end(ap);
        x->broken = true;
    }
    pthread_mutex_unlock(&x->mu);
}

/* ---- Calls in flight ------------------------------------------------------------ */

static cf_future *cf__mx_take_flight(cf__mx *x, uint64_t id, cf__mx_worker **wp)
{
    uint32_t wi = (uint32_t)(id >> 16) & 0xffffu, slot = (uint32_t)id & 0xffffu;
    if (wi >= x->nworkers)
        return NULL;
    cf__mx_worker *w = &x->w[wi];
    if (slot >= w->slots || w->flight[slot] == NULL || w->flight_id[slot] != id)
        return NULL;
    cf_future *f = w->flight[slot];
    w->flight[slot] = NULL;
    w->free_slots[w->nfree++] = slot;
    w->inflight--;
    *wp = w;
    return f;
}

/* Drop the executor's reference to a finished or cancelled future. */
static void cf__mx_drop(cf_future *f)
{
    cf__ext_future_clear_canceller(f);
    cf_future_release(f);
}

static void cf__mx_fail(cf_future *f, int code, int detail, const char *origin, const char *msg)
{
    cf__ext_future_clear_canceller(f);
    if (!cf_future_done(f))
        cf__ext_future_fail(f, code, detail, origin, msg);
    cf_future_release(f);
}

/* ---- Answers ------------------------------------------------------------------ */

static const cf__map_chunk *cf__mx_chunk_of(cf_future *f)
{
    const cf__map_chunk *c;
    memcpy(&c, cf__ext_future_args(f), sizeof c);
    return c;
}

static void cf__mx_on_result(cf__mx *x, cf__mx_worker *w, cf_future *f, const char *body,
                             size_t len)
{
    char msgbuf[512];
    cf__wire_msg msg;
    int rc = len < 4 ? CF_EDECODE : cf__ext_wire_open(&msg, body + 4, len - 4);
    if (rc == 0 && msg.type == CF__WIRE_RESULT && f->task != cf__ext_map_chunk_task()) {
        rc = cf__ext_wire_decode_result(&x->dec, &msg, f->task, cf__ext_future_result_slot(f));
        if (rc == 0) {
            cf__ext_future_clear_canceller(f);
            cf__ext_future_finish_from_slot(f);
            cf_future_release(f);
            return;
        }
    } else if (rc == 0 && msg.type == CF__WIRE_FAILED) {
        cf__wire_failure fl;
        rc = cf__ext_wire_decode_failed(&x->dec, &msg, &fl);
        if (rc == 0) {
            snprintf(msgbuf, sizeof msgbuf, "%s (on %s)",
                     fl.message != NULL ? fl.message : cf_strerror(fl.code), w->origin);
            if (fl.code == CF_ECANCELLED) {
                cf__ext_future_clear_canceller(f);
                cf__ext_future_force_cancel(f);
                cf_future_release(f);
            } else {
                cf__mx_fail(f, fl.code, fl.detail, w->origin, msgbuf);
            }
            return;
        }
    } else if (rc == 0) {
        rc = cf__mpi_fail(CF_EDECODE, "an answer of unexpected type %u", msg.type);
    }
    snprintf(msgbuf, sizeof msgbuf, "%s (answer from %s)", cf_last_error(), w->origin);
    cf__mx_fail(f, rc, 0, w->origin, msgbuf);
}

static void cf__mx_on_chunk_done(cf__mx *x, cf__mx_worker *w, cf_future *f, const char *body,
                                 size_t len)
{
    (void)x;
    const cf__map_chunk *c = cf__mx_chunk_of(f);
    const cf__map_run *run = &c->run;
    cf__mpi_chunk_done d;
    if (len < sizeof d) {
        cf__mx_fail(f, CF_EDECODE, 0, w->origin, "a short CHUNK_DONE answer");
        return;
    }
    memcpy(&d, body, sizeof d);
    size_t rsize = d.result_size;
    if (d.count != run->count ||
        len != sizeof d + (size_t)d.count * (4 + rsize) + d.msg_len ||
        (rsize != 0 && (run->task->result.kind == CF_KIND_VOID ||
                        rsize != run->task->result.size))) {
        cf__mx_fail(f, CF_EDECODE, 0, w->origin, "a CHUNK_DONE answer that does not fit its chunk");
        return;
    }
    const char *st = body + sizeof d, *res = st + (size_t)d.count * 4,
               *m = res + (size_t)d.count * rsize;
    bool failed = false;
    for (uint32_t i = 0; i < d.count; i++) {
        int32_t s;
        memcpy(&s, st + 4 * (size_t)i, 4);
        if (s == CF_ECANCELLED)
            s = CF__MPI_NOT_RUN;
        run->status[i] = s;
        if (s == 0 && rsize > 0 && run->out != NULL)
            memcpy(run->out + i * run->out_stride, res + i * rsize, rsize);
        failed = failed || (s != 0 && s != CF__MPI_NOT_RUN);
    }
    if (failed && !run->keep_going)
        atomic_store_explicit(run->stop, 1, memory_order_relaxed);
    cf__ext_future_clear_canceller(f);
    if (failed || (d.code != 0 && d.code != CF_ETIMEDOUT && d.code != CF_ETASK)) {
        char msgbuf[768];
        snprintf(msgbuf, sizeof msgbuf, "%.*s (on %s)", (int)d.msg_len, m, w->origin);
        cf__ext_future_fail(f, failed ? CF_ETASK : d.code, d.detail, w->origin, msgbuf);
    } else {
        cf__ext_future_finish_from_slot(f);
    }
    cf_future_release(f);
}

static void cf__mx_on_answers(cf__mx *x, const char *buf, size_t len)
{
    size_t at = 0;
    while (len - at >= sizeof(cf__mpi_rec)) {
        cf__mpi_rec rec;
        memcpy(&rec, buf + at, sizeof rec);
        at += sizeof rec;
        if (rec.len > len - at)
            break;
        cf__mx_worker *owner;
        cf_future *f = cf__mx_take_flight(x, rec.id, &owner);
        if (f != NULL && cf_future_done(f)) { /* cancelled while it ran */
            cf__mx_drop(f);
        } else if (f != NULL) {
            if (rec.kind == CF__MPI_REC_CHUNK_DONE && f->task == cf__ext_map_chunk_task())
                cf__mx_on_chunk_done(x, owner, f, buf + at, rec.len);
            else
                cf__mx_on_result(x, owner, f, buf + at, rec.len);
        }
        at += rec.len;
    }
}

/* A rank is lost: fail its calls. Manager only. */
static void cf__mx_lose(cf__mx *x, cf__mx_worker *w, const char *why)
{
    if (w->lost)
        return;
    w->lost = true;
    atomic_store(&cf__mpi_lost, 1);
    char msg[384];
    snprintf(msg, sizeof msg, "MPI rank %d on host %s %s", w->rank,
             w->host[0] != '\0' ? w->host : "(unknown: it never said hello)", why);
    cf__mx_break(x, "the MPI executor is broken: %s", msg);
    for (size_t s = 0; s < w->slots; s++) {
        cf_future *f = w->flight[s];
        if (f == NULL)
            continue;
        w->flight[s] = NULL;
        if (f->task == cf__ext_map_chunk_task()) {
            /* Every element counts as not run, so that the map marks them
             * all with the error. */
            const cf__map_chunk *c = cf__mx_chunk_of(f);
            memset(c->run.status, 0x7f, c->run.count * sizeof *c->run.status);
        }
        cf__mx_fail(f, CF_EBROKEN, 0, w->origin, msg);
    }
    w->inflight = 0;
    w->pending_len = 0;
}

static void cf__mx_on_hello(cf__mx *x, cf__mx_worker *w, const char *buf, size_t len)
{
    cf__mpi_hello h;
    cf__mpi_welcome *wl = &w->welcome;
    memset(wl, 0, sizeof *wl);
    w->hello = true;
    w->welcome_due = true;
    if (len != sizeof h) {
        wl->code = CF_EBROKEN;
        snprintf(wl->message, sizeof wl->message,
                 "MPI rank %d: its hello has %zu bytes, not %zu: another build of cfutures",
                 w->rank, len, sizeof h);
    } else {
        memcpy(&h, buf, sizeof h);
        h.host[sizeof h.host - 1] = '\0';
        snprintf(w->host, sizeof w->host, "%s", h.host);
        snprintf(w->origin, sizeof w->origin, "rank %d on %.32s", w->rank, w->host);
        uint64_t mine = cf__ext_registry_digest();
        if (h.magic != CF__MPI_MAGIC || h.version != CF__MPI_VERSION) {
            wl->code = CF_EBROKEN;
            snprintf(wl->message, sizeof wl->message,
                     "MPI rank %d on host %s speaks another version of the protocol (%u, "
                     "root %u)", w->rank, w->host, h.version, CF__MPI_VERSION);
        } else if (h.digest != mine) {
            wl->code = CF_EBROKEN;
            snprintf(wl->message, sizeof wl->message,
                     "MPI rank %d on host %s was refused: its task registry (digest %016" PRIx64
                     ") differs from the root's (%016" PRIx64 "): every rank must run the same "
                     "build", w->rank, w->host, h.digest, mine);
        }
        w->ncpus = h.ncpus > 0 ? h.ncpus : 1;
    }
    if (wl->code != 0) {
        w->refused = true;
        cf__mx_break(x, "the MPI executor is broken: %s", wl->message);
        return;
    }
    w->pool = x->opts.workers_per_rank > 0 ? (uint32_t)x->opts.workers_per_rank : w->ncpus;
    wl->max_message_size = x->opts.max_message_size;
    wl->workers = w->pool;
    wl->task_timeout = x->opts.task_timeout;
    wl->heartbeat_timeout = x->opts.heartbeat_timeout;
    size_t slots = x->opts.calls_per_rank > 0 ? x->opts.calls_per_rank : 64 * (size_t)w->pool;
    if (slots > CF__MX_MAX_SLOTS)
        slots = CF__MX_MAX_SLOTS;
    w->flight = calloc(slots, sizeof *w->flight);
    w->flight_id = calloc(slots, sizeof *w->flight_id);
    w->free_slots = calloc(slots, sizeof *w->free_slots);
    if (w->flight == NULL || w->flight_id == NULL || w->free_slots == NULL) {
        wl->code = -ENOMEM;
        snprintf(wl->message, sizeof wl->message, "the root ran out of memory");
        w->refused = true;
        cf__mx_break(x, "the MPI executor is broken: no memory for rank %d", w->rank);
        return;
    }
    w->slots = slots;
    for (size_t s = 0; s < slots; s++)
        w->free_slots[s] = (uint32_t)(slots - 1 - s);
    w->nfree = slots;
    w->ready = true;
    /* One guess per rank before its hello; its pool's size after. */
    size_t guess = x->opts.workers_per_rank > 0 ? x->opts.workers_per_rank : 1;
    atomic_fetch_add(&x->max_workers, (size_t)w->pool - guess);
}

/* Handle the messages received this round. */
static bool cf__mx_handle_inbox(cf__mx *x)
{
    size_t at = 0;
    while (at < x->inbox_len) {
        int32_t hdr[3];
        memcpy(hdr, x->inbox + at, sizeof hdr);
        at += sizeof hdr;
        const char *body = x->inbox + at;
        size_t len = (size_t)hdr[2];
        at += len;
        cf__mx_worker *w = NULL;
        for (size_t i = 0; i < x->nworkers; i++)
            if (x->w[i].rank == hdr[0])
                w = &x->w[i];
        if (w == NULL || w->lost)
            continue;
        w->last_heard = cf__mpi_now();
        switch (hdr[1]) {
        case CF__MPI_TAG_HELLO:
            if (!w->hello)
                cf__mx_on_hello(x, w, body, len);
            break;
        case CF__MPI_TAG_ANSWERS:
            cf__mx_on_answers(x, body, len);
            break;
        case CF__MPI_TAG_BYE:
            w->bye = true;
            break;
        default:
            break;
        }
    }
    bool any = x->inbox_len > 0;
    x->inbox_len = 0;
    return any;
}

/* ---- Sending ---------------------------------------------------------------------- */

/* Ping the workers that heard nothing for a while, also in the middle of
 * long work (encoding a large batch): they count the root's silence as
 * loss. Takes cf__mpi_lock. */
static void cf__mx_keepalive(cf__mx *x)
{
    int64_t now = cf__mpi_now();
    pthread_mutex_lock(&cf__mpi_lock);
    for (size_t i = 0; i < x->nworkers; i++) {
        cf__mx_worker *w = &x->w[i];
        if (!w->ready || w->lost || w->bye || now - w->last_sent <= x->timeout_ns / 8)
            continue;
        if (w->req != MPI_REQUEST_NULL) {
            int flag = 0;
            MPI_Test(&w->req, &flag, MPI_STATUS_IGNORE);
            if (!flag)
                continue;
        }
        MPI_Isend(NULL, 0, MPI_BYTE, w->rank, CF__MPI_TAG_PING, x->comm, &w->req);
        w->send_since = w->last_sent = now;
    }
    pthread_mutex_unlock(&cf__mpi_lock);
}

static int cf__mx_append(cf__mx_worker *w, const cf__mpi_rec *rec, const void *body)
{
    if (cf__mpi_reserve(&w->pending, &w->pending_cap, w->pending_len + sizeof *rec + rec->len) != 0)
        return -ENOMEM;
    memcpy(w->pending + w->pending_len, rec, sizeof *rec);
    if (rec->len > 0)
        memcpy(w->pending + w->pending_len + sizeof *rec, body, rec->len);
    w->pending_len += sizeof *rec + rec->len;
    return 0;
}

/* Encode the map chunk behind f as an inline CHUNK into x->fo. */
static int cf__mx_encode_chunk(cf__mx *x, cf_future *f, uint64_t id, double *timeout,
                               bool *stopped)
{
    const cf__map_chunk *c = cf__mx_chunk_of(f);
    const cf__map_run *run = &c->run;
    const cf_task *t = run->task;
    if (t->result.kind == CF_KIND_STR || t->result.kind == CF_KIND_BYTES ||
        t->result.kind == CF_KIND_PTR)
        return cf__mpi_fail(CF_EUNSUPPORTED,
                            "map of task '%s': an MPI executor cannot return %s results from a "
                            "map (submit the calls one by one)", t->name,
                            cf_kind_name(t->result.kind));
    for (uint32_t k = 0; k < t->nparams; k++)
        if (t->params[k].kind == CF_KIND_PTR)
            return cf__mpi_fail(CF_EUNSUPPORTED,
                                "map of task '%s': parameter %u is a raw pointer, which an MPI "
                                "executor cannot pass", t->name, k + 1);
    memset(run->status, 0x7f, run->count * sizeof *run->status);
    *stopped = atomic_load_explicit(run->stop, memory_order_relaxed) != 0;
    *timeout = 0;
    if (run->deadline != INT64_MAX) {
        double left = (double)(run->deadline - cf__mpi_now()) / 1e9;
        *stopped = *stopped || left <= 0;
        *timeout = left;
    }
    if (*stopped)
        return 0;
    /* Each element travels as a CALL frame of the task (its id: the
     * element's index in the chunk), one after the other. */
    _Alignas(max_align_t) char small[256];
    char *block = small;
    if (t->args_size > sizeof small && (block = aligned_alloc(_Alignof(max_align_t),
                                         (t->args_size + 15) / 16 * 16)) == NULL)
        return cf__mpi_fail(-ENOMEM, "no memory to send a chunk");
    int rc = 0;
    size_t total = 0;
    for (size_t i = 0; i < run->count && rc == 0; i++) {
        if ((i & 4095) == 4095)
            cf__mx_keepalive(x);
        memset(block, 0, t->args_size);
        for (uint32_t k = 0; k < t->nparams; k++)
            memcpy(block + t->offsets[k], run->in[k] + i * run->in_stride[k], t->params[k].size);
        rc = cf__ext_wire_encode_call(&x->fo, i, t, t->nparams > 0 ? block : NULL);
        if (rc == 0) {
            cf__ext_frame_out_data(&x->fo, &total);
            if (total + sizeof(cf__mpi_rec) > x->opts.max_message_size)
                rc = cf__mpi_fail(CF_ETOOBIG,
                                  "a chunk of the map of task '%s' (%zu elements) passes the "
                                  "%u-byte message limit: choose a smaller chunk_size",
                                  t->name, run->count, x->opts.max_message_size);
        }
    }
    if (block != small)
        free(block);
    if (rc != 0) {
        cf__ext_frame_out_consume(&x->fo, total);
        return rc;
    }
    (void)id;
    return 0;
}

/* Move queued futures to workers with room. Returns whether it sent any. */
static bool cf__mx_dispatch(cf__mx *x, cf_future **queue)
{
    bool any = false;
    const cf_task *chunk_task = cf__ext_map_chunk_task();
    int64_t last_keepalive = cf__mpi_now();
    while (*queue != NULL) {
        if (cf__mpi_now() - last_keepalive > x->timeout_ns / 16) {
            cf__mx_keepalive(x);
            last_keepalive = cf__mpi_now();
        }
        cf__mx_worker *w = NULL;
        for (size_t k = 0; k < x->nworkers && w == NULL; k++) {
            cf__mx_worker *c = &x->w[(x->next_worker + k) % x->nworkers];
            if (c->ready && !c->lost && c->nfree > 0)
                w = c;
        }
        if (w == NULL)
            break;
        x->next_worker = (size_t)(w - x->w + 1) % x->nworkers;
        cf_future *f = *queue;
        *queue = f->next;
        f->next = NULL;
        cf__mx_call *call = cf__mx_call_of(f);
        uint32_t slot = w->free_slots[w->nfree - 1];
        uint64_t id = (uint64_t)++x->seq << 32 | (uint64_t)(w - x->w) << 16 | slot;
        bool is_chunk = f->task == chunk_task, stopped = false;
        double timeout = call->timeout;
        int rc = is_chunk ? cf__mx_encode_chunk(x, f, id, &timeout, &stopped)
                          : cf__ext_wire_encode_call(&x->fo, id, f->task, cf__ext_future_args(f));
        size_t n = 0;
        const void *frame = rc == 0 ? cf__ext_frame_out_data(&x->fo, &n) : NULL;
        cf__mpi_rec rec = {is_chunk ? CF__MPI_REC_CHUNK : CF__MPI_REC_CALL, (uint32_t)n, id,
                           timeout, is_chunk && cf__mx_chunk_of(f)->run.keep_going, 0};
        if (rc == 0 && !stopped && w->pending_len > 0 &&
            w->pending_len + sizeof rec + n > x->opts.max_message_size) {
            /* This worker's message is full: the call waits for the next
             * round, first in line. */
            cf__ext_frame_out_consume(&x->fo, n);
            f->next = *queue;
            *queue = f;
            break;
        }
        /* The id is the canceller's to read once the future is RUNNING. */
        call->id = id;
        call->sent = rc == 0 && !stopped;
        if (cf__ext_future_start(f) != 0) { /* cancelled while queued */
            cf__ext_frame_out_consume(&x->fo, n);
            cf__mx_drop(f);
            continue;
        }
        if (rc == 0 && stopped) { /* the map stopped: none of its elements runs */
            cf__ext_future_clear_canceller(f);
            cf__ext_future_finish_from_slot(f);
            cf_future_release(f);
            continue;
        }
        if (rc != 0) {
            char msg[512];
            snprintf(msg, sizeof msg, "%s", cf_last_error());
            cf__mx_fail(f, rc, 0, NULL, msg);
            continue;
        }
        rc = cf__mx_append(w, &rec, frame);
        cf__ext_frame_out_consume(&x->fo, n);
        if (rc != 0) {
            cf__mx_fail(f, rc, 0, NULL, "no memory to send the call");
            continue;
        }
        w->nfree--;
        w->flight[slot] = f;
        w->flight_id[slot] = id;
        w->inflight++;
        any = true;
    }
    return any;
}

/* Send what each worker has waiting. Under cf__mpi_lock. */
static void cf__mx_send(cf__mx *x, bool shutting, bool terminate)
{
    int64_t now = cf__mpi_now();
    for (size_t i = 0; i < x->nworkers; i++) {
        cf__mx_worker *w = &x->w[i];
        if (w->lost || !w->hello)
            continue;
        if (w->welcome_due) {
            MPI_Send(&w->welcome, sizeof w->welcome, MPI_BYTE, w->rank, CF__MPI_TAG_WELCOME,
                     x->comm);
            w->welcome_due = false;
            w->last_sent = now;
        }
        if (w->refused || w->bye)
            continue;
        if (w->req != MPI_REQUEST_NULL) {
            int flag = 0;
            MPI_Test(&w->req, &flag, MPI_STATUS_IGNORE);
            if (!flag)
                continue;
        }
        if (w->pending_len > 0) {
            char *b = w->sending;
            size_t c = w->sending_cap;
            w->sending = w->pending;
            w->sending_cap = w->pending_cap;
            w->pending = b;
            w->pending_cap = c;
            MPI_Isend(w->sending, (int)w->pending_len, MPI_BYTE, w->rank, CF__MPI_TAG_CALLS,
                      x->comm, &w->req);
            w->pending_len = 0;
            w->send_since = w->last_sent = now;
        } else if (shutting && !w->shutdown_sent && (terminate || w->inflight == 0)) {
            static const uint32_t how[4] = {0, 1, 2, 3};
            const uint32_t *h = &how[(terminate ? CF__MPI_SHUTDOWN_TERMINATE : 0) |
                                     (atomic_load(&cf__mpi_lost) ? CF__MPI_SHUTDOWN_LOST : 0)];
            MPI_Isend(h, sizeof *h, MPI_BYTE, w->rank, CF__MPI_TAG_SHUTDOWN, x->comm, &w->req);
            w->shutdown_sent = true;
            w->send_since = w->last_sent = now;
        } else if (now - w->last_sent > x->timeout_ns / 8) {
            MPI_Isend(NULL, 0, MPI_BYTE, w->rank, CF__MPI_TAG_PING, x->comm, &w->req);
            w->send_since = w->last_sent = now;
        }
    }
}

/* Receive every waiting message into the inbox. Under cf__mpi_lock. */
static void cf__mx_receive(cf__mx *x)
{
    for (int k = 0; k < 256; k++) {
        int flag = 0;
        MPI_Status st;
        MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, x->comm, &flag, &st);
        if (!flag)
            return;
        int n = 0;
        MPI_Get_count(&st, MPI_BYTE, &n);
        if (cf__mpi_reserve(&x->inbox, &x->inbox_cap, x->inbox_len + 12 + (size_t)n) != 0) {
            fprintf(stderr, "cfutures-mpi: the root is out of memory for a %d-byte message\n",
                    n);
            abort();
        }
        int32_t hdr[3] = {st.MPI_SOURCE, st.MPI_TAG, n};
        memcpy(x->inbox + x->inbox_len, hdr, sizeof hdr);
        MPI_Recv(x->inbox + x->inbox_len + 12, n, MPI_BYTE, st.MPI_SOURCE, st.MPI_TAG, x->comm,
                 MPI_STATUS_IGNORE);
        x->inbox_len += 12 + (size_t)n;
    }
}

/* Start the worker ranks (spawn mode). Under cf__mpi_lock. */
static int cf__mx_spawn(cf__mx *x)
{
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return cf__mpi_fail(-errno, "MPI spawn: cannot resolve /proc/self/exe");
    exe[n] = '\0';
    int *errs = calloc(x->nworkers, sizeof *errs);
    if (errs == NULL)
        return cf__mpi_fail(-ENOMEM, "MPI spawn: no memory");
    MPI_Comm inter;
    MPI_Comm_set_errhandler(MPI_COMM_SELF, MPI_ERRORS_RETURN);
    int rc = MPI_Comm_spawn(exe, cf__mpi_argv != NULL ? cf__mpi_argv : MPI_ARGV_NULL,
                            (int)x->nworkers, MPI_INFO_NULL, 0, MPI_COMM_SELF, &inter, errs);
    int bad = 0;
    for (size_t i = 0; rc == MPI_SUCCESS && i < x->nworkers; i++)
        bad = bad != 0 ? bad : errs[i] != MPI_SUCCESS;
    free(errs);
    if (rc != MPI_SUCCESS || bad) {
        char s[MPI_MAX_ERROR_STRING] = "";
        int len = 0;
        MPI_Error_string(rc != MPI_SUCCESS ? rc : MPI_ERR_SPAWN, s, &len);
        return cf__mpi_fail(CF_EBROKEN, "MPI_Comm_spawn of %zu workers of %s failed: %s",
                            x->nworkers, exe, s);
    }
    x->comm = inter;
    x->own_comm = true;
    x->spawned = true;
    int64_t now = cf__mpi_now();
    for (size_t i = 0; i < x->nworkers; i++)
        x->w[i].last_heard = x->w[i].last_sent = now;
    return 0;
}

/* ---- The manager ------------------------------------------------------------------- */

static void *cf__mx_main(void *arg)
{
    cf__mx *x = arg;
    cf_future *queue = NULL, **qtail = &queue; /* taken from x->qhead, in order */
    int64_t ns = 0;
    for (;;) {
        pthread_mutex_lock(&x->mu);
        if (x->qhead != NULL) {
            *qtail = x->qhead;
            qtail = &x->qtail->next;
            x->qhead = x->qtail = NULL;
        }
        size_t ncancels = x->ncancels;
        uint64_t cancels[64];
        if (ncancels > 64)
            ncancels = 64;
        if (ncancels > 0) {
            memcpy(cancels, x->cancels + x->ncancels - ncancels, ncancels * sizeof *cancels);
            x->ncancels -= ncancels;
        }
        bool shutting = x->shutdown, terminate = x->terminate, broken = x->broken;
        char why[sizeof x->why_broken];
        if (broken)
            memcpy(why, x->why_broken, sizeof why);
        x->wake_pending = false;
        pthread_mutex_unlock(&x->mu);

        bool busy = false;
        if (x->spawn && !x->spawned && !broken && (queue != NULL || x->opts.spawn_eager)) {
            pthread_mutex_lock(&cf__mpi_lock);
            int rc = cf__mx_spawn(x);
            pthread_mutex_unlock(&cf__mpi_lock);
            if (rc != 0) {
                cf__mx_break(x, "%s", cf_last_error());
                continue;
            }
        }
        bool live = !x->spawn || x->spawned;
        if (live) {
            pthread_mutex_lock(&cf__mpi_lock);
            cf__mx_receive(x);
            pthread_mutex_unlock(&cf__mpi_lock);
            busy = cf__mx_handle_inbox(x);
        }
        for (size_t i = 0; i < ncancels; i++) {
            uint32_t wi = (uint32_t)(cancels[i] >> 16) & 0xffffu;
            if (wi < x->nworkers && !x->w[wi].lost) {
                /* A cancel travels as its own message, after the calls. */
                pthread_mutex_lock(&cf__mpi_lock);
                MPI_Send(&cancels[i], sizeof cancels[i], MPI_BYTE, x->w[wi].rank,
                         CF__MPI_TAG_CANCEL, x->comm);
                pthread_mutex_unlock(&cf__mpi_lock);
            }
        }
        /* Heartbeats, and sends that never complete. */
        int64_t now = cf__mpi_now();
        for (size_t i = 0; live && i < x->nworkers; i++) {
            cf__mx_worker *w = &x->w[i];
            if (w->lost || w->bye || w->refused)
                continue;
            char why_lost[128];
            if (now - w->last_heard > x->timeout_ns) {
                snprintf(why_lost, sizeof why_lost,
                         "was lost: nothing heard from it for %.1f s (it died, or its host is "
                         "unreachable)", (double)(now - w->last_heard) / 1e9);
                cf__mx_lose(x, w, why_lost);
            } else if (w->req != MPI_REQUEST_NULL && now - w->send_since > x->timeout_ns) {
                snprintf(why_lost, sizeof why_lost,
                         "was lost: a message to it was not taken for %.1f s",
                         (double)(now - w->send_since) / 1e9);
                cf__mx_lose(x, w, why_lost);
            }
        }
        pthread_mutex_lock(&x->mu);
        broken = x->broken;
        if (broken)
            memcpy(why, x->why_broken, sizeof why);
        pthread_mutex_unlock(&x->mu);
        if (broken || (shutting && terminate)) {
            /* Queued calls fail (broken) or are cancelled (terminate). */
            while (queue != NULL) {
                cf_future *f = queue;
                queue = f->next;
                f->next = NULL;
                if (broken)
                    cf__mx_fail(f, CF_EBROKEN, 0, NULL, why);
                else {
                    cf__ext_future_clear_canceller(f);
                    if (!cf__ext_future_force_cancel(f) && !cf_future_done(f))
                        cf__ext_future_fail(f, CF_ETERMINATED, 0, NULL,
                                            "terminated by shutdown before it was sent");
                    cf_future_release(f);
                }
            }
            qtail = &queue;
        } else if (live) {
            /* Dispatch takes from the front (and may put one back there):
             * the tail stays where it was unless the queue emptied. */
            busy = cf__mx_dispatch(x, &queue) || busy;
            if (queue == NULL)
                qtail = &queue;
        }
        if (live) {
            pthread_mutex_lock(&cf__mpi_lock);
            cf__mx_send(x, shutting || broken, terminate || broken);
            pthread_mutex_unlock(&cf__mpi_lock);
        }
        /* Done: shut down, nothing queued, every worker said bye, was lost,
         * refused, or never started (spawn mode). */
        bool done = (shutting || broken) && queue == NULL;
        for (size_t i = 0; done && live && i < x->nworkers; i++) {
            const cf__mx_worker *w = &x->w[i];
            done = w->lost || w->bye || (w->refused && !w->welcome_due);
        }
        if (done && shutting) {
            pthread_mutex_lock(&x->mu);
            done = x->qhead == NULL;
            if (done)
                x->manager_done = true;
            bool free_it = x->free_when_done;
            pthread_cond_broadcast(&x->done_cv);
            pthread_mutex_unlock(&x->mu);
            if (done && free_it) {
                pthread_detach(pthread_self());
                cf__mx_destroy(x);
            }
            if (done)
                break;
        }
        if (busy) {
            ns = 0;
            continue;
        }
        bool waiting = false;
        size_t inflight = 0;
        for (size_t i = 0; i < x->nworkers; i++) {
            waiting = waiting || x->w[i].inflight > 0 || !x->w[i].hello;
            inflight += x->w[i].inflight;
        }
        /* Spin (yielding) only for a lone call in flight, whose answer is
         * worth catching at once; with more, the ranks are busy and this
         * process's cores may be theirs. */
        if (inflight > 1 && ns <= 0)
            ns = 1000;
        pthread_mutex_lock(&x->mu);
        if (!x->wake_pending && x->ncancels == 0 && x->qhead == NULL)
            cf__mpi_backoff(&x->wake, &x->mu, &ns,
                            live && (waiting || shutting) ? 1000000 : 20000000);
        pthread_mutex_unlock(&x->mu);
    }
    return NULL;
}

/* ---- Ops ----------------------------------------------------------------------------- */

static bool cf__mx_cancel_running(cf__canceller *c, cf_future *f)
{
    cf__mx *x = (cf__mx *)((char *)c - offsetof(cf__mx, canceller));
    if (!cf__ext_future_force_cancel(f))
        return cf_future_cancelled(f);
    const cf__mx_call *call = cf__mx_call_of(f);
    if (!call->sent)
        return true;
    pthread_mutex_lock(&x->mu);
    if (x->ncancels < 4096 &&
        cf__mpi_reserve((char **)&x->cancels, &x->cancels_cap,
                       (x->ncancels + 1) * sizeof *x->cancels) == 0)
        x->cancels[x->ncancels++] = call->id;
    x->wake_pending = true;
    pthread_cond_signal(&x->wake);
    pthread_mutex_unlock(&x->mu);
    return true;
}

static int cf__mx_submit(cf_executor *ex, cf_future *f, const cf_submit_options *opts)
{
    cf__mx *x = (cf__mx *)ex;
    const cf_task *t = f->task;
    if (t != cf__ext_map_chunk_task()) {
        for (uint32_t i = 0; i < t->nparams; i++)
            if (t->params[i].kind == CF_KIND_PTR)
                return cf__mpi_fail(CF_EUNSUPPORTED,
                                    "cf_submit: parameter %u of task '%s' is a raw pointer, "
                                    "which an MPI executor cannot pass (it does not share "
                                    "memory)", i + 1, t->name);
        if (t->result.kind == CF_KIND_PTR)
            return cf__mpi_fail(CF_EUNSUPPORTED,
                                "cf_submit: task '%s' returns a raw pointer, which an MPI "
                                "executor cannot pass back", t->name);
    }
    cf__mx_call *call = cf__mx_call_of(f);
    call->timeout = opts != NULL ? opts->timeout : 0;
    pthread_mutex_lock(&x->mu);
    if (x->shutdown) {
        pthread_mutex_unlock(&x->mu);
        return cf__mpi_fail(CF_ESHUTDOWN, "cf_submit: the MPI executor is shut down");
    }
    if (x->broken) {
        int rc = cf__mpi_fail(CF_EBROKEN, "%s", x->why_broken);
        pthread_mutex_unlock(&x->mu);
        return rc;
    }
    cf_future_retain(f);
    f->exec_data = &x->canceller;
    f->next = NULL;
    if (x->qtail != NULL)
        x->qtail->next = f;
    else
        x->qhead = f;
    x->qtail = f;
    x->wake_pending = true;
    pthread_cond_signal(&x->wake);
    pthread_mutex_unlock(&x->mu);
    return 0;
}

static int cf__mx_shutdown(cf_executor *ex, unsigned flags, double timeout)
{
    cf__mx *x = (cf__mx *)ex;
    pthread_mutex_lock(&x->mu);
    x->shutdown = true;
    if (flags & CF_SHUTDOWN_TERMINATE)
        x->terminate = true;
    cf_future *cancelled = NULL;
    if (flags & (CF_SHUTDOWN_CANCEL_FUTURES | CF_SHUTDOWN_TERMINATE)) {
        cancelled = x->qhead;
        x->qhead = x->qtail = NULL;
    }
    x->wake_pending = true;
    pthread_cond_signal(&x->wake);
    pthread_mutex_unlock(&x->mu);
    while (cancelled != NULL) {
        cf_future *f = cancelled;
        cancelled = f->next;
        f->next = NULL;
        cf__ext_future_clear_canceller(f);
        cf_future_cancel(f);
        cf_future_release(f);
    }
    if (!(flags & CF_SHUTDOWN_WAIT))
        return 0;
    if (pthread_equal(pthread_self(), x->manager))
        return cf__mpi_fail(CF_EDEADLOCK,
                            "cf_executor_shutdown: cannot wait from the MPI executor's own "
                            "manager thread (a done-callback); it is shutting down");
    int64_t deadline = timeout < 0 ? INT64_MAX : cf__mpi_now() + (int64_t)(timeout * 1e9);
    int rc = 0;
    pthread_mutex_lock(&x->mu);
    while (!x->manager_done) {
        int64_t now = cf__mpi_now();
        if (now >= deadline) {
            if (rc == 0) {
                rc = CF_ETIMEDOUT;
                x->terminate = true; /* stop what still runs, then wait for that */
                x->wake_pending = true;
                pthread_cond_signal(&x->wake);
                deadline = INT64_MAX;
            }
            continue;
        }
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        int64_t wait = deadline - now;
        if (wait > 50000000)
            wait = 50000000;
        ts.tv_nsec += (long)wait;
        ts.tv_sec += ts.tv_nsec / 1000000000;
        ts.tv_nsec %= 1000000000;
        pthread_cond_timedwait(&x->done_cv, &x->mu, &ts);
    }
    pthread_mutex_unlock(&x->mu);
    if (rc != 0)
        return cf__mpi_fail(rc, "cf_executor_shutdown: the MPI executor's calls did not finish "
                                "within %.3f s; they were terminated", timeout);
    return 0;
}

/* Release everything once the manager has ended. */
static void cf__mx_destroy(cf__mx *x)
{
    while (atomic_load(&x->canceller.busy) != 0)
        sched_yield();
    bool lost = false;
    for (size_t i = 0; i < x->nworkers; i++) {
        cf__mx_worker *w = &x->w[i];
        lost = lost || w->lost;
        bool keep = false;
        if (w->req != MPI_REQUEST_NULL) {
            pthread_mutex_lock(&cf__mpi_lock);
            if (w->lost) {
                MPI_Request_free(&w->req);
                keep = true; /* MPI may still read it: left to the process's end */
            } else {
                MPI_Wait(&w->req, MPI_STATUS_IGNORE);
            }
            pthread_mutex_unlock(&cf__mpi_lock);
        }
        free(w->flight);
        free(w->flight_id);
        free(w->free_slots);
        free(w->pending);
        if (!keep)
            free(w->sending);
    }
    if (x->own_comm && !lost) {
        pthread_mutex_lock(&cf__mpi_lock);
        if (x->spawn)
            MPI_Comm_disconnect(&x->comm);
        else
            MPI_Comm_free(&x->comm);
        pthread_mutex_unlock(&cf__mpi_lock);
    }
    free(x->w);
    free(x->inbox);
    free(x->cancels);
    cf__ext_wire_decoder_free(&x->dec);
    cf__ext_frame_out_free(&x->fo);
    pthread_cond_destroy(&x->wake);
    pthread_cond_destroy(&x->done_cv);
    pthread_mutex_destroy(&x->mu);
    free(x);
    atomic_fetch_sub(&cf__mpi_live, 1);
}

static void cf__mx_free(cf_executor *ex)
{
    cf__mx *x = (cf__mx *)ex;
    if (pthread_equal(pthread_self(), x->manager)) {
        /* From a done-callback: shut down without waiting; the manager
         * frees the executor when it ends. */
        pthread_mutex_lock(&x->mu);
        x->free_when_done = true;
        pthread_mutex_unlock(&x->mu);
        cf__mx_shutdown(ex, 0, 0);
        return;
    }
    cf__mx_shutdown(ex, CF_SHUTDOWN_WAIT, CF_FOREVER);
    pthread_join(x->manager, NULL);
    cf__mx_destroy(x);
}

static size_t cf__mx_max_workers(const cf_executor *ex)
{
    return atomic_load(&((cf__mx *)ex)->max_workers);
}

static bool cf__mx_is_own_thread(const cf_executor *ex)
{
    return pthread_equal(pthread_self(), ((const cf__mx *)ex)->manager);
}

static const cf__executor_ops cf__mx_ops = {
    .kind = "mpi",
    /* So that map hands over its chunks' own pointers (see the top). */
    .shares_memory = true,
    .future_extra = sizeof(cf__mx_call),
    .submit = cf__mx_submit,
    .shutdown = cf__mx_shutdown,
    .free = cf__mx_free,
    .max_workers = cf__mx_max_workers,
    .is_own_thread = cf__mx_is_own_thread,
};

size_t cf_mpi_ranks(const cf_executor *ex)
{
    if (ex == NULL || ex->ops != &cf__mx_ops)
        return 0;
    return ((const cf__mx *)ex)->nworkers;
}

int cf__mpi_executor_new(cf_executor **out, const cf_mpi_options *opts, MPI_Comm comm,
                         const int *ranks, size_t nworkers)
{
    if (nworkers > CF__MX_MAX_WORKERS)
        return cf__mpi_fail(CF_EINVAL, "cf_mpi_init: %zu worker ranks (at most %u)", nworkers,
                            CF__MX_MAX_WORKERS);
    cf__mx *x = calloc(1, sizeof *x);
    cf__mx_worker *w = calloc(nworkers > 0 ? nworkers : 1, sizeof *w);
    if (x == NULL || w == NULL) {
        free(x);
        free(w);
        return cf__mpi_fail(-ENOMEM, "cf_mpi_init: no memory for the executor");
    }
    x->base.ops = &cf__mx_ops;
    x->opts = *opts;
    x->comm = comm;
    x->own_comm = comm != MPI_COMM_NULL;
    x->spawn = comm == MPI_COMM_NULL;
    x->w = w;
    x->nworkers = nworkers;
    x->timeout_ns = (int64_t)(opts->heartbeat_timeout * 1e9);
    x->canceller.cancel_running = cf__mx_cancel_running;
    atomic_init(&x->max_workers,
                nworkers * (opts->workers_per_rank > 0 ? opts->workers_per_rank : 1));
    int64_t now = cf__mpi_now();
    for (size_t i = 0; i < nworkers; i++) {
        w[i].rank = x->spawn ? (int)i : ranks[i];
        w[i].req = MPI_REQUEST_NULL;
        w[i].last_heard = w[i].last_sent = now;
        snprintf(w[i].origin, sizeof w[i].origin, "rank %d", w[i].rank);
    }
    if (nworkers == 0) {
        x->broken = true;
        snprintf(x->why_broken, sizeof x->why_broken,
                 "the MPI executor has no worker ranks (run under mpiexec -n 2 or more, or "
                 "set cf_mpi_options.spawn_workers)");
    }
    pthread_mutex_init(&x->mu, NULL);
    cf__mpi_cond_init(&x->wake);
    cf__mpi_cond_init(&x->done_cv);
    cf__ext_wire_decoder_init(&x->dec);
    cf__ext_frame_out_init(&x->fo, opts->max_message_size - 64);
    int rc = pthread_create(&x->manager, NULL, cf__mx_main, x);
    if (rc != 0) {
        cf__ext_frame_out_free(&x->fo);
        pthread_cond_destroy(&x->wake);
        pthread_cond_destroy(&x->done_cv);
        pthread_mutex_destroy(&x->mu);
        free(w);
        free(x);
        return cf__mpi_fail(-rc, "cf_mpi_init: cannot start the manager thread");
    }
    atomic_fetch_add(&cf__mpi_live, 1);
    *out = &x->base;
    return 0;
}
