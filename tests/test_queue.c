/* test_queue.c: Queue and JoinableQueue across real process boundaries:
 * FIFO order (through a ring small enough to wrap and block), many
 * producers and consumers whose counts and checksums must add up exactly,
 * every value type there and back (typed and dynamic), a wrong type leaving
 * the item queued, non-blocking and timed calls, the capacity and the ring
 * bounding what is held, items too big for the ring and items of megabytes,
 * signals that do not cut a wait short, closing (with blocked putters and
 * getters in other processes), task_done/join across processes, threads of
 * one process, processes killed while holding the queue's lock mid-get and
 * mid-put, and what a queue leaves behind once freed.
 *
 * Children are forked (tests/children.h), stay single-threaded and end with
 * _exit; a child reports a failed expectation through its exit status. To
 * stop a child while it holds the queue's lock, at the worst moment, the
 * child sets the ring's test hook (ring.h), which announces it on a pipe and
 * waits there; the test kills it once it has read the announcement.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cfutures.h>

#include "children.h"
#include "ring.h"
#include "support.h"

/* ---- Helpers ------------------------------------------------------------------------- */

/* In a child: a failed expectation ends the child with status 3. */
#define CHILD_EXPECT(cond)                                                                  \
    do {                                                                                    \
        if (!(cond)) {                                                                      \
            fprintf(stderr, "child %d: %s:%d: expected %s (last error: %s)\n", (int)getpid(), \
                    __FILE__, __LINE__, #cond, cf_last_error());                            \
            _exit(3);                                                                       \
        }                                                                                   \
    } while (0)

static cf_queue *new_queue(const cf_queue_options *opts)
{
    cf_queue *q = NULL;
    int rc = cf_queue_new(&q, opts);
    ck_assert_msg(rc == 0, "cf_queue_new: %s (%s)", cf_err_name(rc), cf_last_error());
    return q;
}

/* Zeroed memory shared with the children forked after it. */
static void *shared(size_t size)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ck_assert_ptr_ne(p, MAP_FAILED);
    return p;
}

/* Waits until process `pid` sleeps (blocked in a system call). */
static void wait_until_asleep(pid_t pid)
{
    double deadline = now_s() + DEADLINE_S;
    char state;
    pid_t ppid;
    while (!(proc_stat(pid, &state, &ppid) && state == 'S'))
        ck_assert_msg(keep_polling(deadline), "process %d never slept", (int)pid);
}

static void expect_rc(int rc, int want)
{
    ck_assert_msg(rc == want, "got %s, expected %s (%s)", cf_err_name(rc), cf_err_name(want),
                  cf_last_error());
}

/* ---- FIFO, and many producers and consumers ------------------------------------------ */

enum { FIFO_ITEMS = 3000 };

static int produce_in_order(void *arg)
{
    cf_queue *q = arg;
    for (int64_t i = 0; i < FIFO_ITEMS; i++)
        CHILD_EXPECT(cf_queue_put(q, i, CF_FOREVER) == 0);
    return 0;
}

/* One producer, one consumer, through a ring that holds a few items only:
 * records wrap around its end, and both sides block on each other. */
START_TEST(queue_fifo_across_processes)
{
    cf_queue *q = new_queue(&(cf_queue_options){.ring_bytes = 100});
    pid_t child = fork_child(produce_in_order, q);
    for (int64_t i = 0; i < FIFO_ITEMS; i++) {
        int64_t v = -1;
        expect_rc(cf_queue_get(q, &v, DEADLINE_S), 0);
        ck_assert_int_eq(v, i);
    }
    expect_exit(child, 0);
    ck_assert(cf_queue_empty(q));
    expect_rc(cf_queue_get(q, &(int64_t){0}, 0), CF_EEMPTY);
    cf_queue_free(q);
}
END_TEST

enum { PRODUCERS = 3, CONSUMERS = 3, PER_PRODUCER = 2000 };

typedef struct tally {
    uint64_t count, sum, mixed; /* items, sum of values, sum of mix(value) */
    uint64_t bad_order;         /* items that came before an older one of their producer */
} tally;

typedef struct mpmc {
    cf_queue *q;
    int producer;
    tally *tallies; /* shared: one per consumer */
    int consumer;
} mpmc;

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdu;
    x ^= x >> 33;
    return x;
}

static uint64_t item_of(int producer, int seq)
{
    return (uint64_t)producer << 32 | (uint32_t)seq;
}

static int mpmc_produce(void *arg)
{
    const mpmc *m = arg;
    for (int i = 0; i < PER_PRODUCER; i++)
        CHILD_EXPECT(cf_queue_put(m->q, item_of(m->producer, i), CF_FOREVER) == 0);
    return 0;
}

static int mpmc_consume(void *arg)
{
    const mpmc *m = arg;
    tally *t = &m->tallies[m->consumer];
    int64_t last[PRODUCERS];
    for (int p = 0; p < PRODUCERS; p++)
        last[p] = -1;
    for (;;) {
        uint64_t v;
        int rc = cf_queue_get(m->q, &v, CF_FOREVER);
        if (rc == CF_ECLOSED)
            return 0;
        CHILD_EXPECT(rc == 0);
        int p = (int)(v >> 32);
        int64_t seq = (int64_t)(v & 0xffffffffu);
        CHILD_EXPECT(p >= 0 && p < PRODUCERS && seq < PER_PRODUCER);
        /* One queue is FIFO: any consumer sees a producer's items in order. */
        t->bad_order += seq <= last[p];
        last[p] = seq;
        t->count++;
        t->sum += v;
        t->mixed += mix(v);
    }
}

/* Every item is got exactly once: counts, sums and sums of a mixing
 * function of the items add up to what was put. */
