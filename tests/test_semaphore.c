/* test_semaphore.c: cf_semaphore (plain and bounded) across forked
 * processes: the bound on concurrent holders, timeouts, a release waking a
 * sleeping child, a dead sleeper that must not take a permit meant for a
 * live one, over-release of a bounded semaphore, and release of the memory.
 */
#include "config.h"

#include <check.h>
#include <sched.h>
#include <stdatomic.h>
#include <unistd.h>

#include "children.h"
#include "support.h"

typedef struct board {
    _Atomic uint32_t inside;     /* children holding a permit now */
    _Atomic uint32_t most_inside; /* the most there ever were */
    _Atomic uint32_t rounds;     /* permits taken in all */
} board;

typedef struct setup {
    cf_semaphore *sem;
    board *board;
} setup;

static setup make_setup(unsigned value, bool bounded)
{
    setup s = {.board = map_shared(sizeof(board))};
    if (bounded)
        ck_assert_int_eq(cf_semaphore_new_bounded(&s.sem, value), 0);
    else
        ck_assert_int_eq(cf_semaphore_new(&s.sem, value), 0);
    return s;
}

static void free_setup(setup *s)
{
    cf_semaphore_free(s->sem);
    unmap_shared(s->board, sizeof(board));
}

enum { WORKERS = 5, PERMITS = 2, ROUNDS = 300 };

/* Takes a permit, records how many are inside with it, and gives it back. */
static int work_with_permit(void *arg)
{
    setup *s = arg;
    for (int i = 0; i < ROUNDS; i++) {
        if (cf_semaphore_acquire(s->sem, DEADLINE_S) != 0)
            return 1;
        uint32_t now = atomic_fetch_add(&s->board->inside, 1) + 1;
        uint32_t most = atomic_load(&s->board->most_inside);
        while (now > most && !atomic_compare_exchange_weak(&s->board->most_inside, &most, now)) {
        }
        atomic_fetch_add(&s->board->rounds, 1);
        sched_yield(); /* let others try to get in meanwhile */
        atomic_fetch_sub(&s->board->inside, 1);
        if (cf_semaphore_release(s->sem) != 0)
            return 2;
    }
    return 0;
}

START_TEST(semaphore_limits_concurrency)
{
    setup s = make_setup(PERMITS, true);
    pid_t pids[WORKERS];
    for (int i = 0; i < WORKERS; i++)
        pids[i] = fork_child(work_with_permit, &s);
    for (int i = 0; i < WORKERS; i++)
        expect_exit(pids[i], 0);
    ck_assert_uint_le(atomic_load(&s.board->most_inside), PERMITS);
    ck_assert_uint_ge(atomic_load(&s.board->most_inside), 1);
    ck_assert_uint_eq(atomic_load(&s.board->rounds), WORKERS * ROUNDS);
    ck_assert_uint_eq(cf_semaphore_value(s.sem), PERMITS);
    free_setup(&s);
}
END_TEST

START_TEST(semaphore_acquire_times_out)
{
    setup s = make_setup(1, false);
    ck_assert_int_eq(cf_semaphore_acquire(s.sem, 0), 0);
    ck_assert_int_eq(cf_semaphore_acquire(s.sem, 0), CF_ETIMEDOUT);
    ck_assert_int_eq(cf_semaphore_acquire(s.sem, 0.02), CF_ETIMEDOUT);
    ck_assert_uint_eq(cf_semaphore_value(s.sem), 0);
    ck_assert_int_eq(cf_semaphore_release(s.sem), 0);
    ck_assert_int_eq(cf_semaphore_acquire(s.sem, 0.02), 0);
    free_setup(&s);
}
END_TEST

/* Waits for a permit: exits 0 with one. */
static int wait_for_permit(void *arg)
{
    setup *s = arg;
    return cf_semaphore_acquire(s->sem, DEADLINE_S) == 0 ? 0 : 1;
}

START_TEST(semaphore_release_wakes_sleeping_child)
{
    setup s = make_setup(0, false);
    pid_t pid = fork_child(wait_for_permit, &s);
    wait_asleep(pid);
    ck_assert_int_eq(cf_semaphore_release(s.sem), 0);
    expect_exit(pid, 0);
    ck_assert_uint_eq(cf_semaphore_value(s.sem), 0);
    free_setup(&s);
}
END_TEST

