/* shared_dict.c: a dict shared by related processes (cfutures/shared_dict.h).
 *
 * Design notes
 * - Memory: one anonymous shared mapping (pshared.h) per dict: this
 *   header, one staging slot, then `buckets` slots (a third more than the
 *   capacity, so probes stay short). The handle is the mapping, the same
 *   pointer in every process forked after it was made. Nothing is
 *   allocated in it afterwards.
 * - A slot: state (free, used, deleted), the generation it was written in,
 *   the key's hash, the key's cell and the value's cell (shared_cell.h).
 *   Open addressing with linear probing; a deleted slot (tombstone) keeps
 *   probe chains whole and is reused by inserts. A slot counts only in the
 *   dict's current generation: clear is one store (gen++), which turns
 *   every slot free at once.
 * - Locking: one robust process-shared mutex for everything; it is held
 *   only for one operation (lookups, a copy or two), so it is waited for
 *   without a deadline. Memory that can grow (a thread's buffer for values
 *   read out) is reserved before it is taken.
 * - Deaths: every change is one store or one journaled copy. A write
 *   builds the new slot in the staging slot, stores the target's index in
 *   `journal` (the commit), copies staging onto the target, then clears
 *   `journal`. Deleting is one store (state). A locker told that the
 *   holder died (CF_EOWNERDEAD) repeats a journaled copy (idempotent) and
 *   counts the entries again (`count` is updated after the commit), so a
 *   write is either wholly done or not at all. Signal fences keep the
 *   compiler from reordering those stores: a death is like a signal at any
 *   instruction, and whatever the dead thread stored is visible to the
 *   next holder, which takes the lock through the kernel after the death.
 */
#include "config.h"

#include <cfutures/shared_dict.h>

#include <errno.h>
#include <stdatomic.h>
#include <string.h>

#include "error_priv.h"
#include "pshared.h"
#include "shared_cell.h"

enum { CF__SLOT_FREE = 0, CF__SLOT_USED = 1, CF__SLOT_DELETED = 2 };

typedef struct cf__dslot {
    _Atomic uint32_t state;
    uint32_t pad;
    uint64_t gen;
    uint64_t hash;
    /* the key's cell (key_cell bytes), then the value's (value_cell bytes) */
} cf__dslot;

struct cf_shared_dict {
    pthread_mutex_t lock;
    size_t map_size;
    size_t slot_size;
    uint32_t capacity, buckets;
    uint32_t key_max, value_max;   /* largest key / value, in bytes */
    uint32_t key_cell;             /* the key's cell size, a multiple of 8 */
    uint32_t count;                /* live entries; recounted after a death */
    _Atomic uint64_t gen;          /* slots of other generations are free */
    _Atomic uint32_t journal;      /* 0, or 1 + the slot staging is being copied onto */
    /* the staging slot, then the buckets */
};

#define CF__ROUND8(n) (((n) + 7) & ~(size_t)7)

static cf__dslot *cf__dslot_at(cf_shared_dict *d, size_t i)
{
    /* i == buckets is the staging slot; the buckets follow it. */
    char *base = (char *)(d + 1);
    return (cf__dslot *)(base + (i == d->buckets ? 0 : (i + 1) * d->slot_size));
}

static cf__dslot *cf__dstaging(cf_shared_dict *d)
{
    return cf__dslot_at(d, d->buckets);
}

static void *cf__dkey(cf__dslot *s)
{
    return s + 1;
}

static void *cf__dval(cf_shared_dict *d, cf__dslot *s)
{
    return (char *)(s + 1) + d->key_cell;
}

static bool cf__dlive(cf_shared_dict *d, cf__dslot *s)
{
    return atomic_load_explicit(&s->state, memory_order_relaxed) == CF__SLOT_USED
           && s->gen == atomic_load_explicit(&d->gen, memory_order_relaxed);
}

static bool cf__ddeleted(cf_shared_dict *d, cf__dslot *s)
{
    return atomic_load_explicit(&s->state, memory_order_relaxed) == CF__SLOT_DELETED
           && s->gen == atomic_load_explicit(&d->gen, memory_order_relaxed);
}

/* ---- Locking and recovery ------------------------------------------------------------ */

static void cf__dict_recover(cf_shared_dict *d)
{
    uint32_t j = atomic_load(&d->journal);
    if (j != 0) {
        memcpy(cf__dslot_at(d, j - 1), cf__dstaging(d), d->slot_size);
        atomic_signal_fence(memory_order_seq_cst);
        atomic_store(&d->journal, 0);
    }
    uint32_t n = 0;
    for (uint32_t i = 0; i < d->buckets; i++)
        n += cf__dlive(d, cf__dslot_at(d, i));
    d->count = n;
}

