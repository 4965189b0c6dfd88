/* condition.c: Condition shared between processes.
 *
 * Design notes
 * - Memory: one shared mapping per condition (lib/pshared.h), inherited by
 *   the processes forked after it; free unmaps it in the calling process.
 *   It holds the wait state (a cf__pcond) and a pointer to its lock, which
 *   is the same in every process (forked address spaces). A condition made
 *   without a lock has its own RLock inside its mapping.
 * - Waiting is cf__pcond_wait on the lock's robust mutex: a futex wait that
 *   a dead waiter cannot steal wake-ups from, and that reports a lock taken
 *   back from a dead holder as CF_EOWNERDEAD. An RLock is released
 *   completely for the wait: its depth is saved on the waiter's stack, set
 *   to 0 while others may own it, and restored after the mutex is retaken.
 * - Ownership is checked against the mutex's owner (cf__pmutex_held), so
 *   waiting or notifying without the lock is refused, as in Python.
 */
#include "config.h"

#include <cfutures/sync.h>
#include <errno.h>
#include <limits.h>

#include "clock.h"
#include "error_priv.h"
#include "lock_priv.h"
#include "pshared.h"

struct cf_condition {
    cf__pcond cond;
    cf_lock *lock;   /* the lock it was made over, or NULL */
    cf_rlock *rlock; /* otherwise this: the one it was given, or `own` */
    cf_rlock own;
};

static int cf__condition_make(cf_condition **out, cf_lock *lock, cf_rlock *rlock,
                              const char *caller)
{
    if (out == NULL)
        return cf__fail(CF_EINVAL, "%s: NULL out", caller);
    *out = NULL;
    void *mem;
    int rc = cf__pshared_new(&mem, sizeof(cf_condition), caller);
    if (rc != 0)
        return rc;
    cf_condition *cond = mem;
    cf__pcond_init(&cond->cond);
    cond->lock = lock;
    cond->rlock = rlock;
    if (lock == NULL && rlock == NULL) {
        rc = cf__rlock_init(&cond->own, true);
        if (rc != 0) {
            cf__pshared_free(cond, sizeof *cond);
            return cf__fail(rc, "%s: cannot make its lock: %s", caller, cf_strerror(rc));
        }
        cond->rlock = &cond->own;
    }
    *out = cond;
    return 0;
}

int cf_condition_new_with_lock(cf_condition **out, cf_lock *lock)
{
    if (lock == NULL) {
        if (out != NULL)
            *out = NULL;
        return cf__fail(CF_EINVAL, "cf_condition_new_with_lock: NULL lock");
    }
    return cf__condition_make(out, lock, NULL, "cf_condition_new_with_lock");
}

int cf_condition_new_with_rlock(cf_condition **out, cf_rlock *rlock)
{
    return cf__condition_make(out, NULL, rlock, "cf_condition_new_with_rlock");
}

void cf_condition_free(cf_condition *cond)
{
    cf__pshared_free(cond, sizeof *cond);
}

int cf_condition_acquire(cf_condition *cond, double timeout)
{
    if (cond == NULL)
        return cf__fail(CF_EINVAL, "cf_condition_acquire: NULL condition");
    return cond->lock != NULL ? cf_lock_acquire(cond->lock, timeout)
                              : cf_rlock_acquire(cond->rlock, timeout);
}

int cf_condition_release(cf_condition *cond)
{
    if (cond == NULL)
        return cf__fail(CF_EINVAL, "cf_condition_release: NULL condition");
    return cond->lock != NULL ? cf_lock_release(cond->lock) : cf_rlock_release(cond->rlock);
}

static pthread_mutex_t *cf__condition_mutex(cf_condition *cond)
{
    return cond->lock != NULL ? &cond->lock->mu : &cond->rlock->mu;
}

/* Checks the arguments and that the caller holds the lock. */
static int cf__condition_check(cf_condition *cond, const char *caller)
{
    if (cond == NULL)
        return cf__fail(CF_EINVAL, "%s: NULL condition", caller);
    if (!cf__pmutex_held(cf__condition_mutex(cond)))
        return cf__fail(CF_ESTATE, "%s: the calling thread does not hold the condition's lock",
                        caller);
    return 0;
}

/* One wait, the lock held (and given back held): 0, CF_ETIMEDOUT or
 * CF_EOWNERDEAD. Records no message. */
static int cf__condition_wait_once(cf_condition *cond, int64_t deadline)
{
    if (cond->lock != NULL)
        return cf__pcond_wait(&cond->cond, &cond->lock->mu, deadline);
    uint32_t depth = cond->rlock->depth;
    cond->rlock->depth = 0;
    int rc = cf__pcond_wait(&cond->cond, &cond->rlock->mu, deadline);
    cond->rlock->depth = depth;
    return rc;
}

static int cf__condition_waited(int rc, const char *caller)
{
    if (rc == CF_ETIMEDOUT)
        return cf__fail(rc, "%s: timed out", caller);
    if (rc == CF_EOWNERDEAD)
        return cf__fail(rc, "%s: the lock was taken back from a holder that died holding it",
                        caller);
    if (rc != 0)
        return cf__fail(rc, "%s: %s", caller, cf_strerror(rc));
    return 0;
}

int cf_condition_wait(cf_condition *cond, double timeout)
{
    int64_t deadline;
    int rc = cf__condition_check(cond, "cf_condition_wait");
    if (rc != 0)
        return rc;
    if (cf__deadline(timeout, &deadline) != 0)
        return cf__fail(CF_EINVAL, "cf_condition_wait: the timeout is NaN");
    return cf__condition_waited(cf__condition_wait_once(cond, deadline), "cf_condition_wait");
}

int cf_condition_wait_for(cf_condition *cond, bool (*predicate)(void *arg), void *arg,
                          double timeout)
{
    int64_t deadline;
    int rc = cf__condition_check(cond, "cf_condition_wait_for");
    if (rc != 0)
        return rc;
    if (predicate == NULL)
        return cf__fail(CF_EINVAL, "cf_condition_wait_for: NULL predicate");
    if (cf__deadline(timeout, &deadline) != 0)
        return cf__fail(CF_EINVAL, "cf_condition_wait_for: the timeout is NaN");
    while (!predicate(arg)) {
        rc = cf__condition_wait_once(cond, deadline);
        if (rc == CF_ETIMEDOUT && predicate(arg))
            break;
        if (rc != 0)
            return cf__condition_waited(rc, "cf_condition_wait_for");
    }
    return 0;
}

int cf_condition_notify(cf_condition *cond, unsigned n)
{
    int rc = cf__condition_check(cond, "cf_condition_notify");
    if (rc != 0)
        return rc;
    if (n > 0)
        cf__pcond_wake(&cond->cond, n > INT_MAX ? INT_MAX : (int)n);
    return 0;
}

int cf_condition_notify_all(cf_condition *cond)
{
    int rc = cf__condition_check(cond, "cf_condition_notify_all");
    if (rc != 0)
        return rc;
    cf__pcond_broadcast(&cond->cond);
    return 0;
}
