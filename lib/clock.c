/* clock.c: monotonic time and deadline-bounded waits. */
#include "config.h"

#include "clock.h"

#include <cfutures/error.h>
#include <errno.h>
#include <math.h>
#include <time.h>

int64_t cf__now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int cf__deadline(double timeout, int64_t *deadline)
{
    if (isnan(timeout))
        return CF_EINVAL;
    if (timeout < 0 || timeout > 1e9) { /* beyond ~31 years: no limit */
        *deadline = CF__NO_DEADLINE;
        return 0;
    }
    *deadline = cf__now_ns() + (int64_t)(timeout * 1e9);
    return 0;
}

int cf__cond_init(pthread_cond_t *cond)
{
    pthread_condattr_t attr;
    int rc = pthread_condattr_init(&attr);
    if (rc != 0)
        return -rc;
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    rc = pthread_cond_init(cond, &attr);
    pthread_condattr_destroy(&attr);
    return -rc;
}

int cf__cond_wait_until(pthread_cond_t *cond, pthread_mutex_t *mu, int64_t deadline)
{
    if (deadline == CF__NO_DEADLINE) {
        pthread_cond_wait(cond, mu);
        return 0;
    }
    if (cf__now_ns() >= deadline)
        return ETIMEDOUT;
    struct timespec ts = {.tv_sec = deadline / 1000000000, .tv_nsec = deadline % 1000000000};
    int rc = pthread_cond_timedwait(cond, mu, &ts);
    return rc == ETIMEDOUT ? ETIMEDOUT : 0;
}
