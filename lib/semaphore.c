/* semaphore.c: Semaphore and BoundedSemaphore shared between processes.
 *
 * Design notes
 * - Memory: one shared mapping per semaphore (lib/pshared.h), inherited by
 *   the processes forked after it; free unmaps it in the calling process.
 * - No mutex: the value is one atomic word, changed only by compare-and-swap
 *   (take a permit while it is positive; give one back while under the
 *   bound). A process that dies at any instant leaves it consistent; a
 *   permit it took is simply not given back.
 * - Sleeping: an acquirer finding no permit counts itself in `waiters` and
 *   sleeps on the value's futex while it is 0. A release increments the
 *   value, then wakes one sleeper if `waiters` says there may be one; both
 *   sides are sequentially consistent, so either the releaser sees the
 *   waiter or the waiter's futex sees the new value (as glibc's sem_t). A
 *   woken acquirer that loses the permit to another sleeps again. The kernel
 *   drops a dead sleeper from the futex queue, so a wake-up never goes to
 *   it; a waiter that dies stays counted, which only costs later releases a
 *   system call.
 */
#include "config.h"

#include <cfutures/sync.h>
#include <errno.h>
#include <limits.h>
#include <stdatomic.h>

#include "clock.h"
#include "error_priv.h"
#include "pshared.h"

struct cf_semaphore {
    _Atomic uint32_t value;
    _Atomic uint32_t waiters;
    bool bounded;
    uint32_t bound; /* the initial value, when bounded */
};

static int cf__semaphore_make(cf_semaphore **out, unsigned value, bool bounded, const char *caller)
{
    if (out == NULL)
        return cf__fail(CF_EINVAL, "%s: NULL out", caller);
    *out = NULL;
    void *mem;
    int rc = cf__pshared_new(&mem, sizeof(cf_semaphore), caller);
    if (rc != 0)
        return rc;
    cf_semaphore *sem = mem;
    atomic_init(&sem->value, value);
    atomic_init(&sem->waiters, 0);
    sem->bounded = bounded;
    sem->bound = value;
    *out = sem;
    return 0;
}

int cf_semaphore_new(cf_semaphore **out, unsigned value)
{
    return cf__semaphore_make(out, value, false, "cf_semaphore_new");
}

int cf_semaphore_new_bounded(cf_semaphore **out, unsigned value)
{
    return cf__semaphore_make(out, value, true, "cf_semaphore_new_bounded");
}

void cf_semaphore_free(cf_semaphore *sem)
{
    cf__pshared_free(sem, sizeof *sem);
}

/* Takes a permit if there is one. */
static bool cf__semaphore_take(cf_semaphore *sem)
{
    uint32_t v = atomic_load(&sem->value);
    while (v > 0)
        if (atomic_compare_exchange_weak(&sem->value, &v, v - 1))
            return true;
    return false;
}

int cf_semaphore_acquire(cf_semaphore *sem, double timeout)
{
    int64_t deadline;
    if (sem == NULL)
        return cf__fail(CF_EINVAL, "cf_semaphore_acquire: NULL semaphore");
    if (cf__deadline(timeout, &deadline) != 0)
        return cf__fail(CF_EINVAL, "cf_semaphore_acquire: the timeout is NaN");
    while (!cf__semaphore_take(sem)) {
        atomic_fetch_add(&sem->waiters, 1);
        int rc = cf__pfutex_wait(&sem->value, 0, deadline);
        atomic_fetch_sub(&sem->waiters, 1);
        if (rc == ETIMEDOUT) {
            if (cf__semaphore_take(sem))
                break;
            return cf__fail(CF_ETIMEDOUT, "cf_semaphore_acquire: timed out");
        }
    }
    return 0;
}

int cf_semaphore_release(cf_semaphore *sem)
{
    if (sem == NULL)
        return cf__fail(CF_EINVAL, "cf_semaphore_release: NULL semaphore");
    uint32_t v = atomic_load(&sem->value);
    do {
        if (sem->bounded && v >= sem->bound)
            return cf__fail(CF_ESTATE, "cf_semaphore_release: released more often than acquired "
                                       "(bounded at %u)", sem->bound);
        if (v == UINT_MAX)
            return cf__fail(-EOVERFLOW, "cf_semaphore_release: the value is at its limit");
    } while (!atomic_compare_exchange_weak(&sem->value, &v, v + 1));
    if (atomic_load(&sem->waiters) > 0)
        cf__pfutex_wake(&sem->value, 1);
    return 0;
}

unsigned cf_semaphore_value(const cf_semaphore *sem)
{
    return sem == NULL ? 0 : atomic_load(&sem->value);
}