START_TEST(queue_many_producers_and_consumers)
{
    cf_queue *q = new_queue(&(cf_queue_options){.capacity = 16});
    tally *tallies = shared(CONSUMERS * sizeof(tally));
    pid_t consumers[CONSUMERS], producers[PRODUCERS];
    for (int c = 0; c < CONSUMERS; c++)
        consumers[c] = fork_child(mpmc_consume, &(mpmc){.q = q, .tallies = tallies, .consumer = c});
    for (int p = 0; p < PRODUCERS; p++)
        producers[p] = fork_child(mpmc_produce, &(mpmc){.q = q, .producer = p});
    for (int p = 0; p < PRODUCERS; p++)
        expect_exit(producers[p], 0);
    expect_rc(cf_queue_close(q), 0);
    for (int c = 0; c < CONSUMERS; c++)
        expect_exit(consumers[c], 0);

    uint64_t want_sum = 0, want_mixed = 0;
    for (int p = 0; p < PRODUCERS; p++)
        for (int i = 0; i < PER_PRODUCER; i++) {
            want_sum += item_of(p, i);
            want_mixed += mix(item_of(p, i));
        }
    tally total = {0};
    for (int c = 0; c < CONSUMERS; c++) {
        total.count += tallies[c].count;
        total.sum += tallies[c].sum;
        total.mixed += tallies[c].mixed;
        total.bad_order += tallies[c].bad_order;
    }
    ck_assert_uint_eq(total.count, PRODUCERS * PER_PRODUCER);
    ck_assert_uint_eq(total.sum, want_sum);
    ck_assert_uint_eq(total.mixed, want_mixed);
    ck_assert_uint_eq(total.bad_order, 0);
    ck_assert_uint_eq(cf_queue_qsize(q), 0);
    munmap(tallies, CONSUMERS * sizeof(tally));
    cf_queue_free(q);
}
END_TEST

/* ---- Every value type ---------------------------------------------------------------- */

typedef struct point {
    int32_t x;
    double y;
    char tag[6];
} point;

enum { LONG_STRING = 200000, BLOB = 1000 };

static char *long_string(void)
{
    char *s = malloc(LONG_STRING + 1);
    for (size_t i = 0; i < LONG_STRING; i++)
        s[i] = (char)('a' + i % 26);
    s[LONG_STRING] = '\0';
    return s;
}

static void fill_blob(uint8_t *b)
{
    for (size_t i = 0; i < BLOB; i++)
        b[i] = (uint8_t)(i * 7); /* zeros included */
}

static point a_point(void)
{
    point p;
    memset(&p, 0, sizeof p); /* the padding travels too */
    p.x = -42;
    p.y = 2.5;
    memcpy(p.tag, "queue", 6);
    return p;
}

/* Puts one of every type, in the order the getters below expect. */
static void put_every_type(cf_queue *q)
{
    uint8_t blob[BLOB];
    fill_blob(blob);
    char *lng = long_string();
    CHILD_EXPECT(cf_queue_put(q, (bool)true, 0) == 0);
    CHILD_EXPECT(cf_queue_put(q, (int8_t)INT8_MIN, 0) == 0);
    CHILD_EXPECT(cf_queue_put(q, (uint8_t)UINT8_MAX, 0) == 0);
    CHILD_EXPECT(cf_queue_put(q, (int16_t)INT16_MIN, 0) == 0);
    CHILD_EXPECT(cf_queue_put(q, (uint16_t)UINT16_MAX, 0) == 0);
    CHILD_EXPECT(cf_queue_put(q, (int32_t)INT32_MIN, 0) == 0);
    CHILD_EXPECT(cf_queue_put(q, (uint32_t)UINT32_MAX, 0) == 0);
    CHILD_EXPECT(cf_queue_put(q, (int64_t)INT64_MIN, 0) == 0);
    CHILD_EXPECT(cf_queue_put(q, (uint64_t)UINT64_MAX, 0) == 0);
    CHILD_EXPECT(cf_queue_put(q, 1.5f, 0) == 0);
    CHILD_EXPECT(cf_queue_put(q, -0.1, 0) == 0);
    CHILD_EXPECT(cf_queue_put(q, (double)NAN, 0) == 0);
    CHILD_EXPECT(cf_queue_put(q, "h\xc3\xa9llo", 0) == 0);
    CHILD_EXPECT(cf_queue_put(q, "", 0) == 0);
    CHILD_EXPECT(cf_queue_put(q, (const char *)NULL, 0) == 0);
    CHILD_EXPECT(cf_queue_put(q, lng, 0) == 0);
    CHILD_EXPECT(cf_queue_put(q, ((cf_bytes){blob, BLOB}), 0) == 0);
    CHILD_EXPECT(cf_queue_put(q, ((cf_bytes){"", 0}), 0) == 0);
    CHILD_EXPECT(cf_queue_put(q, a_point(), 0) == 0);
    cf_value nothing = cf_value_void();
    CHILD_EXPECT(cf_queue_put_value(q, &nothing, 0) == 0);
    free(lng);
}

static int put_every_type_twice(void *arg)
{
    put_every_type(arg);
    put_every_type(arg);
    return 0;
}

#define GET_EQ(q, T, want)                                                         \
    do {                                                                           \
        T got_;                                                                    \
        expect_rc(cf_queue_get(q, &got_, 0), 0);                                   \
        ck_assert(got_ == (want));                                                 \
    } while (0)

