/* shared_list.c: a list shared by related processes (cfutures/shared_dict.h).
 *
 * Design notes
 * - Memory: one anonymous shared mapping per list: this header, a staging
 *   cell, then `capacity` cells of one value each (shared_cell.h), items
 *   0..count-1 in order. Nothing is allocated in it afterwards.
 * - Locking: one robust process-shared mutex, held for one operation only,
 *   waited for without a deadline (as in shared_dict.c).
 * - Deaths: every change is one store or a journaled step. append writes
 *   the cell past the end (not yet part of the list) and then stores
 *   count; popping the last item stores count. set (and add,
 *   compare_and_set) builds the new cell in staging, journals the target
 *   (op COPY: the commit), copies, clears the journal. Popping from the
 *   middle journals a SHIFT (from, end) and moves the items after it down
 *   one at a time, storing its progress after each; the last store sets
 *   count. A locker told that the holder died (CF_EOWNERDEAD) repeats a
 *   COPY or finishes a SHIFT from its progress (each move reads a cell that
 *   no move has written yet), so an operation is either done or not
 *   begun: a dead popper's item is gone, as if the pop had returned.
 *   cf__fence is a signal fence, as in shared_dict.c: it keeps the
 *   compiler from reordering the stores a death may cut short.
 */
#include "config.h"

#include <cfutures/shared_dict.h>

#include <errno.h>
#include <stdatomic.h>
#include <string.h>

#include "error_priv.h"
#include "pshared.h"
#include "shared_cell.h"

enum { CF__LIST_IDLE = 0, CF__LIST_COPY = 1, CF__LIST_SHIFT = 2 };

struct cf_shared_list {
    pthread_mutex_t lock;
    size_t map_size;
    size_t cell;                  /* a cell's size, a multiple of 8 */
    uint32_t capacity;
    uint32_t value_max;
    _Atomic uint32_t count;
    _Atomic uint32_t op;          /* the journal: CF__LIST_* */
    uint32_t target;              /* COPY: the cell; SHIFT: the end (count before) */
    _Atomic uint32_t progress;    /* SHIFT: the next cell to fill */
    /* the staging cell, then the items */
};

static void *cf__lcell(cf_shared_list *l, size_t i)
{
    return (char *)(l + 1) + (i + 1) * l->cell;
}

static void *cf__lstaging(cf_shared_list *l)
{
    return l + 1;
}

static void cf__fence(void)
{
    atomic_signal_fence(memory_order_seq_cst);
}

/* ---- Journal ---------------------------------------------------------------------------- */

static void cf__list_copy_done(cf_shared_list *l)
{
    void *src = cf__lstaging(l);
    if (cf__shared_test_hook != NULL) {
        memcpy(cf__lcell(l, l->target), src, cf__cell_size(src) / 2);
        cf__shared_hook();
    }
    memcpy(cf__lcell(l, l->target), src, cf__cell_size(src));
    cf__fence();
    atomic_store(&l->op, CF__LIST_IDLE);
}

static void cf__list_shift_done(cf_shared_list *l)
{
    uint32_t end = l->target;
    for (uint32_t j = atomic_load(&l->progress); j + 1 < end; j++) {
        void *src = cf__lcell(l, j + 1);
        memcpy(cf__lcell(l, j), src, cf__cell_size(src));
        cf__fence();
        cf__shared_hook();
        atomic_store(&l->progress, j + 1);
        cf__fence();
    }
    atomic_store(&l->count, end - 1);
    cf__fence();
    atomic_store(&l->op, CF__LIST_IDLE);
}

static void cf__list_lock(cf_shared_list *l)
{
    if (cf__pmutex_lock(&l->lock, CF__NO_DEADLINE) != CF_EOWNERDEAD)
        return;
    switch (atomic_load(&l->op)) {
    case CF__LIST_COPY:
        cf__list_copy_done(l);
        break;
    case CF__LIST_SHIFT:
        cf__list_shift_done(l);
        break;
    default:
        break;
    }
}

static void cf__list_unlock(cf_shared_list *l)
{
    cf__pmutex_unlock(&l->lock);
}

/* Copy staging onto item i, journaled. */
static void cf__list_commit(cf_shared_list *l, uint32_t i)
{
    l->target = i;
    cf__fence();
    atomic_store(&l->op, CF__LIST_COPY);
    cf__fence();
    cf__list_copy_done(l);
}

/* ---- Lifetime ------------------------------------------------------------------------------ */

