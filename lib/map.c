/* map.c: map, starmap and generated maps: cutting the elements into chunks,
 * submitting them to an executor, and gathering what they did.
 *
 * Design notes
 * - A job is one map. Its elements are cut into chunks of chunk_size; at
 *   most `nslots` chunks are in flight, each in a slot of the job's arena:
 *   the slot holds the chunk's statuses and whatever must be copied (inputs
 *   and results not already in shared memory, a generator's tuples). So the
 *   map's memory is bounded by the window, not by n.
 * - On a process pool the arena is a shared-memory file, and a chunk is
 *   described to the worker by references into files: the arena, or the
 *   cf_shared_alloc block an array already lives in (used in place). The
 *   stop word at the arena's start is seen by every chunk, in every process.
 * - Chunks are futures of cf__map_chunk_task. Their done-callbacks only
 *   queue the slot (under `mu`); the queue is worked off by one thread at a
 *   time, the driver (cf__map_drive): the caller's thread for the blocking
 *   forms, or whichever callback finds no driver at work for the _async
 *   ones. The driver settles finished chunks, hands them to the user's
 *   callbacks and submits new ones, with `mu` released around anything that
 *   may call back into the job (submits, cancels, user callbacks), so the
 *   user's callbacks never run concurrently and never under the lock.
 * - Statuses: on a process pool each element's status starts as
 *   CF__MAP_NOT_RUN and is written by the runner after the element returns,
 *   so when a worker dies in a chunk, the first element still NOT_RUN is the
 *   one it died in. With keep_going, the elements after it go out again as a
 *   chunk of their own. A chunk that succeeded while nothing stopped the map
 *   ran every element: its statuses (written by another core or process)
 *   are not read back at all, which is most of the parent's cost otherwise.
 * - Lifetime: the job is reference-counted: one reference for the map's
 *   owner (the blocking caller, or the driver that finishes an _async map)
 *   and one per chunk callback registered, dropped after the callback has
 *   left the lock; the last one frees it.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <math.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "checked_size.h"
#include "clock.h"
#include "error_priv.h"
#include "executor_priv.h"
#include "future_priv.h"
#include "interrupt_priv.h"
#include "map_priv.h"
#include "shared_memory_priv.h"
#include "task_priv.h"

/* A chunk's working memory (copies and statuses) stays under this, unless
 * the user asks for a larger chunk. */
#define CF__MAP_CHUNK_BYTES (1u << 20)
/* Chunk size of a generated map when none is given. */
#define CF__MAP_GENERATED_CHUNK 4096
/* Chunks in flight per worker when none is given. */
#define CF__MAP_SLOTS_PER_WORKER 4
/* How long past a map's deadline an element may run on before its worker
 * is killed. */
#define CF__MAP_GRACE_S 0.05
/* Alignment of each area in the arena. */
#define CF__MAP_ALIGN 64

typedef struct cf__map_slot {
    cf__map_chunk chunk;
    size_t begin, end;        /* the elements it holds: [begin, end) */
    size_t failed, not_run;   /* of them, once settled */
    bool busy;                /* holds elements (in flight or awaiting delivery) */
    bool clean;               /* every chunk so far ran every element, all returned */
    bool finished;            /* all settled, awaiting delivery */
    struct cf__map_slot *next_done;
    size_t stage_in[CF_TASK_MAX_PARAMS]; /* arena offsets of copies, per input array */
    size_t stage_out;         /* arena offset of the results, or SIZE_MAX */
    size_t status;            /* arena offset of the statuses */
} cf__map_slot;

typedef struct cf__map_job {
    pthread_mutex_t mu;
    cf__bell bell;            /* blocking forms: rung when a chunk finished */
    _Atomic uint32_t refs;
    cf_executor *ex;
    const cf_task *task;
    cf_map_options opts;
    bool sync;                /* the caller drives and waits */
    bool remote;              /* the executor does not share memory */
    bool inline_args;         /* remote, and arguments travel in the messages */
    size_t n;                 /* elements (SIZE_MAX while a source has not ended) */
    size_t chunk_size;

    /* Inputs: `narrays` arrays; parameter k is at byte param_off[k] of each
     * element of array param_arr[k]. */
    size_t narrays;
    const char *arr[CF_TASK_MAX_PARAMS];
    size_t arr_size[CF_TASK_MAX_PARAMS];
    int arr_fd[CF_TASK_MAX_PARAMS];        /* >= 0: the array is used in place there */
    size_t arr_off[CF_TASK_MAX_PARAMS];    /* ...at this offset */
    bool arr_staged[CF_TASK_MAX_PARAMS];   /* copied into the slots */
    uint32_t param_arr[CF_TASK_MAX_PARAMS];
    size_t param_off[CF_TASK_MAX_PARAMS];
    char *out;                /* results, or NULL (dropped, or in the slots) */
    size_t out_size;
    int out_fd;               /* >= 0: out is used in place there */
    size_t out_off;
    cf_map_source_fn source;
    void *source_arg;

    /* The arena: the stop word, then the slots' areas. */
    char *arena;
    size_t arena_size;
    int arena_fd;             /* remote: its shared-memory file */
    _Atomic uint32_t *stop;
    cf__map_slot *slots;
    size_t nslots;
    cf_future **cancel;       /* nslots entries: futures cf__map_stop collects */

    /* Under mu. */
    size_t next;              /* first element not yet given to a slot */
    size_t in_flight;         /* chunks submitted and not yet settled */
    size_t next_deliver;      /* ordered_chunks: begin of the next slot to hand over */
    cf__map_slot *done_head, *done_tail;
    bool driving;
    bool stopping;            /* no new element starts */
    int stop_code;            /* why: a failure, CF_ETIMEDOUT, a submit's error */
    char *stop_message;
    cf_map_report report;
    int first_code, first_detail;
    char *first_message;
    int64_t deadline;
    cf_future *result;        /* the _async forms' future, until the map ends */
    bool cancelled;           /* that future was cancelled: stop */
} cf__map_job;

/* The job whose driver runs on this thread (its callbacks may cancel it). */
static _Thread_local cf__map_job *cf__map_driven;

/* A generated map's source reports a failure here (cf_map_source_fail):
 * the source runs in the caller's thread, one call at a time. */
typedef struct cf__map_source_ctx {
    bool failed;
    int code;
    char *message; /* alloc.h, or NULL */
} cf__map_source_ctx;
static _Thread_local cf__map_source_ctx *cf__map_source_now;