static void get_every_type_typed(cf_queue *q)
{
    GET_EQ(q, bool, true);
    GET_EQ(q, int8_t, INT8_MIN);
    GET_EQ(q, uint8_t, UINT8_MAX);
    GET_EQ(q, int16_t, INT16_MIN);
    GET_EQ(q, uint16_t, UINT16_MAX);
    GET_EQ(q, int32_t, INT32_MIN);
    GET_EQ(q, uint32_t, UINT32_MAX);
    GET_EQ(q, int64_t, INT64_MIN);
    GET_EQ(q, uint64_t, UINT64_MAX);
    GET_EQ(q, float, 1.5f);
    GET_EQ(q, double, -0.1);
    double d;
    expect_rc(cf_queue_get(q, &d, 0), 0);
    ck_assert(isnan(d));

    const char *s;
    expect_rc(cf_queue_get(q, &s, 0), 0);
    ck_assert_str_eq(s, "h\xc3\xa9llo");
    expect_rc(cf_queue_get(q, &s, 0), 0);
    ck_assert_str_eq(s, "");
    expect_rc(cf_queue_get(q, &s, 0), 0);
    ck_assert_ptr_null(s);
    char *lng = long_string();
    expect_rc(cf_queue_get(q, &s, 0), 0);
    ck_assert_str_eq(s, lng);
    free(lng);

    uint8_t blob[BLOB];
    fill_blob(blob);
    cf_bytes b;
    expect_rc(cf_queue_get(q, &b, 0), 0);
    ck_assert_uint_eq(b.len, BLOB);
    ck_assert_mem_eq(b.data, blob, BLOB);
    expect_rc(cf_queue_get(q, &b, 0), 0);
    ck_assert_uint_eq(b.len, 0);

    point want = a_point(), p;
    expect_rc(cf_queue_get(q, &p, 0), 0);
    ck_assert_mem_eq(&p, &want, sizeof p);

    cf_value v;
    expect_rc(cf_queue_get_value(q, &v, 0), 0);
    ck_assert_uint_eq(v.type.kind, CF_KIND_VOID);
}

static void expect_value(const cf_value *v, cf_type type)
{
    ck_assert_msg(cf_type_equal(v->type, type), "got a %s of %u bytes, expected a %s of %u",
                  cf_kind_name(v->type.kind), v->type.size, cf_kind_name(type.kind), type.size);
}

static cf_value get_value(cf_queue *q)
{
    cf_value v;
    expect_rc(cf_queue_get_value(q, &v, 0), 0);
    return v;
}

static void get_every_type_dynamic(cf_queue *q)
{
    cf_value v = get_value(q);
    expect_value(&v, CF_TYPE_OF(bool));
    ck_assert(v.as.b);
    v = get_value(q);
    expect_value(&v, CF_TYPE_OF(int8_t));
    ck_assert_int_eq(v.as.i, INT8_MIN);
    v = get_value(q);
    expect_value(&v, CF_TYPE_OF(uint8_t));
    ck_assert_uint_eq(v.as.u, UINT8_MAX);
    v = get_value(q);
    expect_value(&v, CF_TYPE_OF(int16_t));
    ck_assert_int_eq(v.as.i, INT16_MIN);
    v = get_value(q);
    expect_value(&v, CF_TYPE_OF(uint16_t));
    ck_assert_uint_eq(v.as.u, UINT16_MAX);
    v = get_value(q);
    expect_value(&v, CF_TYPE_OF(int32_t));
    ck_assert_int_eq(v.as.i, INT32_MIN);
    v = get_value(q);
    expect_value(&v, CF_TYPE_OF(uint32_t));
    ck_assert_uint_eq(v.as.u, UINT32_MAX);
    v = get_value(q);
    expect_value(&v, CF_TYPE_OF(int64_t));
    ck_assert_int_eq(v.as.i, INT64_MIN);
    v = get_value(q);
    expect_value(&v, CF_TYPE_OF(uint64_t));
    ck_assert_uint_eq(v.as.u, UINT64_MAX);
    v = get_value(q);
    expect_value(&v, CF_TYPE_OF(float));
    ck_assert(v.as.f == 1.5);
    v = get_value(q);
    expect_value(&v, CF_TYPE_OF(double));
    ck_assert(v.as.f == -0.1);
    v = get_value(q);
    expect_value(&v, CF_TYPE_OF(double));
    ck_assert(isnan(v.as.f));
    v = get_value(q);
    expect_value(&v, CF_TYPE_OF(const char *));
    ck_assert_str_eq(v.as.str, "h\xc3\xa9llo");
    v = get_value(q);
    ck_assert_str_eq(v.as.str, "");
    v = get_value(q);
    expect_value(&v, CF_TYPE_OF(const char *));
    ck_assert_ptr_null(v.as.str);
    v = get_value(q);
    ck_assert_uint_eq(strlen(v.as.str), LONG_STRING);
    uint8_t blob[BLOB];
    fill_blob(blob);
    v = get_value(q);
    expect_value(&v, CF_TYPE_OF(cf_bytes));
    ck_assert_uint_eq(v.as.bytes.len, BLOB);
    ck_assert_mem_eq(v.as.bytes.data, blob, BLOB);
    v = get_value(q);
    ck_assert_uint_eq(v.as.bytes.len, 0);
    point want = a_point();
    v = get_value(q);
    expect_value(&v, CF_TYPE_OF(point));
    ck_assert_mem_eq(v.as.data, &want, sizeof want);
    v = get_value(q);
    expect_value(&v, CF_TYPE_OF(void));
}

START_TEST(queue_every_type_round_trip)
{
    cf_queue *q = new_queue(NULL);
    expect_exit(fork_child(put_every_type_twice, q), 0);
    ck_assert_uint_eq(cf_queue_qsize(q), 40);
    get_every_type_typed(q);
    get_every_type_dynamic(q);
    ck_assert(cf_queue_empty(q));
    cf_queue_free(q);
}
END_TEST

