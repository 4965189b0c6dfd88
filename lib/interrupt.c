/* interrupt.c: cf_interrupt_waits() and the doorbells of interruptible waits.
 *
 * Design notes
 * - The interrupt is a process-wide counter (cf__interrupts), raised by
 *   cf_interrupt_waits() and lowered to 0 by cf_interrupt_clear(). It stays
 *   raised until cleared ("sticky"), so a signal that arrives just before a
 *   thread starts waiting is not lost: that wait returns CF_EINTERRUPTED at
 *   once.
 * - A signal handler may call cf_interrupt_waits() at any moment, in any
 *   thread, including the waiting thread itself. It may only use atomics and
 *   system calls: no locks, no allocation. So a waiter about to sleep
 *   publishes its doorbell in a fixed table of slots (`sleepers`), and the
 *   interrupt rings every doorbell in the table: it adds 1 to the word (so a
 *   waiter between its last check and the futex call finds the value changed
 *   and does not sleep) and futex-wakes it.
 * - Lifetimes: a doorbell usually lives in the waiter's stack frame. The
 *   interrupt marks a slot busy (the low bit) with a CAS before touching the
 *   doorbell and clears the mark after; a waiter leaving takes its slot back
 *   with a CAS from the unmarked value, spinning while it is marked. So the
 *   interrupt never writes to a doorbell whose waiter has gone. A handler
 *   never waits for anything: a slot already marked (by a handler it
 *   interrupted) is left to that handler, which rings it afterwards.
 * - A full table (more than CF__SLEEPER_SLOTS threads asleep at once) does
 *   not lose interrupts: a waiter that finds no free slot sleeps in slices of
 *   CF__UNLISTED_SLICE_NS and checks the counter between them.
 * - After fork() the child has only the forking thread: its table is emptied
 *   and its interrupt lowered (pthread_atfork), so a worker forked after a
 *   Ctrl-C does not start interrupted.
 */
#include "config.h"

#include "interrupt_priv.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>

#include <cfutures.h>

#include "clock.h"
#include "futex.h"

_Atomic uint32_t cf__interrupts;

#define CF__SLEEPER_SLOTS 256
#define CF__UNLISTED_SLICE_NS 10000000 /* 10 ms */

/* The doorbells threads are asleep on: the word's address, its low bit set
 * while an interrupt rings it; 0 for a free slot. */
static _Atomic uintptr_t sleepers[CF__SLEEPER_SLOTS];

void cf_interrupt_waits(void)
{
    int saved = errno; /* a signal handler must leave errno as it found it */
    atomic_fetch_add_explicit(&cf__interrupts, 1, memory_order_seq_cst);
    for (size_t i = 0; i < CF__SLEEPER_SLOTS; i++) {
        uintptr_t v = atomic_load_explicit(&sleepers[i], memory_order_seq_cst);
        if (v == 0 || (v & 1))
            continue;
        if (!atomic_compare_exchange_strong_explicit(&sleepers[i], &v, v | 1,
                                                     memory_order_seq_cst, memory_order_relaxed))
            continue; /* left, or another handler has it */
        _Atomic uint32_t *word = (_Atomic uint32_t *)v;
        atomic_fetch_add_explicit(word, 1, memory_order_seq_cst);
        cf__futex_wake(word, INT_MAX);
        atomic_store_explicit(&sleepers[i], v, memory_order_release);
    }
    errno = saved;
}

unsigned cf_interrupt_clear(void)
{
    return atomic_exchange_explicit(&cf__interrupts, 0, memory_order_acq_rel);
}

bool cf_interrupt_pending(void)
{
    return cf__interrupted();
}

/* Publish word in a free slot. Returns the slot, or -1 when all are taken. */
static int cf__sleeper_add(_Atomic uint32_t *word)
{
    uintptr_t v = (uintptr_t)word;
    size_t start = (v >> 4) % CF__SLEEPER_SLOTS;
    for (size_t k = 0; k < CF__SLEEPER_SLOTS; k++) {
        size_t i = (start + k) % CF__SLEEPER_SLOTS;
        uintptr_t expected = 0;
        if (atomic_load_explicit(&sleepers[i], memory_order_relaxed) == 0 &&
            atomic_compare_exchange_strong_explicit(&sleepers[i], &expected, v,
                                                    memory_order_seq_cst, memory_order_relaxed))
            return (int)i;
    }
    return -1;
}

/* Take the slot back; waits out an interrupt that is ringing it. */
static void cf__sleeper_remove(int slot, _Atomic uint32_t *word)
{
    uintptr_t v = (uintptr_t)word;
    for (;;) {
        uintptr_t expected = v;
        if (atomic_compare_exchange_weak_explicit(&sleepers[slot], &expected, 0,
                                                  memory_order_seq_cst, memory_order_relaxed))
            return;
        cf__cpu_relax();
        if (expected & 1)
            sched_yield(); /* a handler in another thread is ringing it */
    }
}

void cf__bell_ring(cf__bell *b)
{
    atomic_fetch_add_explicit(&b->seq, 1, memory_order_release);
    cf__futex_wake(&b->seq, INT_MAX);
}

int cf__bell_sleep(cf__bell *b, uint32_t seen, int64_t deadline, bool interruptible)
{
    if (!interruptible)
        return cf__futex_wait(&b->seq, seen, deadline);
    int slot = cf__sleeper_add(&b->seq);
    /* Check after publishing: an interrupt raised from here on rings b. */
    int rc;
    if (cf__interrupted()) {
        rc = CF_EINTERRUPTED;
    } else if (slot >= 0) {
        rc = cf__futex_wait(&b->seq, seen, deadline);
    } else {
        int64_t slice = cf__now_ns() + CF__UNLISTED_SLICE_NS;
        rc = cf__futex_wait(&b->seq, seen, slice < deadline ? slice : deadline);
        if (rc == ETIMEDOUT && slice < deadline)
            rc = 0; /* only the slice ended: the caller looks again */
    }
    if (slot >= 0)
        cf__sleeper_remove(slot, &b->seq);
    if (rc == 0 && cf__interrupted())
        rc = CF_EINTERRUPTED;
    return rc;
}

int cf__bell_wait(cf__bell *b, pthread_mutex_t *mu, int64_t deadline, bool interruptible)
{
    uint32_t seen = cf__bell_value(b);
    if (interruptible && cf__interrupted())
        return CF_EINTERRUPTED;
    pthread_mutex_unlock(mu);
    int rc = cf__bell_sleep(b, seen, deadline, interruptible);
    pthread_mutex_lock(mu);
    return rc;
}

static void cf__interrupt_after_fork(void)
{
    for (size_t i = 0; i < CF__SLEEPER_SLOTS; i++)
        atomic_store_explicit(&sleepers[i], 0, memory_order_relaxed);
    atomic_store_explicit(&cf__interrupts, 0, memory_order_relaxed);
}

__attribute__((constructor)) static void cf__interrupt_init(void)
{
    pthread_atfork(NULL, NULL, cf__interrupt_after_fork);
}
