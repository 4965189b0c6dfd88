/* test_pshared.c: the process-shared layer (lib/pshared.h) across forked
 * processes: shared memory that children see and that is gone after free,
 * robust mutexes (exact counts under contention, a holder killed with the
 * mutex held, timeouts, ownership errors), and condition variables (wake-ups
 * across processes, timeouts, a dead waiter that must not take a wake-up
 * meant for a live one, a holder that dies while a waiter sleeps).
 *
 * Children report through the shared memory itself or by exiting with a
 * status; the test waits on those events, never on time.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "children.h"
#include "clock.h"
#include "pshared.h"
#include "support.h"

/* What the tests' processes share. */
typedef struct shared {
    pthread_mutex_t mu;
    cf__pcond cond;
    _Atomic uint32_t stage; /* how far the children have come, for the test to wait on */
    uint32_t ready;         /* the predicate the condition tests wait for (under mu) */
    uint64_t counter;       /* incremented under mu */
    uint32_t woken;         /* waiters that saw the predicate (under mu) */
} shared;

static shared *new_shared(bool recursive)
{
    shared *sh = cf__pshared_alloc(sizeof *sh);
    ck_assert_ptr_nonnull(sh);
    ck_assert_int_eq(cf__pmutex_init(&sh->mu, recursive), 0);
    ck_assert_int_eq(cf__pcond_init(&sh->cond), 0);
    return sh;
}

static int64_t deadline_in(double seconds)
{
    int64_t d;
    ck_assert_int_eq(cf__deadline(seconds, &d), 0);
    return d;
}

/* Deadline for children: they must never hang, whatever the test does. */
static int64_t child_deadline(void)
{
    return cf__now_ns() + (int64_t)(DEADLINE_S * 1e9);
}

static void wait_stage(shared *sh, uint32_t stage)
{
    ck_assert_msg(EVENTUALLY(atomic_load(&sh->stage) >= stage), "stage %u not reached", stage);
}

/* ---- Memory --------------------------------------------------------------------------- */

static int write_pattern(void *arg)
{
    unsigned char *p = arg;
    for (size_t i = 0; i < 3 * 4096; i++)
        if (p[i] != 0)
            return 1;
    for (size_t i = 0; i < 3 * 4096; i++)
        p[i] = (unsigned char)(i * 7);
    return 0;
}

START_TEST(pshared_memory_zeroed_and_shared_with_children)
{
    unsigned char *p = cf__pshared_alloc(3 * 4096);
    ck_assert_ptr_nonnull(p);
    expect_exit(fork_child(write_pattern, p), 0);
    for (size_t i = 0; i < 3 * 4096; i++)
        ck_assert_int_eq(p[i], (unsigned char)(i * 7));
    cf__pshared_free(p, 3 * 4096);
}
END_TEST

START_TEST(pshared_free_leaves_no_mapping_or_fd)
{
    int fds = count_fds(), maps = count_shared_maps();
    void *p[8];
    for (int i = 0; i < 8; i++)
        ck_assert_ptr_nonnull(p[i] = cf__pshared_alloc(100 + (size_t)i * 5000));
    ck_assert_int_eq(count_shared_maps(), maps + 8);
    ck_assert_int_eq(count_fds(), fds);
    for (int i = 0; i < 8; i++)
        cf__pshared_free(p[i], 100 + (size_t)i * 5000);
    ck_assert_int_eq(count_shared_maps(), maps);
    ck_assert_int_eq(count_fds(), fds);
    cf__pshared_free(NULL, 10);
}
END_TEST

START_TEST(pshared_alloc_failure_is_reported)
{
    ck_assert_ptr_null(cf__pshared_alloc(0));
    ck_assert_ptr_nonnull(strstr(cf_last_error(), "shared memory"));
    ck_assert_ptr_null(cf__pshared_alloc(SIZE_MAX / 2));
}
END_TEST

/* ---- Mutexes -------------------------------------------------------------------------- */

enum { CHILDREN = 4, INCREMENTS = 20000 };

static int increment_many(void *arg)
{
    shared *sh = arg;
    for (int i = 0; i < INCREMENTS; i++) {
        if (cf__pmutex_lock(&sh->mu, child_deadline()) != 0)
            return 1;
        uint64_t v = sh->counter; /* a read-modify-write that only the mutex makes exact */
        sh->counter = v + 1;
        if (cf__pmutex_unlock(&sh->mu) != 0)
            return 2;
    }
    return 0;
}

