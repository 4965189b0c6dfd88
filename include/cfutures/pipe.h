/* cfutures/pipe.h: a pair of connected ends that carry typed values and byte
 * messages between processes (and threads): Python's multiprocessing.Pipe.
 *
 *     cf_pipe_end *rx, *tx;
 *     cf_pipe_new(&rx, &tx, false);        // one-way: rx receives, tx sends
 *     ... fork (cf_process_start_fn): the child closes rx and sends on tx,
 *         the parent closes tx and receives on rx ...
 *     cf_pipe_send(tx, 3.5, CF_FOREVER);
 *     double d;
 *     cf_pipe_recv(rx, &d, CF_FOREVER);
 *
 * Each end is one descriptor (a SOCK_STREAM Unix socket, close-on-exec), and
 * each message one length-prefixed frame holding a VALUE message of the
 * process pool's wire format (doc/wire-format.md): message boundaries are
 * kept, any size up to CF_PIPE_MAX_MESSAGE travels, and a receiver always
 * learns the type that was sent.
 *
 * Processes: both ends survive fork. The idiom is Python's: create the pipe,
 * fork, and let each process close (cf_pipe_close) the end it does not use,
 * so that end-of-file reaches the other side once the user of an end closes
 * it or exits. An end is used by one process: two processes sending on copies
 * of the same end could interleave their bytes (use a cf_queue for many
 * producers). Fork while no other thread of the parent is inside a call on an
 * end the child will use, and while no send of the parent has data queued on
 * it (a send that returned 0 leaves nothing queued).
 *
 * Threads: any thread may call any function on an end, except cf_pipe_close,
 * which no other thread may be calling. Messages of concurrent senders never
 * interleave: each goes out whole, in the order the sends queued them.
 * Concurrent receivers each get whole messages.
 *
 * Timeouts are seconds (CF_FOREVER: no limit; 0: do not wait; NaN:
 * CF_EINVAL) and bound the wait for data, for room in the socket, or for end
 * of file; a signal never cuts a wait short (EINTR is retried). Sending never
 * raises SIGPIPE.
 *
 * Direction: a duplex pipe's ends both send and receive. A one-way pipe
 * (duplex false) is made in Python's order, `r, w = Pipe(duplex=False)`: the
 * first end only receives, the second only sends; the other direction fails
 * with CF_EUNSUPPORTED.
 */
#ifndef CFUTURES_PIPE_H
#define CFUTURES_PIPE_H

#include "common.h"
#include "error.h"
#include "value.h"

typedef struct cf_pipe_end cf_pipe_end;

/* The largest message a pipe carries: the serialized value (its bytes plus a
 * few for the type) of 64 MiB. */
#define CF_PIPE_MAX_MESSAGE ((size_t)64 << 20)

CF_BEGIN_DECLS

/* ---- Lifetime ------------------------------------------------------------------ */

/* Create a connected pair of ends. duplex: both send and receive; otherwise
 * *a only receives and *b only sends. Both descriptors are close-on-exec.
 * Never blocks. On failure *a and *b are NULL.
 * Errors: CF_EINVAL (NULL a or b), -ENOMEM, -errno from socketpair (-EMFILE,
 * -ENFILE). */
CF_EXTERN int cf_pipe_new(cf_pipe_end **a, cf_pipe_end **b, bool duplex);

/* Close this process's copy of an end and free it. Once every process that
 * had the end has closed it (or exited), the other end's receives return
 * CF_EEOF after the messages already sent, and its sends fail with CF_EEOF.
 * Data still queued by a send that timed out is dropped (cf_pipe_flush first
 * to keep it). No other thread may be using the end, or use it afterwards.
 * NULL is ignored. Never blocks, never fails. */
CF_EXTERN void cf_pipe_close(cf_pipe_end *end);

/* ---- Sending ----------------------------------------------------------------------- */

/* Send the value x as one message, waiting up to `timeout` for the socket to
 * take it. x is any expression of a type of value.h: a number, a bool, a
 * string (a string literal, char * or const char *; NULL allowed), a
 * cf_bytes, a struct (sent as its bytes: zero its padding first, and
 * pointers inside it mean nothing to another process). A raw pointer does not
 * compile. The type travels with the value: integers go by size and
 * signedness, so an int is an int32_t and `true` is an int (send
 * `(int64_t)x` or `(bool)1` for those types).
 * Returns 0 once the whole message has been handed to the kernel, or:
 *   CF_ETIMEDOUT     not all of it left before the timeout: the message is
 *                    queued in the end and goes out whole, ahead of every
 *                    later message, with the next send or cf_pipe_flush on
 *                    this end (do not send it again);
 *   CF_EEOF          the other end is closed in every process: nothing is
 *                    sent, and whatever was queued is dropped;
 *   CF_EUNSUPPORTED  the end is receive-only;
 *   CF_ETOOBIG       the message would be larger than CF_PIPE_MAX_MESSAGE
 *                    (nothing queued);
 *   CF_EINVAL        NULL end, NaN timeout, a cf_bytes with NULL data and a
 *                    nonzero length;
 *   -ENOMEM, or -errno from the socket.
 * Any thread; blocks as the timeout says. */
#ifdef __cplusplus
#define cf_pipe_send(end, x, timeout) (::cf__cxx::pipe_send((end), (x), (timeout)))
#else
#define cf_pipe_send(end, x, timeout)                                              \
    (__extension__({                                                               \
        __auto_type cf__pipe_item_ = (x);                                          \
        _Static_assert(CF__KIND_OF_PTR(&cf__pipe_item_) != CF_KIND_PTR,            \
                       "cf_pipe_send: a raw pointer cannot travel between processes"); \
        cf__pipe_send((end), CF__TYPE_OF_OUT(&cf__pipe_item_), &cf__pipe_item_, (timeout)); \
    }))
