/* mpi_serve.c: a worker rank: runs the root's calls in a local process pool
 * and sends the answers back.
 *
 * Design notes
 * - Threads: the rank's own thread (the one in cf_mpi_init) does every MPI
 *   call, under cf__mpi_lock. The local pool's done-callbacks run in the
 *   pool's dispatcher: they only push the finished call onto `done` (under
 *   `mu`) and signal `cond`, which the rank's thread waits on when idle.
 * - Idle: Open MPI's blocking receive spins, so the thread probes
 *   (MPI_Iprobe) and, finding nothing, waits on `cond` for a time that
 *   doubles from 1 us up to 1 ms; any message or finished call resets it.
 * - Calls are decoded with one decoder: the local submit copies the
 *   arguments; a map chunk copies its elements' argument blocks (and their
 *   strings and byte buffers), which must live until its local map ends.
 * - Sends are non-blocking, one in progress at a time; answers that finish
 *   meanwhile gather in `pending` and leave together. A send that does not
 *   complete within the heartbeat timeout, or a root silent for that long,
 *   means the root is lost: the pool is terminated and serve returns
 *   CF_EBROKEN.
 * - Lifetimes: a `served` is owned by the outstanding list from decode
 *   until its answer is encoded, then freed with its local future.
 */
#include "config.h"

#include <errno.h>
#include <stdatomic.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mpi_priv.h"

struct cf__server;

typedef struct cf__served {
    struct cf__server *srv;
    struct cf__served *next, *prev;   /* outstanding list */
    struct cf__served *next_done;
    uint64_t id;
    const cf_task *task;
    cf_future *f;                     /* the local future (a call, or the chunk's map) */
    bool chunk;
    uint32_t count;                   /* chunk: elements */
    int32_t *status;                  /* chunk: per element (cf_map_options.status is int) */
    void *results;                    /* chunk: count results, or NULL */
    char *blocks;                     /* chunk: count argument blocks */
    size_t blocks_cap;
    void **copies;                    /* chunk: its strings and byte buffers */
    size_t ncopies, copies_cap;
} cf__served;

typedef struct cf__server {
    MPI_Comm comm;
    int root;
    cf_executor *pool;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    cf__served *done;                 /* under mu: finished, newest first */
    cf__served *outstanding;          /* the rank thread's */
    size_t noutstanding;
    cf__wire_decoder dec;
    cf__frame_out fo;                 /* one encoded frame at a time */
    char *pending;                    /* answers not yet sent */
    size_t pending_len, pending_cap;
    char *sending;                    /* the buffer of the send in progress */
    size_t sending_cap;
    MPI_Request req;
    int64_t send_since;
    char *in;                         /* received message */
    size_t in_cap;
    uint32_t max_message;
    int64_t timeout_ns, last_heard, last_sent;
    bool terminate_asked, shutdown_asked, lost;
} cf__server;

static void cf__srv_on_done(cf_future *f, void *arg)
{
    (void)f;
    cf__served *s = arg;
    struct cf__server *srv = s->srv;
    pthread_mutex_lock(&srv->mu);
    s->next_done = srv->done;
    srv->done = s;
    pthread_cond_signal(&srv->cond);
    pthread_mutex_unlock(&srv->mu);
}

static cf__served *cf__srv_new_entry(cf__server *srv)
{
    cf__served *s = calloc(1, sizeof *s);
    if (s != NULL)
        s->srv = srv;
    return s;
}

/* Start sending `pending` if no send is in progress. Under cf__mpi_lock. */
static void cf__srv_flush(cf__server *srv)
{
    if (srv->req != MPI_REQUEST_NULL || srv->pending_len == 0)
        return;
    char *b = srv->sending;
    size_t c = srv->sending_cap;
    srv->sending = srv->pending;
    srv->sending_cap = srv->pending_cap;
    srv->pending = b;
    srv->pending_cap = c;
    MPI_Isend(srv->sending, (int)srv->pending_len, MPI_BYTE, srv->root, CF__MPI_TAG_ANSWERS,
              srv->comm, &srv->req);
    srv->pending_len = 0;
    srv->send_since = srv->last_sent = cf__mpi_now();
}

