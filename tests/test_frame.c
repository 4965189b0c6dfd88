/* test_frame.c: length-prefixed framing (lib/frame.h).
 *
 * The output side: frames accumulate and are sealed with a big-endian length
 * prefix, a frame being built stays invisible, the size limit is enforced and
 * a failed frame leaves the earlier ones intact. The input side: a stream of
 * frames reassembled from one big chunk, from two chunks split at every byte
 * boundary, from single bytes and from irregular chunks; payloads stay valid
 * together until the buffer next moves; an announced length over the limit is
 * refused at once and for good. Both sides over a real socketpair, including
 * a full non-blocking socket and a peer that has gone.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cfutures.h>

#include "frame.h"
#include "support.h"

/* A deterministic byte pattern, so that misplaced bytes show. */
static uint8_t pattern(size_t frame, size_t i)
{
    return (uint8_t)(frame * 31 + i * 7 + (i >> 8));
}

/* Payload sizes of the test streams: empty, tiny, around the prefix size;
 * the large stream adds a frame bigger than the reassembler's first buffer
 * (64 KiB). The small one is for the tests that are quadratic in its length. */
static const size_t large_sizes[] = {0, 1, 3, 4, 5, 17, 255, 256, 1000, 70000, 2, 0, 9};
static const size_t small_sizes[] = {0, 1, 3, 4, 5, 17, 255, 256, 1000, 2, 0, 9};
#define N_STREAM (sizeof large_sizes / sizeof large_sizes[0])
#define N_SMALL (sizeof small_sizes / sizeof small_sizes[0])

/* The stream the checks below expect (set by make_stream). */
static const size_t *stream_sizes = large_sizes;
static size_t stream_frames = N_STREAM;

static void build_frame(cf__frame_out *out, size_t frame, size_t size)
{
    cf__frame_begin(out);
    uint8_t buf[512];
    size_t done = 0;
    while (done < size) {
        size_t n = size - done < sizeof buf ? size - done : sizeof buf;
        for (size_t i = 0; i < n; i++)
            buf[i] = pattern(frame, done + i);
        cf__frame_append(out, buf, n);
        done += n;
    }
    ck_assert_int_eq(cf__frame_end(out), 0);
}

/* A whole test stream, as bytes (malloc'd); it becomes the one expected. */
static uint8_t *make_stream_of(const size_t *sizes, size_t frames, size_t *len)
{
    stream_sizes = sizes;
    stream_frames = frames;
    cf__frame_out out;
    cf__frame_out_init(&out, 0);
    for (size_t f = 0; f < frames; f++)
        build_frame(&out, f, sizes[f]);
    size_t n;
    const void *data = cf__frame_out_data(&out, &n);
    uint8_t *copy = malloc(n);
    ck_assert_ptr_nonnull(copy);
    memcpy(copy, data, n);
    cf__frame_out_free(&out);
    *len = n;
    return copy;
}

static uint8_t *make_stream(size_t *len)
{
    return make_stream_of(large_sizes, N_STREAM, len);
}

static void check_payload(size_t frame, const uint8_t *payload, size_t len)
{
    ck_assert_uint_eq(len, stream_sizes[frame]);
    for (size_t i = 0; i < len; i++)
        if (payload[i] != pattern(frame, i))
            ck_abort_msg("frame %zu: byte %zu is %u, expected %u", frame, i, payload[i],
                         pattern(frame, i));
}

/* Take every complete frame out of `in`, checking each against the stream;
 * *next is the index of the next expected frame. */
static void drain(cf__frame_in *in, size_t *next)
{
    const uint8_t *payload;
    size_t len;
    int rc;
    while ((rc = cf__frame_in_next(in, &payload, &len)) == 0) {
        ck_assert_uint_lt(*next, stream_frames);
        check_payload(*next, payload, len);
        (*next)++;
    }
    ck_assert_int_eq(rc, -EAGAIN);
}

/* ---- Output --------------------------------------------------------------------- */

