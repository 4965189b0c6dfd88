/* test_shared_dict.c: the shared dict and list across real processes:
 * every value kind stored and read back, keys told apart by type,
 * iteration, N processes doing M atomic increments (add, and
 * compare-and-set loops) that add up exactly, appends from many processes,
 * capacity and size limits, churn through tombstones, a process killed in
 * the middle of a write while holding the lock (others blocked on it go on,
 * and the write is whole), argument checks.
 *
 * Children are forked (tests/children.h) and end with _exit; a child
 * reports a failed expectation through its exit status. To stop a child
 * inside a write, it sets the containers' test hook (shared_cell.h), which
 * either kills it at once or announces it on a pipe and waits to be killed.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cfutures.h>

#include "children.h"
#include "shared_cell.h"
#include "support.h"

#define CHILD_EXPECT(cond)                                                                  \
    do {                                                                                    \
        if (!(cond)) {                                                                      \
            fprintf(stderr, "child %d: %s:%d: expected %s (last error: %s)\n", (int)getpid(), \
                    __FILE__, __LINE__, #cond, cf_last_error());                            \
            _exit(3);                                                                       \
        }                                                                                   \
    } while (0)

static void expect_rc(int rc, int want)
{
    ck_assert_msg(rc == want, "got %s, expected %s (%s)", cf_err_name(rc), cf_err_name(want),
                  cf_last_error());
}

static cf_shared_dict *new_dict(size_t capacity, size_t key_bytes, size_t value_bytes)
{
    cf_shared_dict *d = NULL;
    cf_shared_container_options o = {.capacity = capacity, .key_bytes = key_bytes,
                           .value_bytes = value_bytes};
    expect_rc(cf_shared_dict_new(&d, &o), 0);
    return d;
}

static cf_shared_list *new_list(size_t capacity, size_t value_bytes)
{
    cf_shared_list *l = NULL;
    cf_shared_container_options o = {.capacity = capacity, .value_bytes = value_bytes};
    expect_rc(cf_shared_list_new(&l, &o), 0);
    return l;
}

static int64_t get_i64(cf_shared_dict *d, const char *key)
{
    cf_value v;
    expect_rc(cf_shared_dict_get(d, cf_value_str(key), &v), 0);
    ck_assert_uint_eq(v.type.kind, CF_KIND_I64);
    return v.as.i;
}

typedef struct point {
    int32_t x, y;
} point;

/* ---- dict ------------------------------------------------------------------------- */

static int read_back_child(void *arg)
{
    cf_shared_dict *d = arg;
    cf_value v;
    CHILD_EXPECT(cf_shared_dict_get(d, cf_value_str("s"), &v) == 0);
    CHILD_EXPECT(v.type.kind == CF_KIND_STR && strcmp(v.as.str, "text") == 0);
    CHILD_EXPECT(cf_shared_dict_set(d, cf_value_str("from child"), cf_value_i32(1)) == 0);
    return 0;
}