/* Say "still here" when nothing went to the root for a while, also in the
 * middle of long work (a large batch of calls): the root counts silence
 * as loss. Under cf__mpi_lock. */
static void cf__srv_keepalive(cf__server *srv)
{
    int64_t now = cf__mpi_now();
    if (now - srv->last_sent <= srv->timeout_ns / 8)
        return;
    if (srv->req != MPI_REQUEST_NULL) {
        int flag = 0;
        MPI_Test(&srv->req, &flag, MPI_STATUS_IGNORE);
        if (!flag)
            return;
    }
    MPI_Isend(NULL, 0, MPI_BYTE, srv->root, CF__MPI_TAG_PING, srv->comm, &srv->req);
    srv->send_since = srv->last_sent = now;
}

/* Append one record (header + body parts) to pending, flushing first when
 * the message would pass the limit. Under cf__mpi_lock. */
static void cf__srv_append(cf__server *srv, const cf__mpi_rec *rec, const void *a, size_t alen,
                           const void *b, size_t blen, const void *c, size_t clen)
{
    size_t len = sizeof *rec + alen + blen + clen;
    if (srv->pending_len > 0 && srv->pending_len + len > srv->max_message) {
        /* Wait for the send in progress so that this message can leave
         * (not past the heartbeat timeout: then the root is lost). */
        while (srv->req != MPI_REQUEST_NULL && !srv->lost) {
            int flag = 0;
            MPI_Test(&srv->req, &flag, MPI_STATUS_IGNORE);
            if (!flag && cf__mpi_now() - srv->send_since > srv->timeout_ns)
                srv->lost = true;
        }
        if (srv->lost)
            return;
        cf__srv_flush(srv);
    }
    if (cf__mpi_reserve(&srv->pending, &srv->pending_cap, srv->pending_len + len) != 0) {
        fprintf(stderr, "cfutures-mpi: rank out of memory for an answer; giving up\n");
        abort();
    }
    char *p = srv->pending + srv->pending_len;
    memcpy(p, rec, sizeof *rec);
    p += sizeof *rec;
    if (alen > 0)
        memcpy(p, a, alen);
    if (blen > 0)
        memcpy(p + alen, b, blen);
    if (clen > 0)
        memcpy(p + alen + blen, c, clen);
    srv->pending_len += len;
}

/* Append the frame just encoded into srv->fo as a RESULT record. */
static void cf__srv_append_frame(cf__server *srv, uint64_t id)
{
    size_t n;
    const void *data = cf__ext_frame_out_data(&srv->fo, &n);
    cf__mpi_rec rec = {CF__MPI_REC_RESULT, (uint32_t)n, id, 0, 0, 0};
    cf__srv_append(srv, &rec, data, n, NULL, 0, NULL, 0);
    cf__ext_frame_out_consume(&srv->fo, n);
}

static void cf__srv_answer_failed(cf__server *srv, uint64_t id, int code, int detail,
                                  const char *message)
{
    if (cf__ext_wire_encode_failed(&srv->fo, id, code, detail, message) != 0 &&
        cf__ext_wire_encode_failed(&srv->fo, id, code, detail, "(message too long)") != 0)
        return; /* cannot happen: a bare FAILED is a few bytes */
    cf__srv_append_frame(srv, id);
}

/* Encode a finished call's answer. Under cf__mpi_lock. */
static void cf__srv_answer_call(cf__server *srv, cf__served *s)
{
    cf_future *f = s->f;
    const cf_error *err = cf_future_error(f);
    if (cf_future_cancelled(f)) {
        cf__srv_answer_failed(srv, s->id, CF_ECANCELLED, 0, "cancelled on its rank");
        return;
    }
    if (err != NULL) {
        cf__srv_answer_failed(srv, s->id, err->code, err->detail, err->message);
        return;
    }
    const cf_task *t = s->task;
    _Alignas(16) char small[64];
    void *slot = small;
    if (t->result.size > sizeof small && (slot = malloc(t->result.size)) == NULL) {
        cf__srv_answer_failed(srv, s->id, -ENOMEM, 0, "no memory for the result on its rank");
        return;
    }
    int rc = t->result.kind == CF_KIND_VOID ? 0 : cf__future_result(f, t->result, slot, 0);
    if (rc == 0)
        rc = cf__ext_wire_encode_result(&srv->fo, s->id, t, t->result.kind == CF_KIND_VOID
                                                              ? NULL : slot);
    if (rc == 0)
        cf__srv_append_frame(srv, s->id);
    else
        cf__srv_answer_failed(srv, s->id, rc, 0, cf_last_error());
    if (slot != small)
        free(slot);
}

