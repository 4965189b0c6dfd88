/* future_priv.h: the future's layout and its completing side, for executors
 * and for wait.c / as_completed.c (private).
 *
 * Layout: one allocation per submitted future: this header, then the task's
 * packed argument block, then its result slot, then copies of the string and
 * byte-buffer arguments. A user future (cf_future_new) has no trailing part.
 *
 * State word: the low 3 bits are the state (CF__ST_*), bit 3 says listeners
 * are registered. The outcome (result or error) is written while the state
 * is COMPLETING, by the one thread that won the transition to it, and is
 * published by the release store of FINISHED. Readers acquire-load the state.
 */
#ifndef CF_FUTURE_PRIV_H
#define CF_FUTURE_PRIV_H

#include <stdatomic.h>

#include <cfutures.h>

enum {
    CF__ST_PENDING = 0,
    CF__ST_RUNNING = 1,
    CF__ST_COMPLETING = 2, /* transient: an outcome is being written */
    CF__ST_FINISHED = 3,
    CF__ST_CANCELLED = 4,
    CF__ST_MASK = 7,
    CF__ST_LISTENERS = 8, /* flag: the listener list is not empty */
};

struct cf__listener;
struct cf__error_box;

struct cf_future {
    _Atomic uint32_t state;
    _Atomic uint32_t refs;
    struct cf_future *next;          /* executor's queue link (owned by the executor) */
    const cf_task *task;             /* NULL for a user future */
    struct cf__listener *listeners;  /* guarded by the future's stripe lock */
    struct cf__error_box *error;     /* set with the outcome when it failed */
    void *result;                    /* the result's bytes: slot, or heap for user futures */
    cf_type result_type;
    uint32_t alloc_size;             /* size of this allocation (for sized free) */
    uint32_t flags;                  /* CF__FF_* */
    void *exec_data;                 /* the executor's, while the future is not done */
};

enum {
    CF__FF_RESULT_HEAP = 1u << 0,  /* `result` was allocated apart */
    CF__FF_RESULT_OWNS = 1u << 1,  /* result holds a string/bytes copy to free */
};

/* ---- Listeners (for wait.c, as_completed.c) ------------------------------ */

/* A listener is notified once when its future becomes done. `fire` runs
 * with the future's stripe lock held: it must not block, must not call back
 * into any cf_future function, and may take only leaf locks (locks that are
 * never held while calling into a future function). */
typedef struct cf__listener {
    struct cf__listener *next;
    void (*fire)(struct cf__listener *self, cf_future *f);
} cf__listener;

/* Register l on f. Returns true when registered; false when f is already done
 * (l is not registered and will never fire). */
bool cf__future_listen(cf_future *f, cf__listener *l);

/* Unregister l. On return l is not registered and no fire of l is running,
 * so its memory may be reused. Harmless when l already fired. */
void cf__future_unlisten(cf_future *f, cf__listener *l);

/* ---- Executors ------------------------------------------------------------ */

/* Allocate a pending future for `task` with its argument block copied from
 * `args` (deep-copying strings and byte buffers). refs = 1.
 * Returns 0 or -ENOMEM. */
int cf__future_new_for_task(cf_future **out, const cf_task *task, const void *args);

/* The packed argument block, and the slot the task's result is written to. */
void *cf__future_args(cf_future *f);
void *cf__future_result_slot(cf_future *f);

/* Finish f with the result its task wrote into the slot: strings and byte
 * buffers are copied out of the task's memory. Returns 0, CF_ESTATE if f is
 * already done, or -ENOMEM (then f fails with -ENOMEM). */
int cf__future_finish_from_slot(cf_future *f);

/* Fail f with `code` (<0), `detail`, an origin ("thread cf_2", or NULL) and a
 * message. Returns 0 or CF_ESTATE (already done). Never fails for lack of
 * memory: a future that cannot allocate its error gets a static one. */
int cf__future_fail(cf_future *f, int code, int detail, const char *origin, const char *fmt,
                    ...) __attribute__((format(printf, 5, 6)));

/* The current state (CF__ST_*), acquire-loaded. */
static inline uint32_t cf__future_st(const cf_future *f)
{
    return atomic_load_explicit(&((cf_future *)f)->state, memory_order_acquire) & CF__ST_MASK;
}

static inline bool cf__st_done(uint32_t st)
{
    return st == CF__ST_FINISHED || st == CF__ST_CANCELLED;
}

#endif
