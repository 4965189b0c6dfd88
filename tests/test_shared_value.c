/* test_shared_value.c: cf_shared_value and cf_shared_array across forked
 * processes: counters that add up exactly (with the lock, without it, and
 * as compound updates under the value's own lock), every element type,
 * type mismatches refused without touching anything, arrays made from C
 * arrays and read through their data pointer, lock timeouts, a lock holder
 * killed, and release of the memory.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "children.h"
#include "support.h"

enum { CHILDREN = 4, ADDS = 5000, SLOTS = 8 };

typedef struct setup {
    cf_shared_value *locked, *unlocked, *compound;
    cf_shared_array *counts;  /* uint32_t[SLOTS] */
    cf_shared_array *weights; /* double[SLOTS], no lock */
    _Atomic uint32_t *stage;
    chan go;
} setup;

static setup make_setup(void)
{
    setup s = {.stage = map_shared(sizeof(*s.stage)), .go = new_chan()};
    ck_assert_int_eq(cf_shared_value_new(&s.locked, int64_t, 0, NULL), 0);
    ck_assert_int_eq(cf_shared_value_new(&s.unlocked, uint64_t, 0,
                                         &(cf_shared_options){.no_lock = true}),
                     0);
    ck_assert_int_eq(cf_shared_value_new(&s.compound, int32_t, 0, NULL), 0);
    ck_assert_int_eq(cf_shared_array_new(&s.counts, uint32_t, SLOTS, NULL, NULL), 0);
    ck_assert_int_eq(cf_shared_array_new(&s.weights, double, SLOTS, NULL,
                                         &(cf_shared_options){.no_lock = true}),
                     0);
    return s;
}

static void free_setup(setup *s)
{
    cf_shared_value_free(s->locked);
    cf_shared_value_free(s->unlocked);
    cf_shared_value_free(s->compound);
    cf_shared_array_free(s->counts);
    cf_shared_array_free(s->weights);
    unmap_shared((void *)s->stage, sizeof(*s->stage));
    close_chan(s->go);
}

static int add_many(void *arg)
{
    setup *s = arg;
    cf_rlock *lock = cf_shared_value_lock(s->compound);
    for (int i = 0; i < ADDS; i++) {
        if (cf_shared_value_add(s->locked, int64_t, 1, NULL, DEADLINE_S) != 0
            || cf_shared_value_add(s->unlocked, uint64_t, 2, NULL, DEADLINE_S) != 0
            || cf_shared_array_add(s->counts, uint32_t, (size_t)i % SLOTS, 1, NULL, DEADLINE_S) != 0
            || cf_shared_array_add(s->weights, double, (size_t)i % SLOTS, 0.5, NULL, DEADLINE_S)
                   != 0)
            return 1;
        /* A compound update: get and set under the value's own lock. */
        int32_t v;
        if (cf_rlock_acquire(lock, DEADLINE_S) != 0
            || cf_shared_value_get(s->compound, &v, DEADLINE_S) != 0
            || cf_shared_value_set(s->compound, int32_t, v + 1, DEADLINE_S) != 0
            || cf_rlock_release(lock) != 0)
            return 2;
    }
    return 0;
}

START_TEST(shared_value_counters_across_processes)
{
    setup s = make_setup();
    pid_t pids[CHILDREN];
    for (int i = 0; i < CHILDREN; i++)
        pids[i] = fork_child(add_many, &s);
    for (int i = 0; i < CHILDREN; i++)
        expect_exit(pids[i], 0);
    int64_t locked;
    uint64_t unlocked;
    int32_t compound;
    ck_assert_int_eq(cf_shared_value_get(s.locked, &locked, 0), 0);
    ck_assert_int_eq(cf_shared_value_get(s.unlocked, &unlocked, 0), 0);
    ck_assert_int_eq(cf_shared_value_get(s.compound, &compound, 0), 0);
    ck_assert_int_eq(locked, CHILDREN * ADDS);
    ck_assert_uint_eq(unlocked, 2 * CHILDREN * ADDS);
    ck_assert_int_eq(compound, CHILDREN * ADDS);
    uint32_t total = 0;
    double weight = 0;
    for (size_t i = 0; i < SLOTS; i++) {
        uint32_t c;
        double w;
        ck_assert_int_eq(cf_shared_array_get(s.counts, i, &c, 0), 0);
        ck_assert_int_eq(cf_shared_array_get(s.weights, i, &w, 0), 0);
        ck_assert_uint_eq(c, CHILDREN * ADDS / SLOTS);
        total += c;
        weight += w;
    }
    ck_assert_uint_eq(total, CHILDREN * ADDS);
    ck_assert(weight == 0.5 * CHILDREN * ADDS); /* halves add exactly */
    free_setup(&s);
}
END_TEST

