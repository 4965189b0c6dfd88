/* future.c: the future's state machine, its outcome, waiting on one future,
 * and done-callbacks.
 *
 * Design notes
 * - State: one atomic word (future_priv.h). PENDING -> RUNNING -> COMPLETING
 *   -> FINISHED, or PENDING/RUNNING -> CANCELLED. Exactly one thread wins the
 *   CAS into COMPLETING (the claim); it alone writes the outcome (result or
 *   error), then publishes it with a release CAS into FINISHED. Nothing,
 *   not even a task's result, is written into the future before the claim is
 *   won, so a cancellation or another completion that won first is never
 *   overwritten. Readers acquire-load the word, so a done future's outcome is
 *   read without any lock.
 * - Who completes: futures the library makes (cf_submit's, a map's) carry
 *   CF__ST_OWNED; only the library completes them, and the public
 *   cf_future_set_running / set_value / set_error refuse them (CF_EOWNED).
 *   Their owners may still cancel them. cf_future_new's futures are the
 *   caller's to complete.
 * - The user's data pointer is an atomic of its own, independent of the
 *   state: set and read at any time from any thread.
 * - Listeners (single waiters here, multi-waiters in wait.c / as_completed.c,
 *   done-callbacks) hang off f->listeners under the future's stripe lock
 *   (stripe.h). Registering sets CF__ST_LISTENERS in the word under that lock;
 *   the publisher, seeing the flag, takes the lock and detaches the list. So
 *   completion costs no lock at all when nobody listens.
 * - Waiters are fired under the stripe lock (so unlisten + return makes their
 *   stack frames safe to reuse); callbacks run after it is dropped, holding a
 *   reference to the future each. A single waiter sleeps on a doorbell
 *   (interrupt_priv.h), so cf_interrupt_waits() can wake it.
 * - Callbacks fired while this thread is already running callbacks are queued
 *   on a thread-local FIFO and run by the outermost runner, so a chain of
 *   futures completing each other from callbacks never deepens the stack.
 * - Lifetime: refs counts the user's references and the executor's; the last
 *   release frees the allocation, its result copies and its error.
 */
#include "config.h"

#include "future_priv.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <sched.h>
#include <stdlib.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "checked_size.h"
#include "clock.h"
#include "error_priv.h"
#include "futex.h"
#include "interrupt_priv.h"
#include "stripe.h"

cf__stripe cf__stripes[CF__STRIPES] = {
#define CF__S1 {PTHREAD_MUTEX_INITIALIZER, {0}}
#define CF__S4 CF__S1, CF__S1, CF__S1, CF__S1
#define CF__S16 CF__S4, CF__S4, CF__S4, CF__S4
#define CF__S64 CF__S16, CF__S16, CF__S16, CF__S16
    CF__S64, CF__S64, CF__S64, CF__S64,
};

/* The error a failed future carries, with the storage behind its strings. */
struct cf__error_box {
    cf_error pub;
    char *message; /* heap */
    char origin[48];
    bool is_static;
};

static struct cf__error_box cf__oom_error = {
    .pub = {.code = -ENOMEM, .message = "out of memory while recording the error"},
    .is_static = true,
};

/* A done-callback waiting on its future. */
typedef struct cf__callback {
    cf__listener l;
    cf_done_fn fn;
    void *arg;
    cf_future *f;              /* set when fired: the future (retained) */
    struct cf__callback *queued; /* thread-local run queue link */
} cf__callback;

/* Never called: notify() recognises callbacks by this function's address, so
 * it must stay distinct from every other function (no identical-code folding). */
#if defined(__GNUC__) && !defined(__clang__)
__attribute__((noipa))
#endif
static void cf__callback_fire(cf__listener *self, cf_future *f)
{
    (void)self;
    (void)f;
}

/* User futures keep a small result slot inline; larger results go to the heap. */
#define CF__USER_SLOT 16

static size_t cf__align_up(size_t n, size_t a)
{
    return (n + a - 1) & ~(a - 1);
}

static void cf__future_init(cf_future *f, size_t alloc_size)
{
    memset(f, 0, sizeof *f);
    atomic_init(&f->state, CF__ST_PENDING);
    atomic_init(&f->refs, 1);
    atomic_init(&f->data, NULL);
    f->alloc_size = alloc_size <= UINT32_MAX ? (uint32_t)alloc_size : 0;
}

int cf_future_new(cf_future **out)
{
    if (out == NULL)
        return cf__fail(CF_EINVAL, "cf_future_new: NULL out");
    size_t size = sizeof(cf_future) + CF__USER_SLOT;
    cf_future *f = cf__alloc(size);
    if (f == NULL)
        return cf__fail(-ENOMEM, "cf_future_new: out of memory");
    cf__future_init(f, size);
    f->result = (char *)f + sizeof(cf_future);
    f->result_type = (cf_type){CF_KIND_VOID, 0};
    *out = f;
    return 0;
}

