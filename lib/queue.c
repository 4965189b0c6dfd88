/* queue.c: a FIFO queue of typed values in memory shared by processes
 * (cfutures/queue.h).
 *
 * Design notes
 * - Memory: one anonymous shared mapping (pshared.h) per queue, holding the
 *   struct cf_queue below and, right behind it, a ring of records
 *   (ring.h). The handle is the mapping itself, so a forked process uses the
 *   same pointer; cf_queue_free unmaps it in the calling process only. Each
 *   item is one wire VALUE message (wire.h), the payload of a frame,
 *   encoded before the lock is taken and copied into the ring under it.
 * - Locking: one robust process-shared mutex guards the ring, `closed` and
 *   `done`; three futex condition variables hang off it. It is held only to
 *   check, copy one item in or out and commit, so it is waited for without
 *   a deadline; the user's timeout bounds the waits on the conditions.
 *   qsize/empty/full/closed read without the lock (ring.h's snapshot).
 * - Deaths: every change of shared state is one store: a ring commit
 *   (ring.h), `closed`, `done`. A get decodes its item (and checks its
 *   type) before the commit that removes it, so a getter that dies or fails
 *   leaves the item queued; a putter that dies before its commit leaves
 *   only bytes in free space. The next locker (CF_EOWNERDEAD) finds a
 *   consistent queue and has nothing to repair.
 * - Waiters are woken before the commit that concerns them, never after:
 *   they then wait for the lock, so a holder that dies after its commit
 *   has woken them already, and the first of them to get the lock (with
 *   CF_EOWNERDEAD) sees the change. A holder that dies before its commit
 *   wakes them for nothing; each looks, finds the queue as it was, and
 *   waits again. So a locker told of a death has nothing to do.
 * - Wake-ups are broadcasts. A getter woken alone and then killed before it
 *   takes the lock would take the wake-up with it, leaving others asleep
 *   beside a queued item; with a broadcast every live waiter looks. The
 *   condition variable counts its waiters, so a broadcast nobody waits for
 *   makes no system call.
 * - Per-thread memory: the frame a put encodes into, and what a get decodes
 *   (the item's bytes, its strings, a dynamic value's object), live in a
 *   block owned by the calling thread (a pthread key, freed when the thread
 *   ends). That is why a string or cf_bytes got stays valid until the
 *   thread's next get. The memory a large item needed (over
 *   CF__QUEUE_KEEP) is released at that next get rather than kept.
 */
#include "config.h"

#include <cfutures/queue.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "alloc.h"
#include "clock.h"
#include "error_priv.h"
#include "frame.h"
#include "pshared.h"
#include "ring.h"
#include "wire.h"

struct cf_queue {
    pthread_mutex_t lock;
    cf__pcond not_empty;     /* an item was put, or the queue closed */
    cf__pcond not_full;      /* an item was got, or the queue closed */
    cf__pcond all_done;      /* no item is unfinished any more (joinable) */
    size_t map_size;         /* the mapping's size, for cf__pshared_free */
    uint64_t capacity;       /* most items held; 0: no limit */
    bool joinable;
    _Atomic uint32_t closed; /* written under the lock, read also without */
    uint64_t done;           /* cf_queue_task_done calls so far */
    /* the ring (cf__ring) follows */
};

static cf__ring *cf__queue_ring(cf_queue *q)
{
    return (cf__ring *)(q + 1);
}

static const cf__ring *cf__queue_cring(const cf_queue *q)
{
    return (const cf__ring *)(q + 1);
}

/* ---- Per-thread memory --------------------------------------------------------------- */

typedef struct cf__queue_tls {
    cf__frame_out out;   /* put: the item being encoded */
    cf__wire_decoder dec; /* get: the strings of the last item */
    void *item;          /* get: the last item's payload (byte buffers point here) */
    size_t item_cap;
    void *value;         /* get_value: the last item as a C object */
    size_t value_cap;
} cf__queue_tls;

static pthread_key_t cf__queue_tls_key;
static pthread_once_t cf__queue_tls_once = PTHREAD_ONCE_INIT;
static int cf__queue_tls_error;

