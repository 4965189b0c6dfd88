/* frame.h: length-prefixed frames over a byte stream (private).
 *
 * A frame is a 4-byte big-endian payload length followed by that many payload
 * bytes (doc/wire-format.md). The length never exceeds a limit chosen by the
 * owner of the stream (CF__FRAME_DEFAULT_LIMIT unless told otherwise, at most
 * CF__FRAME_MAX_LIMIT = 4 GiB - 1).
 *
 * cf__frame_out accumulates whole frames in one buffer, so that a writer can
 * batch many small frames into one write; a frame being built is invisible to
 * the writer until cf__frame_end() seals it. cf__frame_in reassembles frames
 * from reads of any size and yields each complete payload in place.
 *
 * File descriptors can ride along (SCM_RIGHTS on a Unix socket): a frame's
 * attached descriptors are sent with its first byte, and the receiver
 * queues every descriptor it gets, in order, for the frame that announced
 * them to take (cf__frame_in_take_fd).
 *
 * Neither object is thread-safe: each belongs to one thread at a time. Both
 * allocate through alloc.h; a buffer grows with the data actually held (never
 * to a size a peer merely announces) and is released when it empties after
 * holding a large frame.
 */
#ifndef CF_FRAME_H
#define CF_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define CF__FRAME_HEADER 4u
#define CF__FRAME_DEFAULT_LIMIT (64u << 20)
#define CF__FRAME_MAX_LIMIT UINT32_MAX

/* ---- Output: frames waiting to be written ---------------------------------- */

/* A descriptor waiting to be sent with the byte at stream position `pos`. */
typedef struct cf__frame_fd {
    uint64_t pos;
    int fd;             /* a duplicate, owned by the cf__frame_out */
} cf__frame_fd;

typedef struct cf__frame_out {
    uint8_t *buf;
    size_t cap;
    size_t head;        /* first byte not yet written out */
    size_t sealed;      /* end of the complete frames */
    size_t end;         /* end of the frame being built (== sealed when none) */
    uint32_t limit;     /* largest payload accepted */
    int error;          /* sticky error of the frame being built, or 0;
                           CF_ESTATE while no frame is being built */
    uint64_t written;   /* bytes written out since init (stream position of head) */
    cf__frame_fd *fds;  /* attached descriptors not yet sent, in stream order */
    size_t nfds, fds_cap;
} cf__frame_out;

/* Set up an empty buffer. `limit` is the largest payload accepted, 0 for
 * CF__FRAME_DEFAULT_LIMIT. Allocates nothing yet. Never fails. */
void cf__frame_out_init(cf__frame_out *out, uint32_t limit);

/* Release the buffer (frames not written are dropped, and the duplicates
 * of their attached descriptors closed). */
void cf__frame_out_free(cf__frame_out *out);

/* Start a frame: the payload is what cf__frame_append() adds until
 * cf__frame_end(). A frame already being built is dropped first. */
void cf__frame_begin(cf__frame_out *out);

/* Slow path of cf__frame_append (growth, limit, errors). */
void cf__frame_append_slow(cf__frame_out *out, const void *data, size_t n);

/* Append n bytes to the frame being built. A failure (no memory, the payload
 * would pass the limit, or no frame is being built) is remembered and reported
 * by cf__frame_end; later appends to that frame are ignored. */
static inline void cf__frame_append(cf__frame_out *out, const void *data, size_t n)
{
    if (out->error == 0 && n <= out->cap - out->end &&
        out->end + n - out->sealed - CF__FRAME_HEADER <= out->limit) {
        memcpy(out->buf + out->end, data, n);
        out->end += n;
        return;
    }
    cf__frame_append_slow(out, data, n);
}

/* Seal the frame being built (write its length prefix) so that it becomes
 * part of what cf__frame_out_data() returns. Returns 0, or (the frame is then
 * dropped, the frames before it are kept):
 *   CF_ETOOBIG  the payload is larger than the limit;
 *   -ENOMEM     the buffer could not grow;
 *   CF_ESTATE   no frame is being built. */
int cf__frame_end(cf__frame_out *out);

/* Drop the frame being built, if any (with its attached descriptors). */
void cf__frame_abort(cf__frame_out *out);

/* Attach a duplicate of `fd` to the frame being built: it is sent with the
 * frame's first byte. The caller keeps fd. A frame that is dropped (abort,
 * or a failing cf__frame_end) drops its attachments.
 * Returns 0, CF_ESTATE (no frame is being built), CF_ETOOBIG (the frame
 * already carries 64), -ENOMEM, or -errno from duplicating fd. */