START_TEST(frame_out_single)
{
    cf__frame_out out;
    cf__frame_out_init(&out, 0);
    size_t n;
    ck_assert_ptr_null(cf__frame_out_data(&out, &n));
    ck_assert_uint_eq(n, 0);
    cf__frame_begin(&out);
    cf__frame_append(&out, "hello", 5);
    cf__frame_append(&out, ", world", 7);
    ck_assert_int_eq(cf__frame_end(&out), 0);
    const uint8_t *data = cf__frame_out_data(&out, &n);
    ck_assert_uint_eq(n, 4 + 12);
    static const uint8_t prefix[4] = {0, 0, 0, 12};
    ck_assert_mem_eq(data, prefix, 4);
    ck_assert_mem_eq(data + 4, "hello, world", 12);
    cf__frame_out_consume(&out, n);
    ck_assert_ptr_null(cf__frame_out_data(&out, &n));
    ck_assert_uint_eq(n, 0);
    cf__frame_out_free(&out);
}
END_TEST

START_TEST(frame_out_prefix_is_big_endian)
{
    cf__frame_out out;
    cf__frame_out_init(&out, 0);
    size_t size = 0x010203;
    uint8_t *payload = calloc(1, size);
    ck_assert_ptr_nonnull(payload);
    cf__frame_begin(&out);
    cf__frame_append(&out, payload, size);
    ck_assert_int_eq(cf__frame_end(&out), 0);
    size_t n;
    const uint8_t *data = cf__frame_out_data(&out, &n);
    ck_assert_uint_eq(n, 4 + size);
    static const uint8_t prefix[4] = {0x00, 0x01, 0x02, 0x03};
    ck_assert_mem_eq(data, prefix, 4);
    free(payload);
    cf__frame_out_free(&out);
}
END_TEST

START_TEST(frame_out_batches_and_partial_consume)
{
    cf__frame_out out;
    cf__frame_out_init(&out, 0);
    for (size_t f = 0; f < N_STREAM; f++)
        build_frame(&out, f, stream_sizes[f]);
    size_t expected_len;
    uint8_t *expected = make_stream(&expected_len);
    /* Consume in uneven steps, as partial writes would. */
    size_t at = 0, step = 1;
    while (at < expected_len) {
        size_t n;
        const uint8_t *data = cf__frame_out_data(&out, &n);
        ck_assert_uint_eq(n, expected_len - at);
        ck_assert_mem_eq(data, expected + at, n < step ? n : step);
        size_t take = n < step ? n : step;
        cf__frame_out_consume(&out, take);
        at += take;
        step = step * 3 + 1;
    }
    size_t n;
    cf__frame_out_data(&out, &n);
    ck_assert_uint_eq(n, 0);
    free(expected);
    cf__frame_out_free(&out);
}
END_TEST

START_TEST(frame_out_frame_being_built_is_invisible)
{
    cf__frame_out out;
    cf__frame_out_init(&out, 0);
    cf__frame_begin(&out);
    cf__frame_append(&out, "first", 5);
    ck_assert_int_eq(cf__frame_end(&out), 0);
    cf__frame_begin(&out);
    cf__frame_append(&out, "second, unfinished", 18);
    size_t n;
    cf__frame_out_data(&out, &n);
    ck_assert_uint_eq(n, 4 + 5);
    /* Writing out the sealed frame while another is being built keeps it. */
    cf__frame_out_consume(&out, n);
    cf__frame_append(&out, "!", 1);
    ck_assert_int_eq(cf__frame_end(&out), 0);
    const uint8_t *data = cf__frame_out_data(&out, &n);
    ck_assert_uint_eq(n, 4 + 19);
    ck_assert_mem_eq(data + 4, "second, unfinished!", 19);
    /* An aborted frame disappears; the frames before it stay. */
    cf__frame_begin(&out);
    cf__frame_append(&out, "dropped", 7);
    cf__frame_abort(&out);
    cf__frame_out_data(&out, &n);
    ck_assert_uint_eq(n, 4 + 19);
    /* A new begin drops an unfinished frame too. */
    cf__frame_begin(&out);
    cf__frame_append(&out, "dropped", 7);
    cf__frame_begin(&out);
    cf__frame_append(&out, "kept", 4);
    ck_assert_int_eq(cf__frame_end(&out), 0);
    data = cf__frame_out_data(&out, &n);
    ck_assert_uint_eq(n, 4 + 19 + 4 + 4);
    ck_assert_mem_eq(data + 4 + 19 + 4, "kept", 4);
    cf__frame_out_free(&out);
}
END_TEST

