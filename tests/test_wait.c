/* test_wait.c: cf_wait() over user futures completed by threads the tests
 * start themselves.
 *
 * To know that cf_wait() is really blocked before a future completes, the
 * completing thread waits until the future has a listener registered (the
 * CF__ST_LISTENERS flag of its state word, see future_priv.h), then
 * completes it. A wait that returned too early shows up as a future reported
 * done that was still pending, or as one reported pending that was done.
 */
#include "config.h"

#include <check.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <cfutures.h>

#include "future_priv.h"
#include "support.h"

/* ---- Helpers ------------------------------------------------------------------ */

static cf_future *failed_future(void)
{
    cf_future *f = new_future();
    ck_assert_int_eq(cf_future_set_error(f, CF_ETASK, "failed on purpose"), 0);
    return f;
}

static cf_future *cancelled_future(void)
{
    cf_future *f = new_future();
    ck_assert(cf_future_cancel(f));
    return f;
}

static void release_all(cf_future **fs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        cf_future_release(fs[i]);
}

/* Poll until someone listens on f (a waiter registered), or the deadline.
 * It yields rather than pausing, so that the future completes as soon as
 * possible after the waiter registered, while the waiter may still be on its
 * way to sleep. */
static bool await_listener(cf_future *f)
{
    double deadline = now_s() + DEADLINE_S;
    while (!(atomic_load_explicit(&f->state, memory_order_acquire) & CF__ST_LISTENERS)) {
        if (now_s() > deadline)
            return false;
        sched_yield();
    }
    return true;
}

typedef enum outcome { SET_RESULT, SET_ERROR, CANCEL } outcome;

static int complete(cf_future *f, outcome how, int value)
{
    switch (how) {
    case SET_RESULT:
        return cf_future_set_result(f, value);
    case SET_ERROR:
        return cf_future_set_error(f, CF_ETASK, "failure %d", value);
    case CANCEL:
        return cf_future_cancel(f) ? 0 : CF_ESTATE;
    }
    return CF_EINVAL;
}

/* A thread that completes futures one at a time, each once it has a listener. */
typedef struct step {
    cf_future *f;
    outcome how;
} step;

typedef struct script {
    const step *steps;
    size_t n;
    pthread_t thread;
    int status; /* 0, or what went wrong */
} script;

static void *run_script(void *arg)
{
    script *s = arg;
    for (size_t i = 0; i < s->n && s->status == 0; i++) {
        if (!await_listener(s->steps[i].f))
            s->status = CF_ETIMEDOUT;
        else
            s->status = complete(s->steps[i].f, s->steps[i].how, (int)i);
    }
    return NULL;
}

static void script_start(script *s, const step *steps, size_t n)
{
    *s = (script){.steps = steps, .n = n};
    ck_assert_int_eq(pthread_create(&s->thread, NULL, run_script, s), 0);
}

static void script_join(script *s)
{
    ck_assert_int_eq(pthread_join(s->thread, NULL), 0);
    ck_assert_int_eq(s->status, 0);
}

/* ---- Arguments ------------------------------------------------------------------ */

START_TEST(wait_n_zero)
{
    size_t n_done = 99;
    ck_assert_int_eq(cf_wait(NULL, 0, CF_ALL_COMPLETED, CF_FOREVER, NULL, &n_done), 0);
    ck_assert_uint_eq(n_done, 0);
    n_done = 99;
    ck_assert_int_eq(cf_wait(NULL, 0, CF_FIRST_COMPLETED, CF_FOREVER, NULL, &n_done), 0);
    ck_assert_uint_eq(n_done, 0);
    n_done = 99;
    ck_assert_int_eq(cf_wait(NULL, 0, CF_FIRST_EXCEPTION, 0, NULL, &n_done), 0);
    ck_assert_uint_eq(n_done, 0);
}
END_TEST