/* Encode a finished chunk's answer (CHUNK_DONE). Under cf__mpi_lock. */
static void cf__srv_answer_chunk(cf__server *srv, cf__served *s)
{
    const cf_error *err = cf_future_error(s->f);
    cf__mpi_chunk_done d = {0};
    d.count = s->count;
    d.code = err != NULL ? err->code : 0;
    d.detail = err != NULL ? err->detail : 0;
    const char *msg = err != NULL ? err->message : "";
    d.msg_len = (uint32_t)strlen(msg);
    size_t rsize = s->results != NULL ? s->task->result.size : 0;
    d.result_size = (uint32_t)rsize;
    size_t slen = (size_t)s->count * sizeof(int32_t), rlen = (size_t)s->count * rsize;
    if (sizeof d + slen + rlen + d.msg_len + sizeof(cf__mpi_rec) > srv->max_message) {
        /* Cannot happen for a chunk that fit on its way in unless results
         * are much larger than arguments: fail the whole chunk. */
        d.code = CF_ETOOBIG;
        d.msg_len = 0;
        d.result_size = 0;
        rlen = 0;
        for (uint32_t i = 0; i < s->count; i++)
            s->status[i] = CF_ETOOBIG;
    }
    char *body = malloc(sizeof d + slen);
    if (body == NULL) {
        fprintf(stderr, "cfutures-mpi: rank out of memory for an answer; giving up\n");
        abort();
    }
    memcpy(body, &d, sizeof d);
    memcpy(body + sizeof d, s->status, slen);
    cf__mpi_rec rec = {CF__MPI_REC_CHUNK_DONE, (uint32_t)(sizeof d + slen + rlen + d.msg_len),
                       s->id, 0, 0, 0};
    cf__srv_append(srv, &rec, body, sizeof d + slen, s->results, rlen, msg, d.msg_len);
    free(body);
}

static void cf__srv_free_entry(cf__served *s)
{
    if (s->f != NULL)
        cf_future_release(s->f);
    free(s->status);
    free(s->results);
    free(s->blocks);
    for (size_t i = 0; i < s->ncopies; i++)
        free(s->copies[i]);
    free(s->copies);
    free(s);
}

/* A copy of n bytes that lives as long as the chunk, or NULL. */
static void *cf__srv_keep(cf__served *s, const void *p, size_t n)
{
    if (s->ncopies == s->copies_cap) {
        size_t cap = s->copies_cap > 0 ? 2 * s->copies_cap : 16;
        void **c = realloc(s->copies, cap * sizeof *c);
        if (c == NULL)
            return NULL;
        s->copies = c;
        s->copies_cap = cap;
    }
    void *copy = malloc(n > 0 ? n : 1);
    if (copy != NULL) {
        memcpy(copy, p, n);
        s->copies[s->ncopies++] = copy;
    }
    return copy;
}

static void cf__srv_link(cf__server *srv, cf__served *s)
{
    s->next = srv->outstanding;
    if (s->next != NULL)
        s->next->prev = s;
    srv->outstanding = s;
    srv->noutstanding++;
}

static void cf__srv_unlink(cf__server *srv, cf__served *s)
{
    if (s->prev != NULL)
        s->prev->next = s->next;
    else
        srv->outstanding = s->next;
    if (s->next != NULL)
        s->next->prev = s->prev;
    srv->noutstanding--;
}