START_TEST(frame_out_end_without_begin)
{
    cf__frame_out out;
    cf__frame_out_init(&out, 0);
    ck_assert_int_eq(cf__frame_end(&out), CF_ESTATE);
    cf__frame_append(&out, "x", 1);
    ck_assert_int_eq(cf__frame_end(&out), CF_ESTATE);
    size_t n;
    cf__frame_out_data(&out, &n);
    ck_assert_uint_eq(n, 0);
    cf__frame_out_free(&out);
}
END_TEST

START_TEST(frame_out_limit)
{
    cf__frame_out out;
    cf__frame_out_init(&out, 16);
    cf__frame_begin(&out);
    cf__frame_append(&out, "0123456789abcdef", 16); /* exactly the limit */
    ck_assert_int_eq(cf__frame_end(&out), 0);
    cf__frame_begin(&out);
    cf__frame_append(&out, "0123456789", 10);
    cf__frame_append(&out, "abcdefg", 7); /* 17: one over */
    cf__frame_append(&out, "more", 4);
    ck_assert_int_eq(cf__frame_end(&out), CF_ETOOBIG);
    ck_assert_ptr_nonnull(strstr(cf_last_error(), "16-byte limit"));
    size_t n;
    const uint8_t *data = cf__frame_out_data(&out, &n);
    ck_assert_uint_eq(n, 4 + 16);
    ck_assert_mem_eq(data + 4, "0123456789abcdef", 16);
    /* The buffer goes on working after a refused frame. */
    cf__frame_begin(&out);
    cf__frame_append(&out, "ok", 2);
    ck_assert_int_eq(cf__frame_end(&out), 0);
    data = cf__frame_out_data(&out, &n);
    ck_assert_uint_eq(n, 4 + 16 + 4 + 2);
    ck_assert_mem_eq(data + 4 + 16 + 4, "ok", 2);
    cf__frame_out_free(&out);
}
END_TEST

START_TEST(frame_out_default_limit)
{
    cf__frame_out out;
    cf__frame_out_init(&out, 0);
    ck_assert_uint_eq(out.limit, CF__FRAME_DEFAULT_LIMIT);
    ck_assert_uint_eq(CF__FRAME_DEFAULT_LIMIT, 64u << 20);
    cf__frame_out_init(&out, CF__FRAME_MAX_LIMIT);
    ck_assert_uint_eq(out.limit, 4294967295u);
    cf__frame_out_free(&out);
}
END_TEST

START_TEST(frame_out_large_frame_grows_and_releases)
{
    cf__frame_out out;
    cf__frame_out_init(&out, 0);
    size_t size = 3u << 20;
    uint8_t *payload = malloc(size);
    ck_assert_ptr_nonnull(payload);
    for (size_t i = 0; i < size; i++)
        payload[i] = pattern(5, i);
    cf__frame_begin(&out);
    /* In odd pieces, so that growth happens mid-append. */
    for (size_t at = 0; at < size; at += 65537)
        cf__frame_append(&out, payload + at, size - at < 65537 ? size - at : 65537);
    ck_assert_int_eq(cf__frame_end(&out), 0);
    size_t n;
    const uint8_t *data = cf__frame_out_data(&out, &n);
    ck_assert_uint_eq(n, 4 + size);
    ck_assert_int_eq(memcmp(data + 4, payload, size), 0);
    cf__frame_out_consume(&out, n);
    ck_assert_ptr_null(out.buf); /* a large buffer is released once written */
    free(payload);
    cf__frame_out_free(&out);
}
END_TEST

/* ---- Input ---------------------------------------------------------------------- */

START_TEST(frame_in_one_big_chunk)
{
    size_t len;
    uint8_t *stream = make_stream(&len);
    cf__frame_in in;
    cf__frame_in_init(&in, 0);
    ck_assert_int_eq(cf__frame_in_push(&in, stream, len), 0);
    size_t next = 0;
    drain(&in, &next);
    ck_assert_uint_eq(next, N_STREAM);
    ck_assert_uint_eq(cf__frame_in_buffered(&in), 0);
    cf__frame_in_free(&in);
    free(stream);
}
END_TEST

