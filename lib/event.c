/* event.c: Event shared between processes.
 *
 * Design notes
 * - Memory: one shared mapping per event (lib/pshared.h), inherited by the
 *   processes forked after it; free unmaps it in the calling process.
 * - No mutex: one atomic word, bit 0 the flag and the bits above a count of
 *   sets. Setting a clear event bumps the count with the flag in one
 *   compare-and-swap, then wakes every futex sleeper; clearing drops the
 *   flag only. A process dying at any instant leaves the word consistent.
 * - A waiter sleeps while the word is what it read (flag clear). Any set
 *   changes the count, so a set followed at once by a clear still ends the
 *   wait and counts as set, as in Python, where the waiters notified by
 *   set() return True even if the event was cleared meanwhile.
 */
#include "config.h"

#include <cfutures/sync.h>
#include <errno.h>
#include <limits.h>
#include <stdatomic.h>

#include "clock.h"
#include "error_priv.h"
#include "pshared.h"

struct cf_event {
    _Atomic uint32_t word; /* sets << 1 | flag */
};

int cf_event_new(cf_event **out)
{
    if (out == NULL)
        return cf__fail(CF_EINVAL, "cf_event_new: NULL out");
    *out = NULL;
    void *mem;
    int rc = cf__pshared_new(&mem, sizeof(cf_event), "cf_event_new");
    if (rc != 0)
        return rc;
    cf_event *ev = mem;
    atomic_init(&ev->word, 0);
    *out = ev;
    return 0;
}

void cf_event_free(cf_event *ev)
{
    cf__pshared_free(ev, sizeof *ev);
}

int cf_event_set(cf_event *ev)
{
    if (ev == NULL)
        return cf__fail(CF_EINVAL, "cf_event_set: NULL event");
    uint32_t w = atomic_load(&ev->word);
    do
        if (w & 1)
            return 0;
    while (!atomic_compare_exchange_weak(&ev->word, &w, (w + 2) | 1));
    cf__pfutex_wake(&ev->word, INT_MAX);
    return 0;
}

int cf_event_clear(cf_event *ev)
{
    if (ev == NULL)
        return cf__fail(CF_EINVAL, "cf_event_clear: NULL event");
    atomic_fetch_and(&ev->word, ~(uint32_t)1);
    return 0;
}

bool cf_event_is_set(const cf_event *ev)
{
    return ev != NULL && (atomic_load(&ev->word) & 1);
}

int cf_event_wait(cf_event *ev, double timeout)
{
    int64_t deadline;
    if (ev == NULL)
        return cf__fail(CF_EINVAL, "cf_event_wait: NULL event");
    if (cf__deadline(timeout, &deadline) != 0)
        return cf__fail(CF_EINVAL, "cf_event_wait: the timeout is NaN");
    uint32_t seen = atomic_load(&ev->word);
    for (;;) {
        if (seen & 1)
            return 0;
        int rc = cf__pfutex_wait(&ev->word, seen, deadline);
        uint32_t now = atomic_load(&ev->word);
        if ((now & 1) || (now >> 1) != (seen >> 1))
            return 0;
        if (rc == ETIMEDOUT)
            return cf__fail(CF_ETIMEDOUT, "cf_event_wait: timed out");
    }
}