int cf__future_new_owned(cf_future **out)
{
    int rc = cf_future_new(out);
    if (rc == 0)
        atomic_store_explicit(&(*out)->state, CF__ST_PENDING | CF__ST_OWNED, memory_order_relaxed);
    return rc;
}

/* ---- Futures for tasks: header + argument block + result slot + copies ----- */

static size_t cf__args_offset(const cf_task *task)
{
    size_t align = task->args_align ? task->args_align : 1;
    if (align < _Alignof(max_align_t) && align < 8)
        align = 8;
    return cf__align_up(sizeof(cf_future), align);
}

static size_t cf__slot_offset(const cf_task *task)
{
    return cf__align_up(cf__args_offset(task) + task->args_size, _Alignof(max_align_t));
}

static size_t cf__slot_size(const cf_task *task)
{
    return cf__align_up(task->result.size ? task->result.size : 1, 8);
}

/* The executor's scratch sits after the result slot, before the copies. */
static size_t cf__extra_offset(const cf_task *task)
{
    return cf__slot_offset(task) + cf__slot_size(task);
}

void *cf__future_extra(cf_future *f)
{
    if (f->task == NULL || f->extra_size == 0)
        return NULL;
    return (char *)f + cf__extra_offset(f->task);
}

int cf__future_new_for_task(cf_future **out, const cf_task *task, const void *args,
                            size_t extra)
{
    /* Strings and byte buffers are copied behind the slot (and the scratch). */
    size_t strings = 0;
    for (uint32_t i = 0; i < task->nparams; i++) {
        const char *p = (const char *)args + task->offsets[i];
        if (task->params[i].kind == CF_KIND_STR) {
            const char *s;
            memcpy(&s, p, sizeof s);
            if (s != NULL && !cf__size_add(strings, strlen(s) + 1, &strings))
                return cf__fail(CF_EINVAL, "arguments of task '%s' are too large to copy",
                                task->name);
        } else if (task->params[i].kind == CF_KIND_BYTES) {
            cf_bytes b;
            memcpy(&b, p, sizeof b);
            if (b.data == NULL && b.len > 0)
                return cf__fail(CF_EINVAL, "argument %u of task '%s': %zu bytes at NULL", i + 1,
                                task->name, b.len);
            if (!cf__size_add(strings, b.len, &strings))
                return cf__fail(CF_EINVAL, "argument %u of task '%s': %zu bytes are too many "
                                "to copy", i + 1, task->name, b.len);
        }
    }
    size_t extra_size = cf__align_up(extra, 8);
    size_t copies = cf__extra_offset(task) + extra_size;
    size_t size;
    if (!cf__size_add(copies, strings, &size))
        return cf__fail(CF_EINVAL, "arguments of task '%s' are too large to copy", task->name);
    cf_future *f = cf__alloc(size);
    if (f == NULL)
        return -ENOMEM;
    cf__future_init(f, size);
    atomic_store_explicit(&f->state, CF__ST_PENDING | CF__ST_OWNED, memory_order_relaxed);
    f->task = task;
    f->extra_size = (uint16_t)extra_size;
    if (extra_size > 0)
        memset((char *)f + cf__extra_offset(task), 0, extra_size);
    f->result_type = task->result;
    f->result = (char *)f + cf__slot_offset(task);
    char *block = (char *)f + cf__args_offset(task);
    if (task->args_size > 0)
        memcpy(block, args, task->args_size);
    char *copy = (char *)f + copies;
    for (uint32_t i = 0; i < task->nparams; i++) {
        char *p = block + task->offsets[i];
        if (task->params[i].kind == CF_KIND_STR) {
            const char *s;
            memcpy(&s, p, sizeof s);
            if (s == NULL)
                continue;
            size_t n = strlen(s) + 1;
            memcpy(copy, s, n);
            memcpy(p, &copy, sizeof copy);
            copy += n;
        } else if (task->params[i].kind == CF_KIND_BYTES) {
            cf_bytes b;
            memcpy(&b, p, sizeof b);
            if (b.len > 0)
                memcpy(copy, b.data, b.len);
            b.data = b.len > 0 ? copy : NULL;
            memcpy(p, &b, sizeof b);
            copy += b.len;
        }
    }
    *out = f;
    return 0;
}

void *cf__future_args(cf_future *f)
{
    return (char *)f + cf__args_offset(f->task);
}

void *cf__future_result_slot(cf_future *f)
{
    return f->result;
}

/* ---- Lifetime ------------------------------------------------------------------ */

cf_future *cf_future_retain(cf_future *f)
{
    atomic_fetch_add_explicit(&f->refs, 1, memory_order_relaxed);
    return f;
}

static void cf__error_free(struct cf__error_box *e)
{
    if (e == NULL || e->is_static)
        return;
    cf__free(e->message);
    cf__free(e);
}

