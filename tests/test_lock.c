/* test_lock.c: cf_lock and cf_rlock across forked processes: exact counts
 * under contention, a holder killed (or a thread ended) with the lock held,
 * timeouts, ownership (recursion, release by a thread that does not hold
 * it), and release: no mapping or descriptor left after free, and a child
 * that keeps using a lock its parent freed.
 *
 * Children report through shared memory (a stage counter) or their exit
 * status; the parent lets them go through a pipe. Nothing sleeps to order
 * events.
 */
#include "config.h"

#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "children.h"
#include "support.h"

/* What the test's processes share besides the lock. */
typedef struct board {
    _Atomic uint32_t stage;
    uint64_t counter; /* only changed with the lock held */
} board;

typedef struct setup {
    cf_lock *lock;
    cf_rlock *rlock;
    board *board;
    chan go; /* the parent writes a byte when a child may go on */
} setup;

static setup make_setup(void)
{
    setup s = {.board = map_shared(sizeof(board)), .go = new_chan()};
    ck_assert_int_eq(cf_lock_new(&s.lock), 0);
    ck_assert_int_eq(cf_rlock_new(&s.rlock), 0);
    return s;
}

static void free_setup(setup *s)
{
    cf_lock_free(s->lock);
    cf_rlock_free(s->rlock);
    unmap_shared(s->board, sizeof(board));
    close_chan(s->go);
}

static void wait_stage(board *b, uint32_t stage)
{
    ck_assert_msg(EVENTUALLY(atomic_load(&b->stage) >= stage), "stage %u not reached", stage);
}

/* In a child: waits for the parent's go-ahead byte. */
static bool await_go(setup *s)
{
    char byte;
    return read_full(s->go.rd, &byte, 1) == 0;
}

/* ---- Lock ------------------------------------------------------------------------------- */

enum { CHILDREN = 4, INCREMENTS = 20000 };

static int increment_under_lock(void *arg)
{
    setup *s = arg;
    for (int i = 0; i < INCREMENTS; i++) {
        if (cf_lock_acquire(s->lock, DEADLINE_S) != 0)
            return 1;
        uint64_t v = s->board->counter; /* exact only if the lock excludes the others */
        s->board->counter = v + 1;
        if (cf_lock_release(s->lock) != 0)
            return 2;
    }
    return 0;
}

START_TEST(lock_counts_exactly_across_processes)
{
    setup s = make_setup();
    pid_t pids[CHILDREN];
    for (int i = 0; i < CHILDREN; i++)
        pids[i] = fork_child(increment_under_lock, &s);
    for (int i = 0; i < CHILDREN; i++)
        expect_exit(pids[i], 0);
    ck_assert_uint_eq(s.board->counter, (uint64_t)CHILDREN * INCREMENTS);
    free_setup(&s);
}
END_TEST

/* Takes the lock, marks the state half-updated, says so, and never lets go. */
static int hold_lock_forever(void *arg)
{
    setup *s = arg;
    if (cf_lock_acquire(s->lock, DEADLINE_S) != 0)
        return 1;
    s->board->counter = 1;
    atomic_store(&s->board->stage, 1);
    for (;;)
        pause();
}

START_TEST(lock_holder_killed)
{
    setup s = make_setup();
    pid_t pid = fork_child(hold_lock_forever, &s);
    wait_stage(s.board, 1);
    ck_assert(cf_lock_locked(s.lock));
    ck_assert_int_eq(cf_lock_acquire(s.lock, 0), CF_ETIMEDOUT);
    kill_child(pid);
    ck_assert(!cf_lock_locked(s.lock));
    ck_assert_int_eq(cf_lock_acquire(s.lock, DEADLINE_S), CF_EOWNERDEAD);
    ck_assert_ptr_nonnull(strstr(cf_last_error(), "died"));
    ck_assert(cf_lock_locked(s.lock));
    ck_assert_uint_eq(s.board->counter, 1); /* what the dead holder left */
    s.board->counter = 0;                   /* repaired */
    ck_assert_int_eq(cf_lock_release(s.lock), 0);
    ck_assert_int_eq(cf_lock_acquire(s.lock, DEADLINE_S), 0);
    ck_assert_int_eq(cf_lock_release(s.lock), 0);
    free_setup(&s);
}
END_TEST

/* Takes the lock, says so, and releases it once the parent says go. */
static int hold_lock_until_go(void *arg)
{
    setup *s = arg;
    if (cf_lock_acquire(s->lock, DEADLINE_S) != 0)
        return 1;
    atomic_store(&s->board->stage, 1);
    if (!await_go(s))
        return 2;
    return cf_lock_release(s->lock) == 0 ? 0 : 3;
}