/* Every element type round-trips, and add returns the former value. */
#define CHECK_TYPE(T, initial, x, delta, sum)                                              \
    do {                                                                                   \
        cf_shared_value *v;                                                                \
        T got, old;                                                                        \
        ck_assert_int_eq(cf_shared_value_new(&v, T, initial, NULL), 0);                    \
        ck_assert(cf_type_equal(cf_shared_value_type(v), CF_TYPE_OF(T)));                  \
        ck_assert_int_eq(cf_shared_value_get(v, &got, 0), 0);                              \
        ck_assert(got == (T)(initial));                                                    \
        ck_assert_int_eq(cf_shared_value_set(v, T, x, 0), 0);                              \
        ck_assert_int_eq(cf_shared_value_add(v, T, delta, &old, 0), 0);                    \
        ck_assert(old == (T)(x));                                                          \
        ck_assert_int_eq(cf_shared_value_get(v, &got, 0), 0);                              \
        ck_assert(got == (T)(sum));                                                        \
        cf_shared_value_free(v);                                                           \
    } while (0)

START_TEST(shared_value_every_type)
{
    CHECK_TYPE(int8_t, -5, 100, 27, 127);
    CHECK_TYPE(uint8_t, 5, 250, 10, 4); /* wraps around */
    CHECK_TYPE(int16_t, -300, 1000, -2000, -1000);
    CHECK_TYPE(uint16_t, 300, 65535, 1, 0);
    CHECK_TYPE(int32_t, -70000, INT32_MAX, 1, INT32_MIN);
    CHECK_TYPE(uint32_t, 70000, 1, UINT32_MAX, 0);
    CHECK_TYPE(int64_t, INT64_MIN, -1, -1, -2);
    CHECK_TYPE(uint64_t, UINT64_MAX, 1u << 20, 1, (1u << 20) + 1);
    CHECK_TYPE(float, 1.5f, 2.25f, 0.25f, 2.5f);
    CHECK_TYPE(double, -1e300, 0.125, 0.375, 0.5);

    cf_shared_value *flag;
    bool b;
    ck_assert_int_eq(cf_shared_value_new(&flag, bool, true, NULL), 0);
    ck_assert_int_eq(cf_shared_value_get(flag, &b, 0), 0);
    ck_assert(b);
    ck_assert_int_eq(cf_shared_value_set(flag, bool, false, 0), 0);
    ck_assert_int_eq(cf_shared_value_get(flag, &b, 0), 0);
    ck_assert(!b);
    ck_assert_int_eq(cf_shared_value_add(flag, bool, true, NULL, 0), CF_EINVAL);
    cf_shared_value_free(flag);
}
END_TEST

START_TEST(shared_value_type_mismatch_changes_nothing)
{
    cf_shared_value *v;
    ck_assert_int_eq(cf_shared_value_new(&v, int64_t, 42, NULL), 0);
    int32_t narrow = 7;
    double real = 7;
    uint64_t unsig = 7;
    ck_assert_int_eq(cf_shared_value_get(v, &narrow, 0), CF_ETYPE);
    ck_assert_int_eq(narrow, 7);
    ck_assert_int_eq(cf_shared_value_get(v, &unsig, 0), CF_ETYPE);
    ck_assert_ptr_nonnull(strstr(cf_last_error(), "int64"));
    ck_assert_int_eq(cf_shared_value_set(v, double, 1.0, 0), CF_ETYPE);
    ck_assert_int_eq(cf_shared_value_add(v, int32_t, 1, NULL, 0), CF_ETYPE);
    double *wrong;
    ck_assert_int_eq(cf_shared_value_data(v, &wrong), CF_ETYPE);
    int64_t *p, x;
    ck_assert_int_eq(cf_shared_value_data(v, &p), 0);
    ck_assert_int_eq(*p, 42);
    ck_assert_int_eq(cf_shared_value_get(v, &x, 0), 0);
    ck_assert_int_eq(x, 42);
    ck_assert_int_eq(cf_shared_value_get(v, &real, 0), CF_ETYPE);
    ck_assert(real == 7);
    cf_shared_value_free(v);
}
END_TEST

static int read_array_in_child(void *arg)
{
    cf_shared_array *a = arg;
    int16_t *p;
    if (cf_shared_array_data(a, &p) != 0 || cf_shared_array_length(a) != 5)
        return 1;
    for (int i = 0; i < 5; i++)
        if (p[i] != (int16_t)(i * 100 - 200))
            return 2;
    p[4] = -1; /* seen by the parent */
    return 0;
}

