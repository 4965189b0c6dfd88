/* test_event.c: cf_event across forked processes: a gate that holds
 * children until the parent sets it, timeouts, set/clear/is_set, a set
 * immediately cleared still releasing the children already waiting (as in
 * Python), threads and processes waiting together, and release of the memory.
 */
#include "config.h"

#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <unistd.h>

#include "children.h"
#include "support.h"

typedef struct board {
    _Atomic uint32_t arrived; /* children at the gate */
    _Atomic uint32_t passed;  /* children through it */
} board;

typedef struct setup {
    cf_event *ev;
    board *board;
} setup;

static setup make_setup(void)
{
    setup s = {.board = map_shared(sizeof(board))};
    ck_assert_int_eq(cf_event_new(&s.ev), 0);
    return s;
}

static void free_setup(setup *s)
{
    cf_event_free(s->ev);
    unmap_shared(s->board, sizeof(board));
}

/* Arrives at the gate, waits for it to open; exits 0 once through. */
static int pass_gate(void *arg)
{
    setup *s = arg;
    atomic_fetch_add(&s->board->arrived, 1);
    if (cf_event_wait(s->ev, DEADLINE_S) != 0)
        return 1;
    atomic_fetch_add(&s->board->passed, 1);
    return 0;
}

enum { CHILDREN = 4 };

START_TEST(event_gate_releases_children)
{
    setup s = make_setup();
    pid_t pids[CHILDREN];
    for (int i = 0; i < CHILDREN; i++)
        pids[i] = fork_child(pass_gate, &s);
    for (int i = 0; i < CHILDREN; i++)
        wait_asleep(pids[i]);
    ck_assert_uint_eq(atomic_load(&s.board->arrived), CHILDREN);
    ck_assert_uint_eq(atomic_load(&s.board->passed), 0);
    ck_assert(!cf_event_is_set(s.ev));
    ck_assert_int_eq(cf_event_set(s.ev), 0);
    for (int i = 0; i < CHILDREN; i++)
        expect_exit(pids[i], 0);
    ck_assert_uint_eq(atomic_load(&s.board->passed), CHILDREN);
    /* An open gate lets the next ones through at once. */
    expect_exit(fork_child(pass_gate, &s), 0);
    free_setup(&s);
}
END_TEST

START_TEST(event_wait_times_out)
{
    setup s = make_setup();
    ck_assert_int_eq(cf_event_wait(s.ev, 0), CF_ETIMEDOUT);
    ck_assert_int_eq(cf_event_wait(s.ev, 0.02), CF_ETIMEDOUT);
    ck_assert_int_eq(cf_event_set(s.ev), 0);
    ck_assert_int_eq(cf_event_set(s.ev), 0); /* setting a set event changes nothing */
    ck_assert(cf_event_is_set(s.ev));
    ck_assert_int_eq(cf_event_wait(s.ev, 0), 0);
    ck_assert_int_eq(cf_event_clear(s.ev), 0);
    ck_assert(!cf_event_is_set(s.ev));
    ck_assert_int_eq(cf_event_wait(s.ev, 0.02), CF_ETIMEDOUT);
    free_setup(&s);
}
END_TEST

/* Waiters asleep when the event is set return 0, even when it is cleared
 * again before they run. */
START_TEST(event_set_then_clear_releases_sleepers)
{
    setup s = make_setup();
    pid_t pids[2];
    for (int i = 0; i < 2; i++)
        pids[i] = fork_child(pass_gate, &s);
    for (int i = 0; i < 2; i++)
        wait_asleep(pids[i]);
    ck_assert_int_eq(cf_event_set(s.ev), 0);
    ck_assert_int_eq(cf_event_clear(s.ev), 0);
    for (int i = 0; i < 2; i++)
        expect_exit(pids[i], 0);
    ck_assert(!cf_event_is_set(s.ev));
    free_setup(&s);
}
END_TEST

static void *thread_pass_gate(void *arg)
{
    return (void *)(intptr_t)pass_gate(arg);
}

/* Threads of the parent and children wait on the same event. */
START_TEST(event_threads_and_processes_together)
{
    setup s = make_setup();
    pid_t pids[2];
    for (int i = 0; i < 2; i++)
        pids[i] = fork_child(pass_gate, &s); /* before any thread: children stay single-threaded */
    pthread_t threads[2];
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(pthread_create(&threads[i], NULL, thread_pass_gate, &s), 0);
    ck_assert(EVENTUALLY(atomic_load(&s.board->arrived) == 4));
    ck_assert_int_eq(cf_event_set(s.ev), 0);
    for (int i = 0; i < 2; i++) {
        void *rc;
        ck_assert_int_eq(pthread_join(threads[i], &rc), 0);
        ck_assert_int_eq((int)(intptr_t)rc, 0);
        expect_exit(pids[i], 0);
    }
    ck_assert_uint_eq(atomic_load(&s.board->passed), 4);
    free_setup(&s);
}
END_TEST

START_TEST(event_rejects_bad_arguments)
{
    cf_event *ev;
    ck_assert_int_eq(cf_event_new(NULL), CF_EINVAL);
    ck_assert_int_eq(cf_event_new(&ev), 0);
    ck_assert_int_eq(cf_event_set(NULL), CF_EINVAL);
    ck_assert_int_eq(cf_event_clear(NULL), CF_EINVAL);
    ck_assert_int_eq(cf_event_wait(NULL, 0), CF_EINVAL);
    ck_assert_int_eq(cf_event_wait(ev, 0.0 / 0.0), CF_EINVAL);
    ck_assert(!cf_event_is_set(NULL));
    cf_event_free(ev);
    cf_event_free(NULL);
}
END_TEST

START_TEST(event_free_leaves_no_mapping_or_fd)
{
    int fds = count_fds(), maps = count_shared_maps();
    cf_event *evs[4];
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(cf_event_new(&evs[i]), 0);
    ck_assert_int_eq(count_shared_maps(), maps + 4);
    for (int i = 0; i < 4; i++)
        cf_event_free(evs[i]);
    ck_assert_int_eq(count_shared_maps(), maps);
    ck_assert_int_eq(count_fds(), fds);
}
END_TEST

static Suite *event_suite(void)
{
    Suite *s = suite_create("event");
    TCase *tc = tcase_create("event");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, event_gate_releases_children);
    tcase_add_test(tc, event_wait_times_out);
    tcase_add_test(tc, event_set_then_clear_releases_sleepers);
    tcase_add_test(tc, event_threads_and_processes_together);
    tcase_add_test(tc, event_rejects_bad_arguments);
    tcase_add_test(tc, event_free_leaves_no_mapping_or_fd);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(event_suite());
}
