/* server.c: serving cf_queues on the network (net.h, cf_net_server).
 *
 * Design notes
 * - Threads: one server thread owns the ZeroMQ context and its sockets (the
 *   ROUTER clients talk to, the ZAP handler, the monitor) and answers every
 *   request. A request that can be done at once (a put with room, a get with
 *   an item, task_done, qsize, close, or any request with wait 0) is done by
 *   that thread. One that must wait (a put into a full queue, a get from an
 *   empty one, a join) is handed to a helper thread of its own, which does
 *   the waiting operation and posts its reply to a list the server thread
 *   sends from (woken through an eventfd it polls beside the sockets). A
 *   request waits at most CF__NET_MAX_WAIT_US (clients split longer waits),
 *   so helpers always end soon and cf_net_server_free can wait for them.
 * - `mu` guards the queue table, the reply list and the helper count.
 * - A helper decodes its request's value again with its own decoder: the
 *   request's bytes are copied into the job, so nothing it uses belongs to
 *   the server thread.
 * - An item got for a client is encoded in the thread that got it, before
 *   that thread's next get (the queue's strings live in thread memory).
 * - Malformed requests are counted and dropped; when their id could be
 *   read, the reply says CF_EDECODE.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "net_priv.h"

typedef struct netq {
    struct netq *next;
    char name[CF_NET_NAME_MAX + 1];
    cf_queue *q;
} netq;

typedef struct job {
    struct job *next;
    cf_net_server *srv;
    cf_queue *q;
    uint8_t route[256];
    size_t route_len;
    uint8_t kind;
    uint64_t id;
    int64_t wait_us;
    cf_type want;      /* GET */
    bool any;          /* GET of any type */
    uint8_t *body;     /* PUT: the VALUE payload (a copy) */
    size_t body_len;
    /* The reply. */
    int64_t result;
    char text[256];
    uint8_t *reply;    /* VALUE payload of a got item (malloc) or NULL */
    size_t reply_len;
} job;

struct cf_net_server {
    cf__net_opts opts;
    cf__net_listener l;
    pthread_t thread;
    int wake_fd;
    _Atomic bool stop;
    _Atomic uint64_t rejected;
    pthread_mutex_t mu;
    pthread_cond_t helpers_done;
    netq *queues;
    job *replies;       /* done by helpers, to send */
    size_t helpers;
    cf__wire_decoder dec; /* the server thread's */
    cf__frame_out out;    /* the server thread's */
};

static void job_free(job *j)
{
    if (j == NULL)
        return;
    free(j->body);
    free(j->reply);
    free(j);
}

/* ---- Doing a request ------------------------------------------------------------ */

static void set_error(job *j, int rc)
{
    j->result = rc;
    snprintf(j->text, sizeof j->text, "%s", cf_last_error());
}

/* Encode the C object at obj as the reply's VALUE payload. */
static int reply_value(job *j, cf__frame_out *out, cf_type type, const void *obj)
{
    int rc = CF__CORE->wire_encode_value(out, type, obj);
    if (rc != 0)
        return rc;
    size_t n;
    const uint8_t *p = cf__net_frame_payload(out, &n);
    j->reply = malloc(n > 0 ? n : 1);
    if (j->reply == NULL)
        rc = -ENOMEM;
    else {
        memcpy(j->reply, p, n);
        j->reply_len = n;
    }
    size_t all;
    CF__CORE->frame_out_data(out, &all);
    CF__CORE->frame_out_consume(out, all);
    return rc;
}

/* Storage for one C object of any value type. */
typedef union object {
    max_align_t align;
    unsigned char small[64];
} object;