START_TEST(shared_value_array_from_c_array)
{
    const int16_t init[5] = {-200, -100, 0, 100, 200};
    cf_shared_array *a;
    ck_assert_int_eq(cf_shared_array_new(&a, int16_t, 5, init, NULL), 0);
    ck_assert_uint_eq(cf_shared_array_length(a), 5);
    ck_assert(cf_type_equal(cf_shared_array_type(a), CF_TYPE_OF(int16_t)));
    ck_assert_ptr_nonnull(cf_shared_array_lock(a));
    expect_exit(fork_child(read_array_in_child, a), 0);
    int16_t x;
    ck_assert_int_eq(cf_shared_array_get(a, 4, &x, 0), 0);
    ck_assert_int_eq(x, -1);
    ck_assert_int_eq(cf_shared_array_get(a, 5, &x, 0), CF_EINVAL);
    ck_assert_int_eq(cf_shared_array_set(a, int16_t, 5, 1, 0), CF_EINVAL);
    ck_assert_int_eq(cf_shared_array_add(a, int16_t, 9, 1, NULL, 0), CF_EINVAL);
    ck_assert_int_eq(cf_shared_array_set(a, int32_t, 0, 1, 0), CF_ETYPE);
    int16_t old;
    ck_assert_int_eq(cf_shared_array_add(a, int16_t, 0, 50, &old, 0), 0);
    ck_assert_int_eq(old, -200);
    ck_assert_int_eq(cf_shared_array_get(a, 0, &x, 0), 0);
    ck_assert_int_eq(x, -150);
    cf_shared_array_free(a);

    /* Zeroed when made without a C array. */
    ck_assert_int_eq(cf_shared_array_new(&a, float, 3, NULL, NULL), 0);
    float *f;
    ck_assert_int_eq(cf_shared_array_data(a, &f), 0);
    ck_assert(f[0] == 0 && f[1] == 0 && f[2] == 0);
    cf_shared_array_free(a);
}
END_TEST

/* Holds the value's lock until the parent says go. */
static int hold_value_lock_until_go(void *arg)
{
    setup *s = arg;
    if (cf_rlock_acquire(cf_shared_value_lock(s->locked), DEADLINE_S) != 0)
        return 1;
    atomic_store(s->stage, 1);
    char byte;
    if (read_full(s->go.rd, &byte, 1) != 0)
        return 2;
    return cf_rlock_release(cf_shared_value_lock(s->locked)) == 0 ? 0 : 3;
}

START_TEST(shared_value_lock_times_out)
{
    setup s = make_setup();
    pid_t pid = fork_child(hold_value_lock_until_go, &s);
    ck_assert(EVENTUALLY(atomic_load(s.stage) == 1));
    int64_t x = 5;
    ck_assert_int_eq(cf_shared_value_set(s.locked, int64_t, 9, 0.02), CF_ETIMEDOUT);
    ck_assert_int_eq(cf_shared_value_add(s.locked, int64_t, 9, NULL, 0), CF_ETIMEDOUT);
    ck_assert_int_eq(cf_shared_value_get(s.locked, &x, 0), CF_ETIMEDOUT);
    ck_assert_int_eq(x, 5);
    /* Without a lock nothing waits. */
    ck_assert_int_eq(cf_shared_value_add(s.unlocked, uint64_t, 1, NULL, 0), 0);
    release(s.go, 1);
    expect_exit(pid, 0);
    ck_assert_int_eq(cf_shared_value_get(s.locked, &x, 0), 0);
    ck_assert_int_eq(x, 0);
    free_setup(&s);
}
END_TEST

/* Takes the value's lock, writes half an update, and is killed. */
static int hold_value_lock_forever(void *arg)
{
    setup *s = arg;
    if (cf_rlock_acquire(cf_shared_value_lock(s->locked), DEADLINE_S) != 0)
        return 1;
    if (cf_shared_value_set(s->locked, int64_t, 13, 0) != 0)
        return 2;
    atomic_store(s->stage, 1);
    for (;;)
        pause();
}

START_TEST(shared_value_lock_holder_killed)
{
    setup s = make_setup();
    pid_t pid = fork_child(hold_value_lock_forever, &s);
    ck_assert(EVENTUALLY(atomic_load(s.stage) == 1));
    kill_child(pid);
    int64_t x = 0;
    ck_assert_int_eq(cf_shared_value_get(s.locked, &x, DEADLINE_S), CF_EOWNERDEAD);
    ck_assert_int_eq(x, 13); /* read all the same */
    ck_assert_int_eq(cf_shared_value_add(s.locked, int64_t, 1, &x, 0), 0);
    ck_assert_int_eq(x, 13);
    free_setup(&s);
}
END_TEST

