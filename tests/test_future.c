/* test_future.c: user futures (cf_future_new) through the whole state
 * machine: completion, cancellation, waiting with and without timeouts,
 * results of every type, errors, done-callbacks, races between completing
 * threads, and reference counts.
 *
 * Ordering between threads never relies on sleeping. Where a test wants a
 * thread to be blocked in a wait before the future completes, it polls the
 * thread's state in /proc until it sleeps (with a deadline); the outcome
 * checked is the same whether or not the thread got there first.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <cfutures.h>

#include "support.h"

typedef struct point {
    int32_t x, y;
    double w;
} point;

typedef struct big {
    char text[24];
    uint64_t words[2];
} big;

/* ---- Helpers ------------------------------------------------------------------------ */

/* Whether thread `tid` sleeps or has exited (thread_state() from support.h). */
static bool sleeping_or_gone(pid_t tid)
{
    char state = thread_state(tid);
    return state == 'S' || state == '?';
}

/* Polls until thread `tid` (published by the thread itself) sleeps or has
 * exited, or 10 s pass. Only makes it likely that the thread is blocked in
 * its wait. */
static void wait_until_sleeping(_Atomic pid_t *tid)
{
    double deadline = now_s() + 10.0;
    while (atomic_load(tid) == 0 && keep_polling(deadline)) {
    }
    while (!sleeping_or_gone(atomic_load(tid)) && keep_polling(deadline)) {
    }
}

/* A thread that waits for a future's int result. */
typedef struct waiter {
    cf_future *f;
    double timeout;
    bool use_wait;   /* cf_future_wait instead of cf_future_result */
    _Atomic pid_t tid;
    int rc;
    int value;
} waiter;

static void *waiter_main(void *arg)
{
    waiter *w = arg;
    atomic_store(&w->tid, gettid());
    if (w->use_wait)
        w->rc = cf_future_wait(w->f, w->timeout);
    else
        w->rc = cf_future_result(w->f, &w->value, w->timeout);
    return NULL;
}

static void start_waiter(pthread_t *t, waiter *w, cf_future *f, double timeout)
{
    w->f = f;
    w->timeout = timeout;
    atomic_store(&w->tid, 0);
    w->rc = 1;
    w->value = -1;
    ck_assert_int_eq(pthread_create(t, NULL, waiter_main, w), 0);
}

/* A log of callback runs, shared by callbacks that may run in other threads. */
#define LOG_MAX 64
typedef struct cb_log {
    pthread_mutex_t mu;
    int n;
    int ids[LOG_MAX];
    pthread_t threads[LOG_MAX];
    cf_future_state states[LOG_MAX];
    int wrong_future;
} cb_log;

typedef struct cb_arg {
    cb_log *log;
    int id;
    cf_future *expect;
} cb_arg;

static void log_init(cb_log *log)
{
    memset(log, 0, sizeof *log);
    pthread_mutex_init(&log->mu, NULL);
}

static void log_append(cb_log *log, int id, cf_future_state state)
{
    pthread_mutex_lock(&log->mu);
    if (log->n < LOG_MAX) {
        log->ids[log->n] = id;
        log->threads[log->n] = pthread_self();
        log->states[log->n] = state;
        log->n++;
    }
    pthread_mutex_unlock(&log->mu);
}

static int log_count(cb_log *log)
{
    pthread_mutex_lock(&log->mu);
    int n = log->n;
    pthread_mutex_unlock(&log->mu);
    return n;
}

static void log_cb(cf_future *f, void *arg)
{
    cb_arg *a = arg;
    if (f != a->expect) {
        pthread_mutex_lock(&a->log->mu);
        a->log->wrong_future++;
        pthread_mutex_unlock(&a->log->mu);
    }
    log_append(a->log, a->id, cf_future_state_of(f));
}

/* ---- Lifetime and queries ---------------------------------------------------------- */

START_TEST(future_new_pending)
{
    cf_future *f = new_future();
    ck_assert_int_eq(cf_future_state_of(f), CF_FUTURE_PENDING);
    ck_assert(!cf_future_done(f));
    ck_assert(!cf_future_running(f));
    ck_assert(!cf_future_cancelled(f));
    ck_assert(!cf_future_failed(f));
    ck_assert_ptr_null(cf_future_error(f));
    ck_assert_ptr_null(cf_future_task_name(f));
    ck_assert_uint_eq(cf_future_result_type(f).kind, CF_KIND_VOID);
    cf_future_release(f);

    ck_assert_int_eq(cf_future_new(NULL), CF_EINVAL);
}
END_TEST

START_TEST(future_retain_release)
{
    cf_future *f = new_future();
    ck_assert_ptr_eq(cf_future_retain(f), f);
    ck_assert_ptr_eq(cf_future_retain(f), f);
    cf_future_release(f);
    cf_future_release(f);
    /* Still alive with the last reference. */
    ck_assert_int_eq(cf_future_set_result(f, "kept alive"), 0);
    const char *s;
    ck_assert_int_eq(cf_future_result(f, &s, 0), 0);
    ck_assert_str_eq(s, "kept alive");
    cf_future_release(f);

    cf_future_release(NULL);

    /* References taken and dropped from several threads are balanced. */
    f = new_future();
    for (int i = 0; i < 1000; i++)
        cf_future_retain(f);
    for (int i = 0; i < 1000; i++)
        cf_future_release(f);
    ck_assert_int_eq(cf_future_state_of(f), CF_FUTURE_PENDING);
    cf_future_release(f);
}
END_TEST

static void *retain_release_loop(void *arg)
{
    cf_future *f = arg;
    for (int i = 0; i < 10000; i++) {
        cf_future_retain(f);
        cf_future_release(f);
    }
    return NULL;
}

START_TEST(future_retain_release_threads)
{
    cf_future *f = new_future();
    pthread_t threads[4];
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(pthread_create(&threads[i], NULL, retain_release_loop, f), 0);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(pthread_join(threads[i], NULL), 0);
    ck_assert_int_eq(cf_future_set_result(f, 5), 0);
    int v = 0;
    ck_assert_int_eq(cf_future_result(f, &v, 0), 0);
    ck_assert_int_eq(v, 5);
    cf_future_release(f);
}
END_TEST

/* Every kind of outcome is freed with the future (checked by valgrind/ASan). */
START_TEST(future_release_every_outcome)
{
    char text[] = "a string result";
    unsigned char data[100];
    memset(data, 7, sizeof data);
    big b = {"struct", {1, 2}};
    cf_value values[] = {cf_value_str(text), cf_value_bytes(data, sizeof data),
                         cf_value_struct(&b, sizeof b), cf_value_f64(1), cf_value_void()};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        cf_future *f = new_future();
        ck_assert_int_eq(cf_future_set_value(f, &values[i]), 0);
        ck_assert(cf_future_done(f));
        cf_future_release(f);
    }
    cf_future *f = new_future();
    ck_assert_int_eq(cf_future_set_error(f, CF_ETASK, "error %s", "message"), 0);
    ck_assert(cf_future_failed(f));
    cf_future_release(f);

    f = new_future();
    ck_assert(cf_future_cancel(f));
    cf_future_release(f);

    /* Released before done, with a callback registered. */
    f = new_future();
    cb_log log;
    log_init(&log);
    cb_arg a = {&log, 1, f};
    ck_assert_int_eq(cf_future_add_done_callback(f, log_cb, &a), 0);
    ck_assert_int_eq(log_count(&log), 0);
    cf_future_release(f);
}
END_TEST

/* ---- The state machine ---------------------------------------------------------------- */

START_TEST(future_running_then_result)
{
    cf_future *f = new_future();
    ck_assert_int_eq(cf_future_set_running(f), 0);
    ck_assert_int_eq(cf_future_state_of(f), CF_FUTURE_RUNNING);
    ck_assert(cf_future_running(f));
    ck_assert(!cf_future_done(f));
    ck_assert(!cf_future_cancelled(f));

    ck_assert_int_eq(cf_future_set_result(f, 42), 0);
    ck_assert_int_eq(cf_future_state_of(f), CF_FUTURE_FINISHED);
    ck_assert(cf_future_done(f));
    ck_assert(!cf_future_running(f));
    ck_assert(!cf_future_cancelled(f));
    ck_assert(!cf_future_failed(f));
    ck_assert_ptr_null(cf_future_error(f));
    assert_type_eq(cf_future_result_type(f), CF_TYPE_OF(int), "result type");

    int v = 0;
    ck_assert_int_eq(cf_future_result(f, &v, 0), 0);
    ck_assert_int_eq(v, 42);
    ck_assert_int_eq(cf_future_wait(f, 0), 0);
    ck_assert_int_eq(cf_future_wait(f, CF_FOREVER), 0);
    /* Reading twice gives the same result. */
    v = 0;
    ck_assert_int_eq(cf_future_result(f, &v, CF_FOREVER), 0);
    ck_assert_int_eq(v, 42);
    cf_future_release(f);
}
END_TEST

START_TEST(future_result_on_pending)
{
    cf_future *f = new_future();
    ck_assert_int_eq(cf_future_set_result(f, 2.5), 0);
    ck_assert_int_eq(cf_future_state_of(f), CF_FUTURE_FINISHED);
    assert_type_eq(cf_future_result_type(f), CF_TYPE_OF(double), "result type");
    double v = 0;
    ck_assert_int_eq(cf_future_result(f, &v, 0), 0);
    ck_assert(v == 2.5);
    cf_future_release(f);
}
END_TEST

START_TEST(future_second_completion_keeps_result)
{
    cf_future *f = new_future();
    ck_assert_int_eq(cf_future_set_result(f, 1), 0);
    ck_assert_int_eq(cf_future_set_result(f, 2), CF_ESTATE);
    ck_assert_int_eq(cf_future_set_result(f, "other type"), CF_ESTATE);
    ck_assert_int_eq(cf_future_set_error(f, CF_ETASK, "too late"), CF_ESTATE);
    ck_assert_int_eq(cf_future_set_running(f), CF_ESTATE);
    ck_assert(!cf_future_cancel(f));
    ck_assert_int_eq(cf_future_state_of(f), CF_FUTURE_FINISHED);
    ck_assert(!cf_future_failed(f));
    assert_type_eq(cf_future_result_type(f), CF_TYPE_OF(int), "first result's type");
    int v = 0;
    ck_assert_int_eq(cf_future_result(f, &v, 0), 0);
    ck_assert_int_eq(v, 1);
    cf_future_release(f);
}
END_TEST

START_TEST(future_second_completion_keeps_error)
{
    cf_future *f = new_future();
    ck_assert_int_eq(cf_future_set_running(f), 0);
    ck_assert_int_eq(cf_future_set_error(f, CF_ETASK, "first"), 0);
    ck_assert_int_eq(cf_future_set_error(f, CF_ECRASHED, "second"), CF_ESTATE);
    ck_assert_int_eq(cf_future_set_result(f, 3), CF_ESTATE);
    ck_assert_int_eq(cf_future_set_running(f), CF_ESTATE);
    ck_assert(!cf_future_cancel(f));
    ck_assert(cf_future_failed(f));
    ck_assert_int_eq(cf_future_result(f, NULL, 0), CF_ETASK);
    const cf_error *e = cf_future_error(f);
    ck_assert_ptr_nonnull(e);
    ck_assert_int_eq(e->code, CF_ETASK);
    ck_assert_str_eq(e->message, "first");
    cf_future_release(f);
}
END_TEST

START_TEST(future_set_running_twice)
{
    cf_future *f = new_future();
    ck_assert_int_eq(cf_future_set_running(f), 0);
    ck_assert_int_eq(cf_future_set_running(f), CF_ESTATE);
    ck_assert_int_eq(cf_future_state_of(f), CF_FUTURE_RUNNING);
    ck_assert_int_eq(cf_future_set_result(f, 1), 0);
    cf_future_release(f);
}
END_TEST

