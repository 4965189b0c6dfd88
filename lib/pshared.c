/* pshared.c: shared memory, robust mutexes and condition variables for
 * related processes.
 *
 * Design notes
 * - Memory: one anonymous MAP_SHARED mapping per cf__pshared_alloc. fork()
 *   gives the child the same pages at the same address; munmap drops only
 *   the calling process's view, and the kernel frees the pages with the last
 *   one. There is no descriptor or name to leak.
 * - Mutexes: glibc's robust, process-shared, error-checking mutexes. The
 *   kernel walks each dying thread's robust list and marks the mutexes it
 *   held; the next locker gets EOWNERDEAD, and this layer makes the mutex
 *   consistent at once, so it is never left unrecoverable. Timed locking uses
 *   pthread_mutex_clocklock on CLOCK_MONOTONIC; under ThreadSanitizer, which
 *   intercepts pthread_mutex_timedlock but not clocklock, it uses timedlock
 *   on a CLOCK_REALTIME deadline derived from the monotonic one (retried when
 *   the wall clock makes it expire early), so that the tool sees every
 *   acquisition.
 * - Condition variables: a 32-bit sequence word. A waiter reads it with the
 *   mutex held, unlocks, and sleeps on a shared futex while the word is
 *   unchanged; a wake-up increments it and wakes futex sleepers. A wake-up
 *   between the read and the sleep changes the word, so the sleep returns at
 *   once: none is lost. The kernel takes a dead sleeper off the futex queue,
 *   so wake-ups only ever reach live waiters. `waiters` (incremented before
 *   the read, sequentially consistent on both sides) lets a wake-up with
 *   nobody waiting skip the system call.
 */
#include "config.h"

#include "pshared.h"

#include <cfutures/error.h>
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "error_priv.h"

#if defined(__SANITIZE_THREAD__)
#define CF__TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define CF__TSAN 1
#endif
#endif

/* ---- Shared memory ------------------------------------------------------------ */

int cf__pshared_new(void **out, size_t size, const char *caller)
{
    *out = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (*out == MAP_FAILED) {
        int err = errno;
        *out = NULL;
        return cf__fail(-err, "%s: cannot map %zu bytes of shared memory: %s", caller, size,
                        strerror(err));
    }
    return 0;
}

void *cf__pshared_alloc(size_t size)
{
    void *p;
    cf__pshared_new(&p, size, "cf__pshared_alloc");
    return p;
}

void cf__pshared_free(void *p, size_t size)
{
    if (p != NULL)
        munmap(p, size);
}

/* ---- Robust process-shared mutexes --------------------------------------------- */

int cf__pmutex_init(pthread_mutex_t *m, bool recursive)
{
    pthread_mutexattr_t attr;
    int rc = pthread_mutexattr_init(&attr);
    if (rc != 0)
        return -rc;
    if ((rc = pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED)) == 0
        && (rc = pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST)) == 0
        && (rc = pthread_mutexattr_settype(
                &attr, recursive ? PTHREAD_MUTEX_RECURSIVE : PTHREAD_MUTEX_ERRORCHECK))
               == 0)
        rc = pthread_mutex_init(m, &attr);
    pthread_mutexattr_destroy(&attr);
    return -rc;
}

/* What a pthread lock call's result means to callers. */
static int cf__pmutex_locked(pthread_mutex_t *m, int rc)
{
    switch (rc) {
    case 0:
        return 0;
    case EOWNERDEAD:
        pthread_mutex_consistent(m);
        return CF_EOWNERDEAD;
    case ETIMEDOUT:
    case EBUSY:
        return CF_ETIMEDOUT;
    case EDEADLK:
        return CF_EDEADLOCK;
    default:
        return -rc;
    }
}

