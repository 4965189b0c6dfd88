/* cfutures/sync.h: locks, semaphores, events, conditions and barriers shared
 * between processes, as Python's multiprocessing (and threading) has them.
 *
 * Who may use an object: the process that created it, every thread of it,
 * and every process forked from it after the object was created (through
 * any cf_ function or a plain fork()), with their threads. Processes forked
 * earlier, such as a process pool's workers (forked by its fork server when
 * the pool was made), do not have it. Pass the handle itself to the child:
 * it is valid there at the same address.
 *
 * Memory and release: each object is a small anonymous shared mapping (no
 * file, no descriptor, nothing in /dev/shm). `_free` releases the calling
 * process's view only; the object lives on in the other processes, and the
 * memory goes back to the system when the last process has freed it or
 * exited. A process must not free an object while another of its threads
 * is using it.
 *
 * Processes that die: a Lock or RLock whose holder dies (killed, crashed,
 * exited, or a thread that ended) is not left locked: the next acquirer gets
 * CF_EOWNERDEAD with the lock held, and later acquirers get 0. The state the
 * lock protected may be half-updated: repair or check it before releasing.
 * Semaphores, events, conditions and barriers keep their own bookkeeping
 * consistent whenever a process dies inside one of their calls. What the
 * dead process held is not given back: a permit it acquired stays taken, and
 * a barrier party that dies while waiting still counts as arrived.
 *
 * Timeouts are seconds as a double: CF_FOREVER waits without limit, 0 tries
 * once, a NaN is CF_EINVAL. A call that runs out of time returns
 * CF_ETIMEDOUT. Waits are not interrupted by signals. Every call may be made
 * from any thread of a process that may use the object. Failing calls,
 * CF_EOWNERDEAD included, record a message for cf_last_error().
 */
#ifndef CFUTURES_SYNC_H
#define CFUTURES_SYNC_H

#include "common.h"

#ifdef __cplusplus
extern "C++" {
#include <cstddef>
#include <type_traits>
}
#endif

typedef struct cf_lock cf_lock;
typedef struct cf_rlock cf_rlock;
typedef struct cf_semaphore cf_semaphore;
typedef struct cf_event cf_event;
typedef struct cf_condition cf_condition;
typedef struct cf_barrier cf_barrier;

CF_BEGIN_DECLS

/* ---- Lock ------------------------------------------------------------------------ */

/* A new, unlocked lock, in *out, for this process and the processes forked
 * from it afterwards (see the top of this header). A Lock belongs to the
 * thread that acquired it: only that thread may release it (unlike Python's
 * Lock, which any thread may release), which is what lets a dead holder be
 * detected. Never blocks.
 * Errors: CF_EINVAL (NULL out), -ENOMEM or another -errno (no memory or
 * mapping for it). */
CF_EXTERN int cf_lock_new(cf_lock **out);

/* Releases the calling process's view of the lock (see the top of this
 * header). A lock this process holds stays held in the others until this
 * process ends. NULL is ignored. Never blocks. */
CF_EXTERN void cf_lock_free(cf_lock *lock);

/* Acquires the lock, waiting at most `timeout` seconds. Blocks.
 * Returns 0; CF_EOWNERDEAD: acquired, but its previous holder died holding
 * it (what it protects may be half-updated); CF_ETIMEDOUT; CF_EDEADLOCK: the
 * calling thread already holds it; CF_EINVAL (NULL lock, NaN timeout). */
CF_EXTERN int cf_lock_acquire(cf_lock *lock, double timeout);

/* Releases the lock. Never blocks. Errors: CF_ESTATE (the calling thread
 * does not hold it), CF_EINVAL (NULL lock). */
CF_EXTERN int cf_lock_release(cf_lock *lock);

/* Whether some live thread, in any process, holds the lock right now (the
 * answer may be stale as soon as it is returned). Never blocks or fails;
 * false for NULL. */
CF_EXTERN bool cf_lock_locked(const cf_lock *lock);

/* ---- RLock ------------------------------------------------------------------------ */

/* A new, unlocked recursive lock, in *out, for this process and the
 * processes forked from it afterwards: the thread that holds it may
 * acquire it again, and must release it as many times. Never blocks.
 * Errors: CF_EINVAL (NULL out), -ENOMEM or another -errno. */
CF_EXTERN int cf_rlock_new(cf_rlock **out);