int cf_map_source_failv(int code, const char *fmt, va_list ap)
{
    cf__map_source_ctx *ctx = cf__map_source_now;
    if (ctx == NULL)
        return cf__fail(CF_ESTATE, "cf_map_source_fail: called outside a map's source");
    char *message = fmt != NULL ? cf__vasprintf(fmt, ap) : NULL;
    cf__free(ctx->message);
    ctx->message = message;
    ctx->failed = true;
    ctx->code = code < 0 ? code : CF_ETASK;
    return fmt != NULL && message == NULL ? -ENOMEM : 0;
}

int cf_map_source_fail(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = cf_map_source_failv(code, fmt, ap);
    va_end(ap);
    return rc;
}

/* ---- Job lifetime ------------------------------------------------------------ */

/* Release the arena (the chunks' working memory, a shared-memory file on a
 * process pool) once the map has ended: nothing reads it any more, and the
 * caller should not find the file still open after the map returns. */
static void cf__map_release_arena(cf__map_job *job)
{
    if (job->remote)
        cf__shm_destroy(job->arena_fd, job->arena, job->arena_size);
    else
        cf__free(job->arena);
    job->arena = NULL;
    job->arena_fd = -1;
}

static void cf__map_job_unref(cf__map_job *job)
{
    if (atomic_fetch_sub_explicit(&job->refs, 1, memory_order_acq_rel) != 1)
        return;
    cf__map_release_arena(job);
    cf__free(job->slots);
    cf__free(job->cancel);
    cf__free(job->stop_message);
    cf__free(job->first_message);
    pthread_mutex_destroy(&job->mu);
    cf__free(job);
}

static char *cf__map_slot_area(cf__map_job *job, size_t offset)
{
    return job->arena + offset;
}

/* Whether results go through the slots: a process pool's results not in a
 * shared block, or a generated map's (they live only in the slots). */
static bool cf__map_out_staged(const cf__map_job *job)
{
    return job->out_fd < 0 && (job->remote || job->source != NULL) && job->out_size > 0 &&
           (job->out != NULL || job->source != NULL);
}

/* Whether the results are strings or byte buffers, which the runner
 * replaces by malloc'ed copies (task.h): then out starts zeroed, and a
 * generated map's copies are freed after on_chunk. */
static bool cf__map_owns_results(const cf__map_job *job)
{
    return job->task->result.kind == CF_KIND_STR || job->task->result.kind == CF_KIND_BYTES;
}

/* Free the copies in a generated map's delivered results, and zero them. */
static void cf__map_free_results(cf__map_job *job, char *results, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        char *at = results + i * job->out_size;
        void *p;
        memcpy(&p, at, sizeof p); /* a string, or cf_bytes.data (its first member) */
        free(p);
    }
    memset(results, 0, count * job->out_size);
}

/* Bytes of slot memory one element needs. */
static size_t cf__map_bytes_per_element(const cf__map_job *job)
{
    size_t bytes = sizeof(int32_t);
    for (size_t a = 0; a < job->narrays; a++)
        if (job->arr_staged[a])
            bytes += job->arr_size[a];
    if (cf__map_out_staged(job))
        bytes += job->out_size;
    return bytes;
}

/* Lay out and allocate the arena: the stop word, then each slot's areas.
 * Every size is checked (checked_size.h): a huge chunk_size or window is
 * refused with CF_ETOOBIG before anything is allocated for it. */
static int cf__map_make_arena(cf__map_job *job)
{
    size_t cs = job->chunk_size;
    size_t slot_bytes = 0;
    size_t areas[CF_TASK_MAX_PARAMS + 2];
    size_t nareas = 0;
    bool ok = true;
    for (size_t a = 0; a < job->narrays; a++) {
        size_t bytes = 0;
        if (job->arr_staged[a])
            ok = ok && cf__size_mul(cs, job->arr_size[a], &bytes) &&
                 cf__size_align_up(bytes, CF__MAP_ALIGN, &bytes);
        areas[nareas++] = bytes;
    }
    bool out_staged = cf__map_out_staged(job);
    size_t out_bytes = 0;
    if (out_staged)
        ok = ok && cf__size_mul(cs, job->out_size, &out_bytes);
    ok = ok && cf__size_align_up(out_bytes, CF__MAP_ALIGN, &areas[nareas++]);
    size_t status_bytes = 0;
    ok = ok && cf__size_mul(cs, sizeof(int32_t), &status_bytes) &&
         cf__size_align_up(status_bytes, CF__MAP_ALIGN, &areas[nareas++]);
    for (size_t i = 0; ok && i < nareas; i++)
        ok = cf__size_add(slot_bytes, areas[i], &slot_bytes);
    size_t total = 0;
    ok = ok && cf__size_mul_add(slot_bytes, job->nslots, CF__MAP_ALIGN, &total);
    if (!ok)
        return cf__fail(CF_ETOOBIG, "map of task '%s': chunks of %zu elements times %zu in "
                        "flight need more bytes than a size can hold",
                        job->task->name, cs, job->nslots);

    job->slots = cf__calloc(job->nslots, sizeof *job->slots);
    job->cancel = cf__calloc(job->nslots, sizeof *job->cancel);
    if (job->slots == NULL || job->cancel == NULL)
        return cf__fail(-ENOMEM, "map: no memory for %zu chunks in flight", job->nslots);
    job->arena_size = total;
    job->arena_fd = -1;
    if (job->remote) {
        void *base;
        int rc = cf__shm_create(total, "cfutures-map", &job->arena_fd, &base);
        if (rc != 0)
            return rc;
        job->arena = base;
    } else {
        job->arena = cf__alloc(total);
        if (job->arena == NULL)
            return cf__fail(-ENOMEM, "map: no memory for %zu bytes of chunk memory", total);
        memset(job->arena, 0, CF__MAP_ALIGN);
    }
    job->stop = (_Atomic uint32_t *)(void *)job->arena;
    atomic_init(job->stop, 0);
    size_t at = CF__MAP_ALIGN;
    for (size_t s = 0; s < job->nslots; s++) {
        cf__map_slot *slot = &job->slots[s];
        size_t i = 0;
        for (size_t a = 0; a < job->narrays; a++, i++) {
            slot->stage_in[a] = at;
            at += areas[i];
        }
        slot->stage_out = out_staged ? at : SIZE_MAX;
        at += areas[i++];
        slot->status = at;
        at += areas[i++];
    }
    return 0;
}

/* ---- Building a chunk ------------------------------------------------------------ */

static void cf__map_set_ref(cf__map_chunk *c, cf__wire_ref *ref, int fd, size_t offset,
                            size_t stride)
{
    uint32_t i = 0;
    while (i < c->wire.nfds && c->fds[i] != fd)
        i++;
    if (i == c->wire.nfds)
        c->fds[c->wire.nfds++] = fd;
    *ref = (cf__wire_ref){i, offset, stride};
}