START_TEST(future_set_running_cancelled)
{
    cf_future *f = new_future();
    ck_assert(cf_future_cancel(f));
    ck_assert_int_eq(cf_future_set_running(f), CF_ECANCELLED);
    ck_assert_int_eq(cf_future_state_of(f), CF_FUTURE_CANCELLED);
    ck_assert_int_eq(cf_future_set_running(f), CF_ECANCELLED);
    /* A cancelled future is done: it takes no outcome. */
    ck_assert_int_eq(cf_future_set_result(f, 1), CF_ESTATE);
    ck_assert_int_eq(cf_future_set_error(f, CF_ETASK, "late"), CF_ESTATE);
    ck_assert_int_eq(cf_future_state_of(f), CF_FUTURE_CANCELLED);
    ck_assert_ptr_null(cf_future_error(f));
    ck_assert_int_eq(cf_future_result(f, NULL, 0), CF_ECANCELLED);
    cf_future_release(f);
}
END_TEST

/* ---- Cancelling ------------------------------------------------------------------------- */

START_TEST(future_cancel_pending)
{
    cf_future *f = new_future();
    ck_assert(cf_future_cancel(f));
    ck_assert_int_eq(cf_future_state_of(f), CF_FUTURE_CANCELLED);
    ck_assert(cf_future_cancelled(f));
    ck_assert(cf_future_done(f));
    ck_assert(!cf_future_running(f));
    ck_assert(!cf_future_failed(f));
    ck_assert_ptr_null(cf_future_error(f));
    ck_assert_int_eq(cf_future_wait(f, 0), 0);
    int v = 17;
    ck_assert_int_eq(cf_future_result(f, &v, 0), CF_ECANCELLED);
    ck_assert_int_eq(v, 17);
    ck_assert_int_eq(cf_future_result(f, &v, CF_FOREVER), CF_ECANCELLED);
    cf_value val;
    ck_assert_int_eq(cf_future_value(f, &val, 0), CF_ECANCELLED);
    cf_future_release(f);
}
END_TEST

START_TEST(future_cancel_cancelled)
{
    cf_future *f = new_future();
    ck_assert(cf_future_cancel(f));
    ck_assert(cf_future_cancel(f));
    ck_assert(cf_future_cancel(f));
    ck_assert_int_eq(cf_future_state_of(f), CF_FUTURE_CANCELLED);
    cf_future_release(f);
}
END_TEST

START_TEST(future_cancel_running)
{
    cf_future *f = new_future();
    cb_log log;
    log_init(&log);
    cb_arg a = {&log, 1, f};
    ck_assert_int_eq(cf_future_add_done_callback(f, log_cb, &a), 0);
    ck_assert_int_eq(cf_future_set_running(f), 0);
    ck_assert(!cf_future_cancel(f));
    ck_assert_int_eq(cf_future_state_of(f), CF_FUTURE_RUNNING);
    ck_assert(!cf_future_cancelled(f));
    ck_assert_int_eq(log_count(&log), 0);
    /* The work goes on and finishes normally. */
    ck_assert_int_eq(cf_future_set_result(f, 9), 0);
    ck_assert_int_eq(log_count(&log), 1);
    int v = 0;
    ck_assert_int_eq(cf_future_result(f, &v, 0), 0);
    ck_assert_int_eq(v, 9);
    cf_future_release(f);
}
END_TEST

START_TEST(future_cancel_finished)
{
    cf_future *f = new_future();
    ck_assert_int_eq(cf_future_set_result(f, 1), 0);
    ck_assert(!cf_future_cancel(f));
    ck_assert_int_eq(cf_future_state_of(f), CF_FUTURE_FINISHED);
    cf_future_release(f);

    f = new_future();
    ck_assert_int_eq(cf_future_set_error(f, CF_ETASK, "failed"), 0);
    ck_assert(!cf_future_cancel(f));
    ck_assert_int_eq(cf_future_state_of(f), CF_FUTURE_FINISHED);
    ck_assert(cf_future_failed(f));
    ck_assert_int_eq(cf_future_result(f, NULL, 0), CF_ETASK);
    cf_future_release(f);
}
END_TEST

/* No executor can stop a user future's work: cf_future_cancel_running acts
 * as cf_future_cancel. */
START_TEST(future_cancel_running_user_future)
{
    cb_log log;
    log_init(&log);
    cf_future *f = new_future();
    cb_arg a = {&log, 1, f};
    ck_assert_int_eq(cf_future_add_done_callback(f, log_cb, &a), 0);
    ck_assert(cf_future_cancel_running(f));
    ck_assert_int_eq(cf_future_state_of(f), CF_FUTURE_CANCELLED);
    ck_assert_int_eq(log.n, 1);
    ck_assert_int_eq(log.states[0], CF_FUTURE_CANCELLED);
    ck_assert(cf_future_cancel_running(f));
    ck_assert_int_eq(log.n, 1);
    cf_future_release(f);

    f = new_future();
    a.expect = f;
    ck_assert_int_eq(cf_future_add_done_callback(f, log_cb, &a), 0);
    ck_assert_int_eq(cf_future_set_running(f), 0);
    ck_assert(!cf_future_cancel_running(f));
    ck_assert_int_eq(cf_future_state_of(f), CF_FUTURE_RUNNING);
    ck_assert_int_eq(log.n, 1);
    ck_assert_int_eq(cf_future_set_result(f, 1), 0);
    ck_assert_int_eq(log.n, 2);
    ck_assert(!cf_future_cancel_running(f));
    ck_assert_int_eq(cf_future_state_of(f), CF_FUTURE_FINISHED);
    cf_future_release(f);
    ck_assert_int_eq(log.wrong_future, 0);
}
END_TEST

/* ---- Waiting ------------------------------------------------------------------------------ */

START_TEST(future_result_timeout_zero)
{
    cf_future *f = new_future();
    int v = 123;
    ck_assert_int_eq(cf_future_result(f, &v, 0), CF_ETIMEDOUT);
    ck_assert_int_eq(v, 123);
    ck_assert_int_eq(cf_future_result(f, NULL, 0), CF_ETIMEDOUT);
    ck_assert_int_eq(cf_future_wait(f, 0), CF_ETIMEDOUT);
    cf_value val;
    ck_assert_int_eq(cf_future_value(f, &val, 0), CF_ETIMEDOUT);
    /* The future is unchanged. */
    ck_assert_int_eq(cf_future_state_of(f), CF_FUTURE_PENDING);

    ck_assert_int_eq(cf_future_set_running(f), 0);
    ck_assert_int_eq(cf_future_result(f, &v, 0), CF_ETIMEDOUT);
    ck_assert_int_eq(cf_future_wait(f, 0), CF_ETIMEDOUT);
    ck_assert_int_eq(cf_future_state_of(f), CF_FUTURE_RUNNING);
    ck_assert_int_eq(v, 123);
    cf_future_release(f);
}
END_TEST

START_TEST(future_result_short_timeout)
{
    cf_future *f = new_future();
    int v = 5;
    ck_assert_int_eq(cf_future_result(f, &v, 0.02), CF_ETIMEDOUT);
    ck_assert_int_eq(cf_future_wait(f, 0.02), CF_ETIMEDOUT);
    ck_assert_int_eq(cf_future_result(f, &v, 1e-9), CF_ETIMEDOUT);
    ck_assert_int_eq(v, 5);
    ck_assert_int_eq(cf_future_state_of(f), CF_FUTURE_PENDING);
    cf_future_release(f);
}
END_TEST

START_TEST(future_result_nan_timeout)
{
    cf_future *f = new_future();
    int v;
    ck_assert_int_eq(cf_future_result(f, &v, NAN), CF_EINVAL);
    ck_assert_int_eq(cf_future_wait(f, NAN), CF_EINVAL);
    cf_value val;
    ck_assert_int_eq(cf_future_value(f, &val, NAN), CF_EINVAL);
    ck_assert_int_eq(cf_future_state_of(f), CF_FUTURE_PENDING);
    cf_future_release(f);
}
END_TEST

/* A waiter with a finite timeout, woken by another thread's completion. */
START_TEST(future_result_timeout_completed_by_thread)
{
    cf_future *f = new_future();
    pthread_t t;
    waiter w = {0};
    start_waiter(&t, &w, f, 30.0);
    wait_until_sleeping(&w.tid);
    ck_assert_int_eq(cf_future_set_result(f, 77), 0);
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    ck_assert_int_eq(w.rc, 0);
    ck_assert_int_eq(w.value, 77);
    cf_future_release(f);
}
END_TEST

/* Without a limit: CF_FOREVER, any negative value, and +infinity. */
START_TEST(future_result_forever_completed_by_thread)
{
    const double timeouts[] = {CF_FOREVER, -5.0, -INFINITY, INFINITY, 1e300};
    for (size_t i = 0; i < sizeof timeouts / sizeof timeouts[0]; i++) {
        cf_future *f = new_future();
        pthread_t t;
        waiter w = {0};
        start_waiter(&t, &w, f, timeouts[i]);
        wait_until_sleeping(&w.tid);
        ck_assert_int_eq(cf_future_set_running(f), 0);
        ck_assert_int_eq(cf_future_set_result(f, (int)i + 100), 0);
        ck_assert_int_eq(pthread_join(t, NULL), 0);
        ck_assert_msg(w.rc == 0, "timeout %g: %s", timeouts[i], cf_err_name(w.rc));
        ck_assert_int_eq(w.value, (int)i + 100);
        cf_future_release(f);
    }
}
END_TEST

START_TEST(future_result_wakes_on_cancel)
{
    cf_future *f = new_future();
    pthread_t t;
    waiter w = {0};
    start_waiter(&t, &w, f, CF_FOREVER);
    wait_until_sleeping(&w.tid);
    ck_assert(cf_future_cancel(f));
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    ck_assert_int_eq(w.rc, CF_ECANCELLED);
    ck_assert_int_eq(w.value, -1);
    cf_future_release(f);
}
END_TEST

START_TEST(future_result_wakes_on_error)
{
    cf_future *f = new_future();
    pthread_t t;
    waiter w = {0};
    start_waiter(&t, &w, f, 30.0);
    wait_until_sleeping(&w.tid);
    ck_assert_int_eq(cf_future_set_error(f, CF_ECRASHED, "worker died"), 0);
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    ck_assert_int_eq(w.rc, CF_ECRASHED);
    cf_future_release(f);
}
END_TEST

START_TEST(future_wait_completed_by_thread)
{
    cf_future *f = new_future();
    pthread_t t;
    waiter w = {.use_wait = true};
    start_waiter(&t, &w, f, CF_FOREVER);
    wait_until_sleeping(&w.tid);
    ck_assert_int_eq(cf_future_set_error(f, CF_ETASK, "the outcome does not matter"), 0);
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    ck_assert_int_eq(w.rc, 0);
    cf_future_release(f);
}
END_TEST

#define WAITERS 8

static void run_many_waiters(int how)
{
    cf_future *f = new_future();
    pthread_t threads[WAITERS];
    waiter w[WAITERS];
    memset(w, 0, sizeof w);
    for (int i = 0; i < WAITERS; i++) {
        w[i].use_wait = i % 2 == 1;
        start_waiter(&threads[i], &w[i], f, i % 4 == 0 ? CF_FOREVER : 60.0);
    }
    for (int i = 0; i < WAITERS; i++)
        wait_until_sleeping(&w[i].tid);
    if (how == 0)
        ck_assert_int_eq(cf_future_set_result(f, 31337), 0);
    else if (how == 1)
        ck_assert(cf_future_cancel(f));
    else
        ck_assert_int_eq(cf_future_set_error(f, CF_EBROKEN, "broken"), 0);
    for (int i = 0; i < WAITERS; i++) {
        ck_assert_int_eq(pthread_join(threads[i], NULL), 0);
        if (w[i].use_wait) {
            ck_assert_int_eq(w[i].rc, 0);
        } else if (how == 0) {
            ck_assert_int_eq(w[i].rc, 0);
            ck_assert_int_eq(w[i].value, 31337);
        } else {
            ck_assert_int_eq(w[i].rc, how == 1 ? CF_ECANCELLED : CF_EBROKEN);
        }
    }
    cf_future_release(f);
}