/* Releases the calling process's view of the lock, as cf_lock_free does.
 * The lock of a shared value (cf_shared_value_lock) belongs to the value:
 * freeing it here does nothing. NULL is ignored. Never blocks. */
CF_EXTERN void cf_rlock_free(cf_rlock *rlock);

/* Acquires the lock, or acquires it once more when the calling thread holds
 * it already (at once), waiting at most `timeout` seconds. Blocks.
 * Returns 0; CF_EOWNERDEAD: acquired (once), but its previous holder died
 * holding it (at any depth; what it protects may be half-updated);
 * CF_ETIMEDOUT; -EAGAIN (held 2^32 - 1 times already); CF_EINVAL (NULL lock,
 * NaN timeout). */
CF_EXTERN int cf_rlock_acquire(cf_rlock *rlock, double timeout);

/* Releases the lock once; it is free when released as many times as it was
 * acquired. Never blocks. Errors: CF_ESTATE (the calling thread does not
 * hold it), CF_EINVAL (NULL lock). */
CF_EXTERN int cf_rlock_release(cf_rlock *rlock);

/* ---- Semaphore -------------------------------------------------------------------- */

/* A new semaphore, in *out, with `value` permits, for this process and the
 * processes forked from it afterwards: cf_semaphore_acquire takes one,
 * waiting while there is none; cf_semaphore_release gives one back.
 * Never blocks. Errors: CF_EINVAL (NULL out), -ENOMEM or another -errno. */
CF_EXTERN int cf_semaphore_new(cf_semaphore **out, unsigned value);

/* The same, bounded (Python's BoundedSemaphore): a release that would take
 * the value above the initial `value` is refused with CF_ESTATE. */
CF_EXTERN int cf_semaphore_new_bounded(cf_semaphore **out, unsigned value);

/* Releases the calling process's view of the semaphore (see the top of this
 * header). NULL is ignored. Never blocks. */
CF_EXTERN void cf_semaphore_free(cf_semaphore *sem);

/* Takes one permit, waiting at most `timeout` seconds for one. Blocks.
 * Waiters are not served in any particular order. Errors: CF_ETIMEDOUT,
 * CF_EINVAL (NULL sem, NaN timeout). */
CF_EXTERN int cf_semaphore_acquire(cf_semaphore *sem, double timeout);

/* Gives one permit back, waking a waiter if there is one. Any thread of any
 * process may release, whether or not it acquired. Never blocks.
 * Errors: CF_ESTATE (bounded, and already at its initial value),
 * -EOVERFLOW (the value is at UINT_MAX), CF_EINVAL (NULL sem). */
CF_EXTERN int cf_semaphore_release(cf_semaphore *sem);

/* The number of permits available now (stale as soon as it is returned).
 * Never blocks or fails; 0 for NULL. */
CF_EXTERN unsigned cf_semaphore_value(const cf_semaphore *sem);

/* ---- Event ------------------------------------------------------------------------ */

/* A new event, in *out, not set, for this process and the processes forked
 * from it afterwards. Never blocks. Errors: CF_EINVAL (NULL out),
 * -ENOMEM or another -errno. */
CF_EXTERN int cf_event_new(cf_event **out);

/* Releases the calling process's view of the event (see the top of this
 * header). NULL is ignored. Never blocks. */
CF_EXTERN void cf_event_free(cf_event *ev);

/* Sets the event and wakes every waiter. Never blocks. Errors: CF_EINVAL
 * (NULL ev). */
CF_EXTERN int cf_event_set(cf_event *ev);

/* Clears the event. Never blocks. Errors: CF_EINVAL (NULL ev). */
CF_EXTERN int cf_event_clear(cf_event *ev);

/* Whether the event is set. Never blocks or fails; false for NULL. */
CF_EXTERN bool cf_event_is_set(const cf_event *ev);

/* Waits at most `timeout` seconds for the event to be set. Returns 0 when
 * it is set, or was set at some moment during the wait (even if cleared
 * again since, as in Python). Blocks. Errors: CF_ETIMEDOUT, CF_EINVAL (NULL
 * ev, NaN timeout). */
CF_EXTERN int cf_event_wait(cf_event *ev, double timeout);

/* ---- Condition ------------------------------------------------------------------------ */

/* A new condition variable, in *out, for this process and the processes
 * forked from it afterwards, over `lock`: a cf_lock *, a cf_rlock *,
 * or NULL for a recursive lock of its own (Python's default). Another type
 * does not compile. The lock must stay valid (not freed by this process)
 * for as long as this process uses the condition; many conditions may share
 * one lock. Never blocks. Errors: CF_EINVAL (NULL out), -ENOMEM or another
 * -errno. */
