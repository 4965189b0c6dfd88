/* shared_value.c: Value and Array of numbers in memory shared between
 * processes.
 *
 * Design notes
 * - Memory: one shared mapping per value or array (lib/pshared.h), inherited
 *   by the processes forked after it; free unmaps it in the calling process.
 *   The mapping starts with a header (element type, length, the lock) and
 *   the elements follow, 8-byte aligned. A value is an array of one element
 *   behind a type of its own.
 * - The lock is a cf_rlock inside the mapping (`embedded`: cf_rlock_free
 *   leaves it alone), so a holder's get, set and add nest inside its own
 *   compound update. Every element access is also an atomic load, store or
 *   read-modify-write of the element's size, with or without the lock: an
 *   unlocked object is consistent per element, and readers through the data
 *   pointer never see a torn number. Floating-point adds are compare-and-swap
 *   loops on the bits.
 * - Type checks compare cf_types (kind and size) before anything is locked
 *   or touched: a mismatch changes nothing.
 */
#include "config.h"

#include <cfutures/shared_value.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "clock.h"
#include "error_priv.h"
#include "checked_size.h"
#include "lock_priv.h"
#include "pshared.h"

typedef struct cf__shared_obj {
    cf_type type;
    bool has_lock;
    size_t length;
    size_t map_size;
    cf_rlock lock;
    uint64_t data[]; /* length elements of type.size bytes */
} cf__shared_obj;

struct cf_shared_value {
    cf__shared_obj obj;
};

struct cf_shared_array {
    cf__shared_obj obj;
};

/* ---- Elements --------------------------------------------------------------------------- */

static void *cf__elem(cf__shared_obj *o, size_t i)
{
    return (unsigned char *)o->data + i * o->type.size;
}

static void cf__elem_load(cf__shared_obj *o, size_t i, void *out)
{
    void *p = cf__elem(o, i);
    switch (o->type.size) {
    case 1: {
        uint8_t x = __atomic_load_n((uint8_t *)p, __ATOMIC_SEQ_CST);
        memcpy(out, &x, 1);
        break;
    }
    case 2: {
        uint16_t x = __atomic_load_n((uint16_t *)p, __ATOMIC_SEQ_CST);
        memcpy(out, &x, 2);
        break;
    }
    case 4: {
        uint32_t x = __atomic_load_n((uint32_t *)p, __ATOMIC_SEQ_CST);
        memcpy(out, &x, 4);
        break;
    }
    default: {
        uint64_t x = __atomic_load_n((uint64_t *)p, __ATOMIC_SEQ_CST);
        memcpy(out, &x, 8);
        break;
    }
    }
}

static void cf__elem_store(cf__shared_obj *o, size_t i, const void *in)
{
    void *p = cf__elem(o, i);
    switch (o->type.size) {
    case 1: {
        uint8_t x;
        memcpy(&x, in, 1);
        __atomic_store_n((uint8_t *)p, x, __ATOMIC_SEQ_CST);
        break;
    }
    case 2: {
        uint16_t x;
        memcpy(&x, in, 2);
        __atomic_store_n((uint16_t *)p, x, __ATOMIC_SEQ_CST);
        break;
    }
    case 4: {
        uint32_t x;
        memcpy(&x, in, 4);
        __atomic_store_n((uint32_t *)p, x, __ATOMIC_SEQ_CST);
        break;
    }
    default: {
        uint64_t x;
        memcpy(&x, in, 8);
        __atomic_store_n((uint64_t *)p, x, __ATOMIC_SEQ_CST);
        break;
    }
    }
}