static void cf__dict_lock(cf_shared_dict *d)
{
    if (cf__pmutex_lock(&d->lock, CF__NO_DEADLINE) == CF_EOWNERDEAD)
        cf__dict_recover(d);
}

static void cf__dict_unlock(cf_shared_dict *d)
{
    cf__pmutex_unlock(&d->lock);
}

/* Copy the staging slot onto slot i, journaled. */
static void cf__dict_commit(cf_shared_dict *d, uint32_t i)
{
    atomic_signal_fence(memory_order_seq_cst);
    atomic_store(&d->journal, i + 1);
    atomic_signal_fence(memory_order_seq_cst);
    if (cf__shared_test_hook != NULL) {
        memcpy(cf__dslot_at(d, i), cf__dstaging(d), d->slot_size / 2);
        cf__shared_hook();
    }
    memcpy(cf__dslot_at(d, i), cf__dstaging(d), d->slot_size);
    atomic_signal_fence(memory_order_seq_cst);
    atomic_store(&d->journal, 0);
}

/* ---- Lifetime ------------------------------------------------------------------------ */

static int cf__shared_sizes(const cf_shared_container_options *opts, size_t *cap, size_t *key,
                            size_t *val, const char *caller)
{
    cf_shared_container_options o = opts != NULL ? *opts : (cf_shared_container_options){0};
    *cap = o.capacity != 0 ? o.capacity : CF_SHARED_DEFAULT_CAPACITY;
    *key = o.key_bytes != 0 ? o.key_bytes : CF_SHARED_DEFAULT_KEY_BYTES;
    *val = o.value_bytes != 0 ? o.value_bytes : CF_SHARED_DEFAULT_VALUE_BYTES;
    if (*cap > CF_SHARED_MAX_CAPACITY)
        return cf__fail(CF_EINVAL, "%s: a capacity of %zu is above the maximum of %zu", caller,
                        *cap, CF_SHARED_MAX_CAPACITY);
    if (*key > CF_SHARED_MAX_BYTES || *val > CF_SHARED_MAX_BYTES)
        return cf__fail(CF_EINVAL, "%s: %zu-byte %s are above the maximum of %zu", caller,
                        *key > CF_SHARED_MAX_BYTES ? *key : *val,
                        *key > CF_SHARED_MAX_BYTES ? "keys" : "values", CF_SHARED_MAX_BYTES);
    return 0;
}

int cf_shared_dict_new(cf_shared_dict **out, const cf_shared_container_options *opts)
{
    static const char caller[] = "cf_shared_dict_new";
    if (out == NULL)
        return cf__fail(CF_EINVAL, "%s: NULL out", caller);
    *out = NULL;
    size_t cap, key, val;
    int rc = cf__shared_sizes(opts, &cap, &key, &val, caller);
    if (rc != 0)
        return rc;
    size_t buckets = cap + cap / 3 + 1;
    size_t key_cell = CF__ROUND8(CF__CELL_BYTES(key));
    size_t slot = sizeof(cf__dslot) + key_cell + CF__ROUND8(CF__CELL_BYTES(val));
    if (slot > (SIZE_MAX - sizeof(cf_shared_dict)) / (buckets + 1))
        return cf__fail(CF_EINVAL, "%s: %zu entries of that size do not fit in memory", caller,
                        cap);
    size_t size = sizeof(cf_shared_dict) + (buckets + 1) * slot;
    void *mem;
    rc = cf__pshared_new(&mem, size, caller);
    if (rc != 0)
        return rc;
    cf_shared_dict *d = mem;
    rc = cf__pmutex_init(&d->lock, false);
    if (rc != 0) {
        cf__pshared_free(mem, size);
        return cf__fail(rc, "%s: cannot make the dict's lock: %s", caller, cf_strerror(rc));
    }
    d->map_size = size;
    d->slot_size = slot;
    d->capacity = (uint32_t)cap;
    d->buckets = (uint32_t)buckets;
    d->key_max = (uint32_t)key;
    d->value_max = (uint32_t)val;
    d->key_cell = (uint32_t)key_cell;
    atomic_init(&d->gen, 1); /* zeroed slots (generation 0) are free */
    *out = d;
    return 0;
}

void cf_shared_dict_free(cf_shared_dict *d)
{
    if (d != NULL)
        cf__pshared_free(d, d->map_size);
}