static void cf__result_free(cf_future *f)
{
    if (f->flags & CF__FF_RESULT_OWNS) {
        if (f->result_type.kind == CF_KIND_STR) {
            char *s;
            memcpy(&s, f->result, sizeof s);
            cf__free(s);
        } else if (f->result_type.kind == CF_KIND_BYTES) {
            cf_bytes b;
            memcpy(&b, f->result, sizeof b);
            cf__free((void *)b.data);
        }
    }
    if (f->flags & CF__FF_RESULT_HEAP)
        cf__free(f->result);
}

void cf_future_release(cf_future *f)
{
    if (f == NULL)
        return;
    /* acq_rel rather than release + fence: the same ordering, and visible to
     * TSan, which does not model standalone fences. */
    if (atomic_fetch_sub_explicit(&f->refs, 1, memory_order_acq_rel) != 1)
        return;
    /* Callbacks of a future dropped before completion never run. */
    for (cf__listener *l = f->listeners, *next; l != NULL; l = next) {
        next = l->next;
        if (l->fire == cf__callback_fire)
            cf__free(l);
    }
    cf__result_free(f);
    cf__error_free(f->error);
    if (f->alloc_size)
        cf__free_sized(f, f->alloc_size);
    else
        cf__free(f);
}

/* ---- Queries -------------------------------------------------------------------- */

static cf_future_state cf__public_state(uint32_t st)
{
    switch (st) {
    case CF__ST_PENDING:
        return CF_FUTURE_PENDING;
    case CF__ST_RUNNING:
    case CF__ST_COMPLETING:
        return CF_FUTURE_RUNNING;
    case CF__ST_FINISHED:
        return CF_FUTURE_FINISHED;
    default:
        return CF_FUTURE_CANCELLED;
    }
}

cf_future_state cf_future_state_of(const cf_future *f)
{
    return cf__public_state(cf__future_st(f));
}

bool cf_future_done(const cf_future *f)
{
    return cf__st_done(cf__future_st(f));
}

bool cf_future_running(const cf_future *f)
{
    uint32_t st = cf__future_st(f);
    return st == CF__ST_RUNNING || st == CF__ST_COMPLETING;
}

bool cf_future_cancelled(const cf_future *f)
{
    return cf__future_st(f) == CF__ST_CANCELLED;
}

bool cf_future_failed(const cf_future *f)
{
    return cf__future_st(f) == CF__ST_FINISHED && f->error != NULL;
}

const cf_error *cf_future_error(const cf_future *f)
{
    if (cf__future_st(f) != CF__ST_FINISHED || f->error == NULL)
        return NULL;
    return &f->error->pub;
}

cf_type cf_future_result_type(const cf_future *f)
{
    if (f->task != NULL)
        return f->task->result;
    if (cf__future_st(f) == CF__ST_FINISHED)
        return f->result_type;
    return (cf_type){CF_KIND_VOID, 0};
}

const char *cf_future_task_name(const cf_future *f)
{
    return f->task != NULL ? f->task->name : NULL;
}

const char *cf_future_state_name(cf_future_state state)
{
    switch (state) {
    case CF_FUTURE_PENDING:
        return "pending";
    case CF_FUTURE_RUNNING:
        return "running";
    case CF_FUTURE_FINISHED:
        return "finished";
    case CF_FUTURE_CANCELLED:
        return "cancelled";
    }
    return "unknown";
}

void cf_future_set_data(cf_future *f, void *data)
{
    atomic_store_explicit(&f->data, data, memory_order_release);
}

void *cf_future_data(const cf_future *f)
{
    return atomic_load_explicit(&((cf_future *)f)->data, memory_order_acquire);
}

/* ---- Describing a future ------------------------------------------------------------ */

/* An snprintf-like writer that keeps counting past the end of the buffer. */
typedef struct cf__out {
    char *buf;
    size_t size, len;
} cf__out;