/* A dynamic value goes in with its own type and comes out with it. */
START_TEST(queue_put_value_round_trip)
{
    cf_queue *q = new_queue(NULL);
    point pt = a_point();
    cf_value in[] = {cf_value_i16(-7), cf_value_u64(UINT64_MAX), cf_value_f32(0.25f),
                     cf_value_str("dynamic"), cf_value_bytes("\0\1\2", 3),
                     cf_value_struct(&pt, sizeof pt)};
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++)
        expect_rc(cf_queue_put_value(q, &in[i], 0), 0);
    int16_t i16;
    expect_rc(cf_queue_get(q, &i16, 0), 0);
    ck_assert_int_eq(i16, -7);
    uint64_t u64;
    expect_rc(cf_queue_get(q, &u64, 0), 0);
    ck_assert_uint_eq(u64, UINT64_MAX);
    float f;
    expect_rc(cf_queue_get(q, &f, 0), 0);
    ck_assert(f == 0.25f);
    const char *s;
    expect_rc(cf_queue_get(q, &s, 0), 0);
    ck_assert_str_eq(s, "dynamic");
    cf_bytes b;
    expect_rc(cf_queue_get(q, &b, 0), 0);
    ck_assert_uint_eq(b.len, 3);
    ck_assert_mem_eq(b.data, "\0\1\2", 3);
    point p;
    expect_rc(cf_queue_get(q, &p, 0), 0);
    ck_assert_mem_eq(&p, &pt, sizeof p);
    cf_queue_free(q);
}
END_TEST

/* A getter asking for another type is refused and the item stays at the
 * front; a NULL out drops the front item whatever its type. */
START_TEST(queue_wrong_type_keeps_item)
{
    cf_queue *q = new_queue(NULL);
    expect_rc(cf_queue_put(q, (int32_t)7, 0), 0);
    expect_rc(cf_queue_put(q, "second", 0), 0);
    double d = 1.0;
    expect_rc(cf_queue_get(q, &d, 0), CF_ETYPE);
    ck_assert(d == 1.0);
    ck_assert_ptr_nonnull(strstr(cf_last_error(), "int32"));
    ck_assert_ptr_nonnull(strstr(cf_last_error(), "double"));
    int64_t i64;
    expect_rc(cf_queue_get(q, &i64, 0), CF_ETYPE);
    ck_assert_uint_eq(cf_queue_qsize(q), 2);
    int32_t i32;
    expect_rc(cf_queue_get(q, &i32, 0), 0);
    ck_assert_int_eq(i32, 7);
    expect_rc(cf_queue_get(q, NULL, 0), 0); /* drops "second" */
    ck_assert(cf_queue_empty(q));
    cf_queue_free(q);
}
END_TEST

/* ---- Waiting, capacity, size --------------------------------------------------------- */

START_TEST(queue_nonblocking_and_timed)
{
    cf_queue *q = new_queue(&(cf_queue_options){.capacity = 2});
    int32_t v;
    expect_rc(cf_queue_get(q, &v, 0), CF_EEMPTY);
    expect_rc(cf_queue_get(q, &v, 0.05), CF_EEMPTY);
    expect_rc(cf_queue_put(q, (int32_t)1, 0), 0);
    expect_rc(cf_queue_put(q, (int32_t)2, 0.05), 0);
    ck_assert(cf_queue_full(q));
    expect_rc(cf_queue_put(q, (int32_t)3, 0), CF_EFULL);
    expect_rc(cf_queue_put(q, (int32_t)3, 0.05), CF_EFULL);
    ck_assert_uint_eq(cf_queue_qsize(q), 2);
    expect_rc(cf_queue_get(q, &v, 0.05), 0);
    ck_assert_int_eq(v, 1);
    ck_assert(!cf_queue_full(q));
    expect_rc(cf_queue_get(q, &v, 0), 0);
    ck_assert_int_eq(v, 2);
    expect_rc(cf_queue_put(q, (int32_t)1, NAN), CF_EINVAL);
    expect_rc(cf_queue_get(q, &v, NAN), CF_EINVAL);
    cf_queue_free(q);
}
END_TEST

static int get_one_and_exit_with_it(void *arg)
{
    int32_t v;
    CHILD_EXPECT(cf_queue_get((cf_queue *)arg, &v, CF_FOREVER) == 0);
    return v;
}

/* A getter asleep in another process wakes when an item arrives. */
START_TEST(queue_blocked_getter_wakes)
{
    cf_queue *q = new_queue(NULL);
    pid_t child = fork_child(get_one_and_exit_with_it, q);
    wait_until_asleep(child);
    expect_rc(cf_queue_put(q, (int32_t)42, 0), 0);
    expect_exit(child, 42);
    cf_queue_free(q);
}
END_TEST

static _Atomic int *signals_seen;

static void count_signal(int sig)
{
    (void)sig;
    atomic_fetch_add(signals_seen, 1);
}

static int get_through_signals(void *arg)
{
    struct sigaction sa = {.sa_handler = count_signal}; /* no SA_RESTART */
    sigaction(SIGUSR1, &sa, NULL);
    return get_one_and_exit_with_it(arg);
}

/* Signals handled by a getter while it waits do not end its wait. */
START_TEST(queue_signals_do_not_interrupt_get)
{
    cf_queue *q = new_queue(NULL);
    signals_seen = shared(sizeof *signals_seen);
    pid_t child = fork_child(get_through_signals, q);
    for (int i = 1; i <= 5; i++) {
        wait_until_asleep(child);
        ck_assert_int_eq(kill(child, SIGUSR1), 0);
        ck_assert(EVENTUALLY(atomic_load(signals_seen) == i));
    }
    expect_rc(cf_queue_put(q, (int32_t)7, 0), 0);
    expect_exit(child, 7);
    munmap(signals_seen, sizeof *signals_seen);
    cf_queue_free(q);
}
END_TEST