static void cf__queue_tls_free(void *p)
{
    cf__queue_tls *t = p;
    cf__frame_out_free(&t->out);
    cf__wire_decoder_free(&t->dec);
    cf__free(t->item);
    cf__free(t->value);
    cf__free(t);
}

static void cf__queue_tls_init(void)
{
    cf__queue_tls_error = -pthread_key_create(&cf__queue_tls_key, cf__queue_tls_free);
}

/* The calling thread's block, made on first use. Returns 0 or a recorded
 * failure (-ENOMEM, -EAGAIN). */
static int cf__queue_tls_get(cf__queue_tls **out, const char *what)
{
    pthread_once(&cf__queue_tls_once, cf__queue_tls_init);
    if (cf__queue_tls_error != 0)
        return cf__fail(cf__queue_tls_error, "%s: no thread-specific key: %s", what,
                        cf_strerror(cf__queue_tls_error));
    cf__queue_tls *t = pthread_getspecific(cf__queue_tls_key);
    if (t == NULL) {
        t = cf__calloc(1, sizeof *t);
        if (t == NULL)
            return cf__fail(-ENOMEM, "%s: out of memory", what);
        cf__frame_out_init(&t->out, 0);
        cf__wire_decoder_init(&t->dec);
        int rc = pthread_setspecific(cf__queue_tls_key, t);
        if (rc != 0) {
            cf__queue_tls_free(t);
            return cf__fail(-rc, "%s: cannot keep per-thread memory: %s", what, cf_strerror(-rc));
        }
    }
    *out = t;
    return 0;
}

/* A get's buffers larger than this are released at the thread's next get. */
#define CF__QUEUE_KEEP ((size_t)1 << 20)

/* Before a get: drop the buffers a large previous item made grow. What they
 * held is no longer valid anyway. */
static void cf__queue_tls_trim(cf__queue_tls *t)
{
    if (t->item_cap > CF__QUEUE_KEEP) {
        cf__free(t->item);
        t->item = NULL;
        t->item_cap = 0;
        cf__wire_decoder_free(&t->dec);
    }
    if (t->value_cap > CF__QUEUE_KEEP) {
        cf__free(t->value);
        t->value = NULL;
        t->value_cap = 0;
    }
}

/* Make *buf hold at least n bytes (contents not kept). Returns 0 or -ENOMEM. */
static int cf__queue_reserve(void **buf, size_t *cap, size_t n)
{
    if (n <= *cap)
        return 0;
    void *p = cf__alloc(n);
    if (p == NULL)
        return -ENOMEM;
    cf__free(*buf);
    *buf = p;
    *cap = n;
    return 0;
}

/* ---- Locking ------------------------------------------------------------------------- */

/* Take the lock. Without a deadline, and never held twice by a thread, it
 * returns 0, or CF_EOWNERDEAD when its holder died: the queue is consistent
 * either way, and the dead holder's waiters are awake (see the notes). */
static void cf__queue_lock(cf_queue *q)
{
    cf__pmutex_lock(&q->lock, CF__NO_DEADLINE);
}

static void cf__queue_unlock(cf_queue *q)
{
    cf__pmutex_unlock(&q->lock);
}

/* Wait on c (lock held) until woken or the deadline; the lock is held again
 * on return (CF_EOWNERDEAD: as for cf__queue_lock). Returns true when the
 * deadline has passed. */
static bool cf__queue_wait(cf_queue *q, cf__pcond *c, int64_t deadline)
{
    return cf__pcond_wait(c, &q->lock, deadline) == CF_ETIMEDOUT;
}

static bool cf__queue_past(int64_t deadline)
{
    return deadline != CF__NO_DEADLINE && cf__now_ns() >= deadline;
}

static bool cf__queue_is_closed(const cf_queue *q)
{
    return atomic_load_explicit(&q->closed, memory_order_relaxed) != 0;
}

/* ---- Lifetime ------------------------------------------------------------------------ */

