/* test_condition.c: cf_condition across forked processes, over a cf_lock, a
 * cf_rlock and a lock of its own: notify and wait_for with a predicate,
 * producers and consumers whose counts add up exactly, timeouts (with the
 * lock held again afterwards), waiting or notifying without the lock, an
 * RLock released completely for the wait and restored, and a holder that
 * dies while a waiter sleeps.
 */
#include "config.h"

#include <check.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "children.h"
#include "support.h"

typedef struct board {
    _Atomic uint32_t stage;
    uint32_t ready; /* predicates read and write these with the lock held */
    uint32_t items;
    uint32_t consumed;
    uint32_t produced_all;
} board;

typedef struct setup {
    cf_lock *lock;
    cf_rlock *rlock;
    cf_condition *cond;
    board *board;
} setup;

enum over { OVER_LOCK, OVER_RLOCK, OVER_OWN };

static setup make_setup(enum over over)
{
    setup s = {.board = map_shared(sizeof(board))};
    if (over == OVER_LOCK) {
        ck_assert_int_eq(cf_lock_new(&s.lock), 0);
        ck_assert_int_eq(cf_condition_new(&s.cond, s.lock), 0);
    } else if (over == OVER_RLOCK) {
        ck_assert_int_eq(cf_rlock_new(&s.rlock), 0);
        ck_assert_int_eq(cf_condition_new(&s.cond, s.rlock), 0);
    } else {
        ck_assert_int_eq(cf_condition_new(&s.cond, NULL), 0);
    }
    return s;
}

static void free_setup(setup *s)
{
    cf_condition_free(s->cond);
    cf_lock_free(s->lock);
    cf_rlock_free(s->rlock);
    unmap_shared(s->board, sizeof(board));
}

static bool is_ready(void *arg)
{
    return ((board *)arg)->ready != 0;
}

/* Waits under the lock for `ready`: exits 0 when it saw it. */
static int wait_until_ready(void *arg)
{
    setup *s = arg;
    if (cf_condition_acquire(s->cond, DEADLINE_S) != 0)
        return 1;
    atomic_fetch_add(&s->board->stage, 1);
    if (cf_condition_wait_for(s->cond, is_ready, s->board, DEADLINE_S) != 0)
        return 2;
    return cf_condition_release(s->cond) == 0 ? 0 : 3;
}

static void notify_ready(setup *s)
{
    ck_assert_int_eq(cf_condition_acquire(s->cond, DEADLINE_S), 0);
    s->board->ready = 1;
    ck_assert_int_eq(cf_condition_notify_all(s->cond), 0);
    ck_assert_int_eq(cf_condition_release(s->cond), 0);
}

static void notify_all_wakes_children(enum over over)
{
    setup s = make_setup(over);
    pid_t pids[3];
    for (int i = 0; i < 3; i++)
        pids[i] = fork_child(wait_until_ready, &s);
    ck_assert(EVENTUALLY(atomic_load(&s.board->stage) == 3));
    notify_ready(&s);
    for (int i = 0; i < 3; i++)
        expect_exit(pids[i], 0);
    free_setup(&s);
}

START_TEST(condition_notify_all_over_lock)
{
    notify_all_wakes_children(OVER_LOCK);
}
END_TEST

START_TEST(condition_notify_all_over_rlock)
{
    notify_all_wakes_children(OVER_RLOCK);
}
END_TEST

START_TEST(condition_notify_all_over_own_lock)
{
    notify_all_wakes_children(OVER_OWN);
}
END_TEST

enum { CONSUMERS = 3, PER_CONSUMER = 500 };

static bool has_item(void *arg)
{
    return ((board *)arg)->items > 0;
}

/* Takes PER_CONSUMER items, one at a time, waiting for each. */
static int consume(void *arg)
{
    setup *s = arg;
    for (int i = 0; i < PER_CONSUMER; i++) {
        if (cf_condition_acquire(s->cond, DEADLINE_S) != 0)
            return 1;
        if (cf_condition_wait_for(s->cond, has_item, s->board, DEADLINE_S) != 0)
            return 2;
        s->board->items--;
        s->board->consumed++;
        if (cf_condition_release(s->cond) != 0)
            return 3;
    }
    return 0;
}