typedef struct counted_producer {
    cf_queue *q;
    _Atomic int *puts_done;
    int items;
} counted_producer;

static int produce_counted(void *arg)
{
    const counted_producer *c = arg;
    for (int32_t i = 0; i < c->items; i++) {
        CHILD_EXPECT(cf_queue_put(c->q, i, CF_FOREVER) == 0);
        atomic_fetch_add(c->puts_done, 1);
    }
    return 0;
}

/* A producer in another process stops at the capacity until items leave. */
START_TEST(queue_capacity_bound)
{
    cf_queue *q = new_queue(&(cf_queue_options){.capacity = 3});
    _Atomic int *puts_done = shared(sizeof *puts_done);
    pid_t child = fork_child(produce_counted, &(counted_producer){q, puts_done, 20});
    ck_assert(EVENTUALLY(atomic_load(puts_done) == 3));
    wait_until_asleep(child); /* blocked on the fourth */
    ck_assert_int_eq(atomic_load(puts_done), 3);
    ck_assert_uint_eq(cf_queue_qsize(q), 3);
    ck_assert(cf_queue_full(q));
    for (int32_t i = 0; i < 20; i++) {
        int32_t v;
        ck_assert_uint_le(cf_queue_qsize(q), 3);
        expect_rc(cf_queue_get(q, &v, DEADLINE_S), 0);
        ck_assert_int_eq(v, i);
    }
    expect_exit(child, 0);
    munmap(puts_done, sizeof *puts_done);
    cf_queue_free(q);
}
END_TEST

/* Without a capacity, the ring's bytes bound what the queue holds. */
START_TEST(queue_ring_bound)
{
    cf_queue *q = new_queue(&(cf_queue_options){.ring_bytes = 256});
    uint8_t blob[100] = {1};
    expect_rc(cf_queue_put(q, ((cf_bytes){blob, sizeof blob}), 0), 0);
    expect_rc(cf_queue_put(q, ((cf_bytes){blob, sizeof blob}), 0), 0);
    expect_rc(cf_queue_put(q, ((cf_bytes){blob, sizeof blob}), 0), CF_EFULL);
    ck_assert(!cf_queue_full(q)); /* no capacity: never "full", as in Python */
    expect_rc(cf_queue_put(q, (int32_t)1, 0), 0); /* a small one still fits */
    ck_assert_uint_eq(cf_queue_qsize(q), 3);
    expect_rc(cf_queue_get(q, NULL, 0), 0);
    expect_rc(cf_queue_put(q, ((cf_bytes){blob, sizeof blob}), 0), 0);
    cf_queue_free(q);
}
END_TEST

/* An item that could not fit even in the empty ring is refused at once; the
 * largest one that fits does, alone. */
START_TEST(queue_item_larger_than_ring)
{
    cf_queue *q = new_queue(&(cf_queue_options){.ring_bytes = 256});
    uint8_t blob[512];
    for (size_t i = 0; i < sizeof blob; i++)
        blob[i] = (uint8_t)i;
    expect_rc(cf_queue_put(q, ((cf_bytes){blob, sizeof blob}), CF_FOREVER), CF_ETOOBIG);
    ck_assert_ptr_nonnull(strstr(cf_last_error(), "256"));
    ck_assert(cf_queue_empty(q));
    size_t fits = 0;
    for (size_t len = 200; len < sizeof blob; len++) {
        int rc = cf_queue_put(q, ((cf_bytes){blob, len}), 0);
        if (rc == CF_ETOOBIG)
            break;
        expect_rc(rc, 0);
        fits = len;
        cf_bytes b;
        expect_rc(cf_queue_get(q, &b, 0), 0);
        ck_assert_uint_eq(b.len, len);
        ck_assert_mem_eq(b.data, blob, len);
    }
    ck_assert_uint_ge(fits, 200);
    ck_assert_uint_lt(fits, 256);
    /* The largest one takes the whole ring: nothing else fits beside it. */
    expect_rc(cf_queue_put(q, ((cf_bytes){blob, fits}), 0), 0);
    expect_rc(cf_queue_put(q, (bool)true, 0), CF_EFULL);
    cf_queue_free(q);
}
END_TEST

enum { BIG = 3 << 20 };

static int put_big(void *arg)
{
    uint8_t *big = malloc(BIG);
    CHILD_EXPECT(big != NULL);
    for (size_t i = 0; i < BIG; i++)
        big[i] = (uint8_t)(i * 31 + (i >> 16));
    CHILD_EXPECT(cf_queue_put((cf_queue *)arg, ((cf_bytes){big, BIG}), 0) == 0);
    CHILD_EXPECT(cf_queue_put((cf_queue *)arg, "small", 0) == 0);
    free(big);
    return 0;
}

/* Items of megabytes travel whole; the getter's memory for one is given
 * back at its next get. */
START_TEST(queue_items_of_megabytes)
{
    cf_queue *q = new_queue(&(cf_queue_options){.ring_bytes = 4 << 20});
    expect_exit(fork_child(put_big, q), 0);
    cf_bytes b;
    expect_rc(cf_queue_get(q, &b, 0), 0);
    ck_assert_uint_eq(b.len, BIG);
    uint8_t *want = malloc(BIG);
    for (size_t i = 0; i < BIG; i++)
        want[i] = (uint8_t)(i * 31 + (i >> 16));
    ck_assert_uint_eq(fnv1a(b.data, b.len), fnv1a(want, BIG));
    free(want);
    const char *s;
    expect_rc(cf_queue_get(q, &s, 0), 0);
    ck_assert_str_eq(s, "small");
    cf_queue_free(q);
}
END_TEST

