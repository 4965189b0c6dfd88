/* ring.c: a ring of length-prefixed records in shared memory, committed by
 * one store per change (see ring.h).
 *
 * Design notes
 * - Locking: every function but cf__ring_counts runs under the user's lock,
 *   which orders the data bytes between processes and threads. The state
 *   words are atomics only for cf__ring_counts, which reads them without the
 *   lock.
 * - Commit: a change copies the current state into the spare slot, edits
 *   the copy, and publishes it with a release store of version + 1. The
 *   spare slot is the one that was current one commit earlier, so a
 *   lock-free reader may still be reading it: writes to it come after a
 *   release fence, and the reader rereads `version` behind an acquire fence,
 *   retrying if it moved (a sequence lock, with the version as sequence).
 * - Crashes: before the commit store, nothing any other process looks at has
 *   changed (the record bytes go into free space; the spare slot is not
 *   current); after it, the change is complete. Waking whoever waits for the
 *   change is the ring's user's business (queue.c wakes them before it
 *   commits, so that a death right after the commit loses no wake-up).
 */
#include "config.h"

#include "ring.h"
#include "checked_size.h"

#include <string.h>

void (*cf__ring_test_hook)(const cf__ring *r, bool push);

size_t cf__ring_footprint(size_t size)
{
    size_t total;
    return cf__size_add(sizeof(cf__ring), size, &total) ? total : 0;
}

void cf__ring_init(cf__ring *r, size_t size)
{
    r->size = size;
}

size_t cf__ring_max_record(const cf__ring *r)
{
    uint64_t max = r->size - CF__RING_RECORD_HEADER;
    return max > UINT32_MAX ? UINT32_MAX : (size_t)max;
}

static const cf__ring_state *cf__ring_current(const cf__ring *r)
{
    return &r->state[atomic_load_explicit(&r->version, memory_order_relaxed) & 1];
}

static uint64_t cf__ring_get(const _Atomic uint64_t *word)
{
    return atomic_load_explicit(word, memory_order_relaxed);
}

static void cf__ring_set(_Atomic uint64_t *word, uint64_t value)
{
    atomic_store_explicit(word, value, memory_order_relaxed);
}

uint64_t cf__ring_count(const cf__ring *r)
{
    const cf__ring_state *s = cf__ring_current(r);
    return cf__ring_get(&s->appended) - cf__ring_get(&s->removed);
}

uint64_t cf__ring_appended(const cf__ring *r)
{
    return cf__ring_get(&cf__ring_current(r)->appended);
}

bool cf__ring_fits(const cf__ring *r, size_t len)
{
    const cf__ring_state *s = cf__ring_current(r);
    uint64_t used = cf__ring_get(&s->tail) - cf__ring_get(&s->head);
    uint64_t free_bytes = r->size - used;
    return free_bytes >= CF__RING_RECORD_HEADER && len <= free_bytes - CF__RING_RECORD_HEADER;
}

/* Copy n bytes in at position pos, wrapping around the end. */
static void cf__ring_write(cf__ring *r, uint64_t pos, const void *src, size_t n)
{
    size_t at = (size_t)(pos % r->size);
    size_t first = n < r->size - at ? n : (size_t)(r->size - at);
    memcpy(r->data + at, src, first);
    memcpy(r->data, (const uint8_t *)src + first, n - first);
}

/* Copy n bytes out from position pos, wrapping around the end. */
static void cf__ring_read(const cf__ring *r, uint64_t pos, void *dst, size_t n)
{
    size_t at = (size_t)(pos % r->size);
    size_t first = n < r->size - at ? n : (size_t)(r->size - at);
    memcpy(dst, r->data + at, first);
    memcpy((uint8_t *)dst + first, r->data, n - first);
}

/* The spare state slot, filled with a copy of the current state. */
static cf__ring_state *cf__ring_begin(cf__ring *r)
{
    uint64_t v = atomic_load_explicit(&r->version, memory_order_relaxed);
    const cf__ring_state *cur = &r->state[v & 1];
    cf__ring_state *next = &r->state[(v + 1) & 1];
    /* A lock-free reader that sees any of the writes below also sees that
     * the version has moved on since it started (cf__ring_counts). */
    atomic_thread_fence(memory_order_release);
    cf__ring_set(&next->head, cf__ring_get(&cur->head));
    cf__ring_set(&next->tail, cf__ring_get(&cur->tail));
    cf__ring_set(&next->appended, cf__ring_get(&cur->appended));
    cf__ring_set(&next->removed, cf__ring_get(&cur->removed));
    return next;
}

/* Make the spare slot current: the one store that commits a change. */
static void cf__ring_commit(cf__ring *r, bool push)
{
    if (cf__ring_test_hook != NULL)
        cf__ring_test_hook(r, push);
    uint64_t v = atomic_load_explicit(&r->version, memory_order_relaxed);
    atomic_store_explicit(&r->version, v + 1, memory_order_release);
}

void cf__ring_push(cf__ring *r, const void *rec, size_t len)
{
    cf__ring_state *next = cf__ring_begin(r);
    uint64_t tail = cf__ring_get(&next->tail);
    uint32_t prefix = (uint32_t)len;
    cf__ring_write(r, tail, &prefix, sizeof prefix);
    cf__ring_write(r, tail + sizeof prefix, rec, len);
    cf__ring_set(&next->tail, tail + sizeof prefix + len);
    cf__ring_set(&next->appended, cf__ring_get(&next->appended) + 1);
    cf__ring_commit(r, true);
}

size_t cf__ring_front_len(const cf__ring *r)
{
    uint32_t prefix;
    cf__ring_read(r, cf__ring_get(&cf__ring_current(r)->head), &prefix, sizeof prefix);
    return prefix;
}

void cf__ring_front(const cf__ring *r, void *dst)
{
    uint64_t head = cf__ring_get(&cf__ring_current(r)->head);
    cf__ring_read(r, head + CF__RING_RECORD_HEADER, dst, cf__ring_front_len(r));
}

void cf__ring_pop(cf__ring *r)
{
    size_t len = cf__ring_front_len(r);
    cf__ring_state *next = cf__ring_begin(r);
    cf__ring_set(&next->head, cf__ring_get(&next->head) + CF__RING_RECORD_HEADER + len);
    cf__ring_set(&next->removed, cf__ring_get(&next->removed) + 1);
    cf__ring_commit(r, false);
}

void cf__ring_counts(const cf__ring *r, uint64_t *appended, uint64_t *removed)
{
    for (;;) {
        uint64_t v = atomic_load_explicit(&r->version, memory_order_acquire);
        const cf__ring_state *s = &r->state[v & 1];
        uint64_t a = cf__ring_get(&s->appended);
        uint64_t d = cf__ring_get(&s->removed);
        atomic_thread_fence(memory_order_acquire);
        if (atomic_load_explicit(&r->version, memory_order_relaxed) == v) {
            *appended = a;
            *removed = d;
            return;
        }
    }
}