/* ---- Lookups (lock held) ----------------------------------------------------------------- */

/* Find the key encoded in the staging slot (its hash set there). Returns
 * the live slot holding it, or -1; *insert_at gets where it would go
 * (the first deleted or free slot of its probe), or -1 when none is. */
static int64_t cf__dict_find(cf_shared_dict *d, int64_t *insert_at)
{
    cf__dslot *st = cf__dstaging(d);
    *insert_at = -1;
    for (uint32_t n = 0; n < d->buckets; n++) {
        uint32_t i = (uint32_t)((st->hash + n) % d->buckets);
        cf__dslot *s = cf__dslot_at(d, i);
        if (cf__dlive(d, s)) {
            if (s->hash == st->hash && cf__cell_equal(cf__dkey(s), cf__dkey(st)))
                return i;
        } else if (cf__ddeleted(d, s)) {
            if (*insert_at < 0)
                *insert_at = i;
        } else {
            if (*insert_at < 0)
                *insert_at = i;
            break;
        }
    }
    return -1;
}

/* Take the lock and look the key up (checked already). */
static int64_t cf__dict_begin(cf_shared_dict *d, const cf_value *key, int64_t *insert_at)
{
    cf__dict_lock(d);
    cf__dslot *st = cf__dstaging(d);
    cf__cell_encode(cf__dkey(st), key);
    st->hash = cf__cell_hash(cf__dkey(st));
    return cf__dict_find(d, insert_at);
}

/* Insert the entry built in the staging slot at `at` (from cf__dict_find). */
static int cf__dict_insert(cf_shared_dict *d, int64_t at, const char *caller)
{
    if (d->count >= d->capacity || at < 0)
        return cf__fail(CF_EFULL, "%s: the dict holds %u entries, its capacity", caller,
                        d->count);
    cf__dslot *st = cf__dstaging(d);
    atomic_store_explicit(&st->state, CF__SLOT_USED, memory_order_relaxed);
    st->gen = atomic_load(&d->gen);
    cf__dict_commit(d, (uint32_t)at);
    d->count++;
    return 0;
}

/* Replace live slot i's value by the staging slot's value. */
static void cf__dict_replace(cf_shared_dict *d, int64_t i)
{
    cf__dslot *st = cf__dstaging(d);
    atomic_store_explicit(&st->state, CF__SLOT_USED, memory_order_relaxed);
    st->gen = atomic_load(&d->gen);
    cf__dict_commit(d, (uint32_t)i);
}

/* Copy an encoded value into the calling thread's memory (`buf`, reserved
 * before the lock for the largest value) and decode it from there. */
static void cf__dict_read_out(const void *enc, void *buf, cf_value *out)
{
    memcpy(buf, enc, cf__cell_size(enc));
    cf__cell_decode(buf, out);
}

/* ---- Checks ------------------------------------------------------------------------------- */

static int cf__dict_check(cf_shared_dict *d, const cf_value *key, const cf_value *value,
                          const char *caller)
{
    if (d == NULL)
        return cf__fail(CF_EINVAL, "%s: NULL dict", caller);
    size_t len;
    int rc = cf__cell_check(key, d->key_max, &len, caller, "key");
    if (rc == 0 && value != NULL)
        rc = cf__cell_check(value, d->value_max, &len, caller, "value");
    return rc;
}

/* The thread's buffer for a value read out, reserved before locking. */
static void *cf__dict_out_buf(cf_shared_dict *d, int slot, const char *caller)
{
    return cf__cell_tls(slot, CF__CELL_BYTES(slot == 0 ? d->key_max : d->value_max), caller);
}

/* ---- Operations ----------------------------------------------------------------------------- */

int cf_shared_dict_set(cf_shared_dict *d, cf_value key, cf_value value)
{
    static const char caller[] = "cf_shared_dict_set";
    int rc = cf__dict_check(d, &key, &value, caller);
    if (rc != 0)
        return rc;
    int64_t at, i = cf__dict_begin(d, &key, &at);
    cf__cell_encode(cf__dval(d, cf__dstaging(d)), &value);
    if (i >= 0)
        cf__dict_replace(d, i);
    else
        rc = cf__dict_insert(d, at, caller);
    cf__dict_unlock(d);
    return rc;
}

