/* frame.c: length-prefixed frames over a byte stream.
 *
 * Design notes
 * - Ownership: each cf__frame_out / cf__frame_in owns one heap buffer (alloc.h)
 *   and belongs to one thread at a time; nothing here locks.
 * - Output: [head, sealed) holds complete frames waiting to be written,
 *   [sealed, end) the frame being built (its 4-byte prefix first, filled in by
 *   cf__frame_end). Failures while building are sticky in `error` so that the
 *   encoder can append without checking every call; cf__frame_end reports and
 *   rolls back. Written bytes are dropped by moving `head`; the buffer is
 *   compacted only when it must grow, and released once empty if a large
 *   frame made it grow past CF__FRAME_KEEP.
 * - Input: [head, tail) holds received bytes not yet returned as frames.
 *   Payloads are returned in place, so they stay valid until the buffer moves
 *   (space/push/recv). The buffer grows by doubling as bytes actually arrive;
 *   an announced length is checked against the limit but never allocated
 *   ahead, so a peer cannot make us reserve memory it does not send.
 * - Descriptors: an attached descriptor is duplicated at once (so that the
 *   caller may close its own while the frame waits) and recorded with the
 *   stream position of its frame's first byte. A send stops short of the
 *   next attachment's position, and the send that starts there carries
 *   them, so the kernel delivers them with that byte (a Unix stream socket
 *   never merges the bytes that carry descriptors into an earlier read's
 *   descriptors). Received descriptors queue in arrival order.
 */
#include "config.h"

#include "frame.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include <cfutures/error.h>

#include "alloc.h"
#include "error_priv.h"

/* First allocation of either buffer. */
#define CF__FRAME_INITIAL (64u << 10)
/* Smallest read offered to recv(): smaller room is compacted or grown first. */
#define CF__FRAME_MIN_READ (4u << 10)
/* An emptied buffer larger than this is released. */
#define CF__FRAME_KEEP (1u << 20)
/* Most descriptors one sendmsg carries, and one recvmsg takes. */
#define CF__FRAME_FDS_PER_MSG 64

static uint32_t cf__frame_limit(uint32_t limit)
{
    return limit == 0 ? CF__FRAME_DEFAULT_LIMIT : limit;
}

/* Grow *buf to at least `need` bytes, doubling its capacity (contents kept). */
static int cf__frame_grow(uint8_t **buf, size_t *cap, size_t need)
{
    size_t cap_new = *cap > 0 ? *cap : CF__FRAME_INITIAL;
    while (cap_new < need)
        cap_new = cap_new > SIZE_MAX / 2 ? need : cap_new * 2;
    uint8_t *p = cf__realloc(*buf, cap_new);
    if (p == NULL)
        return -ENOMEM;
    *buf = p;
    *cap = cap_new;
    return 0;
}

/* ---- Output ------------------------------------------------------------------ */

void cf__frame_out_init(cf__frame_out *out, uint32_t limit)
{
    memset(out, 0, sizeof *out);
    out->limit = cf__frame_limit(limit);
    out->error = CF_ESTATE;
}

void cf__frame_out_free(cf__frame_out *out)
{
    for (size_t i = 0; i < out->nfds; i++)
        close(out->fds[i].fd);
    cf__free(out->fds);
    cf__free(out->buf);
    uint32_t limit = out->limit;
    cf__frame_out_init(out, limit);
}

/* Make room for n more bytes at `end`, compacting written bytes away first. */
static int cf__frame_out_reserve(cf__frame_out *out, size_t n)
{
    if (out->head > 0) {
        memmove(out->buf, out->buf + out->head, out->end - out->head);
        out->sealed -= out->head;
        out->end -= out->head;
        out->head = 0;
        if (n <= out->cap - out->end)
            return 0;
    }
    if (n > SIZE_MAX - out->end)
        return -ENOMEM;
    return cf__frame_grow(&out->buf, &out->cap, out->end + n);
}

void cf__frame_begin(cf__frame_out *out)
{
    out->end = out->sealed;
    out->error = 0;
    uint8_t prefix[CF__FRAME_HEADER] = {0};
    if (out->cap - out->end < CF__FRAME_HEADER) {
        int rc = cf__frame_out_reserve(out, CF__FRAME_HEADER);
        if (rc != 0) {
            out->error = rc;
            return;
        }
    }
    memcpy(out->buf + out->end, prefix, sizeof prefix);
    out->end += CF__FRAME_HEADER;
}

