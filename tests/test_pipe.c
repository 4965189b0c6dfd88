/* test_pipe.c: Pipe across real process boundaries: every value type there
 * and back through a forked child (typed on one side, dynamic on the other),
 * messages of several MiB, a long run of messages in order, a message of
 * the wrong type that stays, end of file once the other end is closed in
 * both processes (and sending to it, without SIGPIPE), one-way pipes
 * refusing the wrong direction, poll with a timeout, a send that times out
 * and is queued, concurrent senders whose messages never interleave, two
 * children relaying values to each other, malformed and truncated streams,
 * descriptors that are close-on-exec, and invalid arguments.
 *
 * Children are plain forks that run one function and _exit with its status
 * (0 when every check in it held): they never return into Check. The test
 * waits for what it needs on the pipes themselves, with a generous deadline.
 */
#include "config.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cfutures.h>

#include "support.h"

/* ---- Children ------------------------------------------------------------------------ */

/* In a child: a failed check ends it with status 1, saying which. */
#define CHILD_CHECK(cond)                                                                  \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            fprintf(stderr, "%s:%d: child check failed: %s (%s)\n", __FILE__, __LINE__,    \
                    #cond, cf_last_error());                                               \
            _exit(1);                                                                      \
        }                                                                                  \
    } while (0)

/* Forks a child that runs fn(arg) and exits with status 0 (fn ends it
 * otherwise through CHILD_CHECK). It dies with the test's process. */
static pid_t fork_child(void (*fn)(void *), void *arg)
{
    pid_t parent = getpid();
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(2);
        fn(arg);
        _exit(0);
    }
    return pid;
}

/* Waits for child pid (at most DEADLINE_S), which must have exited with 0. */
static void expect_child_ok(pid_t pid)
{
    int status;
    double deadline = now_s() + DEADLINE_S;
    pid_t r;
    while ((r = waitpid(pid, &status, WNOHANG)) == 0)
        ck_assert_msg(keep_polling(deadline), "child %d still runs", (int)pid);
    ck_assert_int_eq(r, pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "child %d: status 0x%x", (int)pid, status);
}

typedef struct two_ends {
    cf_pipe_end *mine, *theirs;
} two_ends;

static two_ends new_pipe(bool duplex)
{
    two_ends p;
    int rc = cf_pipe_new(&p.mine, &p.theirs, duplex);
    ck_assert_msg(rc == 0, "cf_pipe_new: %s (%s)", cf_err_name(rc), cf_last_error());
    ck_assert_ptr_nonnull(p.mine);
    ck_assert_ptr_nonnull(p.theirs);
    return p;
}

typedef struct point {
    int32_t x, y;
    double weight;
    char tag[12];
} point;

/* ---- Every type, there and back ---------------------------------------------------- */

/* The child: echo every message back as it came (any type), until EOF. */
static void echo_values(void *arg)
{
    two_ends *p = arg;
    cf_pipe_close(p->mine);
    for (;;) {
        cf_value v;
        int rc = cf_pipe_recv_value(p->theirs, &v, DEADLINE_S);
        if (rc == CF_EEOF)
            break;
        CHILD_CHECK(rc == 0);
        CHILD_CHECK(cf_pipe_send_value(p->theirs, &v, DEADLINE_S) == 0);
    }
    cf_pipe_close(p->theirs);
}