START_TEST(future_many_waiters_result)
{
    run_many_waiters(0);
}
END_TEST

START_TEST(future_many_waiters_cancel)
{
    run_many_waiters(1);
}
END_TEST

START_TEST(future_many_waiters_error)
{
    run_many_waiters(2);
}
END_TEST

/* ---- Results of every type ------------------------------------------------------------- */

#define CHECK_RESULT(T, x)                                                           \
    do {                                                                             \
        cf_future *f_ = new_future();                                                \
        T in_ = (x);                                                                 \
        ck_assert_int_eq(cf_future_set_result(f_, in_), 0);                          \
        assert_type_eq(cf_future_result_type(f_), CF_TYPE_OF(T), #T);               \
        T out_;                                                                      \
        memset(&out_, 0xAB, sizeof out_);                                            \
        ck_assert_int_eq(cf_future_result(f_, &out_, 0), 0);                         \
        ck_assert_msg(memcmp(&out_, &in_, sizeof in_) == 0, "result of type " #T);   \
        cf_future_release(f_);                                                       \
    } while (0)

START_TEST(future_result_every_scalar_type)
{
    CHECK_RESULT(bool, true);
    CHECK_RESULT(bool, false);
    CHECK_RESULT(char, 'x');
    CHECK_RESULT(signed char, -128);
    CHECK_RESULT(unsigned char, 255);
    CHECK_RESULT(short, SHRT_MIN);
    CHECK_RESULT(unsigned short, USHRT_MAX);
    CHECK_RESULT(int, INT_MIN);
    CHECK_RESULT(unsigned int, UINT_MAX);
    CHECK_RESULT(long, LONG_MIN);
    CHECK_RESULT(unsigned long, ULONG_MAX);
    CHECK_RESULT(long long, LLONG_MAX);
    CHECK_RESULT(unsigned long long, ULLONG_MAX);
    CHECK_RESULT(int8_t, INT8_MIN);
    CHECK_RESULT(uint8_t, UINT8_MAX);
    CHECK_RESULT(int16_t, INT16_MIN);
    CHECK_RESULT(uint16_t, UINT16_MAX);
    CHECK_RESULT(int32_t, INT32_MIN);
    CHECK_RESULT(uint32_t, UINT32_MAX);
    CHECK_RESULT(int64_t, INT64_MIN);
    CHECK_RESULT(uint64_t, UINT64_MAX);
    CHECK_RESULT(size_t, SIZE_MAX);
    CHECK_RESULT(float, -3.25f);
    CHECK_RESULT(double, 1e-310); /* subnormal */
    CHECK_RESULT(double, -INFINITY);
    int target;
    CHECK_RESULT(void *, &target);
    CHECK_RESULT(void *, NULL);
}
END_TEST

/* The typed constructors, through cf_future_set_value. */
START_TEST(future_result_from_values)
{
    struct {
        cf_value v;
        cf_type t;
    } cases[] = {
        {cf_value_bool(true), CF_TYPE_OF(bool)},  {cf_value_i8(-8), CF_TYPE_OF(int8_t)},
        {cf_value_u8(8), CF_TYPE_OF(uint8_t)},     {cf_value_i16(-16), CF_TYPE_OF(int16_t)},
        {cf_value_u16(16), CF_TYPE_OF(uint16_t)},  {cf_value_i32(-32), CF_TYPE_OF(int32_t)},
        {cf_value_u32(32), CF_TYPE_OF(uint32_t)},  {cf_value_i64(-64), CF_TYPE_OF(int64_t)},
        {cf_value_u64(64), CF_TYPE_OF(uint64_t)},  {cf_value_f32(0.5f), CF_TYPE_OF(float)},
        {cf_value_f64(0.25), CF_TYPE_OF(double)},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cf_future *f = new_future();
        ck_assert_int_eq(cf_future_set_value(f, &cases[i].v), 0);
        assert_type_eq(cf_future_result_type(f), cases[i].t, cf_kind_name(cases[i].t.kind));
        union {
            unsigned char bytes[16];
            max_align_t align;
        } out, want;
        memset(&out, 0, sizeof out);
        memset(&want, 0, sizeof want);
        ck_assert_int_eq(cf__future_result(f, cases[i].t, &out, 0), 0);
        ck_assert_int_eq(cf_value_store(&cases[i].v, cases[i].t, &want), 0);
        ck_assert_msg(memcmp(&out, &want, sizeof out) == 0, "%s", cf_kind_name(cases[i].t.kind));
        cf_future_release(f);
    }
}
END_TEST

START_TEST(future_result_string_copied)
{
    char source[] = "hello";
    cf_future *f = new_future();
    ck_assert_int_eq(cf_future_set_result(f, source), 0);
    assert_type_eq(cf_future_result_type(f), CF_TYPE_OF(const char *), "string");
    source[0] = 'J';
    memset(source + 1, 'X', sizeof source - 2);

    const char *out = NULL;
    ck_assert_int_eq(cf_future_result(f, &out, 0), 0);
    ck_assert_ptr_nonnull(out);
    ck_assert_ptr_ne(out, source);
    ck_assert_str_eq(out, "hello");
    /* char * reads the same string. */
    char *out2 = NULL;
    ck_assert_int_eq(cf_future_result(f, &out2, 0), 0);
    ck_assert_str_eq(out2, "hello");
    cf_future_release(f);

    /* A string literal, a const char *, an empty and a long string. */
    f = new_future();
    ck_assert_int_eq(cf_future_set_result(f, "literal"), 0);
    ck_assert_int_eq(cf_future_result(f, &out, 0), 0);
    ck_assert_str_eq(out, "literal");
    cf_future_release(f);

    f = new_future();
    const char *empty = "";
    ck_assert_int_eq(cf_future_set_result(f, empty), 0);
    ck_assert_int_eq(cf_future_result(f, &out, 0), 0);
    ck_assert_str_eq(out, "");
    cf_future_release(f);

    size_t len = 100000;
    char *longer = malloc(len + 1);
    ck_assert_ptr_nonnull(longer);
    for (size_t i = 0; i < len; i++)
        longer[i] = (char)('a' + i % 26);
    longer[len] = '\0';
    f = new_future();
    ck_assert_int_eq(cf_future_set_result(f, longer), 0);
    memset(longer, 'z', len);
    ck_assert_int_eq(cf_future_result(f, &out, 0), 0);
    ck_assert_uint_eq(strlen(out), len);
    for (size_t i = 0; i < len; i++)
        ck_assert_int_eq(out[i], 'a' + i % 26);
    free(longer);
    cf_future_release(f);
}
END_TEST

START_TEST(future_result_null_string)
{
    cf_future *f = new_future();
    const char *none = NULL;
    ck_assert_int_eq(cf_future_set_result(f, none), 0);
    assert_type_eq(cf_future_result_type(f), CF_TYPE_OF(const char *), "null string");
    const char *out = "not null";
    ck_assert_int_eq(cf_future_result(f, &out, 0), 0);
    ck_assert_ptr_null(out);
    cf_future_release(f);
}
END_TEST

START_TEST(future_result_bytes_copied)
{
    unsigned char data[300];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (unsigned char)i;
    cf_future *f = new_future();
    cf_value v = cf_value_bytes(data, sizeof data);
    ck_assert_int_eq(cf_future_set_value(f, &v), 0);
    memset(data, 0, sizeof data);
    assert_type_eq(cf_future_result_type(f), CF_TYPE_OF(cf_bytes), "bytes");

    cf_bytes out = {NULL, 0};
    ck_assert_int_eq(cf_future_result(f, &out, 0), 0);
    ck_assert_uint_eq(out.len, sizeof data);
    ck_assert_ptr_ne(out.data, data);
    for (size_t i = 0; i < sizeof data; i++)
        ck_assert_uint_eq(((const unsigned char *)out.data)[i], (unsigned char)i);
    cf_future_release(f);

    /* An empty buffer. */
    f = new_future();
    v = cf_value_bytes(NULL, 0);
    ck_assert_int_eq(cf_future_set_value(f, &v), 0);
    out.len = 99;
    ck_assert_int_eq(cf_future_result(f, &out, 0), 0);
    ck_assert_uint_eq(out.len, 0);
    cf_future_release(f);
}
END_TEST

START_TEST(future_result_struct_copied)
{
    big in;
    memset(&in, 0, sizeof in);
    snprintf(in.text, sizeof in.text, "%s", "struct result");
    in.words[0] = UINT64_MAX;
    in.words[1] = 12345;
    cf_future *f = new_future();
    cf_value v = cf_value_struct(&in, sizeof in);
    ck_assert_int_eq(cf_future_set_value(f, &v), 0);
    big saved = in;
    memset(&in, 0xFF, sizeof in);
    assert_type_eq(cf_future_result_type(f), CF_TYPE_OF(big), "struct");

    big out;
    memset(&out, 0, sizeof out);
    ck_assert_int_eq(cf_future_result(f, &out, 0), 0);
    ck_assert(memcmp(&out, &saved, sizeof out) == 0);
    cf_future_release(f);
}
END_TEST

START_TEST(future_result_void)
{
    cf_future *f = new_future();
    cf_value v = cf_value_void();
    ck_assert_int_eq(cf_future_set_value(f, &v), 0);
    ck_assert_int_eq(cf_future_state_of(f), CF_FUTURE_FINISHED);
    ck_assert_uint_eq(cf_future_result_type(f).kind, CF_KIND_VOID);
    ck_assert_int_eq(cf_future_result(f, NULL, 0), 0);
    int x = 4;
    ck_assert_int_eq(cf_future_result(f, &x, 0), CF_ETYPE);
    ck_assert_int_eq(x, 4);
    cf_future_release(f);
}
END_TEST

START_TEST(future_result_wrong_type)
{
    cf_future *f = new_future();
    ck_assert_int_eq(cf_future_set_result(f, 1.5), 0);

    int i = 11;
    float fl = 2.0f;
    int64_t i64 = 12;
    uint64_t u64 = 13;
    const char *s = "untouched";
    cf_bytes b = {NULL, 14};
    point p = {1, 2, 3.0};
    void *ptr = &i;
    bool flag = true;
    ck_assert_int_eq(cf_future_result(f, &i, 0), CF_ETYPE);
    ck_assert_int_eq(cf_future_result(f, &fl, 0), CF_ETYPE);
    ck_assert_int_eq(cf_future_result(f, &i64, 0), CF_ETYPE);
    ck_assert_int_eq(cf_future_result(f, &u64, 0), CF_ETYPE); /* same size, other kind */
    ck_assert_int_eq(cf_future_result(f, &s, 0), CF_ETYPE);
    ck_assert_int_eq(cf_future_result(f, &b, 0), CF_ETYPE);
    ck_assert_int_eq(cf_future_result(f, &p, 0), CF_ETYPE);
    ck_assert_int_eq(cf_future_result(f, &ptr, 0), CF_ETYPE);
    ck_assert_int_eq(cf_future_result(f, &flag, 0), CF_ETYPE);
    /* Nothing was stored. */
    ck_assert_int_eq(i, 11);
    ck_assert(fl == 2.0f);
    ck_assert_int_eq(i64, 12);
    ck_assert_uint_eq(u64, 13);
    ck_assert_str_eq(s, "untouched");
    ck_assert_uint_eq(b.len, 14);
    ck_assert_int_eq(p.x, 1);
    ck_assert_ptr_eq(ptr, &i);
    ck_assert(flag);
    /* A failed read changes nothing: the right type still reads. */
    double d = 0;
    ck_assert_int_eq(cf_future_result(f, &d, 0), 0);
    ck_assert(d == 1.5);
    cf_future_release(f);

    /* Signedness and width of integers. */
    f = new_future();
    ck_assert_int_eq(cf_future_set_result(f, (int32_t)-1), 0);
    uint32_t u32 = 0;
    int16_t i16 = 0;
    ck_assert_int_eq(cf_future_result(f, &u32, 0), CF_ETYPE);
    ck_assert_int_eq(cf_future_result(f, &i16, 0), CF_ETYPE);
    ck_assert_int_eq(cf_future_result(f, &i64, 0), CF_ETYPE);
    int32_t i32 = 0;
    ck_assert_int_eq(cf_future_result(f, &i32, 0), 0);
    ck_assert_int_eq(i32, -1);
    cf_future_release(f);

    /* A struct read as a struct of another size. */
    f = new_future();
    point pt = {1, 2, 3.0};
    cf_value v = cf_value_struct(&pt, sizeof pt);
    ck_assert_int_eq(cf_future_set_value(f, &v), 0);
    big other;
    ck_assert_int_eq(cf_future_result(f, &other, 0), CF_ETYPE);
    cf_future_release(f);

    /* A string read as bytes. */
    f = new_future();
    ck_assert_int_eq(cf_future_set_result(f, "text"), 0);
    ck_assert_int_eq(cf_future_result(f, &b, 0), CF_ETYPE);
    cf_future_release(f);
}
END_TEST

/* A value that cannot be stored is refused, and the future is left as it
 * was: still pending, free to be completed properly. */
START_TEST(future_set_value_refused_leaves_future)
{
    cf_future *f = new_future();
    ck_assert_int_eq(cf_future_set_value(f, NULL), CF_EINVAL);
    cf_value unknown = cf_value_i32(1);
    unknown.type.kind = CF_KIND_COUNT_;
    ck_assert_int_lt(cf_future_set_value(f, &unknown), 0);
    ck_assert_int_eq(cf_future_state_of(f), CF_FUTURE_PENDING);

    /* A struct value without its bytes. */
    cf_value hollow = cf_value_struct(NULL, sizeof(point));
    int rc = cf_future_set_value(f, &hollow);
    ck_assert_int_lt(rc, 0);
    ck_assert_int_ne(rc, CF_ESTATE);
    cf_future_state state = cf_future_state_of(f);
    int error = cf_future_error(f) != NULL ? cf_future_error(f)->code : 0;
    if (state != CF_FUTURE_PENDING)
        cf_future_release(f); /* the assertion below ends the test */
    ck_assert_msg(state == CF_FUTURE_PENDING,
                  "a refused set_value (%s) completed the future: state %d, error %s",
                  cf_err_name(rc), (int)state, error != 0 ? cf_err_name(error) : "none");
    ck_assert_int_eq(cf_future_set_result(f, 8), 0);
    int v = 0;
    ck_assert_int_eq(cf_future_result(f, &v, 0), 0);
    ck_assert_int_eq(v, 8);
    cf_future_release(f);
}
END_TEST

START_TEST(future_result_null_out)
{
    cf_future *f = new_future();
    ck_assert_int_eq(cf_future_set_result(f, "ignored"), 0);
    ck_assert_int_eq(cf_future_result(f, NULL, 0), 0);
    ck_assert_int_eq(cf_future_result(f, NULL, CF_FOREVER), 0);
    cf_future_release(f);

    f = new_future();
    ck_assert_int_eq(cf_future_set_result(f, 3.0), 0);
    ck_assert_int_eq(cf_future_result(f, NULL, 0), 0);
    cf_future_release(f);
}
END_TEST

START_TEST(future_value)
{
    cf_future *f = new_future();
    ck_assert_int_eq(cf_future_set_result(f, -77), 0);
    cf_value v;
    ck_assert_int_eq(cf_future_value(f, &v, 0), 0);
    assert_type_eq(v.type, CF_TYPE_OF(int), "value");
    ck_assert_int_eq(v.as.i, -77);
    cf_future_release(f);

    f = new_future();
    ck_assert_int_eq(cf_future_set_result(f, 0.125f), 0);
    ck_assert_int_eq(cf_future_value(f, &v, CF_FOREVER), 0);
    assert_type_eq(v.type, CF_TYPE_OF(float), "value");
    ck_assert(v.as.f == 0.125);
    cf_future_release(f);

    /* A string refers to the future's copy, the one result() gives. */
    char source[] = "value string";
    f = new_future();
    ck_assert_int_eq(cf_future_set_result(f, source), 0);
    source[0] = '!';
    ck_assert_int_eq(cf_future_value(f, &v, 0), 0);
    assert_type_eq(v.type, CF_TYPE_OF(const char *), "value");
    ck_assert_str_eq(v.as.str, "value string");
    const char *s;
    ck_assert_int_eq(cf_future_result(f, &s, 0), 0);
    ck_assert_ptr_eq(v.as.str, s);
    cf_future_release(f);

    /* A struct refers to the future's copy of its bytes. */
    point p = {7, 8, 9.5};
    f = new_future();
    cf_value in = cf_value_struct(&p, sizeof p);
    ck_assert_int_eq(cf_future_set_value(f, &in), 0);
    ck_assert_int_eq(cf_future_value(f, &v, 0), 0);
    assert_type_eq(v.type, CF_TYPE_OF(point), "value");
    ck_assert_ptr_ne(v.as.data, &p);
    ck_assert(memcmp(v.as.data, &p, sizeof p) == 0);
    cf_future_release(f);

    /* Bytes likewise. */
    unsigned char data[4] = {4, 3, 2, 1};
    f = new_future();
    in = cf_value_bytes(data, sizeof data);
    ck_assert_int_eq(cf_future_set_value(f, &in), 0);
    ck_assert_int_eq(cf_future_value(f, &v, 0), 0);
    assert_type_eq(v.type, CF_TYPE_OF(cf_bytes), "value");
    ck_assert_uint_eq(v.as.bytes.len, 4);
    ck_assert(memcmp(v.as.bytes.data, data, 4) == 0);
    cf_future_release(f);

    /* Failures. */
    f = new_future();
    ck_assert_int_eq(cf_future_value(f, &v, 0), CF_ETIMEDOUT);
    ck_assert_int_eq(cf_future_set_error(f, CF_ETASK, "no value"), 0);
    ck_assert_int_eq(cf_future_value(f, &v, 0), CF_ETASK);
    cf_future_release(f);
}
END_TEST

/* ---- Errors ------------------------------------------------------------------------------- */

START_TEST(future_error_fields)
{
    cf_future *f = new_future();
    ck_assert_ptr_null(cf_future_error(f));
    ck_assert_int_eq(cf_future_set_running(f), 0);
    ck_assert_int_eq(cf_future_set_error(f, CF_ETASK, "bad %d, %s, %.2f, 100%%", 7, "seven", 7.0),
                     0);
    ck_assert_int_eq(cf_future_state_of(f), CF_FUTURE_FINISHED);
    ck_assert(cf_future_done(f));
    ck_assert(cf_future_failed(f));
    ck_assert(!cf_future_cancelled(f));
    ck_assert(!cf_future_running(f));
    ck_assert_int_eq(cf_future_wait(f, 0), 0);

    int v = 5;
    ck_assert_int_eq(cf_future_result(f, &v, 0), CF_ETASK);
    ck_assert_int_eq(v, 5);
    ck_assert_int_eq(cf_future_result(f, NULL, CF_FOREVER), CF_ETASK);

    const cf_error *e = cf_future_error(f);
    ck_assert_ptr_nonnull(e);
    ck_assert_int_eq(e->code, CF_ETASK);
    ck_assert_int_eq(e->detail, 0);
    ck_assert_ptr_nonnull(e->message);
    ck_assert_str_eq(e->message, "bad 7, seven, 7.00, 100%");
    ck_assert_ptr_null(e->task);
    ck_assert_ptr_null(e->origin);
    /* The same object each time. */
    ck_assert_ptr_eq(cf_future_error(f), e);
    cf_future_release(f);
}
END_TEST

START_TEST(future_error_codes)
{
    const int codes[] = {-ENOMEM, -EPIPE, CF_ECRASHED, CF_EBROKEN, CF_ETIMEDOUT, CF_ECANCELLED,
                         -1, INT_MIN};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        cf_future *f = new_future();
        ck_assert_int_eq(cf_future_set_error(f, codes[i], "code %d", codes[i]), 0);
        ck_assert_int_eq(cf_future_state_of(f), CF_FUTURE_FINISHED);
        ck_assert(cf_future_failed(f));
        ck_assert(!cf_future_cancelled(f));
        ck_assert_int_eq(cf_future_result(f, NULL, 0), codes[i]);
        ck_assert_int_eq(cf_future_error(f)->code, codes[i]);
        char want[64];
        snprintf(want, sizeof want, "code %d", codes[i]);
        ck_assert_str_eq(cf_future_error(f)->message, want);
        cf_future_release(f);
    }
}
END_TEST

START_TEST(future_error_invalid_code)
{
    cf_future *f = new_future();
    ck_assert_int_eq(cf_future_set_error(f, 0, "zero is success"), CF_EINVAL);
    ck_assert_int_eq(cf_future_set_error(f, 1, "positive"), CF_EINVAL);
    ck_assert_int_eq(cf_future_set_error(f, INT_MAX, "positive"), CF_EINVAL);
    ck_assert_int_eq(cf_future_state_of(f), CF_FUTURE_PENDING);
    ck_assert_ptr_null(cf_future_error(f));
    ck_assert_uint_gt(strlen(cf_last_error()), 0);
    /* Still usable. */
    ck_assert_int_eq(cf_future_set_result(f, 1), 0);
    /* On a done future, a bad code is refused one way or the other. */
    int rc = cf_future_set_error(f, 0, "zero");
    ck_assert(rc == CF_EINVAL || rc == CF_ESTATE);
    ck_assert(!cf_future_failed(f));
    cf_future_release(f);
}
END_TEST

START_TEST(future_error_empty_message)
{
    cf_future *f = new_future();
    ck_assert_int_eq(cf_future_set_error(f, CF_ETASK, "%s", ""), 0);
    const cf_error *e = cf_future_error(f);
    ck_assert_ptr_nonnull(e);
    ck_assert_ptr_nonnull(e->message);
    ck_assert_str_eq(e->message, "");
    cf_future_release(f);
}
END_TEST

START_TEST(future_error_long_message)
{
    size_t len = 5000;
    char *text = malloc(len + 1);
    ck_assert_ptr_nonnull(text);
    for (size_t i = 0; i < len; i++)
        text[i] = (char)('A' + i % 26);
    text[len] = '\0';
    cf_future *f = new_future();
    ck_assert_int_eq(cf_future_set_error(f, CF_ETASK, "%s", text), 0);
    const cf_error *e = cf_future_error(f);
    ck_assert_ptr_nonnull(e);
    ck_assert_uint_eq(strlen(e->message), len);
    ck_assert(strcmp(e->message, text) == 0);
    free(text);
    cf_future_release(f);
}
END_TEST

/* Every failed future has its own cf_error, which lives as long as it. */
START_TEST(future_error_own_object)
{
    cf_future *a = new_future(), *b = new_future();
    ck_assert_int_eq(cf_future_set_error(a, CF_EBROKEN, "same"), 0);
    ck_assert_int_eq(cf_future_set_error(b, CF_EBROKEN, "same"), 0);
    const cf_error *ea = cf_future_error(a), *eb = cf_future_error(b);
    ck_assert_ptr_nonnull(ea);
    ck_assert_ptr_nonnull(eb);
    ck_assert_ptr_ne(ea, eb);
    ck_assert_ptr_ne(ea->message, eb->message);
    cf_future_release(a);
    ck_assert_int_eq(eb->code, CF_EBROKEN);
    ck_assert_str_eq(eb->message, "same");
    cf_future_release(b);
}
END_TEST

/* ---- Done-callbacks ------------------------------------------------------------------------ */

START_TEST(future_callback_order)
{
    cf_future *f = new_future();
    cb_log log;
    log_init(&log);
    cb_arg args[10];
    for (int i = 0; i < 10; i++) {
        args[i] = (cb_arg){&log, i, f};
        ck_assert_int_eq(cf_future_add_done_callback(f, log_cb, &args[i]), 0);
    }
    /* The same function and argument twice runs twice. */
    ck_assert_int_eq(cf_future_add_done_callback(f, log_cb, &args[3]), 0);
    ck_assert_int_eq(log_count(&log), 0);
    ck_assert_int_eq(cf_future_set_result(f, 1), 0);
    /* All ran before set_result returned, in the order added, each once. */
    ck_assert_int_eq(log.n, 11);
    for (int i = 0; i < 10; i++) {
        ck_assert_int_eq(log.ids[i], i);
        ck_assert_int_eq(log.states[i], CF_FUTURE_FINISHED);
    }
    ck_assert_int_eq(log.ids[10], 3);
    ck_assert_int_eq(log.wrong_future, 0);
    /* Completing again runs nothing. */
    ck_assert_int_eq(cf_future_set_result(f, 2), CF_ESTATE);
    ck_assert(!cf_future_cancel(f));
    ck_assert_int_eq(log.n, 11);
    cf_future_release(f);
}
END_TEST

START_TEST(future_callback_null_fn)
{
    cf_future *f = new_future();
    ck_assert_int_eq(cf_future_add_done_callback(f, NULL, NULL), CF_EINVAL);
    ck_assert_int_eq(cf_future_set_result(f, 1), 0);
    ck_assert_int_eq(cf_future_add_done_callback(f, NULL, NULL), CF_EINVAL);
    cf_future_release(f);
}
END_TEST

START_TEST(future_callback_on_error)
{
    cf_future *f = new_future();
    cb_log log;
    log_init(&log);
    cb_arg a = {&log, 1, f};
    ck_assert_int_eq(cf_future_add_done_callback(f, log_cb, &a), 0);
    ck_assert_int_eq(cf_future_set_error(f, CF_ETASK, "failed"), 0);
    ck_assert_int_eq(log.n, 1);
    ck_assert_int_eq(log.states[0], CF_FUTURE_FINISHED);
    ck_assert(pthread_equal(log.threads[0], pthread_self()));
    cf_future_release(f);
}
END_TEST

START_TEST(future_callback_on_cancel)
{
    cf_future *f = new_future();
    cb_log log;
    log_init(&log);
    cb_arg a[2] = {{&log, 1, f}, {&log, 2, f}};
    ck_assert_int_eq(cf_future_add_done_callback(f, log_cb, &a[0]), 0);
    ck_assert_int_eq(cf_future_add_done_callback(f, log_cb, &a[1]), 0);
    ck_assert(cf_future_cancel(f));
    ck_assert_int_eq(log.n, 2);
    ck_assert_int_eq(log.ids[0], 1);
    ck_assert_int_eq(log.ids[1], 2);
    ck_assert_int_eq(log.states[0], CF_FUTURE_CANCELLED);
    ck_assert(pthread_equal(log.threads[0], pthread_self()));
    /* Cancelling again runs nothing more. */
    ck_assert(cf_future_cancel(f));
    ck_assert_int_eq(log.n, 2);
    cf_future_release(f);
}
END_TEST

START_TEST(future_callback_on_done_runs_at_once)
{
    cb_log log;
    log_init(&log);
    for (int how = 0; how < 3; how++) {
        cf_future *f = new_future();
        if (how == 0)
            ck_assert_int_eq(cf_future_set_result(f, 1), 0);
        else if (how == 1)
            ck_assert_int_eq(cf_future_set_error(f, CF_ETASK, "x"), 0);
        else
            ck_assert(cf_future_cancel(f));
        cb_arg a = {&log, how, f};
        int before = log_count(&log);
        ck_assert_int_eq(cf_future_add_done_callback(f, log_cb, &a), 0);
        ck_assert_int_eq(log_count(&log), before + 1);
        ck_assert_int_eq(log.ids[before], how);
        ck_assert(pthread_equal(log.threads[before], pthread_self()));
        cf_future_release(f);
    }
    ck_assert_int_eq(log.wrong_future, 0);
}
END_TEST

/* Completes or cancels a future from a thread of its own. */
typedef struct completer {
    cf_future *f;
    int how; /* 0: set_result, 1: set_error, 2: cancel */
    pthread_t self;
    int rc;
} completer;

static void *completer_main(void *arg)
{
    completer *c = arg;
    c->self = pthread_self();
    if (c->how == 0)
        c->rc = cf_future_set_result(c->f, 10);
    else if (c->how == 1)
        c->rc = cf_future_set_error(c->f, CF_ETASK, "from a thread");
    else
        c->rc = cf_future_cancel(c->f) ? 0 : -1;
    return NULL;
}

START_TEST(future_callback_in_completing_thread)
{
    for (int how = 0; how < 3; how++) {
        cf_future *f = new_future();
        cb_log log;
        log_init(&log);
        cb_arg a[3] = {{&log, 0, f}, {&log, 1, f}, {&log, 2, f}};
        for (int i = 0; i < 3; i++)
            ck_assert_int_eq(cf_future_add_done_callback(f, log_cb, &a[i]), 0);
        completer c = {.f = f, .how = how};
        pthread_t t;
        ck_assert_int_eq(pthread_create(&t, NULL, completer_main, &c), 0);
        ck_assert_int_eq(pthread_join(t, NULL), 0);
        ck_assert_int_eq(c.rc, 0);
        ck_assert_int_eq(log.n, 3);
        for (int i = 0; i < 3; i++) {
            ck_assert_int_eq(log.ids[i], i);
            ck_assert(pthread_equal(log.threads[i], c.self));
            ck_assert(!pthread_equal(log.threads[i], pthread_self()));
        }
        cf_future_release(f);
    }
}
END_TEST

/* Inside a callback the future is done and its outcome can be read without
 * blocking (no library lock is held). */
typedef struct inspect {
    bool ran, done, cancel_refused;
    int result_rc, value, wait_rc, set_rc;
} inspect;

static void inspect_cb(cf_future *f, void *arg)
{
    inspect *in = arg;
    in->ran = true;
    in->done = cf_future_done(f);
    in->result_rc = cf_future_result(f, &in->value, 0);
    in->wait_rc = cf_future_wait(f, CF_FOREVER);
    in->cancel_refused = !cf_future_cancel(f);
    in->set_rc = cf_future_set_result(f, 0);
}

START_TEST(future_callback_sees_outcome)
{
    cf_future *f = new_future();
    inspect in = {0};
    ck_assert_int_eq(cf_future_add_done_callback(f, inspect_cb, &in), 0);
    ck_assert_int_eq(cf_future_set_result(f, 64), 0);
    ck_assert(in.ran);
    ck_assert(in.done);
    ck_assert_int_eq(in.result_rc, 0);
    ck_assert_int_eq(in.value, 64);
    ck_assert_int_eq(in.wait_rc, 0);
    ck_assert(in.cancel_refused);
    ck_assert_int_eq(in.set_rc, CF_ESTATE);
    int v = 0;
    ck_assert_int_eq(cf_future_result(f, &v, 0), 0);
    ck_assert_int_eq(v, 64);
    cf_future_release(f);
}
END_TEST

static void release_cb(cf_future *f, void *arg)
{
    (*(int *)arg)++;
    cf_future_release(f);
}

/* A callback may drop the last reference its owner had. */
START_TEST(future_callback_releases_future)
{
    for (int how = 0; how < 3; how++) {
        int ran = 0;
        cf_future *f = new_future();
        ck_assert_int_eq(cf_future_add_done_callback(f, release_cb, &ran), 0);
        if (how == 0)
            ck_assert_int_eq(cf_future_set_result(f, "freed by its callback"), 0);
        else if (how == 1)
            ck_assert_int_eq(cf_future_set_error(f, CF_ETASK, "freed by its callback"), 0);
        else
            ck_assert(cf_future_cancel(f));
        /* f is gone: valgrind and ASan check nothing touched it after. */
        ck_assert_int_eq(ran, 1);
    }

    /* Added to a done future: runs at once and frees it. */
    int ran = 0;
    cf_future *f = new_future();
    ck_assert_int_eq(cf_future_set_result(f, 1), 0);
    ck_assert_int_eq(cf_future_add_done_callback(f, release_cb, &ran), 0);
    ck_assert_int_eq(ran, 1);

    /* Completed from another thread while its only reference goes with the
     * callback. */
    ran = 0;
    f = new_future();
    ck_assert_int_eq(cf_future_add_done_callback(f, release_cb, &ran), 0);
    completer c = {.f = f, .how = 0};
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, completer_main, &c), 0);
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    ck_assert_int_eq(c.rc, 0);
    ck_assert_int_eq(ran, 1);
}
END_TEST

