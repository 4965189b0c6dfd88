/* test_net.c: libcfutures-net's keys, security and remote queues, across
 * real processes on loopback, and its frame checks.
 *
 * Children are forked before the test makes any ZeroMQ object (ZeroMQ does
 * not survive fork) and learn the server's address through a pipe.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include <cfutures.h>
#include <cfutures/net.h>

#include "../lib/net/msg.h"
#include "support.h"

/* Under ThreadSanitizer: libzmq is not instrumented, so its lock-free
 * queues look like races; reports from inside it are suppressed
 * (tests/net_tsan.supp says the same for the scripts). */
__attribute__((visibility("default"))) const char *__tsan_default_suppressions(void);
const char *__tsan_default_suppressions(void)
{
    return "called_from_lib:libzmq.so.5\nrace:libzmq.so.5\n"
           "called_from_lib:libsodium.so.23\nrace:libsodium.so.23\n";
}

/* ---- Helpers ------------------------------------------------------------------------ */

static cf_net_keys keys_of(const char *secret)
{
    cf_net_keys k;
    ck_assert_int_eq(cf_net_keys_from_secret(&k, secret, strlen(secret)), 0);
    return k;
}

static cf_net_options opts_of(const cf_net_keys *k)
{
    return (cf_net_options){.keys = k, .heartbeat = 0.2, .heartbeat_timeout = 10.0,
                            .connect_timeout = 10.0};
}

/* A child forked before any ZeroMQ object: it reads the address from a
 * pipe, runs fn, and exits with fn's status. */
typedef int (*child_fn)(const char *address);

typedef struct child {
    pid_t pid;
    int wr;
} child;

static child spawn(child_fn fn)
{
    int p[2];
    ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(p[1]);
        char addr[256] = "";
        size_t n = 0;
        ssize_t r;
        /* Up to the newline: later children hold this pipe's write end too. */
        while (n < sizeof addr - 1 && (r = read(p[0], addr + n, 1)) > 0 && addr[n] != '\n')
            n++;
        addr[n] = '\0';
        _exit(n == 0 ? 98 : fn(addr));
    }
    close(p[0]);
    return (child){pid, p[1]};
}

static void tell(child c, const char *address)
{
    ck_assert_int_eq(write_full(c.wr, address, strlen(address)), 0);
    ck_assert_int_eq(write_full(c.wr, "\n", 1), 0);
    close(c.wr);
}

static int reap(child c)
{
    int st;
    double deadline = now_s() + DEADLINE_S;
    pid_t r;
    while ((r = waitpid(c.pid, &st, WNOHANG)) == 0)
        ck_assert_msg(keep_polling(deadline), "child %d did not end", (int)c.pid);
    ck_assert_int_eq(r, c.pid);
    ck_assert_msg(WIFEXITED(st), "child %d died (status %#x)", (int)c.pid, st);
    return WEXITSTATUS(st);
}