/* ---- Closing ------------------------------------------------------------------------- */

START_TEST(queue_close_drains_then_refuses)
{
    cf_queue *q = new_queue(NULL);
    for (int32_t i = 0; i < 3; i++)
        expect_rc(cf_queue_put(q, i, 0), 0);
    ck_assert(!cf_queue_closed(q));
    expect_rc(cf_queue_close(q), 0);
    ck_assert(cf_queue_closed(q));
    expect_rc(cf_queue_put(q, (int32_t)3, CF_FOREVER), CF_ECLOSED);
    for (int32_t i = 0; i < 3; i++) {
        int32_t v;
        expect_rc(cf_queue_get(q, &v, CF_FOREVER), 0);
        ck_assert_int_eq(v, i);
    }
    int32_t v;
    expect_rc(cf_queue_get(q, &v, CF_FOREVER), CF_ECLOSED);
    expect_rc(cf_queue_close(q), 0);
    expect_rc(cf_queue_close(NULL), CF_EINVAL);
    cf_queue_free(q);
}
END_TEST

static int get_expecting_closed(void *arg)
{
    int32_t v;
    return cf_queue_get((cf_queue *)arg, &v, CF_FOREVER) == CF_ECLOSED ? 0 : 1;
}

static int put_expecting_closed(void *arg)
{
    return cf_queue_put((cf_queue *)arg, (int32_t)2, CF_FOREVER) == CF_ECLOSED ? 0 : 1;
}

/* Closing wakes getters and putters blocked in other processes. */
START_TEST(queue_close_wakes_blocked)
{
    cf_queue *empty = new_queue(NULL);
    cf_queue *full = new_queue(&(cf_queue_options){.capacity = 1});
    expect_rc(cf_queue_put(full, (int32_t)1, 0), 0);
    pid_t getter = fork_child(get_expecting_closed, empty);
    pid_t putter = fork_child(put_expecting_closed, full);
    wait_until_asleep(getter);
    wait_until_asleep(putter);
    expect_rc(cf_queue_close(empty), 0);
    expect_rc(cf_queue_close(full), 0);
    expect_exit(getter, 0);
    expect_exit(putter, 0);
    ck_assert_uint_eq(cf_queue_qsize(full), 1);
    cf_queue_free(empty);
    cf_queue_free(full);
}
END_TEST

/* ---- JoinableQueue ------------------------------------------------------------------- */

enum { JOIN_ITEMS = 200 };

typedef struct worker_arg {
    cf_queue *q;
    _Atomic int *handled;
} worker_arg;

/* Counts each item as handled before saying it is done. */
static int handle_until_closed(void *arg)
{
    const worker_arg *w = arg;
    for (;;) {
        int32_t v;
        int rc = cf_queue_get(w->q, &v, CF_FOREVER);
        if (rc == CF_ECLOSED)
            return 0;
        CHILD_EXPECT(rc == 0);
        atomic_fetch_add(w->handled, 1);
        CHILD_EXPECT(cf_queue_task_done(w->q) == 0);
    }
}

/* join returns only once every item put has been marked done, by workers in
 * other processes. */
START_TEST(queue_join_across_processes)
{
    cf_queue *q = new_queue(&(cf_queue_options){.joinable = true, .capacity = 8});
    _Atomic int *handled = shared(sizeof *handled);
    worker_arg w = {q, handled};
    pid_t workers[2];
    for (int i = 0; i < 2; i++)
        workers[i] = fork_child(handle_until_closed, &w);
    for (int32_t i = 0; i < JOIN_ITEMS; i++)
        expect_rc(cf_queue_put(q, i, DEADLINE_S), 0);
    expect_rc(cf_queue_join(q, CF_FOREVER), 0);
    ck_assert_int_eq(atomic_load(handled), JOIN_ITEMS);
    expect_rc(cf_queue_close(q), 0);
    for (int i = 0; i < 2; i++)
        expect_exit(workers[i], 0);
    munmap(handled, sizeof *handled);
    cf_queue_free(q);
}
END_TEST

START_TEST(queue_join_timeout_and_task_done_errors)
{
    cf_queue *q = new_queue(&(cf_queue_options){.joinable = true});
    expect_rc(cf_queue_join(q, 0), 0); /* nothing ever put */
    expect_rc(cf_queue_put(q, (int32_t)1, 0), 0);
    expect_rc(cf_queue_put(q, (int32_t)2, 0), 0);
    expect_rc(cf_queue_join(q, 0), CF_ETIMEDOUT);
    expect_rc(cf_queue_join(q, 0.05), CF_ETIMEDOUT);
    expect_rc(cf_queue_get(q, NULL, 0), 0);
    expect_rc(cf_queue_task_done(q), 0);
    expect_rc(cf_queue_join(q, 0), CF_ETIMEDOUT); /* one got but not done */
    expect_rc(cf_queue_task_done(q), 0);          /* done before it was got: allowed */
    expect_rc(cf_queue_join(q, 0), 0);
    expect_rc(cf_queue_task_done(q), CF_ESTATE);
    expect_rc(cf_queue_join(q, NAN), CF_EINVAL);
    cf_queue_free(q);

    cf_queue *plain = new_queue(NULL);
    expect_rc(cf_queue_task_done(plain), CF_EINVAL);
    expect_rc(cf_queue_join(plain, 0), CF_EINVAL);
    cf_queue_free(plain);
}
END_TEST

/* ---- Threads ------------------------------------------------------------------------- */

enum { THREAD_ITEMS = 500 };

static void *thread_produce(void *arg)
{
    cf_queue *q = arg;
    for (int i = 0; i < THREAD_ITEMS; i++) {
        char s[32];
        snprintf(s, sizeof s, "item %d", i);
        ck_assert_int_eq(cf_queue_put(q, s, CF_FOREVER), 0);
    }
    return NULL;
}