/* Fill the slot's chunk for elements [begin, begin + count) of the slot's
 * range: where each argument, result and status is, for a thread (run)
 * and for a worker process (wire). */
static void cf__map_build_chunk(cf__map_job *job, cf__map_slot *slot, size_t begin, size_t count)
{
    cf__map_chunk *c = &slot->chunk;
    const cf_task *t = job->task;
    size_t rel = begin - slot->begin; /* first element's place in the slot */
    memset(c, 0, offsetof(cf__map_chunk, job));
    c->job = job;
    c->slot = slot;
    c->begin = begin;
    c->count = count;
    int64_t deadline = job->deadline;

    cf__map_run *run = &c->run;
    run->task = t;
    run->count = count;
    run->keep_going = job->opts.keep_going;
    run->stop = job->stop;
    run->deadline = deadline;
    run->status = (int32_t *)(void *)cf__map_slot_area(job, slot->status) + rel;
    for (uint32_t k = 0; k < t->nparams; k++) {
        uint32_t a = job->param_arr[k];
        const char *base = job->arr_staged[a]
                               ? cf__map_slot_area(job, slot->stage_in[a]) + rel * job->arr_size[a]
                               : job->arr[a] + begin * job->arr_size[a];
        run->in[k] = base + job->param_off[k];
        run->in_stride[k] = job->arr_size[a];
    }
    if (slot->stage_out != SIZE_MAX)
        run->out = cf__map_slot_area(job, slot->stage_out) + rel * job->out_size;
    else if (job->out != NULL && job->out_size > 0)
        run->out = job->out + begin * job->out_size;
    run->out_stride = job->out_size;
    if (!job->remote)
        return;

    cf__wire_chunk *w = &c->wire;
    w->task = t;
    w->first = begin;
    w->count = count;
    w->flags = (job->opts.keep_going ? CF__WIRE_CHUNK_KEEP_GOING : 0) |
               (job->inline_args ? CF__WIRE_CHUNK_INLINE : 0);
    w->deadline = deadline != CF__NO_DEADLINE ? deadline : 0;
    for (uint32_t k = 0; k < t->nparams; k++) {
        uint32_t a = job->param_arr[k];
        if (job->inline_args) {
            w->src[k] = run->in[k];
            w->src_stride[k] = run->in_stride[k];
        } else if (job->arr_staged[a]) {
            cf__map_set_ref(c, &w->in[k], job->arena_fd,
                            slot->stage_in[a] + rel * job->arr_size[a] + job->param_off[k],
                            job->arr_size[a]);
        } else {
            cf__map_set_ref(c, &w->in[k], job->arr_fd[a],
                            job->arr_off[a] + begin * job->arr_size[a] + job->param_off[k],
                            job->arr_size[a]);
        }
    }
    w->out = (cf__wire_ref){CF__WIRE_NO_REF, 0, 0};
    if (slot->stage_out != SIZE_MAX)
        cf__map_set_ref(c, &w->out, job->arena_fd, slot->stage_out + rel * job->out_size,
                        job->out_size);
    else if (job->out_fd >= 0)
        cf__map_set_ref(c, &w->out, job->out_fd, job->out_off + begin * job->out_size,
                        job->out_size);
    cf__map_set_ref(c, &w->status, job->arena_fd, slot->status + rel * sizeof(int32_t),
                    sizeof(int32_t));
    cf__map_set_ref(c, &w->stop, job->arena_fd, 0, 0);
}

/* Copy the slot's inputs in (arrays not in shared memory, on a process
 * pool), or have the source produce them. Returns the elements the slot
 * holds (0: a source that has ended, or failed: then *failed is its code,
 * with cf_last_error() set). */
static size_t cf__map_fill_slot(cf__map_job *job, cf__map_slot *slot, size_t begin, size_t count,
                                int *failed)
{
    if (job->source != NULL) {
        char *tuples = cf__map_slot_area(job, slot->stage_in[0]);
        cf__map_source_ctx ctx = {false, 0, NULL}, *outer = cf__map_source_now;
        cf__map_source_now = &ctx;
        size_t got = job->source(tuples, count, begin, job->source_arg);
        cf__map_source_now = outer;
        if (ctx.failed) {
            /* The input ends here, in failure: the map stops with it. */
            cf__fail(ctx.code, "its source failed at element %zu: %s", begin, ctx.message != NULL ? ctx.message
                                                                 : cf_strerror(ctx.code));
            cf__free(ctx.message);
            *failed = ctx.code;
            return 0;
        }
        return got < count ? got : count;
    }
    for (size_t a = 0; a < job->narrays; a++)
        if (job->arr_staged[a])
            memcpy(cf__map_slot_area(job, slot->stage_in[a]), job->arr[a] + begin * job->arr_size[a],
                   count * job->arr_size[a]);
    return count;
}

/* ---- Submitting --------------------------------------------------------------- */

static void cf__map_chunk_done(cf_future *f, void *arg);

/* Submit the slot's chunk (built). Returns 0, or the submit's error (then
 * the chunk is not in flight). mu not held. */
static int cf__map_submit_chunk(cf__map_job *job, cf__map_slot *slot)
{
    cf__map_chunk *c = &slot->chunk;
    /* A worker process may die before its runner writes any status: only
     * statuses set here beforehand tell which elements never ran. (A thread
     * cannot die alone; its runner marks what it did not run.) */
    if (job->remote)
        memset(c->run.status, 0x7f, c->count * sizeof *c->run.status);
    /* A chunk is not one task: the pool's default time limit for a task does
     * not apply to it. With a deadline, a worker still in an element past it
     * (and a grace period, so that the map's own timer normally acts first)
     * is stopped. */
    cf_submit_options limit = {.timeout = CF_FOREVER}, *opts = job->remote ? &limit : NULL;
    if (job->remote && job->deadline != CF__NO_DEADLINE) {
        double left = (double)(job->deadline - cf__now_ns()) / 1e9;
        limit.timeout = (left > 0 ? left : 0) + CF__MAP_GRACE_S;
    }
    cf_future *f;
    void *arg = c;
    int rc = cf__executor_submit_internal(&f, job->ex, opts, &cf__map_chunk_task, &arg);
    if (rc != 0)
        return rc;
    c->future = f;
    atomic_fetch_add_explicit(&job->refs, 1, memory_order_relaxed);
    rc = cf_future_add_done_callback(f, cf__map_chunk_done, c);
    if (rc != 0) {
        /* No memory for the callback: wait for the chunk here instead. */
        cf__future_wait_quietly(f);
        cf__map_chunk_done(f, c);
    }
    return 0;
}