static void cf__put(cf__out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void cf__put(cf__out *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    bool room = o->len < o->size;
    int n = vsnprintf(room ? o->buf + o->len : NULL, room ? o->size - o->len : 0, fmt, ap);
    va_end(ap);
    if (n > 0)
        o->len += (size_t)n;
}

/* Text longer than this is cut to CF__DESCRIBE_KEEP bytes and "...". */
#define CF__DESCRIBE_MAX 48
#define CF__DESCRIBE_KEEP 45

/* s in double quotes, escaped so that the description stays one line. */
static void cf__put_quoted(cf__out *o, const char *s)
{
    size_t n = strlen(s);
    size_t keep = n > CF__DESCRIBE_MAX ? CF__DESCRIBE_KEEP : n;
    cf__put(o, "\"");
    for (size_t i = 0; i < keep; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            cf__put(o, "\\%c", c);
        else if (c == '\n')
            cf__put(o, "\\n");
        else if (c == '\t')
            cf__put(o, "\\t");
        else if (c < 0x20 || c == 0x7f)
            cf__put(o, "\\x%02x", c);
        else
            cf__put(o, "%c", c);
    }
    cf__put(o, keep < n ? "...\"" : "\"");
}

/* The shortest %g form that reads back as the same value. */
static void cf__put_float(cf__out *o, double v, bool single)
{
    char text[40];
    for (int precision = 1; precision <= 17; precision++) {
        snprintf(text, sizeof text, "%.*g", precision, v);
        double back = strtod(text, NULL);
        if (single ? (float)back == (float)v : back == v)
            break;
    }
    cf__put(o, "%s", text);
}

static void cf__put_result(cf__out *o, const cf_future *f)
{
    cf_value v;
    if (f->result_type.kind == CF_KIND_VOID ||
        cf_value_load(&v, f->result_type, f->result) != 0)
        return;
    cf__put(o, " result=");
    switch (v.type.kind) {
    case CF_KIND_BOOL:
        cf__put(o, "%s", v.as.b ? "true" : "false");
        break;
    case CF_KIND_I8:
    case CF_KIND_I16:
    case CF_KIND_I32:
    case CF_KIND_I64:
        cf__put(o, "%" PRId64, v.as.i);
        break;
    case CF_KIND_U8:
    case CF_KIND_U16:
    case CF_KIND_U32:
    case CF_KIND_U64:
        cf__put(o, "%" PRIu64, v.as.u);
        break;
    case CF_KIND_F32:
    case CF_KIND_F64:
        cf__put_float(o, v.as.f, v.type.kind == CF_KIND_F32);
        break;
    case CF_KIND_STR:
        if (v.as.str == NULL)
            cf__put(o, "NULL");
        else
            cf__put_quoted(o, v.as.str);
        break;
    case CF_KIND_BYTES:
        cf__put(o, "<bytes %zu>", v.as.bytes.len);
        break;
    case CF_KIND_STRUCT:
        cf__put(o, "<struct %u>", v.type.size);
        break;
    default: /* CF_KIND_PTR */
        cf__put(o, "%p", v.as.ptr);
        break;
    }
}

int cf_future_describe(const cf_future *f, char *buf, size_t size)
{
    if (f == NULL)
        return cf__fail(CF_EINVAL, "cf_future_describe: NULL future");
    if (buf == NULL && size > 0)
        return cf__fail(CF_EINVAL, "cf_future_describe: NULL buf with size %zu", size);
    cf__out o = {buf, size, 0};
    if (size > 0)
        buf[0] = '\0';
    cf__put(&o, "<future %p", (const void *)f);
    if (f->task != NULL)
        cf__put(&o, " task '%s'", f->task->name);
    uint32_t st = cf__future_st(f); /* acquire: a done future's outcome is readable */
    cf__put(&o, " state=%s", cf_future_state_name(cf__public_state(st)));
    if (st == CF__ST_FINISHED) {
        if (f->error != NULL) {
            cf__put(&o, " error=%s ", cf_err_name(f->error->pub.code));
            cf__put_quoted(&o, f->error->pub.message);
        } else {
            cf__put_result(&o, f);
        }
    }
    void *data = cf_future_data(f);
    if (data != NULL)
        cf__put(&o, " data=%p", data);
    cf__put(&o, ">");
    return o.len <= INT_MAX ? (int)o.len : INT_MAX;
}

/* ---- Listeners ---------------------------------------------------------------------- */

bool cf__future_listen(cf_future *f, cf__listener *l)
{
    pthread_mutex_t *mu = cf__stripe_of(f);
    pthread_mutex_lock(mu);
    uint32_t old = atomic_load_explicit(&f->state, memory_order_acquire);
    while (!cf__st_done(old & CF__ST_MASK)) {
        if (atomic_compare_exchange_weak_explicit(&f->state, &old, old | CF__ST_LISTENERS,
                                                  memory_order_acq_rel, memory_order_acquire)) {
            l->next = f->listeners;
            f->listeners = l;
            pthread_mutex_unlock(mu);
            return true;
        }
    }
    pthread_mutex_unlock(mu);
    return false;
}

void cf__future_unlisten(cf_future *f, cf__listener *l)
{
    pthread_mutex_t *mu = cf__stripe_of(f);
    pthread_mutex_lock(mu);
    for (cf__listener **p = &f->listeners; *p != NULL; p = &(*p)->next) {
        if (*p == l) {
            *p = l->next;
            break;
        }
    }
    pthread_mutex_unlock(mu);
}

/* Callbacks queued for this thread's outermost callback runner. */
static _Thread_local struct {
    bool running;
    cf__callback *head, *tail;
} cf__cb_queue;

/* This thread's flag for cf__future_track_callbacks, or NULL. */
static _Thread_local _Atomic bool *cf__cb_flag;

void cf__future_track_callbacks(_Atomic bool *flag)
{
    cf__cb_flag = flag;
}

static void cf__cb_flag_set(bool value)
{
    if (cf__cb_flag != NULL && !cf__cb_queue.running)
        atomic_store_explicit(cf__cb_flag, value, memory_order_relaxed);
}

static void cf__run_callbacks(cf__callback *list)
{
    if (list == NULL)
        return;
    /* Append to this thread's queue; only the outermost runner drains it. */
    cf__callback *last = list;
    while (last->queued != NULL)
        last = last->queued;
    if (cf__cb_queue.tail != NULL)
        cf__cb_queue.tail->queued = list;
    else
        cf__cb_queue.head = list;
    cf__cb_queue.tail = last;
    if (cf__cb_queue.running)
        return;
    cf__cb_queue.running = true;
    while (cf__cb_queue.head != NULL) {
        cf__callback *cb = cf__cb_queue.head;
        cf__cb_queue.head = cb->queued;
        if (cf__cb_queue.head == NULL)
            cf__cb_queue.tail = NULL;
        cb->fn(cb->f, cb->arg);
        cf_future_release(cb->f);
        cf__free(cb);
    }
    cf__cb_queue.running = false;
    cf__cb_flag_set(false);
}

/* Tell every listener that f is done: fire waiters under the stripe lock,
 * then run the callbacks in the order they were added. */
static void cf__notify(cf_future *f)
{
    pthread_mutex_t *mu = cf__stripe_of(f);
    pthread_mutex_lock(mu);
    cf__listener *l = f->listeners;
    f->listeners = NULL;
    /* The list is newest first: reverse it into registration order. */
    cf__listener *ordered = NULL;
    while (l != NULL) {
        cf__listener *next = l->next;
        l->next = ordered;
        ordered = l;
        l = next;
    }
    bool any_callback = false;
    for (l = ordered; l != NULL && !any_callback; l = l->next)
        any_callback = l->fire == cf__callback_fire;
    cf__cb_flag_set(any_callback); /* before any waiter wakes */
    cf__callback *cbs = NULL, **tail = &cbs;
    for (l = ordered; l != NULL;) {
        cf__listener *next = l->next;
        if (l->fire == cf__callback_fire) {
            cf__callback *cb = (cf__callback *)l;
            cb->f = cf_future_retain(f);
            cb->queued = NULL;
            *tail = cb;
            tail = &cb->queued;
        } else {
            l->fire(l, f);
        }
        l = next;
    }
    pthread_mutex_unlock(mu);
    cf__run_callbacks(cbs);
}

/* ---- Transitions ---------------------------------------------------------------------- */

/* Win the right to write f's outcome: PENDING or RUNNING -> COMPLETING. */
static int cf__claim(cf_future *f)
{
    uint32_t old = atomic_load_explicit(&f->state, memory_order_relaxed);
    for (;;) {
        uint32_t st = old & CF__ST_MASK;
        if (st != CF__ST_PENDING && st != CF__ST_RUNNING)
            return CF_ESTATE;
        if (atomic_compare_exchange_weak_explicit(&f->state, &old,
                                                  (old & ~(uint32_t)CF__ST_MASK) |
                                                      CF__ST_COMPLETING,
                                                  memory_order_acquire, memory_order_relaxed))
            return 0;
    }
}

/* Publish the outcome written while COMPLETING (or a cancellation). */
static void cf__publish(cf_future *f, uint32_t final_state)
{
    uint32_t old = atomic_load_explicit(&f->state, memory_order_relaxed);
    do {
        if (old & CF__ST_LISTENERS)
            cf__cb_flag_set(true); /* callbacks may follow: say so before it shows done */
    } while (!atomic_compare_exchange_weak_explicit(
        &f->state, &old, (old & ~(uint32_t)CF__ST_MASK) | final_state, memory_order_acq_rel,
        memory_order_relaxed));
    if (old & CF__ST_LISTENERS)
        cf__notify(f);
}

static bool cf__owned(const cf_future *f)
{
    return atomic_load_explicit(&((cf_future *)f)->state, memory_order_relaxed) & CF__ST_OWNED;
}

static int cf__refuse_owned(const cf_future *f, const char *caller)
{
    return cf__fail(CF_EOWNED, "%s: the future of %s%s%s is completed by the library, not by "
                    "the caller", caller, f->task != NULL ? "task '" : "a map",
                    f->task != NULL ? f->task->name : "", f->task != NULL ? "'" : "");
}

int cf_future_set_running(cf_future *f)
{
    if (f == NULL)
        return cf__fail(CF_EINVAL, "cf_future_set_running: NULL future");
    if (cf__owned(f))
        return cf__refuse_owned(f, "cf_future_set_running");
    return cf__future_start(f);
}

int cf__future_start(cf_future *f)
{
    uint32_t old = atomic_load_explicit(&f->state, memory_order_relaxed);
    for (;;) {
        if ((old & CF__ST_MASK) == CF__ST_PENDING &&
            atomic_compare_exchange_weak_explicit(&f->state, &old,
                                                  (old & ~(uint32_t)CF__ST_MASK) |
                                                      CF__ST_RUNNING,
                                                  memory_order_acq_rel, memory_order_acquire))
            return 0;
        uint32_t st = old & CF__ST_MASK;
        if (st == CF__ST_CANCELLED)
            return CF_ECANCELLED;
        if (st != CF__ST_PENDING)
            return cf__fail(CF_ESTATE, "cf_future_set_running: the future is not pending");
    }
}

/* Move f to CANCELLED from PENDING (and from RUNNING when `running` is
 * allowed), then tell its listeners. True when f is now cancelled. */
static bool cf__cancel(cf_future *f, bool running)
{
    uint32_t old = atomic_load_explicit(&f->state, memory_order_relaxed);
    for (;;) {
        uint32_t st = old & CF__ST_MASK;
        if (st == CF__ST_CANCELLED)
            return true;
        if (st != CF__ST_PENDING && !(running && st == CF__ST_RUNNING))
            return false;
        if (atomic_compare_exchange_weak_explicit(&f->state, &old,
                                                  (old & ~(uint32_t)CF__ST_MASK) |
                                                      CF__ST_CANCELLED,
                                                  memory_order_acq_rel, memory_order_relaxed))
            break;
    }
    if (old & CF__ST_LISTENERS)
        cf__notify(f);
    return true;
}

bool cf_future_cancel(cf_future *f)
{
    return cf__cancel(f, false);
}

bool cf__future_force_cancel(cf_future *f)
{
    return cf__cancel(f, true);
}

void cf__future_set_canceller(cf_future *f, cf__canceller *c)
{
    pthread_mutex_t *mu = cf__stripe_of(f);
    pthread_mutex_lock(mu);
    f->exec_data = c;
    pthread_mutex_unlock(mu);
}

void cf__future_clear_canceller(cf_future *f)
{
    if (f->exec_data == NULL)
        return; /* only the executor that set it writes it */
    cf__future_set_canceller(f, NULL);
}

bool cf_future_cancel_running(cf_future *f)
{
    if (f == NULL)
        return false;
    if (cf_future_cancel(f))
        return true;
    pthread_mutex_t *mu = cf__stripe_of(f);
    pthread_mutex_lock(mu);
    cf__canceller *c = cf__future_st(f) == CF__ST_RUNNING ? f->exec_data : NULL;
    if (c != NULL)
        atomic_fetch_add_explicit(&c->busy, 1, memory_order_acquire);
    pthread_mutex_unlock(mu);
    if (c == NULL)
        return cf_future_cancelled(f);
    bool cancelled = c->cancel_running(c, f);
    atomic_fetch_sub_explicit(&c->busy, 1, memory_order_release);
    return cancelled;
}

/* Copy a string or byte-buffer result out of the task's memory, in place in
 * the slot. Returns 0 or -ENOMEM. */
static int cf__own_result(cf_future *f)
{
    if (f->result_type.kind == CF_KIND_STR) {
        const char *s;
        memcpy(&s, f->result, sizeof s);
        if (s == NULL)
            return 0;
        char *copy = cf__strdup(s);
        if (copy == NULL)
            return -ENOMEM;
        memcpy(f->result, &copy, sizeof copy);
        f->flags |= CF__FF_RESULT_OWNS;
    } else if (f->result_type.kind == CF_KIND_BYTES) {
        cf_bytes b;
        memcpy(&b, f->result, sizeof b);
        void *copy = NULL;
        if (b.len > 0) {
            if ((copy = cf__alloc(b.len)) == NULL)
                return -ENOMEM;
            memcpy(copy, b.data, b.len);
        }
        b.data = copy;
        memcpy(f->result, &b, sizeof b);
        f->flags |= CF__FF_RESULT_OWNS;
    }
    return 0;
}

static struct cf__error_box *cf__error_new(cf_future *f, int code, int detail, const char *origin,
                                           const char *fmt, va_list ap)
{
    struct cf__error_box *e = cf__calloc(1, sizeof *e);
    if (e == NULL)
        return &cf__oom_error;
    e->message = cf__vasprintf(fmt, ap);
    e->pub.code = code;
    e->pub.detail = detail;
    e->pub.message = e->message != NULL ? e->message : cf_strerror(code);
    e->pub.task = f->task != NULL ? f->task->name : NULL;
    if (origin != NULL) {
        snprintf(e->origin, sizeof e->origin, "%s", origin);
        e->pub.origin = e->origin;
    }
    return e;
}

static void cf__vfail_claimed(cf_future *f, int code, int detail, const char *origin,
                              const char *fmt, va_list ap)
{
    f->error = cf__error_new(f, code, detail, origin, fmt, ap);
    cf__publish(f, CF__ST_FINISHED);
}

void cf__future_fail_claimed(cf_future *f, int code, int detail, const char *origin,
                             const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cf__vfail_claimed(f, code, detail, origin, fmt, ap);
    va_end(ap);
}

int cf__future_fail(cf_future *f, int code, int detail, const char *origin, const char *fmt, ...)
{
    if (cf__claim(f) != 0)
        return CF_ESTATE;
    va_list ap;
    va_start(ap, fmt);
    cf__vfail_claimed(f, code, detail, origin, fmt, ap);
    va_end(ap);
    return 0;
}

int cf__future_claim(cf_future *f)
{
    return cf__claim(f);
}

int cf__future_finish_from_slot(cf_future *f)
{
    if (cf__claim(f) != 0)
        return CF_ESTATE;
    cf__future_finish_claimed(f);
    return 0;
}

void cf__future_finish_claimed(cf_future *f)
{
    if (cf__own_result(f) != 0) {
        cf__future_fail_claimed(f, -ENOMEM, 0, NULL,
                                "out of memory copying the result of task '%s'",
                                f->task != NULL ? f->task->name : "?");
        return;
    }
    cf__publish(f, CF__ST_FINISHED);
}

int cf__future_finish_with(cf_future *f, const void *value)
{
    if (cf__claim(f) != 0)
        return CF_ESTATE;
    if (value != NULL && f->result_type.size > 0)
        memcpy(f->result, value, f->result_type.size);
    cf__future_finish_claimed(f);
    return 0;
}

int cf_future_set_value(cf_future *f, const cf_value *v)
{
    if (f == NULL || v == NULL)
        return cf__fail(CF_EINVAL, "cf_future_set_value: NULL argument");
    if (cf__owned(f))
        return cf__refuse_owned(f, "cf_future_set_value");
    if (v->type.kind >= CF_KIND_COUNT_)
        return cf__fail(CF_EINVAL, "cf_future_set_value: unknown kind %u", v->type.kind);
    if ((v->type.kind == CF_KIND_STRUCT && v->type.size > 0 && v->as.data == NULL) ||
        (v->type.kind == CF_KIND_BYTES && v->as.bytes.len > 0 && v->as.bytes.data == NULL))
        return cf__fail(CF_EINVAL, "cf_future_set_value: a %s value without data",
                        cf_kind_name(v->type.kind));
    if (cf_future_done(f))
        return cf__fail(CF_ESTATE, "cf_future_set_value: the future is already done");
    /* Everything that can fail comes before the claim, so a lost race or a
     * lack of memory leaves f exactly as it was. */
    size_t size = v->type.size;
    void *heap = NULL, *copy = NULL;
    if (size > CF__USER_SLOT && (heap = cf__alloc(size)) == NULL)
        goto out_of_memory;
    if (v->type.kind == CF_KIND_STR && v->as.str != NULL &&
        (copy = cf__strdup(v->as.str)) == NULL)
        goto out_of_memory;
    if (v->type.kind == CF_KIND_BYTES && v->as.bytes.len > 0) {
        if ((copy = cf__alloc(v->as.bytes.len)) == NULL)
            goto out_of_memory;
        memcpy(copy, v->as.bytes.data, v->as.bytes.len);
    }
    if (cf__claim(f) != 0) {
        cf__free(heap);
        cf__free(copy);
        return cf__fail(CF_ESTATE, "cf_future_set_value: the future is already done");
    }
    if (heap != NULL) {
        f->result = heap;
        f->flags |= CF__FF_RESULT_HEAP;
    }
    f->result_type = v->type;
    cf_value stored = *v;
    if (v->type.kind == CF_KIND_STR)
        stored.as.str = copy;
    else if (v->type.kind == CF_KIND_BYTES)
        stored.as.bytes.data = copy;
    cf_value_store(&stored, v->type, f->result); /* types match: cannot fail */
    if (copy != NULL)
        f->flags |= CF__FF_RESULT_OWNS;
    cf__publish(f, CF__ST_FINISHED);
    return 0;

out_of_memory:
    cf__free(heap);
    return cf__fail(-ENOMEM, "cf_future_set_value: out of memory (the future is unchanged)");
}

int cf_future_set_error(cf_future *f, int code, const char *fmt, ...)
{
    if (f == NULL || fmt == NULL)
        return cf__fail(CF_EINVAL, "cf_future_set_error: NULL argument");
    if (cf__owned(f))
        return cf__refuse_owned(f, "cf_future_set_error");
    if (code >= 0)
        return cf__fail(CF_EINVAL, "cf_future_set_error: the code must be negative, got %d",
                        code);
    if (cf__claim(f) != 0)
        return cf__fail(CF_ESTATE, "cf_future_set_error: the future is already done");
    va_list ap;
    va_start(ap, fmt);
    cf__vfail_claimed(f, code, 0, NULL, fmt, ap);
    va_end(ap);
    return 0;
}

/* ---- Callbacks -------------------------------------------------------------------- */

int cf_future_add_done_callback(cf_future *f, cf_done_fn fn, void *arg)
{
    if (f == NULL || fn == NULL)
        return cf__fail(CF_EINVAL, "cf_future_add_done_callback: NULL argument");
    if (!cf_future_done(f)) {
        cf__callback *cb = cf__calloc(1, sizeof *cb);
        if (cb == NULL)
            return cf__fail(-ENOMEM, "cf_future_add_done_callback: out of memory");
        cb->l.fire = cf__callback_fire;
        cb->fn = fn;
        cb->arg = arg;
        if (cf__future_listen(f, &cb->l))
            return 0;
        cf__free(cb);
    }
    fn(f, arg);
    return 0;
}

/* ---- Waiting on one future -------------------------------------------------------- */

typedef struct cf__single_waiter {
    cf__listener l;
    _Atomic uint32_t fired;
    cf__bell bell;
} cf__single_waiter;

/* Rings before it sets `fired`: the waiter may return (and its frame go) as
 * soon as it sees `fired`, and the wake-up after that only names the
 * address. */
static void cf__single_fire(cf__listener *self, cf_future *f)
{
    (void)f;
    cf__single_waiter *w = (cf__single_waiter *)self;
    atomic_fetch_add_explicit(&w->bell.seq, 1, memory_order_release);
    atomic_store_explicit(&w->fired, 1, memory_order_release);
    cf__futex_wake(&w->bell.seq, 1);
}

/* How long a waiter spins before it sleeps. */
#define CF__WAIT_SPIN_NS 20000

/* Wait for f to be done until the deadline. Returns 0, CF_ETIMEDOUT, or
 * CF_EINTERRUPTED (only when `interruptible`, and f is not done). */
static int cf__wait_until(cf_future *f, int64_t deadline, bool interruptible)
{
    /* A short spin catches work that is about to finish without sleeping
     * (a wake-up costs more than most tiny tasks). It yields the CPU between
     * rounds, so the thread or process it waits for can run here. */
    int64_t now = cf__now_ns();
    if (deadline != CF__NO_DEADLINE && now >= deadline)
        return cf_future_done(f) ? 0 : CF_ETIMEDOUT;
    int64_t spin_until = now + CF__WAIT_SPIN_NS;
    if (spin_until > deadline)
        spin_until = deadline;
    do {
        for (int i = 0; i < 64; i++) {
            if (cf_future_done(f))
                return 0;
            cf__cpu_relax();
        }
        if (interruptible && cf__interrupted())
            return CF_EINTERRUPTED;
        sched_yield();
    } while (cf__now_ns() < spin_until);
    cf__single_waiter w = {.l = {.fire = cf__single_fire}};
    atomic_init(&w.fired, 0);
    cf__bell_init(&w.bell);
    if (!cf__future_listen(f, &w.l))
        return 0;
    for (;;) {
        uint32_t seen = cf__bell_value(&w.bell);
        if (atomic_load_explicit(&w.fired, memory_order_acquire))
            return 0;
        int rc = cf__bell_sleep(&w.bell, seen, deadline, interruptible);
        if (rc != 0 && !atomic_load_explicit(&w.fired, memory_order_acquire)) {
            cf__future_unlisten(f, &w.l);
            if (cf_future_done(f))
                return 0;
            return rc == ETIMEDOUT ? CF_ETIMEDOUT : rc;
        }
    }
}

void cf__future_wait_quietly(cf_future *f)
{
    if (!cf_future_done(f))
        cf__wait_until(f, CF__NO_DEADLINE, false);
}

int cf_future_wait(cf_future *f, double timeout)
{
    int64_t deadline;
    if (f == NULL)
        return cf__fail(CF_EINVAL, "cf_future_wait: NULL future");
    if (cf__deadline(timeout, &deadline) != 0)
        return cf__fail(CF_EINVAL, "cf_future_wait: NaN timeout");
    if (cf_future_done(f))
        return 0;
    int rc = cf__wait_until(f, deadline, true);
    if (rc == CF_EINTERRUPTED)
        return cf__fail(rc, "the wait for the future was interrupted (cf_interrupt_waits)");
    if (rc != 0)
        return cf__fail(CF_ETIMEDOUT, "the future was not done within %g s", timeout);
    return 0;
}

/* Wait, then map the outcome to a return code (0 for a result). */
static int cf__outcome(cf_future *f, double timeout)
{
    int rc = cf_future_wait(f, timeout);
    if (rc != 0)
        return rc;
    if (cf__future_st(f) == CF__ST_CANCELLED)
        return cf__fail(CF_ECANCELLED, "the future was cancelled");
    if (f->error != NULL)
        return cf__fail(f->error->pub.code, "%s", f->error->pub.message);
    return 0;
}

int cf__future_result(cf_future *f, cf_type type, void *out, double timeout)
{
    int rc = cf__outcome(f, timeout);
    if (rc != 0 || type.kind == CF_KIND_VOID)
        return rc;
    if (!cf_type_equal(type, f->result_type))
        return cf__fail(CF_ETYPE, "the result is %s (%u bytes), asked for %s (%u bytes)",
                        cf_kind_name(f->result_type.kind), f->result_type.size,
                        cf_kind_name(type.kind), type.size);
    memcpy(out, f->result, type.size);
    return 0;
}

int cf_future_value(cf_future *f, cf_value *out, double timeout)
{
    if (out == NULL)
        return cf__fail(CF_EINVAL, "cf_future_value: NULL out");
    int rc = cf__outcome(f, timeout);
    if (rc != 0)
        return rc;
    return cf_value_load(out, f->result_type, f->result);
}