START_TEST(lock_acquire_times_out)
{
    setup s = make_setup();
    pid_t pid = fork_child(hold_lock_until_go, &s);
    wait_stage(s.board, 1);
    ck_assert_int_eq(cf_lock_acquire(s.lock, 0), CF_ETIMEDOUT);
    ck_assert_int_eq(cf_lock_acquire(s.lock, 0.02), CF_ETIMEDOUT);
    ck_assert_int_eq(cf_lock_release(s.lock), CF_ESTATE);
    release(s.go, 1);
    expect_exit(pid, 0);
    ck_assert_int_eq(cf_lock_acquire(s.lock, 0), 0);
    ck_assert_int_eq(cf_lock_release(s.lock), 0);
    free_setup(&s);
}
END_TEST

/* Tries to release the lock its parent holds: exits 0 when refused. */
static int release_parents_lock(void *arg)
{
    setup *s = arg;
    return cf_lock_release(s->lock) == CF_ESTATE ? 0 : 1;
}

START_TEST(lock_ownership_errors)
{
    setup s = make_setup();
    ck_assert_int_eq(cf_lock_release(s.lock), CF_ESTATE);
    ck_assert_int_eq(cf_lock_acquire(s.lock, CF_FOREVER), 0);
    ck_assert_int_eq(cf_lock_acquire(s.lock, CF_FOREVER), CF_EDEADLOCK);
    ck_assert_int_eq(cf_lock_acquire(s.lock, 0.01), CF_EDEADLOCK);
    expect_exit(fork_child(release_parents_lock, &s), 0);
    ck_assert(cf_lock_locked(s.lock));
    ck_assert_int_eq(cf_lock_release(s.lock), 0);
    ck_assert_int_eq(cf_lock_release(s.lock), CF_ESTATE);
    free_setup(&s);
}
END_TEST

START_TEST(lock_rejects_bad_arguments)
{
    cf_lock *lock;
    ck_assert_int_eq(cf_lock_new(NULL), CF_EINVAL);
    ck_assert_int_eq(cf_lock_new(&lock), 0);
    ck_assert_int_eq(cf_lock_acquire(NULL, 0), CF_EINVAL);
    ck_assert_int_eq(cf_lock_acquire(lock, 0.0 / 0.0), CF_EINVAL);
    ck_assert_int_eq(cf_lock_release(NULL), CF_EINVAL);
    ck_assert(!cf_lock_locked(NULL));
    cf_lock_free(lock);
    cf_lock_free(NULL);
    ck_assert_int_eq(cf_rlock_new(NULL), CF_EINVAL);
    ck_assert_int_eq(cf_rlock_acquire(NULL, 0), CF_EINVAL);
    ck_assert_int_eq(cf_rlock_release(NULL), CF_EINVAL);
    cf_rlock_free(NULL);
}
END_TEST

static void *acquire_and_end(void *arg)
{
    return (void *)(intptr_t)cf_lock_acquire(arg, DEADLINE_S);
}

/* A thread that ends holding the lock counts as dead. */
START_TEST(lock_thread_ended_holding_it)
{
    cf_lock *lock;
    ck_assert_int_eq(cf_lock_new(&lock), 0);
    pthread_t t;
    void *rc;
    ck_assert_int_eq(pthread_create(&t, NULL, acquire_and_end, lock), 0);
    ck_assert_int_eq(pthread_join(t, &rc), 0);
    ck_assert_int_eq((int)(intptr_t)rc, 0);
    ck_assert_int_eq(cf_lock_acquire(lock, DEADLINE_S), CF_EOWNERDEAD);
    ck_assert_int_eq(cf_lock_release(lock), 0);
    ck_assert_int_eq(cf_lock_acquire(lock, 0), 0);
    ck_assert_int_eq(cf_lock_release(lock), 0);
    cf_lock_free(lock);
}
END_TEST

/* Uses the lock after the parent freed its own view of it. */
static int use_lock_after_parent_freed(void *arg)
{
    setup *s = arg;
    if (!await_go(s))
        return 1;
    if (cf_lock_acquire(s->lock, 0) != 0)
        return 2;
    return cf_lock_release(s->lock) == 0 ? 0 : 3;
}

START_TEST(lock_free_releases_only_this_process)
{
    int fds = count_fds(), maps = count_shared_maps();
    cf_lock *locks[5];
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(cf_lock_new(&locks[i]), 0);
    ck_assert_int_eq(count_shared_maps(), maps + 5);
    ck_assert_int_eq(count_fds(), fds);
    for (int i = 0; i < 5; i++)
        cf_lock_free(locks[i]);
    ck_assert_int_eq(count_shared_maps(), maps);
    ck_assert_int_eq(count_fds(), fds);

    setup s = make_setup();
    pid_t pid = fork_child(use_lock_after_parent_freed, &s);
    cf_lock_free(s.lock);
    release(s.go, 1);
    expect_exit(pid, 0);
    s.lock = NULL;
    free_setup(&s);
}
END_TEST

/* ---- RLock ------------------------------------------------------------------------------ */

static int rlock_try_once(void *arg)
{
    setup *s = arg;
    int rc = cf_rlock_acquire(s->rlock, 0);
    if (rc == CF_ETIMEDOUT)
        return 10;
    if (rc != 0)
        return 1;
    return cf_rlock_release(s->rlock) == 0 ? 0 : 2;
}