static void run_put(job *j, double wait, cf__wire_decoder *dec)
{
    cf__wire_msg msg;
    cf_type type;
    int rc = CF__CORE->wire_open(&msg, j->body, j->body_len);
    if (rc == 0 && msg.type != CF__WIRE_VALUE)
        rc = CF__FAIL(CF_EDECODE, "net: PUT body is a %s, not a VALUE",
                      CF__CORE->wire_type_name(msg.type));
    if (rc == 0)
        rc = CF__CORE->wire_value_type(&msg, &type);
    if (rc != 0) {
        set_error(j, rc);
        return;
    }
    object small;
    void *obj = type.size <= sizeof small ? (void *)&small : malloc(type.size);
    if (obj == NULL) {
        set_error(j, CF__FAIL(-ENOMEM, "net: no memory for a %u-byte item", type.size));
        return;
    }
    rc = CF__CORE->wire_decode_value(dec, &msg, type, type.kind == CF_KIND_VOID ? NULL : obj);
    if (rc == 0) {
        if (type.kind == CF_KIND_VOID) {
            cf_value v = cf_value_void();
            rc = cf_queue_put_value(j->q, &v, wait);
        } else {
            rc = cf__queue_put(j->q, type, obj, wait);
        }
    }
    if (obj != (void *)&small)
        free(obj);
    if (rc != 0)
        set_error(j, rc);
    else
        j->result = 0;
}

static void run_get(job *j, double wait, cf__frame_out *out)
{
    int rc;
    if (j->any) {
        cf_value v;
        rc = cf_queue_get_value(j->q, &v, wait);
        if (rc == 0) {
            object small;
            void *obj = v.type.size <= sizeof small ? (void *)&small : malloc(v.type.size);
            if (obj == NULL)
                rc = CF__FAIL(-ENOMEM, "net: no memory for a %u-byte item", v.type.size);
            else if ((rc = cf_value_store(&v, v.type, obj)) == 0)
                rc = reply_value(j, out, v.type, v.type.kind == CF_KIND_VOID ? NULL : obj);
            if (obj != NULL && obj != (void *)&small)
                free(obj);
        }
    } else if (j->want.kind == CF_KIND_VOID) {
        rc = cf__queue_get(j->q, j->want, NULL, wait);
    } else {
        object small;
        void *obj = j->want.size <= sizeof small ? (void *)&small : malloc(j->want.size);
        if (obj == NULL)
            rc = CF__FAIL(-ENOMEM, "net: no memory for a %u-byte item", j->want.size);
        else if ((rc = cf__queue_get(j->q, j->want, obj, wait)) == 0)
            rc = reply_value(j, out, j->want, obj);
        if (obj != NULL && obj != (void *)&small)
            free(obj);
    }
    if (rc != 0)
        set_error(j, rc);
    else
        j->result = 0;
}

/* Do j's operation, waiting up to `wait` seconds. */
static void run_job(job *j, double wait, cf__wire_decoder *dec, cf__frame_out *out)
{
    int rc = 0;
    switch (j->kind) {
    case CF__NET_Q_PUT: run_put(j, wait, dec); return;
    case CF__NET_Q_GET: run_get(j, wait, out); return;
    case CF__NET_Q_JOIN: rc = cf_queue_join(j->q, wait); break;
    case CF__NET_Q_TASK_DONE: rc = cf_queue_task_done(j->q); break;
    case CF__NET_Q_CLOSE: rc = cf_queue_close(j->q); break;
    case CF__NET_Q_QSIZE: j->result = (int64_t)cf_queue_qsize(j->q); return;
    default: break; /* OPEN: the queue was found */
    }
    if (rc != 0)
        set_error(j, rc);
    else
        j->result = 0;
}

/* Whether an outcome means "try again, waiting". */
static bool would_wait(const job *j)
{
    return j->result == CF_EFULL || j->result == CF_EEMPTY ||
           (j->kind == CF__NET_Q_JOIN && j->result == CF_ETIMEDOUT);
}