#define ROUND_TRIP(end, T, value)                                                          \
    do {                                                                                   \
        T sent_ = (value), got_;                                                           \
        memset(&got_, 0, sizeof got_);                                                     \
        ck_assert_int_eq(cf_pipe_send((end), sent_, DEADLINE_S), 0);                       \
        int rc_ = cf_pipe_recv((end), &got_, DEADLINE_S);                                  \
        ck_assert_msg(rc_ == 0, "%s: %s (%s)", #T, cf_err_name(rc_), cf_last_error());     \
        ck_assert_msg(memcmp(&sent_, &got_, sizeof sent_) == 0, "%s came back changed", #T); \
    } while (0)

START_TEST(pipe_every_type_round_trip)
{
    two_ends p = new_pipe(true);
    pid_t child = fork_child(echo_values, &p);
    cf_pipe_close(p.theirs);
    cf_pipe_end *end = p.mine;

    ROUND_TRIP(end, bool, true);
    ROUND_TRIP(end, bool, false);
    ROUND_TRIP(end, int8_t, -128);
    ROUND_TRIP(end, uint8_t, 255);
    ROUND_TRIP(end, int16_t, -32768);
    ROUND_TRIP(end, uint16_t, 65535);
    ROUND_TRIP(end, int32_t, INT32_MIN);
    ROUND_TRIP(end, uint32_t, UINT32_MAX);
    ROUND_TRIP(end, int64_t, INT64_MIN);
    ROUND_TRIP(end, uint64_t, UINT64_MAX);
    ROUND_TRIP(end, long, -1234567890123L);
    ROUND_TRIP(end, float, -1.5e-30f);
    ROUND_TRIP(end, double, 6.02214076e23);
    ROUND_TRIP(end, double, -0.0);
    ROUND_TRIP(end, double, INFINITY);

    /* A NaN comes back with the same bits. */
    double nan_in = nan("0x5a5a"), nan_out = 0;
    ck_assert_int_eq(cf_pipe_send(end, nan_in, DEADLINE_S), 0);
    ck_assert_int_eq(cf_pipe_recv(end, &nan_out, DEADLINE_S), 0);
    ck_assert(memcmp(&nan_in, &nan_out, sizeof nan_in) == 0);

    /* Strings: a literal, an empty one, NULL, and a char * buffer. */
    const char *s = NULL;
    ck_assert_int_eq(cf_pipe_send(end, "hello, child", DEADLINE_S), 0);
    ck_assert_int_eq(cf_pipe_recv(end, &s, DEADLINE_S), 0);
    ck_assert_str_eq(s, "hello, child");
    ck_assert_int_eq(cf_pipe_send(end, "", DEADLINE_S), 0);
    ck_assert_int_eq(cf_pipe_recv(end, &s, DEADLINE_S), 0);
    ck_assert_str_eq(s, "");
    const char *none = NULL;
    ck_assert_int_eq(cf_pipe_send(end, none, DEADLINE_S), 0);
    s = "not yet";
    ck_assert_int_eq(cf_pipe_recv(end, &s, DEADLINE_S), 0);
    ck_assert_ptr_null(s);
    char buffer[] = "mutable text";
    ck_assert_int_eq(cf_pipe_send(end, buffer, DEADLINE_S), 0);
    char *ms = NULL;
    ck_assert_int_eq(cf_pipe_recv(end, &ms, DEADLINE_S), 0);
    ck_assert_str_eq(ms, "mutable text");

    /* Byte buffers, empty included, through both APIs. */
    unsigned char raw[300];
    for (size_t i = 0; i < sizeof raw; i++)
        raw[i] = (unsigned char)(i * 13);
    ck_assert_int_eq(cf_pipe_send(end, ((cf_bytes){raw, sizeof raw}), DEADLINE_S), 0);
    cf_bytes b = {0};
    ck_assert_int_eq(cf_pipe_recv_bytes(end, &b, DEADLINE_S), 0);
    ck_assert_uint_eq(b.len, sizeof raw);
    ck_assert(memcmp(b.data, raw, sizeof raw) == 0);
    ck_assert_int_eq(cf_pipe_send_bytes(end, raw, 0, DEADLINE_S), 0);
    ck_assert_int_eq(cf_pipe_recv(end, &b, DEADLINE_S), 0);
    ck_assert_uint_eq(b.len, 0);

    /* A struct, padding zeroed. */
    point pt;
    memset(&pt, 0, sizeof pt);
    pt.x = -7;
    pt.y = 1 << 30;
    pt.weight = 0.125;
    strcpy(pt.tag, "origin");
    ck_assert_int_eq(cf_pipe_send(end, pt, DEADLINE_S), 0);
    point back;
    memset(&back, 0xff, sizeof back);
    ck_assert_int_eq(cf_pipe_recv(end, &back, DEADLINE_S), 0);
    ck_assert(memcmp(&pt, &back, sizeof pt) == 0);

    /* Dynamic values both ways, void included. */
    cf_value v = cf_value_u16(4242), w;
    ck_assert_int_eq(cf_pipe_send_value(end, &v, DEADLINE_S), 0);
    ck_assert_int_eq(cf_pipe_recv_value(end, &w, DEADLINE_S), 0);
    assert_type_eq(w.type, CF_TYPE_OF(uint16_t), "u16");
    ck_assert_uint_eq(w.as.u, 4242);
    v = cf_value_struct(&pt, sizeof pt);
    ck_assert_int_eq(cf_pipe_send_value(end, &v, DEADLINE_S), 0);
    ck_assert_int_eq(cf_pipe_recv_value(end, &w, DEADLINE_S), 0);
    assert_type_eq(w.type, CF_TYPE_OF(point), "struct");
    ck_assert(memcmp(w.as.data, &pt, sizeof pt) == 0);
    v = cf_value_void();
    ck_assert_int_eq(cf_pipe_send_value(end, &v, DEADLINE_S), 0);
    ck_assert_int_eq(cf_pipe_recv_value(end, &w, DEADLINE_S), 0);
    ck_assert_uint_eq(w.type.kind, CF_KIND_VOID);

    /* A NULL out takes a message of any type and drops it. */
    ck_assert_int_eq(cf_pipe_send(end, 99.5, DEADLINE_S), 0);
    ck_assert_int_eq(cf_pipe_send(end, (int32_t)5, DEADLINE_S), 0);
    ck_assert_int_eq(cf_pipe_recv(end, NULL, DEADLINE_S), 0);
    int32_t five = 0;
    ck_assert_int_eq(cf_pipe_recv(end, &five, DEADLINE_S), 0);
    ck_assert_int_eq(five, 5);

    /* A raw pointer cannot go (the macro refuses it at compile time). */
    int x = 1;
    v = cf_value_ptr(&x);
    ck_assert_int_eq(cf_pipe_send_value(end, &v, DEADLINE_S), CF_EUNSUPPORTED);

    cf_pipe_close(end);
    expect_child_ok(child);
}
END_TEST

/* ---- Large messages ---------------------------------------------------------------- */

enum { LARGE = 6 << 20 };

static unsigned char *pattern(size_t n, unsigned seed)
{
    unsigned char *data = malloc(n);
    ck_assert_ptr_nonnull(data);
    for (size_t i = 0; i < n; i++)
        data[i] = (unsigned char)((i * 2654435761u) >> 13 ^ seed);
    return data;
}

/* The child: receive a large byte message, answer with its hash, then send
 * a large message of its own. */
static void large_child(void *arg)
{
    two_ends *p = arg;
    cf_pipe_close(p->mine);
    cf_bytes b;
    CHILD_CHECK(cf_pipe_recv_bytes(p->theirs, &b, DEADLINE_S) == 0);
    CHILD_CHECK(b.len == LARGE);
    CHILD_CHECK(cf_pipe_send(p->theirs, fnv1a(b.data, b.len), DEADLINE_S) == 0);
    unsigned char *mine = malloc(LARGE);
    CHILD_CHECK(mine != NULL);
    for (size_t i = 0; i < LARGE; i++)
        mine[i] = (unsigned char)(i % 251);
    CHILD_CHECK(cf_pipe_send_bytes(p->theirs, mine, LARGE, DEADLINE_S) == 0);
    free(mine);
    cf_pipe_close(p->theirs);
}

START_TEST(pipe_large_messages)
{
    two_ends p = new_pipe(true);
    pid_t child = fork_child(large_child, &p);
    cf_pipe_close(p.theirs);
    unsigned char *data = pattern(LARGE, 7);
    ck_assert_int_eq(cf_pipe_send_bytes(p.mine, data, LARGE, DEADLINE_S), 0);
    uint64_t h = 0;
    ck_assert_int_eq(cf_pipe_recv(p.mine, &h, DEADLINE_S), 0);
    ck_assert(h == fnv1a(data, LARGE));
    cf_bytes b;
    ck_assert_int_eq(cf_pipe_recv_bytes(p.mine, &b, DEADLINE_S), 0);
    ck_assert_uint_eq(b.len, LARGE);
    for (size_t i = 0; i < LARGE; i++)
        if (((const unsigned char *)b.data)[i] != (unsigned char)(i % 251))
            ck_abort_msg("byte %zu of the child's message differs", i);
    ck_assert_int_eq(cf_pipe_recv(p.mine, &h, DEADLINE_S), CF_EEOF);
    cf_pipe_close(p.mine);
    expect_child_ok(child);
    free(data);
}
END_TEST

START_TEST(pipe_too_big_is_refused_whole)
{
    two_ends p = new_pipe(true);
    size_t n = CF_PIPE_MAX_MESSAGE; /* plus the type: over the limit */
    unsigned char *data = calloc(1, n);
    ck_assert_ptr_nonnull(data);
    ck_assert_int_eq(cf_pipe_send_bytes(p.mine, data, n, DEADLINE_S), CF_ETOOBIG);
    ck_assert_int_eq(cf_pipe_poll(p.theirs, 0), CF_ETIMEDOUT); /* nothing went */
    ck_assert_int_eq(cf_pipe_send(p.mine, (int32_t)11, DEADLINE_S), 0);
    int32_t v = 0;
    ck_assert_int_eq(cf_pipe_recv(p.theirs, &v, DEADLINE_S), 0);
    ck_assert_int_eq(v, 11);
    free(data);
    cf_pipe_close(p.mine);
    cf_pipe_close(p.theirs);
}
END_TEST

/* ---- Many messages in order --------------------------------------------------------- */

enum { MANY = 50000 };

static void count_up(void *arg)
{
    two_ends *p = arg;
    cf_pipe_close(p->mine);
    for (int32_t i = 0; i < MANY; i++)
        CHILD_CHECK(cf_pipe_send(p->theirs, i, DEADLINE_S) == 0);
    cf_pipe_close(p->theirs);
}

START_TEST(pipe_many_messages_in_order)
{
    two_ends p = new_pipe(false); /* mine receives, theirs sends */
    pid_t child = fork_child(count_up, &p);
    cf_pipe_close(p.theirs);
    for (int32_t i = 0; i < MANY; i++) {
        int32_t v = -1;
        int rc = cf_pipe_recv(p.mine, &v, DEADLINE_S);
        ck_assert_msg(rc == 0, "message %d: %s (%s)", i, cf_err_name(rc), cf_last_error());
        ck_assert_int_eq(v, i);
    }
    int32_t v;
    ck_assert_int_eq(cf_pipe_recv(p.mine, &v, DEADLINE_S), CF_EEOF);
    ck_assert_int_eq(cf_pipe_recv(p.mine, &v, 0), CF_EEOF); /* and stays so */
    cf_pipe_close(p.mine);
    expect_child_ok(child);
}
END_TEST

/* ---- Types ---------------------------------------------------------------------------- */

START_TEST(pipe_type_mismatch_keeps_the_message)
{
    two_ends p = new_pipe(true);
    ck_assert_int_eq(cf_pipe_send(p.mine, (int32_t)42, DEADLINE_S), 0);
    ck_assert_int_eq(cf_pipe_send(p.mine, "after", DEADLINE_S), 0);
    double d = 3.0;
    ck_assert_int_eq(cf_pipe_recv(p.theirs, &d, DEADLINE_S), CF_ETYPE);
    ck_assert_msg(strstr(cf_last_error(), "int32") != NULL, "%s", cf_last_error());
    ck_assert(d == 3.0);
    int64_t wide;
    ck_assert_int_eq(cf_pipe_recv(p.theirs, &wide, 0), CF_ETYPE); /* size matters */
    cf_bytes b;
    ck_assert_int_eq(cf_pipe_recv_bytes(p.theirs, &b, 0), CF_ETYPE);
    ck_assert_int_eq(cf_pipe_poll(p.theirs, 0), 0); /* still there */
    int32_t i = 0;
    ck_assert_int_eq(cf_pipe_recv(p.theirs, &i, 0), 0);
    ck_assert_int_eq(i, 42);
    const char *s;
    ck_assert_int_eq(cf_pipe_recv(p.theirs, &s, 0), 0);
    ck_assert_str_eq(s, "after");
    ck_assert_int_eq(cf_pipe_recv(p.theirs, &s, 0), CF_ETIMEDOUT);
    cf_pipe_close(p.mine);
    cf_pipe_close(p.theirs);
}
END_TEST

/* ---- End of file ------------------------------------------------------------------------ */

/* The child: hold its copy of the send end until told, send one value, and
 * close it. */
typedef struct eof_plan {
    two_ends p;
    chan go;
} eof_plan;

static void send_then_close(void *arg)
{
    eof_plan *plan = arg;
    cf_pipe_close(plan->p.mine);
    char c;
    CHILD_CHECK(read_full(plan->go.rd, &c, 1) == 0);
    CHILD_CHECK(cf_pipe_send(plan->p.theirs, 2.5, DEADLINE_S) == 0);
    cf_pipe_close(plan->p.theirs);
    c = 'x';
    CHILD_CHECK(write_full(plan->go.wr, &c, 1) == 0); /* closed */
    CHILD_CHECK(read_full(plan->go.rd, &c, 1) == 0);  /* wait before exiting */
}

START_TEST(pipe_eof_after_close_in_both_processes)
{
    signal(SIGPIPE, SIG_DFL); /* a SIGPIPE would kill this process */
    eof_plan plan = {.p = new_pipe(true), .go = new_chan()};
    chan back = new_chan();
    eof_plan child_plan = {.p = plan.p, .go = {plan.go.rd, back.wr}};
    pid_t child = fork_child(send_then_close, &child_plan);
    cf_pipe_close(plan.p.theirs);
    /* Closed here, open in the child: no end of file yet. */
    double d = 0;
    ck_assert_int_eq(cf_pipe_recv(plan.p.mine, &d, 0.01), CF_ETIMEDOUT);
    ck_assert_int_eq(cf_pipe_poll(plan.p.mine, 0), CF_ETIMEDOUT);
    release(plan.go, 1);
    char c;
    ck_assert_int_eq(read_full(back.rd, &c, 1), 0); /* the child closed its copy */
    /* The message sent before the close comes first, then end of file. */
    ck_assert_int_eq(cf_pipe_poll(plan.p.mine, DEADLINE_S), 0);
    ck_assert_int_eq(cf_pipe_recv(plan.p.mine, &d, DEADLINE_S), 0);
    ck_assert(d == 2.5);
    ck_assert_int_eq(cf_pipe_poll(plan.p.mine, DEADLINE_S), 0);
    ck_assert_int_eq(cf_pipe_recv(plan.p.mine, &d, DEADLINE_S), CF_EEOF);
    /* Sending to a closed end: CF_EEOF, never SIGPIPE, every time. */
    ck_assert_int_eq(cf_pipe_send(plan.p.mine, 1.0, DEADLINE_S), CF_EEOF);
    ck_assert_int_eq(cf_pipe_send_bytes(plan.p.mine, "x", 1, DEADLINE_S), CF_EEOF);
    ck_assert_int_eq(cf_pipe_flush(plan.p.mine, 0), CF_EEOF);
    release(plan.go, 1);
    expect_child_ok(child);
    cf_pipe_close(plan.p.mine);
    close_chan(plan.go);
    close_chan(back);
}
END_TEST

/* ---- One-way pipes ---------------------------------------------------------------------- */

START_TEST(pipe_one_way_refuses_the_other_direction)
{
    cf_pipe_end *r, *w;
    ck_assert_int_eq(cf_pipe_new(&r, &w, false), 0);
    ck_assert_int_eq(cf_pipe_send(r, 1, 0), CF_EUNSUPPORTED);
    ck_assert_int_eq(cf_pipe_send_bytes(r, "x", 1, 0), CF_EUNSUPPORTED);
    ck_assert_int_eq(cf_pipe_flush(r, 0), CF_EUNSUPPORTED);
    int v;
    ck_assert_int_eq(cf_pipe_recv(w, &v, 0), CF_EUNSUPPORTED);
    cf_value dv;
    ck_assert_int_eq(cf_pipe_recv_value(w, &dv, 0), CF_EUNSUPPORTED);
    ck_assert_int_eq(cf_pipe_poll(w, 0), CF_EUNSUPPORTED);
    /* The right direction works. */
    ck_assert_int_eq(cf_pipe_send(w, 77, 0), 0);
    ck_assert_int_eq(cf_pipe_recv(r, &v, DEADLINE_S), 0);
    ck_assert_int_eq(v, 77);
    cf_pipe_close(r);
    cf_pipe_close(w);
}
END_TEST

/* ---- Poll ----------------------------------------------------------------------------- */

static void send_when_told(void *arg)
{
    eof_plan *plan = arg;
    cf_pipe_close(plan->p.mine);
    char c;
    CHILD_CHECK(read_full(plan->go.rd, &c, 1) == 0);
    CHILD_CHECK(cf_pipe_send(plan->p.theirs, "ready", DEADLINE_S) == 0);
    cf_pipe_close(plan->p.theirs);
}

START_TEST(pipe_poll_with_timeout)
{
    eof_plan plan = {.p = new_pipe(false), .go = new_chan()};
    pid_t child = fork_child(send_when_told, &plan);
    cf_pipe_close(plan.p.theirs);
    ck_assert_int_eq(cf_pipe_poll(plan.p.mine, 0), CF_ETIMEDOUT);
    ck_assert_int_eq(cf_pipe_poll(plan.p.mine, 0.02), CF_ETIMEDOUT);
    ck_assert_int_eq(cf_pipe_poll(plan.p.mine, 0), CF_ETIMEDOUT);
    release(plan.go, 1);
    ck_assert_int_eq(cf_pipe_poll(plan.p.mine, DEADLINE_S), 0);
    ck_assert_int_eq(cf_pipe_poll(plan.p.mine, 0), 0); /* polling takes nothing */
    const char *s;
    ck_assert_int_eq(cf_pipe_recv(plan.p.mine, &s, 0), 0);
    ck_assert_str_eq(s, "ready");
    expect_child_ok(child);
    ck_assert_int_eq(cf_pipe_poll(plan.p.mine, DEADLINE_S), 0); /* end of file is ready */
    ck_assert_int_eq(cf_pipe_recv(plan.p.mine, &s, 0), CF_EEOF);
    cf_pipe_close(plan.p.mine);
    close_chan(plan.go);
}
END_TEST

/* ---- A send that times out is queued ------------------------------------------------------ */

static void read_late(void *arg)
{
    eof_plan *plan = arg;
    cf_pipe_close(plan->p.theirs);
    char c;
    CHILD_CHECK(read_full(plan->go.rd, &c, 1) == 0);
    cf_bytes b;
    CHILD_CHECK(cf_pipe_recv_bytes(plan->p.mine, &b, DEADLINE_S) == 0);
    CHILD_CHECK(b.len == LARGE);
    uint64_t h = fnv1a(b.data, b.len);
    int32_t next = 0;
    CHILD_CHECK(cf_pipe_recv(plan->p.mine, &next, DEADLINE_S) == 0);
    CHILD_CHECK(next == 12345);
    CHILD_CHECK(cf_pipe_send(plan->p.mine, h, DEADLINE_S) == 0);
    cf_pipe_close(plan->p.mine);
}

START_TEST(pipe_send_timeout_queues_the_message)
{
    eof_plan plan = {.p = new_pipe(true), .go = new_chan()};
    pid_t child = fork_child(read_late, &plan);
    cf_pipe_close(plan.p.mine);
    cf_pipe_end *end = plan.p.theirs;
    unsigned char *data = pattern(LARGE, 3);
    /* Nobody reads yet: the socket cannot take 6 MiB at once. */
    ck_assert_int_eq(cf_pipe_send_bytes(end, data, LARGE, 0), CF_ETIMEDOUT);
    ck_assert_int_eq(cf_pipe_send(end, (int32_t)12345, 0), CF_ETIMEDOUT); /* queued behind */
    ck_assert_int_eq(cf_pipe_flush(end, 0.01), CF_ETIMEDOUT);
    release(plan.go, 1);
    ck_assert_int_eq(cf_pipe_flush(end, DEADLINE_S), 0);
    uint64_t h = 0;
    ck_assert_int_eq(cf_pipe_recv(end, &h, DEADLINE_S), 0);
    ck_assert(h == fnv1a(data, LARGE)); /* whole, once, and before the int */
    expect_child_ok(child);
    cf_pipe_close(end);
    close_chan(plan.go);
    free(data);
}
END_TEST

/* ---- Concurrent senders --------------------------------------------------------------------- */

enum { SENDERS = 4, PER_SENDER = 400 };

typedef struct sender {
    cf_pipe_end *end;
    int id;
} sender;

/* Message `seq` of sender `id`: a length that varies, bytes that say whose. */
static size_t message_len(int id, int seq)
{
    return 1 + (size_t)((id * 7919 + seq * 104729) % 40000);
}

static void *send_many(void *arg)
{
    sender *s = arg;
    unsigned char *buf = malloc(40001);
    ck_assert_ptr_nonnull(buf);
    for (int seq = 0; seq < PER_SENDER; seq++) {
        size_t n = message_len(s->id, seq);
        buf[0] = (unsigned char)s->id;
        for (size_t i = 1; i < n; i++)
            buf[i] = (unsigned char)(seq + i);
        ck_assert_int_eq(cf_pipe_send_bytes(s->end, buf, n, DEADLINE_S), 0);
    }
    free(buf);
    return NULL;
}

START_TEST(pipe_concurrent_senders_never_interleave)
{
    two_ends p = new_pipe(false);
    pthread_t threads[SENDERS];
    sender senders[SENDERS];
    for (int i = 0; i < SENDERS; i++) {
        senders[i] = (sender){p.theirs, i};
        ck_assert_int_eq(pthread_create(&threads[i], NULL, send_many, &senders[i]), 0);
    }
    int next[SENDERS] = {0};
    for (int k = 0; k < SENDERS * PER_SENDER; k++) {
        cf_bytes b;
        int rc = cf_pipe_recv_bytes(p.mine, &b, DEADLINE_S);
        ck_assert_msg(rc == 0, "message %d: %s (%s)", k, cf_err_name(rc), cf_last_error());
        const unsigned char *d = b.data;
        ck_assert_uint_gt(b.len, 0);
        int id = d[0];
        ck_assert_int_lt(id, SENDERS);
        int seq = next[id]++;
        ck_assert_uint_eq(b.len, message_len(id, seq));
        for (size_t i = 1; i < b.len; i++)
            if (d[i] != (unsigned char)(seq + i))
                ck_abort_msg("message %d of sender %d is corrupt at byte %zu", seq, id, i);
    }
    for (int i = 0; i < SENDERS; i++) {
        ck_assert_int_eq(pthread_join(threads[i], NULL), 0);
        ck_assert_int_eq(next[i], PER_SENDER);
    }
    cf_pipe_close(p.mine);
    cf_pipe_close(p.theirs);
}
END_TEST

/* ---- Two children relaying ------------------------------------------------------------------ */

enum { RELAYED = 1000 };

typedef struct relay_plan {
    two_ends a_to_b, b_to_test;
} relay_plan;

/* Child A: sends 0..RELAYED-1 to B, then "done". */
static void relay_source(void *arg)
{
    relay_plan *r = arg;
    cf_pipe_close(r->a_to_b.mine);
    cf_pipe_close(r->b_to_test.mine);
    cf_pipe_close(r->b_to_test.theirs);
    for (int64_t i = 0; i < RELAYED; i++)
        CHILD_CHECK(cf_pipe_send(r->a_to_b.theirs, i, DEADLINE_S) == 0);
    CHILD_CHECK(cf_pipe_send(r->a_to_b.theirs, "done", DEADLINE_S) == 0);
    cf_pipe_close(r->a_to_b.theirs);
}

/* Child B: passes every number on, squared, until "done" and end of file. */
static void relay_middle(void *arg)
{
    relay_plan *r = arg;
    cf_pipe_close(r->a_to_b.theirs);
    cf_pipe_close(r->b_to_test.mine);
    for (;;) {
        int64_t x;
        int rc = cf_pipe_recv(r->a_to_b.mine, &x, DEADLINE_S);
        if (rc == CF_ETYPE) {
            const char *s;
            CHILD_CHECK(cf_pipe_recv(r->a_to_b.mine, &s, DEADLINE_S) == 0);
            CHILD_CHECK(strcmp(s, "done") == 0);
            CHILD_CHECK(cf_pipe_recv(r->a_to_b.mine, &x, DEADLINE_S) == CF_EEOF);
            break;
        }
        CHILD_CHECK(rc == 0);
        CHILD_CHECK(cf_pipe_send(r->b_to_test.theirs, x * x, DEADLINE_S) == 0);
    }
    cf_pipe_close(r->a_to_b.mine);
    cf_pipe_close(r->b_to_test.theirs);
}

START_TEST(pipe_relay_between_two_children)
{
    relay_plan r = {.a_to_b = new_pipe(false), .b_to_test = new_pipe(false)};
    pid_t a = fork_child(relay_source, &r);
    pid_t b = fork_child(relay_middle, &r);
    cf_pipe_close(r.a_to_b.mine);
    cf_pipe_close(r.a_to_b.theirs);
    cf_pipe_close(r.b_to_test.theirs);
    for (int64_t i = 0; i < RELAYED; i++) {
        int64_t sq = -1;
        ck_assert_int_eq(cf_pipe_recv(r.b_to_test.mine, &sq, DEADLINE_S), 0);
        ck_assert_int_eq(sq, i * i);
    }
    int64_t x;
    ck_assert_int_eq(cf_pipe_recv(r.b_to_test.mine, &x, DEADLINE_S), CF_EEOF);
    cf_pipe_close(r.b_to_test.mine);
    expect_child_ok(a);
    expect_child_ok(b);
}
END_TEST

/* ---- Descriptors and raw streams ------------------------------------------------------------- */

static bool fd_is_open(int fd)
{
    return fcntl(fd, F_GETFD) >= 0;
}

/* The two descriptors cf_pipe_new opened (the lowest free ones). */
static void new_pipe_fds(two_ends *p, int fds[2])
{
    bool before[256];
    for (int fd = 0; fd < 256; fd++)
        before[fd] = fd_is_open(fd);
    *p = new_pipe(true);
    int n = 0;
    for (int fd = 0; fd < 256 && n < 2; fd++)
        if (!before[fd] && fd_is_open(fd))
            fds[n++] = fd;
    ck_assert_int_eq(n, 2);
}

START_TEST(pipe_descriptors_close_on_exec_and_released)
{
    int fds_before = count_fds();
    two_ends p;
    int fds[2];
    new_pipe_fds(&p, fds);
    ck_assert_int_eq(count_fds(), fds_before + 2);
    for (int i = 0; i < 2; i++)
        ck_assert_msg(fcntl(fds[i], F_GETFD) & FD_CLOEXEC, "fd %d is not close-on-exec", fds[i]);
    cf_pipe_close(p.mine);
    cf_pipe_close(p.theirs);
    ck_assert_int_eq(count_fds(), fds_before);
}
END_TEST

/* Which of the two descriptors belongs to `end`: the one whose writes it reads. */
static int fd_of_peer(two_ends *p, const int fds[2], cf_pipe_end *reader)
{
    for (int i = 0; i < 2; i++) {
        /* A frame holding a VALUE int32 7, written raw: [1, 6, kind, size, 7]. */
        static const unsigned char frame[] = {0, 0, 0, 6, 0x95, 1, 6, CF_KIND_I32, 4, 7};
        ck_assert_int_eq(write_full(fds[i], frame, sizeof frame), 0);
        int32_t v = 0;
        if (cf_pipe_recv(reader, &v, 0) == 0) {
            ck_assert_int_eq(v, 7);
            return fds[i];
        }
        /* It went to the other end: take it back out there. */
        cf_pipe_end *other = reader == p->mine ? p->theirs : p->mine;
        ck_assert_int_eq(cf_pipe_recv(other, &v, DEADLINE_S), 0);
    }
    ck_abort_msg("no descriptor reaches the end");
    return -1;
}

START_TEST(pipe_malformed_and_truncated_streams)
{
    two_ends p;
    int fds[2];
    new_pipe_fds(&p, fds);
    int raw = fd_of_peer(&p, fds, p.mine);
    /* Not MessagePack: dropped with CF_EDECODE; the stream goes on. */
    static const unsigned char junk[] = {0, 0, 0, 3, 0xc1, 0xc1, 0xc1};
    ck_assert_int_eq(write_full(raw, junk, sizeof junk), 0);
    int32_t v;
    ck_assert_int_eq(cf_pipe_recv(p.mine, &v, DEADLINE_S), CF_EDECODE);
    /* A well-formed message of another type (SHUTDOWN): CF_EDECODE too. */
    static const unsigned char shutdown[] = {0, 0, 0, 3, 0x92, 1, 5};
    ck_assert_int_eq(write_full(raw, shutdown, sizeof shutdown), 0);
    ck_assert_int_eq(cf_pipe_recv(p.mine, &v, DEADLINE_S), CF_EDECODE);
    ck_assert_int_eq(cf_pipe_send(p.theirs, (int32_t)8, 0), 0);
    ck_assert_int_eq(cf_pipe_recv(p.mine, &v, DEADLINE_S), 0);
    ck_assert_int_eq(v, 8);
    /* A message cut short by the end of the stream is dropped: end of file. */
    static const unsigned char cut[] = {0, 0, 0, 9, 0x95, 1};
    ck_assert_int_eq(write_full(raw, cut, sizeof cut), 0);
    ck_assert_int_eq(cf_pipe_recv(p.mine, &v, 0), CF_ETIMEDOUT);
    cf_pipe_close(p.theirs); /* its descriptor is `raw` */
    ck_assert_int_eq(cf_pipe_recv(p.mine, &v, DEADLINE_S), CF_EEOF);
    ck_assert_msg(strstr(cf_last_error(), "middle of a message") != NULL, "%s",
                  cf_last_error());
    cf_pipe_close(p.mine);

    /* A frame announcing more than the limit ends the stream for good. */
    new_pipe_fds(&p, fds);
    raw = fd_of_peer(&p, fds, p.mine);
    static const unsigned char huge[] = {0x7f, 0xff, 0xff, 0xff, 0x95};
    ck_assert_int_eq(write_full(raw, huge, sizeof huge), 0);
    ck_assert_int_eq(cf_pipe_recv(p.mine, &v, DEADLINE_S), CF_ETOOBIG);
    ck_assert_int_eq(cf_pipe_poll(p.mine, 0), 0);
    ck_assert_int_eq(cf_pipe_recv(p.mine, &v, 0), CF_ETOOBIG);
    cf_pipe_close(p.mine);
    cf_pipe_close(p.theirs);
}
END_TEST

START_TEST(pipe_invalid_arguments)
{
    cf_pipe_end *a = NULL, *b = NULL;
    ck_assert_int_eq(cf_pipe_new(NULL, &b, true), CF_EINVAL);
    ck_assert_int_eq(cf_pipe_new(&a, NULL, true), CF_EINVAL);
    ck_assert_int_eq(cf_pipe_new(&a, &b, true), 0);
    int v = 0;
    ck_assert_int_eq(cf_pipe_send((cf_pipe_end *)NULL, 1, 0), CF_EINVAL);
    ck_assert_int_eq(cf_pipe_recv((cf_pipe_end *)NULL, &v, 0), CF_EINVAL);
    ck_assert_int_eq(cf_pipe_send(a, 1, NAN), CF_EINVAL);
    ck_assert_int_eq(cf_pipe_recv(a, &v, NAN), CF_EINVAL);
    ck_assert_int_eq(cf_pipe_poll(a, NAN), CF_EINVAL);
    ck_assert_int_eq(cf_pipe_flush(a, NAN), CF_EINVAL);
    ck_assert_int_eq(cf_pipe_recv_value(a, NULL, 0), CF_EINVAL);
    ck_assert_int_eq(cf_pipe_recv_bytes(a, NULL, 0), CF_EINVAL);
    ck_assert_int_eq(cf_pipe_send_value(a, NULL, 0), CF_EINVAL);
    ck_assert_int_eq(cf_pipe_send_bytes(a, NULL, 3, 0), CF_EINVAL);
    cf_pipe_close(a);
    cf_pipe_close(b);
    cf_pipe_close(NULL);
}
END_TEST

static Suite *pipe_suite(void)
{
    Suite *s = suite_create("pipe");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, pipe_every_type_round_trip);
    tcase_add_test(tc, pipe_large_messages);
    tcase_add_test(tc, pipe_too_big_is_refused_whole);
    tcase_add_test(tc, pipe_many_messages_in_order);
    tcase_add_test(tc, pipe_type_mismatch_keeps_the_message);
    tcase_add_test(tc, pipe_eof_after_close_in_both_processes);
    tcase_add_test(tc, pipe_one_way_refuses_the_other_direction);
    tcase_add_test(tc, pipe_poll_with_timeout);
    tcase_add_test(tc, pipe_send_timeout_queues_the_message);
    tcase_add_test(tc, pipe_concurrent_senders_never_interleave);
    tcase_add_test(tc, pipe_relay_between_two_children);
    tcase_add_test(tc, pipe_descriptors_close_on_exec_and_released);
    tcase_add_test(tc, pipe_malformed_and_truncated_streams);
    tcase_add_test(tc, pipe_invalid_arguments);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(pipe_suite());
}