/* ---- Settling -------------------------------------------------------------------- */

/* What a finished chunk did. */
typedef struct cf__map_settled {
    size_t again;      /* resubmit the slot from this element, or SIZE_MAX */
    size_t first;      /* the lowest failed element, or SIZE_MAX */
    int code, detail;  /* its error */
    char *message;     /* alloc.h, or NULL */
    bool clean;        /* every element ran and returned: statuses all 0 */
} cf__map_settled;

/* Turn a finished chunk's future into element statuses. mu not held; the
 * slot is the driver's alone. */
static void cf__map_settle_chunk(cf__map_job *job, cf__map_chunk *c, cf__map_settled *out)
{
    cf_future *f = c->future;
    int32_t *st = c->run.status;
    out->again = out->first = SIZE_MAX;
    out->code = out->detail = 0;
    out->message = NULL;
    out->clean = false;
    const cf_error *err = cf_future_error(f);
    int chunk_code = cf_future_cancelled(f) ? CF_ECANCELLED : err != NULL ? err->code : 0;
    /* A chunk that succeeded ran every element unless something stopped it:
     * the stop word (read after the chunk ended: a runner that saw it raised
     * finished before) or the deadline. Then every status is 0, and the
     * statuses (written by another core or process) need not be read. */
    if (chunk_code == 0 && atomic_load_explicit(job->stop, memory_order_relaxed) == 0 &&
        (job->deadline == CF__NO_DEADLINE || cf__now_ns() < job->deadline)) {
        out->clean = true;
        return;
    }
    if (chunk_code == CF_ECANCELLED) /* cancelled while pending: nothing ran */
        memset(st, 0x7f, c->count * sizeof *st);
    if (chunk_code != 0 && chunk_code != CF_ETASK && chunk_code != CF_ECANCELLED) {
        /* The chunk as a whole failed: a worker died in it (the first element
         * not run is the one it died in), or it could not run at all. */
        size_t k = 0;
        while (k < c->count && st[k] != CF__MAP_NOT_RUN)
            k++;
        bool died_in_element = chunk_code == CF_ECRASHED || chunk_code == CF_ETASKTIMEOUT;
        if (died_in_element && k < c->count) {
            st[k] = chunk_code;
            if (job->opts.keep_going && k + 1 < c->count)
                out->again = c->begin + k + 1;
        } else {
            for (size_t i = k; i < c->count; i++)
                st[i] = chunk_code;
        }
    }
    size_t upto = out->again != SIZE_MAX ? out->again - c->begin : c->count;
    for (size_t i = 0; i < upto; i++) {
        if (st[i] == 0 || st[i] == CF__MAP_NOT_RUN)
            continue;
        out->first = c->begin + i;
        out->code = st[i];
        out->detail = err != NULL ? err->detail : 0;
        /* A task's own failure says nothing of where it ran; the executor's
         * messages (a crash, a time limit) already do. */
        bool add_origin = err != NULL && err->origin != NULL && st[i] == CF_ETASK;
        out->message = cf__asprintf("element %zu of the map of task '%s': %s%s%s%s", out->first,
                                    job->task->name,
                                    err != NULL ? err->message : cf_strerror(st[i]),
                                    add_origin ? " (in " : "", add_origin ? err->origin : "",
                                    add_origin ? ")" : "");
        break;
    }
}

/* Stop the map: no element starts from now on. mu held; called by the
 * driver only. Returns how many chunk futures it put in job->cancel
 * (retained): the caller cancels and releases them after dropping mu. */
static size_t cf__map_stop(cf__map_job *job, int code, const char *message)
{
    cf_future **cancel = job->cancel;
    size_t n = 0;
    if (!job->stopping) {
        job->stopping = true;
        job->stop_code = code;
        job->stop_message = message != NULL ? cf__strdup(message) : NULL;
    }
    atomic_store_explicit(job->stop, 1, memory_order_relaxed);
    for (size_t s = 0; s < job->nslots; s++) {
        cf__map_slot *slot = &job->slots[s];
        if (slot->busy && !slot->finished && slot->chunk.future != NULL &&
            !cf_future_done(slot->chunk.future)) {
            cf_future_retain(slot->chunk.future);
            cancel[n++] = slot->chunk.future;
        }
    }
    return n;
}

static void cf__map_cancel_all(cf_future **cancel, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        cf_future_cancel(cancel[i]);
        cf_future_release(cancel[i]);
    }
}

/* The slot's elements are all settled: copy results and statuses out. mu
 * not held. */
static void cf__map_finish_slot(cf__map_job *job, cf__map_slot *slot)
{
    size_t count = slot->end - slot->begin;
    const int32_t *st = (const int32_t *)(const void *)cf__map_slot_area(job, slot->status);
    if (slot->stage_out != SIZE_MAX && job->out != NULL)
        memcpy(job->out + slot->begin * job->out_size, cf__map_slot_area(job, slot->stage_out),
               count * job->out_size);
    if (slot->clean) {
        if (job->opts.status != NULL)
            memset(job->opts.status + slot->begin, 0, count * sizeof *job->opts.status);
        slot->failed = slot->not_run = 0;
        return;
    }
    size_t failed = 0, not_run = 0;
    for (size_t i = 0; i < count; i++) {
        int code = st[i] == CF__MAP_NOT_RUN ? CF_ECANCELLED : st[i];
        if (st[i] == CF__MAP_NOT_RUN)
            not_run++;
        else if (st[i] != 0)
            failed++;
        if (job->opts.status != NULL)
            job->opts.status[slot->begin + i] = code;
    }
    slot->failed = failed;
    slot->not_run = not_run;
}

/* Hand one finished slot to the user's callbacks and free it. mu held on
 * entry and exit, dropped around the callbacks. */
static void cf__map_deliver(cf__map_job *job, cf__map_slot *slot)
{
    size_t done = job->report.succeeded + job->report.failed + job->report.not_run;
    cf_map_chunk chunk = {slot->begin, slot->end, slot->failed + slot->not_run, NULL};
    if (slot->stage_out != SIZE_MAX)
        chunk.results = cf__map_slot_area(job, slot->stage_out);
    else if (job->out != NULL && job->out_size > 0)
        chunk.results = job->out + slot->begin * job->out_size;
    if (job->task->result.kind == CF_KIND_VOID)
        chunk.results = NULL;
    pthread_mutex_unlock(&job->mu);
    if (job->opts.on_chunk != NULL)
        job->opts.on_chunk(&chunk, job->opts.arg);
    if (job->opts.progress != NULL)
        job->opts.progress(done, job->n, job->opts.arg);
    if (slot->stage_out != SIZE_MAX && cf__map_owns_results(job))
        cf__map_free_results(job, cf__map_slot_area(job, slot->stage_out),
                             slot->end - slot->begin);
    pthread_mutex_lock(&job->mu);
    slot->busy = false;
    slot->finished = false;
    slot->chunk.future = NULL;
}

