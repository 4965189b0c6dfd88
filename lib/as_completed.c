/* as_completed.c: an iterator over futures in the order they complete.
 *
 * Design notes
 * - One heap node per distinct future the iterator holds a reference to. A
 *   hash set (open addressing, linear probing, keyed by the future's address)
 *   finds them all: that is what makes adding a future again harmless, at
 *   O(1) per add.
 * - A node's life: added (its listener being registered) -> waiting ->
 *   ready (on the FIFO ready list) -> yielded (borrowed by the caller until
 *   the next call) -> kept -> forgotten (reference dropped, node freed).
 *   A node joins the ready list only once its future is done AND the thread
 *   adding it has finished registering its listener, so the adding thread
 *   never touches a node that next() may already have taken.
 * - Identity: a yielded future must stay known, or adding it again would
 *   yield it twice; but an address alone cannot identify it once it is
 *   freed (a new future may get the same address). So the iterator keeps
 *   its reference to a yielded future for as long as anyone else holds one
 *   (anyone who could add it again), and forgets it as soon as its own
 *   reference is the last: at the next call to next() in the usual case,
 *   else in a later sweep of the kept list (run when that list has doubled
 *   since the last sweep, so the cost per yield stays O(1)), or at free().
 * - Order: cf_as_completed_new() first adds the futures already done (in the
 *   order given), then the others; after that, a future joins the ready list
 *   when it is seen done: its listener fired, or it was done when added.
 * - Locking: `mu` guards the set, the ready list, the counters and the nodes'
 *   flags. A listener fires under its future's stripe lock and takes `mu`, so
 *   the lock order is stripe lock -> mu: nothing here calls into a future
 *   (listen, unlisten, retain, release, queries) while holding `mu`. The
 *   borrowed node and the kept list belong to the one thread calling next()
 *   (or free()); only their removal from the set takes `mu`.
 * - next() sleeps on a doorbell rather than a condition variable, so that
 *   cf_interrupt_waits() can wake it from a signal handler.
 * - Before a node is freed, its listener is unregistered:
 *   cf__future_unlisten() guarantees that no fire of it is still running.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>

#include "alloc.h"
#include "clock.h"
#include "error_priv.h"
#include "future_priv.h"
#include "interrupt_priv.h"

typedef struct ac_node {
    cf__listener listener;      /* first member: fire receives its address */
    cf_future *f;               /* one reference, until the node is forgotten */
    cf_as_completed *it;
    struct ac_node *link;       /* on the ready list, or on the kept list */
    bool added;                 /* the adding thread has finished with the node */
    bool done;                  /* f was seen done (fired, or done when added) */
    bool registered;            /* the listener went on f's list and is not unlistened */
} ac_node;

struct cf_as_completed {
    pthread_mutex_t mu;
    cf__bell bell;              /* rung when a node becomes ready (interrupt_priv.h) */
    int64_t deadline;           /* bounds the whole iteration */
    ac_node **slots;            /* the set: NULL marks an empty slot */
    unsigned slot_bits;         /* 1 << slot_bits slots */
    size_t n_held;              /* nodes in the set */
    size_t n_unyielded;         /* added and not yet yielded */
    size_t n_added;             /* distinct futures added so far */
    ac_node *ready_head, *ready_tail;
    ac_node *borrowed;          /* yielded by the last next() */
    ac_node *kept;              /* yielded before, still referenced elsewhere */
    size_t n_kept;
    size_t sweep_at;            /* sweep the kept list when n_kept reaches this */
};

#define MIN_SLOT_BITS 4
#define KEPT_SLACK 32 /* sweep_at = 2 * (kept after a sweep) + KEPT_SLACK */

/* ---- The set ------------------------------------------------------------------ */

static size_t slot_mask(const cf_as_completed *it)
{
    return ((size_t)1 << it->slot_bits) - 1;
}