void cf__frame_append_slow(cf__frame_out *out, const void *data, size_t n)
{
    if (out->error != 0)
        return;
    size_t payload = out->end - out->sealed - CF__FRAME_HEADER;
    if (n > (size_t)out->limit - payload) {
        out->error = CF_ETOOBIG;
        return;
    }
    if (n > out->cap - out->end) {
        int rc = cf__frame_out_reserve(out, n);
        if (rc != 0) {
            out->error = rc;
            return;
        }
    }
    memcpy(out->buf + out->end, data, n);
    out->end += n;
}

/* Stream position of the frame being built (its first byte). */
static uint64_t cf__frame_building_pos(const cf__frame_out *out)
{
    return out->written + (out->sealed - out->head);
}

/* Drop the attachments of the frame being built. */
static void cf__frame_drop_fds(cf__frame_out *out)
{
    uint64_t pos = cf__frame_building_pos(out);
    while (out->nfds > 0 && out->fds[out->nfds - 1].pos >= pos)
        close(out->fds[--out->nfds].fd);
}

int cf__frame_attach_fd(cf__frame_out *out, int fd)
{
    if (out->error != 0)
        return cf__fail(out->error == CF_ESTATE ? CF_ESTATE : out->error,
                        "cf__frame_attach_fd: no frame is being built");
    uint64_t pos = cf__frame_building_pos(out);
    size_t mine = 0;
    while (mine < out->nfds && out->fds[out->nfds - 1 - mine].pos == pos)
        mine++;
    if (mine == CF__FRAME_FDS_PER_MSG)
        return cf__fail(CF_ETOOBIG, "a frame carries at most %d descriptors",
                        CF__FRAME_FDS_PER_MSG);
    if (out->nfds == out->fds_cap) {
        size_t cap = out->fds_cap > 0 ? 2 * out->fds_cap : 16;
        cf__frame_fd *fds = cf__realloc(out->fds, cap * sizeof *fds);
        if (fds == NULL)
            return cf__fail(-ENOMEM, "out of memory attaching a descriptor to a frame");
        out->fds = fds;
        out->fds_cap = cap;
    }
    int dup = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (dup < 0) {
        int err = errno;
        return cf__fail(-err, "attaching descriptor %d to a frame: %s", fd, cf_strerror(-err));
    }
    out->fds[out->nfds++] = (cf__frame_fd){pos, dup};
    return 0;
}

int cf__frame_end(cf__frame_out *out)
{
    int rc = out->error;
    if (rc != 0) {
        cf__frame_drop_fds(out);
        size_t payload = out->end - out->sealed;
        out->end = out->sealed;
        out->error = CF_ESTATE;
        if (rc == CF_ETOOBIG)
            return cf__fail(rc, "frame payload larger than the %u-byte limit", out->limit);
        if (rc == CF_ESTATE)
            return cf__fail(rc, "cf__frame_end: no frame is being built");
        return cf__fail(rc, "out of memory building a frame (%zu bytes so far)", payload);
    }
    uint32_t len = htobe32((uint32_t)(out->end - out->sealed - CF__FRAME_HEADER));
    memcpy(out->buf + out->sealed, &len, sizeof len);
    out->sealed = out->end;
    out->error = CF_ESTATE;
    return 0;
}

void cf__frame_abort(cf__frame_out *out)
{
    if (out->error != CF_ESTATE)
        cf__frame_drop_fds(out);
    out->end = out->sealed;
    out->error = CF_ESTATE;
}

const void *cf__frame_out_data(const cf__frame_out *out, size_t *n)
{
    *n = out->sealed - out->head;
    return *n > 0 ? out->buf + out->head : NULL;
}

void cf__frame_out_consume(cf__frame_out *out, size_t n)
{
    if (n > out->sealed - out->head)
        n = out->sealed - out->head;
    out->head += n;
    out->written += n;
    if (out->head < out->end)
        return;
    /* Everything written and nothing being built: start over at the front. */
    out->head = out->sealed = out->end = 0;
    if (out->cap > CF__FRAME_KEEP) {
        cf__free(out->buf);
        out->buf = NULL;
        out->cap = 0;
    }
}