int cf__frame_attach_fd(cf__frame_out *out, int fd);

/* The sealed bytes not yet written out: *n bytes at the returned address
 * (NULL when *n is 0). Valid until the next call on `out`. */
const void *cf__frame_out_data(const cf__frame_out *out, size_t *n);

/* Mark the first n bytes that cf__frame_out_data() returned as written. */
void cf__frame_out_consume(cf__frame_out *out, size_t n);

/* Write the sealed bytes to the stream socket `fd` (sendmsg with
 * MSG_NOSIGNAL, EINTR retried; attached descriptors go with the first byte
 * of their frame) until all are written or the socket would block. Returns 0
 * when nothing sealed is left, -EAGAIN when the socket is full (the rest stays
 * buffered), or -errno (-EPIPE when the peer is gone...). */
int cf__frame_out_send(cf__frame_out *out, int fd);

/* ---- Input: reassembling frames from reads --------------------------------- */

typedef struct cf__frame_in {
    uint8_t *buf;
    size_t cap;
    size_t head;        /* first byte not yet returned as (part of) a frame */
    size_t tail;        /* end of the bytes received */
    uint32_t limit;     /* largest payload accepted */
    int error;          /* sticky: CF_ETOOBIG once a frame over the limit is announced */
    int *fds;           /* descriptors received and not yet taken: a ring */
    size_t fds_first, nfds, fds_cap;
} cf__frame_in;

/* Set up an empty reassembler. `limit` is the largest payload accepted, 0 for
 * CF__FRAME_DEFAULT_LIMIT. Allocates nothing yet. Never fails. */
void cf__frame_in_init(cf__frame_in *in, uint32_t limit);

/* Release the buffer, and close the descriptors not taken. */
void cf__frame_in_free(cf__frame_in *in);

/* Room to read into: *space gets an address where up to *n (> 0) bytes may
 * be written, then cf__frame_in_commit() says how many were. May move the
 * buffer: payloads returned before are no longer valid.
 * Returns 0 or -ENOMEM. */
int cf__frame_in_space(cf__frame_in *in, void **space, size_t *n);

/* Add the n bytes just written at the address cf__frame_in_space() gave. */
void cf__frame_in_commit(cf__frame_in *in, size_t n);

/* Copy n bytes in (space + copy + commit). May move the buffer like
 * cf__frame_in_space(). Returns 0 or -ENOMEM. */
int cf__frame_in_push(cf__frame_in *in, const void *data, size_t n);

/* One read from the stream socket `fd` (recvmsg, EINTR retried) into the
 * buffer; descriptors that come with the bytes are queued (close-on-exec).
 * Returns 0 with *received > 0 bytes added, 0 with *received == 0 at end of
 * stream, -EAGAIN when nothing is available on a non-blocking socket, -ENOMEM,
 * -EPROTO (descriptors were lost: more came than one read takes), or -errno.
 * May move the buffer like cf__frame_in_space(). */
int cf__frame_in_recv(cf__frame_in *in, int fd, size_t *received);

/* The next complete frame: returns 0 with *payload and *len set; the payload
 * stays valid, in place, until the next call that may move the buffer
 * (space, push, recv, free), so several frames may be taken in a row and used
 * together. Returns -EAGAIN when no complete frame is buffered yet, or
 * CF_ETOOBIG when the next frame announces a payload over the limit: that
 * error is final for this stream (every later call returns it). */
int cf__frame_in_next(cf__frame_in *in, const uint8_t **payload, size_t *len);

/* The oldest received descriptor not yet taken (the caller owns it now),
 * or -1 when none is queued. The descriptors a frame announces arrive no
 * later than the frame's first byte. */
int cf__frame_in_take_fd(cf__frame_in *in);

/* The next complete frame, as cf__frame_in_next() gives it, but left in
 * place: the next peek or next returns it again. Same returns. */
int cf__frame_in_peek(cf__frame_in *in, const uint8_t **payload, size_t *len);

/* Consume the frame the last successful cf__frame_in_peek() returned. */
void cf__frame_in_drop(cf__frame_in *in);

/* Drop every byte buffered (the rest of a stream that ended mid-frame). */
void cf__frame_in_discard(cf__frame_in *in);

/* Bytes received but not yet returned as frames (at end of stream, a nonzero
 * value means the last frame was cut short). */
size_t cf__frame_in_buffered(const cf__frame_in *in);

#endif