#ifdef __cplusplus
#define cf_condition_new(out, lock)                                                \
    (::cf__cxx::condition_new((out),                                               \
                              static_cast<::cf__cxx::condition_lock<               \
                                  ::std::decay<decltype(lock)>::type>::type>(lock)))
#else
#define cf_condition_new(out, lock)                                                \
    _Generic((lock), cf_lock *: cf_condition_new_with_lock,                        \
                     cf_rlock *: cf_condition_new_with_rlock,                      \
                     void *: cf_condition_new_with_rlock)((out), (lock))
#endif
CF_EXTERN int cf_condition_new_with_lock(cf_condition **out, cf_lock *lock);
/* NULL rlock: a recursive lock of its own. */
CF_EXTERN int cf_condition_new_with_rlock(cf_condition **out, cf_rlock *rlock);
CF_END_DECLS
#ifdef __cplusplus
extern "C++" {
namespace cf__cxx {
/* cf_condition_new in C++: the lock's type picks the function, as in C; a
 * null pointer constant (NULL, nullptr, 0) is a NULL rlock; any other type
 * does not compile. */
template <class L, bool = std::is_integral<L>::value> struct condition_lock {
    static_assert(!std::is_same<L, L>::value,
                  "cf_condition_new: the lock must be a cf_lock *, a cf_rlock * or NULL");
    typedef cf_rlock *type;
};
template <> struct condition_lock<cf_lock *, false> { typedef cf_lock *type; };
template <> struct condition_lock<cf_rlock *, false> { typedef cf_rlock *type; };
template <> struct condition_lock<std::nullptr_t, false> { typedef cf_rlock *type; };
template <class L> struct condition_lock<L, true> { typedef cf_rlock *type; };
inline int condition_new(cf_condition **out, cf_lock *lock)
{
    return cf_condition_new_with_lock(out, lock);
}
inline int condition_new(cf_condition **out, cf_rlock *rlock)
{
    return cf_condition_new_with_rlock(out, rlock);
}
} /* namespace cf__cxx */
} /* extern "C++" */
#endif
CF_BEGIN_DECLS

/* Releases the calling process's view of the condition (and of its own
 * lock, when it has one; a lock given to cf_condition_new stays). NULL is
 * ignored. Never blocks. */
CF_EXTERN void cf_condition_free(cf_condition *cond);

/* Acquire / release the condition's lock, exactly as cf_lock_acquire /
 * cf_rlock_acquire and cf_lock_release / cf_rlock_release do on it (same
 * results and errors; CF_EINVAL for a NULL cond). */
CF_EXTERN int cf_condition_acquire(cf_condition *cond, double timeout);
CF_EXTERN int cf_condition_release(cf_condition *cond);

/* With the lock held: releases it (an RLock completely, whatever its
 * depth), waits until notified or `timeout` seconds pass, and takes the
 * lock back (at its former depth) before returning, whatever the outcome.
 * Blocks. A wait may also end without a notification (rarely): loop on the
 * condition, or use cf_condition_wait_for. Returns 0 (woken);
 * CF_ETIMEDOUT; CF_EOWNERDEAD: woken or timed out, and the lock was taken
 * back from a holder that died holding it (what it protects may be
 * half-updated). Errors: CF_ESTATE (the calling thread does not hold the
 * lock; nothing waited), CF_EINVAL (NULL cond, NaN timeout). */
CF_EXTERN int cf_condition_wait(cf_condition *cond, double timeout);

/* With the lock held: waits until predicate(arg) returns true, at most
 * `timeout` seconds in all. The predicate runs in the calling thread with
 * the lock held, first before any wait. Blocks. Returns 0 (the predicate
 * held); CF_ETIMEDOUT (it still did not, checked once more at the end);
 * CF_EOWNERDEAD (the lock was taken back from a holder that died: returns at
 * once, without checking the predicate again). Errors: CF_ESTATE (lock not
 * held), CF_EINVAL (NULL cond or predicate, NaN timeout). */
CF_EXTERN int cf_condition_wait_for(cf_condition *cond, bool (*predicate)(void *arg), void *arg,
                                    double timeout);