int cf__frame_out_send(cf__frame_out *out, int fd)
{
    while (out->sealed > out->head) {
        struct iovec iov = {out->buf + out->head, out->sealed - out->head};
        struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
        union {
            char buf[CMSG_SPACE(sizeof(int) * CF__FRAME_FDS_PER_MSG)];
            struct cmsghdr align;
        } control;
        memset(&control, 0, sizeof control); /* the padding goes out too */
        size_t carried = 0; /* attachments this send carries */
        if (out->nfds > 0 && out->fds[0].pos == out->written) {
            while (carried < out->nfds && carried < CF__FRAME_FDS_PER_MSG &&
                   out->fds[carried].pos == out->written)
                carried++;
            msg.msg_control = control.buf;
            msg.msg_controllen = CMSG_SPACE(sizeof(int) * carried);
            struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
            cm->cmsg_level = SOL_SOCKET;
            cm->cmsg_type = SCM_RIGHTS;
            cm->cmsg_len = CMSG_LEN(sizeof(int) * carried);
            for (size_t i = 0; i < carried; i++)
                memcpy(CMSG_DATA(cm) + i * sizeof(int), &out->fds[i].fd, sizeof(int));
        }
        /* Stop before the next attachment that this send does not carry. */
        if (carried < out->nfds && out->fds[carried].pos - out->written < iov.iov_len)
            iov.iov_len = (size_t)(out->fds[carried].pos - out->written);
        ssize_t n = sendmsg(fd, &msg, MSG_NOSIGNAL);
        if (n >= 0) {
            if (n > 0 && carried > 0) {
                for (size_t i = 0; i < carried; i++)
                    close(out->fds[i].fd);
                memmove(out->fds, out->fds + carried, (out->nfds - carried) * sizeof *out->fds);
                out->nfds -= carried;
            }
            cf__frame_out_consume(out, (size_t)n);
            continue;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return -EAGAIN;
        int err = errno;
        return cf__fail(-err, "sending frames on fd %d: %s", fd, cf_strerror(-err));
    }
    return 0;
}

/* ---- Input ------------------------------------------------------------------- */

void cf__frame_in_init(cf__frame_in *in, uint32_t limit)
{
    memset(in, 0, sizeof *in);
    in->limit = cf__frame_limit(limit);
}

void cf__frame_in_free(cf__frame_in *in)
{
    int fd;
    while ((fd = cf__frame_in_take_fd(in)) >= 0)
        close(fd);
    cf__free(in->fds);
    cf__free(in->buf);
    uint32_t limit = in->limit;
    cf__frame_in_init(in, limit);
}

int cf__frame_in_space(cf__frame_in *in, void **space, size_t *n)
{
    if (in->head == in->tail) {
        in->head = in->tail = 0;
        if (in->cap > CF__FRAME_KEEP) {
            cf__free(in->buf);
            in->buf = NULL;
            in->cap = 0;
        }
    }
    if (in->cap - in->tail < CF__FRAME_MIN_READ) {
        if (in->head > 0) {
            memmove(in->buf, in->buf + in->head, in->tail - in->head);
            in->tail -= in->head;
            in->head = 0;
        }
        if (in->cap - in->tail < CF__FRAME_MIN_READ &&
            cf__frame_grow(&in->buf, &in->cap, in->tail + CF__FRAME_MIN_READ) != 0)
            return cf__fail(-ENOMEM, "out of memory receiving frames (%zu bytes buffered)",
                            in->tail);
    }
    *space = in->buf + in->tail;
    *n = in->cap - in->tail;
    return 0;
}

void cf__frame_in_commit(cf__frame_in *in, size_t n)
{
    in->tail += n;
}

int cf__frame_in_push(cf__frame_in *in, const void *data, size_t n)
{
    while (n > 0) {
        void *space;
        size_t room;
        int rc = cf__frame_in_space(in, &space, &room);
        if (rc != 0)
            return rc;
        size_t take = n < room ? n : room;
        memcpy(space, data, take);
        cf__frame_in_commit(in, take);
        data = (const uint8_t *)data + take;
        n -= take;
    }
    return 0;
}

/* Queue the descriptors a recvmsg got (closing them if they cannot be
 * queued). Returns 0 or -ENOMEM. */
static int cf__frame_in_queue_fds(cf__frame_in *in, struct msghdr *msg)
{
    int rc = 0;
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(msg); cm != NULL; cm = CMSG_NXTHDR(msg, cm)) {
        if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
            continue;
        size_t count = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < count; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof fd);
            if (rc == 0 && in->nfds == in->fds_cap) {
                size_t cap = in->fds_cap > 0 ? 2 * in->fds_cap : 16;
                int *fds = cf__alloc(cap * sizeof *fds);
                if (fds == NULL) {
                    rc = cf__fail(-ENOMEM, "out of memory queueing received descriptors");
                } else {
                    for (size_t k = 0; k < in->nfds; k++)
                        fds[k] = in->fds[(in->fds_first + k) % in->fds_cap];
                    cf__free(in->fds);
                    in->fds = fds;
                    in->fds_first = 0;
                    in->fds_cap = cap;
                }
            }
            if (rc != 0) {
                close(fd);
                continue;
            }
            in->fds[(in->fds_first + in->nfds) % in->fds_cap] = fd;
            in->nfds++;
        }
    }
    return rc;
}