int cf_queue_new(cf_queue **out, const cf_queue_options *opts)
{
    if (out == NULL)
        return cf__fail(CF_EINVAL, "cf_queue_new: NULL out");
    *out = NULL;
    cf_queue_options o = opts != NULL ? *opts : (cf_queue_options){0};
    if (o.ring_bytes == 0)
        o.ring_bytes = CF_QUEUE_DEFAULT_RING_BYTES;
    if (o.ring_bytes < CF_QUEUE_MIN_RING_BYTES)
        return cf__fail(CF_EINVAL, "cf_queue_new: a ring of %zu bytes is below the minimum of %zu",
                        o.ring_bytes, CF_QUEUE_MIN_RING_BYTES);
    size_t ring = cf__ring_footprint(o.ring_bytes);
    if (ring == 0 || ring > SIZE_MAX - sizeof(cf_queue))
        return cf__fail(CF_EINVAL, "cf_queue_new: a ring of %zu bytes is too large", o.ring_bytes);
    size_t size = sizeof(cf_queue) + ring;
    void *mem;
    int rc = cf__pshared_new(&mem, size, "cf_queue_new");
    if (rc != 0)
        return rc;
    cf_queue *q = mem;
    rc = cf__pmutex_init(&q->lock, false);
    if (rc != 0) {
        cf__pshared_free(q, size);
        return cf__fail(rc, "cf_queue_new: cannot make the queue's lock: %s", cf_strerror(rc));
    }
    cf__pcond_init(&q->not_empty);
    cf__pcond_init(&q->not_full);
    cf__pcond_init(&q->all_done);
    q->map_size = size;
    q->capacity = o.capacity;
    q->joinable = o.joinable;
    cf__ring_init(cf__queue_ring(q), o.ring_bytes);
    *out = q;
    return 0;
}

void cf_queue_free(cf_queue *q)
{
    if (q != NULL)
        cf__pshared_free(q, q->map_size);
}

/* ---- Putting ------------------------------------------------------------------------- */

/* Put the item encoded as a frame in t->out. */
static int cf__queue_push(cf_queue *q, cf__queue_tls *t, int64_t deadline, const char *what)
{
    size_t n;
    const uint8_t *frame = cf__frame_out_data(&t->out, &n);
    const uint8_t *payload = frame + CF__FRAME_HEADER;
    size_t len = n - CF__FRAME_HEADER;
    cf__ring *ring = cf__queue_ring(q);
    int rc;
    cf__queue_lock(q);
    bool timed_out = cf__queue_past(deadline);
    for (;;) {
        if (cf__queue_is_closed(q)) {
            rc = cf__fail(CF_ECLOSED, "%s: the queue is closed", what);
            break;
        }
        if ((q->capacity == 0 || cf__ring_count(ring) < q->capacity) &&
            cf__ring_fits(ring, len)) {
            cf__pcond_broadcast(&q->not_empty); /* before the commit: see the notes */
            cf__ring_push(ring, payload, len);
            rc = 0;
            break;
        }
        if (timed_out) {
            rc = cf__fail(CF_EFULL, "%s: the queue is full", what);
            break;
        }
        timed_out = cf__queue_wait(q, &q->not_full, deadline);
    }
    cf__queue_unlock(q);
    cf__frame_out_consume(&t->out, n);
    return rc;
}

static int cf__queue_put_as(cf_queue *q, cf_type type, const void *src, double timeout,
                            const char *what)
{
    if (q == NULL)
        return cf__fail(CF_EINVAL, "%s: NULL queue", what);
    int64_t deadline;
    if (cf__deadline(timeout, &deadline) != 0)
        return cf__fail(CF_EINVAL, "%s: the timeout is NaN", what);
    cf__queue_tls *t;
    int rc = cf__queue_tls_get(&t, what);
    if (rc != 0)
        return rc;
    /* The largest frame payload that makes a record the empty ring holds. */
    size_t max = cf__ring_max_record(cf__queue_ring(q));
    t->out.limit = max > CF__FRAME_MAX_LIMIT ? CF__FRAME_MAX_LIMIT : (uint32_t)max;
    rc = cf__wire_encode_value(&t->out, type, src);
    if (rc == CF_ETOOBIG)
        return cf__fail(rc, "%s: the %s does not fit in the queue's ring of %" PRIu64 " bytes",
                        what, cf_kind_name(type.kind), cf__queue_ring(q)->size);
    if (rc != 0)
        return rc;
    return cf__queue_push(q, t, deadline, what);
}