START_TEST(condition_producer_consumers_add_up)
{
    setup s = make_setup(OVER_LOCK);
    pid_t pids[CONSUMERS];
    for (int i = 0; i < CONSUMERS; i++)
        pids[i] = fork_child(consume, &s);
    for (int i = 0; i < CONSUMERS * PER_CONSUMER; i++) {
        ck_assert_int_eq(cf_condition_acquire(s.cond, DEADLINE_S), 0);
        s.board->items++;
        ck_assert_int_eq(cf_condition_notify(s.cond, 1), 0);
        ck_assert_int_eq(cf_condition_release(s.cond), 0);
    }
    for (int i = 0; i < CONSUMERS; i++)
        expect_exit(pids[i], 0);
    ck_assert_uint_eq(s.board->consumed, CONSUMERS * PER_CONSUMER);
    ck_assert_uint_eq(s.board->items, 0);
    free_setup(&s);
}
END_TEST

static bool never(void *arg)
{
    (void)arg;
    return false;
}

START_TEST(condition_wait_times_out_with_lock_held)
{
    setup s = make_setup(OVER_LOCK);
    ck_assert_int_eq(cf_condition_acquire(s.cond, 0), 0);
    ck_assert_int_eq(cf_condition_wait(s.cond, 0), CF_ETIMEDOUT);
    ck_assert_int_eq(cf_condition_wait(s.cond, 0.02), CF_ETIMEDOUT);
    ck_assert_int_eq(cf_condition_wait_for(s.cond, never, NULL, 0.02), CF_ETIMEDOUT);
    ck_assert_int_eq(cf_condition_wait_for(s.cond, never, NULL, 0), CF_ETIMEDOUT);
    ck_assert(cf_lock_locked(s.lock));
    ck_assert_int_eq(cf_lock_release(s.lock), 0);
    free_setup(&s);
}
END_TEST

START_TEST(condition_refuses_calls_without_lock)
{
    setup s = make_setup(OVER_RLOCK);
    ck_assert_int_eq(cf_condition_wait(s.cond, 0), CF_ESTATE);
    ck_assert_int_eq(cf_condition_wait_for(s.cond, never, NULL, 0), CF_ESTATE);
    ck_assert_int_eq(cf_condition_notify(s.cond, 1), CF_ESTATE);
    ck_assert_int_eq(cf_condition_notify_all(s.cond), CF_ESTATE);
    ck_assert_int_eq(cf_condition_release(s.cond), CF_ESTATE);
    ck_assert_int_eq(cf_condition_acquire(s.cond, 0), 0);
    ck_assert_int_eq(cf_condition_notify(s.cond, 0), 0);
    ck_assert_int_eq(cf_condition_notify(s.cond, 5), 0);
    ck_assert_int_eq(cf_condition_wait_for(s.cond, NULL, NULL, 0), CF_EINVAL);
    ck_assert_int_eq(cf_condition_wait(s.cond, 0.0 / 0.0), CF_EINVAL);
    ck_assert_int_eq(cf_condition_release(s.cond), 0);
    cf_condition *other = s.cond;
    ck_assert_int_eq(cf_condition_new_with_lock(&other, NULL), CF_EINVAL);
    ck_assert_ptr_null(other);
    ck_assert_int_eq(cf_condition_new(NULL, NULL), CF_EINVAL);
    ck_assert_int_eq(cf_condition_wait(NULL, 0), CF_EINVAL);
    ck_assert_int_eq(cf_condition_acquire(NULL, 0), CF_EINVAL);
    free_setup(&s);
}
END_TEST

/* Takes the RLock (possible only if the parent's wait released every
 * level), sets `ready`, notifies, releases. */