START_TEST(dict_every_kind_round_trip)
{
    cf_shared_dict *d = new_dict(64, 0, 0);
    point pt = {3, -4};
    uint8_t raw[5] = {1, 0, 2, 0, 3};
    cf_value keys[] = {cf_value_str("s"), cf_value_i32(1), cf_value_i64(1), cf_value_u8(1),
                       cf_value_f64(1.5), cf_value_bool(true), cf_value_bytes(raw, 5),
                       cf_value_struct(&pt, sizeof pt), cf_value_str(NULL), cf_value_void()};
    cf_value vals[] = {cf_value_str("text"), cf_value_i32(-7), cf_value_i64(1LL << 40),
                       cf_value_u8(200), cf_value_f64(-0.25), cf_value_bool(false),
                       cf_value_bytes(raw, 5), cf_value_struct(&pt, sizeof pt),
                       cf_value_str(NULL), cf_value_void()};
    size_t n = sizeof keys / sizeof keys[0];
    for (size_t i = 0; i < n; i++)
        expect_rc(cf_shared_dict_set(d, keys[i], vals[i]), 0);
    ck_assert_uint_eq(cf_shared_dict_len(d), n);
    /* Read back in a child: the dict is shared, not copied. */
    expect_exit(fork_child(read_back_child, d), 0);
    expect_rc(cf_shared_dict_delete(d, cf_value_str("from child")), 0);
    for (size_t i = 0; i < n; i++) {
        cf_value v;
        expect_rc(cf_shared_dict_get(d, keys[i], &v), 0);
        ck_assert_uint_eq(v.type.kind, vals[i].type.kind);
        ck_assert_uint_eq(v.type.size, vals[i].type.size);
    }
    cf_value v;
    expect_rc(cf_shared_dict_get(d, cf_value_str("s"), &v), 0);
    ck_assert_str_eq(v.as.str, "text");
    expect_rc(cf_shared_dict_get(d, cf_value_i32(1), &v), 0);
    ck_assert_int_eq(v.as.i, -7);
    expect_rc(cf_shared_dict_get(d, cf_value_i64(1), &v), 0);
    ck_assert_int_eq(v.as.i, 1LL << 40);
    expect_rc(cf_shared_dict_get(d, cf_value_u8(1), &v), 0);
    ck_assert_uint_eq(v.as.u, 200);
    expect_rc(cf_shared_dict_get(d, cf_value_f64(1.5), &v), 0);
    ck_assert(v.as.f == -0.25);
    expect_rc(cf_shared_dict_get(d, cf_value_bytes(raw, 5), &v), 0);
    ck_assert_uint_eq(v.as.bytes.len, 5);
    ck_assert_int_eq(memcmp(v.as.bytes.data, raw, 5), 0);
    expect_rc(cf_shared_dict_get(d, cf_value_struct(&pt, sizeof pt), &v), 0);
    ck_assert_int_eq(memcmp(v.as.data, &pt, sizeof pt), 0);
    expect_rc(cf_shared_dict_get(d, cf_value_str(NULL), &v), 0);
    ck_assert_ptr_null(v.as.str);
    /* Type and bytes make a key: these are absent. */
    expect_rc(cf_shared_dict_get(d, cf_value_i16(1), &v), -ENOENT);
    expect_rc(cf_shared_dict_get(d, cf_value_f32(1.5f), &v), -ENOENT);
    bool in;
    expect_rc(cf_shared_dict_contains(d, cf_value_str("s"), &in), 0);
    ck_assert(in);
    expect_rc(cf_shared_dict_contains(d, cf_value_str("t"), &in), 0);
    ck_assert(!in);

    /* Iteration gives each entry once. */
    size_t cursor = 0, seen = 0;
    cf_value k;
    while (cf_shared_dict_next(d, &cursor, &k, &v) == 0) {
        /* The key from next is usable as is for a lookup. */
        cf_value again;
        expect_rc(cf_shared_dict_get(d, k, &again), 0);
        seen++;
    }
    expect_rc(cf_shared_dict_next(d, &cursor, &k, &v), CF_EEXHAUSTED);
    ck_assert_uint_eq(seen, n);

    /* pop, delete, setdefault, clear. */
    expect_rc(cf_shared_dict_pop(d, cf_value_str("s"), &v), 0);
    ck_assert_str_eq(v.as.str, "text");
    expect_rc(cf_shared_dict_pop(d, cf_value_str("s"), &v), -ENOENT);
    expect_rc(cf_shared_dict_delete(d, cf_value_i32(1)), 0);
    expect_rc(cf_shared_dict_delete(d, cf_value_i32(1)), -ENOENT);
    ck_assert_uint_eq(cf_shared_dict_len(d), n - 2);
    expect_rc(cf_shared_dict_setdefault(d, cf_value_str("s"), cf_value_str("first"), &v), 0);
    ck_assert_str_eq(v.as.str, "first");
    expect_rc(cf_shared_dict_setdefault(d, cf_value_str("s"), cf_value_str("second"), &v), 0);
    ck_assert_str_eq(v.as.str, "first");
    expect_rc(cf_shared_dict_clear(d), 0);
    ck_assert_uint_eq(cf_shared_dict_len(d), 0);
    expect_rc(cf_shared_dict_get(d, cf_value_str("s"), &v), -ENOENT);
    cursor = 0;
    expect_rc(cf_shared_dict_next(d, &cursor, NULL, NULL), CF_EEXHAUSTED);
    expect_rc(cf_shared_dict_set(d, cf_value_str("s"), cf_value_i32(5)), 0);
    ck_assert_uint_eq(cf_shared_dict_len(d), 1);
    cf_shared_dict_free(d);
}
END_TEST

typedef struct counting {
    cf_shared_dict *d;
    int rounds;
} counting;

