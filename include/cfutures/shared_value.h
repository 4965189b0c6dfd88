/* cfutures/shared_value.h: numbers in memory shared between processes,
 * Python's multiprocessing Value and Array.
 *
 * A shared value holds one number, a shared array a fixed number of them,
 * of one of the fixed-width numeric types: bool, int8_t .. int64_t,
 * uint8_t .. uint64_t (and the standard integer types, told apart by size
 * and signedness as everywhere in cfutures, see value.h), float or double.
 * Another element type does not compile.
 *
 * Access is typed. The type is named where a value goes in
 * (cf_shared_value_set(v, int64_t, 5, CF_FOREVER)) and taken from the
 * pointer where one comes out (int64_t x; cf_shared_value_get(v, &x,
 * CF_FOREVER)); a type that is not the object's type is refused with
 * CF_ETYPE, and nothing is read or written.
 *
 * Locking: by default each object has its own recursive lock (a cf_rlock,
 * Python's lock=True): get, set and add take it, and a process may hold it
 * (cf_rlock_acquire(cf_shared_value_lock(v), ...)) around several accesses
 * to make them one update. Those calls then simply take it once more. With
 * `.no_lock` there is none (lock=False): each access is still atomic on its
 * own. The lock is robust (sync.h): get, set and add return CF_EOWNERDEAD,
 * having done their work, when they took it from a holder that died; the
 * value may be half-updated by the dead holder's compound update.
 *
 * Integers wrap around on add (two's complement), as unsigned C arithmetic
 * does; floats add in IEEE arithmetic.
 *
 * Who may use an object: the process that created it and every process
 * forked from it afterwards (through any cf_ function or fork()), with all
 * their threads; see sync.h. Memory: one anonymous shared mapping per
 * object; `_free` releases the calling process's view, and the memory goes
 * with the last process to free it or exit. No file or descriptor.
 *
 * Timeouts bound the wait for the lock (CF_FOREVER: no limit, 0: try once);
 * without a lock nothing waits. Every call may be made from any thread.
 */
#ifndef CFUTURES_SHARED_VALUE_H
#define CFUTURES_SHARED_VALUE_H

#include "common.h"
#include "sync.h"
#include "value.h"

typedef struct cf_shared_value cf_shared_value;
typedef struct cf_shared_array cf_shared_array;

/* Settings for a new shared value or array; NULL means all defaults. */
typedef struct cf_shared_options {
    bool no_lock; /* no lock of its own (Python's lock=False) */
} cf_shared_options;

/* Inside a typed macro's body: T must be bool, an integer type, float or
 * double, or the program does not compile. */
#ifdef __cplusplus
#define CF__SHARED_ASSERT_NUMERIC(T, what)                                         \
    static_assert(::cf__cxx::numeric<T>::value,                                    \
                  what " holds bool, an integer type, float or double");
#else
#define CF__SHARED_ASSERT_NUMERIC(T, what)                                         \
    enum { cf__shared_kind_ = CF__KIND_OF_PTR((T *)0) };                           \
    _Static_assert((int)cf__shared_kind_ >= (int)CF_KIND_BOOL                     \
                       && (int)cf__shared_kind_ <= (int)CF_KIND_F64,                 \
                   what " holds bool, an integer type, float or double");
#endif

/* Around the typed macros' bodies: a mistaken pointer argument is an error,
 * not a warning. */
#ifdef __cplusplus
/* C++ refuses those conversions by itself. */
#define CF__SHARED_STRICT_BEGIN
#define CF__SHARED_STRICT_END
#else
#define CF__SHARED_STRICT_BEGIN                                                    \
    _Pragma("GCC diagnostic push")                                                 \
    _Pragma("GCC diagnostic error \"-Wint-conversion\"")                           \
    _Pragma("GCC diagnostic error \"-Wincompatible-pointer-types\"")
#define CF__SHARED_STRICT_END _Pragma("GCC diagnostic pop")
#endif

CF_BEGIN_DECLS

/* ---- Value ------------------------------------------------------------------------- */

/* A new shared value of type T holding `initial` (converted to T as by an
 * assignment), in *out, for this process and the processes forked from it
 * afterwards: cf_shared_value_new(&v, int64_t, 0, NULL). `opts`
 * (NULL: the defaults) may ask for no lock. T must be a numeric type or
 * bool, or this does not compile. Never blocks. Errors: CF_EINVAL (NULL
 * out), -ENOMEM or another -errno (no memory or mapping for it). */
