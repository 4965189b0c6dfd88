/* thread_pool.c: the thread pool executor (cfutures/thread_pool.h).
 *
 * Design notes (doc/design.md says why this design)
 * - Queues: one shared FIFO, intrusive through cf_future.next and guarded by
 *   pool->mu, takes every submit; and each worker has a local queue of
 *   TP_LOCAL_MAX slots. A worker that finds the shared queue non-empty moves
 *   a fair share of it (queued / workers, at most TP_LOCAL_MAX) into its
 *   slots in one lock hold and then runs them in order without the lock, so
 *   tiny tasks cost a fraction of a lock each. The futures in the slots stay
 *   PENDING and stay everybody's: a worker that finds the shared queue empty
 *   steals from another worker's slots (from the far end), and a cancelling
 *   shutdown claims them all. Each slot is claimed by an atomic exchange to
 *   NULL: whoever gets the pointer owns the executor's reference (to run it,
 *   or to cancel it). Slots are filled only by their owner, only under mu,
 *   and only when its previous batch is fully claimed (the thief, too, moves
 *   what it stole into its own slots under mu); nlocal counts the
 *   filled, unclaimed slots (an upper bound while a claim is under way).
 *   So no future waits behind a running one while a worker idles: the cure
 *   for the stranded batches of the previous design.
 * - A claimed future is marked running unless it was cancelled meanwhile
 *   (cf_future_cancel works on every future not yet started, wherever it
 *   waits); the worker runs it and then releases the executor's reference.
 *   Futures never point back at the pool, so they outlive it.
 * - Workers start on demand, never more than max_workers, and an idle worker
 *   is used before a new one starts: a submit starts a worker only when the
 *   pending futures (queued and in slots) outnumber the idle workers plus
 *   the other workers whose current future is already done, with no slots
 *   left and no done-callbacks to run (cf__future_track_callbacks tells).
 *   Those are about to come back for more: counting them makes "wait for a
 *   result, submit again" reuse the same thread every time. A worker busy in
 *   a done-callback is not counted, so a callback that blocks on work
 *   submitted meanwhile never starves it. Each step that makes a worker
 *   busy takes one pending future, so after every submit there are as many
 *   idle (or finishing) workers as pending futures, or max_workers threads:
 *   a task that waits for a later one completes while fewer than
 *   max_workers tasks block. Workers only exit at shutdown, or when the
 *   pool breaks.
 * - Wake-ups: a worker is busy (running a task), searching (idle and awake:
 *   spinning, stealing, or on its way to take the lock) or sleeping (on its
 *   own condition variable, in the sleeper stack). Invariant at every unlock
 *   of mu: work is pending (queued, or in any slot) and a sleeper exists =>
 *   nsearching > 0. A worker looks at the queue and every worker's nlocal
 *   under mu before it sleeps (slots are filled only under mu, so none is
 *   missed); a submit wakes a sleeper only when nobody searches; a worker
 *   that stops searching with work still pending wakes the next sleeper
 *   itself. With busy or spinning workers a submit makes no system call.
 * - An idle worker first spins for a bounded time (TP_SPIN_NS) watching the
 *   shared queue, yielding the CPU between rounds, at most half the usable
 *   CPUs at a time; then it steals, or sleeps. In a stream of tiny tasks the
 *   queue refills within the spin, and taking from it is cheaper than
 *   stealing from a busy worker; a worker stuck in a long task loses its
 *   slots within the spin time. Spinning never holds a CPU that another
 *   process wants for long, and an idle pool uses no CPU.
 * - Worker threads start with asynchronous signals blocked, so that signals
 *   sent to the process reach the application's own threads. Threads are
 *   named "<prefix>_<n>"; an unnamed pool's prefix is "cf-<pool>", pools
 *   numbered in creation order (Linux keeps 15 bytes: "_<n>" is kept whole).
 * - Initializer: runs once per worker inside a failure context; it fails
 *   when it returns nonzero or calls cf_task_fail(). A failure breaks the
 *   pool: the queue is emptied and each of its futures fails with
 *   CF_EBROKEN, later submits fail too, and every worker exits once idle.
 * - Shutdown sets a flag and wakes every sleeper; workers drain the queue
 *   and the slots and exit. CF_SHUTDOWN_TERMINATE cannot stop a running
 *   thread: it cancels what is pending, as CF_SHUTDOWN_CANCEL_FUTURES does.
 *   Waiting means waiting for the live worker count to reach zero
 *   (pool->exit_cond). Threads are joined by cf_executor_free. Freed from one
 *   of its own workers, the pool detaches its threads and the last worker to
 *   exit frees it: after a worker's final unlock it never touches the pool.
 * - The worker list only grows until the pool is freed; it is linked through
 *   atomics so that stealers and spinners walk it without the lock.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "clock.h"
#include "cpu_count.h"
#include "error_priv.h"
#include "executor_priv.h"
#include "futex.h"
#include "future_priv.h"
#include "task_priv.h"
#include "thread_pool_priv.h"

#define TP_MAX_DEFAULT_WORKERS 32
/* Linux thread names hold 15 bytes. */
#define TP_OS_NAME_MAX 15
/* How long an idle worker spins before it sleeps. */
#define TP_SPIN_NS 50000
#define TP_SPIN_CHECKS 64
/* A worker's local queue: the most futures it takes in one lock hold. */
#define TP_LOCAL_MAX 32