#endif
CF_EXTERN int cf__pipe_send(cf_pipe_end *end, cf_type type, const void *src, double timeout);

/* cf_pipe_send for a dynamic value (bindings, generic code): sends v with its
 * own type; a void value is a message that carries nothing.
 * Errors: those of cf_pipe_send, and CF_EINVAL (NULL v, an unknown kind),
 * CF_EUNSUPPORTED (a raw pointer). */
CF_EXTERN int cf_pipe_send_value(cf_pipe_end *end, const cf_value *v, double timeout);

/* Send `len` bytes from `data` as one byte message: the same message as
 * cf_pipe_send of the cf_bytes {data, len}, received by cf_pipe_recv_bytes
 * or by cf_pipe_recv into a cf_bytes. Errors: those of cf_pipe_send. */
CF_EXTERN int cf_pipe_send_bytes(cf_pipe_end *end, const void *data, size_t len,
                                 double timeout);

/* Wait up to `timeout` until everything queued on this end (by sends that
 * timed out) has been handed to the kernel. Returns 0 (also when nothing was
 * queued), CF_ETIMEDOUT (some is still queued), CF_EEOF (the other end is
 * closed: the queued data is dropped), CF_EUNSUPPORTED (receive-only end),
 * CF_EINVAL (NULL end, NaN timeout), -errno. Any thread. */
CF_EXTERN int cf_pipe_flush(cf_pipe_end *end, double timeout);

/* ---- Receiving --------------------------------------------------------------------- */

/* Receive the next message into *out, waiting up to `timeout` for it. `out`
 * points at a C object of the type that was sent, and the macro takes the
 * type from the pointer: `double d; cf_pipe_recv(end, &d, 1.0)`. A NULL out
 * (or any void *) takes the next message whatever its type and drops it.
 * Returns 0, or:
 *   CF_ETIMEDOUT     no whole message came before the timeout (at once for
 *                    timeout 0); what arrived of one stays buffered;
 *   CF_EEOF          the other end is closed in every process and every
 *                    message sent before has been received (a message cut
 *                    short by the sender's death is dropped);
 *   CF_ETYPE         the message holds another type: it is not consumed (the
 *                    next receive gets it again; cf_pipe_recv_value takes any
 *                    type), *out is untouched, cf_last_error() names both
 *                    types;
 *   CF_EDECODE       the message is not a well-formed VALUE: it is dropped;
 *   CF_ETOOBIG       the sender announced a message larger than
 *                    CF_PIPE_MAX_MESSAGE: the stream cannot go on (every
 *                    later receive fails the same way);
 *   CF_EUNSUPPORTED  the end is send-only;
 *   CF_EINVAL        NULL end, NaN timeout;
 *   -ENOMEM, or -errno from the socket.
 * A received string or cf_bytes points into the end's memory: valid until
 * the next receive or poll on this end (by any thread) or its close. Copy it
 * to keep it. Any thread; blocks as the timeout says. */
#define cf_pipe_recv(end, out, timeout)                                            \
    cf__pipe_recv((end), CF__TYPE_OF_OUT(out), (out), (timeout))
CF_EXTERN int cf__pipe_recv(cf_pipe_end *end, cf_type type, void *out, double timeout);

/* cf_pipe_recv for a message of any type: *out gets it as a dynamic value
 * referring to the end's memory (a struct's bytes, a string, a byte buffer),
 * valid as cf_pipe_recv says. Errors: those of cf_pipe_recv but CF_ETYPE, and
 * CF_EINVAL (NULL out). */
CF_EXTERN int cf_pipe_recv_value(cf_pipe_end *end, cf_value *out, double timeout);

/* Receive the next byte message (cf_pipe_send_bytes, or a cf_bytes value):
 * *out points at its bytes in the end's memory, valid as cf_pipe_recv says.
 * Errors: those of cf_pipe_recv (CF_ETYPE: the next message is not bytes; it
 * stays), and CF_EINVAL (NULL out). */
CF_EXTERN int cf_pipe_recv_bytes(cf_pipe_end *end, cf_bytes *out, double timeout);

/* Wait up to `timeout` until a receive on this end would not block: a whole
 * message is buffered or readable, or the other end is closed (the receive
 * then gives the message, or CF_EEOF, or another final error). Consumes
 * nothing, but may read what has arrived into the end's buffer (which ends
 * the validity of strings and bytes received before, as a receive does).
 * Returns 0 when ready, CF_ETIMEDOUT when not (at once for timeout 0), or
 * CF_EUNSUPPORTED (send-only end), CF_EINVAL (NULL end, NaN timeout),
 * -ENOMEM, -errno. Any thread. */
CF_EXTERN int cf_pipe_poll(cf_pipe_end *end, double timeout);

CF_END_DECLS

#ifdef __cplusplus
extern "C++" {
namespace cf__cxx {
/* cf_pipe_send in C++: x taken by value, so that arrays and string literals
 * decay as in C. */
template <class T> int pipe_send(cf_pipe_end *end, T x, double timeout)
{
    static_assert(kind<T>::value != (uint32_t)CF_KIND_PTR,
                  "cf_pipe_send: a raw pointer cannot travel between processes");
    static_assert(copyable_as_bytes<T>::value,
                  "cf_pipe_send: the message is not trivially copyable");
    return cf__pipe_send(end, type_of_out<T *>(), &x, timeout);
}
} /* namespace cf__cxx */
} /* extern "C++" */
#endif

#endif