/* Submit one CALL record to the local pool. */
static void cf__srv_call(cf__server *srv, const cf__mpi_rec *rec, const char *body)
{
    if (rec->len < 4) {
        cf__srv_answer_failed(srv, rec->id, CF_EDECODE, 0, "a CALL record without a frame");
        return;
    }
    cf__wire_msg msg;
    const cf_task *task;
    void *args;
    int rc = cf__ext_wire_open(&msg, body + 4, rec->len - 4);
    if (rc == 0)
        rc = cf__ext_wire_decode_call(&srv->dec, &msg, &task, &args);
    if (rc != 0) {
        cf__srv_answer_failed(srv, rec->id, rc, 0, cf_last_error());
        return;
    }
    cf__served *s = cf__srv_new_entry(srv);
    if (s == NULL) {
        cf__srv_answer_failed(srv, rec->id, -ENOMEM, 0, "no memory on its rank");
        return;
    }
    s->id = rec->id;
    s->task = task;
    cf_submit_options o = {.timeout = rec->timeout};
    rc = cf__submit_task(&s->f, srv->pool, &o, task, args);
    if (rc != 0) {
        cf__srv_answer_failed(srv, rec->id, rc, 0, cf_last_error());
        free(s);
        return;
    }
    cf__srv_link(srv, s);
    if (cf_future_add_done_callback(s->f, cf__srv_on_done, s) != 0) {
        cf_future_wait(s->f, CF_FOREVER);
        cf__srv_on_done(s->f, s);
    }
}

/* Start a local map over one CHUNK record's elements: a CALL frame each
 * (id: the element's index), whose argument blocks are copied side by side
 * with their strings and byte buffers, since the decoder's memory is reused
 * by the next decode. */
static int cf__srv_chunk_args(cf__server *srv, cf__served *s, const char *body, size_t len)
{
    const cf_task *t = NULL;
    size_t at = 0, n = 0, size = 0;
    while (at < len) {
        uint32_t flen;
        if (len - at < 4)
            return cf__mpi_fail(CF_EDECODE, "CHUNK: a truncated frame");
        memcpy(&flen, body + at, 4);
        flen = __builtin_bswap32(flen);
        if (flen > len - at - 4)
            return cf__mpi_fail(CF_EDECODE, "CHUNK: a truncated frame");
        cf__wire_msg msg;
        const cf_task *et;
        void *args;
        int rc = cf__ext_wire_open(&msg, body + at + 4, flen);
        if (rc == 0)
            rc = cf__ext_wire_decode_call(&srv->dec, &msg, &et, &args);
        if (rc != 0)
            return rc;
        if (msg.id != n || (t != NULL && et != t))
            return cf__mpi_fail(CF_EDECODE, "CHUNK: element %zu out of order", n);
        if (t == NULL) {
            t = et;
            size = t->args_size > 0 ? (t->args_size + t->args_align - 1) / t->args_align *
                                          t->args_align : 0;
        }
        if (size > 0) {
            if (cf__mpi_reserve(&s->blocks, &s->blocks_cap, (n + 1) * size) != 0)
                return cf__mpi_fail(-ENOMEM, "no memory for a chunk's arguments");
            char *block = s->blocks + n * size;
            memcpy(block, args, t->args_size);
            for (uint32_t k = 0; k < t->nparams; k++) {
                void *p = block + t->offsets[k];
                if (t->params[k].kind == CF_KIND_STR) {
                    char *str;
                    memcpy(&str, p, sizeof str);
                    if (str != NULL && (str = cf__srv_keep(s, str, strlen(str) + 1)) == NULL)
                        return cf__mpi_fail(-ENOMEM, "no memory for a chunk's arguments");
                    memcpy(p, &str, sizeof str);
                } else if (t->params[k].kind == CF_KIND_BYTES) {
                    cf_bytes b;
                    memcpy(&b, p, sizeof b);
                    if (b.len > 0 && (b.data = cf__srv_keep(s, b.data, b.len)) == NULL)
                        return cf__mpi_fail(-ENOMEM, "no memory for a chunk's arguments");
                    memcpy(p, &b, sizeof b);
                }
            }
        }
        n++;
        at += 4 + flen;
        if ((n & 4095) == 0)
            cf__srv_keepalive(srv);
    }
    if (n == 0 || n > UINT32_MAX)
        return cf__mpi_fail(CF_EDECODE, "CHUNK: %zu elements", n);
    s->task = t;
    s->count = (uint32_t)n;
    return 0;
}

