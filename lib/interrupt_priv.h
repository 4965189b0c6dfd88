/* interrupt_priv.h: waits that cf_interrupt_waits() cuts short, and doorbells
 * to build them from (private).
 *
 * A doorbell is a 32-bit word whose value means nothing: a waiter reads it,
 * checks its own condition, and sleeps while the word still has the value it
 * read; anyone who changes the condition rings it (adds 1 and wakes). The
 * interrupt rings every doorbell a waiter is sleeping on, which is harmless
 * precisely because the value means nothing.
 */
#ifndef CF_INTERRUPT_PRIV_H
#define CF_INTERRUPT_PRIV_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* Nonzero while an interrupt is raised (cf_interrupt_waits was called since
 * the last cf_interrupt_clear): the count of calls since then. */
extern _Atomic uint32_t cf__interrupts;

static inline bool cf__interrupted(void)
{
    return atomic_load_explicit(&cf__interrupts, memory_order_acquire) != 0;
}

typedef struct cf__bell {
    _Atomic uint32_t seq;
} cf__bell;

static inline void cf__bell_init(cf__bell *b)
{
    atomic_init(&b->seq, 0);
}

/* Ring: every thread sleeping on b wakes and looks at its condition again.
 * The caller has changed that condition before (under the waiter's mutex,
 * when it uses one). */
void cf__bell_ring(cf__bell *b);

/* The bell's current value, to pass to cf__bell_sleep after checking the
 * condition. */
static inline uint32_t cf__bell_value(cf__bell *b)
{
    return atomic_load_explicit(&b->seq, memory_order_acquire);
}

/* Sleep until b rings after `seen` was read, the deadline passes
 * (CF__NO_DEADLINE: none) or, when `interruptible`, an interrupt is raised.
 * Returns 0 (look at the condition again: it may be a spurious wake-up),
 * ETIMEDOUT (positive), or CF_EINTERRUPTED (an interrupt is raised; returned
 * at once if it was raised before the call). */
int cf__bell_sleep(cf__bell *b, uint32_t seen, int64_t deadline, bool interruptible);

/* The same with a mutex guarding the condition: called and returning with
 * `mu` held, it reads the bell under mu, drops mu while it sleeps and takes
 * it back. Whoever changes the condition does so under mu and rings after. */
int cf__bell_wait(cf__bell *b, pthread_mutex_t *mu, int64_t deadline, bool interruptible);

#endif
