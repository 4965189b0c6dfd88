/* lock_priv.h: the shared-memory layout of cf_lock and cf_rlock, for the
 * objects built on them (conditions, shared values) (private).
 *
 * Both live in memory from cf__pshared_alloc: on their own mapping when made
 * by cf_lock_new / cf_rlock_new, or inside another object's mapping
 * (a condition's own lock, a shared value's lock), which the owning object
 * releases.
 */
#ifndef CF_LOCK_PRIV_H
#define CF_LOCK_PRIV_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <cfutures/sync.h>

struct cf_lock {
    pthread_mutex_t mu; /* robust, error-checking (cf__pmutex_init) */
};

struct cf_rlock {
    pthread_mutex_t mu; /* robust, error-checking: held once whatever the depth */
    uint32_t depth;     /* how many times the owner holds it; only the owner touches it */
    bool embedded;      /* part of another object's mapping: cf_rlock_free leaves it */
};

/* Make a lock / a recursive lock in zeroed shared memory. Return 0 or -errno. */
int cf__lock_init(cf_lock *lock);
int cf__rlock_init(cf_rlock *rlock, bool embedded);

/* Acquire once more, before `deadline` (lib/clock.h). Returns 0,
 * CF_EOWNERDEAD (depth 1, its previous owner died), CF_ETIMEDOUT, or
 * -EAGAIN (depth at its limit). Records no message. */
int cf__rlock_acquire(cf_rlock *rlock, int64_t deadline);

/* Release once. 0, or CF_ESTATE (the caller does not hold it). Records no
 * message. */
int cf__rlock_release(cf_rlock *rlock);

/* Whether the calling thread holds it. */
bool cf__rlock_held(cf_rlock *rlock);

#endif