static void cf__srv_chunk(cf__server *srv, const cf__mpi_rec *rec, const char *body)
{
    cf__served *s = cf__srv_new_entry(srv);
    if (s == NULL) {
        cf__srv_answer_failed(srv, rec->id, -ENOMEM, 0, "no memory on its rank");
        return;
    }
    s->id = rec->id;
    s->chunk = true;
    int rc = cf__srv_chunk_args(srv, s, body, rec->len);
    if (rc == 0) {
        s->status = malloc((size_t)s->count * sizeof *s->status);
        if (s->task->result.kind != CF_KIND_VOID)
            s->results = calloc(s->count, s->task->result.size);
        if (s->status == NULL || (s->task->result.kind != CF_KIND_VOID && s->results == NULL))
            rc = cf__mpi_fail(-ENOMEM, "no memory for a chunk of %u elements", s->count);
    }
    if (rc == 0) {
        for (uint32_t i = 0; i < s->count; i++)
            s->status[i] = CF__MPI_NOT_RUN;
        cf_map_options mo = {0};
        mo.keep_going = rec->flags != 0;
        mo.status = s->status;
        mo.timeout = rec->timeout > 0 ? rec->timeout : 0;
        const void *in[1] = {s->blocks};
        size_t size = (s->task->args_size + s->task->args_align - 1) / s->task->args_align *
                      s->task->args_align;
        rc = cf__map_arrays(&s->f, true, srv->pool, &mo, s->task, s->count, s->results,
                            s->task->nparams > 0 ? in : NULL, s->task->nparams > 0 ? size : 0);
    }
    if (rc != 0) {
        cf__srv_answer_failed(srv, rec->id, rc, 0, cf_last_error());
        cf__srv_free_entry(s);
        return;
    }
    cf__srv_link(srv, s);
    if (cf_future_add_done_callback(s->f, cf__srv_on_done, s) != 0) {
        cf_future_wait(s->f, CF_FOREVER);
        cf__srv_on_done(s->f, s);
    }
}

static void cf__srv_calls(cf__server *srv, const char *buf, size_t len)
{
    size_t at = 0;
    while (len - at >= sizeof(cf__mpi_rec)) {
        cf__mpi_rec rec;
        memcpy(&rec, buf + at, sizeof rec);
        at += sizeof rec;
        if (rec.len > len - at)
            break; /* cannot happen between ranks of one build */
        cf__srv_keepalive(srv);
        if (rec.kind == CF__MPI_REC_CALL)
            cf__srv_call(srv, &rec, buf + at);
        else if (rec.kind == CF__MPI_REC_CHUNK)
            cf__srv_chunk(srv, &rec, buf + at);
        else
            cf__srv_answer_failed(srv, rec.id, CF_EDECODE, 0, "a record of an unknown kind");
        at += rec.len;
    }
}

static void cf__srv_cancel(cf__server *srv, uint64_t id)
{
    for (cf__served *s = srv->outstanding; s != NULL; s = s->next) {
        if (s->id == id && !s->chunk) {
            if (!cf_future_cancel(s->f))
                cf_future_cancel_running(s->f);
            return;
        }
    }
}

/* Receive and handle one message if there is one. Returns true if it did. */
static bool cf__srv_receive(cf__server *srv)
{
    int flag = 0;
    MPI_Status st;
    MPI_Iprobe(srv->root, MPI_ANY_TAG, srv->comm, &flag, &st);
    if (!flag)
        return false;
    int n = 0;
    MPI_Get_count(&st, MPI_BYTE, &n);
    if (cf__mpi_reserve(&srv->in, &srv->in_cap, (size_t)n + 8) != 0) {
        fprintf(stderr, "cfutures-mpi: rank out of memory for a %d-byte message\n", n);
        abort();
    }
    MPI_Recv(srv->in, n, MPI_BYTE, srv->root, st.MPI_TAG, srv->comm, MPI_STATUS_IGNORE);
    srv->last_heard = cf__mpi_now();
    switch (st.MPI_TAG) {
    case CF__MPI_TAG_CALLS:
        cf__srv_calls(srv, srv->in, (size_t)n);
        break;
    case CF__MPI_TAG_CANCEL:
        if (n == sizeof(uint64_t)) {
            uint64_t id;
            memcpy(&id, srv->in, sizeof id);
            cf__srv_cancel(srv, id);
        }
        break;
    case CF__MPI_TAG_SHUTDOWN: {
        uint32_t how = 0;
        if (n == sizeof how)
            memcpy(&how, srv->in, sizeof how);
        srv->shutdown_asked = true;
        if (how & CF__MPI_SHUTDOWN_LOST) /* MPI_Finalize would wait for the lost rank */
            atomic_store(&cf__mpi_lost, 1);
        if ((how & CF__MPI_SHUTDOWN_TERMINATE) && !srv->terminate_asked) {
            srv->terminate_asked = true;
            pthread_mutex_unlock(&cf__mpi_lock);
            cf_executor_shutdown(srv->pool, CF_SHUTDOWN_TERMINATE, 0);
            pthread_mutex_lock(&cf__mpi_lock);
        }
        break;
    }
    default: /* PING, or a late WELCOME */
        break;
    }
    return true;
}