typedef struct tp_pool tp_pool;

typedef struct tp_worker {
    tp_pool *pool;
    pthread_t thread;
    struct tp_worker *_Atomic next_worker; /* pool->workers: set once, before publication */
    struct tp_worker *next_sleeper;        /* pool->sleepers (mu) */
    /* The local queue: futures taken from the shared queue, not started. The
     * one that exchanges a slot to NULL owns its future. Filled by the owner
     * under mu, claimed by anyone. */
    cf_future *_Atomic slot[TP_LOCAL_MAX];
    _Atomic size_t nlocal; /* filled slots not yet claimed (may lag a claim) */
    /* The future it runs or has just run; alive until the worker clears this
     * under mu (it releases what it ran only after that). */
    cf_future *_Atomic current;
    _Atomic bool in_callbacks; /* completing `current` with callbacks to run */
    bool woken;                /* taken off the sleeper stack (mu) */
    pthread_cond_t wake_cond;
    char os_name[TP_OS_NAME_MAX + 1];
    char origin[]; /* "thread <prefix>_<n>" */
} tp_worker;

struct tp_pool {
    cf_executor base;
    /* Fixed at creation. */
    size_t max_workers;
    size_t spin_limit;
    cf_initializer_fn initializer;
    void *initializer_arg;
    char *prefix;

    pthread_mutex_t mu;
    cf_future *head, *tail;      /* the shared queue (mu) */
    _Atomic size_t queued;       /* its length: written under mu, read by spinners */
    _Atomic bool closing;        /* shut down or broken: written under mu, read by spinners */
    tp_worker *_Atomic workers;  /* every worker ever started: pushed under mu */
    size_t nthreads;             /* started and not exited (mu) */
    size_t nidle;                /* not running a task: searching or sleeping (mu) */
    size_t nsearching;           /* idle and awake (mu) */
    size_t nspinning;            /* searching in the spin loop (mu) */
    size_t next_index;           /* the next thread's <n> (mu) */
    tp_worker *sleepers;         /* stack of sleeping workers (mu) */
    pthread_cond_t exit_cond;    /* broadcast when nthreads reaches 0 */
    bool shutdown;               /* (mu) */
    bool broken;                 /* (mu) */
    bool free_on_exit;           /* freed from a worker: the last one frees (mu) */
    char broken_msg[256];        /* "initializer failed: ..." (mu, fixed once broken) */
};

/* Unnamed pools so far: the next one's number in "cf-<pool>". */
static _Atomic unsigned long tp_unnamed_pools;

/* The worker the calling thread is, if any (for deadlock checks). */
static _Thread_local tp_worker *tp_self;

static bool tp_is_own_worker(const tp_pool *pool)
{
    return tp_self != NULL && tp_self->pool == pool;
}

static size_t tp_default_max_workers(void)
{
    size_t n = cf__cpu_count() + 4;
    return n < TP_MAX_DEFAULT_WORKERS ? n : TP_MAX_DEFAULT_WORKERS;
}

static tp_worker *tp_first_worker(const tp_pool *pool)
{
    return atomic_load_explicit(&((tp_pool *)pool)->workers, memory_order_acquire);
}