START_TEST(wait_bad_arguments)
{
    cf_future *fs[2] = {finished_future(1), NULL};
    bool done[2] = {false, true};
    size_t n_done = 77;

    ck_assert_int_eq(cf_wait(NULL, 1, CF_ALL_COMPLETED, 0, done, &n_done), CF_EINVAL);
    ck_assert_str_ne(cf_last_error(), "");
    ck_assert_int_eq(cf_wait(fs, 2, CF_ALL_COMPLETED, 0, done, &n_done), CF_EINVAL);
    ck_assert_ptr_nonnull(strstr(cf_last_error(), "fs[1]"));
    ck_assert_int_eq(cf_wait(fs, 1, (cf_return_when)0, 0, done, &n_done), CF_EINVAL);
    ck_assert_int_eq(cf_wait(fs, 1, (cf_return_when)(CF_ALL_COMPLETED + 1), 0, done, &n_done),
                     CF_EINVAL);
    ck_assert_int_eq(cf_wait(fs, 1, CF_ALL_COMPLETED, NAN, done, &n_done), CF_EINVAL);
    ck_assert_int_eq(cf_wait(NULL, 0, CF_ALL_COMPLETED, NAN, NULL, &n_done), CF_EINVAL);
    ck_assert_int_eq(cf_wait(NULL, 0, (cf_return_when)7, 0, NULL, &n_done), CF_EINVAL);
    /* On error nothing is written. */
    ck_assert(!done[0]);
    ck_assert(done[1]);
    ck_assert_uint_eq(n_done, 77);
    cf_future_release(fs[0]);
}
END_TEST

/* ---- Returning at once ------------------------------------------------------------ */

START_TEST(wait_already_done_shortcuts)
{
    cf_future *fs[4] = {new_future(), finished_future(1), new_future(), failed_future()};
    bool done[4];
    size_t n_done = 0;

    /* Each condition already holds: no limit is needed, and nobody listens. */
    ck_assert_int_eq(cf_wait(fs, 4, CF_FIRST_COMPLETED, CF_FOREVER, done, &n_done), 0);
    ck_assert(!done[0] && done[1] && !done[2] && done[3]);
    ck_assert_uint_eq(n_done, 2);
    ck_assert_int_eq(cf_wait(fs, 4, CF_FIRST_EXCEPTION, CF_FOREVER, done, &n_done), 0);
    ck_assert(!done[0] && done[1] && !done[2] && done[3]);
    ck_assert_uint_eq(n_done, 2);
    ck_assert_int_eq(cf_wait(fs + 1, 1, CF_ALL_COMPLETED, CF_FOREVER, done, &n_done), 0);
    ck_assert(done[0]);
    ck_assert_uint_eq(n_done, 1);
    ck_assert_int_eq(cf_wait(fs + 1, 3, CF_FIRST_COMPLETED, CF_FOREVER, NULL, NULL), 0);
    ck_assert(!(atomic_load(&fs[0]->state) & CF__ST_LISTENERS));
    ck_assert(!(atomic_load(&fs[2]->state) & CF__ST_LISTENERS));
    release_all(fs, 4);
}
END_TEST

START_TEST(wait_zero_timeout_poll)
{
    cf_future *fs[4] = {finished_future(1), new_future(), cancelled_future(),
                        new_future()};
    bool done[4];
    size_t n_done = 0;
    static const cf_return_when modes[] = {CF_ALL_COMPLETED, CF_FIRST_EXCEPTION};
    for (size_t m = 0; m < 2; m++) {
        memset(done, 0, sizeof done);
        ck_assert_int_eq(cf_wait(fs, 4, modes[m], 0, done, &n_done), 0);
        ck_assert(done[0] && !done[1] && done[2] && !done[3]);
        ck_assert_uint_eq(n_done, 2);
    }
    /* A poll registers nothing. */
    ck_assert(!(atomic_load(&fs[1]->state) & CF__ST_LISTENERS));
    ck_assert(!(atomic_load(&fs[3]->state) & CF__ST_LISTENERS));
    /* None done: a poll for the first one is not an error either. */
    ck_assert_int_eq(cf_wait(fs + 3, 1, CF_FIRST_COMPLETED, 0, done, &n_done), 0);
    ck_assert(!done[0]);
    ck_assert_uint_eq(n_done, 0);
    release_all(fs, 4);
}
END_TEST