/* Integer add of the element's size; wraps around. */
#define CF__ADD_INT(W)                                                                     \
    do {                                                                                   \
        uint##W##_t d, was;                                                                \
        memcpy(&d, delta, sizeof d);                                                       \
        was = __atomic_fetch_add((uint##W##_t *)p, d, __ATOMIC_SEQ_CST);                   \
        memcpy(old, &was, sizeof was);                                                     \
    } while (0)

/* Floating-point add of type F held in the bits of uintW_t. */
#define CF__ADD_FLOAT(F, W)                                                                \
    do {                                                                                   \
        F d, x;                                                                            \
        uint##W##_t bits = __atomic_load_n((uint##W##_t *)p, __ATOMIC_SEQ_CST), sum;       \
        memcpy(&d, delta, sizeof d);                                                       \
        do {                                                                               \
            memcpy(&x, &bits, sizeof x);                                                   \
            x += d;                                                                        \
            memcpy(&sum, &x, sizeof sum);                                                  \
        } while (!__atomic_compare_exchange_n((uint##W##_t *)p, &bits, sum, true,          \
                                              __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST));        \
        memcpy(old, &bits, sizeof bits);                                                   \
    } while (0)

/* Adds *delta to element i and stores the former value into *old (8 bytes
 * of room). The kind is numeric and not bool. */
static void cf__elem_add(cf__shared_obj *o, size_t i, const void *delta, void *old)
{
    void *p = cf__elem(o, i);
    if (o->type.kind == CF_KIND_F32)
        CF__ADD_FLOAT(float, 32);
    else if (o->type.kind == CF_KIND_F64)
        CF__ADD_FLOAT(double, 64);
    else if (o->type.size == 1)
        CF__ADD_INT(8);
    else if (o->type.size == 2)
        CF__ADD_INT(16);
    else if (o->type.size == 4)
        CF__ADD_INT(32);
    else
        CF__ADD_INT(64);
}

/* ---- Making and freeing -------------------------------------------------------------- */

static bool cf__shared_numeric(cf_type t)
{
    if (t.kind == CF_KIND_BOOL)
        return t.size == sizeof(bool);
    if (t.kind < CF_KIND_I8 || t.kind > CF_KIND_F64)
        return false;
    return t.size == 1 || t.size == 2 || t.size == 4 || t.size == 8;
}

static int cf__shared_make(cf__shared_obj **out, cf_type type, size_t n, const void *init,
                           const cf_shared_options *opts, const char *caller)
{
    *out = NULL;
    if (!cf__shared_numeric(type))
        return cf__fail(CF_ETYPE, "%s: %s is not a numeric type", caller,
                        cf_kind_name(type.kind));
    if (n == 0)
        return cf__fail(CF_EINVAL, "%s: no elements", caller);
    size_t size;
    if (!cf__size_mul_add(n, type.size, sizeof(cf__shared_obj), &size))
        return cf__fail(-ENOMEM, "%s: %zu elements of %u bytes do not fit in memory", caller, n,
                        type.size);
    void *mem;
    int rc = cf__pshared_new(&mem, size, caller);
    if (rc != 0)
        return rc;
    cf__shared_obj *o = mem;
    o->type = type;
    o->length = n;
    o->map_size = size;
    o->has_lock = opts == NULL || !opts->no_lock;
    if (o->has_lock && (rc = cf__rlock_init(&o->lock, true)) != 0) {
        cf__pshared_free(o, size);
        return cf__fail(rc, "%s: cannot make its lock: %s", caller, cf_strerror(rc));
    }
    if (init != NULL)
        memcpy(o->data, init, n * type.size);
    *out = o;
    return 0;
}

static void cf__shared_free(cf__shared_obj *o)
{
    if (o != NULL)
        cf__pshared_free(o, o->map_size);
}

/* ---- Typed access -------------------------------------------------------------------- */

enum cf__shared_op { CF__SHARED_GET, CF__SHARED_SET, CF__SHARED_ADD };

/* Checks a typed access to element i, then does it under the lock (if any). */
static int cf__shared_access(cf__shared_obj *o, size_t i, cf_type type, enum cf__shared_op op,
                             const void *in, void *out, double timeout, const char *caller)
{
    int64_t deadline;
    if (o == NULL)
        return cf__fail(CF_EINVAL, "%s: NULL object", caller);
    if (op == CF__SHARED_GET && out == NULL)
        return cf__fail(CF_EINVAL, "%s: NULL out", caller);
    if (cf__deadline(timeout, &deadline) != 0)
        return cf__fail(CF_EINVAL, "%s: the timeout is NaN", caller);
    if (!cf_type_equal(type, o->type))
        return cf__fail(CF_ETYPE, "%s: the object holds %s (%u bytes), not %s (%u bytes)", caller,
                        cf_kind_name(o->type.kind), o->type.size, cf_kind_name(type.kind),
                        type.size);
    if (op == CF__SHARED_ADD && o->type.kind == CF_KIND_BOOL)
        return cf__fail(CF_EINVAL, "%s: cannot add to a bool", caller);
    if (i >= o->length)
        return cf__fail(CF_EINVAL, "%s: index %zu is out of range (length %zu)", caller, i,
                        o->length);
    int rc = 0;
    if (o->has_lock) {
        rc = cf__rlock_acquire(&o->lock, deadline);
        if (rc == CF_ETIMEDOUT)
            return cf__fail(rc, "%s: timed out waiting for the lock", caller);
        if (rc != 0 && rc != CF_EOWNERDEAD)
            return cf__fail(rc, "%s: cannot take the lock: %s", caller, cf_strerror(rc));
    }
    if (op == CF__SHARED_GET) {
        cf__elem_load(o, i, out);
    } else if (op == CF__SHARED_SET) {
        cf__elem_store(o, i, in);
    } else {
        uint64_t was;
        cf__elem_add(o, i, in, &was);
        if (out != NULL)
            memcpy(out, &was, o->type.size);
    }
    if (o->has_lock)
        cf__rlock_release(&o->lock);
    if (rc == CF_EOWNERDEAD)
        return cf__fail(rc, "%s: done, but the lock's previous holder died holding it", caller);
    return 0;
}

static int cf__shared_data(cf__shared_obj *o, cf_type type, void **ptr, const char *caller)
{
    if (o == NULL || ptr == NULL)
        return cf__fail(CF_EINVAL, "%s: NULL %s", caller, o == NULL ? "object" : "ptr");
    if (!cf_type_equal(type, o->type))
        return cf__fail(CF_ETYPE, "%s: the object holds %s (%u bytes), not %s (%u bytes)", caller,
                        cf_kind_name(o->type.kind), o->type.size, cf_kind_name(type.kind),
                        type.size);
    *ptr = o->data;
    return 0;
}

/* ---- Value --------------------------------------------------------------------------- */

int cf__shared_value_new(cf_shared_value **out, cf_type type, const void *initial,
                         const cf_shared_options *opts)
{
    if (out == NULL)
        return cf__fail(CF_EINVAL, "cf_shared_value_new: NULL out");
    cf__shared_obj *o;
    int rc = cf__shared_make(&o, type, 1, initial, opts, "cf_shared_value_new");
    *out = (cf_shared_value *)o;
    return rc;
}

void cf_shared_value_free(cf_shared_value *v)
{
    cf__shared_free(v == NULL ? NULL : &v->obj);
}

int cf__shared_value_get(cf_shared_value *v, cf_type type, void *out, double timeout)
{
    return cf__shared_access(v == NULL ? NULL : &v->obj, 0, type, CF__SHARED_GET, NULL, out,
                             timeout, "cf_shared_value_get");
}

int cf__shared_value_set(cf_shared_value *v, cf_type type, const void *x, double timeout)
{
    return cf__shared_access(v == NULL ? NULL : &v->obj, 0, type, CF__SHARED_SET, x, NULL,
                             timeout, "cf_shared_value_set");
}

int cf__shared_value_add(cf_shared_value *v, cf_type type, const void *delta, void *old,
                         double timeout)
{
    return cf__shared_access(v == NULL ? NULL : &v->obj, 0, type, CF__SHARED_ADD, delta, old,
                             timeout, "cf_shared_value_add");
}

int cf__shared_value_data(cf_shared_value *v, cf_type type, void **ptr)
{
    return cf__shared_data(v == NULL ? NULL : &v->obj, type, ptr, "cf_shared_value_data");
}

cf_rlock *cf_shared_value_lock(cf_shared_value *v)
{
    return v != NULL && v->obj.has_lock ? &v->obj.lock : NULL;
}

cf_type cf_shared_value_type(const cf_shared_value *v)
{
    return v == NULL ? (cf_type){CF_KIND_VOID, 0} : v->obj.type;
}

/* ---- Array --------------------------------------------------------------------------- */

int cf__shared_array_new(cf_shared_array **out, cf_type type, size_t n, const void *init,
                         const cf_shared_options *opts)
{
    if (out == NULL)
        return cf__fail(CF_EINVAL, "cf_shared_array_new: NULL out");
    cf__shared_obj *o;
    int rc = cf__shared_make(&o, type, n, init, opts, "cf_shared_array_new");
    *out = (cf_shared_array *)o;
    return rc;
}

void cf_shared_array_free(cf_shared_array *a)
{
    cf__shared_free(a == NULL ? NULL : &a->obj);
}

int cf__shared_array_get(cf_shared_array *a, size_t i, cf_type type, void *out, double timeout)
{
    return cf__shared_access(a == NULL ? NULL : &a->obj, i, type, CF__SHARED_GET, NULL, out,
                             timeout, "cf_shared_array_get");
}

int cf__shared_array_set(cf_shared_array *a, size_t i, cf_type type, const void *x,
                         double timeout)
{
    return cf__shared_access(a == NULL ? NULL : &a->obj, i, type, CF__SHARED_SET, x, NULL,
                             timeout, "cf_shared_array_set");
}

int cf__shared_array_add(cf_shared_array *a, size_t i, cf_type type, const void *delta,
                         void *old, double timeout)
{
    return cf__shared_access(a == NULL ? NULL : &a->obj, i, type, CF__SHARED_ADD, delta, old,
                             timeout, "cf_shared_array_add");
}

int cf__shared_array_data(cf_shared_array *a, cf_type type, void **ptr)
{
    return cf__shared_data(a == NULL ? NULL : &a->obj, type, ptr, "cf_shared_array_data");
}

size_t cf_shared_array_length(const cf_shared_array *a)
{
    return a == NULL ? 0 : a->obj.length;
}

cf_rlock *cf_shared_array_lock(cf_shared_array *a)
{
    return a != NULL && a->obj.has_lock ? &a->obj.lock : NULL;
}

cf_type cf_shared_array_type(const cf_shared_array *a)
{
    return a == NULL ? (cf_type){CF_KIND_VOID, 0} : a->obj.type;
}