/* Deliver what may be delivered: every finished slot, or (ordered_chunks)
 * the finished slots that come next in input order. mu held. */
static void cf__map_deliver_ready(cf__map_job *job)
{
    bool progress = true;
    while (progress) {
        progress = false;
        for (size_t s = 0; s < job->nslots; s++) {
            cf__map_slot *slot = &job->slots[s];
            if (!slot->finished || (job->opts.ordered_chunks && slot->begin != job->next_deliver))
                continue;
            job->next_deliver = slot->end;
            cf__map_deliver(job, slot);
            progress = true;
        }
    }
}

/* Settle one finished chunk. mu held on entry and exit. */
static void cf__map_settle(cf__map_job *job, cf__map_slot *slot)
{
    cf__map_chunk *c = &slot->chunk;
    pthread_mutex_unlock(&job->mu);
    cf__map_settled r;
    cf__map_settle_chunk(job, c, &r);
    slot->clean = slot->clean && r.clean;
    bool cancelled = cf_future_cancelled(c->future);
    /* With a deadline, the only time limit on a chunk is the map's own. */
    const cf_error *err = cf_future_error(c->future);
    bool past_deadline = job->deadline != CF__NO_DEADLINE && err != NULL &&
                         err->code == CF_ETASKTIMEOUT;
    cf_future_release(c->future);
    c->future = NULL;
    bool timed_out = job->deadline != CF__NO_DEADLINE && cf__now_ns() >= job->deadline;
    pthread_mutex_lock(&job->mu);
    job->in_flight--;
    if (r.first != SIZE_MAX && r.first < job->report.first_failed) {
        job->report.first_failed = r.first;
        job->report.first_code = r.code;
        job->first_detail = r.detail;
        cf__free(job->first_message);
        job->first_message = r.message;
        r.message = NULL;
    }
    cf__free(r.message);
    size_t ncancel = 0;
    if (past_deadline && !job->stopping)
        ncancel = cf__map_stop(job, CF_ETIMEDOUT, NULL);
    else if (r.first != SIZE_MAX && !job->opts.keep_going && !job->stopping)
        ncancel = cf__map_stop(job, r.code, job->first_message);
    else if (timed_out && !job->stopping)
        ncancel = cf__map_stop(job, CF_ETIMEDOUT, NULL);
    else if (cancelled && !job->stopping) /* not by the map: by a shutdown */
        ncancel = cf__map_stop(job, CF_ECANCELLED,
                               "a chunk was cancelled (the executor shut down, cancelling "
                               "futures)");
    if (ncancel > 0) {
        pthread_mutex_unlock(&job->mu);
        cf__map_cancel_all(job->cancel, ncancel);
        pthread_mutex_lock(&job->mu);
    }
    if (r.again != SIZE_MAX && !job->stopping) {
        /* Keep going after a worker died in an element: the rest of the
         * chunk goes out again on its own. */
        size_t count = slot->end - r.again;
        job->in_flight++;
        job->report.chunks++;
        pthread_mutex_unlock(&job->mu);
        cf__map_build_chunk(job, slot, r.again, count);
        int rc = cf__map_submit_chunk(job, slot);
        pthread_mutex_lock(&job->mu);
        if (rc == 0)
            return;
        job->in_flight--;
        if (!job->stopping) {
            ncancel = cf__map_stop(job, rc, cf_last_error());
            pthread_mutex_unlock(&job->mu);
            cf__map_cancel_all(job->cancel, ncancel);
            pthread_mutex_lock(&job->mu);
        }
    }
    pthread_mutex_unlock(&job->mu);
    cf__map_finish_slot(job, slot);
    pthread_mutex_lock(&job->mu);
    job->report.succeeded += (slot->end - slot->begin) - slot->failed - slot->not_run;
    job->report.failed += slot->failed;
    job->report.not_run += slot->not_run;
    slot->finished = true;
    cf__map_deliver_ready(job);
}

/* ---- Driving ----------------------------------------------------------------------- */

static bool cf__map_more_to_start(const cf__map_job *job)
{
    return !job->stopping && job->next < job->n;
}

static cf__map_slot *cf__map_free_slot(cf__map_job *job)
{
    for (size_t s = 0; s < job->nslots; s++)
        if (!job->slots[s].busy)
            return &job->slots[s];
    return NULL;
}

/* Start one chunk in a free slot. mu held on entry and exit. */
static void cf__map_start_one(cf__map_job *job, cf__map_slot *slot)
{
    size_t begin = job->next;
    size_t count = job->n - begin < job->chunk_size ? job->n - begin : job->chunk_size;
    slot->busy = true;
    job->next += count; /* a source may give fewer: corrected below */
    job->in_flight++;
    pthread_mutex_unlock(&job->mu);
    int source_rc = 0;
    size_t got = cf__map_fill_slot(job, slot, begin, count, &source_rc);
    int rc = 0;
    if (got > 0 && slot->stage_out != SIZE_MAX && cf__map_owns_results(job))
        memset(cf__map_slot_area(job, slot->stage_out), 0, got * job->out_size);
    if (got > 0) {
        slot->begin = begin;
        slot->end = begin + got;
        slot->clean = true;
        cf__map_build_chunk(job, slot, begin, got);
        rc = cf__map_submit_chunk(job, slot);
    }
    pthread_mutex_lock(&job->mu);
    if (got < count) /* a short read (only the caller drives a generated map) */
        job->next = begin + got;
    if (got == 0) /* the source ended */
        job->n = job->next;
    if (got > 0 && rc == 0) {
        job->report.chunks++;
        return;
    }
    job->in_flight--;
    slot->busy = false;
    if (source_rc != 0) {
        /* The source failed: stop the map with its error. */
        size_t ncancel = cf__map_stop(job, source_rc, cf_last_error());
        pthread_mutex_unlock(&job->mu);
        cf__map_cancel_all(job->cancel, ncancel);
        pthread_mutex_lock(&job->mu);
        return;
    }
    if (got == 0)
        return;
    /* The chunk could not be submitted: its elements never run. */
    if (job->source != NULL)
        job->report.not_run += got; /* produced, never to be run */
    else
        job->next = begin;
    size_t ncancel = cf__map_stop(job, rc, cf_last_error());
    pthread_mutex_unlock(&job->mu);
    cf__map_cancel_all(job->cancel, ncancel);
    pthread_mutex_lock(&job->mu);
}

