/* futex.h: sleeping on a 32-bit word until another thread changes it (private).
 * Linux futexes; the word itself is an atomic, so tools that model atomics
 * (TSan) see the synchronisation through it, not through the syscall. */
#ifndef CF_FUTEX_H
#define CF_FUTEX_H

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"

/* Sleep while *word == expected, until woken or the monotonic deadline
 * (CF__NO_DEADLINE: none). Returns 0 when woken or the value differs (or a
 * spurious wake-up: callers re-check), ETIMEDOUT after the deadline. */
static inline int cf__futex_wait(_Atomic uint32_t *word, uint32_t expected, int64_t deadline)
{
    struct timespec ts, *tsp = NULL;
    if (deadline != CF__NO_DEADLINE) {
        if (cf__now_ns() >= deadline)
            return ETIMEDOUT;
        ts.tv_sec = deadline / 1000000000;
        ts.tv_nsec = deadline % 1000000000;
        tsp = &ts;
    }
    long rc = syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG,
                      expected, tsp, NULL, FUTEX_BITSET_MATCH_ANY);
    if (rc == -1 && errno == ETIMEDOUT)
        return ETIMEDOUT;
    return 0;
}

/* Wake up to n sleepers on word. The word's memory is not read: waking an
 * address whose owner has just returned is harmless. */
static inline void cf__futex_wake(_Atomic uint32_t *word, int n)
{
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, n, NULL, NULL, 0);
}

/* A hint to the CPU inside a spin loop. */
static inline void cf__cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

#endif