static int count_child(void *arg)
{
    counting *c = arg;
    for (int i = 0; i < c->rounds; i++) {
        CHILD_EXPECT(cf_shared_dict_add(c->d, cf_value_str("hits"), 1, NULL) == 0);
        CHILD_EXPECT(cf_shared_dict_add_f64(c->d, cf_value_str("sum"), 0.5, NULL) == 0);
        /* A compare-and-set loop: read, compute, retry when another won. */
        for (;;) {
            cf_value v;
            int rc = cf_shared_dict_get(c->d, cf_value_str("cas"), &v);
            CHILD_EXPECT(rc == 0 || rc == -ENOENT);
            bool swapped;
            cf_value next = cf_value_i32(rc == 0 ? (int32_t)v.as.i + 1 : 1);
            CHILD_EXPECT(cf_shared_dict_compare_and_set(c->d, cf_value_str("cas"),
                                                        rc == 0 ? &v : NULL, next,
                                                        &swapped) == 0);
            if (swapped)
                break;
        }
    }
    return 0;
}

START_TEST(dict_increments_from_many_processes_add_up)
{
    cf_shared_dict *d = new_dict(16, 0, 0);
    enum { N = 4 };
    counting c = {d, RUNNING_ON_VALGRIND ? 300 : 5000};
    pid_t pids[N];
    for (int i = 0; i < N; i++)
        pids[i] = fork_child(count_child, &c);
    for (int i = 0; i < N; i++)
        expect_exit(pids[i], 0);
    ck_assert_int_eq(get_i64(d, "hits"), (int64_t)N * c.rounds);
    cf_value v;
    expect_rc(cf_shared_dict_get(d, cf_value_str("sum"), &v), 0);
    ck_assert(v.as.f == 0.5 * N * c.rounds);
    expect_rc(cf_shared_dict_get(d, cf_value_str("cas"), &v), 0);
    ck_assert_uint_eq(v.type.kind, CF_KIND_I32);
    ck_assert_int_eq(v.as.i, N * c.rounds);
    cf_shared_dict_free(d);
}
END_TEST

/* ---- A process killed holding the lock, in the middle of a write ------------------- */

static int announce_fd = -1;

static void announce_and_wait(void)
{
    char b = 1;
    if (write(announce_fd, &b, 1) != 1)
        _exit(5);
    for (;;)
        pause();
}

typedef struct writer {
    cf_shared_dict *d;
    cf_shared_list *l;
    const char *key;
    const char *value;
    ptrdiff_t index;
} writer;

static int dict_writer_child(void *arg)
{
    writer *w = arg;
    cf__shared_test_hook = announce_and_wait;
    cf_shared_dict_set(w->d, cf_value_str(w->key), cf_value_str(w->value));
    return 4; /* the hook never returns */
}

static int dict_adder_child(void *arg)
{
    writer *w = arg;
    int64_t r;
    CHILD_EXPECT(cf_shared_dict_add(w->d, cf_value_str("n"), 1, &r) == 0);
    return 0;
}