/* Work off finished chunks and start new ones until neither is possible.
 * One thread at a time drives; others only queue. mu held. */
static void cf__map_drive(cf__map_job *job)
{
    if (job->driving)
        return;
    job->driving = true;
    cf__map_job *outer = cf__map_driven;
    cf__map_driven = job;
    for (;;) {
        if (job->cancelled && !job->stopping) {
            size_t ncancel = cf__map_stop(job, CF_ECANCELLED, "the map's future was cancelled");
            pthread_mutex_unlock(&job->mu);
            cf__map_cancel_all(job->cancel, ncancel);
            pthread_mutex_lock(&job->mu);
            continue;
        }
        cf__map_slot *slot = job->done_head;
        if (slot != NULL) {
            job->done_head = slot->next_done;
            if (job->done_head == NULL)
                job->done_tail = NULL;
            cf__map_settle(job, slot);
            continue;
        }
        cf__map_slot *free_slot;
        if (cf__map_more_to_start(job) && (free_slot = cf__map_free_slot(job)) != NULL) {
            cf__map_start_one(job, free_slot);
            continue;
        }
        break;
    }
    cf__map_driven = outer;
    job->driving = false;
}

static bool cf__map_ended(const cf__map_job *job)
{
    return job->in_flight == 0 && job->done_head == NULL && !cf__map_more_to_start(job);
}

/* The map's outcome, once it has ended: 0 or its error, with cf_last_error()
 * set. Fills the report and the statuses of elements never started. mu
 * held. */
static int cf__map_outcome(cf__map_job *job)
{
    size_t total = job->n;
    if (job->source == NULL && job->next < total) {
        if (job->opts.status != NULL)
            for (size_t i = job->next; i < total; i++)
                job->opts.status[i] = CF_ECANCELLED;
        job->report.not_run += total - job->next;
    }
    if (job->opts.report != NULL)
        *job->opts.report = job->report;
    if (job->stopping && job->stop_code == CF_ETIMEDOUT)
        return cf__fail(CF_ETIMEDOUT,
                        "the map of task '%s' timed out after %g s with %zu of %zu elements "
                        "done",
                        job->task->name, job->opts.timeout,
                        job->report.succeeded + job->report.failed, total);
    if (job->report.first_failed != SIZE_MAX)
        return cf__fail(job->report.first_code, "%s",
                        job->first_message != NULL ? job->first_message
                                                   : cf_strerror(job->report.first_code));
    if (job->stopping)
        return cf__fail(job->stop_code, "the map of task '%s' stopped: %s", job->task->name,
                        job->stop_message != NULL ? job->stop_message
                                                  : cf_strerror(job->stop_code));
    return 0;
}

/* An _async map that has ended hands its outcome to its future, and the
 * owner's reference goes. mu held on entry, released on return. */
static void cf__map_end_async(cf__map_job *job)
{
    cf_future *result = NULL;
    int rc = 0;
    char *message = NULL;
    if (!job->driving && cf__map_ended(job) && job->result != NULL) {
        result = job->result;
        job->result = NULL;
        rc = cf__map_outcome(job);
        if (rc != 0)
            message = cf__strdup(cf_last_error());
        cf__map_release_arena(job);
    }
    int detail = job->first_detail;
    pthread_mutex_unlock(&job->mu);
    if (result == NULL)
        return;
    cf__map_job_unref(job);
    if (rc == 0)
        cf__future_finish_with(result, NULL);
    else
        cf__future_fail(result, rc, detail, NULL, "%s", message != NULL ? message : cf_strerror(rc));
    cf__free(message);
    cf_future_release(result);
}

/* A chunk's future is done: queue its slot for the driver. */
static void cf__map_chunk_done(cf_future *f, void *arg)
{
    (void)f;
    cf__map_chunk *c = arg;
    cf__map_job *job = c->job;
    cf__map_slot *slot = c->slot;
    pthread_mutex_lock(&job->mu);
    slot->next_done = NULL;
    if (job->done_tail != NULL)
        job->done_tail->next_done = slot;
    else
        job->done_head = slot;
    job->done_tail = slot;
    if (job->sync) {
        cf__bell_ring(&job->bell);
        pthread_mutex_unlock(&job->mu);
    } else {
        cf__map_drive(job);
        cf__map_end_async(job);
    }
    cf__map_job_unref(job); /* the one taken when the callback was added */
}

/* The blocking forms: drive and wait until the map ends. */
static int cf__map_run_blocking(cf__map_job *job)
{
    pthread_mutex_lock(&job->mu);
    for (;;) {
        cf__map_drive(job);
        if (cf__map_ended(job))
            break;
        if (job->done_head != NULL)
            continue;
        /* Once stopping, only the chunks still running are awaited: no
         * deadline, no interruption (they hold the caller's arrays). */
        int waited = cf__bell_wait(&job->bell, &job->mu,
                                   job->stopping ? CF__NO_DEADLINE : job->deadline,
                                   !job->stopping);
        if ((waited == ETIMEDOUT || waited == CF_EINTERRUPTED) && job->done_head == NULL &&
            !job->stopping) {
            size_t ncancel = cf__map_stop(job, waited == ETIMEDOUT ? CF_ETIMEDOUT : waited,
                                          waited == CF_EINTERRUPTED
                                              ? "the map was interrupted (cf_interrupt_waits)"
                                              : NULL);
            pthread_mutex_unlock(&job->mu);
            cf__map_cancel_all(job->cancel, ncancel);
            pthread_mutex_lock(&job->mu);
        }
    }
    int rc = cf__map_outcome(job);
    cf__map_release_arena(job);
    pthread_mutex_unlock(&job->mu);
    cf__map_job_unref(job);
    return rc;
}

/* ---- Setting a map up -------------------------------------------------------------- */