int cf_shared_list_new(cf_shared_list **out, const cf_shared_container_options *opts)
{
    static const char caller[] = "cf_shared_list_new";
    if (out == NULL)
        return cf__fail(CF_EINVAL, "%s: NULL out", caller);
    *out = NULL;
    cf_shared_container_options o = opts != NULL ? *opts : (cf_shared_container_options){0};
    size_t cap = o.capacity != 0 ? o.capacity : CF_SHARED_DEFAULT_CAPACITY;
    size_t val = o.value_bytes != 0 ? o.value_bytes : CF_SHARED_DEFAULT_VALUE_BYTES;
    if (cap > CF_SHARED_MAX_CAPACITY || val > CF_SHARED_MAX_BYTES)
        return cf__fail(CF_EINVAL, "%s: a capacity of %zu (at most %zu) of %zu-byte values (at "
                        "most %zu) is too large", caller, cap, CF_SHARED_MAX_CAPACITY, val,
                        CF_SHARED_MAX_BYTES);
    size_t cell = (CF__CELL_BYTES(val) + 7) & ~(size_t)7;
    if (cell > (SIZE_MAX - sizeof(cf_shared_list)) / (cap + 1))
        return cf__fail(CF_EINVAL, "%s: %zu items of that size do not fit in memory", caller, cap);
    size_t size = sizeof(cf_shared_list) + (cap + 1) * cell;
    void *mem;
    int rc = cf__pshared_new(&mem, size, caller);
    if (rc != 0)
        return rc;
    cf_shared_list *l = mem;
    rc = cf__pmutex_init(&l->lock, false);
    if (rc != 0) {
        cf__pshared_free(mem, size);
        return cf__fail(rc, "%s: cannot make the list's lock: %s", caller, cf_strerror(rc));
    }
    l->map_size = size;
    l->cell = cell;
    l->capacity = (uint32_t)cap;
    l->value_max = (uint32_t)val;
    *out = l;
    return 0;
}

void cf_shared_list_free(cf_shared_list *l)
{
    if (l != NULL)
        cf__pshared_free(l, l->map_size);
}

/* ---- Helpers ----------------------------------------------------------------------------- */

static int cf__list_check(cf_shared_list *l, const cf_value *value, const char *caller)
{
    if (l == NULL)
        return cf__fail(CF_EINVAL, "%s: NULL list", caller);
    size_t len;
    return value != NULL ? cf__cell_check(value, l->value_max, &len, caller, "value") : 0;
}

/* The item index for a Python index (lock held): 0 with *i, or -ERANGE. */
static int cf__list_index(cf_shared_list *l, ptrdiff_t index, uint32_t *i, const char *caller)
{
    uint32_t n = atomic_load(&l->count);
    ptrdiff_t k = index < 0 ? index + (ptrdiff_t)n : index;
    if (k < 0 || k >= (ptrdiff_t)n)
        return cf__fail(-ERANGE, "%s: index %td out of range for a list of %u", caller, index, n);
    *i = (uint32_t)k;
    return 0;
}

static void cf__list_read_out(const void *enc, void *buf, cf_value *out)
{
    memcpy(buf, enc, cf__cell_size(enc));
    cf__cell_decode(buf, out);
}

/* ---- Operations --------------------------------------------------------------------------- */

int cf_shared_list_append(cf_shared_list *l, cf_value value)
{
    static const char caller[] = "cf_shared_list_append";
    int rc = cf__list_check(l, &value, caller);
    if (rc != 0)
        return rc;
    cf__list_lock(l);
    uint32_t n = atomic_load(&l->count);
    if (n >= l->capacity) {
        rc = cf__fail(CF_EFULL, "%s: the list holds %u items, its capacity", caller, n);
    } else {
        cf__cell_encode(cf__lcell(l, n), &value);
        cf__fence();
        atomic_store(&l->count, n + 1); /* the commit */
    }
    cf__list_unlock(l);
    return rc;
}

int cf_shared_list_get(cf_shared_list *l, ptrdiff_t index, cf_value *out)
{
    static const char caller[] = "cf_shared_list_get";
    int rc = cf__list_check(l, NULL, caller);
    if (rc != 0)
        return rc;
    if (out == NULL)
        return cf__fail(CF_EINVAL, "%s: NULL out", caller);
    void *buf = cf__cell_tls(1, CF__CELL_BYTES(l->value_max), caller);
    if (buf == NULL)
        return -ENOMEM;
    cf__list_lock(l);
    uint32_t i = 0;
    rc = cf__list_index(l, index, &i, caller);
    if (rc == 0)
        cf__list_read_out(cf__lcell(l, i), buf, out);
    cf__list_unlock(l);
    return rc;
}