static tp_worker *tp_next_worker(const tp_worker *w)
{
    return atomic_load_explicit(&((tp_worker *)w)->next_worker, memory_order_acquire);
}

/* ---- The shared queue (mu held) -------------------------------------------------- */

static void tp_set_queued(tp_pool *pool, size_t n)
{
    atomic_store_explicit(&pool->queued, n, memory_order_relaxed);
}

static size_t tp_queued(tp_pool *pool)
{
    return atomic_load_explicit(&pool->queued, memory_order_relaxed);
}

static void tp_enqueue(tp_pool *pool, cf_future *f)
{
    f->next = NULL;
    if (pool->tail != NULL)
        pool->tail->next = f;
    else
        pool->head = f;
    pool->tail = f;
    tp_set_queued(pool, tp_queued(pool) + 1);
}

static cf_future *tp_dequeue(tp_pool *pool)
{
    cf_future *f = pool->head;
    pool->head = f->next;
    if (pool->head == NULL)
        pool->tail = NULL;
    f->next = NULL;
    tp_set_queued(pool, tp_queued(pool) - 1);
    return f;
}

/* Take the whole queue (linked through next). */
static cf_future *tp_take_all(tp_pool *pool)
{
    cf_future *list = pool->head;
    pool->head = pool->tail = NULL;
    tp_set_queued(pool, 0);
    return list;
}

/* Take f back out of the queue. */
static void tp_unqueue(tp_pool *pool, cf_future *f)
{
    cf_future *prev = NULL;
    for (cf_future *it = pool->head; it != NULL; prev = it, it = it->next) {
        if (it != f)
            continue;
        if (prev != NULL)
            prev->next = f->next;
        else
            pool->head = f->next;
        if (pool->tail == f)
            pool->tail = prev;
        f->next = NULL;
        tp_set_queued(pool, tp_queued(pool) - 1);
        return;
    }
}

/* ---- Local queues (no lock needed) ------------------------------------------------ */

static size_t tp_nlocal(tp_worker *w)
{
    return atomic_load_explicit(&w->nlocal, memory_order_acquire);
}

/* Claim slot i of w: its future (with the executor's reference), or NULL
 * when it is empty or someone else claimed it. */
static cf_future *tp_claim(tp_worker *w, size_t i)
{
    if (atomic_load_explicit(&w->slot[i], memory_order_relaxed) == NULL)
        return NULL;
    cf_future *f = atomic_exchange_explicit(&w->slot[i], NULL, memory_order_acq_rel);
    if (f != NULL)
        atomic_fetch_sub_explicit(&w->nlocal, 1, memory_order_release);
    return f;
}

/* Futures waiting in the workers' slots (an upper bound). */
static size_t tp_count_local(const tp_pool *pool)
{
    size_t n = 0;
    for (tp_worker *w = tp_first_worker(pool); w != NULL; w = tp_next_worker(w))
        n += tp_nlocal(w);
    return n;
}

static bool tp_any_local(const tp_pool *pool)
{
    for (tp_worker *w = tp_first_worker(pool); w != NULL; w = tp_next_worker(w))
        if (tp_nlocal(w) > 0)
            return true;
    return false;
}

/* Steal about half of the futures in another worker's slots, the newest
 * first (the owner works from the oldest), into got[] oldest first: returns
 * how many, 0 when there was none to take. */
static size_t tp_steal(tp_pool *pool, tp_worker *self, cf_future **got)
{
    for (tp_worker *w = tp_first_worker(pool); w != NULL; w = tp_next_worker(w)) {
        size_t avail = w == self ? 0 : tp_nlocal(w);
        if (avail == 0)
            continue;
        size_t want = (avail + 1) / 2, n = 0;
        for (size_t i = TP_LOCAL_MAX; i-- > 0 && n < want;) {
            cf_future *f = tp_claim(w, i);
            if (f != NULL)
                got[n++] = f;
        }
        for (size_t i = 0; i < n / 2; i++) {
            cf_future *t = got[i];
            got[i] = got[n - 1 - i];
            got[n - 1 - i] = t;
        }
        if (n > 0)
            return n;
    }
    return 0;
}

/* Claim every future in every worker's slots: returned linked through next,
 * oldest first per worker, each with the executor's reference. */