static int cf__map_check(cf_executor *ex, const cf_map_options *opts, const cf_task *task,
                         bool sync, const char *caller)
{
    if (ex == NULL)
        return cf__fail(CF_EINVAL, "%s: NULL executor", caller);
    int rc = cf__task_check(task);
    if (rc != 0)
        return rc;
    if (opts != NULL && isnan(opts->timeout))
        return cf__fail(CF_EINVAL, "%s: NaN timeout", caller);
    bool remote = !ex->ops->shares_memory;
    cf_type r = task->result;
    if (remote && (r.kind == CF_KIND_STR || r.kind == CF_KIND_BYTES || r.kind == CF_KIND_PTR))
        return cf__fail(CF_EUNSUPPORTED,
                        "%s: task '%s' returns a %s, which a %s cannot bring back into an array "
                        "(submit such calls one by one)",
                        caller, task->name, cf_kind_name(r.kind), ex->ops->kind);
    for (uint32_t k = 0; remote && k < task->nparams; k++)
        if (task->params[k].kind == CF_KIND_PTR)
            return cf__fail(CF_EUNSUPPORTED,
                            "%s: parameter %u of task '%s' is a raw pointer, which a %s cannot "
                            "pass (it does not share memory)",
                            caller, k + 1, task->name, ex->ops->kind);
    if (sync && ex->ops->is_own_thread(ex))
        return cf__fail(CF_EDEADLOCK,
                        "%s: cannot wait for a map from the %s's own worker or dispatcher; use "
                        "the _async form",
                        caller, ex->ops->kind);
    return 0;
}

/* A job with the settings filled in, no arrays yet, one (owner) reference. */
static int cf__map_job_new(cf__map_job **out, cf_executor *ex, const cf_map_options *opts,
                           const cf_task *task, size_t n, bool sync)
{
    cf__map_job *job = cf__calloc(1, sizeof *job);
    if (job == NULL)
        return cf__fail(-ENOMEM, "map: no memory");
    cf__bell_init(&job->bell);
    pthread_mutex_init(&job->mu, NULL);
    atomic_init(&job->refs, 1);
    job->ex = ex;
    job->task = task;
    if (opts != NULL)
        job->opts = *opts;
    job->sync = sync;
    job->remote = !ex->ops->shares_memory;
    job->n = n;
    job->out_fd = -1;
    job->arena_fd = -1;
    job->report.first_failed = SIZE_MAX;
    job->deadline = job->opts.timeout > 0 && job->opts.timeout < 1e9
                        ? cf__now_ns() + (int64_t)(job->opts.timeout * 1e9)
                        : CF__NO_DEADLINE;
    for (uint32_t k = 0; k < task->nparams; k++)
        if (task->params[k].kind == CF_KIND_STR || task->params[k].kind == CF_KIND_BYTES)
            job->inline_args = job->remote;
    for (size_t a = 0; a < CF_TASK_MAX_PARAMS; a++)
        job->arr_fd[a] = -1;
    *out = job;
    return 0;
}

/* Decide where each array is (in place, or copied through the slots), the
 * chunk size and the window, and make the arena. */
static int cf__map_layout(cf__map_job *job, size_t default_chunk)
{
    size_t n = job->n;
    for (size_t a = 0; a < job->narrays; a++) {
        if (job->source != NULL) {
            job->arr_staged[a] = true;
        } else if (job->remote && !job->inline_args) {
            job->arr_staged[a] = !cf__shared_find(job->arr[a], n * job->arr_size[a],
                                                  &job->arr_fd[a], &job->arr_off[a]);
        }
    }
    if (job->remote && job->out != NULL && job->out_size > 0)
        cf__shared_find(job->out, n * job->out_size, &job->out_fd, &job->out_off);
    size_t workers = cf_executor_max_workers(job->ex);
    if (workers == 0)
        workers = 1;
    size_t per_element = cf__map_bytes_per_element(job);
    size_t cs = job->opts.chunk_size;
    if (cs == 0) {
        cs = default_chunk;
        size_t cap = CF__MAP_CHUNK_BYTES / per_element;
        if (cs > cap && job->source == NULL && cap > 0) {
            /* Capped: as many chunks as the cap needs, rounded up to a
             * multiple of the workers, so that equal chunks end together
             * instead of one worker running the last one alone. */
            size_t chunks = cf__size_div_up(n, cap);
            chunks = cf__size_div_up(chunks, workers) * workers;
            cs = cf__size_div_up(n, chunks);
        } else if (cs > cap) {
            cs = cap;
        }
    }
    if (cs == 0)
        cs = 1;
    if (job->source == NULL && cs > n)
        cs = n;
    job->chunk_size = cs;
    size_t slots = job->opts.max_chunks_in_flight;
    if (slots == 0)
        if (!cf__size_mul(CF__MAP_SLOTS_PER_WORKER, workers, &slots))
            slots = (size_t)PTRDIFF_MAX;
    if (job->source == NULL && slots > cf__size_div_up(n, cs))
        slots = cf__size_div_up(n, cs);
    job->nslots = slots > 0 ? slots : 1;
    return cf__map_make_arena(job);
}

/* The _async forms' future is done: when it was cancelled, stop the map.
 * The stop word ends every chunk before its next element; the driver (the
 * next one to run) cancels the chunks not started and settles the rest. Then,
 * unless called from a thread of the executor (a worker, the dispatcher, a
 * callback of the map: waiting there could starve what it waits for), wait
 * until the chunks in flight are done, so that no element runs any more and
 * the caller may free the arrays once cf_future_cancel returns. (This runs as
 * a done-callback; callbacks of chunks cancelled here are deferred until it
 * returns, so it waits for the chunks' futures, never for their callbacks.)
 * Holds a job reference. */
static void cf__map_result_done(cf_future *f, void *arg)
{
    cf__map_job *job = arg;
    if (!cf_future_cancelled(f)) {
        cf__map_job_unref(job);
        return;
    }
    cf_future **wait = NULL;
    size_t nwait = 0;
    pthread_mutex_lock(&job->mu);
    if (job->result != NULL && !job->cancelled) {
        job->cancelled = true;
        atomic_store_explicit(job->stop, 1, memory_order_relaxed);
        bool own = cf__map_driven == job || job->ex->ops->is_own_thread(job->ex);
        if (!own && (wait = cf__calloc(job->nslots, sizeof *wait)) != NULL)
            for (size_t s = 0; s < job->nslots; s++) {
                cf_future *c = job->slots[s].busy ? job->slots[s].chunk.future : NULL;
                if (c != NULL && !cf_future_done(c))
                    wait[nwait++] = cf_future_retain(c);
            }
    }
    bool drive = !job->driving;
    if (drive)
        cf__map_drive(job); /* stops the map: cancels what has not started */
    pthread_mutex_unlock(&job->mu);
    for (size_t i = 0; i < nwait; i++) {
        cf_future_cancel(wait[i]); /* still pending: never runs */
        cf__future_wait_quietly(wait[i]); /* not cut short by an interrupt */
        cf_future_release(wait[i]);
    }
    cf__free(wait);
    if (drive) {
        pthread_mutex_lock(&job->mu);
        cf__map_end_async(job); /* unlocks */
    }
    cf__map_job_unref(job);
}