#define CHILD_EXPECT(cond)                                                         \
    do {                                                                           \
        if (!(cond)) {                                                             \
            fprintf(stderr, "child: %s:%d: expected %s (%s)\n", __FILE__, __LINE__, \
                    #cond, cf_last_error());                                       \
            return 1;                                                              \
        }                                                                          \
    } while (0)

typedef struct point {
    int32_t x, y;
} point;

/* ---- Keys ---------------------------------------------------------------------------- */

START_TEST(net_keys_from_secret)
{
    cf_net_keys a = keys_of("sesame"), b = keys_of("sesame"), c = keys_of("sesame!");
    ck_assert_int_eq(memcmp(&a, &b, sizeof a), 0);
    ck_assert_str_ne(a.server_secret, c.server_secret);
    ck_assert_str_ne(a.client_public, c.client_public);
    ck_assert_str_ne(a.server_public, a.client_public);
    ck_assert_uint_eq(strlen(a.server_public), 40);
    ck_assert_int_eq(cf_net_keys_from_secret(&a, "", 0), CF_EINVAL);
    ck_assert_int_eq(cf_net_keys_from_secret(NULL, "x", 1), CF_EINVAL);
}
END_TEST

START_TEST(net_keys_files)
{
    cf_net_keys k, srv, cli;
    ck_assert_int_eq(cf_net_keys_generate(&k), 0);
    char dir[] = "/tmp/cf-net-keys.XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char sp[64], cp[64], bad[64];
    snprintf(sp, sizeof sp, "%s/server", dir);
    snprintf(cp, sizeof cp, "%s/client", dir);
    snprintf(bad, sizeof bad, "%s/bad", dir);
    ck_assert_int_eq(cf_net_keys_save(&k, sp, CF_NET_KEYS_SERVER), 0);
    ck_assert_int_eq(cf_net_keys_save(&k, cp, CF_NET_KEYS_CLIENT), 0);
    ck_assert_int_eq(cf_net_keys_save(&k, cp, CF_NET_KEYS_CLIENT), -EEXIST);
    ck_assert_int_eq(cf_net_keys_load(&srv, sp), 0);
    ck_assert_int_eq(cf_net_keys_load(&cli, cp), 0);
    ck_assert_str_eq(srv.server_secret, k.server_secret);
    ck_assert_str_eq(srv.client_public, k.client_public);
    ck_assert_str_eq(srv.client_secret, ""); /* the server's file holds no client secret */
    ck_assert_str_eq(cli.client_secret, k.client_secret);
    ck_assert_str_eq(cli.server_secret, "");
    /* Readable by others: refused. */
    ck_assert_int_eq(chmod(cp, 0644), 0);
    ck_assert_int_eq(cf_net_keys_load(&cli, cp), -EPERM);
    /* Malformed. */
    int fd = open(bad, O_WRONLY | O_CREAT | O_EXCL, 0600);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write_full(fd, "server-public = short\n", 22), 0);
    close(fd);
    ck_assert_int_eq(cf_net_keys_load(&cli, bad), CF_EDECODE);
    ck_assert_ptr_nonnull(strstr(cf_last_error(), ":1:"));
    unlink(sp);
    unlink(cp);
    unlink(bad);
    rmdir(dir);
}
END_TEST

/* ---- Queues across processes ----------------------------------------------------------- */

static int echo_child(const char *address)
{
    cf_net_keys k = keys_of("queue test");
    cf_net_options o = opts_of(&k);
    cf_net_queue *in, *out;
    CHILD_EXPECT(cf_net_queue_connect(&in, address, "in", &o) == 0);
    CHILD_EXPECT(cf_net_queue_connect(&out, address, "out", &o) == 0);
    /* Typed gets; a wrong type leaves the item at the front. */
    int64_t i;
    double d;
    CHILD_EXPECT(cf_net_queue_get(in, &d, DEADLINE_S) == CF_ETYPE);
    CHILD_EXPECT(cf_net_queue_get(in, &i, DEADLINE_S) == 0 && i == 1234567890123LL);
    CHILD_EXPECT(cf_net_queue_get(in, &d, DEADLINE_S) == 0 && d == 2.5);
    const char *s;
    CHILD_EXPECT(cf_net_queue_get(in, &s, DEADLINE_S) == 0 && strcmp(s, "hello, net") == 0);
    point p;
    CHILD_EXPECT(cf_net_queue_get(in, &p, DEADLINE_S) == 0 && p.x == 3 && p.y == -4);
    cf_value v;
    CHILD_EXPECT(cf_net_queue_get_value(in, &v, DEADLINE_S) == 0 &&
                 v.type.kind == CF_KIND_BYTES && v.as.bytes.len == 3 &&
                 memcmp(v.as.bytes.data, "a\0b", 3) == 0);
    /* Empty now: a get that does not wait. */
    CHILD_EXPECT(cf_net_queue_get(in, &i, 0) == CF_EEMPTY);
    size_t n;
    CHILD_EXPECT(cf_net_queue_qsize(in, &n) == 0 && n == 0);
    /* Answers, then a get that waits for the parent's last item. */
    CHILD_EXPECT(cf_net_queue_put(out, i * 0 + 1234567890123LL * 2, DEADLINE_S) == 0);
    CHILD_EXPECT(cf_net_queue_put(out, "olleh", DEADLINE_S) == 0);
    CHILD_EXPECT(cf_net_queue_get(in, &i, CF_FOREVER) == 0 && i == 99);
    CHILD_EXPECT(cf_net_queue_put(out, i + 1, DEADLINE_S) == 0);
    /* Joinable: every item got was dealt with. */
    for (int k2 = 0; k2 < 6; k2++) /* six items were got */
        CHILD_EXPECT(cf_net_queue_task_done(in) == 0);
    CHILD_EXPECT(cf_net_queue_task_done(in) == CF_ESTATE);
    CHILD_EXPECT(cf_net_queue_join(in, DEADLINE_S) == 0);
    /* No such queue. */
    cf_net_queue *none;
    CHILD_EXPECT(cf_net_queue_connect(&none, address, "nope", &o) == CF_ENOTFOUND);
    cf_net_queue_free(in);
    cf_net_queue_free(out);
    return 0;
}