static void *helper_main(void *arg)
{
    job *j = arg;
    cf_net_server *srv = j->srv;
    cf__wire_decoder dec;
    cf__frame_out out;
    CF__CORE->wire_decoder_init(&dec);
    CF__CORE->frame_out_init(&out, srv->opts.max_message);
    j->text[0] = '\0';
    run_job(j, j->wait_us < 0 ? (double)CF__NET_MAX_WAIT_US * 1e-6 : (double)j->wait_us * 1e-6,
            &dec, &out);
    CF__CORE->frame_out_free(&out);
    CF__CORE->wire_decoder_free(&dec);
    /* Everything under the lock: once helpers reaches 0, the server may be
     * freed, so nothing of it is touched after the unlock. */
    pthread_mutex_lock(&srv->mu);
    j->next = srv->replies;
    srv->replies = j;
    uint64_t one = 1;
    ssize_t w = write(srv->wake_fd, &one, sizeof one);
    (void)w;
    srv->helpers--;
    if (srv->helpers == 0)
        pthread_cond_broadcast(&srv->helpers_done);
    pthread_mutex_unlock(&srv->mu);
    return NULL;
}

/* ---- The server thread ------------------------------------------------------------ */

static void send_reply(cf_net_server *srv, const job *j)
{
    uint8_t head[CF__NET_HEADER + CF_NET_NAME_MAX];
    size_t hl = cf__net_header(head, CF__NET_REPLY, j->id, j->result, NULL);
    const void *body = NULL;
    size_t blen = 0;
    bool has = false;
    if (j->result < 0 && j->text[0] != '\0') {
        body = j->text;
        blen = strlen(j->text);
        has = true;
    } else if (j->result >= 0 && j->reply != NULL) {
        body = j->reply;
        blen = j->reply_len;
        has = true;
    }
    /* A client gone meanwhile (EHOSTUNREACH) loses only its own reply. */
    cf__net_send(srv->l.sock, j->route, j->route_len, head, hl, body, blen, has);
}

static cf_queue *find_queue(cf_net_server *srv, const char *name)
{
    pthread_mutex_lock(&srv->mu);
    netq *n = srv->queues;
    while (n != NULL && strcmp(n->name, name) != 0)
        n = n->next;
    pthread_mutex_unlock(&srv->mu);
    return n != NULL ? n->q : NULL;
}

static void reject(cf_net_server *srv, const void *route, size_t route_len, bool id_known,
                   uint64_t id)
{
    atomic_fetch_add(&srv->rejected, 1);
    if (!id_known || id == 0)
        return;
    job j = {.id = id, .result = CF_EDECODE};
    snprintf(j.text, sizeof j.text, "%s", cf_last_error());
    memcpy(j.route, route, route_len);
    j.route_len = route_len;
    send_reply(srv, &j);
}

static void handle(cf_net_server *srv, cf__net_in *in)
{
    size_t rl, hl, bl = 0;
    const void *route = cf__net_in_data(in, 0, &rl);
    if (in->nparts < 2 || rl > sizeof ((job *)0)->route) {
        atomic_fetch_add(&srv->rejected, 1);
        return;
    }
    const void *head = cf__net_in_data(in, 1, &hl);
    const void *body = in->nparts == 3 ? cf__net_in_data(in, 2, &bl) : NULL;
    cf__net_msg m;
    bool id_known;
    int rc = cf__net_parse(&m, head, hl, body, bl, in->nparts == 3, &id_known);
    if (rc == 0 && in->too_many)
        rc = CF__FAIL(CF_EDECODE, "net: a message of more than 3 parts");
    if (rc == 0 && (m.kind == CF__NET_REPLY || m.kind >= CF__NET_W_HELLO))
        rc = CF__FAIL(CF_EDECODE, "net: a queue server takes no %u message", m.kind);
    if (rc != 0) {
        reject(srv, route, rl, id_known, m.id);
        return;
    }
    job *j = calloc(1, sizeof *j);
    if (j == NULL)
        return; /* the client times out; nothing was done */
    j->srv = srv;
    memcpy(j->route, route, rl);
    j->route_len = rl;
    j->kind = m.kind;
    j->id = m.id;
    j->wait_us = m.arg;
    j->q = find_queue(srv, m.name);
    if (j->q == NULL) {
        j->result = CF__FAIL(CF_ENOTFOUND, "net: no queue named '%s' is served here", m.name);
        snprintf(j->text, sizeof j->text, "%s", cf_last_error());
        send_reply(srv, j);
        job_free(j);
        return;
    }
    if (m.kind == CF__NET_Q_GET) {
        cf_type t;
        if (cf__net_get_type(&m, srv->opts.max_message, &t) != 0) {
            job_free(j);
            reject(srv, route, rl, true, m.id);
            return;
        }
        j->any = t.kind == CF__NET_ANY_KIND;
        j->want = t;
    }
    if (m.kind == CF__NET_Q_PUT) {
        j->body = malloc(m.body_len > 0 ? m.body_len : 1);
        if (j->body == NULL) {
            job_free(j);
            return;
        }
        memcpy(j->body, m.body, m.body_len);
        j->body_len = m.body_len;
    }
    run_job(j, 0, &srv->dec, &srv->out);
    if (j->result == CF_EDECODE)
        atomic_fetch_add(&srv->rejected, 1);
    if (!would_wait(j) || j->wait_us == 0) {
        send_reply(srv, j);
        job_free(j);
        return;
    }
    /* Wait in a helper. */
    pthread_mutex_lock(&srv->mu);
    srv->helpers++;
    pthread_mutex_unlock(&srv->mu);
    pthread_attr_t attr;
    pthread_t t;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    rc = pthread_create(&t, &attr, helper_main, j);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        pthread_mutex_lock(&srv->mu);
        srv->helpers--;
        pthread_mutex_unlock(&srv->mu);
        send_reply(srv, j); /* the outcome of the attempt without waiting */
        job_free(j);
    }
}