/* Adding a callback from inside a callback, to the same (now done) future. */
typedef struct nested {
    cb_log *log;
    cf_future *f;
    int add_rc;
    int count_after_add;
    cb_arg inner;
} nested;

static void outer_cb(cf_future *f, void *arg)
{
    nested *n = arg;
    log_append(n->log, 1, cf_future_state_of(f));
    n->inner = (cb_arg){n->log, 2, f};
    n->add_rc = cf_future_add_done_callback(f, log_cb, &n->inner);
    n->count_after_add = log_count(n->log);
    log_append(n->log, 3, cf_future_state_of(f));
}

START_TEST(future_callback_adds_callback)
{
    cf_future *f = new_future();
    cb_log log;
    log_init(&log);
    nested n = {.log = &log, .f = f};
    cb_arg last = {&log, 4, f};
    ck_assert_int_eq(cf_future_add_done_callback(f, outer_cb, &n), 0);
    ck_assert_int_eq(cf_future_add_done_callback(f, log_cb, &last), 0);
    ck_assert_int_eq(cf_future_set_result(f, 1), 0);
    ck_assert_int_eq(n.add_rc, 0);
    ck_assert_int_eq(log.n, 4);
    /* The inner callback ran at once, inside add_done_callback. */
    ck_assert_int_eq(n.count_after_add, 2);
    const int want[4] = {1, 2, 3, 4};
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(log.ids[i], want[i]);
        ck_assert(pthread_equal(log.threads[i], pthread_self()));
    }
    ck_assert_int_eq(log.wrong_future, 0);
    cf_future_release(f);
}
END_TEST

