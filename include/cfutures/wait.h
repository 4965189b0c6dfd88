/* cfutures/wait.h: waiting on many futures at once.
 *
 * Both take any futures (from any executors, or made with cf_future_new) and
 * accept the same future several times. Neither keeps a future alive longer
 * than documented below. Thread-safe: any thread may complete the futures.
 */
#ifndef CFUTURES_WAIT_H
#define CFUTURES_WAIT_H

#include "common.h"
#include "future.h"

typedef enum cf_return_when {
    CF_FIRST_COMPLETED = 1, /* any future done */
    CF_FIRST_EXCEPTION,     /* any future failed (cancelled does not count), else all done */
    CF_ALL_COMPLETED        /* every future done */
} cf_return_when;

typedef struct cf_as_completed cf_as_completed;

CF_BEGIN_DECLS

/* Wait until the condition `when` holds for fs[0..n), or `timeout` seconds pass.
 * Returns at once if it already holds. A timeout is not an error: on return,
 * done[i] (when done is not NULL) tells whether fs[i] was done at that moment
 * and *n_done (when not NULL) counts those i (duplicates counted per entry).
 * n == 0 returns at once.
 * Errors: CF_EINVAL (NULL fs with n > 0, a NULL entry, a bad `when`, a NaN
 * timeout), -ENOMEM. On error nothing is written. */
CF_EXTERN int cf_wait(cf_future *const *fs, size_t n, cf_return_when when, double timeout,
                      bool *done, size_t *n_done);

/* An iterator over futures in the order they complete: those already done
 * when added come first (in the order given), then each as it completes.
 * Each distinct future is yielded once however often it is added.
 * The iterator holds a reference to every future not yet yielded.
 * `timeout` (seconds from this call; CF_FOREVER for none) bounds the whole
 * iteration. *out gets the iterator.
 * Errors: CF_EINVAL (NULL out, NULL fs with n > 0, a NULL entry, NaN timeout),
 * -ENOMEM. */
CF_EXTERN int cf_as_completed_new(cf_as_completed **out, cf_future *const *fs, size_t n,
                                  double timeout);

/* Add a future while iterating (from the iterating thread or any other).
 * The iterator takes its own reference. Adding one already yielded or already
 * added does nothing. Errors: CF_EINVAL (NULL), -ENOMEM. */
CF_EXTERN int cf_as_completed_add(cf_as_completed *it, cf_future *f);

/* The next completed future. Returns 0 with *out set: the future is borrowed
 * from the iterator and stays valid until the next call to next() or free()
 * (retain it to keep it longer). Returns CF_EEXHAUSTED when every added future
 * was yielded; CF_ETIMEDOUT when the iteration's deadline passed first
 * (cf_last_error() says "N (of M) futures unfinished"; the iterator stays
 * usable, and later calls time out at once). Errors: CF_EINVAL (NULL).
 * One thread at a time may call next(). */
CF_EXTERN int cf_as_completed_next(cf_as_completed *it, cf_future **out);

/* Free the iterator and the references it holds. NULL is ignored. */
CF_EXTERN void cf_as_completed_free(cf_as_completed *it);

CF_END_DECLS

#endif