START_TEST(pshared_mutex_counts_exactly_across_processes)
{
    shared *sh = new_shared(false);
    pid_t pids[CHILDREN];
    for (int i = 0; i < CHILDREN; i++)
        pids[i] = fork_child(increment_many, sh);
    for (int i = 0; i < CHILDREN; i++)
        expect_exit(pids[i], 0);
    ck_assert_uint_eq(sh->counter, (uint64_t)CHILDREN * INCREMENTS);
    cf__pshared_free(sh, sizeof *sh);
}
END_TEST

/* Takes the mutex, says so, and never lets go. */
static int hold_forever(void *arg)
{
    shared *sh = arg;
    if (cf__pmutex_lock(&sh->mu, child_deadline()) != 0)
        return 1;
    sh->counter = 42;
    atomic_store(&sh->stage, 1);
    for (;;)
        pause();
}

START_TEST(pshared_mutex_holder_killed)
{
    shared *sh = new_shared(false);
    pid_t pid = fork_child(hold_forever, sh);
    wait_stage(sh, 1);
    ck_assert_int_eq(cf__pmutex_lock(&sh->mu, deadline_in(0)), CF_ETIMEDOUT);
    kill_child(pid);
    ck_assert_int_eq(cf__pmutex_lock(&sh->mu, deadline_in(DEADLINE_S)), CF_EOWNERDEAD);
    ck_assert(cf__pmutex_held(&sh->mu));
    ck_assert_uint_eq(sh->counter, 42);
    ck_assert_int_eq(cf__pmutex_unlock(&sh->mu), 0);
    ck_assert_int_eq(cf__pmutex_lock(&sh->mu, CF__NO_DEADLINE), 0);
    ck_assert_int_eq(cf__pmutex_unlock(&sh->mu), 0);
    cf__pshared_free(sh, sizeof *sh);
}
END_TEST

START_TEST(pshared_recursive_mutex_holder_killed)
{
    shared *sh = new_shared(true);
    pid_t pid = fork_child(hold_forever, sh);
    wait_stage(sh, 1);
    kill_child(pid);
    ck_assert_int_eq(cf__pmutex_lock(&sh->mu, CF__NO_DEADLINE), CF_EOWNERDEAD);
    ck_assert_int_eq(cf__pmutex_lock(&sh->mu, CF__NO_DEADLINE), 0);
    ck_assert_int_eq(cf__pmutex_unlock(&sh->mu), 0);
    ck_assert_int_eq(cf__pmutex_unlock(&sh->mu), 0);
    ck_assert(!cf__pmutex_held(&sh->mu));
    cf__pshared_free(sh, sizeof *sh);
}
END_TEST

/* Takes the mutex and keeps it until the test moves the stage to 2. */
static int hold_until_stage_2(void *arg)
{
    shared *sh = arg;
    if (cf__pmutex_lock(&sh->mu, child_deadline()) != 0)
        return 1;
    atomic_store(&sh->stage, 1);
    int64_t deadline = child_deadline();
    while (atomic_load(&sh->stage) < 2)
        if (cf__pfutex_wait(&sh->stage, 1, deadline) == ETIMEDOUT)
            return 2;
    return cf__pmutex_unlock(&sh->mu) == 0 ? 0 : 3;
}

START_TEST(pshared_mutex_lock_times_out)
{
    shared *sh = new_shared(false);
    pid_t pid = fork_child(hold_until_stage_2, sh);
    wait_stage(sh, 1);
    ck_assert_int_eq(cf__pmutex_lock(&sh->mu, deadline_in(0)), CF_ETIMEDOUT);
    ck_assert_int_eq(cf__pmutex_lock(&sh->mu, deadline_in(0.02)), CF_ETIMEDOUT);
    ck_assert(!cf__pmutex_held(&sh->mu));
    atomic_store(&sh->stage, 2);
    cf__pfutex_wake(&sh->stage, 1);
    expect_exit(pid, 0);
    ck_assert_int_eq(cf__pmutex_lock(&sh->mu, deadline_in(0)), 0);
    ck_assert_int_eq(cf__pmutex_unlock(&sh->mu), 0);
    cf__pshared_free(sh, sizeof *sh);
}
END_TEST