int cf_shared_dict_get(cf_shared_dict *d, cf_value key, cf_value *out)
{
    static const char caller[] = "cf_shared_dict_get";
    int rc = cf__dict_check(d, &key, NULL, caller);
    if (rc != 0)
        return rc;
    if (out == NULL)
        return cf__fail(CF_EINVAL, "%s: NULL out", caller);
    void *buf = cf__dict_out_buf(d, 1, caller);
    if (buf == NULL)
        return -ENOMEM;
    int64_t at, i = cf__dict_begin(d, &key, &at);
    if (i >= 0)
        cf__dict_read_out(cf__dval(d, cf__dslot_at(d, (size_t)i)), buf, out);
    cf__dict_unlock(d);
    return i >= 0 ? 0 : cf__fail(-ENOENT, "%s: no such key", caller);
}

int cf_shared_dict_contains(cf_shared_dict *d, cf_value key, bool *out)
{
    static const char caller[] = "cf_shared_dict_contains";
    int rc = cf__dict_check(d, &key, NULL, caller);
    if (rc != 0)
        return rc;
    if (out == NULL)
        return cf__fail(CF_EINVAL, "%s: NULL out", caller);
    int64_t at, i = cf__dict_begin(d, &key, &at);
    cf__dict_unlock(d);
    *out = i >= 0;
    return 0;
}

/* Delete (and read out, when out is not NULL) the key. */
static int cf__dict_remove(cf_shared_dict *d, const cf_value *key, cf_value *out,
                           const char *caller)
{
    int rc = cf__dict_check(d, key, NULL, caller);
    if (rc != 0)
        return rc;
    void *buf = NULL;
    if (out != NULL && (buf = cf__dict_out_buf(d, 1, caller)) == NULL)
        return -ENOMEM;
    int64_t at, i = cf__dict_begin(d, key, &at);
    if (i >= 0) {
        cf__dslot *s = cf__dslot_at(d, (size_t)i);
        if (out != NULL)
            cf__dict_read_out(cf__dval(d, s), buf, out);
        atomic_signal_fence(memory_order_seq_cst);
        atomic_store(&s->state, CF__SLOT_DELETED); /* the commit: one store */
        atomic_signal_fence(memory_order_seq_cst);
        d->count--;
    }
    cf__dict_unlock(d);
    return i >= 0 ? 0 : cf__fail(-ENOENT, "%s: no such key", caller);
}

int cf_shared_dict_delete(cf_shared_dict *d, cf_value key)
{
    return cf__dict_remove(d, &key, NULL, "cf_shared_dict_delete");
}

int cf_shared_dict_pop(cf_shared_dict *d, cf_value key, cf_value *out)
{
    return cf__dict_remove(d, &key, out, "cf_shared_dict_pop");
}

int cf_shared_dict_setdefault(cf_shared_dict *d, cf_value key, cf_value dflt, cf_value *out)
{
    static const char caller[] = "cf_shared_dict_setdefault";
    int rc = cf__dict_check(d, &key, &dflt, caller);
    if (rc != 0)
        return rc;
    void *buf = NULL;
    if (out != NULL && (buf = cf__dict_out_buf(d, 1, caller)) == NULL)
        return -ENOMEM;
    int64_t at, i = cf__dict_begin(d, &key, &at);
    cf__dslot *from;
    if (i >= 0) {
        from = cf__dslot_at(d, (size_t)i);
    } else {
        cf__cell_encode(cf__dval(d, cf__dstaging(d)), &dflt);
        rc = cf__dict_insert(d, at, caller);
        from = cf__dstaging(d);
    }
    if (rc == 0 && out != NULL)
        cf__dict_read_out(cf__dval(d, from), buf, out);
    cf__dict_unlock(d);
    return rc;
}

int cf_shared_dict_compare_and_set(cf_shared_dict *d, cf_value key, const cf_value *expected,
                                   cf_value desired, bool *swapped)
{
    static const char caller[] = "cf_shared_dict_compare_and_set";
    if (swapped != NULL)
        *swapped = false;
    int rc = cf__dict_check(d, &key, &desired, caller);
    if (rc != 0)
        return rc;
    size_t len;
    if (expected != NULL) {
        rc = cf__cell_check(expected, d->value_max, &len, caller, "expected value");
        if (rc == CF_ETOOBIG)
            return 0; /* too large to be stored: equals nothing stored */
        if (rc != 0)
            return rc;
    }
    int64_t at, i = cf__dict_begin(d, &key, &at);
    cf__dslot *st = cf__dstaging(d);
    bool match;
    if (i >= 0 && expected != NULL) {
        cf__cell_encode(cf__dval(d, st), expected);
        match = cf__cell_equal(cf__dval(d, st), cf__dval(d, cf__dslot_at(d, (size_t)i)));
    } else {
        match = i < 0 && expected == NULL;
    }
    if (match) {
        cf__cell_encode(cf__dval(d, st), &desired);
        if (i >= 0)
            cf__dict_replace(d, i);
        else
            rc = cf__dict_insert(d, at, caller);
        if (rc == 0 && swapped != NULL)
            *swapped = true;
    }
    cf__dict_unlock(d);
    return rc;
}