/* A callback that completes another future: that future's callbacks run
 * after the current callback returns, in the same thread. */
typedef struct relay {
    cb_log *log;
    cf_future *next;
    int set_rc;
    bool next_done_at_once;
} relay;

static void relay_cb(cf_future *f, void *arg)
{
    relay *r = arg;
    log_append(r->log, 1, cf_future_state_of(f));
    r->set_rc = cf_future_set_result(r->next, 2);
    r->next_done_at_once = cf_future_done(r->next);
    log_append(r->log, 2, cf_future_state_of(f));
}

START_TEST(future_callback_completes_other)
{
    cf_future *f = new_future(), *g = new_future();
    cb_log log;
    log_init(&log);
    relay r = {&log, g, 1, false};
    cb_arg on_g = {&log, 3, g};
    ck_assert_int_eq(cf_future_add_done_callback(f, relay_cb, &r), 0);
    ck_assert_int_eq(cf_future_add_done_callback(g, log_cb, &on_g), 0);
    ck_assert_int_eq(cf_future_set_result(f, 1), 0);
    ck_assert_int_eq(r.set_rc, 0);
    ck_assert(r.next_done_at_once); /* only the callbacks wait, not the completion */
    ck_assert_int_eq(log.n, 3);
    ck_assert_int_eq(log.ids[0], 1);
    ck_assert_int_eq(log.ids[1], 2);
    ck_assert_int_eq(log.ids[2], 3);
    ck_assert_int_eq(log.states[2], CF_FUTURE_FINISHED);
    for (int i = 0; i < 3; i++)
        ck_assert(pthread_equal(log.threads[i], pthread_self()));
    int v = 0;
    ck_assert_int_eq(cf_future_result(g, &v, 0), 0);
    ck_assert_int_eq(v, 2);
    cf_future_release(f);
    cf_future_release(g);
}
END_TEST