static cf_future *tp_claim_all_local(tp_pool *pool)
{
    cf_future *list = NULL, **end = &list;
    for (tp_worker *w = tp_first_worker(pool); w != NULL; w = tp_next_worker(w)) {
        for (size_t i = 0; i < TP_LOCAL_MAX; i++) {
            cf_future *f = tp_claim(w, i);
            if (f != NULL) {
                f->next = NULL;
                *end = f;
                end = &f->next;
            }
        }
    }
    return list;
}

/* ---- Wake-ups (mu held) ----------------------------------------------------------- */

/* Take one sleeper off the stack, counted as searching from now on. The
 * caller signals its wake_cond, possibly after unlocking: the caller is
 * either inside a call on the pool or one of its live workers, so the pool
 * (and the worker's condition variable) outlive the signal. */
static tp_worker *tp_pop_sleeper(tp_pool *pool)
{
    tp_worker *w = pool->sleepers;
    pool->sleepers = w->next_sleeper;
    w->next_sleeper = NULL;
    w->woken = true;
    pool->nsearching++;
    return w;
}

/* The sleeper to wake (or NULL) when the caller has just stopped searching
 * and `more` tells whether it left work pending besides the queue. */
static tp_worker *tp_pass_on(tp_pool *pool, bool more)
{
    if (pool->nsearching > 0 || pool->sleepers == NULL)
        return NULL;
    if (pool->head == NULL && !more && !tp_any_local(pool))
        return NULL;
    return tp_pop_sleeper(pool);
}

/* Wake every sleeper (shutdown, broken pool). Signals under mu: a woken
 * worker could otherwise sleep again and relink itself while we walk. */
static void tp_wake_all(tp_pool *pool)
{
    while (pool->sleepers != NULL)
        pthread_cond_signal(&tp_pop_sleeper(pool)->wake_cond);
}

/* Stop accepting work; workers drain the queues and exit. */
static void tp_close(tp_pool *pool)
{
    pool->shutdown = true;
    atomic_store_explicit(&pool->closing, true, memory_order_relaxed);
    tp_wake_all(pool);
}

/* Workers other than the caller whose current future is already done, with
 * nothing left in their slots and no callback to run: they are about to
 * come back for more work. (mu held) */
static size_t tp_count_finishing(tp_pool *pool)
{
    size_t n = 0;
    for (tp_worker *w = tp_first_worker(pool); w != NULL; w = tp_next_worker(w)) {
        cf_future *current = atomic_load_explicit(&w->current, memory_order_acquire);
        if (w != tp_self && current != NULL && cf__st_done(cf__future_st(current)) &&
            tp_nlocal(w) == 0 && !atomic_load_explicit(&w->in_callbacks, memory_order_relaxed))
            n++;
    }
    return n;
}

static void tp_release_all(cf_future **fs, size_t *n)
{
    for (size_t i = 0; i < *n; i++)
        cf_future_release(fs[i]);
    *n = 0;
}

/* Cancel and release every future of a list linked through next. */
static void tp_cancel_list(cf_future *list)
{
    while (list != NULL) {
        cf_future *f = list;
        list = f->next;
        f->next = NULL;
        cf_future_cancel(f);
        cf_future_release(f);
    }
}

/* ---- Workers ------------------------------------------------------------------- */

static void *tp_worker_main(void *arg);

/* Start one worker (mu held). It starts idle, and searching unless it has an
 * initializer to run first. Returns 0 or -errno. */