/* Answer every finished call. Returns true if there was any. */
static bool cf__srv_answer_done(cf__server *srv)
{
    pthread_mutex_lock(&srv->mu);
    cf__served *done = srv->done;
    srv->done = NULL;
    pthread_mutex_unlock(&srv->mu);
    bool any = done != NULL;
    while (done != NULL) {
        cf__served *s = done;
        done = s->next_done;
        if (s->chunk)
            cf__srv_answer_chunk(srv, s);
        else
            cf__srv_answer_call(srv, s);
        cf__srv_unlink(srv, s);
        cf__srv_free_entry(s);
    }
    return any;
}

/* Say hello and wait for the root's verdict. */
static int cf__srv_hello(cf__server *srv, cf__mpi_welcome *w)
{
    cf__mpi_hello h = {CF__MPI_MAGIC, CF__MPI_VERSION, cf__ext_registry_digest(),
                       (uint32_t)sysconf(_SC_NPROCESSORS_ONLN), (int32_t)getpid(), {0}};
    snprintf(h.host, sizeof h.host, "%s", cf__mpi_hostname());
    pthread_mutex_lock(&cf__mpi_lock);
    MPI_Send(&h, sizeof h, MPI_BYTE, srv->root, CF__MPI_TAG_HELLO, srv->comm);
    pthread_mutex_unlock(&cf__mpi_lock);
    /* The root answers once its executor runs; a root that never does is
     * given a minute. */
    int64_t deadline = cf__mpi_now() + 60 * (int64_t)1000000000, ns = 0;
    for (;;) {
        int flag = 0;
        pthread_mutex_lock(&cf__mpi_lock);
        MPI_Iprobe(srv->root, CF__MPI_TAG_WELCOME, srv->comm, &flag, MPI_STATUS_IGNORE);
        if (flag)
            MPI_Recv(w, sizeof *w, MPI_BYTE, srv->root, CF__MPI_TAG_WELCOME, srv->comm,
                     MPI_STATUS_IGNORE);
        pthread_mutex_unlock(&cf__mpi_lock);
        if (flag)
            break;
        if (cf__mpi_now() > deadline)
            return cf__mpi_fail(CF_EBROKEN, "rank on host %s: the root never answered its hello",
                                cf__mpi_hostname());
        pthread_mutex_lock(&srv->mu);
        cf__mpi_backoff(&srv->cond, &srv->mu, &ns, 1000000);
        pthread_mutex_unlock(&srv->mu);
    }
    w->message[sizeof w->message - 1] = '\0';
    if (w->code != 0)
        return cf__mpi_fail(w->code, "%s", w->message);
    return 0;
}