/* Fibonacci hashing: the top bits of the product mix every address bit. */
static size_t home_slot(const cf_future *f, unsigned bits)
{
    return (size_t)(((uint64_t)(uintptr_t)f * UINT64_C(0x9E3779B97F4A7C15)) >> (64 - bits));
}

static size_t find_slot(const cf_as_completed *it, const cf_future *f)
{
    size_t mask = slot_mask(it);
    size_t i = home_slot(f, it->slot_bits);
    while (it->slots[i] != NULL && it->slots[i]->f != f)
        i = (i + 1) & mask;
    return i;
}

static ac_node *set_find(const cf_as_completed *it, const cf_future *f)
{
    return it->slots[find_slot(it, f)];
}

/* A table of 1 << bits slots holding the set's nodes. Returns 0 or -ENOMEM. */
static int set_rehash(cf_as_completed *it, unsigned bits)
{
    ac_node **slots = cf__calloc((size_t)1 << bits, sizeof *slots);
    if (slots == NULL)
        return -ENOMEM;
    size_t mask = ((size_t)1 << bits) - 1;
    if (it->slots != NULL) {
        for (size_t i = 0; i <= slot_mask(it); i++) {
            ac_node *node = it->slots[i];
            if (node == NULL)
                continue;
            size_t j = home_slot(node->f, bits);
            while (slots[j] != NULL)
                j = (j + 1) & mask;
            slots[j] = node;
        }
        cf__free(it->slots);
    }
    it->slots = slots;
    it->slot_bits = bits;
    return 0;
}

/* Make room for one more node (the table stays at most half full). */
static int set_reserve(cf_as_completed *it)
{
    if ((it->n_held + 1) * 2 <= slot_mask(it) + 1)
        return 0;
    if (it->slot_bits >= sizeof(size_t) * 8 - 2)
        return -ENOMEM;
    return set_rehash(it, it->slot_bits + 1);
}

static void set_insert(cf_as_completed *it, ac_node *node)
{
    it->slots[find_slot(it, node->f)] = node;
    it->n_held++;
}

/* Remove with backward shifting, so that probes never need tombstones. */
static void set_remove(cf_as_completed *it, ac_node *node)
{
    size_t mask = slot_mask(it);
    size_t hole = find_slot(it, node->f);
    it->slots[hole] = NULL;
    it->n_held--;
    for (size_t j = (hole + 1) & mask; it->slots[j] != NULL; j = (j + 1) & mask) {
        size_t home = home_slot(it->slots[j]->f, it->slot_bits);
        /* The entry at j may fill the hole when the hole lies on its probe
         * path: at least as far from j as its home slot is. */
        if (((j - home) & mask) >= ((j - hole) & mask)) {
            it->slots[hole] = it->slots[j];
            it->slots[j] = NULL;
            hole = j;
        }
    }
}

/* ---- Nodes --------------------------------------------------------------------- */

/* Append a done node to the ready list and wake next(). Called with mu held. */
static void push_ready(cf_as_completed *it, ac_node *node)
{
    node->link = NULL;
    if (it->ready_tail != NULL)
        it->ready_tail->link = node;
    else
        it->ready_head = node;
    it->ready_tail = node;
    cf__bell_ring(&it->bell);
}

static ac_node *pop_ready(cf_as_completed *it)
{
    ac_node *node = it->ready_head;
    if (node != NULL) {
        it->ready_head = node->link;
        if (it->ready_head == NULL)
            it->ready_tail = NULL;
    }
    return node;
}

/* Runs under f's stripe lock once f is done; takes only mu. */
static void node_fire(cf__listener *self, cf_future *f)
{
    (void)f;
    ac_node *node = (ac_node *)self;
    cf_as_completed *it = node->it;
    pthread_mutex_lock(&it->mu);
    node->done = true;
    if (node->added)
        push_ready(it, node);
    pthread_mutex_unlock(&it->mu);
}

