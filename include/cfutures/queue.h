/* cfutures/queue.h: a FIFO queue of typed values shared by processes (and
 * threads): Python's multiprocessing.Queue and JoinableQueue.
 *
 * Who may use a queue: the process that created it and every process forked
 * from it afterwards (with fork(), or by anything in cfutures that forks),
 * from any of their threads. It lives in anonymous shared memory: no file,
 * no descriptor, nothing in /dev/shm. Processes forked before the queue was
 * made (a process pool's workers, for one) do not have it, and neither does
 * a program started with exec.
 *
 * Items are values of the types of value.h, raw pointers excepted, each
 * serialized with its type (doc/wire-format.md, VALUE): a getter must ask
 * for the type that was put (kind and size: an int goes out as an int32_t,
 * and a getter asking for an int64_t is refused with CF_ETYPE; put
 * `(int64_t)x` to send an int64_t). Items are copied into the queue's
 * shared memory when put, and out of it when got, so the putter's buffers
 * may change as soon as the put returns.
 *
 * A process killed at any point, even inside a put or a get holding the
 * queue's lock, neither damages the queue nor loses other items: an item
 * being put is either wholly in or not in, an item being got stays in the
 * queue unless the get completed. Blocked getters and putters wake when
 * items or room appear, when the queue is closed, and after a process died
 * holding the lock.
 *
 * Timeouts are seconds (CF_FOREVER: no limit; 0: do not wait) and bound the
 * wait for an item, for room, or for join. The queue's lock, which others
 * hold only while they copy one item in or out, is waited for whatever the
 * timeout (as Python's queue.Queue does); a holder that dies releases it.
 * Waits are not cut short by signals (EINTR is retried).
 */
#ifndef CFUTURES_QUEUE_H
#define CFUTURES_QUEUE_H

#include "common.h"
#include "error.h"
#include "value.h"

typedef struct cf_queue cf_queue;

/* Shared memory for items when cf_queue_options.ring_bytes is 0: 1 MiB. */
#define CF_QUEUE_DEFAULT_RING_BYTES ((size_t)1 << 20)
/* The smallest ring_bytes accepted. */
#define CF_QUEUE_MIN_RING_BYTES ((size_t)64)

typedef struct cf_queue_options {
    size_t capacity;   /* most items held at once (Python's maxsize); 0: as
                          many as fit in the ring */
    size_t ring_bytes; /* shared memory for items, in bytes; 0:
                          CF_QUEUE_DEFAULT_RING_BYTES. Each item takes its
                          serialized size plus 4 bytes; an item that cannot
                          fit even in an empty ring is refused (CF_ETOOBIG) */
    bool joinable;     /* a JoinableQueue: count unfinished items for
                          cf_queue_task_done() and cf_queue_join() */
} cf_queue_options;

CF_BEGIN_DECLS

/* ---- Lifetime ------------------------------------------------------------------ */

/* Create a queue; `opts` may be NULL (no capacity, a 1 MiB ring, not
 * joinable). *out is the creating process's handle; a process forked later
 * uses the same pointer. Never blocks.
 * Errors: CF_EINVAL (NULL out, ring_bytes below CF_QUEUE_MIN_RING_BYTES or
 * too large to address), -ENOMEM or -errno (the shared mapping). */
CF_EXTERN int cf_queue_new(cf_queue **out, const cf_queue_options *opts);

/* Drop the calling process's handle: unmaps the queue in this process only.
 * Other processes keep using it; its memory goes when the last process
 * holding it frees it or exits. No thread of this process may be using the
 * queue, or use it afterwards. Does not close the queue. NULL is ignored.
 * Never blocks, never fails. */
CF_EXTERN void cf_queue_free(cf_queue *q);

/* ---- Putting and getting ---------------------------------------------------------- */

/* Put a copy of the value x at the back of the queue, waiting up to
 * `timeout` for room (the capacity, or the ring's bytes). x is any
 * expression of a type of value.h: a number, a bool, a string (a string
 * literal, char * or const char *; NULL allowed), a cf_bytes, a struct
 * (copied as its bytes). A raw pointer does not compile.
 * Returns 0, or:
 *   CF_EFULL      no room before the timeout (at once for timeout 0);
 *   CF_ECLOSED    the queue is closed (also when closed while waiting);
 *   CF_ETOOBIG    the item would not fit even in the empty ring;
 *   CF_EINVAL     NULL q, NaN timeout, a cf_bytes with NULL data and a
 *                 nonzero length;
 *   -ENOMEM.
 * Any thread of any process that has the queue may call it; it blocks as
 * the timeout says. */
#ifdef __cplusplus
#define cf_queue_put(q, x, timeout) (::cf__cxx::queue_put((q), (x), (timeout)))
#else
#define cf_queue_put(q, x, timeout)                                                \
    (__extension__({                                                               \
        __auto_type cf__item_ = (x);                                               \
        _Static_assert(CF__KIND_OF_PTR(&cf__item_) != CF_KIND_PTR,                 \
                       "cf_queue_put: a raw pointer cannot travel between processes"); \
        cf__queue_put((q), CF__TYPE_OF_OUT(&cf__item_), &cf__item_, (timeout));    \
    }))