START_TEST(net_queue_across_processes)
{
    child c = spawn(echo_child);
    cf_queue *in, *out;
    ck_assert_int_eq(cf_queue_new(&in, &(cf_queue_options){.joinable = true}), 0);
    ck_assert_int_eq(cf_queue_new(&out, NULL), 0);
    cf_net_keys k = keys_of("queue test");
    cf_net_options o = opts_of(&k);
    cf_net_server *srv;
    ck_assert_int_eq(cf_net_server_new(&srv, "tcp://127.0.0.1:*", &o), 0);
    ck_assert_int_eq(cf_net_server_add_queue(srv, "in", in), 0);
    ck_assert_int_eq(cf_net_server_add_queue(srv, "out", out), 0);
    ck_assert_int_eq(cf_net_server_add_queue(srv, "in", out), CF_ESTATE);
    ck_assert_int_eq(cf_net_server_add_queue(srv, "bad name", out), CF_EINVAL);
    ck_assert_int_eq(cf_queue_put(in, (int64_t)1234567890123LL, 0), 0);
    ck_assert_int_eq(cf_queue_put(in, 2.5, 0), 0);
    ck_assert_int_eq(cf_queue_put(in, "hello, net", 0), 0);
    ck_assert_int_eq(cf_queue_put(in, ((point){3, -4}), 0), 0);
    ck_assert_int_eq(cf_queue_put(in, ((cf_bytes){"a\0b", 3}), 0), 0);
    tell(c, cf_net_server_endpoint(srv));
    int64_t i;
    const char *s;
    ck_assert_int_eq(cf_queue_get(out, &i, DEADLINE_S), 0);
    ck_assert_int_eq(i, 2469135780246LL);
    ck_assert_int_eq(cf_queue_get(out, &s, DEADLINE_S), 0);
    ck_assert_str_eq(s, "olleh");
    ck_assert_int_eq(cf_queue_put(in, (int64_t)99, 0), 0);
    ck_assert_int_eq(cf_queue_get(out, &i, DEADLINE_S), 0);
    ck_assert_int_eq(i, 100);
    ck_assert_int_eq(reap(c), 0);
    ck_assert_int_eq(cf_queue_join(in, 0), 0);
    ck_assert_uint_eq(cf_net_server_refused(srv), 0);
    cf_net_server_free(srv);
    cf_queue_free(in);
    cf_queue_free(out);
}
END_TEST

static int closed_child(const char *address)
{
    cf_net_keys k = keys_of("queue test");
    cf_net_options o = opts_of(&k);
    cf_net_queue *q;
    CHILD_EXPECT(cf_net_queue_connect(&q, address, "q", &o) == 0);
    int32_t v;
    CHILD_EXPECT(cf_net_queue_get(q, &v, DEADLINE_S) == 0 && v == 7);
    CHILD_EXPECT(cf_net_queue_get(q, &v, CF_FOREVER) == CF_ECLOSED);
    CHILD_EXPECT(cf_net_queue_put(q, 8, DEADLINE_S) == CF_ECLOSED);
    cf_net_queue_free(q);
    return 0;
}