int cf_shared_list_set(cf_shared_list *l, ptrdiff_t index, cf_value value)
{
    static const char caller[] = "cf_shared_list_set";
    int rc = cf__list_check(l, &value, caller);
    if (rc != 0)
        return rc;
    cf__list_lock(l);
    uint32_t i = 0;
    rc = cf__list_index(l, index, &i, caller);
    if (rc == 0) {
        cf__cell_encode(cf__lstaging(l), &value);
        cf__list_commit(l, i);
    }
    cf__list_unlock(l);
    return rc;
}

int cf_shared_list_pop(cf_shared_list *l, ptrdiff_t index, cf_value *out)
{
    static const char caller[] = "cf_shared_list_pop";
    int rc = cf__list_check(l, NULL, caller);
    if (rc != 0)
        return rc;
    void *buf = NULL;
    if (out != NULL && (buf = cf__cell_tls(1, CF__CELL_BYTES(l->value_max), caller)) == NULL)
        return -ENOMEM;
    cf__list_lock(l);
    uint32_t i = 0;
    rc = cf__list_index(l, index, &i, caller);
    if (rc == 0) {
        uint32_t n = atomic_load(&l->count);
        if (out != NULL)
            cf__list_read_out(cf__lcell(l, i), buf, out);
        cf__fence();
        if (i + 1 == n) {
            atomic_store(&l->count, n - 1); /* the commit */
        } else {
            l->target = n;
            atomic_store(&l->progress, i);
            cf__fence();
            atomic_store(&l->op, CF__LIST_SHIFT); /* the commit */
            cf__fence();
            cf__list_shift_done(l);
        }
    }
    cf__list_unlock(l);
    return rc;
}

int cf_shared_list_compare_and_set(cf_shared_list *l, ptrdiff_t index, const cf_value *expected,
                                   cf_value desired, bool *swapped)
{
    static const char caller[] = "cf_shared_list_compare_and_set";
    if (swapped != NULL)
        *swapped = false;
    int rc = cf__list_check(l, &desired, caller);
    if (rc != 0)
        return rc;
    if (expected == NULL)
        return cf__fail(CF_EINVAL, "%s: NULL expected", caller);
    size_t len;
    bool too_big = false;
    rc = cf__cell_check(expected, l->value_max, &len, caller, "expected value");
    if (rc == CF_ETOOBIG)
        too_big = true; /* equals no item; the index is still checked */
    else if (rc != 0)
        return rc;
    cf__list_lock(l);
    uint32_t i = 0;
    rc = cf__list_index(l, index, &i, caller);
    if (rc == 0 && !too_big) {
        cf__cell_encode(cf__lstaging(l), expected);
        if (cf__cell_equal(cf__lstaging(l), cf__lcell(l, i))) {
            cf__cell_encode(cf__lstaging(l), &desired);
            cf__list_commit(l, i);
            if (swapped != NULL)
                *swapped = true;
        }
    }
    cf__list_unlock(l);
    return rc;
}

int cf_shared_list_add(cf_shared_list *l, ptrdiff_t index, int64_t delta, int64_t *result)
{
    static const char caller[] = "cf_shared_list_add";
    int rc = cf__list_check(l, NULL, caller);
    if (rc != 0)
        return rc;
    cf__list_lock(l);
    uint32_t i = 0;
    rc = cf__list_index(l, index, &i, caller);
    if (rc == 0) {
        void *src = cf__lcell(l, i);
        memcpy(cf__lstaging(l), src, cf__cell_size(src));
        rc = cf__cell_add_int(cf__lstaging(l), delta, result, caller);
        if (rc == 0)
            cf__list_commit(l, i);
    }
    cf__list_unlock(l);
    return rc;
}

size_t cf_shared_list_len(cf_shared_list *l)
{
    if (l == NULL)
        return 0;
    cf__list_lock(l);
    size_t n = atomic_load(&l->count);
    cf__list_unlock(l);
    return n;
}

int cf_shared_list_clear(cf_shared_list *l)
{
    if (l == NULL)
        return cf__fail(CF_EINVAL, "cf_shared_list_clear: NULL list");
    cf__list_lock(l);
    atomic_store(&l->count, 0);
    cf__list_unlock(l);
    return 0;
}