static int tp_spawn(tp_pool *pool)
{
    size_t index = pool->next_index;
    int name_len = snprintf(NULL, 0, "%s_%zu", pool->prefix, index);
    if (name_len < 0)
        return -EINVAL;
    size_t origin_size = sizeof "thread " + (size_t)name_len;
    tp_worker *w = cf__calloc(1, sizeof *w + origin_size);
    if (w == NULL)
        return -ENOMEM;
    int rc = cf__cond_init(&w->wake_cond);
    if (rc != 0) {
        cf__free(w);
        return rc;
    }
    w->pool = pool;
    for (size_t i = 0; i < TP_LOCAL_MAX; i++)
        atomic_init(&w->slot[i], NULL);
    atomic_init(&w->nlocal, 0);
    atomic_init(&w->current, NULL);
    atomic_init(&w->in_callbacks, false);
    snprintf(w->origin, origin_size, "thread %s_%zu", pool->prefix, index);
    /* Keep "_<n>" whole when the name is too long: drop the prefix's end. */
    char suffix[24];
    size_t suffix_len = (size_t)snprintf(suffix, sizeof suffix, "_%zu", index);
    if (suffix_len > TP_OS_NAME_MAX)
        suffix_len = TP_OS_NAME_MAX;
    size_t keep = strlen(pool->prefix);
    if (keep > TP_OS_NAME_MAX - suffix_len)
        keep = TP_OS_NAME_MAX - suffix_len;
    memcpy(w->os_name, pool->prefix, keep);
    memcpy(w->os_name + keep, suffix, suffix_len);
    w->os_name[keep + suffix_len] = '\0';
    /* Published before the thread starts: stealers may walk to it at once. */
    atomic_init(&w->next_worker, tp_first_worker(pool));

    /* The new thread inherits this mask: every signal blocked, except those
     * the CPU raises synchronously. */
    sigset_t blocked, saved;
    sigfillset(&blocked);
    static const int synchronous[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS, SIGABRT};
    for (size_t i = 0; i < sizeof synchronous / sizeof synchronous[0]; i++)
        sigdelset(&blocked, synchronous[i]);
    pthread_sigmask(SIG_SETMASK, &blocked, &saved);
    rc = pthread_create(&w->thread, NULL, tp_worker_main, w);
    pthread_sigmask(SIG_SETMASK, &saved, NULL);
    if (rc != 0) {
        pthread_cond_destroy(&w->wake_cond);
        cf__free(w);
        return -rc;
    }
    atomic_store_explicit(&pool->workers, w, memory_order_release);
    pool->next_index++;
    pool->nthreads++;
    pool->nidle++;
    if (pool->initializer == NULL)
        pool->nsearching++;
    return 0;
}

/* Break the pool after w's initializer failed with `message`: fail every
 * queued future, refuse later submits, and let every worker exit. */
static void tp_break(tp_pool *pool, tp_worker *w, const char *message)
{
    char reason[sizeof pool->broken_msg];
    pthread_mutex_lock(&pool->mu);
    if (!pool->broken) {
        pool->broken = true;
        snprintf(pool->broken_msg, sizeof pool->broken_msg, "initializer failed: %s", message);
    }
    atomic_store_explicit(&pool->closing, true, memory_order_relaxed);
    memcpy(reason, pool->broken_msg, sizeof reason);
    cf_future *list = tp_take_all(pool);
    tp_wake_all(pool);
    pthread_mutex_unlock(&pool->mu);
    while (list != NULL) {
        cf_future *f = list;
        list = f->next;
        f->next = NULL;
        cf__future_fail(f, CF_EBROKEN, 0, w->origin, "%s", reason);
        cf_future_release(f);
    }
}

/* Run the initializer in w's thread. Returns true when it succeeded; on
 * failure the pool is broken. It fails when it returns nonzero, or when it
 * called cf_task_fail(). */
static bool tp_run_initializer(tp_worker *w)
{
    tp_pool *pool = w->pool;
    cf__fail_ctx ctx;
    cf__fail_ctx_enter(&ctx);
    int rc = pool->initializer(pool->initializer_arg);
    cf__fail_ctx_leave(&ctx);
    if (rc == 0 && !ctx.failed)
        return true;
    if (ctx.message != NULL) {
        tp_break(pool, w, ctx.message);
        cf__free(ctx.message);
    } else {
        char generic[64];
        if (ctx.failed)
            snprintf(generic, sizeof generic, "the initializer failed with code %d", ctx.code);
        else
            snprintf(generic, sizeof generic, "the initializer returned %d", rc);
        tp_break(pool, w, generic);
    }
    return false;
}

/* Spin, without the lock, until work is queued, the pool closes, or time
 * runs out (then the caller steals, or sleeps). It yields the CPU between
 * rounds: the thread it has just woken (a caller waiting for a result) is
 * often queued on this very CPU, and must not wait for the spin to end; nor
 * must another process's thread. */
static void tp_spin(tp_pool *pool)
{
    int64_t until = cf__now_ns() + TP_SPIN_NS;
    do {
        for (int i = 0; i < TP_SPIN_CHECKS; i++) {
            if (tp_queued(pool) > 0 || atomic_load_explicit(&pool->closing, memory_order_relaxed))
                return;
            cf__cpu_relax();
        }
        sched_yield();
    } while (cf__now_ns() < until);
}