START_TEST(net_queue_close_wakes_remote_getter)
{
    child c = spawn(closed_child);
    cf_queue *q;
    ck_assert_int_eq(cf_queue_new(&q, NULL), 0);
    cf_net_keys k = keys_of("queue test");
    cf_net_options o = opts_of(&k);
    cf_net_server *srv;
    ck_assert_int_eq(cf_net_server_new(&srv, "tcp://127.0.0.1:*", &o), 0);
    ck_assert_int_eq(cf_net_server_add_queue(srv, "q", q), 0);
    ck_assert_int_eq(cf_queue_put(q, 7, 0), 0);
    tell(c, cf_net_server_endpoint(srv));
    ck_assert(EVENTUALLY(cf_queue_qsize(q) == 0));
    ck_assert_int_eq(cf_queue_close(q), 0);
    ck_assert_int_eq(reap(c), 0);
    cf_net_server_free(srv);
    cf_queue_free(q);
}
END_TEST

/* ---- Who gets in ------------------------------------------------------------------------ */

typedef struct served {
    cf_queue *q;
    cf_net_server *srv;
    cf_net_keys keys;
} served;

static served serve(void)
{
    served s;
    s.keys = keys_of("the right key");
    cf_net_options o = opts_of(&s.keys);
    ck_assert_int_eq(cf_queue_new(&s.q, NULL), 0);
    ck_assert_int_eq(cf_net_server_new(&s.srv, "tcp://127.0.0.1:*", &o), 0);
    ck_assert_int_eq(cf_net_server_add_queue(s.srv, "q", s.q), 0);
    return s;
}

static void unserve(served *s)
{
    cf_net_server_free(s->srv);
    cf_queue_free(s->q);
}

START_TEST(net_wrong_key_refused)
{
    served s = serve();
    cf_net_keys wrong = keys_of("a wrong key");
    cf_net_options o = opts_of(&wrong);
    o.connect_timeout = 2.0; /* it is refused; how long it tries does not matter */
    cf_net_queue *q;
    int rc = cf_net_queue_connect(&q, cf_net_server_endpoint(s.srv), "q", &o);
    ck_assert_msg(rc == -ETIMEDOUT || rc == -EACCES, "connect: %s", cf_err_name(rc));
    ck_assert(EVENTUALLY(cf_net_server_refused(s.srv) >= 1));
    ck_assert_uint_eq(cf_queue_qsize(s.q), 0);
    unserve(&s);
}
END_TEST

START_TEST(net_client_key_not_admitted)
{
    /* Knows the server's public key, but holds another client key: CURVE
     * alone would let it in; the ZAP handler does not. */
    served s = serve();
    cf_net_keys other = keys_of("another deployment");
    memcpy(other.server_public, s.keys.server_public, CF_NET_KEY_LEN);
    cf_net_options o = opts_of(&other);
    cf_net_queue *q;
    ck_assert_int_eq(cf_net_queue_connect(&q, cf_net_server_endpoint(s.srv), "q", &o), -EACCES);
    ck_assert(EVENTUALLY(cf_net_server_refused(s.srv) >= 1));
    unserve(&s);
}
END_TEST

/* Send a header (and body) on a raw ZeroMQ DEALER. */
static void raw_send(void *sock, uint8_t kind, uint64_t id, int64_t arg, const char *name,
                     const void *body, size_t blen, bool has_body)
{
    uint8_t head[CF__NET_HEADER + CF_NET_NAME_MAX];
    size_t hl = cf__net_header(head, kind, id, arg, name);
    ck_assert_int_ge(zmq_send(sock, head, hl, has_body ? ZMQ_SNDMORE : 0), 0);
    if (has_body)
        ck_assert_int_ge(zmq_send(sock, body, blen, 0), 0);
}

START_TEST(net_no_curve_refused)
{
    served s = serve();
    void *ctx = zmq_ctx_new();
    void *sock = zmq_socket(ctx, ZMQ_DEALER);
    int zero = 0;
    zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof zero);
    ck_assert_int_eq(zmq_connect(sock, cf_net_server_endpoint(s.srv)), 0);
    raw_send(sock, CF__NET_Q_QSIZE, 1, 0, "q", NULL, 0, false);
    ck_assert(EVENTUALLY(cf_net_server_refused(s.srv) >= 1));
    char buf[64];
    ck_assert_int_eq(zmq_recv(sock, buf, sizeof buf, ZMQ_DONTWAIT), -1);
    zmq_close(sock);
    zmq_ctx_term(ctx);
    unserve(&s);
}
END_TEST