START_TEST(rlock_recursion)
{
    setup s = make_setup();
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(cf_rlock_acquire(s.rlock, 0), 0);
    ck_assert_int_eq(cf_rlock_release(s.rlock), 0);
    ck_assert_int_eq(cf_rlock_release(s.rlock), 0);
    expect_exit(fork_child(rlock_try_once, &s), 10); /* still held once */
    ck_assert_int_eq(cf_rlock_release(s.rlock), 0);
    ck_assert_int_eq(cf_rlock_release(s.rlock), CF_ESTATE);
    expect_exit(fork_child(rlock_try_once, &s), 0);
    free_setup(&s);
}
END_TEST

static int hold_rlock_deep_until_go(void *arg)
{
    setup *s = arg;
    for (int i = 0; i < 3; i++)
        if (cf_rlock_acquire(s->rlock, DEADLINE_S) != 0)
            return 1;
    atomic_store(&s->board->stage, 1);
    if (!await_go(s))
        return 2;
    for (int i = 0; i < 3; i++)
        if (cf_rlock_release(s->rlock) != 0)
            return 3;
    return 0;
}

START_TEST(rlock_release_by_non_owner_refused)
{
    setup s = make_setup();
    pid_t pid = fork_child(hold_rlock_deep_until_go, &s);
    wait_stage(s.board, 1);
    ck_assert_int_eq(cf_rlock_release(s.rlock), CF_ESTATE);
    ck_assert_int_eq(cf_rlock_acquire(s.rlock, 0.02), CF_ETIMEDOUT);
    release(s.go, 1);
    expect_exit(pid, 0);
    ck_assert_int_eq(cf_rlock_acquire(s.rlock, 0), 0);
    ck_assert_int_eq(cf_rlock_release(s.rlock), 0);
    free_setup(&s);
}
END_TEST

static int hold_rlock_deep_forever(void *arg)
{
    setup *s = arg;
    for (int i = 0; i < 3; i++)
        if (cf_rlock_acquire(s->rlock, DEADLINE_S) != 0)
            return 1;
    atomic_store(&s->board->stage, 1);
    for (;;)
        pause();
}

START_TEST(rlock_holder_killed_at_depth)
{
    setup s = make_setup();
    pid_t pid = fork_child(hold_rlock_deep_forever, &s);
    wait_stage(s.board, 1);
    kill_child(pid);
    ck_assert_int_eq(cf_rlock_acquire(s.rlock, DEADLINE_S), CF_EOWNERDEAD);
    ck_assert_int_eq(cf_rlock_release(s.rlock), 0); /* held once, whatever the dead depth */
    ck_assert_int_eq(cf_rlock_release(s.rlock), CF_ESTATE);
    expect_exit(fork_child(rlock_try_once, &s), 0);
    ck_assert_int_eq(cf_rlock_acquire(s.rlock, 0), 0);
    ck_assert_int_eq(cf_rlock_release(s.rlock), 0);
    free_setup(&s);
}
END_TEST

static int increment_under_nested_rlock(void *arg)
{
    setup *s = arg;
    for (int i = 0; i < INCREMENTS; i++) {
        if (cf_rlock_acquire(s->rlock, DEADLINE_S) != 0
            || cf_rlock_acquire(s->rlock, DEADLINE_S) != 0)
            return 1;
        uint64_t v = s->board->counter;
        s->board->counter = v + 1;
        if (cf_rlock_release(s->rlock) != 0 || cf_rlock_release(s->rlock) != 0)
            return 2;
    }
    return 0;
}

START_TEST(rlock_counts_exactly_across_processes)
{
    setup s = make_setup();
    pid_t pids[CHILDREN];
    for (int i = 0; i < CHILDREN; i++)
        pids[i] = fork_child(increment_under_nested_rlock, &s);
    for (int i = 0; i < CHILDREN; i++)
        expect_exit(pids[i], 0);
    ck_assert_uint_eq(s.board->counter, (uint64_t)CHILDREN * INCREMENTS);
    free_setup(&s);
}
END_TEST

static Suite *lock_suite(void)
{
    Suite *s = suite_create("lock");
    TCase *tc = tcase_create("lock");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, lock_counts_exactly_across_processes);
    tcase_add_test(tc, lock_holder_killed);
    tcase_add_test(tc, lock_acquire_times_out);
    tcase_add_test(tc, lock_ownership_errors);
    tcase_add_test(tc, lock_rejects_bad_arguments);
    tcase_add_test(tc, lock_thread_ended_holding_it);
    tcase_add_test(tc, lock_free_releases_only_this_process);
    suite_add_tcase(s, tc);

    tc = tcase_create("rlock");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, rlock_recursion);
    tcase_add_test(tc, rlock_release_by_non_owner_refused);
    tcase_add_test(tc, rlock_holder_killed_at_depth);
    tcase_add_test(tc, rlock_counts_exactly_across_processes);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(lock_suite());
}
