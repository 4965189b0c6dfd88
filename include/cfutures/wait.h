/* cfutures/wait.h: waiting on many futures at once, and interrupting waits.
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
 * timeout), -ENOMEM, CF_EINTERRUPTED (it had to block and
 * cf_interrupt_waits() was called). On error nothing is written. */
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
 * usable, and later calls time out at once); CF_EINTERRUPTED when it had to
 * block and cf_interrupt_waits() was called (the iterator stays usable).
 * Errors: CF_EINVAL (NULL).
 * One thread at a time may call next(). */
CF_EXTERN int cf_as_completed_next(cf_as_completed *it, cf_future **out);

/* Free the iterator and the references it holds. NULL is ignored. */
CF_EXTERN void cf_as_completed_free(cf_as_completed *it);

/* ---- Interrupting waits (Ctrl-C) ---------------------------------------------- *
 * A blocking wait goes on through signals: a SIGINT handler that only sets a
 * flag does not end a CF_FOREVER wait. To cut such waits short, the handler
 * calls cf_interrupt_waits(). That raises a process-wide interrupt: every
 * call below that has to wait, whether already waiting or starting later,
 * returns CF_EINTERRUPTED promptly, until the program calls
 * cf_interrupt_clear(). Calls that can answer without waiting (a future
 * already done, a condition that holds, a timeout of 0) answer as usual.
 *   Honoured by: cf_future_wait, cf_future_result, cf_future_value, cf_wait,
 *   cf_as_completed_next, and the blocking maps (cf_map, cf_starmap,
 *   cf_map_generate: the map stops as on a timeout, its pending chunks are
 *   cancelled, and the call returns CF_EINTERRUPTED once the chunks already
 *   running have ended).
 *   Not honoured (they keep waiting): cf_executor_shutdown with
 *   CF_SHUTDOWN_WAIT, cf_executor_free, and the multiprocessing objects
 *   (queues, locks, semaphores, events, conditions, barriers, pipes,
 *   processes), whose waits take a timeout instead.
 * Nothing is cancelled or lost: the futures go on; the program decides what
 * to do (typically cancel them and shut the executor down), then calls
 * cf_interrupt_clear() to let waits block again. A forked child starts with
 * the interrupt lowered. */

/* Raise the interrupt and wake every interruptible wait in the process.
 * Async-signal-safe (atomics and futex wake-ups only; errno is preserved):
 * meant to be called from a signal handler, but any thread may call it.
 * Never fails. */
CF_EXTERN void cf_interrupt_waits(void);

/* Lower the interrupt: later waits block again. Returns how many times
 * cf_interrupt_waits() was called since the last clear (0: it was not
 * raised). Async-signal-safe. */
CF_EXTERN unsigned cf_interrupt_clear(void);

/* Whether the interrupt is raised. Async-signal-safe; never blocks. */
CF_EXTERN bool cf_interrupt_pending(void);

CF_END_DECLS

#endif