START_TEST(pshared_mutex_ownership_errors)
{
    shared *sh = new_shared(false);
    ck_assert_int_eq(cf__pmutex_unlock(&sh->mu), CF_ESTATE);
    ck_assert_int_eq(cf__pmutex_lock(&sh->mu, CF__NO_DEADLINE), 0);
    ck_assert_int_eq(cf__pmutex_lock(&sh->mu, CF__NO_DEADLINE), CF_EDEADLOCK);
    ck_assert_int_eq(cf__pmutex_lock(&sh->mu, deadline_in(0.01)), CF_EDEADLOCK);
    ck_assert(cf__pmutex_held(&sh->mu));
    /* A child does not own what its parent holds. */
    pid_t pid = fork_child(hold_forever, sh);
    ck_assert_int_eq(cf__pmutex_unlock(&sh->mu), 0);
    wait_stage(sh, 1);
    ck_assert_int_eq(cf__pmutex_unlock(&sh->mu), CF_ESTATE);
    ck_assert(!cf__pmutex_held(&sh->mu));
    kill_child(pid);
    cf__pshared_free(sh, sizeof *sh);
}
END_TEST

/* ---- Condition variables --------------------------------------------------------------- */

/* Waits under the mutex until `ready`, then counts itself in `woken`.
 * Announces itself by raising the stage by one once it is waiting. */
static int wait_until_ready(void *arg)
{
    shared *sh = arg;
    int64_t deadline = child_deadline();
    if (cf__pmutex_lock(&sh->mu, deadline) != 0)
        return 1;
    atomic_fetch_add(&sh->stage, 1);
    while (!sh->ready)
        if (cf__pcond_wait(&sh->cond, &sh->mu, deadline) != 0)
            return 2;
    sh->woken++;
    return cf__pmutex_unlock(&sh->mu) == 0 ? 0 : 3;
}

/* Once a child raised the stage it is inside cf__pcond_wait as soon as the
 * test can take the mutex. */
static void set_ready(shared *sh, bool broadcast)
{
    ck_assert_int_eq(cf__pmutex_lock(&sh->mu, deadline_in(DEADLINE_S)), 0);
    sh->ready = 1;
    ck_assert_int_eq(broadcast ? cf__pcond_broadcast(&sh->cond) : cf__pcond_signal(&sh->cond),
                     0);
    ck_assert_int_eq(cf__pmutex_unlock(&sh->mu), 0);
}

START_TEST(pshared_cond_broadcast_wakes_every_process)
{
    shared *sh = new_shared(false);
    pid_t pids[CHILDREN];
    for (int i = 0; i < CHILDREN; i++)
        pids[i] = fork_child(wait_until_ready, sh);
    wait_stage(sh, CHILDREN);
    set_ready(sh, true);
    for (int i = 0; i < CHILDREN; i++)
        expect_exit(pids[i], 0);
    ck_assert_uint_eq(sh->woken, CHILDREN);
    cf__pshared_free(sh, sizeof *sh);
}
END_TEST

START_TEST(pshared_cond_wait_times_out_with_mutex_held)
{
    shared *sh = new_shared(false);
    ck_assert_int_eq(cf__pmutex_lock(&sh->mu, CF__NO_DEADLINE), 0);
    ck_assert_int_eq(cf__pcond_wait(&sh->cond, &sh->mu, deadline_in(0.02)), CF_ETIMEDOUT);
    ck_assert(cf__pmutex_held(&sh->mu));
    ck_assert_int_eq(cf__pcond_wait(&sh->cond, &sh->mu, deadline_in(0)), CF_ETIMEDOUT);
    ck_assert(cf__pmutex_held(&sh->mu));
    ck_assert_int_eq(cf__pmutex_unlock(&sh->mu), 0);
    ck_assert_int_eq(cf__pcond_wait(&sh->cond, &sh->mu, deadline_in(0.02)), CF_ESTATE);
    ck_assert(!cf__pmutex_held(&sh->mu));
    cf__pshared_free(sh, sizeof *sh);
}
END_TEST

/* A waiter killed inside the wait is gone from the futex queue: one signal
 * afterwards reaches the live waiter. */