START_TEST(frame_in_split_at_every_byte)
{
    size_t len;
    uint8_t *stream = make_stream_of(small_sizes, N_SMALL, &len);
    for (size_t split = 0; split <= len; split++) {
        cf__frame_in in;
        cf__frame_in_init(&in, 0);
        size_t next = 0;
        ck_assert_int_eq(cf__frame_in_push(&in, stream, split), 0);
        drain(&in, &next);
        ck_assert_int_eq(cf__frame_in_push(&in, stream + split, len - split), 0);
        drain(&in, &next);
        ck_assert_uint_eq(next, N_SMALL);
        ck_assert_uint_eq(cf__frame_in_buffered(&in), 0);
        cf__frame_in_free(&in);
    }
    free(stream);
}
END_TEST

START_TEST(frame_in_byte_by_byte)
{
    size_t len;
    uint8_t *stream = make_stream(&len);
    cf__frame_in in;
    cf__frame_in_init(&in, 0);
    size_t next = 0;
    for (size_t i = 0; i < len; i++) {
        ck_assert_int_eq(cf__frame_in_push(&in, stream + i, 1), 0);
        drain(&in, &next);
    }
    ck_assert_uint_eq(next, N_STREAM);
    ck_assert_uint_eq(cf__frame_in_buffered(&in), 0);
    cf__frame_in_free(&in);
    free(stream);
}
END_TEST

START_TEST(frame_in_irregular_chunks_through_space)
{
    size_t len;
    uint8_t *stream = make_stream(&len);
    /* Many copies of the stream, read in irregular chunks straight into the
     * reassembler's space, as recv() would. */
    enum { COPIES = 20 };
    cf__frame_in in;
    cf__frame_in_init(&in, 0);
    uint32_t rng = 12345;
    for (int copy = 0; copy < COPIES; copy++) {
        size_t at = 0, next = 0;
        while (at < len) {
            rng = rng * 1103515245u + 12345u;
            size_t want = 1 + (rng >> 8) % 9000;
            void *space;
            size_t room;
            ck_assert_int_eq(cf__frame_in_space(&in, &space, &room), 0);
            ck_assert_uint_gt(room, 0);
            size_t n = want < room ? want : room;
            if (n > len - at)
                n = len - at;
            memcpy(space, stream + at, n);
            cf__frame_in_commit(&in, n);
            at += n;
            drain(&in, &next);
        }
        ck_assert_uint_eq(next, N_STREAM);
    }
    ck_assert_uint_eq(cf__frame_in_buffered(&in), 0);
    cf__frame_in_free(&in);
    free(stream);
}
END_TEST

START_TEST(frame_in_payloads_valid_together)
{
    size_t len;
    uint8_t *stream = make_stream(&len);
    cf__frame_in in;
    cf__frame_in_init(&in, 0);
    ck_assert_int_eq(cf__frame_in_push(&in, stream, len), 0);
    const uint8_t *payloads[N_STREAM];
    size_t lens[N_STREAM];
    for (size_t f = 0; f < N_STREAM; f++)
        ck_assert_int_eq(cf__frame_in_next(&in, &payloads[f], &lens[f]), 0);
    /* Nothing moved: every payload taken is still intact. */
    for (size_t f = 0; f < N_STREAM; f++)
        check_payload(f, payloads[f], lens[f]);
    const uint8_t *p;
    size_t n;
    ck_assert_int_eq(cf__frame_in_next(&in, &p, &n), -EAGAIN);
    cf__frame_in_free(&in);
    free(stream);
}
END_TEST

START_TEST(frame_in_partial_frame_is_buffered)
{
    cf__frame_in in;
    cf__frame_in_init(&in, 0);
    static const uint8_t partial[] = {0, 0, 0, 10, 'a', 'b', 'c'};
    ck_assert_int_eq(cf__frame_in_push(&in, partial, sizeof partial), 0);
    const uint8_t *p;
    size_t n;
    ck_assert_int_eq(cf__frame_in_next(&in, &p, &n), -EAGAIN);
    ck_assert_uint_eq(cf__frame_in_buffered(&in), sizeof partial);
    /* Only a prefix: not even the length is known. */
    cf__frame_in_free(&in);
    cf__frame_in_init(&in, 0);
    ck_assert_int_eq(cf__frame_in_push(&in, partial, 3), 0);
    ck_assert_int_eq(cf__frame_in_next(&in, &p, &n), -EAGAIN);
    ck_assert_uint_eq(cf__frame_in_buffered(&in), 3);
    cf__frame_in_free(&in);
}
END_TEST

