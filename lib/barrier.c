/* barrier.c: Barrier shared between processes.
 *
 * Design notes
 * - Memory: one shared mapping per barrier (lib/pshared.h), inherited by the
 *   processes forked after it; free unmaps it in the calling process.
 * - State, under a robust mutex `mu`: `count` parties arrived in the current
 *   round, numbered `generation`, and `broken`. The last party runs the
 *   action (mutex held, as Python does), then ends the round: count back to
 *   0 and generation + 1, written last. Waiters sleep on `cond` until the
 *   generation moves or the barrier breaks.
 * - Rounds end by release or by reset. Unlike Python's barrier, which makes
 *   new arrivals wait until every party of the last round has left, nothing
 *   waits for the parties of an ended round to leave: a party that died
 *   waiting would hold everyone up forever. Instead a woken party reads how
 *   its round ended from `reset_rounds`, one bit per generation modulo 64
 *   (set by a reset, cleared by a release). A party could only misread it if
 *   64 later rounds ended before it took the mutex back after being woken.
 * - Death: any party that dies holding `mu` (in the action, or between two
 *   writes of the bookkeeping) breaks the barrier: the next locker gets
 *   CF_EOWNERDEAD from the robust mutex, marks it broken and wakes everyone.
 *   A party that dies while waiting (not holding `mu`) still counts as
 *   arrived. `count` and `broken` are also read without the mutex
 *   (n_waiting, broken), so they are written and read atomically.
 */
#include "config.h"

#include <cfutures/sync.h>
#include <errno.h>

#include "clock.h"
#include "error_priv.h"
#include "pshared.h"

struct cf_barrier {
    pthread_mutex_t mu;
    cf__pcond cond;
    uint32_t parties;
    uint32_t count;        /* atomic accesses */
    uint32_t broken;       /* atomic accesses */
    uint64_t generation;   /* the current round */
    uint64_t reset_rounds; /* bit g % 64: round g ended by a reset */
    cf_barrier_action action;
    void *arg;
};

#define CF__ROUND_BIT(g) ((uint64_t)1 << ((g) % 64))

int cf_barrier_new(cf_barrier **out, unsigned parties, cf_barrier_action action, void *arg)
{
    if (out == NULL)
        return cf__fail(CF_EINVAL, "cf_barrier_new: NULL out");
    *out = NULL;
    if (parties == 0)
        return cf__fail(CF_EINVAL, "cf_barrier_new: 0 parties");
    void *mem;
    int rc = cf__pshared_new(&mem, sizeof(cf_barrier), "cf_barrier_new");
    if (rc != 0)
        return rc;
    cf_barrier *b = mem;
    rc = cf__pmutex_init(&b->mu, false);
    if (rc != 0) {
        cf__pshared_free(b, sizeof *b);
        return cf__fail(rc, "cf_barrier_new: cannot make its mutex: %s", cf_strerror(rc));
    }
    cf__pcond_init(&b->cond);
    b->parties = parties;
    b->action = action;
    b->arg = arg;
    *out = b;
    return 0;
}

void cf_barrier_free(cf_barrier *b)
{
    cf__pshared_free(b, sizeof *b);
}

static void cf__barrier_break(cf_barrier *b)
{
    __atomic_store_n(&b->broken, 1, __ATOMIC_RELAXED);
    cf__pcond_broadcast(&b->cond);
}

/* Takes the mutex; a dead previous holder breaks the barrier. */
static int cf__barrier_lock(cf_barrier *b, int64_t deadline)
{
    int rc = cf__pmutex_lock(&b->mu, deadline);
    if (rc == CF_EOWNERDEAD) {
        cf__barrier_break(b);
        rc = 0;
    }
    return rc;
}

static int cf__barrier_locked(int rc, const char *caller)
{
    if (rc == CF_ETIMEDOUT)
        return cf__fail(rc, "%s: timed out", caller);
    if (rc == CF_EDEADLOCK)
        return cf__fail(rc, "%s: called from the barrier's action", caller);
    return cf__fail(rc, "%s: %s", caller, cf_strerror(rc));
}