/* A sleeper killed in acquire leaves the futex queue: the one permit
 * released afterwards goes to the live sleeper. */
START_TEST(semaphore_dead_waiter_takes_no_permit)
{
    setup s = make_setup(0, false);
    pid_t doomed = fork_child(wait_for_permit, &s);
    wait_asleep(doomed);
    kill_child(doomed);
    pid_t live = fork_child(wait_for_permit, &s);
    wait_asleep(live);
    ck_assert_int_eq(cf_semaphore_release(s.sem), 0);
    expect_exit(live, 0);
    ck_assert_uint_eq(cf_semaphore_value(s.sem), 0);
    free_setup(&s);
}
END_TEST

/* Releases one permit: a child may release what it did not acquire. */
static int release_one(void *arg)
{
    setup *s = arg;
    return cf_semaphore_release(s->sem) == 0 ? 0 : 1;
}

START_TEST(semaphore_bounded_refuses_over_release)
{
    setup s = make_setup(2, true);
    ck_assert_int_eq(cf_semaphore_release(s.sem), CF_ESTATE);
    ck_assert_uint_eq(cf_semaphore_value(s.sem), 2);
    ck_assert_int_eq(cf_semaphore_acquire(s.sem, 0), 0);
    ck_assert_int_eq(cf_semaphore_acquire(s.sem, 0), 0);
    ck_assert_int_eq(cf_semaphore_acquire(s.sem, 0), CF_ETIMEDOUT);
    expect_exit(fork_child(release_one, &s), 0);
    ck_assert_int_eq(cf_semaphore_release(s.sem), 0);
    ck_assert_int_eq(cf_semaphore_release(s.sem), CF_ESTATE);
    ck_assert_uint_eq(cf_semaphore_value(s.sem), 2);
    free_setup(&s);

    /* Unbounded: releases beyond the initial value count. */
    s = make_setup(0, false);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(cf_semaphore_release(s.sem), 0);
    ck_assert_uint_eq(cf_semaphore_value(s.sem), 3);
    free_setup(&s);
}
END_TEST

START_TEST(semaphore_rejects_bad_arguments)
{
    cf_semaphore *sem;
    ck_assert_int_eq(cf_semaphore_new(NULL, 1), CF_EINVAL);
    ck_assert_int_eq(cf_semaphore_new_bounded(NULL, 1), CF_EINVAL);
    ck_assert_int_eq(cf_semaphore_new(&sem, 1), 0);
    ck_assert_int_eq(cf_semaphore_acquire(NULL, 0), CF_EINVAL);
    ck_assert_int_eq(cf_semaphore_acquire(sem, 0.0 / 0.0), CF_EINVAL);
    ck_assert_int_eq(cf_semaphore_release(NULL), CF_EINVAL);
    ck_assert_uint_eq(cf_semaphore_value(NULL), 0);
    ck_assert_uint_eq(cf_semaphore_value(sem), 1);
    cf_semaphore_free(sem);
    cf_semaphore_free(NULL);
}
END_TEST

START_TEST(semaphore_free_leaves_no_mapping_or_fd)
{
    int fds = count_fds(), maps = count_shared_maps();
    cf_semaphore *sems[4];
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(cf_semaphore_new(&sems[i], (unsigned)i), 0);
    ck_assert_int_eq(count_shared_maps(), maps + 4);
    for (int i = 0; i < 4; i++)
        cf_semaphore_free(sems[i]);
    ck_assert_int_eq(count_shared_maps(), maps);
    ck_assert_int_eq(count_fds(), fds);
}
END_TEST

static Suite *semaphore_suite(void)
{
    Suite *s = suite_create("semaphore");
    TCase *tc = tcase_create("semaphore");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, semaphore_limits_concurrency);
    tcase_add_test(tc, semaphore_acquire_times_out);
    tcase_add_test(tc, semaphore_release_wakes_sleeping_child);
    tcase_add_test(tc, semaphore_dead_waiter_takes_no_permit);
    tcase_add_test(tc, semaphore_bounded_refuses_over_release);
    tcase_add_test(tc, semaphore_rejects_bad_arguments);
    tcase_add_test(tc, semaphore_free_leaves_no_mapping_or_fd);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(semaphore_suite());
}