/* A chain of futures, each completed by the previous one's callback. */
#define CHAIN 100000
typedef struct chain {
    cf_future **fs;
    int *order;
    int n_done;
    int depth, max_depth;
    uintptr_t frame_min, frame_max;
    int failures;
} chain;

static chain the_chain;

static void chain_cb(cf_future *f, void *arg)
{
    chain *c = &the_chain;
    int i = (int)(intptr_t)arg;
    uintptr_t frame = (uintptr_t)__builtin_frame_address(0);
    if (frame < c->frame_min)
        c->frame_min = frame;
    if (frame > c->frame_max)
        c->frame_max = frame;
    if (++c->depth > c->max_depth)
        c->max_depth = c->depth;
    if (f != c->fs[i])
        c->failures++;
    c->order[c->n_done++] = i;
    if (i + 1 < CHAIN) {
        if (cf_future_set_result(c->fs[i + 1], i + 1) != 0)
            c->failures++;
    }
    c->depth--;
}

static void *run_chain(void *arg)
{
    (void)arg;
    if (cf_future_set_result(the_chain.fs[0], 0) != 0)
        the_chain.failures++;
    return NULL;
}

START_TEST(future_callback_chain_flat_stack)
{
    chain *c = &the_chain;
    c->fs = calloc(CHAIN, sizeof *c->fs);
    c->order = calloc(CHAIN, sizeof *c->order);
    ck_assert_ptr_nonnull(c->fs);
    ck_assert_ptr_nonnull(c->order);
    c->frame_min = UINTPTR_MAX;
    for (int i = 0; i < CHAIN; i++) {
        c->fs[i] = new_future();
        ck_assert_int_eq(cf_future_add_done_callback(c->fs[i], chain_cb, (void *)(intptr_t)i), 0);
    }
    /* Run it on a small stack: a chain that nested its callbacks would need
     * far more than this. */
    pthread_attr_t attr;
    ck_assert_int_eq(pthread_attr_init(&attr), 0);
    ck_assert_int_eq(pthread_attr_setstacksize(&attr, 1 << 20), 0);
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, &attr, run_chain, NULL), 0);
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    pthread_attr_destroy(&attr);

    ck_assert_int_eq(c->failures, 0);
    ck_assert_int_eq(c->n_done, CHAIN);
    ck_assert_int_eq(c->max_depth, 1);
    ck_assert_uint_lt(c->frame_max - c->frame_min, 64 * 1024);
    for (int i = 0; i < CHAIN; i++) {
        ck_assert_int_eq(c->order[i], i);
        int v = -1;
        ck_assert_int_eq(cf_future_result(c->fs[i], &v, 0), 0);
        ck_assert_int_eq(v, i);
        cf_future_release(c->fs[i]);
    }
    free(c->fs);
    free(c->order);
}
END_TEST

/* Callbacks added from many threads to one pending future. */
#define ADDERS 8
#define ADDS_PER_THREAD 1000

typedef struct adder {
    cf_future *f;
    int id;
    _Atomic int *runs;      /* per callback: how many times it ran */
    _Atomic int *sequence;  /* per callback: when it ran */
    _Atomic int *ticks;
    pthread_barrier_t *start;
    pthread_t *runner;      /* per callback: the thread that ran it */
    int bad_at_once;        /* added to a done future, but had not run on return */
    int add_failures;
} adder;

typedef struct slot_arg {
    adder *a;
    int index;
} slot_arg;

static void count_cb(cf_future *f, void *arg)
{
    (void)f;
    slot_arg *s = arg;
    atomic_fetch_add(&s->a->runs[s->index], 1);
    s->a->sequence[s->index] = atomic_fetch_add(s->a->ticks, 1);
    s->a->runner[s->index] = pthread_self();
}

static slot_arg *slot_args;

static void *adder_main(void *arg)
{
    adder *a = arg;
    pthread_barrier_wait(a->start);
    for (int k = 0; k < ADDS_PER_THREAD; k++) {
        int index = a->id * ADDS_PER_THREAD + k;
        slot_args[index] = (slot_arg){a, index};
        bool done_before = cf_future_done(a->f);
        if (cf_future_add_done_callback(a->f, count_cb, &slot_args[index]) != 0)
            a->add_failures++;
        else if (done_before && atomic_load(&a->runs[index]) != 1)
            a->bad_at_once++;
    }
    return NULL;
}

static void run_adders(bool complete_concurrently)
{
    const int total = ADDERS * ADDS_PER_THREAD;
    cf_future *f = new_future();
    _Atomic int *runs = calloc(total, sizeof *runs);
    _Atomic int *sequence = calloc(total, sizeof *sequence);
    pthread_t *runner = calloc(total, sizeof *runner);
    slot_args = calloc(total, sizeof *slot_args);
    ck_assert(runs && sequence && runner && slot_args);
    _Atomic int ticks = 0;
    pthread_barrier_t start;
    ck_assert_int_eq(pthread_barrier_init(&start, NULL, ADDERS + 1), 0);

    adder adders[ADDERS];
    pthread_t threads[ADDERS];
    for (int i = 0; i < ADDERS; i++) {
        adders[i] = (adder){.f = f, .id = i, .runs = runs, .sequence = sequence,
                            .ticks = &ticks, .start = &start, .runner = runner};
        ck_assert_int_eq(pthread_create(&threads[i], NULL, adder_main, &adders[i]), 0);
    }
    pthread_barrier_wait(&start);
    if (complete_concurrently)
        ck_assert_int_eq(cf_future_set_result(f, 1), 0);
    for (int i = 0; i < ADDERS; i++)
        ck_assert_int_eq(pthread_join(threads[i], NULL), 0);
    if (!complete_concurrently) {
        for (int i = 0; i < total; i++)
            ck_assert_int_eq(atomic_load(&runs[i]), 0);
        ck_assert_int_eq(cf_future_set_result(f, 1), 0);
    }

    for (int i = 0; i < ADDERS; i++) {
        ck_assert_int_eq(adders[i].add_failures, 0);
        ck_assert_int_eq(adders[i].bad_at_once, 0);
    }
    for (int i = 0; i < total; i++) {
        ck_assert_msg(atomic_load(&runs[i]) == 1, "callback %d ran %d times", i,
                      atomic_load(&runs[i]));
        /* Run by the completing thread (this one) or, if added after the
         * completion, by the thread that added it. */
        ck_assert(pthread_equal(runner[i], pthread_self()) ||
                  pthread_equal(runner[i], threads[i / ADDS_PER_THREAD]));
        if (!complete_concurrently)
            ck_assert(pthread_equal(runner[i], pthread_self()));
    }
    /* Each thread's callbacks: those added before the completion ran in the
     * completing thread, in the order added; the rest (a suffix) ran at once
     * in the adding thread, in order too. Which of the two groups runs first
     * is a race, as in Python. */
    for (int t = 0; t < ADDERS; t++) {
        const int first = t * ADDS_PER_THREAD;
        int split = 0;
        while (split < ADDS_PER_THREAD && pthread_equal(runner[first + split], pthread_self()))
            split++;
        for (int k = split; k < ADDS_PER_THREAD; k++)
            ck_assert(pthread_equal(runner[first + k], threads[t]));
        for (int k = 1; k < ADDS_PER_THREAD; k++)
            if (k != split)
                ck_assert_int_lt(sequence[first + k - 1], sequence[first + k]);
    }

    pthread_barrier_destroy(&start);
    free(runs);
    free(sequence);
    free(runner);
    free(slot_args);
    cf_future_release(f);
}

START_TEST(future_callback_from_threads)
{
    run_adders(false);
}
END_TEST

START_TEST(future_callback_add_races_completion)
{
    for (int round = 0; round < 5; round++)
        run_adders(true);
}
END_TEST

/* ---- Racing completions -------------------------------------------------------------------- */

#define RACERS 8
#define ROUNDS 1000

enum { OP_RESULT, OP_ERROR, OP_CANCEL, OP_RUNNING };

typedef struct race {
    pthread_barrier_t start, end;
    cf_future *f;
    int rc[RACERS];
    _Atomic int callback_runs;
} race;

typedef struct racer {
    race *r;
    int id;
} racer;

static int racer_op(int id)
{
    return id % 4;
}

static void *racer_main(void *arg)
{
    racer *me = arg;
    race *r = me->r;
    char message[32];
    snprintf(message, sizeof message, "racer %d", me->id);
    for (int round = 0; round < ROUNDS; round++) {
        pthread_barrier_wait(&r->start);
        switch (racer_op(me->id)) {
        case OP_RESULT:
            r->rc[me->id] = cf_future_set_result(r->f, me->id);
            break;
        case OP_ERROR:
            r->rc[me->id] = cf_future_set_error(r->f, CF_ETASK, "%s", message);
            break;
        case OP_CANCEL:
            r->rc[me->id] = cf_future_cancel(r->f) ? 1 : 0;
            break;
        case OP_RUNNING:
            r->rc[me->id] = cf_future_set_running(r->f);
            break;
        }
        pthread_barrier_wait(&r->end);
    }
    return NULL;
}

static void race_cb(cf_future *f, void *arg)
{
    (void)f;
    atomic_fetch_add(&((race *)arg)->callback_runs, 1);
}

START_TEST(future_race_completion)
{
    race r;
    memset(&r, 0, sizeof r);
    ck_assert_int_eq(pthread_barrier_init(&r.start, NULL, RACERS + 1), 0);
    ck_assert_int_eq(pthread_barrier_init(&r.end, NULL, RACERS + 1), 0);
    racer racers[RACERS];
    pthread_t threads[RACERS];
    for (int i = 0; i < RACERS; i++) {
        racers[i] = (racer){&r, i};
        ck_assert_int_eq(pthread_create(&threads[i], NULL, racer_main, &racers[i]), 0);
    }
    for (int round = 0; round < ROUNDS; round++) {
        r.f = new_future();
        atomic_store(&r.callback_runs, 0);
        ck_assert_int_eq(cf_future_add_done_callback(r.f, race_cb, &r), 0);
        pthread_barrier_wait(&r.start);
        pthread_barrier_wait(&r.end);

        cf_future *f = r.f;
        ck_assert(cf_future_done(f));
        ck_assert_int_eq(atomic_load(&r.callback_runs), 1);
        int winners = 0, winner = -1;
        if (cf_future_cancelled(f)) {
            for (int i = 0; i < RACERS; i++) {
                switch (racer_op(i)) {
                case OP_RESULT:
                case OP_ERROR:
                    ck_assert_int_eq(r.rc[i], CF_ESTATE);
                    break;
                case OP_CANCEL:
                    ck_assert_int_eq(r.rc[i], 1);
                    break;
                case OP_RUNNING:
                    ck_assert_int_eq(r.rc[i], CF_ECANCELLED);
                    break;
                }
            }
            ck_assert_int_eq(cf_future_result(f, NULL, 0), CF_ECANCELLED);
        } else {
            ck_assert_int_eq(cf_future_state_of(f), CF_FUTURE_FINISHED);
            for (int i = 0; i < RACERS; i++) {
                switch (racer_op(i)) {
                case OP_RESULT:
                case OP_ERROR:
                    if (r.rc[i] == 0) {
                        winners++;
                        winner = i;
                    } else {
                        ck_assert_int_eq(r.rc[i], CF_ESTATE);
                    }
                    break;
                case OP_CANCEL:
                    ck_assert_int_eq(r.rc[i], 0);
                    break;
                case OP_RUNNING:
                    ck_assert(r.rc[i] == 0 || r.rc[i] == CF_ESTATE);
                    break;
                }
            }
            ck_assert_int_eq(winners, 1);
            if (racer_op(winner) == OP_RESULT) {
                int v = -1;
                ck_assert_int_eq(cf_future_result(f, &v, 0), 0);
                ck_assert_int_eq(v, winner);
                ck_assert(!cf_future_failed(f));
            } else {
                ck_assert_int_eq(cf_future_result(f, NULL, 0), CF_ETASK);
                char want[32];
                snprintf(want, sizeof want, "racer %d", winner);
                ck_assert_str_eq(cf_future_error(f)->message, want);
            }
        }
        cf_future_release(f);
    }
    for (int i = 0; i < RACERS; i++)
        ck_assert_int_eq(pthread_join(threads[i], NULL), 0);
    pthread_barrier_destroy(&r.start);
    pthread_barrier_destroy(&r.end);
}
END_TEST