START_TEST(wait_timeout_partial)
{
    cf_future *fs[3] = {new_future(), finished_future(1), new_future()};
    bool done[3] = {true, false, true};
    size_t n_done = 0;

    ck_assert_int_eq(cf_wait(fs, 3, CF_ALL_COMPLETED, 0.05, done, &n_done), 0);
    ck_assert(!done[0] && done[1] && !done[2]);
    ck_assert_uint_eq(n_done, 1);
    ck_assert_int_eq(cf_wait(fs, 1, CF_FIRST_COMPLETED, 0.02, done, &n_done), 0);
    ck_assert(!done[0]);
    ck_assert_uint_eq(n_done, 0);
    /* The waits took back every listener they registered. */
    ck_assert(!has_listeners(fs[0]));
    ck_assert(!has_listeners(fs[2]));
    /* Completing them now fires nothing left behind by the waits. */
    ck_assert_int_eq(cf_future_set_result(fs[0], 2), 0);
    ck_assert(cf_future_cancel(fs[2]));
    release_all(fs, 3);
}
END_TEST

/* ---- Waking up --------------------------------------------------------------------- */

START_TEST(wait_first_completed_wakes)
{
    cf_future *fs[3] = {new_future(), new_future(), new_future()};
    step steps[] = {{fs[2], SET_RESULT}};
    script s;
    script_start(&s, steps, 1);
    bool done[3];
    size_t n_done = 0;
    ck_assert_int_eq(cf_wait(fs, 3, CF_FIRST_COMPLETED, DEADLINE_S, done, &n_done), 0);
    ck_assert(!done[0] && !done[1] && done[2]);
    ck_assert_uint_eq(n_done, 1);
    script_join(&s);
    for (size_t i = 0; i < 3; i++)
        ck_assert(!has_listeners(fs[i]));
    release_all(fs, 3);
}
END_TEST

START_TEST(wait_all_completed)
{
    cf_future *fs[4] = {new_future(), new_future(), new_future(), new_future()};
    step steps[] = {{fs[1], SET_RESULT}, {fs[3], SET_ERROR}, {fs[0], CANCEL}, {fs[2], SET_RESULT}};
    script s;
    script_start(&s, steps, 4);
    bool done[4] = {false};
    size_t n_done = 0;
    ck_assert_int_eq(cf_wait(fs, 4, CF_ALL_COMPLETED, CF_FOREVER, done, &n_done), 0);
    ck_assert(done[0] && done[1] && done[2] && done[3]);
    ck_assert_uint_eq(n_done, 4);
    ck_assert(cf_future_cancelled(fs[0]));
    ck_assert(cf_future_failed(fs[3]));
    script_join(&s);
    release_all(fs, 4);
}
END_TEST

START_TEST(wait_first_exception_on_failure)
{
    cf_future *fs[3] = {new_future(), new_future(), new_future()};
    step steps[] = {{fs[1], SET_ERROR}};
    script s;
    script_start(&s, steps, 1);
    bool done[3];
    size_t n_done = 0;
    ck_assert_int_eq(cf_wait(fs, 3, CF_FIRST_EXCEPTION, CF_FOREVER, done, &n_done), 0);
    ck_assert(!done[0] && done[1] && !done[2]);
    ck_assert_uint_eq(n_done, 1);
    ck_assert(cf_future_failed(fs[1]));
    script_join(&s);
    release_all(fs, 3);
}
END_TEST