static void tp_destroy(tp_pool *pool)
{
    for (tp_worker *w = tp_first_worker(pool), *next; w != NULL; w = next) {
        next = tp_next_worker(w);
        pthread_cond_destroy(&w->wake_cond);
        cf__free(w);
    }
    pthread_cond_destroy(&pool->exit_cond);
    pthread_mutex_destroy(&pool->mu);
    cf__free(pool->prefix);
    cf__free(pool);
}

/* Run f (claimed, with the executor's reference) as w's current future; the
 * reference goes to finished[], released later. */
static void tp_run(tp_worker *w, cf_future *f, cf_future **finished, size_t *nfinished)
{
    atomic_store_explicit(&w->current, f, memory_order_release);
    if (cf__future_start(f) == 0)
        cf__task_run(f, w->origin);
    finished[(*nfinished)++] = f;
}

/* Fill w's slots (all empty) with n futures (mu held): from fs[], or when
 * fs is NULL, a fair share of the queue (n is then computed). Returns n. */
static size_t tp_fill_local(tp_pool *pool, tp_worker *w, cf_future **fs, size_t n)
{
    if (fs == NULL) {
        n = tp_queued(pool) / pool->nthreads;
        n = n < 1 ? 1 : n > TP_LOCAL_MAX ? TP_LOCAL_MAX : n;
    }
    atomic_fetch_add_explicit(&w->nlocal, n, memory_order_relaxed);
    for (size_t i = 0; i < n; i++)
        atomic_store_explicit(&w->slot[i], fs != NULL ? fs[i] : tp_dequeue(pool),
                              memory_order_release);
    return n;
}

static void *tp_worker_main(void *arg)
{
    tp_worker *w = arg;
    tp_pool *pool = w->pool;
    tp_self = w;
    cf__future_track_callbacks(&w->in_callbacks);
    pthread_setname_np(pthread_self(), w->os_name);

    bool ready = pool->initializer == NULL || tp_run_initializer(w);
    cf_future *finished[TP_LOCAL_MAX]; /* run; the executor's references still to release */
    size_t nfinished = 0;
    pthread_mutex_lock(&pool->mu);
    if (pool->initializer != NULL)
        pool->nsearching++;
    /* From here on (and at the top of the loop) this worker is counted idle
     * and searching, with its slots all claimed. */
    bool spun = false; /* spun since it last found work */
    while (ready) {
        size_t n = 0;
        if (pool->head != NULL) {
            n = tp_fill_local(pool, w, NULL, 0);
        } else if (!spun && pool->nspinning < pool->spin_limit && !pool->shutdown &&
                   !pool->broken) {
            /* First wait a little for the queue: in a stream of tiny tasks
             * it refills at once, and taking from it costs less than
             * stealing from a busy worker. */
            pool->nspinning++;
            pthread_mutex_unlock(&pool->mu);
            tp_release_all(finished, &nfinished);
            tp_spin(pool);
            pthread_mutex_lock(&pool->mu);
            pool->nspinning--;
            spun = true;
            continue;
        } else if (tp_any_local(pool)) {
            cf_future *stolen[TP_LOCAL_MAX];
            pthread_mutex_unlock(&pool->mu);
            size_t nstolen = tp_steal(pool, w, stolen);
            if (nstolen == 0)
                sched_yield(); /* a claim under way: let it finish */
            pthread_mutex_lock(&pool->mu);
            if (nstolen == 0)
                continue; /* someone else claimed them: look again */
            /* Into this worker's slots, where others may steal them back. */
            n = tp_fill_local(pool, w, stolen, nstolen);
        }
        if (n > 0) {
            spun = false;
            pool->nidle--;
            pool->nsearching--;
            tp_worker *next = tp_pass_on(pool, n > 1);
            pthread_mutex_unlock(&pool->mu);
            if (next != NULL)
                pthread_cond_signal(&next->wake_cond);
            tp_release_all(finished, &nfinished);
            for (size_t i = 0; i < n; i++) {
                cf_future *f = tp_claim(w, i);
                if (f != NULL) /* else stolen, or claimed by a cancelling shutdown */
                    tp_run(w, f, finished, &nfinished);
            }
            pthread_mutex_lock(&pool->mu);
            atomic_store_explicit(&w->current, NULL, memory_order_relaxed);
            pool->nidle++;
            pool->nsearching++;
            continue;
        }
        if (pool->shutdown || pool->broken)
            break;
        if (nfinished > 0) {
            pthread_mutex_unlock(&pool->mu);
            tp_release_all(finished, &nfinished);
            pthread_mutex_lock(&pool->mu);
            continue;
        }
        /* Sleep until a submit, a worker or the shutdown pops this worker. */
        pool->nsearching--;
        w->woken = false;
        w->next_sleeper = pool->sleepers;
        pool->sleepers = w;
        while (!w->woken)
            pthread_cond_wait(&w->wake_cond, &pool->mu);
        spun = false;
    }

    pool->nidle--;
    pool->nsearching--;
    pool->nthreads--;
    bool last = pool->nthreads == 0;
    if (last)
        pthread_cond_broadcast(&pool->exit_cond);
    bool free_pool = last && pool->free_on_exit;
    tp_self = NULL;
    pthread_mutex_unlock(&pool->mu);
    tp_release_all(finished, &nfinished);
    if (free_pool)
        tp_destroy(pool);
    return NULL;
}