/* Ends the current round (the mutex held); generation moves last. */
static void cf__barrier_end_round(cf_barrier *b, bool by_reset)
{
    __atomic_store_n(&b->count, 0, __ATOMIC_RELAXED);
    if (by_reset)
        b->reset_rounds |= CF__ROUND_BIT(b->generation);
    else
        b->reset_rounds &= ~CF__ROUND_BIT(b->generation);
    b->generation++;
    cf__pcond_broadcast(&b->cond);
}

int cf_barrier_wait(cf_barrier *b, double timeout, unsigned *index)
{
    int64_t deadline;
    if (b == NULL)
        return cf__fail(CF_EINVAL, "cf_barrier_wait: NULL barrier");
    if (cf__deadline(timeout, &deadline) != 0)
        return cf__fail(CF_EINVAL, "cf_barrier_wait: the timeout is NaN");
    int rc = cf__barrier_lock(b, deadline);
    if (rc != 0)
        return cf__barrier_locked(rc, "cf_barrier_wait");
    if (b->broken) {
        cf__pmutex_unlock(&b->mu);
        return cf__fail(CF_EBROKEN, "cf_barrier_wait: the barrier is broken");
    }
    uint64_t round = b->generation;
    uint32_t arrived = b->count;
    __atomic_store_n(&b->count, arrived + 1, __ATOMIC_RELAXED);
    if (arrived + 1 == b->parties) {
        if (b->action != NULL && (rc = b->action(b->arg)) != 0) {
            cf__barrier_break(b);
            cf__pmutex_unlock(&b->mu);
            return cf__fail(rc < 0 ? rc : CF_EBROKEN, "cf_barrier_wait: the barrier's action "
                            "failed with %d", rc);
        }
        cf__barrier_end_round(b, false);
        cf__pmutex_unlock(&b->mu);
        if (index != NULL)
            *index = arrived;
        return 0;
    }
    for (;;) {
        rc = cf__pcond_wait(&b->cond, &b->mu, deadline);
        if (rc == CF_EOWNERDEAD)
            cf__barrier_break(b);
        if (b->generation != round) {
            bool reset = b->reset_rounds & CF__ROUND_BIT(round);
            cf__pmutex_unlock(&b->mu);
            if (reset)
                return cf__fail(CF_EBROKEN, "cf_barrier_wait: the barrier was reset");
            if (index != NULL)
                *index = arrived;
            return 0;
        }
        if (b->broken) {
            cf__pmutex_unlock(&b->mu);
            return cf__fail(CF_EBROKEN, "cf_barrier_wait: the barrier broke while waiting");
        }
        if (rc == CF_ETIMEDOUT) {
            cf__barrier_break(b);
            cf__pmutex_unlock(&b->mu);
            return cf__fail(CF_ETIMEDOUT, "cf_barrier_wait: timed out (%u of %u parties arrived)",
                            arrived + 1, b->parties);
        }
    }
}

int cf_barrier_abort(cf_barrier *b)
{
    if (b == NULL)
        return cf__fail(CF_EINVAL, "cf_barrier_abort: NULL barrier");
    int rc = cf__barrier_lock(b, CF__NO_DEADLINE);
    if (rc != 0)
        return cf__barrier_locked(rc, "cf_barrier_abort");
    cf__barrier_break(b);
    cf__pmutex_unlock(&b->mu);
    return 0;
}

int cf_barrier_reset(cf_barrier *b)
{
    if (b == NULL)
        return cf__fail(CF_EINVAL, "cf_barrier_reset: NULL barrier");
    int rc = cf__barrier_lock(b, CF__NO_DEADLINE);
    if (rc != 0)
        return cf__barrier_locked(rc, "cf_barrier_reset");
    if (b->count > 0 || b->broken) {
        __atomic_store_n(&b->broken, 0, __ATOMIC_RELAXED);
        cf__barrier_end_round(b, true);
    }
    cf__pmutex_unlock(&b->mu);
    return 0;
}

unsigned cf_barrier_parties(const cf_barrier *b)
{
    return b == NULL ? 0 : b->parties;
}

unsigned cf_barrier_n_waiting(const cf_barrier *b)
{
    if (b == NULL || __atomic_load_n(&b->broken, __ATOMIC_RELAXED))
        return 0;
    return __atomic_load_n(&b->count, __ATOMIC_RELAXED);
}

bool cf_barrier_broken(const cf_barrier *b)
{
    return b != NULL && __atomic_load_n(&b->broken, __ATOMIC_RELAXED);
}