/* ---- Executors' futures: only the task's outcome (or a cancellation) wins ----------- */

static int32_t held_i32(cf_future *gate)
{
    cf_future_wait(gate, DEADLINE_S);
    return 7;
}
CF_TASK(int32_t, held_i32, cf_future *);

static const char *held_literal(cf_future *gate)
{
    cf_future_wait(gate, DEADLINE_S);
    return "from the task";
}
CF_TASK(const char *, held_literal, cf_future *);

static int32_t twice(int32_t x)
{
    return 2 * x;
}
CF_TASK(int32_t, twice, int32_t);

static const char *number_word(int32_t i)
{
    static const char *const words[] = {"zero", "one", "two", "three", "four"};
    return words[i % 5];
}
CF_TASK(const char *, number_word, int32_t);

/* Every way of completing f from outside is refused and changes nothing. */
static void expect_completion_refused(cf_future *f)
{
    cf_future_state before = cf_future_state_of(f);
    ck_assert_int_eq(cf_future_set_result(f, 42), CF_EOWNED);
    ck_assert_ptr_nonnull(strstr(cf_last_error(), "completed by the library"));
    ck_assert_int_eq(cf_future_set_result(f, "a string of the caller's"), CF_EOWNED);
    ck_assert_int_eq(cf_future_set_error(f, CF_ETASK, "not mine"), CF_EOWNED);
    ck_assert_int_eq(cf_future_set_running(f), CF_EOWNED);
    ck_assert_int_eq(cf_future_state_of(f), before);
}

START_TEST(future_executor_future_refuses_set)
{
    cf_executor *ex = new_thread_pool_of(1);
    cf_future *gate = new_future();
    cf_future *running, *queued, *text;
    ck_assert_int_eq(cf_submit(&running, ex, held_i32, gate), 0);
    ck_assert_int_eq(cf_submit(&queued, ex, held_literal, gate), 0);
    ck_assert(EVENTUALLY(cf_future_running(running)));
    ck_assert_int_eq(cf_future_state_of(queued), CF_FUTURE_PENDING);
    expect_completion_refused(running);
    expect_completion_refused(queued);
    open_gate(gate);
    expect_value_i32(running, 7);
    const char *s = NULL;
    ck_assert_int_eq(cf_future_result(queued, &s, DEADLINE_S), 0);
    ck_assert_str_eq(s, "from the task");
    expect_completion_refused(running);
    expect_value_i32(running, 7);

    /* The literal was copied: releasing the future frees the copy only. */
    ck_assert_int_eq(cf_submit(&text, ex, number_word, 3), 0);
    ck_assert_int_eq(cf_future_result(text, &s, DEADLINE_S), 0);
    ck_assert_str_eq(s, "three");
    cf_future_release(text);
    ck_assert_str_eq(number_word(3), "three");

    /* A map's future belongs to the map. */
    int32_t in[4] = {1, 2, 3, 4}, out[4] = {0};
    cf_future *map;
    ck_assert_int_eq(cf_map_async(&map, ex, twice, NULL, 4, out, in), 0);
    ck_assert_int_eq(cf_future_set_error(map, CF_ETASK, "not mine"), CF_EOWNED);
    ck_assert_int_eq(cf_future_result(map, NULL, DEADLINE_S), 0);
    ck_assert_int_eq(out[3], 8);

    cf_future_release(map);
    cf_future_release(running);
    cf_future_release(queued);
    cf_future_release(gate);
    cf_executor_free(ex);
}
END_TEST

#define OWNED_RACERS 4

enum { OWN_SET_RESULT, OWN_CANCEL, OWN_CANCEL_RUNNING, OWN_SET_ERROR };

typedef struct owned_race {
    pthread_barrier_t start, end;
    cf_future *f;
    int rounds;
    int rc[OWNED_RACERS];
    _Atomic int callback_runs;
} owned_race;

typedef struct owned_racer {
    owned_race *r;
    int id;
} owned_racer;

static void *owned_racer_main(void *arg)
{
    owned_racer *me = arg;
    owned_race *r = me->r;
    for (int round = 0; round < r->rounds; round++) {
        pthread_barrier_wait(&r->start);
        switch (me->id) {
        case OWN_SET_RESULT:
            r->rc[me->id] = cf_future_set_result(r->f, "outsider");
            break;
        case OWN_CANCEL:
            r->rc[me->id] = cf_future_cancel(r->f);
            break;
        case OWN_CANCEL_RUNNING:
            r->rc[me->id] = cf_future_cancel_running(r->f);
            break;
        case OWN_SET_ERROR:
            r->rc[me->id] = cf_future_set_error(r->f, CF_ETASK, "outsider");
            break;
        }
        pthread_barrier_wait(&r->end);
    }
    return NULL;
}

static void owned_race_cb(cf_future *f, void *arg)
{
    (void)f;
    atomic_fetch_add(&((owned_race *)arg)->callback_runs, 1);
}

/* Rounds of: submit number_word(round) on ex while the racers try to set,
 * cancel and cancel_running its future. Whatever the interleaving, the
 * future ends either cancelled (and some cancel said so) or finished with
 * the task's own string; the outsiders' values never get in. */
static void race_executor_future(cf_executor *ex, int rounds)
{
    owned_race r;
    memset(&r, 0, sizeof r);
    r.rounds = rounds;
    ck_assert_int_eq(pthread_barrier_init(&r.start, NULL, OWNED_RACERS + 1), 0);
    ck_assert_int_eq(pthread_barrier_init(&r.end, NULL, OWNED_RACERS + 1), 0);
    owned_racer racers[OWNED_RACERS];
    pthread_t threads[OWNED_RACERS];
    for (int i = 0; i < OWNED_RACERS; i++) {
        racers[i] = (owned_racer){&r, i};
        ck_assert_int_eq(pthread_create(&threads[i], NULL, owned_racer_main, &racers[i]), 0);
    }
    int cancelled = 0, finished = 0;
    for (int round = 0; round < rounds; round++) {
        ck_assert_int_eq(cf_submit(&r.f, ex, number_word, round), 0);
        atomic_store(&r.callback_runs, 0);
        ck_assert_int_eq(cf_future_add_done_callback(r.f, owned_race_cb, &r), 0);
        pthread_barrier_wait(&r.start);
        pthread_barrier_wait(&r.end);
        cf_future *f = r.f;
        ck_assert_int_eq(cf_future_wait(f, DEADLINE_S), 0);
        ck_assert_int_eq(r.rc[OWN_SET_RESULT], CF_EOWNED);
        ck_assert_int_eq(r.rc[OWN_SET_ERROR], CF_EOWNED);
        if (cf_future_cancelled(f)) {
            ck_assert(r.rc[OWN_CANCEL] || r.rc[OWN_CANCEL_RUNNING]);
            ck_assert_int_eq(cf_future_result(f, NULL, 0), CF_ECANCELLED);
            cancelled++;
        } else {
            ck_assert(!r.rc[OWN_CANCEL] && !r.rc[OWN_CANCEL_RUNNING]);
            const char *s = NULL;
            int rc = cf_future_result(f, &s, 0);
            ck_assert_msg(rc == 0, "round %d: %s (%s)", round, cf_err_name(rc),
                          cf_last_error());
            ck_assert_str_eq(s, number_word(round));
            finished++;
        }
        ck_assert(EVENTUALLY(atomic_load(&r.callback_runs) == 1));
        cf_future_release(f);
        /* The outcome stays put once seen. */
    }
    for (int i = 0; i < OWNED_RACERS; i++)
        ck_assert_int_eq(pthread_join(threads[i], NULL), 0);
    ck_assert_int_eq(cancelled + finished, rounds);
    pthread_barrier_destroy(&r.start);
    pthread_barrier_destroy(&r.end);
}

START_TEST(future_executor_race_thread_pool)
{
    cf_executor *ex = new_thread_pool_of(2);
    race_executor_future(ex, RUNNING_ON_VALGRIND ? 100 : 1000);
    cf_executor_free(ex);
}
END_TEST

START_TEST(future_executor_race_process_pool)
{
    cf_executor *ex = new_process_pool_of(2);
    race_executor_future(ex, RUNNING_ON_VALGRIND ? 20 : 100);
    cf_executor_free(ex);
}
END_TEST

/* ---- The user's pointer ----------------------------------------------------------------- */

static void data_cb(cf_future *f, void *arg)
{
    *(void **)arg = cf_future_data(f);
}

START_TEST(future_data_set_and_read)
{
    cf_future *f = new_future();
    ck_assert_ptr_null(cf_future_data(f));
    int job = 0;
    cf_future_set_data(f, &job);
    ck_assert_ptr_eq(cf_future_data(f), &job);
    void *seen = NULL;
    ck_assert_int_eq(cf_future_add_done_callback(f, data_cb, &seen), 0);
    ck_assert_int_eq(cf_future_set_result(f, 1), 0);
    ck_assert_ptr_eq(seen, &job);
    /* Still settable once done. */
    cf_future_set_data(f, NULL);
    ck_assert_ptr_null(cf_future_data(f));
    cf_future_release(f);
}
END_TEST

START_TEST(future_data_at_submit)
{
    cf_executor *ex = new_thread_pool_of(2);
    int jobs[8];
    cf_future *fs[8];
    for (int i = 0; i < 8; i++)
        ck_assert_int_eq(cf_submit_with(&fs[i], ex, &(cf_submit_options){.data = &jobs[i]},
                                        twice, i),
                         0);
    cf_as_completed *it;
    ck_assert_int_eq(cf_as_completed_new(&it, fs, 8, DEADLINE_S), 0);
    cf_future *f;
    int seen = 0;
    while (cf_as_completed_next(it, &f) == 0) {
        int *job = cf_future_data(f);
        ck_assert(job >= jobs && job < jobs + 8);
        int32_t v = -1;
        ck_assert_int_eq(cf_future_result(f, &v, 0), 0);
        ck_assert_int_eq(v, 2 * (int)(job - jobs));
        seen++;
    }
    ck_assert_int_eq(seen, 8);
    cf_as_completed_free(it);
    for (int i = 0; i < 8; i++)
        cf_future_release(fs[i]);
    cf_executor_free(ex);
}
END_TEST

typedef struct data_race {
    cf_future *f;
    void *values[2];
    _Atomic bool stop;
} data_race;