#define cf_shared_value_new(out, T, initial, opts)                                 \
    (__extension__({                                                               \
        CF__SHARED_ASSERT_NUMERIC(T, "a shared value")                             \
        CF__SHARED_STRICT_BEGIN                                                    \
        T cf__shared_initial_ = (initial);                                         \
        int cf__shared_rc_ = cf__shared_value_new((out), CF_TYPE_OF(T),            \
                                                  &cf__shared_initial_, (opts));   \
        CF__SHARED_STRICT_END cf__shared_rc_;                                      \
    }))
CF_EXTERN int cf__shared_value_new(cf_shared_value **out, cf_type type, const void *initial,
                                   const cf_shared_options *opts);

/* Releases the calling process's view of the value, its lock included
 * (see the top of this header). NULL is ignored. Never blocks. */
CF_EXTERN void cf_shared_value_free(cf_shared_value *v);

/* Stores the value into *out, whose type must be the value's: int64_t x;
 * cf_shared_value_get(v, &x, CF_FOREVER). Blocks for the lock, at most
 * `timeout` seconds. Returns 0; CF_EOWNERDEAD (read, see the top of this
 * header). Errors: CF_ETYPE (out's type is not the value's), CF_ETIMEDOUT
 * (the lock stayed held), CF_EINVAL (NULL v or out, NaN timeout). */
#define cf_shared_value_get(v, out, timeout)                                       \
    cf__shared_value_get((v), CF__TYPE_OF_OUT(out), (out), (timeout))
CF_EXTERN int cf__shared_value_get(cf_shared_value *v, cf_type type, void *out, double timeout);

/* Stores `x`, converted to T, into the value, whose type must be T:
 * cf_shared_value_set(v, int64_t, 5, CF_FOREVER). Blocks for the lock, at
 * most `timeout` seconds. Returns 0; CF_EOWNERDEAD (stored). Errors:
 * CF_ETYPE (T is not the value's type), CF_ETIMEDOUT, CF_EINVAL (NULL v, NaN
 * timeout). */
#define cf_shared_value_set(v, T, x, timeout)                                      \
    (__extension__({                                                               \
        T cf__shared_x_ = (x);                                                     \
        cf__shared_value_set((v), CF_TYPE_OF(T), &cf__shared_x_, (timeout));       \
    }))
CF_EXTERN int cf__shared_value_set(cf_shared_value *v, cf_type type, const void *x,
                                   double timeout);

/* Adds `delta` (converted to T) to the value, whose type must be T, in one
 * step that no other access can come between, and stores the value from
 * before the addition into *old (a T *, or NULL): a counter, or a ticket
 * dispenser. cf_shared_value_add(v, int64_t, 1, NULL, CF_FOREVER). Blocks
 * for the lock, at most `timeout` seconds; without a lock it is one atomic
 * instruction (a compare-and-swap loop for float and double). Returns 0;
 * CF_EOWNERDEAD (added). Errors: CF_ETYPE (T is not the value's type),
 * CF_EINVAL (a bool value; NULL v; NaN timeout), CF_ETIMEDOUT. */
#define cf_shared_value_add(v, T, delta, old, timeout)                             \
    (__extension__({                                                               \
        CF__SHARED_STRICT_BEGIN                                                    \
        T cf__shared_delta_ = (delta);                                             \
        T *cf__shared_old_ = (old);                                                \
        int cf__shared_rc_ = cf__shared_value_add((v), CF_TYPE_OF(T), &cf__shared_delta_, \
                                                  cf__shared_old_, (timeout));     \
        CF__SHARED_STRICT_END cf__shared_rc_;                                      \
    }))
CF_EXTERN int cf__shared_value_add(cf_shared_value *v, cf_type type, const void *delta,
                                   void *old, double timeout);

/* Where the value lives, in *ptr, a T * that must match the value's type:
 * int64_t *p; cf_shared_value_data(v, &p). Accesses through it are the
 * caller's to make atomic, or to guard with the lock. Valid in this process
 * until cf_shared_value_free. Never blocks. Errors: CF_ETYPE, CF_EINVAL
 * (NULL v or ptr). */
#define cf_shared_value_data(v, ptr)                                               \
    cf__shared_value_data((v), CF__TYPE_OF_OUT(*(ptr)), (void **)(ptr))
CF_EXTERN int cf__shared_value_data(cf_shared_value *v, cf_type type, void **ptr);

/* The value's lock, or NULL when it was made with .no_lock (or v is NULL).
 * The lock belongs to the value: it goes with cf_shared_value_free, and
 * cf_rlock_free does nothing to it. Never blocks or fails. */
CF_EXTERN cf_rlock *cf_shared_value_lock(cf_shared_value *v);

/* The value's type (CF_TYPE_OF(T) of its T); {CF_KIND_VOID, 0} for NULL.
 * Never blocks or fails. */
CF_EXTERN cf_type cf_shared_value_type(const cf_shared_value *v);

