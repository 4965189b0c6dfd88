/* wait.c: cf_wait(), waiting until a condition holds over many futures.
 *
 * Design notes
 * - The fast path takes no lock and allocates nothing: when the condition
 *   already holds (or the timeout is a poll), the futures' states are read
 *   and reported at once.
 * - Otherwise the caller's stack holds one waiter (a mutex, a doorbell and
 *   counters) and the heap holds one listener per distinct
 *   future: a copy of fs sorted by address, duplicates dropped, so a future
 *   passed several times is counted once.
 * - Locking: a listener fires under its future's stripe lock and takes only
 *   the waiter's mutex, a leaf lock. cf_wait never calls into a future
 *   (listen, unlisten, queries) while holding that mutex.
 * - Lifetimes: before cf_wait returns, every registered listener is
 *   unregistered; cf__future_unlisten() guarantees that no fire is still
 *   running, so the waiter and the listeners may then go away. The caller's
 *   references keep the futures alive for the whole call.
 * - The doorbell (interrupt_priv.h) rather than a condition variable lets
 *   cf_interrupt_waits() wake the wait from a signal handler.
 * - The result (done[], *n_done) is read from the futures after the wait: a
 *   done future never changes again, so the report is consistent with the
 *   condition that ended the wait.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "alloc.h"
#include "clock.h"
#include "error_priv.h"
#include "future_priv.h"
#include "interrupt_priv.h"

typedef struct waiter {
    pthread_mutex_t mu;
    cf__bell bell;          /* rung when the condition starts to hold */
    cf_return_when when;
    size_t n_distinct;      /* distinct futures waited on */
    size_t n_done;          /* of those, how many are known to be done */
    bool failed;            /* one of them finished with an error */
} waiter;

typedef struct wait_entry {
    cf__listener listener;  /* first member: fire receives its address */
    cf_future *f;
    waiter *w;
    bool registered;        /* the listener is on f's list (until unlisten) */
} wait_entry;

static bool condition_holds(cf_return_when when, size_t n_done, size_t n, bool failed)
{
    switch (when) {
    case CF_FIRST_COMPLETED:
        return n_done > 0;
    case CF_FIRST_EXCEPTION:
        return failed || n_done == n;
    case CF_ALL_COMPLETED:
        break;
    }
    return n_done == n;
}

/* The condition over fs as it stands now (duplicates do not change it). */
static bool condition_holds_now(cf_future *const *fs, size_t n, cf_return_when when)
{
    size_t n_done = 0;
    bool failed = false;
    for (size_t i = 0; i < n; i++) {
        if (!cf_future_done(fs[i]))
            continue;
        n_done++;
        if (cf_future_failed(fs[i]))
            failed = true;
    }
    return condition_holds(when, n_done, n, failed);
}

/* Runs under f's stripe lock, after f became done: read the state directly
 * (the same test as cf_future_failed) rather than calling into the future. */
static void entry_fire(cf__listener *self, cf_future *f)
{
    wait_entry *e = (wait_entry *)self;
    waiter *w = e->w;
    bool failed = cf__future_st(f) == CF__ST_FINISHED && f->error != NULL;
    pthread_mutex_lock(&w->mu);
    w->n_done++;
    w->failed |= failed;
    if (condition_holds(w->when, w->n_done, w->n_distinct, w->failed))
        cf__bell_ring(&w->bell);
    pthread_mutex_unlock(&w->mu);
}

static int compare_by_future(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t)((const wait_entry *)a)->f;
    uintptr_t y = (uintptr_t)((const wait_entry *)b)->f;
    return (x > y) - (x < y);
}

/* Sort entries[0..n) by future and keep one entry per future. Returns how
 * many distinct futures there are (at the front). */
static size_t dedupe(wait_entry *entries, size_t n)
{
    qsort(entries, n, sizeof *entries, compare_by_future);
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (m == 0 || entries[m - 1].f != entries[i].f)
            entries[m++] = entries[i];
    return m;
}

/* Block until the condition holds or the deadline passes. Returns 0,
 * CF_EINTERRUPTED or -ENOMEM. */
static int wait_for_condition(cf_future *const *fs, size_t n, cf_return_when when,
                              int64_t deadline)
{
    wait_entry *entries = cf__calloc(n, sizeof *entries);
    if (entries == NULL)
        return cf__fail(-ENOMEM, "cf_wait: out of memory for %zu listeners", n);
    for (size_t i = 0; i < n; i++)
        entries[i].f = fs[i];
    size_t m = dedupe(entries, n);

    waiter w = {.mu = PTHREAD_MUTEX_INITIALIZER, .when = when, .n_distinct = m};
    cf__bell_init(&w.bell);
    int rc = 0;

    for (size_t i = 0; i < m; i++) {
        wait_entry *e = &entries[i];
        e->listener.fire = entry_fire;
        e->w = &w;
        if (cf__future_listen(e->f, &e->listener)) {
            e->registered = true;
            continue;
        }
        /* Done since the first look: count it here, no fire will. */
        bool failed = cf_future_failed(e->f);
        pthread_mutex_lock(&w.mu);
        w.n_done++;
        w.failed |= failed;
        bool holds = condition_holds(when, w.n_done, m, w.failed);
        pthread_mutex_unlock(&w.mu);
        if (holds)
            break;
    }

    pthread_mutex_lock(&w.mu);
    while (!condition_holds(when, w.n_done, m, w.failed)) {
        int waited = cf__bell_wait(&w.bell, &w.mu, deadline, true);
        if (waited == ETIMEDOUT)
            break;
        if (waited == CF_EINTERRUPTED && !condition_holds(when, w.n_done, m, w.failed)) {
            rc = cf__fail(CF_EINTERRUPTED, "cf_wait: interrupted (cf_interrupt_waits)");
            break;
        }
    }
    pthread_mutex_unlock(&w.mu);

    for (size_t i = 0; i < m; i++)
        if (entries[i].registered)
            cf__future_unlisten(entries[i].f, &entries[i].listener);
    pthread_mutex_destroy(&w.mu);
    cf__free(entries);
    return rc;
}

int cf_wait(cf_future *const *fs, size_t n, cf_return_when when, double timeout, bool *done,
            size_t *n_done)
{
    if (fs == NULL && n > 0)
        return cf__fail(CF_EINVAL, "cf_wait: fs is NULL but n is %zu", n);
    for (size_t i = 0; i < n; i++)
        if (fs[i] == NULL)
            return cf__fail(CF_EINVAL, "cf_wait: fs[%zu] is NULL", i);
    if (when != CF_FIRST_COMPLETED && when != CF_FIRST_EXCEPTION && when != CF_ALL_COMPLETED)
        return cf__fail(CF_EINVAL, "cf_wait: unknown return_when %d", (int)when);
    int64_t deadline;
    if (cf__deadline(timeout, &deadline) != 0)
        return cf__fail(CF_EINVAL, "cf_wait: the timeout is NaN");

    if (n > 0 && !condition_holds_now(fs, n, when) && cf__now_ns() < deadline) {
        int rc = wait_for_condition(fs, n, when, deadline);
        if (rc != 0)
            return rc;
    }

    size_t count = 0;
    for (size_t i = 0; i < n; i++) {
        bool d = cf_future_done(fs[i]);
        if (done != NULL)
            done[i] = d;
        count += d;
    }
    if (n_done != NULL)
        *n_done = count;
    return 0;
}