static void send_replies(cf_net_server *srv)
{
    uint64_t v;
    ssize_t r = read(srv->wake_fd, &v, sizeof v);
    (void)r;
    pthread_mutex_lock(&srv->mu);
    job *list = srv->replies;
    srv->replies = NULL;
    pthread_mutex_unlock(&srv->mu);
    while (list != NULL) {
        job *next = list->next;
        send_reply(srv, list);
        job_free(list);
        list = next;
    }
}

static void *server_main(void *arg)
{
    cf_net_server *srv = arg;
    zmq_pollitem_t items[4] = {
        {srv->l.sock, 0, ZMQ_POLLIN, 0},
        {srv->l.zap, 0, ZMQ_POLLIN, 0},
        {srv->l.monitor, 0, ZMQ_POLLIN, 0},
        {NULL, srv->wake_fd, ZMQ_POLLIN, 0},
    };
    while (!atomic_load(&srv->stop)) {
        if (zmq_poll(items, 4, -1) < 0)
            continue; /* EINTR */
        if (items[1].revents & ZMQ_POLLIN)
            cf__net_zap_serve(&srv->l);
        if (items[2].revents & ZMQ_POLLIN)
            cf__net_monitor_drain(&srv->l);
        if (items[3].revents & ZMQ_POLLIN)
            send_replies(srv);
        if (items[0].revents & ZMQ_POLLIN) {
            for (int k = 0; k < 64; k++) { /* a batch, then the other sockets */
                cf__net_in in;
                if (cf__net_recv(srv->l.sock, &in) != 0)
                    break;
                handle(srv, &in);
                cf__net_in_close(&in);
            }
        }
    }
    return NULL;
}

/* ---- Public ------------------------------------------------------------------------- */

int cf_net_server_new(cf_net_server **out, const char *address, const cf_net_options *opts)
{
    static const char caller[] = "cf_net_server_new";
    if (out == NULL || address == NULL)
        return CF__FAIL(CF_EINVAL, "%s: NULL %s", caller, out == NULL ? "out" : "address");
    *out = NULL;
    cf_net_server *srv = calloc(1, sizeof *srv);
    if (srv == NULL)
        return CF__FAIL(-ENOMEM, "%s: no memory", caller);
    int rc = cf__net_opts_init(&srv->opts, opts, true, caller);
    if (rc != 0) {
        free(srv);
        return rc;
    }
    srv->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (srv->wake_fd < 0) {
        rc = CF__FAIL(-errno, "%s: eventfd: %s", caller, strerror(errno));
        goto fail_opts;
    }
    rc = cf__net_listen(&srv->l, address, &srv->opts, caller);
    if (rc != 0)
        goto fail_fd;
    pthread_mutex_init(&srv->mu, NULL);
    pthread_cond_init(&srv->helpers_done, NULL);
    CF__CORE->wire_decoder_init(&srv->dec);
    CF__CORE->frame_out_init(&srv->out, srv->opts.max_message);
    rc = pthread_create(&srv->thread, NULL, server_main, srv);
    if (rc != 0) {
        rc = CF__FAIL(-rc, "%s: pthread_create: %s", caller, strerror(rc));
        CF__CORE->frame_out_free(&srv->out);
        CF__CORE->wire_decoder_free(&srv->dec);
        pthread_cond_destroy(&srv->helpers_done);
        pthread_mutex_destroy(&srv->mu);
        cf__net_listener_close(&srv->l);
        goto fail_fd;
    }
    *out = srv;
    return 0;
fail_fd:
    close(srv->wake_fd);
fail_opts:
    cf__net_opts_wipe(&srv->opts);
    free(srv);
    return rc;
}