/* Add f (not NULL, kept alive by the caller) unless the iterator holds it. */
static int add_future(cf_as_completed *it, cf_future *f, const char *caller)
{
    pthread_mutex_lock(&it->mu);
    if (set_find(it, f) != NULL) {
        pthread_mutex_unlock(&it->mu);
        return 0;
    }
    ac_node *node = NULL;
    if (set_reserve(it) == 0)
        node = cf__calloc(1, sizeof *node);
    if (node == NULL) {
        pthread_mutex_unlock(&it->mu);
        return cf__fail(-ENOMEM, "%s: out of memory", caller);
    }
    node->listener.fire = node_fire;
    node->f = f;
    node->it = it;
    set_insert(it, node);
    it->n_unyielded++;
    it->n_added++;
    pthread_mutex_unlock(&it->mu);

    /* The node cannot be yielded (nor freed) before `added` is set below, so
     * it is safe to work on it without mu, and mu must not be held here. */
    cf_future_retain(f);
    bool registered = cf__future_listen(f, &node->listener);

    pthread_mutex_lock(&it->mu);
    node->registered = registered;
    node->added = true;
    if (!registered)
        node->done = true;
    if (node->done)
        push_ready(it, node);
    pthread_mutex_unlock(&it->mu);
    return 0;
}

/* True when the iterator's reference is the last one: then nobody can add
 * the future again, and forgetting it is safe. */
static bool only_reference(const ac_node *node)
{
    return atomic_load_explicit(&node->f->refs, memory_order_acquire) == 1;
}

/* Forget a list of yielded nodes (linked by `link`): out of the set, then
 * their references dropped. */
static void forget(cf_as_completed *it, ac_node *list)
{
    if (list == NULL)
        return;
    pthread_mutex_lock(&it->mu);
    for (ac_node *node = list; node != NULL; node = node->link)
        set_remove(it, node);
    pthread_mutex_unlock(&it->mu);
    while (list != NULL) {
        ac_node *next = list->link;
        cf_future_release(list->f);
        cf__free(list);
        list = next;
    }
}

/* Forget the kept nodes whose futures nobody else holds any more. */
static void sweep_kept(cf_as_completed *it)
{
    ac_node *drop = NULL;
    for (ac_node **p = &it->kept; *p != NULL;) {
        ac_node *node = *p;
        if (only_reference(node)) {
            *p = node->link;
            node->link = drop;
            drop = node;
            it->n_kept--;
        } else {
            p = &node->link;
        }
    }
    it->sweep_at = 2 * it->n_kept + KEPT_SLACK;
    forget(it, drop);
}

/* The caller is done with the future yielded by the previous next(), if
 * any: forget it if nobody else holds it, else keep it known. */
static void retire_borrowed(cf_as_completed *it)
{
    ac_node *node = it->borrowed;
    if (node == NULL)
        return;
    it->borrowed = NULL;
    if (only_reference(node)) {
        node->link = NULL;
        forget(it, node);
        return;
    }
    node->link = it->kept;
    it->kept = node;
    if (++it->n_kept >= it->sweep_at)
        sweep_kept(it);
}

/* ---- API ------------------------------------------------------------------------ */

int cf_as_completed_new(cf_as_completed **out, cf_future *const *fs, size_t n, double timeout)
{
    int64_t deadline;
    if (out == NULL)
        return cf__fail(CF_EINVAL, "cf_as_completed_new: NULL out");
    if (fs == NULL && n > 0)
        return cf__fail(CF_EINVAL, "cf_as_completed_new: fs is NULL but n is %zu", n);
    for (size_t i = 0; i < n; i++)
        if (fs[i] == NULL)
            return cf__fail(CF_EINVAL, "cf_as_completed_new: fs[%zu] is NULL", i);
    if (cf__deadline(timeout, &deadline) != 0)
        return cf__fail(CF_EINVAL, "cf_as_completed_new: the timeout is NaN");

    cf_as_completed *it = cf__calloc(1, sizeof *it);
    if (it == NULL)
        return cf__fail(-ENOMEM, "cf_as_completed_new: out of memory");
    int rc = 0;
    cf__bell_init(&it->bell);
    pthread_mutex_init(&it->mu, NULL);
    it->deadline = deadline;
    it->sweep_at = KEPT_SLACK;
    unsigned bits = MIN_SLOT_BITS;
    while (bits < sizeof(size_t) * 8 - 2 && ((size_t)1 << bits) < 2 * n)
        bits++;
    if (set_rehash(it, bits) != 0) {
        cf_as_completed_free(it);
        return cf__fail(-ENOMEM, "cf_as_completed_new: out of memory for %zu futures", n);
    }

    /* Those already done first, in the order given; then the others. */
    for (size_t i = 0; i < n && rc == 0; i++)
        if (cf_future_done(fs[i]))
            rc = add_future(it, fs[i], "cf_as_completed_new");
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = add_future(it, fs[i], "cf_as_completed_new");
    if (rc != 0) {
        cf_as_completed_free(it);
        return rc;
    }
    *out = it;
    return 0;
}