int cf__frame_in_take_fd(cf__frame_in *in)
{
    if (in->nfds == 0)
        return -1;
    int fd = in->fds[in->fds_first];
    in->fds_first = (in->fds_first + 1) % in->fds_cap;
    in->nfds--;
    return fd;
}

int cf__frame_in_recv(cf__frame_in *in, int fd, size_t *received)
{
    *received = 0;
    void *space;
    size_t room;
    int rc = cf__frame_in_space(in, &space, &room);
    if (rc != 0)
        return rc;
    for (;;) {
        struct iovec iov = {space, room};
        union {
            char buf[CMSG_SPACE(sizeof(int) * CF__FRAME_FDS_PER_MSG)];
            struct cmsghdr align;
        } control;
        struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
                             .msg_controllen = sizeof control.buf};
        ssize_t n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
        if (n >= 0) {
            cf__frame_in_commit(in, (size_t)n);
            *received = (size_t)n;
            int rc = cf__frame_in_queue_fds(in, &msg);
            if (rc == 0 && (msg.msg_flags & MSG_CTRUNC))
                rc = cf__fail(-EPROTO, "receiving frames on fd %d: descriptors were lost", fd);
            return rc;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return -EAGAIN;
        int err = errno;
        return cf__fail(-err, "receiving frames on fd %d: %s", fd, cf_strerror(-err));
    }
}

int cf__frame_in_peek(cf__frame_in *in, const uint8_t **payload, size_t *len)
{
    if (in->error != 0)
        return cf__fail(in->error, "the stream announced a frame larger than the %u-byte limit",
                        in->limit);
    size_t have = in->tail - in->head;
    if (have < CF__FRAME_HEADER)
        return -EAGAIN;
    uint32_t be;
    memcpy(&be, in->buf + in->head, sizeof be);
    uint32_t n = be32toh(be);
    if (n > in->limit) {
        in->error = CF_ETOOBIG;
        return cf__fail(CF_ETOOBIG, "incoming frame of %u bytes is larger than the %u-byte limit",
                        n, in->limit);
    }
    if (have - CF__FRAME_HEADER < n)
        return -EAGAIN;
    *payload = in->buf + in->head + CF__FRAME_HEADER;
    *len = n;
    return 0;
}

void cf__frame_in_drop(cf__frame_in *in)
{
    uint32_t be;
    memcpy(&be, in->buf + in->head, sizeof be);
    in->head += CF__FRAME_HEADER + (size_t)be32toh(be);
}

int cf__frame_in_next(cf__frame_in *in, const uint8_t **payload, size_t *len)
{
    int rc = cf__frame_in_peek(in, payload, len);
    if (rc == 0)
        cf__frame_in_drop(in);
    return rc;
}

void cf__frame_in_discard(cf__frame_in *in)
{
    in->head = in->tail;
}

size_t cf__frame_in_buffered(const cf__frame_in *in)
{
    return in->tail - in->head;
}