int cf__queue_put(cf_queue *q, cf_type type, const void *src, double timeout)
{
    return cf__queue_put_as(q, type, src, timeout, "cf_queue_put");
}

int cf_queue_put_value(cf_queue *q, const cf_value *v, double timeout)
{
    if (v == NULL)
        return cf__fail(CF_EINVAL, "cf_queue_put_value: NULL value");
    if (v->type.kind >= CF_KIND_COUNT_)
        return cf__fail(CF_EINVAL, "cf_queue_put_value: unknown kind %" PRIu32, v->type.kind);
    if (v->type.kind == CF_KIND_STRUCT)
        return cf__queue_put_as(q, v->type, v->as.data, timeout, "cf_queue_put_value");
    /* Every other kind fits in a cf_value's union. */
    union {
        bool b;
        int64_t i;
        uint64_t u;
        double f;
        const char *str;
        cf_bytes bytes;
        void *ptr;
    } obj;
    int rc = cf_value_store(v, v->type, &obj);
    if (rc != 0)
        return rc;
    return cf__queue_put_as(q, v->type, &obj, timeout, "cf_queue_put_value");
}

/* ---- Getting ------------------------------------------------------------------------- */

/* What a get does with the front item. */
typedef enum cf__queue_take {
    CF__QUEUE_TAKE_TYPED, /* decode it into a C object of the asked type */
    CF__QUEUE_TAKE_VALUE, /* decode it whatever its type, as a cf_value */
    CF__QUEUE_TAKE_DROP,  /* drop it */
} cf__queue_take;

/* Decode the item in t->item (len bytes) as `take` says. Nothing here
 * changes the queue: on failure the item stays. */
static int cf__queue_decode(cf__queue_tls *t, size_t len, cf__queue_take take, cf_type type,
                            void *out, const char *what)
{
    if (take == CF__QUEUE_TAKE_DROP)
        return 0;
    cf__wire_msg msg;
    cf_type sent;
    int rc = cf__wire_open(&msg, t->item, len);
    if (rc == 0)
        rc = cf__wire_value_type(&msg, &sent);
    if (rc != 0)
        return rc;
    if (take == CF__QUEUE_TAKE_TYPED) {
        if (!cf_type_equal(sent, type))
            return cf__fail(CF_ETYPE,
                            "%s: the front item is a %s of %" PRIu32 " bytes, not the %s of "
                            "%" PRIu32 " bytes asked for; it stays in the queue",
                            what, cf_kind_name(sent.kind), sent.size, cf_kind_name(type.kind),
                            type.size);
        return cf__wire_decode_value(&t->dec, &msg, type, out);
    }
    if (cf__queue_reserve(&t->value, &t->value_cap, sent.size) != 0)
        return cf__fail(-ENOMEM, "%s: out of memory for a %" PRIu32 "-byte item", what, sent.size);
    void *obj = sent.size > 0 ? t->value : NULL;
    rc = cf__wire_decode_value(&t->dec, &msg, sent, obj);
    if (rc == 0)
        rc = cf_value_load(out, sent, obj);
    return rc;
}

static int cf__queue_take_front(cf_queue *q, cf__queue_take take, cf_type type, void *out,
                                double timeout, const char *what)
{
    if (q == NULL)
        return cf__fail(CF_EINVAL, "%s: NULL queue", what);
    int64_t deadline;
    if (cf__deadline(timeout, &deadline) != 0)
        return cf__fail(CF_EINVAL, "%s: the timeout is NaN", what);
    cf__queue_tls *t;
    int rc = cf__queue_tls_get(&t, what);
    if (rc != 0)
        return rc;
    cf__queue_tls_trim(t);
    cf__ring *ring = cf__queue_ring(q);
    cf__queue_lock(q);
    bool timed_out = cf__queue_past(deadline);
    for (;;) {
        if (cf__ring_count(ring) > 0) {
            size_t len = cf__ring_front_len(ring);
            if (cf__queue_reserve(&t->item, &t->item_cap, len) != 0) {
                rc = cf__fail(-ENOMEM, "%s: out of memory for a %zu-byte item", what, len);
                break;
            }
            cf__ring_front(ring, t->item);
            rc = cf__queue_decode(t, len, take, type, out, what);
            if (rc == 0) {
                cf__pcond_broadcast(&q->not_full);
                cf__ring_pop(ring);
            }
            break;
        }
        if (cf__queue_is_closed(q)) {
            rc = cf__fail(CF_ECLOSED, "%s: the queue is closed and empty", what);
            break;
        }
        if (timed_out) {
            rc = cf__fail(CF_EEMPTY, "%s: the queue is empty", what);
            break;
        }
        timed_out = cf__queue_wait(q, &q->not_empty, deadline);
    }
    cf__queue_unlock(q);
    return rc;
}

