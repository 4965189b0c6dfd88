/* pshared.h: memory, mutexes and condition variables shared between a
 * process and the processes it forks (private).
 *
 * Everything here lives in memory from cf__pshared_alloc(): an anonymous
 * MAP_SHARED mapping, inherited at the same address by every process forked
 * after it was made (directly, through the library, or with fork()), and
 * gone when the last of them unmaps it or exits. No file, no descriptor,
 * nothing in /dev/shm. Processes forked before the mapping was made (a
 * process pool's workers, forked by its fork server) do not have it.
 *
 * The mutexes are robust: when a thread or process dies holding one, the
 * next locker gets CF_EOWNERDEAD with the mutex held, and it is already made
 * consistent again. The state it protected may be half-updated.
 *
 * The condition variable (cf__pcond) is a sequence word with futexes, not a
 * pthread_cond_t: a process-shared pthread_cond_t counts its waiters in
 * shared memory, and a waiter killed inside pthread_cond_wait can take a
 * signal meant for a live one with it. A dead futex waiter simply leaves the
 * kernel's queue, so a wake-up always goes to a live waiter.
 *
 * Only the allocating functions record a message for cf_last_error(); for
 * the others, the public calls built on them do.
 */
#ifndef CF_PSHARED_H
#define CF_PSHARED_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clock.h"

/* ---- Shared memory ------------------------------------------------------------ */

/* Zeroed memory shared with every process forked after this call (an
 * anonymous MAP_SHARED mapping of `size` bytes, rounded up to pages). NULL on
 * failure, with cf__fail(-ENOMEM or -errno; -EINVAL for size 0). */
void *cf__pshared_alloc(size_t size);

/* The same for a public call: *out gets the memory, or NULL; returns 0 or
 * -errno, with a message for cf_last_error() that starts with `caller`. */
int cf__pshared_new(void **out, size_t size, const char *caller);

/* Unmaps memory from cf__pshared_alloc (the same size) in the calling
 * process only; the other processes keep theirs. NULL is ignored. */
void cf__pshared_free(void *p, size_t size);

/* ---- Robust process-shared mutexes --------------------------------------------- */

/* A process-shared, robust, error-checking mutex (recursive when asked), in
 * shared memory that no other process uses yet. Returns 0 or -errno. A mutex
 * needs no destruction: it goes with its memory. */
int cf__pmutex_init(pthread_mutex_t *m, bool recursive);

/* Lock before `deadline` (absolute CLOCK_MONOTONIC ns, or CF__NO_DEADLINE; a
 * past deadline tries once). Returns 0; CF_EOWNERDEAD: locked, but the
 * previous holder died holding it (the mutex has already been made
 * consistent, so later lockers get 0); CF_ETIMEDOUT; CF_EDEADLOCK (a
 * non-recursive mutex already held by this thread). Not interrupted by
 * signals. */
int cf__pmutex_lock(pthread_mutex_t *m, int64_t deadline);

/* 0, or CF_ESTATE (the calling thread does not hold it). */
int cf__pmutex_unlock(pthread_mutex_t *m);

/* Whether the calling thread holds `m` (a mutex from cf__pmutex_init). Reads
 * the owner the mutex records, which the kernel clears when the owner dies.
 * Never blocks. */
bool cf__pmutex_held(pthread_mutex_t *m);

/* ---- Futexes on shared words ---------------------------------------------------- */

/* Sleep while *word == expected, until woken or the deadline. Returns 0 when
 * woken, when the word differs, or spuriously (signals included): callers
 * re-check; ETIMEDOUT (positive) once the deadline has passed. */
int cf__pfutex_wait(_Atomic uint32_t *word, uint32_t expected, int64_t deadline);

/* Wake up to n sleepers on `word` in any process. */
void cf__pfutex_wake(_Atomic uint32_t *word, int n);

/* ---- Condition variables ---------------------------------------------------------- */

/* A process-shared condition variable on CLOCK_MONOTONIC. `seq` changes at
 * every signal or broadcast; `waiters` counts the threads inside
 * cf__pcond_wait (a waiter that dies there stays counted, which only costs
 * later wake-ups a system call). */
typedef struct cf__pcond {
    _Atomic uint32_t seq;
    _Atomic uint32_t waiters;
} cf__pcond;

/* Makes `c` ready (zeroed shared memory is ready too). Returns 0. */
int cf__pcond_init(cf__pcond *c);

/* With m held: wait until woken or the deadline; m is held again on return
 * (reacquired without a deadline, as pthread_cond_timedwait does). Returns 0
 * (woken, maybe spuriously: callers loop on their predicate), CF_ETIMEDOUT,
 * CF_EOWNERDEAD (m reacquired after its holder died; made consistent), or
 * CF_ESTATE (the caller did not hold m; it returns at once, m not held).
 * `m` must be held exactly once: a recursive mutex held several times stays
 * held by the waiter. */
int cf__pcond_wait(cf__pcond *c, pthread_mutex_t *m, int64_t deadline);

/* Wake every waiter / at least one waiter / at least n waiters (more may
 * wake). Call them with the mutex held, or after changing the predicate
 * under it. Return 0. */
int cf__pcond_broadcast(cf__pcond *c);
int cf__pcond_signal(cf__pcond *c);
int cf__pcond_wake(cf__pcond *c, int n);

#endif