int cf_as_completed_add(cf_as_completed *it, cf_future *f)
{
    if (it == NULL || f == NULL)
        return cf__fail(CF_EINVAL, "cf_as_completed_add: NULL %s",
                        it == NULL ? "iterator" : "future");
    return add_future(it, f, "cf_as_completed_add");
}

int cf_as_completed_next(cf_as_completed *it, cf_future **out)
{
    if (it == NULL || out == NULL)
        return cf__fail(CF_EINVAL, "cf_as_completed_next: NULL %s",
                        it == NULL ? "iterator" : "out");
    retire_borrowed(it);

    int rc = 0;
    pthread_mutex_lock(&it->mu);
    ac_node *node;
    for (;;) {
        if ((node = pop_ready(it)) != NULL)
            break;
        if (it->n_unyielded == 0) {
            rc = cf__fail(CF_EEXHAUSTED, "cf_as_completed_next: all %zu futures were yielded",
                          it->n_added);
            break;
        }
        int waited = cf__bell_wait(&it->bell, &it->mu, it->deadline, true);
        if (waited == ETIMEDOUT) {
            if ((node = pop_ready(it)) == NULL)
                rc = cf__fail(CF_ETIMEDOUT, "%zu (of %zu) futures unfinished",
                              it->n_unyielded, it->n_added);
            break;
        }
        if (waited == CF_EINTERRUPTED) {
            if ((node = pop_ready(it)) == NULL)
                rc = cf__fail(CF_EINTERRUPTED,
                              "cf_as_completed_next: interrupted (cf_interrupt_waits) with %zu "
                              "(of %zu) futures unfinished",
                              it->n_unyielded, it->n_added);
            break;
        }
    }
    if (node != NULL)
        it->n_unyielded--;
    pthread_mutex_unlock(&it->mu);
    if (node == NULL)
        return rc;

    /* Done: its listener fired or was never registered; make sure no fire
     * is still running before the node can be freed. */
    if (node->registered) {
        cf__future_unlisten(node->f, &node->listener);
        node->registered = false;
    }
    it->borrowed = node;
    *out = node->f;
    return 0;
}

void cf_as_completed_free(cf_as_completed *it)
{
    if (it == NULL)
        return;
    /* No other call runs on `it` now, but listeners may still fire: take
     * them all off their futures before anything goes away. Fires touch
     * nodes' flags and the ready list, never the table, so walking it
     * without mu is safe. */
    size_t n_slots = it->slots != NULL ? slot_mask(it) + 1 : 0;
    for (size_t i = 0; i < n_slots; i++) {
        ac_node *node = it->slots[i];
        if (node != NULL && node->registered)
            cf__future_unlisten(node->f, &node->listener);
    }
    for (size_t i = 0; i < n_slots; i++) {
        ac_node *node = it->slots[i];
        if (node == NULL)
            continue;
        cf_future_release(node->f);
        cf__free(node);
    }
    cf__free(it->slots);
    pthread_mutex_destroy(&it->mu);
    cf__free(it);
}