int cf__queue_get(cf_queue *q, cf_type type, void *out, double timeout)
{
    return cf__queue_take_front(q, out == NULL ? CF__QUEUE_TAKE_DROP : CF__QUEUE_TAKE_TYPED, type,
                                out, timeout, "cf_queue_get");
}

int cf_queue_get_value(cf_queue *q, cf_value *out, double timeout)
{
    if (out == NULL)
        return cf__fail(CF_EINVAL, "cf_queue_get_value: NULL out");
    return cf__queue_take_front(q, CF__QUEUE_TAKE_VALUE, cf_value_void().type, out, timeout,
                                "cf_queue_get_value");
}

/* ---- State --------------------------------------------------------------------------- */

size_t cf_queue_qsize(const cf_queue *q)
{
    uint64_t appended, removed;
    cf__ring_counts(cf__queue_cring(q), &appended, &removed);
    return (size_t)(appended - removed);
}

bool cf_queue_empty(const cf_queue *q)
{
    return cf_queue_qsize(q) == 0;
}

bool cf_queue_full(const cf_queue *q)
{
    return q->capacity > 0 && cf_queue_qsize(q) >= q->capacity;
}

int cf_queue_close(cf_queue *q)
{
    if (q == NULL)
        return cf__fail(CF_EINVAL, "cf_queue_close: NULL queue");
    cf__queue_lock(q);
    cf__pcond_broadcast(&q->not_empty);
    cf__pcond_broadcast(&q->not_full);
    atomic_store_explicit(&q->closed, 1, memory_order_relaxed);
    cf__queue_unlock(q);
    return 0;
}

bool cf_queue_closed(const cf_queue *q)
{
    return cf__queue_is_closed(q);
}

/* ---- JoinableQueue ------------------------------------------------------------------- */

static int cf__queue_check_joinable(const cf_queue *q, const char *what)
{
    if (q == NULL)
        return cf__fail(CF_EINVAL, "%s: NULL queue", what);
    if (!q->joinable)
        return cf__fail(CF_EINVAL, "%s: the queue was not made joinable", what);
    return 0;
}

int cf_queue_task_done(cf_queue *q)
{
    int rc = cf__queue_check_joinable(q, "cf_queue_task_done");
    if (rc != 0)
        return rc;
    cf__queue_lock(q);
    uint64_t put = cf__ring_appended(cf__queue_ring(q));
    if (q->done >= put) {
        rc = cf__fail(CF_ESTATE, "cf_queue_task_done: called more times than items were put "
                                 "(%" PRIu64 ")", put);
    } else {
        if (q->done + 1 == put)
            cf__pcond_broadcast(&q->all_done);
        q->done++;
    }
    cf__queue_unlock(q);
    return rc;
}

int cf_queue_join(cf_queue *q, double timeout)
{
    int rc = cf__queue_check_joinable(q, "cf_queue_join");
    if (rc != 0)
        return rc;
    int64_t deadline;
    if (cf__deadline(timeout, &deadline) != 0)
        return cf__fail(CF_EINVAL, "cf_queue_join: the timeout is NaN");
    cf__queue_lock(q);
    bool timed_out = cf__queue_past(deadline);
    for (;;) {
        uint64_t unfinished = cf__ring_appended(cf__queue_ring(q)) - q->done;
        if (unfinished == 0)
            break;
        if (timed_out) {
            rc = cf__fail(CF_ETIMEDOUT, "cf_queue_join: %" PRIu64 " items unfinished", unfinished);
            break;
        }
        timed_out = cf__queue_wait(q, &q->all_done, deadline);
    }
    cf__queue_unlock(q);
    return rc;
}