int cf_net_server_add_queue(cf_net_server *srv, const char *name, cf_queue *q)
{
    static const char caller[] = "cf_net_server_add_queue";
    if (srv == NULL || name == NULL || q == NULL)
        return CF__FAIL(CF_EINVAL, "%s: NULL %s", caller,
                        srv == NULL ? "server" : name == NULL ? "name" : "queue");
    size_t n = strlen(name);
    bool ok = n >= 1 && n <= CF_NET_NAME_MAX;
    for (size_t i = 0; ok && i < n; i++)
        ok = name[i] >= 0x21 && name[i] <= 0x7e;
    if (!ok)
        return CF__FAIL(CF_EINVAL, "%s: a name is 1 to %d printable ASCII characters", caller,
                        CF_NET_NAME_MAX);
    netq *e = calloc(1, sizeof *e);
    if (e == NULL)
        return CF__FAIL(-ENOMEM, "%s: no memory", caller);
    memcpy(e->name, name, n + 1);
    e->q = q;
    pthread_mutex_lock(&srv->mu);
    for (netq *o = srv->queues; o != NULL; o = o->next) {
        if (strcmp(o->name, name) == 0) {
            pthread_mutex_unlock(&srv->mu);
            free(e);
            return CF__FAIL(CF_ESTATE, "%s: a queue named '%s' is served already", caller, name);
        }
    }
    e->next = srv->queues;
    srv->queues = e;
    pthread_mutex_unlock(&srv->mu);
    return 0;
}

const char *cf_net_server_endpoint(const cf_net_server *srv)
{
    return srv != NULL ? srv->l.endpoint : "";
}

uint64_t cf_net_server_refused(const cf_net_server *srv)
{
    return srv != NULL ? atomic_load(&((cf_net_server *)srv)->l.refused) : 0;
}

uint64_t cf_net_server_rejected(const cf_net_server *srv)
{
    return srv != NULL ? atomic_load(&((cf_net_server *)srv)->rejected) : 0;
}

void cf_net_server_free(cf_net_server *srv)
{
    if (srv == NULL)
        return;
    atomic_store(&srv->stop, true);
    uint64_t one = 1;
    ssize_t w = write(srv->wake_fd, &one, sizeof one);
    (void)w;
    pthread_join(srv->thread, NULL);
    pthread_mutex_lock(&srv->mu);
    while (srv->helpers > 0)
        pthread_cond_wait(&srv->helpers_done, &srv->mu);
    pthread_mutex_unlock(&srv->mu);
    while (srv->replies != NULL) {
        job *next = srv->replies->next;
        job_free(srv->replies);
        srv->replies = next;
    }
    while (srv->queues != NULL) {
        netq *next = srv->queues->next;
        free(srv->queues);
        srv->queues = next;
    }
    CF__CORE->frame_out_free(&srv->out);
    CF__CORE->wire_decoder_free(&srv->dec);
    cf__net_listener_close(&srv->l);
    close(srv->wake_fd);
    pthread_cond_destroy(&srv->helpers_done);
    pthread_mutex_destroy(&srv->mu);
    cf__net_opts_wipe(&srv->opts);
    free(srv);
}
