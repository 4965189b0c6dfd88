/* future_priv.h: the future's layout and its completing side, for executors
 * and for wait.c / as_completed.c (private).
 *
 * Layout: one allocation per submitted future: this header, then the task's
 * packed argument block, then its result slot, then copies of the string and
 * byte-buffer arguments. A user future (cf_future_new) has no trailing part.
 *
 * State word: the low 3 bits are the state (CF__ST_*), bit 3 says listeners
 * may be registered, bit 4 that only the library completes the future. The
 * outcome (result or error) is written while the state is COMPLETING, by the
 * one thread that won the transition to it (cf__future_claim), and is
 * published by the release store of FINISHED. Nothing is written into a
 * future's result slot before that claim is won: a task writes its result
 * into memory of its own, moved in after the claim (cf__future_finish_with).
 * Readers acquire-load the state.
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
    CF__ST_LISTENERS = 8, /* flag: listeners may be registered (set on the first
                             registration, never cleared) */
    CF__ST_OWNED = 16,    /* flag: made by the library (an executor's future, a
                             map's): the public set_* functions refuse it. Set
                             at creation, never changed. */
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
    uint16_t flags;                  /* CF__FF_* */
    uint16_t extra_size;             /* bytes of executor scratch (cf__future_extra) */
    void *exec_data;                 /* the executor's, while the future is not done */
    _Atomic(void *) data;            /* the user's pointer (cf_future_set_data) */
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
 * `args` (deep-copying strings and byte buffers), and `extra` bytes of
 * scratch for its executor. refs = 1.
 * Returns 0, -ENOMEM, or CF_EINVAL (a byte buffer with a length but no data;
 * cf_last_error() says which argument). */
int cf__future_new_for_task(cf_future **out, const cf_task *task, const void *args,
                            size_t extra);

/* The `extra` zeroed bytes (8-byte aligned) an executor asked for when the
 * future was made (cf__executor_ops.future_extra); NULL if none. */
void *cf__future_extra(cf_future *f);

/* A pending future that only the library completes (a map's future): like
 * cf_future_new, but the public cf_future_set_* functions refuse it with
 * CF_EOWNED. Returns 0 or -ENOMEM. */
int cf__future_new_owned(cf_future **out);

/* PENDING -> RUNNING, for the library's own futures (cf_future_set_running
 * refuses them). Returns 0, CF_ECANCELLED (cancelled while pending: the work
 * must not run) or CF_ESTATE (not pending). */
int cf__future_start(cf_future *f);

/* The packed argument block. */
void *cf__future_args(cf_future *f);

/* Completing: exactly one outcome wins. Either call cf__future_finish_with or
 * cf__future_fail (each claims f itself), or claim f first with
 * cf__future_claim and then write the result into cf__future_result_slot(f)
 * and call cf__future_finish_claimed, or call cf__future_fail_claimed.
 * Writing into the slot without having won the claim is a bug: another
 * outcome (a cancellation) may already be published. */

/* Win the right to complete f: PENDING or RUNNING -> COMPLETING. Returns 0, or
 * CF_ESTATE when f is done (or another completer holds it): then write
 * nothing into f. */
int cf__future_claim(cf_future *f);
/* For the executors that decode an answer straight into the result slot
 * (the MPI and network executors): claim f, then publish the slot as
 * cf__future_finish_claimed does; CF_ESTATE, and nothing published, when
 * another outcome won. Writing the slot before the claim is safe only for
 * the slot's single writer: outside completion of the library's futures is
 * refused (CF_EOWNED), and nothing reads the slot of a future that another
 * outcome won. */
int cf__future_finish_from_slot(cf_future *f);

/* The result slot (the task's result type, its size rounded up to 8 bytes).
 * Write into it only after winning cf__future_claim. */
void *cf__future_result_slot(cf_future *f);

/* Publish the result written into the claimed slot: strings and byte buffers
 * are copied out of the memory they point at. If that copy finds no memory, f
 * fails with -ENOMEM instead. */
void cf__future_finish_claimed(cf_future *f);

/* Claim f, move `value` (the task's result, result.size bytes; NULL for a
 * void result) into its slot and publish it as cf__future_finish_claimed.
 * Returns 0, or CF_ESTATE when f is already done (`value` is untouched and
 * still the caller's). */
int cf__future_finish_with(cf_future *f, const void *value);

/* Fail f with `code` (<0), `detail`, an origin ("thread cf_2", or NULL) and a
 * message. Returns 0 or CF_ESTATE (already done). Never fails for lack of
 * memory: a future that cannot allocate its error gets a static one. */
int cf__future_fail(cf_future *f, int code, int detail, const char *origin, const char *fmt,
                    ...) __attribute__((format(printf, 5, 6)));

/* cf__future_fail for a future the caller has already claimed. */
void cf__future_fail_claimed(cf_future *f, int code, int detail, const char *origin,
                             const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* ---- Stopping running tasks ---------------------------------------------- */

/* An executor that can stop a running task points f->exec_data at its
 * canceller while f runs (cf__future_set_canceller), and detaches it before
 * completing f. cf_future_cancel_running() calls it with `busy` raised, so an
 * executor frees its canceller only once busy is back to 0. */
typedef struct cf__canceller {
    /* Stop f (RUNNING) and make it CANCELLED (cf__future_force_cancel).
     * Returns true when f is cancelled. Called without library locks held,
     * but with `busy` raised: f's done-callbacks may run inside this call,
     * so an executor must never wait for busy == 0 from one of them. */
    bool (*cancel_running)(struct cf__canceller *self, cf_future *f);
    _Atomic uint32_t busy;
} cf__canceller;

void cf__future_set_canceller(cf_future *f, cf__canceller *c);
/* Detach f's canceller (if any): after return no new call through it starts. */
void cf__future_clear_canceller(cf_future *f);

/* PENDING or RUNNING -> CANCELLED. Returns true when f is now cancelled. */
bool cf__future_force_cancel(cf_future *f);

/* ---- Completing threads that want to know about callbacks ----------------- */

/* Register a flag for the calling thread: while a completion this thread
 * makes has done-callbacks to run, the flag is true. It is set before the
 * outcome becomes visible (whenever listeners may be registered) and cleared
 * before waiters are woken when none of the listeners is a callback, so a
 * thread that sees the future done and the flag false knows the completer is
 * not about to run callbacks. NULL unregisters. */
void cf__future_track_callbacks(_Atomic bool *flag);

/* Wait, without limit and without heeding cf_interrupt_waits(), until f is
 * done: for the library's own waits, which must see the end. */
void cf__future_wait_quietly(cf_future *f);

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