START_TEST(frame_in_limit)
{
    cf__frame_in in;
    cf__frame_in_init(&in, 100);
    uint8_t frame[4 + 100] = {0, 0, 0, 100};
    ck_assert_int_eq(cf__frame_in_push(&in, frame, sizeof frame), 0);
    const uint8_t *p;
    size_t n;
    ck_assert_int_eq(cf__frame_in_next(&in, &p, &n), 0); /* exactly the limit */
    ck_assert_uint_eq(n, 100);
    static const uint8_t over[] = {0, 0, 0, 101, 'x'};
    ck_assert_int_eq(cf__frame_in_push(&in, over, sizeof over), 0);
    ck_assert_int_eq(cf__frame_in_next(&in, &p, &n), CF_ETOOBIG);
    ck_assert_ptr_nonnull(strstr(cf_last_error(), "101 bytes"));
    ck_assert_ptr_nonnull(strstr(cf_last_error(), "100-byte limit"));
    /* Final: more data does not bring the stream back. */
    ck_assert_int_eq(cf__frame_in_push(&in, frame, sizeof frame), 0);
    ck_assert_int_eq(cf__frame_in_next(&in, &p, &n), CF_ETOOBIG);
    cf__frame_in_free(&in);
}
END_TEST

START_TEST(frame_in_default_limit)
{
    cf__frame_in in;
    cf__frame_in_init(&in, 0);
    /* 64 MiB is accepted (and waits for its bytes); one more is refused. */
    static const uint8_t at_limit[] = {0x04, 0x00, 0x00, 0x00};
    ck_assert_int_eq(cf__frame_in_push(&in, at_limit, 4), 0);
    const uint8_t *p;
    size_t n;
    ck_assert_int_eq(cf__frame_in_next(&in, &p, &n), -EAGAIN);
    cf__frame_in_free(&in);
    cf__frame_in_init(&in, 0);
    static const uint8_t over[] = {0x04, 0x00, 0x00, 0x01};
    ck_assert_int_eq(cf__frame_in_push(&in, over, 4), 0);
    ck_assert_int_eq(cf__frame_in_next(&in, &p, &n), CF_ETOOBIG);
    cf__frame_in_free(&in);
}
END_TEST

START_TEST(frame_in_announced_size_not_allocated)
{
    /* The largest limit, and a frame announcing 4 GiB - 1: accepted as
     * incomplete, without reserving memory for it. */
    cf__frame_in in;
    cf__frame_in_init(&in, CF__FRAME_MAX_LIMIT);
    static const uint8_t huge[] = {0xff, 0xff, 0xff, 0xff, 1, 2, 3};
    ck_assert_int_eq(cf__frame_in_push(&in, huge, sizeof huge), 0);
    const uint8_t *p;
    size_t n;
    ck_assert_int_eq(cf__frame_in_next(&in, &p, &n), -EAGAIN);
    ck_assert_uint_le(in.cap, 1u << 20);
    cf__frame_in_free(&in);
}
END_TEST

START_TEST(frame_in_large_buffer_released)
{
    cf__frame_in in;
    cf__frame_in_init(&in, 0);
    size_t size = 2u << 20;
    uint8_t *frame = calloc(1, 4 + size);
    ck_assert_ptr_nonnull(frame);
    frame[1] = 0x20; /* 2 MiB, big-endian */
    ck_assert_int_eq(cf__frame_in_push(&in, frame, 4 + size), 0);
    const uint8_t *p;
    size_t n;
    ck_assert_int_eq(cf__frame_in_next(&in, &p, &n), 0);
    ck_assert_uint_eq(n, size);
    ck_assert_uint_ge(in.cap, size);
    /* Asking for room once empty gives the large buffer back. */
    void *space;
    size_t room;
    ck_assert_int_eq(cf__frame_in_space(&in, &space, &room), 0);
    ck_assert_uint_lt(in.cap, size);
    free(frame);
    cf__frame_in_free(&in);
}
END_TEST

/* ---- Over a socket ----------------------------------------------------------------- */

static void set_nonblocking(int fd)
{
    int flags = fcntl(fd, F_GETFL);
    ck_assert_int_ge(flags, 0);
    ck_assert_int_eq(fcntl(fd, F_SETFL, flags | O_NONBLOCK), 0);
}