static void *data_writer(void *arg)
{
    data_race *d = arg;
    for (int i = 0; i < 20000; i++)
        cf_future_set_data(d->f, d->values[i & 1]);
    atomic_store(&d->stop, true);
    return NULL;
}

START_TEST(future_data_threads)
{
    int a, b;
    data_race d = {.f = new_future(), .values = {&a, &b}};
    atomic_init(&d.stop, false);
    cf_future_set_data(d.f, &a);
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, data_writer, &d), 0);
    while (!atomic_load(&d.stop)) {
        void *p = cf_future_data(d.f);
        ck_assert(p == &a || p == &b);
    }
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    ck_assert_ptr_eq(cf_future_data(d.f), &b);
    cf_future_release(d.f);
}
END_TEST

/* ---- Describing a future ----------------------------------------------------------------- */

/* f's description with its address replaced by "0x?", for comparing. */
static const char *described(const cf_future *f)
{
    static char text[256], out[256];
    int n = cf_future_describe(f, text, sizeof text);
    ck_assert_int_ge(n, 0);
    ck_assert_int_eq((size_t)n, strlen(text));
    char addr[32];
    snprintf(addr, sizeof addr, "%p", (const void *)f);
    const char *at = strstr(text, addr);
    ck_assert_ptr_nonnull(at);
    snprintf(out, sizeof out, "%.*s0x?%s", (int)(at - text), text, at + strlen(addr));
    return out;
}

START_TEST(future_state_names)
{
    ck_assert_str_eq(cf_future_state_name(CF_FUTURE_PENDING), "pending");
    ck_assert_str_eq(cf_future_state_name(CF_FUTURE_RUNNING), "running");
    ck_assert_str_eq(cf_future_state_name(CF_FUTURE_FINISHED), "finished");
    ck_assert_str_eq(cf_future_state_name(CF_FUTURE_CANCELLED), "cancelled");
    ck_assert_str_eq(cf_future_state_name((cf_future_state)99), "unknown");
}
END_TEST

START_TEST(future_describe_states)
{
    cf_future *f = new_future();
    ck_assert_str_eq(described(f), "<future 0x? state=pending>");
    ck_assert_int_eq(cf_future_set_running(f), 0);
    ck_assert_str_eq(described(f), "<future 0x? state=running>");
    ck_assert_int_eq(cf_future_set_result(f, 25), 0);
    ck_assert_str_eq(described(f), "<future 0x? state=finished result=25>");
    cf_future_release(f);

    f = new_future();
    ck_assert(cf_future_cancel(f));
    cf_future_set_data(f, (void *)0x1000);
    ck_assert_str_eq(described(f), "<future 0x? state=cancelled data=0x1000>");
    cf_future_release(f);

    f = new_future();
    ck_assert_int_eq(cf_future_set_error(f, CF_ETASK, "bad \"input\"\n"), 0);
    ck_assert_str_eq(described(f),
                     "<future 0x? state=finished error=CF_ETASK \"bad \\\"input\\\"\\n\">");
    cf_future_release(f);

    f = new_future();
    ck_assert_int_eq(cf_future_set_result(f, 0.1), 0);
    ck_assert_str_eq(described(f), "<future 0x? state=finished result=0.1>");
    cf_future_release(f);

    f = new_future();
    ck_assert_int_eq(cf_future_set_result(f, "hello"), 0);
    ck_assert_str_eq(described(f), "<future 0x? state=finished result=\"hello\">");
    cf_future_release(f);

    f = new_future();
    ck_assert_int_eq(cf_future_set_value(f, &(cf_value){.type = {CF_KIND_VOID, 0}}), 0);
    ck_assert_str_eq(described(f), "<future 0x? state=finished>");
    cf_future_release(f);

    f = new_future();
    uint8_t raw[12] = {0};
    ck_assert_int_eq(cf_future_set_value(f, &(cf_value){.type = {CF_KIND_BYTES, sizeof(cf_bytes)},
                                                        .as.bytes = {raw, sizeof raw}}),
                     0);
    ck_assert_str_eq(described(f), "<future 0x? state=finished result=<bytes 12>>");
    cf_future_release(f);
}
END_TEST

START_TEST(future_describe_task)
{
    cf_executor *ex = new_thread_pool_of(1);
    cf_future *gate = new_future();
    cf_future *f;
    ck_assert_int_eq(cf_submit(&f, ex, held_i32, gate), 0);
    ck_assert(EVENTUALLY(cf_future_running(f)));
    ck_assert_str_eq(described(f), "<future 0x? task 'held_i32' state=running>");
    open_gate(gate);
    expect_value_i32(f, 7);
    ck_assert_str_eq(described(f), "<future 0x? task 'held_i32' state=finished result=7>");
    cf_future_release(f);
    cf_future_release(gate);
    cf_executor_free(ex);
}
END_TEST

START_TEST(future_describe_truncation)
{
    cf_future *f = new_future();
    char long_text[100];
    memset(long_text, 'x', sizeof long_text - 1);
    long_text[sizeof long_text - 1] = '\0';
    ck_assert_int_eq(cf_future_set_result(f, long_text), 0);
    char full[256];
    int n = cf_future_describe(f, full, sizeof full);
    /* The string is cut to 45 bytes and "...". */
    char want[64];
    snprintf(want, sizeof want, "result=\"%.45s...\">", long_text);
    ck_assert_ptr_nonnull(strstr(full, want));
    ck_assert_int_eq(n, (int)strlen(full));

    /* A short buffer gets the prefix, NUL-terminated; the length is the whole. */
    char small[16];
    memset(small, '#', sizeof small);
    ck_assert_int_eq(cf_future_describe(f, small, sizeof small), n);
    ck_assert_int_eq(strlen(small), sizeof small - 1);
    ck_assert_int_eq(strncmp(small, full, sizeof small - 1), 0);
    char one = '#';
    ck_assert_int_eq(cf_future_describe(f, &one, 1), n);
    ck_assert_int_eq(one, '\0');
    ck_assert_int_eq(cf_future_describe(f, NULL, 0), n);

    ck_assert_int_eq(cf_future_describe(f, NULL, 8), CF_EINVAL);
    ck_assert_int_eq(cf_future_describe(NULL, full, sizeof full), CF_EINVAL);
    cf_future_release(f);
}
END_TEST

/* ---- exit() in a task runs none of the application's atexit handlers --------------- */

static int atexit_fd = -1;

static void note_atexit(void)
{
    if (atexit_fd >= 0)
        write_all(atexit_fd, "x", 1);
}

static int32_t exit_with(int32_t status)
{
    exit(status);
}
CF_TASK(int32_t, exit_with, int32_t);

START_TEST(future_task_exit_skips_atexit)
{
    chan c = new_chan();
    atexit_fd = c.wr;
    ck_assert_int_eq(atexit(note_atexit), 0);

    cf_executor *ex = new_process_pool_of(1);
    cf_future *f;
    ck_assert_int_eq(cf_submit(&f, ex, exit_with, 3), 0);
    const cf_error *e = expect_failure(f, CF_ECRASHED);
    /* Valgrind replaces the status of a child it found errors in. */
    if (!RUNNING_ON_VALGRIND)
        ck_assert_int_eq(e->detail, 3);
    cf_future_release(f);
    cf_executor_free(ex);

    cf_process *p;
    ck_assert_int_eq(cf_process_start(&p, NULL, exit_with, 4), 0);
    ck_assert_int_eq(cf_process_join(p, DEADLINE_S), 0);
    int code = -1;
    ck_assert_int_eq(cf_process_exitcode(p, &code), 0);
    if (!RUNNING_ON_VALGRIND)
        ck_assert_int_eq(code, 4);
    cf_process_free(p);

    /* Neither child ran the handler: nothing was written. */
    atexit_fd = -1;
    close(c.wr);
    char byte;
    ck_assert_int_eq(read(c.rd, &byte, 1), 0);
    close(c.rd);
}
END_TEST

static Suite *future_suite(void)
{
    Suite *s = suite_create("future");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, future_new_pending);
    tcase_add_test(tc, future_retain_release);
    tcase_add_test(tc, future_retain_release_threads);
    tcase_add_test(tc, future_release_every_outcome);
    tcase_add_test(tc, future_running_then_result);
    tcase_add_test(tc, future_result_on_pending);
    tcase_add_test(tc, future_second_completion_keeps_result);
    tcase_add_test(tc, future_second_completion_keeps_error);
    tcase_add_test(tc, future_set_running_twice);
    tcase_add_test(tc, future_set_running_cancelled);
    tcase_add_test(tc, future_cancel_pending);
    tcase_add_test(tc, future_cancel_cancelled);
    tcase_add_test(tc, future_cancel_running);
    tcase_add_test(tc, future_cancel_finished);
    tcase_add_test(tc, future_cancel_running_user_future);
    tcase_add_test(tc, future_result_timeout_zero);
    tcase_add_test(tc, future_result_short_timeout);
    tcase_add_test(tc, future_result_nan_timeout);
    tcase_add_test(tc, future_result_timeout_completed_by_thread);
    tcase_add_test(tc, future_result_forever_completed_by_thread);
    tcase_add_test(tc, future_result_wakes_on_cancel);
    tcase_add_test(tc, future_result_wakes_on_error);
    tcase_add_test(tc, future_wait_completed_by_thread);
    tcase_add_test(tc, future_many_waiters_result);
    tcase_add_test(tc, future_many_waiters_cancel);
    tcase_add_test(tc, future_many_waiters_error);
    tcase_add_test(tc, future_result_every_scalar_type);
    tcase_add_test(tc, future_result_from_values);
    tcase_add_test(tc, future_result_string_copied);
    tcase_add_test(tc, future_result_null_string);
    tcase_add_test(tc, future_result_bytes_copied);
    tcase_add_test(tc, future_result_struct_copied);
    tcase_add_test(tc, future_result_void);
    tcase_add_test(tc, future_result_wrong_type);
    tcase_add_test(tc, future_set_value_refused_leaves_future);
    tcase_add_test(tc, future_result_null_out);
    tcase_add_test(tc, future_value);
    tcase_add_test(tc, future_error_fields);
    tcase_add_test(tc, future_error_codes);
    tcase_add_test(tc, future_error_invalid_code);
    tcase_add_test(tc, future_error_empty_message);
    tcase_add_test(tc, future_error_long_message);
    tcase_add_test(tc, future_error_own_object);
    tcase_add_test(tc, future_callback_order);
    tcase_add_test(tc, future_callback_null_fn);
    tcase_add_test(tc, future_callback_on_error);
    tcase_add_test(tc, future_callback_on_cancel);
    tcase_add_test(tc, future_callback_on_done_runs_at_once);
    tcase_add_test(tc, future_callback_in_completing_thread);
    tcase_add_test(tc, future_callback_sees_outcome);
    tcase_add_test(tc, future_callback_releases_future);
    tcase_add_test(tc, future_callback_adds_callback);
    tcase_add_test(tc, future_callback_completes_other);
    tcase_add_test(tc, future_callback_chain_flat_stack);
    tcase_add_test(tc, future_callback_from_threads);
    tcase_add_test(tc, future_callback_add_races_completion);
    tcase_add_test(tc, future_race_completion);
    tcase_add_test(tc, future_executor_future_refuses_set);
    tcase_add_test(tc, future_executor_race_thread_pool);
    tcase_add_test(tc, future_executor_race_process_pool);
    tcase_add_test(tc, future_data_set_and_read);
    tcase_add_test(tc, future_data_at_submit);
    tcase_add_test(tc, future_data_threads);
    tcase_add_test(tc, future_state_names);
    tcase_add_test(tc, future_describe_states);
    tcase_add_test(tc, future_describe_task);
    tcase_add_test(tc, future_describe_truncation);
    tcase_add_test(tc, future_task_exit_skips_atexit);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(future_suite());
}