/* ---- Executor ops -------------------------------------------------------------- */

static int tp_submit(cf_executor *ex, cf_future *f, const cf_submit_options *opts)
{
    tp_pool *pool = (tp_pool *)ex;
    int rc;
    if (opts != NULL && opts->timeout != 0)
        return cf__fail(CF_EUNSUPPORTED,
                        "cf_submit: a thread pool cannot stop a running task, so it takes no "
                        "time limit (use a process pool)");
    pthread_mutex_lock(&pool->mu);
    if (pool->broken) {
        rc = cf__fail(CF_EBROKEN, "cf_submit: the pool is broken: %s", pool->broken_msg);
        goto refused;
    }
    if (pool->shutdown) {
        rc = cf__fail(CF_ESHUTDOWN, "cf_submit: the thread pool is shut down");
        goto refused;
    }
    tp_enqueue(pool, cf_future_retain(f));
    if (pool->nthreads < pool->max_workers) {
        size_t pending = tp_queued(pool);
        if (pending <= pool->nidle)
            pending += tp_count_local(pool);
        if (pending > pool->nidle && pending > pool->nidle + tp_count_finishing(pool)) {
            rc = tp_spawn(pool);
            if (rc != 0 && pool->nthreads == 0) {
                /* Nobody could ever run it: take it back. */
                tp_unqueue(pool, f);
                pthread_mutex_unlock(&pool->mu);
                cf_future_release(f);
                return cf__fail(rc, "cf_submit: cannot start a worker thread: %s",
                                cf_strerror(rc));
            }
        }
    }
    tp_worker *wake = NULL;
    if (pool->nsearching == 0 && pool->sleepers != NULL)
        wake = tp_pop_sleeper(pool);
    pthread_mutex_unlock(&pool->mu);
    if (wake != NULL)
        pthread_cond_signal(&wake->wake_cond);
    return 0;

refused:
    pthread_mutex_unlock(&pool->mu);
    return rc;
}

static int tp_shutdown(cf_executor *ex, unsigned flags, double timeout)
{
    tp_pool *pool = (tp_pool *)ex;
    int64_t deadline;
    cf__deadline(timeout, &deadline); /* NaN was refused already */

    pthread_mutex_lock(&pool->mu);
    tp_close(pool);
    /* Threads cannot be stopped: terminating only cancels what is pending. */
    bool cancel = flags & (CF_SHUTDOWN_CANCEL_FUTURES | CF_SHUTDOWN_TERMINATE);
    cf_future *queue = cancel ? tp_take_all(pool) : NULL;
    pthread_mutex_unlock(&pool->mu);
    if (cancel) {
        /* What workers took but did not start is pending too: first, as it
         * was submitted first. */
        tp_cancel_list(tp_claim_all_local(pool));
        tp_cancel_list(queue);
    }

    if (!(flags & CF_SHUTDOWN_WAIT))
        return 0;
    if (tp_is_own_worker(pool))
        return cf__fail(CF_EDEADLOCK,
                        "cf_executor_shutdown: cannot wait for the pool from one of its own "
                        "workers (the pool is shut down)");
    int rc = 0;
    pthread_mutex_lock(&pool->mu);
    while (pool->nthreads > 0) {
        if (cf__cond_wait_until(&pool->exit_cond, &pool->mu, deadline) == ETIMEDOUT &&
            pool->nthreads > 0) {
            rc = cf__fail(CF_ETIMEDOUT,
                          "cf_executor_shutdown: %zu worker(s) still running, %zu future(s) "
                          "pending",
                          pool->nthreads, tp_queued(pool) + tp_count_local(pool));
            break;
        }
    }
    pthread_mutex_unlock(&pool->mu);
    return rc;
}

