/* clock.h: monotonic time, deadlines and timed waits (private).
 *
 * A deadline is an absolute CLOCK_MONOTONIC time in nanoseconds, or
 * CF__NO_DEADLINE. Condition variables used with deadlines must be made with
 * cf__cond_init() (they wait on CLOCK_MONOTONIC).
 */
#ifndef CF_CLOCK_H
#define CF_CLOCK_H

#include <pthread.h>
#include <stdint.h>

#define CF__NO_DEADLINE INT64_MAX

/* Nanoseconds on CLOCK_MONOTONIC. */
int64_t cf__now_ns(void);

/* Turn a user timeout in seconds (negative: forever; 0: poll) into a deadline.
 * Returns 0, or CF_EINVAL for a NaN timeout. */
int cf__deadline(double timeout, int64_t *deadline);

/* pthread_cond_init on CLOCK_MONOTONIC. Returns 0 or -errno. */
int cf__cond_init(pthread_cond_t *cond);

/* Wait on cond until signalled or the deadline passes (never for a past
 * deadline: returns ETIMEDOUT at once). Returns 0 or ETIMEDOUT (positive).
 * Spurious wake-ups are possible: callers loop on their predicate. */
int cf__cond_wait_until(pthread_cond_t *cond, pthread_mutex_t *mu, int64_t deadline);

#endif