static int tcp_connect(const char *endpoint)
{
    /* tcp://127.0.0.1:PORT */
    const char *colon = strrchr(endpoint, ':');
    ck_assert_ptr_nonnull(colon);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1))};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

START_TEST(net_plain_tcp_refused)
{
    served s = serve();
    int fd = tcp_connect(cf_net_server_endpoint(s.srv));
    static const char req[] = "GET / HTTP/1.0\r\nHost: x\r\n\r\nqsize q please\r\n";
    ck_assert_int_eq(write_full(fd, req, sizeof req - 1), 0);
    /* The server hangs up: read until end of stream (or a reset). */
    double deadline = now_s() + DEADLINE_S;
    for (;;) {
        struct pollfd p = {fd, POLLIN, 0};
        ck_assert_msg(poll(&p, 1, 100) >= 0, "poll");
        if (p.revents) {
            char buf[256];
            ssize_t r = read(fd, buf, sizeof buf);
            if (r <= 0)
                break;
        }
        ck_assert_msg(keep_polling(deadline), "the server kept a plain TCP client connected");
    }
    close(fd);
    ck_assert_uint_eq(cf_queue_qsize(s.q), 0);
    unserve(&s);
}
END_TEST

/* A relay between a client and the server that keeps every byte it passes. */
typedef struct relay {
    int listen_fd;
    int target_port;
    char seen[1 << 16];
    size_t seen_len;
    _Atomic bool stop;
} relay;

static void *relay_main(void *arg)
{
    relay *r = arg;
    int c = accept4(r->listen_fd, NULL, NULL, SOCK_CLOEXEC);
    if (c < 0)
        return NULL;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)r->target_port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (connect(s, (struct sockaddr *)&a, sizeof a) != 0) {
        close(c);
        return NULL;
    }
    while (!r->stop) {
        struct pollfd p[2] = {{c, POLLIN, 0}, {s, POLLIN, 0}};
        if (poll(p, 2, 50) <= 0)
            continue;
        for (int k = 0; k < 2; k++) {
            if (!p[k].revents)
                continue;
            char buf[4096];
            ssize_t n = read(p[k].fd, buf, sizeof buf);
            if (n <= 0)
                goto out;
            size_t room = sizeof r->seen - r->seen_len;
            size_t keep = (size_t)n < room ? (size_t)n : room;
            memcpy(r->seen + r->seen_len, buf, keep);
            r->seen_len += keep;
            if (write_full(k == 0 ? s : c, buf, (size_t)n) != 0)
                goto out;
        }
    }
out:
    close(c);
    close(s);
    return NULL;
}

START_TEST(net_nothing_readable_on_the_wire)
{
    served s = serve();
    const char *colon = strrchr(cf_net_server_endpoint(s.srv), ':');
    relay *r = calloc(1, sizeof *r);
    r->target_port = atoi(colon + 1);
    r->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    ck_assert_int_eq(bind(r->listen_fd, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(listen(r->listen_fd, 1), 0);
    ck_assert_int_eq(getsockname(r->listen_fd, (struct sockaddr *)&a, &al), 0);
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, relay_main, r), 0);
    char via[64];
    snprintf(via, sizeof via, "tcp://127.0.0.1:%d", ntohs(a.sin_port));
    cf_net_options o = opts_of(&s.keys);
    cf_net_queue *q;
    ck_assert_int_eq(cf_net_queue_connect(&q, via, "q", &o), 0);
    static const char marker[] = "PLAINTEXT-MARKER-0123456789";
    ck_assert_int_eq(cf_net_queue_put(q, marker, DEADLINE_S), 0);
    const char *back;
    ck_assert_int_eq(cf_net_queue_get(q, &back, DEADLINE_S), 0);
    ck_assert_str_eq(back, marker);
    cf_net_queue_free(q);
    r->stop = true;
    pthread_join(t, NULL);
    ck_assert_uint_gt(r->seen_len, 100);
    ck_assert_ptr_null(memmem(r->seen, r->seen_len, "MARKER", 6));
    ck_assert_ptr_null(memmem(r->seen, r->seen_len, "CFN", 3));
    close(r->listen_fd);
    free(r);
    unserve(&s);
}
END_TEST