/* With the lock held: wakes at least `n` of the threads waiting on the
 * condition, in any process (all of them when fewer are waiting; a few
 * more may wake). Never blocks. Errors: CF_ESTATE (the calling thread does
 * not hold the lock), CF_EINVAL (NULL cond). */
CF_EXTERN int cf_condition_notify(cf_condition *cond, unsigned n);

/* With the lock held: wakes every thread waiting on the condition. Errors
 * as cf_condition_notify. */
CF_EXTERN int cf_condition_notify_all(cf_condition *cond);

/* ---- Barrier ------------------------------------------------------------------------ */

/* What a barrier runs when its last party arrives: in that party's thread,
 * before any party is released, with the barrier's internal lock held (it
 * must not call cf_barrier_* on the same barrier). It runs in whichever
 * process arrives last, so `arg` should point at memory valid there (shared
 * memory, or memory every process had before forking). It returns 0, or
 * non-zero to break the barrier: the other parties then get CF_EBROKEN, and
 * the last one the action's code when it is negative (CF_EBROKEN
 * otherwise). */
typedef int (*cf_barrier_action)(void *arg);

/* A new barrier, in *out, for `parties` parties: threads of this process and
 * of the processes forked from it afterwards. Each cf_barrier_wait blocks
 * until `parties` of them wait, then all go on together and the barrier is
 * ready for the next round. `action` (NULL: none) runs once per round, see
 * cf_barrier_action. Never blocks. Errors: CF_EINVAL (NULL out, 0 parties),
 * -ENOMEM or another -errno. */
CF_EXTERN int cf_barrier_new(cf_barrier **out, unsigned parties, cf_barrier_action action,
                             void *arg);

/* Releases the calling process's view of the barrier (see the top of this
 * header). NULL is ignored. Never blocks. */
CF_EXTERN void cf_barrier_free(cf_barrier *b);

/* Waits, at most `timeout` seconds, until every party of this round has
 * arrived. Blocks. On success `*index` (when not NULL) is this party's
 * arrival index in the round, 0 for the first and parties - 1 for the last
 * (the one that ran the action), as Python's wait() returns it. Returns:
 *   0;
 *   CF_EBROKEN     the barrier is broken, or broke while waiting:
 *                  cf_barrier_abort, a reset during the round, another
 *                  party's timeout, a failed action, a party that died in
 *                  the action or inside the barrier's bookkeeping;
 *   CF_ETIMEDOUT   this party ran out of time, which breaks the barrier for
 *                  the others (unless it ran out before arriving, waiting
 *                  for the barrier's internal lock while an action ran);
 *   the action's code (see cf_barrier_action), in the last party, when the
 *                  action failed;
 *   CF_EDEADLOCK   called from the barrier's own action;
 *   CF_EINVAL      NULL b, NaN timeout.
 * A broken barrier stays broken until cf_barrier_reset. A party that dies in
 * the action breaks the barrier, but the parties already waiting learn of
 * it only when a call reaches the barrier's internal lock: their own
 * timeout, or any cf_barrier_* call on the barrier. */
CF_EXTERN int cf_barrier_wait(cf_barrier *b, double timeout, unsigned *index);

/* Breaks the barrier: the waiting parties and every later cf_barrier_wait
 * get CF_EBROKEN until cf_barrier_reset. Blocks only while another party
 * holds the barrier's internal lock (briefly, or while an action runs).
 * Errors: CF_EDEADLOCK (called from the barrier's own action), CF_EINVAL
 * (NULL b). */
CF_EXTERN int cf_barrier_abort(cf_barrier *b);

/* Returns the barrier to its initial, empty state: parties waiting in the
 * current round get CF_EBROKEN, and a broken barrier is mended. Blocks as
 * cf_barrier_abort does. Errors: CF_EDEADLOCK (called from the barrier's own
 * action), CF_EINVAL (NULL b). */
CF_EXTERN int cf_barrier_reset(cf_barrier *b);

/* The number of parties the barrier was made for; 0 for NULL. */
CF_EXTERN unsigned cf_barrier_parties(const cf_barrier *b);

/* How many parties wait in the current round (0 when broken; stale as soon
 * as it is returned); 0 for NULL. Never blocks or fails. */
CF_EXTERN unsigned cf_barrier_n_waiting(const cf_barrier *b);

/* Whether the barrier is broken. Never blocks or fails; false for NULL. */
CF_EXTERN bool cf_barrier_broken(const cf_barrier *b);

CF_END_DECLS

#endif