/* add and add_f64: the value updated in the staging slot by `apply`. */
static int cf__dict_add(cf_shared_dict *d, const cf_value *key, cf_value zero,
                        int (*apply)(void *enc, const void *delta, void *result,
                                     const char *caller),
                        const void *delta, void *result, const char *caller)
{
    int rc = cf__dict_check(d, key, NULL, caller);
    if (rc != 0)
        return rc;
    int64_t at, i = cf__dict_begin(d, key, &at);
    cf__dslot *st = cf__dstaging(d);
    if (i >= 0) {
        cf__dslot *s = cf__dslot_at(d, (size_t)i);
        memcpy(cf__dval(d, st), cf__dval(d, s), cf__cell_size(cf__dval(d, s)));
    } else {
        cf__cell_encode(cf__dval(d, st), &zero);
    }
    rc = apply(cf__dval(d, st), delta, result, caller);
    if (rc == 0) {
        if (i >= 0)
            cf__dict_replace(d, i);
        else
            rc = cf__dict_insert(d, at, caller);
    }
    cf__dict_unlock(d);
    return rc;
}

static int cf__apply_int(void *enc, const void *delta, void *result, const char *caller)
{
    return cf__cell_add_int(enc, *(const int64_t *)delta, result, caller);
}

static int cf__apply_f64(void *enc, const void *delta, void *result, const char *caller)
{
    return cf__cell_add_f64(enc, *(const double *)delta, result, caller);
}

int cf_shared_dict_add(cf_shared_dict *d, cf_value key, int64_t delta, int64_t *result)
{
    return cf__dict_add(d, &key, cf_value_i64(0), cf__apply_int, &delta, result,
                        "cf_shared_dict_add");
}

int cf_shared_dict_add_f64(cf_shared_dict *d, cf_value key, double delta, double *result)
{
    return cf__dict_add(d, &key, cf_value_f64(0), cf__apply_f64, &delta, result,
                        "cf_shared_dict_add_f64");
}

size_t cf_shared_dict_len(cf_shared_dict *d)
{
    if (d == NULL)
        return 0;
    cf__dict_lock(d);
    size_t n = d->count;
    cf__dict_unlock(d);
    return n;
}

int cf_shared_dict_clear(cf_shared_dict *d)
{
    if (d == NULL)
        return cf__fail(CF_EINVAL, "cf_shared_dict_clear: NULL dict");
    cf__dict_lock(d);
    atomic_signal_fence(memory_order_seq_cst);
    atomic_fetch_add(&d->gen, 1); /* the commit: every slot is free */
    atomic_signal_fence(memory_order_seq_cst);
    d->count = 0;
    cf__dict_unlock(d);
    return 0;
}

int cf_shared_dict_next(cf_shared_dict *d, size_t *cursor, cf_value *key, cf_value *value)
{
    static const char caller[] = "cf_shared_dict_next";
    if (d == NULL || cursor == NULL)
        return cf__fail(CF_EINVAL, "%s: NULL %s", caller, d == NULL ? "dict" : "cursor");
    void *kbuf = NULL, *vbuf = NULL;
    if ((key != NULL && (kbuf = cf__dict_out_buf(d, 0, caller)) == NULL)
        || (value != NULL && (vbuf = cf__dict_out_buf(d, 1, caller)) == NULL))
        return -ENOMEM;
    cf__dict_lock(d);
    size_t i = *cursor;
    while (i < d->buckets && !cf__dlive(d, cf__dslot_at(d, i)))
        i++;
    if (i < d->buckets) {
        cf__dslot *s = cf__dslot_at(d, i);
        if (key != NULL)
            cf__dict_read_out(cf__dkey(s), kbuf, key);
        if (value != NULL)
            cf__dict_read_out(cf__dval(d, s), vbuf, value);
        *cursor = i + 1;
    }
    cf__dict_unlock(d);
    if (i >= d->buckets) {
        *cursor = d->buckets;
        return cf__fail(CF_EEXHAUSTED, "%s: no more entries", caller);
    }
    return 0;
}
