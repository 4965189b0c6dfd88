/* lock.c: Lock and RLock shared between processes.
 *
 * Design notes
 * - Memory: each lock made by cf_lock_new / cf_rlock_new is its own shared
 *   mapping (lib/pshared.h), inherited by the processes forked after it;
 *   free unmaps it in the calling process only. An RLock may also sit inside
 *   another object's mapping (`embedded`): that object frees it.
 * - Both are one robust, process-shared, error-checking mutex. A holder that
 *   dies is reported to the next acquirer as CF_EOWNERDEAD, by the kernel's
 *   robust-list walk; the mutex is made consistent at once (pshared.c).
 * - RLock depth: the mutex is held once whatever the depth; `depth` counts
 *   the rest. Only the owner reads or writes it, under the mutex, so it
 *   needs no atomics. Re-acquiring is recognised by the mutex refusing a
 *   second lock with EDEADLK (it checks the owner's thread id, which the
 *   kernel clears when the owner dies), so a dead owner's stale depth is
 *   never mistaken for ours: the next acquirer gets EOWNERDEAD and restarts
 *   it at 1. Keeping the depth here, not in a recursive mutex, lets a
 *   condition release an RLock completely and restore it (condition.c).
 */
#include "config.h"

#include "lock_priv.h"

#include <errno.h>
#include <linux/futex.h>

#include "clock.h"
#include "error_priv.h"
#include "pshared.h"

/* ---- Shared by both ---------------------------------------------------------------- */

static int cf__sync_deadline(const char *caller, double timeout, int64_t *deadline)
{
    if (cf__deadline(timeout, deadline) != 0)
        return cf__fail(CF_EINVAL, "%s: the timeout is NaN", caller);
    return 0;
}

/* Records a message for a non-zero result of an acquire. */
static int cf__acquired(const char *caller, int rc)
{
    switch (rc) {
    case 0:
        return 0;
    case CF_EOWNERDEAD:
        return cf__fail(rc, "%s: acquired, but its previous holder died holding it", caller);
    case CF_ETIMEDOUT:
        return cf__fail(rc, "%s: timed out", caller);
    case CF_EDEADLOCK:
        return cf__fail(rc, "%s: the calling thread already holds this lock", caller);
    default:
        return cf__fail(rc, "%s: %s", caller, cf_strerror(rc));
    }
}

/* ---- Lock ------------------------------------------------------------------------ */

int cf__lock_init(cf_lock *lock)
{
    return cf__pmutex_init(&lock->mu, false);
}

int cf_lock_new(cf_lock **out)
{
    if (out == NULL)
        return cf__fail(CF_EINVAL, "cf_lock_new: NULL out");
    *out = NULL;
    void *mem;
    int rc = cf__pshared_new(&mem, sizeof(cf_lock), "cf_lock_new");
    if (rc != 0)
        return rc;
    cf_lock *lock = mem;
    rc = cf__lock_init(lock);
    if (rc != 0) {
        cf__pshared_free(lock, sizeof *lock);
        return cf__fail(rc, "cf_lock_new: cannot make the mutex: %s", cf_strerror(rc));
    }
    *out = lock;
    return 0;
}

void cf_lock_free(cf_lock *lock)
{
    cf__pshared_free(lock, sizeof *lock);
}

int cf_lock_acquire(cf_lock *lock, double timeout)
{
    int64_t deadline;
    if (lock == NULL)
        return cf__fail(CF_EINVAL, "cf_lock_acquire: NULL lock");
    int rc = cf__sync_deadline("cf_lock_acquire", timeout, &deadline);
    if (rc != 0)
        return rc;
    return cf__acquired("cf_lock_acquire", cf__pmutex_lock(&lock->mu, deadline));
}

int cf_lock_release(cf_lock *lock)
{
    if (lock == NULL)
        return cf__fail(CF_EINVAL, "cf_lock_release: NULL lock");
    int rc = cf__pmutex_unlock(&lock->mu);
    if (rc != 0)
        return cf__fail(rc, "cf_lock_release: the calling thread does not hold this lock");
    return 0;
}

bool cf_lock_locked(const cf_lock *lock)
{
    if (lock == NULL)
        return false;
    /* The owner's thread id, which the kernel clears when the owner dies. */
    unsigned word = (unsigned)__atomic_load_n(&lock->mu.__data.__lock, __ATOMIC_RELAXED);
    return (word & FUTEX_TID_MASK) != 0;
}

/* ---- RLock ------------------------------------------------------------------------ */

int cf__rlock_init(cf_rlock *rlock, bool embedded)
{
    rlock->depth = 0;
    rlock->embedded = embedded;
    return cf__pmutex_init(&rlock->mu, false);
}

int cf__rlock_acquire(cf_rlock *rlock, int64_t deadline)
{
    int rc = cf__pmutex_lock(&rlock->mu, deadline);
    if (rc == CF_EDEADLOCK) { /* ours already */
        if (rlock->depth == UINT32_MAX)
            return -EAGAIN;
        rlock->depth++;
        return 0;
    }
    if (rc == 0 || rc == CF_EOWNERDEAD)
        rlock->depth = 1;
    return rc;
}

int cf__rlock_release(cf_rlock *rlock)
{
    if (!cf__pmutex_held(&rlock->mu))
        return CF_ESTATE;
    if (rlock->depth > 1) {
        rlock->depth--;
        return 0;
    }
    rlock->depth = 0;
    return cf__pmutex_unlock(&rlock->mu);
}

bool cf__rlock_held(cf_rlock *rlock)
{
    return cf__pmutex_held(&rlock->mu);
}

int cf_rlock_new(cf_rlock **out)
{
    if (out == NULL)
        return cf__fail(CF_EINVAL, "cf_rlock_new: NULL out");
    *out = NULL;
    void *mem;
    int rc = cf__pshared_new(&mem, sizeof(cf_rlock), "cf_rlock_new");
    if (rc != 0)
        return rc;
    cf_rlock *rlock = mem;
    rc = cf__rlock_init(rlock, false);
    if (rc != 0) {
        cf__pshared_free(rlock, sizeof *rlock);
        return cf__fail(rc, "cf_rlock_new: cannot make the mutex: %s", cf_strerror(rc));
    }
    *out = rlock;
    return 0;
}

void cf_rlock_free(cf_rlock *rlock)
{
    if (rlock != NULL && !rlock->embedded)
        cf__pshared_free(rlock, sizeof *rlock);
}

int cf_rlock_acquire(cf_rlock *rlock, double timeout)
{
    int64_t deadline;
    if (rlock == NULL)
        return cf__fail(CF_EINVAL, "cf_rlock_acquire: NULL lock");
    int rc = cf__sync_deadline("cf_rlock_acquire", timeout, &deadline);
    if (rc != 0)
        return rc;
    rc = cf__rlock_acquire(rlock, deadline);
    if (rc == -EAGAIN)
        return cf__fail(rc, "cf_rlock_acquire: already held %u times", UINT32_MAX);
    return cf__acquired("cf_rlock_acquire", rc);
}

int cf_rlock_release(cf_rlock *rlock)
{
    if (rlock == NULL)
        return cf__fail(CF_EINVAL, "cf_rlock_release: NULL lock");
    int rc = cf__rlock_release(rlock);
    if (rc != 0)
        return cf__fail(rc, "cf_rlock_release: the calling thread does not hold this lock");
    return 0;
}