START_TEST(dict_holder_killed_mid_write_deadlocks_no_one)
{
    cf_shared_dict *d = new_dict(32, 0, 200);
    chan c = new_chan();
    announce_fd = c.wr;
    char old[150], big[150];
    memset(old, 'o', sizeof old - 1);
    old[sizeof old - 1] = '\0';
    memset(big, 'n', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    expect_rc(cf_shared_dict_set(d, cf_value_str("k"), cf_value_str(old)), 0);
    expect_rc(cf_shared_dict_set(d, cf_value_str("n"), cf_value_i64(0)), 0);
    /* An update and an insert, each killed halfway through its copy. */
    const char *keys[] = {"k", "fresh"};
    for (int round = 0; round < 2; round++) {
        writer w = {.d = d, .key = keys[round], .value = big};
        pid_t holder = fork_child(dict_writer_child, &w);
        char b = 0;
        ck_assert_int_eq(read_full(c.rd, &b, 1), 0);
        /* Another process now blocks on the lock the holder keeps. */
        pid_t waiter = fork_child(dict_adder_child, &w);
        wait_asleep(waiter);
        kill_child(holder);
        expect_exit(waiter, 0);
        cf_value v;
        expect_rc(cf_shared_dict_get(d, cf_value_str(keys[round]), &v), 0);
        ck_assert_str_eq(v.as.str, big); /* journaled: finished by the next locker */
    }
    expect_rc(cf_shared_dict_get(d, cf_value_str("k"), NULL), CF_EINVAL);
    ck_assert_uint_eq(cf_shared_dict_len(d), 3);
    ck_assert_int_eq(get_i64(d, "n"), 2);
    close_chan(c);
    cf_shared_dict_free(d);
}
END_TEST

START_TEST(dict_capacity_and_size_limits)
{
    cf_shared_dict *d = new_dict(8, 8, 16);
    for (int i = 0; i < 8; i++)
        expect_rc(cf_shared_dict_set(d, cf_value_i32(i), cf_value_i32(i)), 0);
    expect_rc(cf_shared_dict_set(d, cf_value_i32(8), cf_value_i32(8)), CF_EFULL);
    expect_rc(cf_shared_dict_setdefault(d, cf_value_i32(8), cf_value_i32(8), NULL), CF_EFULL);
    expect_rc(cf_shared_dict_add(d, cf_value_i32(8), 1, NULL), CF_EFULL);
    expect_rc(cf_shared_dict_set(d, cf_value_i32(7), cf_value_i32(70)), 0); /* an update fits */
    ck_assert_uint_eq(cf_shared_dict_len(d), 8);
    /* Too large: a 9-byte key ("12345678" and its NUL), a 17-byte value. */
    expect_rc(cf_shared_dict_set(d, cf_value_str("12345678"), cf_value_i32(0)), CF_ETOOBIG);
    expect_rc(cf_shared_dict_set(d, cf_value_i32(1), cf_value_str("0123456789abcdef")),
              CF_ETOOBIG);
    expect_rc(cf_shared_dict_set(d, cf_value_i32(1), cf_value_str("0123456789abcde")), 0);
    expect_rc(cf_shared_dict_set(d, cf_value_ptr(d), cf_value_i32(0)), CF_EUNSUPPORTED);
    /* Arithmetic on what is not a number, or past the kind's range. */
    expect_rc(cf_shared_dict_add(d, cf_value_i32(1), 1, NULL), CF_ETYPE);
    expect_rc(cf_shared_dict_add_f64(d, cf_value_i32(2), 1, NULL), CF_ETYPE);
    expect_rc(cf_shared_dict_set(d, cf_value_i32(2), cf_value_i8(120)), 0);
    int64_t r;
    expect_rc(cf_shared_dict_add(d, cf_value_i32(2), 7, &r), 0);
    ck_assert_int_eq(r, 127);
    expect_rc(cf_shared_dict_add(d, cf_value_i32(2), 1, &r), -ERANGE);
    expect_rc(cf_shared_dict_set(d, cf_value_i32(3), cf_value_u16(1)), 0);
    expect_rc(cf_shared_dict_add(d, cf_value_i32(3), -2, &r), -ERANGE);
    expect_rc(cf_shared_dict_add(d, cf_value_i32(3), -1, &r), 0);
    ck_assert_int_eq(r, 0);
    /* Churn: inserting and deleting through tombstones, many times over. */
    expect_rc(cf_shared_dict_delete(d, cf_value_i32(0)), 0);
    for (int i = 0; i < 20000; i++) {
        expect_rc(cf_shared_dict_set(d, cf_value_i32(1000 + i), cf_value_i32(i)), 0);
        expect_rc(cf_shared_dict_delete(d, cf_value_i32(1000 + i)), 0);
    }
    for (int i = 1; i < 8; i++)
        expect_rc(cf_shared_dict_get(d, cf_value_i32(i), &(cf_value){0}), 0);
    expect_rc(cf_shared_dict_set(d, cf_value_i32(0), cf_value_i32(0)), 0);
    ck_assert_uint_eq(cf_shared_dict_len(d), 8);
    cf_shared_dict_free(d);

    cf_shared_dict *x = NULL;
    cf_shared_container_options big = {.capacity = CF_SHARED_MAX_CAPACITY + 1};
    expect_rc(cf_shared_dict_new(&x, &big), CF_EINVAL);
    cf_shared_container_options wide = {.value_bytes = CF_SHARED_MAX_BYTES + 1};
    expect_rc(cf_shared_dict_new(&x, &wide), CF_EINVAL);
    ck_assert_ptr_null(x);
}
END_TEST

/* ---- list ------------------------------------------------------------------------- */

typedef struct appending {
    cf_shared_list *l;
    int id, rounds;
} appending;

static int append_child(void *arg)
{
    appending *a = arg;
    for (int i = 0; i < a->rounds; i++)
        CHILD_EXPECT(cf_shared_list_append(a->l, cf_value_i64(a->id * 100000 + i)) == 0);
    for (int i = 0; i < a->rounds; i++)
        CHILD_EXPECT(cf_shared_list_add(a->l, 0, 1, NULL) == 0);
    return 0;
}

START_TEST(list_operations_across_processes)
{
    enum { N = 4, M = 500 };
    cf_shared_list *l = new_list(N * M + 1, 0);
    expect_rc(cf_shared_list_append(l, cf_value_i64(0)), 0); /* the counter at 0 */
    appending a[N];
    pid_t pids[N];
    for (int i = 0; i < N; i++) {
        a[i] = (appending){l, i + 1, M};
        pids[i] = fork_child(append_child, &a[i]);
    }
    for (int i = 0; i < N; i++)
        expect_exit(pids[i], 0);
    ck_assert_uint_eq(cf_shared_list_len(l), N * M + 1);
    expect_rc(cf_shared_list_append(l, cf_value_i64(0)), CF_EFULL);
    cf_value v;
    expect_rc(cf_shared_list_get(l, 0, &v), 0);
    ck_assert_int_eq(v.as.i, N * M);
    /* Each child's items are there, in its order. */
    int64_t next[N + 1] = {0};
    for (size_t i = 1; i <= N * M; i++) {
        expect_rc(cf_shared_list_get(l, (ptrdiff_t)i, &v), 0);
        int id = (int)(v.as.i / 100000);
        ck_assert_int_eq(v.as.i % 100000, next[id]);
        next[id]++;
    }
    cf_shared_list_free(l);
}
END_TEST

START_TEST(list_get_set_pop_and_limits)
{
    cf_shared_list *l = new_list(5, 16);
    cf_value v;
    expect_rc(cf_shared_list_pop(l, -1, &v), -ERANGE);
    expect_rc(cf_shared_list_get(l, 0, &v), -ERANGE);
    const char *words[] = {"a", "bb", "ccc", "dddd", "eeeee"};
    for (int i = 0; i < 5; i++)
        expect_rc(cf_shared_list_append(l, cf_value_str(words[i])), 0);
    expect_rc(cf_shared_list_append(l, cf_value_str("f")), CF_EFULL);
    expect_rc(cf_shared_list_get(l, -1, &v), 0);
    ck_assert_str_eq(v.as.str, "eeeee");
    expect_rc(cf_shared_list_get(l, -5, &v), 0);
    ck_assert_str_eq(v.as.str, "a");
    expect_rc(cf_shared_list_get(l, -6, &v), -ERANGE);
    expect_rc(cf_shared_list_get(l, 5, &v), -ERANGE);
    expect_rc(cf_shared_list_pop(l, 1, &v), 0); /* from the middle */
    ck_assert_str_eq(v.as.str, "bb");
    expect_rc(cf_shared_list_pop(l, -1, NULL), 0); /* the last */
    ck_assert_uint_eq(cf_shared_list_len(l), 3);
    const char *left[] = {"a", "ccc", "dddd"};
    for (int i = 0; i < 3; i++) {
        expect_rc(cf_shared_list_get(l, i, &v), 0);
        ck_assert_str_eq(v.as.str, left[i]);
    }
    expect_rc(cf_shared_list_set(l, 0, cf_value_i32(9)), 0);
    expect_rc(cf_shared_list_set(l, 3, cf_value_i32(9)), -ERANGE);
    expect_rc(cf_shared_list_set(l, 0, cf_value_str("0123456789abcdef")), CF_ETOOBIG);
    bool swapped;
    cf_value nine = cf_value_i32(9), eight = cf_value_i32(8);
    expect_rc(cf_shared_list_compare_and_set(l, 0, &eight, cf_value_i32(1), &swapped), 0);
    ck_assert(!swapped);
    expect_rc(cf_shared_list_compare_and_set(l, 0, &nine, cf_value_i32(10), &swapped), 0);
    ck_assert(swapped);
    int64_t r;
    expect_rc(cf_shared_list_add(l, 0, 5, &r), 0);
    ck_assert_int_eq(r, 15);
    expect_rc(cf_shared_list_add(l, 1, 5, &r), CF_ETYPE);
    expect_rc(cf_shared_list_clear(l), 0);
    ck_assert_uint_eq(cf_shared_list_len(l), 0);
    cf_shared_list_free(l);
}
END_TEST

static int list_popper_child(void *arg)
{
    writer *w = arg;
    cf__shared_test_hook = announce_and_wait;
    cf_shared_list_pop(w->l, w->index, NULL);
    return 4;
}

static int list_appender_child(void *arg)
{
    writer *w = arg;
    CHILD_EXPECT(cf_shared_list_append(w->l, cf_value_i32(100)) == 0);
    return 0;
}

START_TEST(list_holder_killed_mid_pop_deadlocks_no_one)
{
    cf_shared_list *l = new_list(16, 0);
    for (int i = 0; i < 10; i++)
        expect_rc(cf_shared_list_append(l, cf_value_i32(i)), 0);
    chan c = new_chan();
    announce_fd = c.wr;
    writer w = {.l = l, .index = 2};
    pid_t holder = fork_child(list_popper_child, &w);
    char b = 0;
    ck_assert_int_eq(read_full(c.rd, &b, 1), 0);
    pid_t waiter = fork_child(list_appender_child, &w);
    wait_asleep(waiter);
    kill_child(holder);
    expect_exit(waiter, 0);
    /* The pop was finished: 2 is gone, the rest in order, then 100. */
    const int want[] = {0, 1, 3, 4, 5, 6, 7, 8, 9, 100};
    ck_assert_uint_eq(cf_shared_list_len(l), 10);
    for (int i = 0; i < 10; i++) {
        cf_value v;
        expect_rc(cf_shared_list_get(l, i, &v), 0);
        ck_assert_int_eq(v.as.i, want[i]);
    }
    close_chan(c);
    cf_shared_list_free(l);
}
END_TEST

START_TEST(invalid_arguments)
{
    cf_value v;
    bool b;
    size_t cursor = 0;
    expect_rc(cf_shared_dict_new(NULL, NULL), CF_EINVAL);
    expect_rc(cf_shared_list_new(NULL, NULL), CF_EINVAL);
    expect_rc(cf_shared_dict_set(NULL, cf_value_i32(1), cf_value_i32(1)), CF_EINVAL);
    expect_rc(cf_shared_dict_get(NULL, cf_value_i32(1), &v), CF_EINVAL);
    expect_rc(cf_shared_dict_contains(NULL, cf_value_i32(1), &b), CF_EINVAL);
    expect_rc(cf_shared_dict_next(NULL, &cursor, NULL, NULL), CF_EINVAL);
    expect_rc(cf_shared_dict_clear(NULL), CF_EINVAL);
    expect_rc(cf_shared_list_append(NULL, cf_value_i32(1)), CF_EINVAL);
    expect_rc(cf_shared_list_clear(NULL), CF_EINVAL);
    ck_assert_uint_eq(cf_shared_dict_len(NULL), 0);
    ck_assert_uint_eq(cf_shared_list_len(NULL), 0);
    cf_shared_dict *d = new_dict(4, 0, 0);
    expect_rc(cf_shared_dict_get(d, cf_value_i32(1), NULL), CF_EINVAL);
    expect_rc(cf_shared_dict_contains(d, cf_value_i32(1), NULL), CF_EINVAL);
    expect_rc(cf_shared_dict_next(d, NULL, NULL, NULL), CF_EINVAL);
    cf_value bad = {.type = {.kind = 99}};
    expect_rc(cf_shared_dict_set(d, bad, cf_value_i32(1)), CF_EINVAL);
    expect_rc(cf_shared_dict_set(d, cf_value_i32(1), cf_value_bytes(NULL, 3)), CF_EINVAL);
    cf_shared_dict_free(d);
    cf_shared_list *l = new_list(4, 0);
    expect_rc(cf_shared_list_get(l, 0, NULL), CF_EINVAL);
    expect_rc(cf_shared_list_append(l, cf_value_ptr(l)), CF_EUNSUPPORTED);
    expect_rc(cf_shared_list_append(l, cf_value_i32(1)), 0);
    expect_rc(cf_shared_list_compare_and_set(l, 0, NULL, cf_value_i32(1), &b), CF_EINVAL);
    cf_shared_list_free(l);
    cf_shared_dict_free(NULL);
    cf_shared_list_free(NULL);
}
END_TEST

static Suite *shared_dict_suite(void)
{
    Suite *s = suite_create("shared_dict");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, dict_every_kind_round_trip);
    tcase_add_test(tc, dict_increments_from_many_processes_add_up);
    tcase_add_test(tc, dict_holder_killed_mid_write_deadlocks_no_one);
    tcase_add_test(tc, dict_capacity_and_size_limits);
    tcase_add_test(tc, list_operations_across_processes);
    tcase_add_test(tc, list_get_set_pop_and_limits);
    tcase_add_test(tc, list_holder_killed_mid_pop_deadlocks_no_one);
    tcase_add_test(tc, invalid_arguments);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(shared_dict_suite());
}