#ifdef CF__TSAN
static int cf__pmutex_lock_until(pthread_mutex_t *m, int64_t deadline)
{
    for (;;) {
        int64_t left = deadline - cf__now_ns();
        if (left <= 0)
            return ETIMEDOUT;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t at = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec + left;
        ts.tv_sec = at / 1000000000;
        ts.tv_nsec = at % 1000000000;
        int rc = pthread_mutex_timedlock(m, &ts);
        if (rc != ETIMEDOUT)
            return rc;
    }
}
#else
static int cf__pmutex_lock_until(pthread_mutex_t *m, int64_t deadline)
{
    struct timespec ts = {.tv_sec = deadline / 1000000000, .tv_nsec = deadline % 1000000000};
    return pthread_mutex_clocklock(m, CLOCK_MONOTONIC, &ts);
}
#endif

int cf__pmutex_lock(pthread_mutex_t *m, int64_t deadline)
{
    if (deadline == CF__NO_DEADLINE)
        return cf__pmutex_locked(m, pthread_mutex_lock(m));
    int rc = pthread_mutex_trylock(m);
    if (rc == EBUSY && cf__now_ns() < deadline)
        rc = cf__pmutex_lock_until(m, deadline);
    return cf__pmutex_locked(m, rc);
}

int cf__pmutex_unlock(pthread_mutex_t *m)
{
    /* Checked here rather than left to pthread_mutex_unlock's EPERM, so that
     * a refused release is no misuse of the mutex in the eyes of tools. */
    if (!cf__pmutex_held(m))
        return CF_ESTATE;
    return -pthread_mutex_unlock(m);
}

bool cf__pmutex_held(pthread_mutex_t *m)
{
    /* A robust mutex's lock word holds its owner's thread id (glibc checks
     * ownership the same way); the kernel clears it when the owner dies. */
    unsigned word = (unsigned)__atomic_load_n(&m->__data.__lock, __ATOMIC_RELAXED);
    return (word & FUTEX_TID_MASK) == (unsigned)gettid();
}

/* ---- Futexes on shared words ---------------------------------------------------- */

int cf__pfutex_wait(_Atomic uint32_t *word, uint32_t expected, int64_t deadline)
{
    struct timespec ts, *tsp = NULL;
    if (deadline != CF__NO_DEADLINE) {
        if (cf__now_ns() >= deadline)
            return ETIMEDOUT;
        ts.tv_sec = deadline / 1000000000;
        ts.tv_nsec = deadline % 1000000000;
        tsp = &ts;
    }
    /* FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC time. EAGAIN (the
     * word differs) and EINTR are wake-ups like any other. */
    long rc = syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT_BITSET, expected, tsp, NULL,
                      FUTEX_BITSET_MATCH_ANY);
    if (rc == -1 && errno == ETIMEDOUT)
        return ETIMEDOUT;
    return 0;
}

void cf__pfutex_wake(_Atomic uint32_t *word, int n)
{
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE, n, NULL, NULL, 0);
}

/* ---- Condition variables ---------------------------------------------------------- */

int cf__pcond_init(cf__pcond *c)
{
    atomic_init(&c->seq, 0);
    atomic_init(&c->waiters, 0);
    return 0;
}

int cf__pcond_wait(cf__pcond *c, pthread_mutex_t *m, int64_t deadline)
{
    atomic_fetch_add(&c->waiters, 1);
    uint32_t seq = atomic_load(&c->seq);
    int rc = cf__pmutex_unlock(m);
    if (rc < 0) {
        atomic_fetch_sub(&c->waiters, 1);
        return rc;
    }
    int waited = cf__pfutex_wait(&c->seq, seq, deadline);
    atomic_fetch_sub(&c->waiters, 1);
    rc = cf__pmutex_lock(m, CF__NO_DEADLINE);
    if (rc < 0)
        return rc;
    return waited == ETIMEDOUT ? CF_ETIMEDOUT : 0;
}

int cf__pcond_wake(cf__pcond *c, int n)
{
    atomic_fetch_add(&c->seq, 1);
    if (atomic_load(&c->waiters) > 0)
        cf__pfutex_wake(&c->seq, n);
    return 0;
}

int cf__pcond_signal(cf__pcond *c)
{
    return cf__pcond_wake(c, 1);
}

int cf__pcond_broadcast(cf__pcond *c)
{
    return cf__pcond_wake(c, INT_MAX);
}