/* Start the job: blocking forms run it to the end; _async ones return at
 * once with *fut set. */
static int cf__map_begin(cf__map_job *job, cf_future **fut)
{
    if (job->sync)
        return cf__map_run_blocking(job);
    cf_future *f;
    int rc = cf__future_new_owned(&f);
    if (rc != 0) {
        cf__map_job_unref(job);
        return cf__fail(rc, "map: no memory for the map's future");
    }
    /* The future stays pending while the map runs, so that cf_future_cancel
     * can stop it (cf__map_result_done). */
    atomic_fetch_add_explicit(&job->refs, 1, memory_order_relaxed);
    if ((rc = cf_future_add_done_callback(f, cf__map_result_done, job)) != 0) {
        atomic_fetch_sub_explicit(&job->refs, 1, memory_order_relaxed);
        cf__map_job_unref(job);
        cf_future_release(f);
        return cf__fail(rc, "map: no memory for the map's future");
    }
    cf_future_retain(f);
    job->result = f;
    pthread_mutex_lock(&job->mu);
    cf__map_drive(job);
    if (job->report.chunks == 0 && job->stopping) {
        /* Not a single chunk could be submitted: the map did not start. */
        job->result = NULL;
        rc = cf__fail(job->stop_code, "%s",
                          job->stop_message != NULL ? job->stop_message
                                                    : cf_strerror(job->stop_code));
        pthread_mutex_unlock(&job->mu);
        cf_future_cancel(f); /* runs cf__map_result_done: its reference goes */
        cf__map_job_unref(job);
        cf_future_release(f);
        cf_future_release(f);
        return rc;
    }
    *fut = f;
    cf__map_end_async(job);
    return 0;
}

int cf__map_arrays(cf_future **fut, bool async, cf_executor *ex, const cf_map_options *opts,
                   const cf_task *task, size_t n, void *out, const void *const *in,
                   size_t tuple_size)
{
    const char *caller = async ? (tuple_size > 0 ? "cf_starmap_async" : "cf_map_async")
                               : (tuple_size > 0 ? "cf_starmap" : "cf_map");
    if (fut != NULL)
        *fut = NULL;
    if (async && fut == NULL)
        return cf__fail(CF_EINVAL, "%s: NULL fut", caller);
    int rc = cf__map_check(ex, opts, task, !async, caller);
    if (rc != 0)
        return rc;
    size_t narrays = tuple_size > 0 ? 1 : task->nparams;
    for (size_t a = 0; n > 0 && a < narrays; a++)
        if (in == NULL || in[a] == NULL)
            return cf__fail(CF_EINVAL, "%s: %s of task '%s' is NULL", caller,
                            tuple_size > 0 ? "the argument tuples" : "an argument array",
                            task->name);
    /* No array can hold more than PTRDIFF_MAX bytes: a larger n is a lie
     * that would wrap the byte offsets computed from it. */
    size_t bytes;
    for (size_t a = 0; a < narrays; a++)
        if (!cf__size_mul(n, tuple_size > 0 ? tuple_size : task->params[a].size, &bytes))
            return cf__fail(CF_EINVAL, "%s: %zu elements of %s of task '%s' cannot be an array "
                            "(more bytes than a size can hold)",
                            caller, n, tuple_size > 0 ? "the argument tuples" : "an argument",
                            task->name);
    if (out != NULL && task->result.kind != CF_KIND_VOID &&
        !cf__size_mul(n, task->result.size, &bytes))
        return cf__fail(CF_EINVAL, "%s: %zu results of task '%s' cannot be an array (more bytes "
                        "than a size can hold)", caller, n, task->name);
    cf__map_job *job;
    if ((rc = cf__map_job_new(&job, ex, opts, task, n, !async)) != 0)
        return rc;
    job->narrays = narrays;
    for (uint32_t k = 0; k < task->nparams; k++) {
        job->param_arr[k] = tuple_size > 0 ? 0 : k;
        job->param_off[k] = tuple_size > 0 ? task->offsets[k] : 0;
    }
    for (size_t a = 0; a < narrays; a++) {
        job->arr[a] = in[a];
        job->arr_size[a] = tuple_size > 0 ? tuple_size : task->params[a].size;
    }
    job->out = task->result.kind != CF_KIND_VOID ? out : NULL;
    job->out_size = task->result.size;
    if (job->out != NULL && cf__map_owns_results(job)) /* NULL where nothing succeeds */
        memset(job->out, 0, n * job->out_size);
    if (n == 0) {
        job->nslots = 0;
        return cf__map_begin(job, fut);
    }
    size_t workers = cf_executor_max_workers(ex) > 0 ? cf_executor_max_workers(ex) : 1;
    size_t per;
    if (!cf__size_mul(4, workers, &per))
        per = (size_t)PTRDIFF_MAX;
    if ((rc = cf__map_layout(job, cf__size_div_up(n, per))) != 0) {
        cf__map_job_unref(job);
        return rc;
    }
    return cf__map_begin(job, fut);
}

int cf__map_generate(cf_executor *ex, const cf_task *task, const cf_map_options *opts,
                     cf_map_source_fn source, void *source_arg)
{
    static const char caller[] = "cf_map_generate";
    int rc = cf__map_check(ex, opts, task, true, caller);
    if (rc != 0)
        return rc;
    if (source == NULL || opts == NULL || opts->on_chunk == NULL)
        return cf__fail(CF_EINVAL, "%s: a source and an on_chunk callback are required",
                        caller);
    if (task->nparams == 0)
        return cf__fail(CF_EINVAL, "%s: task '%s' takes no arguments to generate", caller,
                        task->name);
    if (opts->status != NULL)
        return cf__fail(CF_EINVAL, "%s: no status array: the number of elements is not known",
                        caller);
    cf__map_job *job;
    if ((rc = cf__map_job_new(&job, ex, opts, task, SIZE_MAX, true)) != 0)
        return rc;
    job->source = source;
    job->source_arg = source_arg;
    job->narrays = 1;
    job->arr_size[0] = task->args_size;
    for (uint32_t k = 0; k < task->nparams; k++)
        job->param_off[k] = task->offsets[k];
    job->out_size = task->result.size;
    if ((rc = cf__map_layout(job, CF__MAP_GENERATED_CHUNK)) != 0) {
        cf__map_job_unref(job);
        return rc;
    }
    return cf__map_begin(job, NULL);
}