START_TEST(frame_socket_round_trip)
{
    int sv[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    set_nonblocking(sv[0]);
    set_nonblocking(sv[1]);
    /* Far more than a socket buffer holds: the sender hits -EAGAIN, the
     * receiver drains, until everything has crossed. */
    enum { COPIES = 60 };
    cf__frame_out out;
    cf__frame_out_init(&out, 0);
    for (int copy = 0; copy < COPIES; copy++)
        for (size_t f = 0; f < N_STREAM; f++)
            build_frame(&out, f, stream_sizes[f]);
    cf__frame_in in;
    cf__frame_in_init(&in, 0);
    size_t frames = 0, next = 0;
    bool saw_full = false;
    for (;;) {
        int rc = cf__frame_out_send(&out, sv[0]);
        ck_assert(rc == 0 || rc == -EAGAIN);
        saw_full |= rc == -EAGAIN;
        size_t got;
        for (;;) {
            int r = cf__frame_in_recv(&in, sv[1], &got);
            if (r == -EAGAIN)
                break;
            ck_assert_int_eq(r, 0);
            ck_assert_uint_gt(got, 0);
            const uint8_t *payload;
            size_t len;
            while (cf__frame_in_next(&in, &payload, &len) == 0) {
                check_payload(next, payload, len);
                next = (next + 1) % N_STREAM;
                frames++;
            }
        }
        if (rc == 0)
            break;
    }
    ck_assert(saw_full);
    ck_assert_uint_eq(frames, COPIES * N_STREAM);
    /* The sender closes: the receiver sees the end of the stream. */
    close(sv[0]);
    size_t got = 1;
    ck_assert_int_eq(cf__frame_in_recv(&in, sv[1], &got), 0);
    ck_assert_uint_eq(got, 0);
    ck_assert_uint_eq(cf__frame_in_buffered(&in), 0);
    close(sv[1]);
    cf__frame_out_free(&out);
    cf__frame_in_free(&in);
}
END_TEST

START_TEST(frame_socket_peer_gone)
{
    int sv[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    close(sv[1]);
    cf__frame_out out;
    cf__frame_out_init(&out, 0);
    build_frame(&out, 0, 100);
    /* No SIGPIPE: the error comes back as a code (the default action of
     * SIGPIPE would kill this test). */
    ck_assert_int_eq(cf__frame_out_send(&out, sv[0]), -EPIPE);
    ck_assert_ptr_nonnull(strstr(cf_last_error(), "sending frames"));
    size_t n;
    cf__frame_out_data(&out, &n);
    ck_assert_uint_eq(n, 4 + 100); /* still there */
    close(sv[0]);
    cf__frame_out_free(&out);
}
END_TEST

START_TEST(frame_socket_errors)
{
    cf__frame_in in;
    cf__frame_in_init(&in, 0);
    size_t got = 1;
    ck_assert_int_eq(cf__frame_in_recv(&in, -1, &got), -EBADF);
    ck_assert_uint_eq(got, 0);
    cf__frame_out out;
    cf__frame_out_init(&out, 0);
    build_frame(&out, 0, 3);
    ck_assert_int_eq(cf__frame_out_send(&out, -1), -EBADF);
    /* Nothing to send is success, whatever the descriptor. */
    size_t n;
    cf__frame_out_data(&out, &n);
    cf__frame_out_consume(&out, n);
    ck_assert_int_eq(cf__frame_out_send(&out, -1), 0);
    cf__frame_out_free(&out);
    cf__frame_in_free(&in);
}
END_TEST

/* A memfd holding one int, to tell descriptors apart after they crossed. */
static int tagged_fd(int tag)
{
    int fd = memfd_create("frame-test", MFD_CLOEXEC);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, &tag, sizeof tag), (ssize_t)sizeof tag);
    return fd;
}

static int tag_of(int fd)
{
    int tag = -1;
    ck_assert_int_eq(pread(fd, &tag, sizeof tag, 0), (ssize_t)sizeof tag);
    return tag;
}