/* ---- Array ------------------------------------------------------------------------- */

/* A new shared array of `n` elements of type T, in *out, for this process
 * and the processes forked from it afterwards: copied from `init`
 * (a const T * to n elements) or zero when `init` is NULL:
 * cf_shared_array_new(&a, double, 100, NULL, NULL). `opts` (NULL: the
 * defaults) may ask for no lock. T must be a numeric type or bool, or this
 * does not compile. Never blocks. Errors: CF_EINVAL (NULL out, n == 0),
 * -ENOMEM (n too large) or another -errno. */
#define cf_shared_array_new(out, T, n, init, opts)                                 \
    (__extension__({                                                               \
        CF__SHARED_ASSERT_NUMERIC(T, "a shared array")                             \
        CF__SHARED_STRICT_BEGIN                                                    \
        const T *cf__shared_init_ = (init);                                        \
        int cf__shared_rc_ = cf__shared_array_new((out), CF_TYPE_OF(T), (n),       \
                                                  cf__shared_init_, (opts));       \
        CF__SHARED_STRICT_END cf__shared_rc_;                                      \
    }))
CF_EXTERN int cf__shared_array_new(cf_shared_array **out, cf_type type, size_t n,
                                   const void *init, const cf_shared_options *opts);

/* Releases the calling process's view of the array, its lock included
 * (see the top of this header). NULL is ignored. Never blocks. */
CF_EXTERN void cf_shared_array_free(cf_shared_array *a);

/* Element `i`, as cf_shared_value_get does for a value. Errors: those of
 * cf_shared_value_get, and CF_EINVAL for i out of range. */
#define cf_shared_array_get(a, i, out, timeout)                                    \
    cf__shared_array_get((a), (i), CF__TYPE_OF_OUT(out), (out), (timeout))
CF_EXTERN int cf__shared_array_get(cf_shared_array *a, size_t i, cf_type type, void *out,
                                   double timeout);

/* Stores `x` into element `i`, as cf_shared_value_set does. Errors: those of
 * cf_shared_value_set, and CF_EINVAL for i out of range. */
#define cf_shared_array_set(a, T, i, x, timeout)                                   \
    (__extension__({                                                               \
        T cf__shared_x_ = (x);                                                     \
        cf__shared_array_set((a), (i), CF_TYPE_OF(T), &cf__shared_x_, (timeout));  \
    }))
CF_EXTERN int cf__shared_array_set(cf_shared_array *a, size_t i, cf_type type, const void *x,
                                   double timeout);

/* Adds `delta` to element `i`, as cf_shared_value_add does. Errors: those of
 * cf_shared_value_add, and CF_EINVAL for i out of range. */
#define cf_shared_array_add(a, T, i, delta, old, timeout)                          \
    (__extension__({                                                               \
        CF__SHARED_STRICT_BEGIN                                                    \
        T cf__shared_delta_ = (delta);                                             \
        T *cf__shared_old_ = (old);                                                \
        int cf__shared_rc_ = cf__shared_array_add((a), (i), CF_TYPE_OF(T),         \
                                                  &cf__shared_delta_, cf__shared_old_, \
                                                  (timeout));                      \
        CF__SHARED_STRICT_END cf__shared_rc_;                                      \
    }))
CF_EXTERN int cf__shared_array_add(cf_shared_array *a, size_t i, cf_type type,
                                   const void *delta, void *old, double timeout);

/* The elements, in *ptr, a T * that must match the array's type: double *p;
 * cf_shared_array_data(a, &p), then p[0] .. p[cf_shared_array_length(a) - 1].
 * Hold the lock around accesses that other processes must see as one update.
 * Valid in this process until cf_shared_array_free. Never blocks.
 * Errors: CF_ETYPE, CF_EINVAL (NULL a or ptr). */
#define cf_shared_array_data(a, ptr)                                               \
    cf__shared_array_data((a), CF__TYPE_OF_OUT(*(ptr)), (void **)(ptr))
CF_EXTERN int cf__shared_array_data(cf_shared_array *a, cf_type type, void **ptr);

/* The number of elements; 0 for NULL. Never blocks or fails. */
CF_EXTERN size_t cf_shared_array_length(const cf_shared_array *a);

/* The array's lock, or NULL (made with .no_lock, or a NULL a); it belongs to
 * the array, as a value's does. Never blocks or fails. */
CF_EXTERN cf_rlock *cf_shared_array_lock(cf_shared_array *a);

/* The element type; {CF_KIND_VOID, 0} for NULL. Never blocks or fails. */
CF_EXTERN cf_type cf_shared_array_type(const cf_shared_array *a);

CF_END_DECLS

#endif