START_TEST(pshared_cond_dead_waiter_takes_no_wakeup)
{
    shared *sh = new_shared(false);
    pid_t doomed = fork_child(wait_until_ready, sh);
    wait_stage(sh, 1);
    /* Holding the mutex proves the doomed waiter released it inside the wait. */
    ck_assert_int_eq(cf__pmutex_lock(&sh->mu, deadline_in(DEADLINE_S)), 0);
    ck_assert_int_eq(cf__pmutex_unlock(&sh->mu), 0);
    kill_child(doomed);
    pid_t live = fork_child(wait_until_ready, sh);
    wait_stage(sh, 2);
    set_ready(sh, false);
    expect_exit(live, 0);
    ck_assert_uint_eq(sh->woken, 1);
    cf__pshared_free(sh, sizeof *sh);
}
END_TEST

/* Waits for `ready` and exits 0 only if reacquiring reported the dead holder. */
static int wait_expecting_dead_holder(void *arg)
{
    shared *sh = arg;
    int64_t deadline = child_deadline();
    if (cf__pmutex_lock(&sh->mu, deadline) != 0)
        return 1;
    atomic_fetch_add(&sh->stage, 1);
    int rc = 0;
    while (!sh->ready && rc == 0)
        rc = cf__pcond_wait(&sh->cond, &sh->mu, deadline);
    if (rc != CF_EOWNERDEAD)
        return 2;
    return cf__pmutex_unlock(&sh->mu) == 0 ? 0 : 3;
}

/* Takes the mutex (once the waiter sleeps), sets `ready`, wakes the waiter
 * and dies holding the mutex, announcing stage 2 first. */
static int set_ready_and_hang(void *arg)
{
    shared *sh = arg;
    if (cf__pmutex_lock(&sh->mu, child_deadline()) != 0)
        return 1;
    sh->ready = 1;
    cf__pcond_broadcast(&sh->cond);
    atomic_store(&sh->stage, 2);
    for (;;)
        pause();
}

START_TEST(pshared_cond_reacquire_after_holder_died)
{
    shared *sh = new_shared(false);
    pid_t waiter = fork_child(wait_expecting_dead_holder, sh);
    wait_stage(sh, 1);
    pid_t holder = fork_child(set_ready_and_hang, sh);
    wait_stage(sh, 2);
    kill_child(holder);
    expect_exit(waiter, 0);
    cf__pshared_free(sh, sizeof *sh);
}
END_TEST

/* ---- Futexes ----------------------------------------------------------------------------- */

START_TEST(pshared_futex_wait_returns_on_mismatch_and_times_out)
{
    shared *sh = new_shared(false);
    atomic_store(&sh->stage, 5);
    ck_assert_int_eq(cf__pfutex_wait(&sh->stage, 4, deadline_in(DEADLINE_S)), 0);
    ck_assert_int_eq(cf__pfutex_wait(&sh->stage, 5, deadline_in(0.02)), ETIMEDOUT);
    ck_assert_int_eq(cf__pfutex_wait(&sh->stage, 5, deadline_in(0)), ETIMEDOUT);
    cf__pshared_free(sh, sizeof *sh);
}
END_TEST

static Suite *pshared_suite(void)
{
    Suite *s = suite_create("pshared");
    TCase *tc = tcase_create("memory");
    tcase_add_test(tc, pshared_memory_zeroed_and_shared_with_children);
    tcase_add_test(tc, pshared_free_leaves_no_mapping_or_fd);
    tcase_add_test(tc, pshared_alloc_failure_is_reported);
    suite_add_tcase(s, tc);

    tc = tcase_create("mutex");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, pshared_mutex_counts_exactly_across_processes);
    tcase_add_test(tc, pshared_mutex_holder_killed);
    tcase_add_test(tc, pshared_recursive_mutex_holder_killed);
    tcase_add_test(tc, pshared_mutex_lock_times_out);
    tcase_add_test(tc, pshared_mutex_ownership_errors);
    suite_add_tcase(s, tc);

    tc = tcase_create("cond");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, pshared_cond_broadcast_wakes_every_process);
    tcase_add_test(tc, pshared_cond_wait_times_out_with_mutex_held);
    tcase_add_test(tc, pshared_cond_dead_waiter_takes_no_wakeup);
    tcase_add_test(tc, pshared_cond_reacquire_after_holder_died);
    tcase_add_test(tc, pshared_futex_wait_returns_on_mismatch_and_times_out);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(pshared_suite());
}