static void tp_free(cf_executor *ex)
{
    tp_pool *pool = (tp_pool *)ex;
    if (tp_is_own_worker(pool)) {
        /* This thread is a live worker, so the last worker to exit is still
         * to come: it frees the pool. */
        pthread_mutex_lock(&pool->mu);
        tp_close(pool);
        pool->free_on_exit = true;
        for (tp_worker *w = tp_first_worker(pool); w != NULL; w = tp_next_worker(w))
            pthread_detach(w->thread);
        pthread_mutex_unlock(&pool->mu);
        return;
    }
    tp_shutdown(ex, CF_SHUTDOWN_WAIT, CF_FOREVER);
    /* Every worker has exited its loop; none starts any more. */
    for (tp_worker *w = tp_first_worker(pool); w != NULL; w = tp_next_worker(w))
        pthread_join(w->thread, NULL);
    tp_destroy(pool);
}

static size_t tp_max_workers(const cf_executor *ex)
{
    return ((const tp_pool *)ex)->max_workers;
}

static bool tp_is_own_thread(const cf_executor *ex)
{
    return tp_is_own_worker((const tp_pool *)ex);
}

static const cf__executor_ops tp_ops = {
    .kind = "thread_pool",
    .shares_memory = true,
    .submit = tp_submit,
    .shutdown = tp_shutdown,
    .free = tp_free,
    .max_workers = tp_max_workers,
    .is_own_thread = tp_is_own_thread,
};

size_t cf__thread_pool_local(cf_executor *ex)
{
    if (ex == NULL || ex->ops != &tp_ops)
        return 0;
    return tp_count_local((tp_pool *)ex);
}

int cf_thread_pool_new(cf_executor **out, const cf_thread_pool_options *opts)
{
    if (out == NULL)
        return cf__fail(CF_EINVAL, "cf_thread_pool_new: NULL out");
    *out = NULL;
    static const cf_thread_pool_options defaults = {0};
    if (opts == NULL)
        opts = &defaults;

    tp_pool *pool = cf__calloc(1, sizeof *pool);
    if (pool == NULL)
        return cf__fail(-ENOMEM, "cf_thread_pool_new: out of memory");
    pool->base.ops = &tp_ops;
    pool->max_workers = opts->max_workers > 0 ? opts->max_workers : tp_default_max_workers();
    pool->spin_limit = cf__cpu_count() / 2;
    pool->initializer = opts->initializer;
    pool->initializer_arg = opts->initializer_arg;
    if (opts->thread_name_prefix != NULL) {
        pool->prefix = cf__strdup(opts->thread_name_prefix);
    } else {
        char prefix[32];
        snprintf(prefix, sizeof prefix, "cf-%lu",
                 atomic_fetch_add_explicit(&tp_unnamed_pools, 1, memory_order_relaxed));
        pool->prefix = cf__strdup(prefix);
    }
    atomic_init(&pool->queued, 0);
    atomic_init(&pool->closing, false);
    atomic_init(&pool->workers, NULL);
    if (pool->prefix == NULL) {
        cf__free(pool);
        return cf__fail(-ENOMEM, "cf_thread_pool_new: out of memory");
    }

    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ADAPTIVE_NP);
    int rc = -pthread_mutex_init(&pool->mu, &attr);
    pthread_mutexattr_destroy(&attr);
    if (rc != 0) {
        cf__free(pool->prefix);
        cf__free(pool);
        return cf__fail(rc, "cf_thread_pool_new: cannot create a mutex");
    }
    rc = cf__cond_init(&pool->exit_cond);
    if (rc != 0) {
        pthread_mutex_destroy(&pool->mu);
        cf__free(pool->prefix);
        cf__free(pool);
        return cf__fail(rc, "cf_thread_pool_new: cannot create a condition variable");
    }
    *out = &pool->base;
    return 0;
}