static void *thread_consume(void *arg)
{
    cf_queue *q = arg;
    uintptr_t sum = 0;
    for (;;) {
        const char *s;
        int rc = cf_queue_get(q, &s, CF_FOREVER);
        if (rc == CF_ECLOSED)
            return (void *)sum;
        ck_assert_int_eq(rc, 0);
        int i;
        ck_assert_int_eq(sscanf(s, "item %d", &i), 1);
        sum += (uintptr_t)i + 1;
    }
}

/* Threads of one process share a queue too; each getter's strings live in
 * its own thread's memory, freed when the thread ends. */
START_TEST(queue_threads_of_one_process)
{
    cf_queue *q = new_queue(&(cf_queue_options){.capacity = 4});
    pthread_t producers[2], consumers[2];
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(pthread_create(&consumers[i], NULL, thread_consume, q), 0);
        ck_assert_int_eq(pthread_create(&producers[i], NULL, thread_produce, q), 0);
    }
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(pthread_join(producers[i], NULL), 0);
    expect_rc(cf_queue_close(q), 0);
    uintptr_t total = 0;
    for (int i = 0; i < 2; i++) {
        void *sum;
        ck_assert_int_eq(pthread_join(consumers[i], &sum), 0);
        total += (uintptr_t)sum;
    }
    ck_assert_uint_eq(total, 2 * (uintptr_t)THREAD_ITEMS * (THREAD_ITEMS + 1) / 2);
    cf_queue_free(q);
}
END_TEST

/* ---- Processes killed inside the queue's lock ---------------------------------------- */

/* Set in a child: the commit (of a push when stop_on_push, else of a pop)
 * announces itself on stop_fd and waits there for the test to kill it. */
static int stop_fd = -1;
static bool stop_on_push;

static void stop_in_commit(const cf__ring *r, bool push)
{
    (void)r;
    if (push != stop_on_push)
        return;
    write_all(stop_fd, "!", 1);
    for (;;)
        pause();
}

typedef struct stopper {
    cf_queue *q;
    int fd;
} stopper;

static int get_and_stop_in_commit(void *arg)
{
    const stopper *s = arg;
    stop_fd = s->fd;
    stop_on_push = false;
    cf__ring_test_hook = stop_in_commit;
    uint64_t v;
    cf_queue_get(s->q, &v, CF_FOREVER);
    return 1; /* not reached */
}

static int put_and_stop_in_commit(void *arg)
{
    const stopper *s = arg;
    stop_fd = s->fd;
    stop_on_push = true;
    cf__ring_test_hook = stop_in_commit;
    cf_queue_put(s->q, (uint64_t)UINT64_MAX, CF_FOREVER);
    return 1; /* not reached */
}

/* Starts fn in a child and waits until it is stopped inside a commit,
 * holding the queue's lock (a child that ends instead closes the pipe). */
static pid_t stopped_in_commit(int (*fn)(void *), cf_queue *q)
{
    chan c = new_chan();
    pid_t pid = fork_child(fn, &(stopper){q, c.wr});
    close(c.wr);
    char byte;
    ck_assert_msg(read_full(c.rd, &byte, 1) == 0, "child %d ended before its commit", (int)pid);
    close(c.rd);
    return pid;
}

enum { KILL_ITEMS = 300 };

/* A consumer killed holding the queue's lock, with the item it was taking
 * copied out but not yet removed: that item stays queued, and two other
 * consumers (one already waiting for the lock) get every item exactly once. */
START_TEST(queue_consumer_killed_holding_lock)
{
    cf_queue *q = new_queue(NULL);
    for (uint64_t i = 0; i < KILL_ITEMS; i++)
        expect_rc(cf_queue_put(q, i, 0), 0);
    pid_t victim = stopped_in_commit(get_and_stop_in_commit, q);
    tally *tallies = shared(2 * sizeof(tally));
    pid_t consumers[2];
    for (int c = 0; c < 2; c++)
        consumers[c] = fork_child(mpmc_consume, &(mpmc){.q = q, .tallies = tallies, .consumer = c});
    wait_until_asleep(consumers[0]); /* waiting for the lock the victim holds */
    ck_assert_uint_eq(cf_queue_qsize(q), KILL_ITEMS);
    kill_child(victim);

    ck_assert(EVENTUALLY(cf_queue_empty(q)));
    expect_rc(cf_queue_close(q), 0);
    for (int c = 0; c < 2; c++)
        expect_exit(consumers[c], 0);
    uint64_t count = tallies[0].count + tallies[1].count;
    uint64_t sum = tallies[0].sum + tallies[1].sum;
    ck_assert_uint_eq(count, KILL_ITEMS);
    ck_assert_uint_eq(sum, (uint64_t)KILL_ITEMS * (KILL_ITEMS - 1) / 2);
    ck_assert_uint_eq(tallies[0].bad_order + tallies[1].bad_order, 0);
    munmap(tallies, 2 * sizeof(tally));
    cf_queue_free(q);
}
END_TEST

/* A producer killed holding the lock, its item written into the ring but not
 * committed: no trace of it, and the queue goes on as before. */