/* ---- Bad frames from an admitted client ----------------------------------------------------- */

static int64_t raw_reply(void *sock, uint64_t want_id)
{
    zmq_pollitem_t it = {sock, 0, ZMQ_POLLIN, 0};
    ck_assert_int_eq(zmq_poll(&it, 1, (long)(DEADLINE_S * 1000)), 1);
    uint8_t head[256];
    int n = zmq_recv(sock, head, sizeof head, 0);
    ck_assert_int_ge(n, (int)CF__NET_HEADER);
    int more = 0;
    size_t ml = sizeof more;
    zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &ml);
    while (more) {
        char body[4096];
        zmq_recv(sock, body, sizeof body, 0);
        zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &ml);
    }
    cf__net_msg m;
    bool known;
    ck_assert_int_eq(cf__net_parse(&m, head, (size_t)n, NULL, 0, false, &known), 0);
    ck_assert_uint_eq(m.kind, CF__NET_REPLY);
    ck_assert_uint_eq(m.id, want_id);
    return m.arg;
}

START_TEST(net_bad_frames_refused)
{
    served s = serve();
    void *ctx = zmq_ctx_new();
    void *sock = zmq_socket(ctx, ZMQ_DEALER);
    int zero = 0;
    zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, s.keys.server_public, 40);
    zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, s.keys.client_public, 40);
    zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, s.keys.client_secret, 40);
    ck_assert_int_eq(zmq_connect(sock, cf_net_server_endpoint(s.srv)), 0);
    uint64_t rejected = 0;
    /* Not a header at all: dropped. */
    ck_assert_int_eq(zmq_send(sock, "hello", 5, 0), 5);
    rejected++;
    ck_assert(EVENTUALLY(cf_net_server_rejected(s.srv) == rejected));
    /* A PUT whose body is not a wire VALUE: CF_EDECODE. */
    raw_send(sock, CF__NET_Q_PUT, 1, 0, "q", "\x93\x01\x06\xc0", 4, true);
    ck_assert_int_eq(raw_reply(sock, 1), CF_EDECODE);
    ck_assert_uint_eq(cf_net_server_rejected(s.srv), ++rejected);
    /* A PUT without a body. */
    raw_send(sock, CF__NET_Q_PUT, 2, 0, "q", NULL, 0, false);
    ck_assert_int_eq(raw_reply(sock, 2), CF_EDECODE);
    /* A GET asking for a raw pointer, and for an int32 of 8 bytes. */
    uint8_t t[8];
    cf__net_put_type(t, (cf_type){CF_KIND_PTR, sizeof(void *)});
    raw_send(sock, CF__NET_Q_GET, 3, 0, "q", t, 8, true);
    ck_assert_int_eq(raw_reply(sock, 3), CF_EDECODE);
    cf__net_put_type(t, (cf_type){CF_KIND_I32, 8});
    raw_send(sock, CF__NET_Q_GET, 4, 0, "q", t, 8, true);
    ck_assert_int_eq(raw_reply(sock, 4), CF_EDECODE);
    /* A wait out of range; a worker's message to a queue server. */
    raw_send(sock, CF__NET_Q_JOIN, 5, (int64_t)1 << 40, "q", NULL, 0, false);
    ck_assert_int_eq(raw_reply(sock, 5), CF_EDECODE);
    raw_send(sock, CF__NET_W_ANSWER, 6, 0, NULL, "x", 1, true);
    ck_assert_int_eq(raw_reply(sock, 6), CF_EDECODE);
    /* Four parts. */
    uint8_t head[CF__NET_HEADER + CF_NET_NAME_MAX];
    size_t hl = cf__net_header(head, CF__NET_Q_QSIZE, 7, 0, "q");
    zmq_send(sock, head, hl, ZMQ_SNDMORE);
    zmq_send(sock, "a", 1, ZMQ_SNDMORE);
    zmq_send(sock, "b", 1, 0);
    ck_assert_int_eq(raw_reply(sock, 7), CF_EDECODE);
    /* After all that, a good request is served. */
    raw_send(sock, CF__NET_Q_QSIZE, 8, 0, "q", NULL, 0, false);
    ck_assert_int_eq(raw_reply(sock, 8), 0);
    ck_assert_uint_eq(cf_queue_qsize(s.q), 0);
    zmq_close(sock);
    zmq_ctx_term(ctx);
    unserve(&s);
}
END_TEST