#endif
CF_EXTERN int cf__queue_put(cf_queue *q, cf_type type, const void *src, double timeout);

/* Take the item at the front of the queue into *out, waiting up to
 * `timeout` for one. `out` points at a C object of the item's type, and the
 * macro takes the type from the pointer: `double d; cf_queue_get(q, &d, 1.0)`.
 * A NULL out takes the front item whatever its type and drops it.
 * Returns 0, or:
 *   CF_EEMPTY     no item before the timeout (at once for timeout 0);
 *   CF_ECLOSED    the queue is closed and holds no more items (items put
 *                 before the close are still got first);
 *   CF_ETYPE      the front item is of another type: it stays at the front,
 *                 *out is untouched (cf_last_error() names both types);
 *   CF_EINVAL     NULL q, NaN timeout;
 *   -ENOMEM       (the item stays in the queue).
 * On any error the item stays in the queue. A string or cf_bytes item is
 * stored as a pointer into memory of the calling thread, valid until that
 * thread's next get from any queue (whatever its outcome) or until the
 * thread ends: copy it to keep it. Any thread of any process that has the
 * queue may call it; it blocks as the timeout says. */
#define cf_queue_get(q, out, timeout)                                              \
    cf__queue_get((q), CF__TYPE_OF_OUT(out), (out), (timeout))
CF_EXTERN int cf__queue_get(cf_queue *q, cf_type type, void *out, double timeout);

/* cf_queue_put for a dynamic value (bindings, generic code): puts v with
 * its own type; a void value is an item that carries nothing.
 * Errors: those of cf_queue_put, and CF_EINVAL (NULL v, an unknown kind),
 * CF_EUNSUPPORTED (a raw pointer). */
CF_EXTERN int cf_queue_put_value(cf_queue *q, const cf_value *v, double timeout);

/* cf_queue_get for an item of any type: *out gets it as a dynamic value,
 * referring to memory of the calling thread (a struct's bytes, a string, a
 * byte buffer), valid as cf_queue_get says.
 * Errors: those of cf_queue_get but CF_ETYPE, and CF_EINVAL (NULL out). */
CF_EXTERN int cf_queue_get_value(cf_queue *q, cf_value *out, double timeout);

/* ---- State (approximate, as in Python: others may change it at once) ------------- */

/* How many items the queue holds. Never blocks, never fails. */
CF_EXTERN size_t cf_queue_qsize(const cf_queue *q);

/* Whether it holds no item. Never blocks, never fails. */
CF_EXTERN bool cf_queue_empty(const cf_queue *q);

/* Whether it holds `capacity` items (never true without a capacity, as in
 * Python; a put may still wait for bytes in the ring). Never blocks, never
 * fails. */
CF_EXTERN bool cf_queue_full(const cf_queue *q);

/* ---- Closing ------------------------------------------------------------------------ */

/* Close the queue, for every process: later puts fail with CF_ECLOSED, gets
 * take the items left and then fail with CF_ECLOSED instead of waiting;
 * blocked putters and getters wake (like Python 3.13's Queue.shutdown()).
 * Closing again does nothing. Returns 0, or CF_EINVAL (NULL q).
 * Any thread of any process that has the queue. */
CF_EXTERN int cf_queue_close(cf_queue *q);

/* Whether the queue has been closed. Never blocks, never fails. */
CF_EXTERN bool cf_queue_closed(const cf_queue *q);

/* ---- JoinableQueue -------------------------------------------------------------------- */

/* Tell a joinable queue that an item got earlier has been dealt with: each
 * put adds one unfinished item, each task_done removes one.
 * Returns 0, or CF_ESTATE (called more times than items were put), CF_EINVAL
 * (NULL q, or a queue not made joinable). Never waits but for the lock. */
CF_EXTERN int cf_queue_task_done(cf_queue *q);

/* Wait up to `timeout` until every item ever put into a joinable queue has
 * been marked done with cf_queue_task_done() (at once when none is
 * unfinished). Returns 0, or CF_ETIMEDOUT (items still unfinished),
 * CF_EINVAL (NULL q, a queue not made joinable, NaN timeout). */
CF_EXTERN int cf_queue_join(cf_queue *q, double timeout);

CF_END_DECLS

#ifdef __cplusplus
extern "C++" {
namespace cf__cxx {
/* cf_queue_put in C++: x taken by value, so that arrays and string literals
 * decay as in C. */
template <class T> int queue_put(cf_queue *q, T x, double timeout)
{
    static_assert(kind<T>::value != (uint32_t)CF_KIND_PTR,
                  "cf_queue_put: a raw pointer cannot travel between processes");
    static_assert(copyable_as_bytes<T>::value,
                  "cf_queue_put: the item is not trivially copyable");
    return cf__queue_put(q, type_of_out<T *>(), &x, timeout);
}
} /* namespace cf__cxx */
} /* extern "C++" */
#endif

#endif
