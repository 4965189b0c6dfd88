/* test_barrier.c: cf_barrier across forked processes: rounds that release
 * every party together with distinct arrival indexes, the action run once
 * per round by the last party, timeouts that break the barrier, abort and
 * reset (waiters get CF_EBROKEN; reset mends), a failing action, and a party
 * that dies inside the action.
 */
#include "config.h"

#include <check.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <unistd.h>

#include "children.h"
#include "support.h"

enum { PARTIES = 4, ROUNDS = 20 };

typedef struct board {
    _Atomic uint32_t arrived[ROUNDS]; /* parties that reached round r */
    _Atomic uint32_t indexes[ROUNDS]; /* bit i: some party got index i in round r */
    _Atomic uint32_t actions;         /* times the action ran */
    _Atomic int32_t action_pid;       /* the process that ran it last */
} board;

typedef struct setup {
    cf_barrier *barrier;
    board *board;
} setup;

static int count_action(void *arg)
{
    board *b = arg;
    atomic_fetch_add(&b->actions, 1);
    atomic_store(&b->action_pid, (int32_t)getpid());
    return 0;
}

static setup make_setup(unsigned parties, cf_barrier_action action)
{
    setup s = {.board = map_shared(sizeof(board))};
    ck_assert_int_eq(cf_barrier_new(&s.barrier, parties, action, s.board), 0);
    return s;
}

static void free_setup(setup *s)
{
    cf_barrier_free(s->barrier);
    unmap_shared(s->board, sizeof(board));
}

/* Goes through ROUNDS rounds; after each, every party must have arrived. */
static int go_through_rounds(void *arg)
{
    setup *s = arg;
    for (int r = 0; r < ROUNDS; r++) {
        atomic_fetch_add(&s->board->arrived[r], 1);
        unsigned index = PARTIES;
        if (cf_barrier_wait(s->barrier, DEADLINE_S, &index) != 0)
            return 1;
        if (atomic_load(&s->board->arrived[r]) != PARTIES)
            return 2; /* released before everyone arrived */
        if (index >= PARTIES)
            return 3;
        atomic_fetch_or(&s->board->indexes[r], 1u << index);
        if (index == PARTIES - 1 && atomic_load(&s->board->action_pid) != (int32_t)getpid())
            return 4; /* the last party runs the action */
    }
    return 0;
}

START_TEST(barrier_rounds_across_processes)
{
    setup s = make_setup(PARTIES, count_action);
    ck_assert_uint_eq(cf_barrier_parties(s.barrier), PARTIES);
    pid_t pids[PARTIES];
    for (int i = 0; i < PARTIES; i++)
        pids[i] = fork_child(go_through_rounds, &s);
    for (int i = 0; i < PARTIES; i++)
        expect_exit(pids[i], 0);
    for (int r = 0; r < ROUNDS; r++)
        ck_assert_uint_eq(atomic_load(&s.board->indexes[r]), (1u << PARTIES) - 1);
    ck_assert_uint_eq(atomic_load(&s.board->actions), ROUNDS);
    ck_assert_uint_eq(cf_barrier_n_waiting(s.barrier), 0);
    ck_assert(!cf_barrier_broken(s.barrier));
    free_setup(&s);
}
END_TEST

START_TEST(barrier_timeout_breaks_it)
{
    setup s = make_setup(2, NULL);
    ck_assert_int_eq(cf_barrier_wait(s.barrier, 0.02, NULL), CF_ETIMEDOUT);
    ck_assert(cf_barrier_broken(s.barrier));
    ck_assert_int_eq(cf_barrier_wait(s.barrier, 0.02, NULL), CF_EBROKEN);
    ck_assert_uint_eq(cf_barrier_n_waiting(s.barrier), 0);
    ck_assert_int_eq(cf_barrier_reset(s.barrier), 0);
    ck_assert(!cf_barrier_broken(s.barrier));
    ck_assert_int_eq(cf_barrier_wait(s.barrier, 0, NULL), CF_ETIMEDOUT);
    free_setup(&s);
}
END_TEST

/* Waits at the barrier: exits 0 when told it is broken. */
static int expect_broken(void *arg)
{
    setup *s = arg;
    return cf_barrier_wait(s->barrier, DEADLINE_S, NULL) == CF_EBROKEN ? 0 : 1;
}

/* Waits at the barrier: exits 0 when released. */
static int expect_released(void *arg)
{
    setup *s = arg;
    return cf_barrier_wait(s->barrier, DEADLINE_S, NULL) == 0 ? 0 : 1;
}

START_TEST(barrier_abort_breaks_waiters)
{
    setup s = make_setup(3, NULL);
    pid_t pids[2];
    for (int i = 0; i < 2; i++)
        pids[i] = fork_child(expect_broken, &s);
    ck_assert(EVENTUALLY(cf_barrier_n_waiting(s.barrier) == 2));
    ck_assert_int_eq(cf_barrier_abort(s.barrier), 0);
    for (int i = 0; i < 2; i++)
        expect_exit(pids[i], 0);
    ck_assert(cf_barrier_broken(s.barrier));
    ck_assert_int_eq(cf_barrier_wait(s.barrier, DEADLINE_S, NULL), CF_EBROKEN);
    ck_assert_int_eq(cf_barrier_reset(s.barrier), 0);
    /* Mended: a full round goes through. */
    for (int i = 0; i < 2; i++)
        pids[i] = fork_child(expect_released, &s);
    unsigned index;
    ck_assert_int_eq(cf_barrier_wait(s.barrier, DEADLINE_S, &index), 0);
    ck_assert_uint_lt(index, 3);
    for (int i = 0; i < 2; i++)
        expect_exit(pids[i], 0);
    free_setup(&s);
}
END_TEST