START_TEST(shared_value_lock_belongs_to_value)
{
    cf_shared_value *v, *bare;
    ck_assert_int_eq(cf_shared_value_new(&v, double, 1.0, NULL), 0);
    ck_assert_int_eq(cf_shared_value_new(&bare, double, 1.0, &(cf_shared_options){.no_lock = true}),
                     0);
    ck_assert_ptr_null(cf_shared_value_lock(bare));
    cf_rlock *lock = cf_shared_value_lock(v);
    ck_assert_ptr_nonnull(lock);
    cf_rlock_free(lock); /* does nothing: the value owns it */
    ck_assert_int_eq(cf_rlock_acquire(lock, 0), 0);
    ck_assert_int_eq(cf_shared_value_set(v, double, 2.0, 0), 0); /* nests in the held lock */
    ck_assert_int_eq(cf_rlock_release(lock), 0);
    cf_shared_value_free(v);
    cf_shared_value_free(bare);
}
END_TEST

START_TEST(shared_value_rejects_bad_arguments)
{
    cf_shared_value *v;
    ck_assert_int_eq(cf_shared_value_new(NULL, int32_t, 0, NULL), CF_EINVAL);
    ck_assert_int_eq(cf__shared_value_new(&v, CF_TYPE_OF(cf_bytes), NULL, NULL), CF_ETYPE);
    ck_assert_ptr_null(v);
    ck_assert_int_eq(cf_shared_value_new(&v, int32_t, 0, NULL), 0);
    int32_t x;
    ck_assert_int_eq(cf_shared_value_get(NULL, &x, 0), CF_EINVAL);
    ck_assert_int_eq(cf_shared_value_get(v, (int32_t *)NULL, 0), CF_EINVAL);
    ck_assert_int_eq(cf_shared_value_get(v, &x, 0.0 / 0.0), CF_EINVAL);
    ck_assert_int_eq(cf_shared_value_set(NULL, int32_t, 1, 0), CF_EINVAL);
    ck_assert_ptr_null(cf_shared_value_lock(NULL));
    ck_assert_uint_eq(cf_shared_value_type(NULL).kind, CF_KIND_VOID);
    cf_shared_value_free(v);
    cf_shared_value_free(NULL);

    cf_shared_array *a;
    ck_assert_int_eq(cf_shared_array_new(&a, int32_t, 0, NULL, NULL), CF_EINVAL);
    ck_assert_int_eq(cf_shared_array_new(&a, int64_t, SIZE_MAX / 4, NULL, NULL), -ENOMEM);
    ck_assert_ptr_null(a);
    ck_assert_uint_eq(cf_shared_array_length(NULL), 0);
    ck_assert_ptr_null(cf_shared_array_lock(NULL));
    int32_t *p;
    ck_assert_int_eq(cf_shared_array_data(NULL, &p), CF_EINVAL);
    cf_shared_array_free(NULL);
}
END_TEST

START_TEST(shared_value_free_leaves_no_mapping_or_fd)
{
    int fds = count_fds(), maps = count_shared_maps();
    cf_shared_value *v;
    cf_shared_array *a, *big;
    ck_assert_int_eq(cf_shared_value_new(&v, uint8_t, 1, NULL), 0);
    ck_assert_int_eq(cf_shared_array_new(&a, double, 10, NULL, NULL), 0);
    ck_assert_int_eq(cf_shared_array_new(&big, int64_t, 1 << 20, NULL, NULL), 0);
    ck_assert_int_eq(count_shared_maps(), maps + 3);
    cf_shared_value_free(v);
    cf_shared_array_free(a);
    cf_shared_array_free(big);
    ck_assert_int_eq(count_shared_maps(), maps);
    ck_assert_int_eq(count_fds(), fds);
}
END_TEST

static Suite *shared_value_suite(void)
{
    Suite *s = suite_create("shared_value");
    TCase *tc = tcase_create("shared_value");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, shared_value_counters_across_processes);
    tcase_add_test(tc, shared_value_every_type);
    tcase_add_test(tc, shared_value_type_mismatch_changes_nothing);
    tcase_add_test(tc, shared_value_array_from_c_array);
    tcase_add_test(tc, shared_value_lock_times_out);
    tcase_add_test(tc, shared_value_lock_holder_killed);
    tcase_add_test(tc, shared_value_lock_belongs_to_value);
    tcase_add_test(tc, shared_value_rejects_bad_arguments);
    tcase_add_test(tc, shared_value_free_leaves_no_mapping_or_fd);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(shared_value_suite());
}