START_TEST(queue_producer_killed_holding_lock)
{
    cf_queue *q = new_queue(&(cf_queue_options){.ring_bytes = 128});
    for (int32_t i = 0; i < 3; i++)
        expect_rc(cf_queue_put(q, i, 0), 0);
    expect_rc(cf_queue_get(q, NULL, 0), 0); /* the items straddle the ring's end later */
    pid_t victim = stopped_in_commit(put_and_stop_in_commit, q);
    kill_child(victim);
    ck_assert_uint_eq(cf_queue_qsize(q), 2);
    for (int32_t i = 10; i < 200; i++) {
        expect_rc(cf_queue_put(q, i, 0), 0);
        int32_t v;
        expect_rc(cf_queue_get(q, &v, 0), 0);
        ck_assert_int_eq(v, i < 12 ? i - 9 : i - 2);
    }
    int32_t v;
    expect_rc(cf_queue_get(q, &v, 0), 0);
    ck_assert_int_eq(v, 198);
    expect_rc(cf_queue_get(q, &v, 0), 0);
    ck_assert_int_eq(v, 199);
    expect_rc(cf_queue_get(q, &v, 0), CF_EEMPTY);
    cf_queue_free(q);
}
END_TEST

/* A getter asleep on an empty queue while a producer dies holding the lock
 * mid-put: the getter finds no trace of that item, waits on, and gets the
 * next one put. */
START_TEST(queue_getter_outlives_producer_death)
{
    cf_queue *q = new_queue(NULL);
    pid_t getter = fork_child(get_one_and_exit_with_it, q);
    wait_until_asleep(getter);
    pid_t victim = stopped_in_commit(put_and_stop_in_commit, q);
    kill_child(victim);
    ck_assert(cf_queue_empty(q));
    expect_rc(cf_queue_put(q, (int32_t)5, 0), 0);
    expect_exit(getter, 5);
    ck_assert(cf_queue_empty(q));
    cf_queue_free(q);
}
END_TEST

/* ---- What a queue leaves behind ------------------------------------------------------ */

static int free_in_child(void *arg)
{
    cf_queue *q = arg;
    CHILD_EXPECT(cf_queue_put(q, "from the child", 0) == 0);
    cf_queue_free(q);
    return 0;
}

static void use_once(void)
{
    cf_queue *q = new_queue(NULL);
    expect_rc(cf_queue_put(q, "a string longer than the one the test sends", 0), 0);
    expect_rc(cf_queue_get(q, NULL, 0), 0);
    cf_queue_free(q);
}

/* No descriptor and no mapping outlives cf_queue_free; a child freeing its
 * handle leaves the queue to the others. */
START_TEST(queue_free_leaves_nothing)
{
    use_once(); /* this thread's buffers, and the allocator's first chunks */
    int fds = count_fds();
    int maps = count_shared_maps();
    cf_queue *q = new_queue(NULL);
    ck_assert_int_eq(count_fds(), fds);
    ck_assert_int_eq(count_shared_maps(), maps + 1);
    expect_exit(fork_child(free_in_child, q), 0);
    const char *s;
    expect_rc(cf_queue_get(q, &s, 0), 0);
    ck_assert_str_eq(s, "from the child");
    cf_queue_free(q);
    ck_assert_int_eq(count_fds(), fds);
    ck_assert_int_eq(count_shared_maps(), maps);
    cf_queue_free(NULL);
}
END_TEST

START_TEST(queue_bad_arguments)
{
    cf_queue *q;
    expect_rc(cf_queue_new(NULL, NULL), CF_EINVAL);
    expect_rc(cf_queue_new(&q, &(cf_queue_options){.ring_bytes = 10}), CF_EINVAL);
    ck_assert_ptr_null(q);
    expect_rc(cf_queue_new(&q, &(cf_queue_options){.ring_bytes = SIZE_MAX}), CF_EINVAL);
    expect_rc(cf_queue_put(NULL, 1, 0), CF_EINVAL);
    expect_rc(cf_queue_get(NULL, &(int){0}, 0), CF_EINVAL);
    q = new_queue(NULL);
    expect_rc(cf_queue_put(q, ((cf_bytes){NULL, 5}), 0), CF_EINVAL);
    expect_rc(cf_queue_put_value(q, NULL, 0), CF_EINVAL);
    int local;
    cf_value ptr = cf_value_ptr(&local);
    expect_rc(cf_queue_put_value(q, &ptr, 0), CF_EUNSUPPORTED);
    cf_value unknown = {.type = {CF_KIND_COUNT_, 0}};
    expect_rc(cf_queue_put_value(q, &unknown, 0), CF_EINVAL);
    expect_rc(cf_queue_get_value(q, NULL, 0), CF_EINVAL);
    ck_assert(cf_queue_empty(q));
    cf_queue_free(q);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("queue");
    TCase *tc = tcase_create("queue");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, queue_fifo_across_processes);
    tcase_add_test(tc, queue_many_producers_and_consumers);
    tcase_add_test(tc, queue_every_type_round_trip);
    tcase_add_test(tc, queue_put_value_round_trip);
    tcase_add_test(tc, queue_wrong_type_keeps_item);
    tcase_add_test(tc, queue_nonblocking_and_timed);
    tcase_add_test(tc, queue_blocked_getter_wakes);
    tcase_add_test(tc, queue_signals_do_not_interrupt_get);
    tcase_add_test(tc, queue_capacity_bound);
    tcase_add_test(tc, queue_ring_bound);
    tcase_add_test(tc, queue_item_larger_than_ring);
    tcase_add_test(tc, queue_items_of_megabytes);
    tcase_add_test(tc, queue_close_drains_then_refuses);
    tcase_add_test(tc, queue_close_wakes_blocked);
    tcase_add_test(tc, queue_join_across_processes);
    tcase_add_test(tc, queue_join_timeout_and_task_done_errors);
    tcase_add_test(tc, queue_threads_of_one_process);
    tcase_add_test(tc, queue_consumer_killed_holding_lock);
    tcase_add_test(tc, queue_producer_killed_holding_lock);
    tcase_add_test(tc, queue_getter_outlives_producer_death);
    tcase_add_test(tc, queue_free_leaves_nothing);
    tcase_add_test(tc, queue_bad_arguments);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