START_TEST(barrier_reset_breaks_waiters_and_mends)
{
    setup s = make_setup(2, NULL);
    pid_t pid = fork_child(expect_broken, &s);
    ck_assert(EVENTUALLY(cf_barrier_n_waiting(s.barrier) == 1));
    ck_assert_int_eq(cf_barrier_reset(s.barrier), 0);
    expect_exit(pid, 0);
    ck_assert(!cf_barrier_broken(s.barrier));
    ck_assert_uint_eq(cf_barrier_n_waiting(s.barrier), 0);
    pid = fork_child(expect_released, &s);
    ck_assert_int_eq(cf_barrier_wait(s.barrier, DEADLINE_S, NULL), 0);
    expect_exit(pid, 0);
    free_setup(&s);
}
END_TEST

static int failing_action(void *arg)
{
    (void)arg;
    return CF_EINVAL;
}

START_TEST(barrier_failing_action_breaks_it)
{
    setup s = make_setup(2, failing_action);
    pid_t pid = fork_child(expect_broken, &s);
    ck_assert(EVENTUALLY(cf_barrier_n_waiting(s.barrier) == 1));
    ck_assert_int_eq(cf_barrier_wait(s.barrier, DEADLINE_S, NULL), CF_EINVAL);
    expect_exit(pid, 0);
    ck_assert(cf_barrier_broken(s.barrier));
    free_setup(&s);
}
END_TEST

static int dying_action(void *arg)
{
    (void)arg;
    raise(SIGKILL);
    return 0;
}

static int arrive_last_and_die(void *arg)
{
    setup *s = arg;
    cf_barrier_wait(s->barrier, DEADLINE_S, NULL);
    return 1;
}

/* The last party dies in the action, holding the barrier's internal lock:
 * the next call on the barrier finds it broken, and wakes the waiter. */
START_TEST(barrier_party_dies_in_action)
{
    setup s = make_setup(2, dying_action);
    pid_t waiter = fork_child(expect_broken, &s);
    ck_assert(EVENTUALLY(cf_barrier_n_waiting(s.barrier) == 1));
    pid_t last = fork_child(arrive_last_and_die, &s);
    int status = reap_child(last);
    ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    ck_assert_int_eq(cf_barrier_wait(s.barrier, DEADLINE_S, NULL), CF_EBROKEN);
    expect_exit(waiter, 0);
    ck_assert(cf_barrier_broken(s.barrier));
    ck_assert_int_eq(cf_barrier_reset(s.barrier), 0);
    ck_assert(!cf_barrier_broken(s.barrier));
    free_setup(&s);
}
END_TEST

START_TEST(barrier_rejects_bad_arguments)
{
    cf_barrier *b;
    ck_assert_int_eq(cf_barrier_new(NULL, 2, NULL, NULL), CF_EINVAL);
    ck_assert_int_eq(cf_barrier_new(&b, 0, NULL, NULL), CF_EINVAL);
    ck_assert_ptr_null(b);
    ck_assert_int_eq(cf_barrier_new(&b, 1, NULL, NULL), 0);
    unsigned index = 7;
    ck_assert_int_eq(cf_barrier_wait(b, 0, &index), 0); /* one party: never waits */
    ck_assert_uint_eq(index, 0);
    ck_assert_int_eq(cf_barrier_wait(NULL, 0, NULL), CF_EINVAL);
    ck_assert_int_eq(cf_barrier_wait(b, 0.0 / 0.0, NULL), CF_EINVAL);
    ck_assert_int_eq(cf_barrier_abort(NULL), CF_EINVAL);
    ck_assert_int_eq(cf_barrier_reset(NULL), CF_EINVAL);
    ck_assert_uint_eq(cf_barrier_parties(NULL), 0);
    ck_assert_uint_eq(cf_barrier_n_waiting(NULL), 0);
    ck_assert(!cf_barrier_broken(NULL));
    cf_barrier_free(b);
    cf_barrier_free(NULL);
}
END_TEST

START_TEST(barrier_free_leaves_no_mapping_or_fd)
{
    int fds = count_fds(), maps = count_shared_maps();
    cf_barrier *bs[3];
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(cf_barrier_new(&bs[i], 2, NULL, NULL), 0);
    ck_assert_int_eq(count_shared_maps(), maps + 3);
    for (int i = 0; i < 3; i++)
        cf_barrier_free(bs[i]);
    ck_assert_int_eq(count_shared_maps(), maps);
    ck_assert_int_eq(count_fds(), fds);
}
END_TEST

static Suite *barrier_suite(void)
{
    Suite *s = suite_create("barrier");
    TCase *tc = tcase_create("barrier");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, barrier_rounds_across_processes);
    tcase_add_test(tc, barrier_timeout_breaks_it);
    tcase_add_test(tc, barrier_abort_breaks_waiters);
    tcase_add_test(tc, barrier_reset_breaks_waiters_and_mends);
    tcase_add_test(tc, barrier_failing_action_breaks_it);
    tcase_add_test(tc, barrier_party_dies_in_action);
    tcase_add_test(tc, barrier_rejects_bad_arguments);
    tcase_add_test(tc, barrier_free_leaves_no_mapping_or_fd);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(barrier_suite());
}