int cf__mpi_serve(MPI_Comm comm, int root)
{
    cf__server *srv = calloc(1, sizeof *srv);
    if (srv == NULL)
        return cf__mpi_fail(-ENOMEM, "cf_mpi_init: no memory to serve");
    srv->comm = comm;
    srv->root = root;
    srv->req = MPI_REQUEST_NULL;
    pthread_mutex_init(&srv->mu, NULL);
    cf__mpi_cond_init(&srv->cond);
    cf__ext_wire_decoder_init(&srv->dec);
    cf__mpi_welcome w;
    int rc = cf__srv_hello(srv, &w);
    if (rc == 0) {
        cf_process_pool_options po = {0};
        po.max_workers = (size_t)w.workers;
        po.task_timeout = w.task_timeout;
        po.max_frame_size = w.max_message_size;
        rc = cf_process_pool_new(&srv->pool, &po);
    }
    if (rc != 0)
        goto out;
    srv->max_message = w.max_message_size;
    cf__ext_frame_out_init(&srv->fo, w.max_message_size - 64);
    srv->timeout_ns = (int64_t)(w.heartbeat_timeout * 1e9);
    srv->last_heard = srv->last_sent = cf__mpi_now();
    int64_t ns = 0;
    for (;;) {
        pthread_mutex_lock(&cf__mpi_lock);
        bool busy = cf__srv_receive(srv);
        busy = cf__srv_answer_done(srv) || busy;
        if (srv->req != MPI_REQUEST_NULL) {
            int flag = 0;
            MPI_Test(&srv->req, &flag, MPI_STATUS_IGNORE);
            if (!flag && cf__mpi_now() - srv->send_since > srv->timeout_ns)
                srv->lost = true; /* the root takes nothing any more */
        }
        cf__srv_flush(srv);
        cf__srv_keepalive(srv);
        int64_t now = cf__mpi_now();
        bool finished = srv->shutdown_asked && srv->noutstanding == 0 && srv->pending_len == 0 &&
                        srv->req == MPI_REQUEST_NULL;
        pthread_mutex_unlock(&cf__mpi_lock);
        if (now - srv->last_heard > srv->timeout_ns)
            srv->lost = true;
        if (srv->lost || finished)
            break;
        if (busy) {
            ns = 0;
            continue;
        }
        /* While the pool works, its done-callbacks wake this thread: no
         * spinning then, which would take a core from the pool. */
        if (srv->noutstanding > 0 && ns <= 0)
            ns = 1000;
        pthread_mutex_lock(&srv->mu);
        if (srv->done == NULL)
            cf__mpi_backoff(&srv->cond, &srv->mu, &ns, 1000000);
        pthread_mutex_unlock(&srv->mu);
    }
    if (srv->lost) {
        atomic_store(&cf__mpi_lost, 1);
        rc = cf__mpi_fail(CF_EBROKEN,
                          "rank on host %s: lost the root (nothing heard from it for %.1f s)",
                          cf__mpi_hostname(), (double)srv->timeout_ns / 1e9);
        cf_executor_shutdown(srv->pool, CF_SHUTDOWN_TERMINATE | CF_SHUTDOWN_WAIT, 5.0);
    } else {
        cf_executor_shutdown(srv->pool, CF_SHUTDOWN_WAIT, CF_FOREVER);
        pthread_mutex_lock(&cf__mpi_lock);
        MPI_Send(NULL, 0, MPI_BYTE, root, CF__MPI_TAG_BYE, comm);
        pthread_mutex_unlock(&cf__mpi_lock);
    }
    cf__ext_frame_out_free(&srv->fo);
out:
    cf_executor_free(srv->pool); /* after this no done-callback runs */
    /* Whatever is still outstanding (only when the root was lost) is done
     * after the terminating shutdown: drop it unanswered. */
    pthread_mutex_lock(&srv->mu);
    srv->done = NULL; /* entries stay on the outstanding list */
    pthread_mutex_unlock(&srv->mu);
    while (srv->outstanding != NULL) {
        cf__served *s = srv->outstanding;
        cf__srv_unlink(srv, s);
        cf__srv_free_entry(s);
    }
    cf__ext_wire_decoder_free(&srv->dec);
    if (srv->req != MPI_REQUEST_NULL) {
        /* Only when the root was lost: MPI may still read the buffer, so
         * it is left to the process's end. */
        pthread_mutex_lock(&cf__mpi_lock);
        MPI_Request_free(&srv->req);
        pthread_mutex_unlock(&cf__mpi_lock);
    } else {
        free(srv->sending);
    }
    free(srv->pending);
    free(srv->in);
    pthread_cond_destroy(&srv->cond);
    pthread_mutex_destroy(&srv->mu);
    free(srv);
    return rc;
}