START_TEST(frame_socket_descriptors)
{
    int before = count_fds();
    int sv[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    set_nonblocking(sv[0]);
    set_nonblocking(sv[1]);
    /* Frame f carries f % 4 descriptors tagged f * 10 + k, and says so in
     * its payload; large frames in between fill the socket, so sends stop
     * part-way and the descriptors must still go with their frame. */
    enum { FRAMES = 400 };
    cf__frame_out out;
    cf__frame_out_init(&out, 0);
    for (int f = 0; f < FRAMES; f++) {
        cf__frame_begin(&out);
        int nfds = f % 4;
        cf__frame_append(&out, &f, sizeof f);
        cf__frame_append(&out, &nfds, sizeof nfds);
        for (int k = 0; k < nfds; k++) {
            int fd = tagged_fd(f * 10 + k);
            ck_assert_int_eq(cf__frame_attach_fd(&out, fd), 0);
            close(fd); /* the frame holds its own duplicate */
        }
        static uint8_t filler[20000];
        cf__frame_append(&out, filler, (size_t)(f % 7) * 3000);
        ck_assert_int_eq(cf__frame_end(&out), 0);
    }
    cf__frame_in in;
    cf__frame_in_init(&in, 0);
    int next = 0;
    bool saw_full = false;
    for (;;) {
        int rc = cf__frame_out_send(&out, sv[0]);
        ck_assert(rc == 0 || rc == -EAGAIN);
        saw_full |= rc == -EAGAIN;
        size_t got;
        int r;
        while ((r = cf__frame_in_recv(&in, sv[1], &got)) == 0 && got > 0) {
            const uint8_t *payload;
            size_t len;
            while (cf__frame_in_next(&in, &payload, &len) == 0) {
                int f, nfds;
                memcpy(&f, payload, sizeof f);
                memcpy(&nfds, payload + sizeof f, sizeof nfds);
                ck_assert_int_eq(f, next);
                for (int k = 0; k < nfds; k++) {
                    int fd = cf__frame_in_take_fd(&in);
                    ck_assert_int_ge(fd, 0);
                    ck_assert_int_eq(tag_of(fd), f * 10 + k);
                    ck_assert_int_eq(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
                    close(fd);
                }
                next++;
            }
        }
        ck_assert_int_eq(r, -EAGAIN);
        if (rc == 0 && next == FRAMES)
            break;
    }
    ck_assert(saw_full);
    ck_assert_int_eq(cf__frame_in_take_fd(&in), -1);
    cf__frame_out_free(&out);
    cf__frame_in_free(&in);
    close(sv[0]);
    close(sv[1]);
    ck_assert_int_eq(count_fds(), before);
}
END_TEST

START_TEST(frame_descriptors_go_with_their_frame)
{
    int before = count_fds();
    int fd = tagged_fd(7);
    cf__frame_out out;
    cf__frame_out_init(&out, 16);
    /* No frame being built. */
    ck_assert_int_eq(cf__frame_attach_fd(&out, fd), CF_ESTATE);
    /* An aborted frame, and one over the limit, drop their duplicates. */
    cf__frame_begin(&out);
    ck_assert_int_eq(cf__frame_attach_fd(&out, fd), 0);
    ck_assert_int_eq(count_fds(), before + 2);
    cf__frame_abort(&out);
    ck_assert_int_eq(count_fds(), before + 1);
    cf__frame_begin(&out);
    ck_assert_int_eq(cf__frame_attach_fd(&out, fd), 0);
    static const uint8_t big[32];
    cf__frame_append(&out, big, sizeof big);
    ck_assert_int_eq(cf__frame_end(&out), CF_ETOOBIG);
    ck_assert_int_eq(count_fds(), before + 1);
    /* At most 64 per frame. */
    cf__frame_begin(&out);
    for (int k = 0; k < 64; k++)
        ck_assert_int_eq(cf__frame_attach_fd(&out, fd), 0);
    ck_assert_int_eq(cf__frame_attach_fd(&out, fd), CF_ETOOBIG);
    ck_assert_int_eq(cf__frame_end(&out), 0);
    /* Sealed but never sent: freeing closes them. */
    ck_assert_int_eq(count_fds(), before + 65);
    cf__frame_out_free(&out);
    close(fd);
    ck_assert_int_eq(count_fds(), before);
    /* Received but never taken: freeing the reassembler closes them. */
    int sv[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    cf__frame_out_init(&out, 0);
    cf__frame_begin(&out);
    fd = tagged_fd(8);
    ck_assert_int_eq(cf__frame_attach_fd(&out, fd), 0);
    ck_assert_int_eq(cf__frame_attach_fd(&out, fd), 0);
    close(fd);
    ck_assert_int_eq(cf__frame_end(&out), 0);
    ck_assert_int_eq(cf__frame_out_send(&out, sv[0]), 0);
    cf__frame_out_free(&out);
    cf__frame_in in;
    cf__frame_in_init(&in, 0);
    size_t got;
    ck_assert_int_eq(cf__frame_in_recv(&in, sv[1], &got), 0);
    ck_assert_uint_eq(got, 4);
    ck_assert_int_eq(count_fds(), before + 4);
    cf__frame_in_free(&in);
    close(sv[0]);
    close(sv[1]);
    ck_assert_int_eq(count_fds(), before);
}
END_TEST

START_TEST(frame_in_peek_drop_discard)
{
    cf__frame_in in;
    cf__frame_in_init(&in, 0);
    const uint8_t stream[] = {0, 0, 0, 1, 'a', 0, 0, 0, 2, 'b', 'c', 0, 0, 0, 9, 'x'};
    ck_assert_int_eq(cf__frame_in_push(&in, stream, sizeof stream), 0);
    const uint8_t *p, *q;
    size_t len, len2;
    /* A peek leaves the frame for the next peek or next. */
    ck_assert_int_eq(cf__frame_in_peek(&in, &p, &len), 0);
    ck_assert_uint_eq(len, 1);
    ck_assert_int_eq(cf__frame_in_peek(&in, &q, &len2), 0);
    ck_assert_ptr_eq(p, q);
    ck_assert_int_eq(cf__frame_in_next(&in, &q, &len2), 0);
    ck_assert_ptr_eq(p, q);
    /* Drop consumes exactly the frame peeked. */
    ck_assert_int_eq(cf__frame_in_peek(&in, &p, &len), 0);
    ck_assert_uint_eq(len, 2);
    ck_assert_mem_eq(p, "bc", 2);
    cf__frame_in_drop(&in);
    /* What is left is a frame cut short: discard drops it. */
    ck_assert_int_eq(cf__frame_in_peek(&in, &p, &len), -EAGAIN);
    ck_assert_uint_eq(cf__frame_in_buffered(&in), 5);
    cf__frame_in_discard(&in);
    ck_assert_uint_eq(cf__frame_in_buffered(&in), 0);
    cf__frame_in_free(&in);
}
END_TEST

static Suite *frame_suite(void)
{
    Suite *s = suite_create("frame");
    TCase *tc = tcase_create("out");
    tcase_add_test(tc, frame_out_single);
    tcase_add_test(tc, frame_out_prefix_is_big_endian);
    tcase_add_test(tc, frame_out_batches_and_partial_consume);
    tcase_add_test(tc, frame_out_frame_being_built_is_invisible);
    tcase_add_test(tc, frame_out_end_without_begin);
    tcase_add_test(tc, frame_out_limit);
    tcase_add_test(tc, frame_out_default_limit);
    tcase_add_test(tc, frame_out_large_frame_grows_and_releases);
    suite_add_tcase(s, tc);
    tc = tcase_create("in");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, frame_in_one_big_chunk);
    tcase_add_test(tc, frame_in_split_at_every_byte);
    tcase_add_test(tc, frame_in_byte_by_byte);
    tcase_add_test(tc, frame_in_irregular_chunks_through_space);
    tcase_add_test(tc, frame_in_payloads_valid_together);
    tcase_add_test(tc, frame_in_partial_frame_is_buffered);
    tcase_add_test(tc, frame_in_limit);
    tcase_add_test(tc, frame_in_default_limit);
    tcase_add_test(tc, frame_in_announced_size_not_allocated);
    tcase_add_test(tc, frame_in_large_buffer_released);
    tcase_add_test(tc, frame_in_peek_drop_discard);
    suite_add_tcase(s, tc);
    tc = tcase_create("socket");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, frame_socket_round_trip);
    tcase_add_test(tc, frame_socket_peer_gone);
    tcase_add_test(tc, frame_socket_errors);
    tcase_add_test(tc, frame_socket_descriptors);
    tcase_add_test(tc, frame_descriptors_go_with_their_frame);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(frame_suite());
}