START_TEST(wait_first_exception_ignores_cancelled)
{
    /* Already cancelled: not an exception, so the wait must go on. */
    cf_future *fs[2] = {cancelled_future(), new_future()};
    step steps[] = {{fs[1], SET_RESULT}};
    script s;
    script_start(&s, steps, 1);
    bool done[2] = {false, false};
    size_t n_done = 0;
    ck_assert_int_eq(cf_wait(fs, 2, CF_FIRST_EXCEPTION, CF_FOREVER, done, &n_done), 0);
    ck_assert(done[0] && done[1]);
    ck_assert_uint_eq(n_done, 2);
    script_join(&s);
    release_all(fs, 2);

    /* Cancelled while waiting: the wait ends only at the failure. */
    cf_future *gs[4] = {new_future(), new_future(), new_future(), new_future()};
    step steps2[] = {{gs[0], CANCEL}, {gs[1], SET_RESULT}, {gs[2], SET_ERROR}};
    script_start(&s, steps2, 3);
    bool done2[4];
    ck_assert_int_eq(cf_wait(gs, 4, CF_FIRST_EXCEPTION, CF_FOREVER, done2, &n_done), 0);
    ck_assert(done2[0] && done2[1] && done2[2] && !done2[3]);
    ck_assert_uint_eq(n_done, 3);
    script_join(&s);
    release_all(gs, 4);
}
END_TEST

START_TEST(wait_first_exception_without_failure)
{
    /* No failure at all: acts as ALL_COMPLETED. */
    cf_future *fs[3] = {new_future(), new_future(), new_future()};
    step steps[] = {{fs[2], SET_RESULT}, {fs[0], CANCEL}, {fs[1], SET_RESULT}};
    script s;
    script_start(&s, steps, 3);
    bool done[3] = {false};
    size_t n_done = 0;
    ck_assert_int_eq(cf_wait(fs, 3, CF_FIRST_EXCEPTION, CF_FOREVER, done, &n_done), 0);
    ck_assert(done[0] && done[1] && done[2]);
    ck_assert_uint_eq(n_done, 3);
    script_join(&s);
    release_all(fs, 3);
}
END_TEST

/* ---- Duplicates -------------------------------------------------------------------- */

START_TEST(wait_duplicates)
{
    cf_future *a = finished_future(1), *b = new_future();
    cf_future *fs[5] = {a, b, a, b, a};
    bool done[5];
    size_t n_done = 0;

    /* Counted per entry. */
    ck_assert_int_eq(cf_wait(fs, 5, CF_FIRST_COMPLETED, CF_FOREVER, done, &n_done), 0);
    ck_assert(done[0] && !done[1] && done[2] && !done[3] && done[4]);
    ck_assert_uint_eq(n_done, 3);

    /* b is listened to once and its completion ends the wait. */
    step steps[] = {{b, SET_RESULT}};
    script s;
    script_start(&s, steps, 1);
    ck_assert_int_eq(cf_wait(fs, 5, CF_ALL_COMPLETED, CF_FOREVER, done, &n_done), 0);
    for (size_t i = 0; i < 5; i++)
        ck_assert(done[i]);
    ck_assert_uint_eq(n_done, 5);
    script_join(&s);

    /* Only pending duplicates. */
    cf_future *c = new_future();
    cf_future *cs[3] = {c, c, c};
    step steps2[] = {{c, SET_ERROR}};
    script_start(&s, steps2, 1);
    ck_assert_int_eq(cf_wait(cs, 3, CF_ALL_COMPLETED, CF_FOREVER, done, &n_done), 0);
    ck_assert_uint_eq(n_done, 3);
    script_join(&s);
    ck_assert(!has_listeners(c));
    cf_future_release(a);
    cf_future_release(b);
    cf_future_release(c);
}
END_TEST

/* ---- Many threads -------------------------------------------------------------------- */

#define N_COMPLETERS 4
#define PER_COMPLETER 1000
#define N_MANY (N_COMPLETERS * PER_COMPLETER)

typedef struct batch {
    cf_future **fs;
    size_t n;
    atomic_bool *go;
    pthread_t thread;
    int status;
} batch;