START_TEST(net_parse_is_strict)
{
    uint8_t h[CF__NET_HEADER + CF_NET_NAME_MAX];
    cf__net_msg m;
    bool known;
    size_t n = cf__net_header(h, CF__NET_Q_QSIZE, 1, 0, "q");
    ck_assert_int_eq(cf__net_parse(&m, h, n, NULL, 0, false, &known), 0);
    ck_assert_str_eq(m.name, "q");
    ck_assert_int_eq(cf__net_parse(&m, h, n - 1, NULL, 0, false, &known), CF_EDECODE);
    ck_assert_int_eq(cf__net_parse(&m, h, n, "", 0, true, &known), CF_EDECODE);
    h[3] = 2;
    ck_assert_int_eq(cf__net_parse(&m, h, n, NULL, 0, false, &known), CF_EDECODE);
    h[3] = CF__NET_VERSION;
    h[6] = 1;
    ck_assert_int_eq(cf__net_parse(&m, h, n, NULL, 0, false, &known), CF_EDECODE);
    n = cf__net_header(h, CF__NET_Q_QSIZE, 0, 0, "q");
    ck_assert_int_eq(cf__net_parse(&m, h, n, NULL, 0, false, &known), CF_EDECODE);
    n = cf__net_header(h, CF__NET_W_HEARTBEAT, 0, 0, NULL);
    ck_assert_int_eq(cf__net_parse(&m, h, n, NULL, 0, false, &known), 0);
    n = cf__net_header(h, CF__NET_W_HELLO, 0, 0, NULL);
    ck_assert_int_eq(cf__net_parse(&m, h, n, NULL, 0, false, &known), CF_EDECODE);
    n = cf__net_header(h, 99, 1, 0, NULL);
    ck_assert_int_eq(cf__net_parse(&m, h, n, NULL, 0, false, &known), CF_EDECODE);
    n = cf__net_header(h, CF__NET_Q_QSIZE, 1, 0, "a\x01");
    ck_assert_int_eq(cf__net_parse(&m, h, n, NULL, 0, false, &known), CF_EDECODE);
}
END_TEST

START_TEST(net_bad_arguments)
{
    cf_net_server *srv;
    cf_net_keys k = keys_of("args");
    cf_net_options o = opts_of(&k);
    ck_assert_int_eq(cf_net_server_new(&srv, "tcp://127.0.0.1:*", NULL), CF_EINVAL);
    ck_assert_int_eq(cf_net_server_new(NULL, "tcp://127.0.0.1:*", &o), CF_EINVAL);
    o.heartbeat = 2.0;
    o.heartbeat_timeout = 1.0;
    ck_assert_int_eq(cf_net_server_new(&srv, "tcp://127.0.0.1:*", &o), CF_EINVAL);
    o = opts_of(&k);
    k.server_secret[0] = '\0';
    ck_assert_int_eq(cf_net_server_new(&srv, "tcp://127.0.0.1:*", &o), CF_EINVAL);
    k = keys_of("args");
    ck_assert_int_lt(cf_net_server_new(&srv, "nonsense://", &o), 0);
    cf_net_queue *q;
    ck_assert_int_eq(cf_net_queue_connect(&q, "tcp://127.0.0.1:1", "", &o), CF_EINVAL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("net");
    TCase *tc = tcase_create("net");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, net_keys_from_secret);
    tcase_add_test(tc, net_keys_files);
    tcase_add_test(tc, net_queue_across_processes);
    tcase_add_test(tc, net_queue_close_wakes_remote_getter);
    tcase_add_test(tc, net_wrong_key_refused);
    tcase_add_test(tc, net_client_key_not_admitted);
    tcase_add_test(tc, net_no_curve_refused);
    tcase_add_test(tc, net_plain_tcp_refused);
    tcase_add_test(tc, net_nothing_readable_on_the_wire);
    tcase_add_test(tc, net_bad_frames_refused);
    tcase_add_test(tc, net_parse_is_strict);
    tcase_add_test(tc, net_bad_arguments);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