static int take_rlock_and_notify(void *arg)
{
    setup *s = arg;
    if (cf_rlock_acquire(s->rlock, DEADLINE_S) != 0)
        return 1;
    s->board->ready = 1;
    if (cf_condition_notify_all(s->cond) != 0)
        return 2;
    return cf_rlock_release(s->rlock) == 0 ? 0 : 3;
}

START_TEST(condition_wait_releases_rlock_completely)
{
    setup s = make_setup(OVER_RLOCK);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(cf_rlock_acquire(s.rlock, 0), 0);
    pid_t pid = fork_child(take_rlock_and_notify, &s);
    ck_assert_int_eq(cf_condition_wait_for(s.cond, is_ready, s.board, DEADLINE_S), 0);
    expect_exit(pid, 0);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(cf_rlock_release(s.rlock), 0);
    ck_assert_int_eq(cf_rlock_release(s.rlock), CF_ESTATE);
    free_setup(&s);
}
END_TEST

/* Takes the lock while the parent waits, sets `ready`, notifies, and dies
 * holding the lock. */
static int notify_and_die(void *arg)
{
    setup *s = arg;
    if (cf_condition_acquire(s->cond, DEADLINE_S) != 0)
        return 1;
    s->board->ready = 1;
    cf_condition_notify_all(s->cond);
    raise(SIGKILL);
    return 2;
}

START_TEST(condition_holder_dies_while_waiter_sleeps)
{
    setup s = make_setup(OVER_LOCK);
    ck_assert_int_eq(cf_condition_acquire(s.cond, 0), 0);
    pid_t pid = fork_child(notify_and_die, &s);
    ck_assert_int_eq(cf_condition_wait_for(s.cond, is_ready, s.board, DEADLINE_S), CF_EOWNERDEAD);
    ck_assert_ptr_nonnull(strstr(cf_last_error(), "died"));
    ck_assert(cf_lock_locked(s.lock));
    ck_assert_int_eq(cf_condition_release(s.cond), 0);
    int status = reap_child(pid);
    ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    ck_assert_int_eq(cf_condition_acquire(s.cond, 0), 0);
    ck_assert_int_eq(cf_condition_release(s.cond), 0);
    free_setup(&s);
}
END_TEST

START_TEST(condition_free_leaves_no_mapping_or_fd)
{
    int fds = count_fds(), maps = count_shared_maps();
    cf_lock *lock;
    ck_assert_int_eq(cf_lock_new(&lock), 0);
    cf_condition *conds[3];
    ck_assert_int_eq(cf_condition_new(&conds[0], lock), 0);
    ck_assert_int_eq(cf_condition_new(&conds[1], lock), 0); /* two conditions, one lock */
    ck_assert_int_eq(cf_condition_new(&conds[2], NULL), 0);
    ck_assert_int_eq(count_shared_maps(), maps + 4);
    for (int i = 0; i < 3; i++)
        cf_condition_free(conds[i]);
    ck_assert_int_eq(cf_lock_acquire(lock, 0), 0); /* the lock outlives its conditions */
    ck_assert_int_eq(cf_lock_release(lock), 0);
    cf_lock_free(lock);
    cf_condition_free(NULL);
    ck_assert_int_eq(count_shared_maps(), maps);
    ck_assert_int_eq(count_fds(), fds);
}
END_TEST

static Suite *condition_suite(void)
{
    Suite *s = suite_create("condition");
    TCase *tc = tcase_create("condition");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, condition_notify_all_over_lock);
    tcase_add_test(tc, condition_notify_all_over_rlock);
    tcase_add_test(tc, condition_notify_all_over_own_lock);
    tcase_add_test(tc, condition_producer_consumers_add_up);
    tcase_add_test(tc, condition_wait_times_out_with_lock_held);
    tcase_add_test(tc, condition_refuses_calls_without_lock);
    tcase_add_test(tc, condition_wait_releases_rlock_completely);
    tcase_add_test(tc, condition_holder_dies_while_waiter_sleeps);
    tcase_add_test(tc, condition_free_leaves_no_mapping_or_fd);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(condition_suite());
}