/* Complete a batch in order: results, failures and cancellations mixed. */
static void *complete_batch(void *arg)
{
    batch *b = arg;
    while (!atomic_load(b->go))
        sched_yield();
    for (size_t i = 0; i < b->n && b->status == 0; i++)
        b->status = complete(b->fs[i], (outcome)(i % 3), (int)i);
    return NULL;
}

typedef struct all_waiter {
    cf_future **fs;
    size_t n;
    pthread_t thread;
    int rc;
    size_t n_done;
} all_waiter;

static void *wait_all(void *arg)
{
    all_waiter *w = arg;
    w->rc = cf_wait(w->fs, w->n, CF_ALL_COMPLETED, CF_FOREVER, NULL, &w->n_done);
    return NULL;
}

START_TEST(wait_many_threads)
{
    static cf_future *fs[N_MANY];
    static bool done[N_MANY];
    for (size_t i = 0; i < N_MANY; i++)
        fs[i] = new_future();

    /* The completers start once every waiter is about to wait. */
    atomic_bool go = false;
    batch batches[N_COMPLETERS];
    for (size_t t = 0; t < N_COMPLETERS; t++) {
        batches[t] = (batch){.fs = fs + t * PER_COMPLETER, .n = PER_COMPLETER, .go = &go};
        ck_assert_int_eq(pthread_create(&batches[t].thread, NULL, complete_batch, &batches[t]),
                         0);
    }
    /* A second waiter, on the second half of the same futures. */
    all_waiter other = {.fs = fs + N_MANY / 2, .n = N_MANY / 2};
    ck_assert_int_eq(pthread_create(&other.thread, NULL, wait_all, &other), 0);
    atomic_store(&go, true);

    size_t n_done = 0;
    ck_assert_int_eq(cf_wait(fs, N_MANY, CF_ALL_COMPLETED, CF_FOREVER, done, &n_done), 0);
    ck_assert_uint_eq(n_done, N_MANY);
    for (size_t i = 0; i < N_MANY; i++)
        ck_assert(done[i]);
    for (size_t t = 0; t < N_COMPLETERS; t++) {
        ck_assert_int_eq(pthread_join(batches[t].thread, NULL), 0);
        ck_assert_int_eq(batches[t].status, 0);
    }
    ck_assert_int_eq(pthread_join(other.thread, NULL), 0);
    ck_assert_int_eq(other.rc, 0);
    ck_assert_uint_eq(other.n_done, N_MANY / 2);

    size_t n_failed = 0, n_cancelled = 0;
    for (size_t i = 0; i < N_MANY; i++) {
        n_failed += cf_future_failed(fs[i]);
        n_cancelled += cf_future_cancelled(fs[i]);
        ck_assert(!has_listeners(fs[i]));
    }
    ck_assert_uint_eq(n_failed, N_COMPLETERS * ((PER_COMPLETER + 1) / 3));
    ck_assert_uint_eq(n_cancelled, N_COMPLETERS * (PER_COMPLETER / 3));
    release_all(fs, N_MANY);
}
END_TEST

static Suite *wait_suite(void)
{
    Suite *s = suite_create("wait");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, wait_n_zero);
    tcase_add_test(tc, wait_bad_arguments);
    tcase_add_test(tc, wait_already_done_shortcuts);
    tcase_add_test(tc, wait_zero_timeout_poll);
    tcase_add_test(tc, wait_timeout_partial);
    tcase_add_test(tc, wait_first_completed_wakes);
    tcase_add_test(tc, wait_all_completed);
    tcase_add_test(tc, wait_first_exception_on_failure);
    tcase_add_test(tc, wait_first_exception_ignores_cancelled);
    tcase_add_test(tc, wait_first_exception_without_failure);
    tcase_add_test(tc, wait_duplicates);
    tcase_add_test(tc, wait_many_threads);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(wait_suite());
}
