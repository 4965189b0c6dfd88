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
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

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

/* ---- Interrupting waits with a real SIGINT ------------------------------------ */

static _Atomic int sigints;

/* Whether a listener was ever registered on f (the state word's flag: an
 * atomic read, unlike the list itself, which another thread is changing). */
static bool listened(cf_future *f)
{
    return atomic_load_explicit(&f->state, memory_order_acquire) & CF__ST_LISTENERS;
}

static void on_sigint(int sig)
{
    (void)sig;
    atomic_fetch_add(&sigints, 1);
    cf_interrupt_waits();
}

static void install_sigint_handler(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    ck_assert_int_eq(sigaction(SIGINT, &sa, NULL), 0);
}

/* Another thread sends SIGINT to the whole process (any thread may take it,
 * the waiting one included). */
static void *send_sigint(void *arg)
{
    (void)arg;
    ck_assert_int_eq(kill(getpid(), SIGINT), 0);
    return NULL;
}

static void sigint_from_another_thread(void)
{
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, send_sigint, NULL), 0);
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    ck_assert(EVENTUALLY(atomic_load(&sigints) == 1));
}

typedef enum { BLOCK_RESULT, BLOCK_WAIT, BLOCK_AS_COMPLETED } block_kind;

typedef struct blocked_call {
    block_kind kind;
    cf_future *gate, *other;
    int rc;
    char message[256];
} blocked_call;

/* A CF_FOREVER wait on futures that nobody completes. */
static void *blocked_main(void *arg)
{
    blocked_call *b = arg;
    switch (b->kind) {
    case BLOCK_RESULT: {
        int v = 0;
        b->rc = cf_future_result(b->gate, &v, CF_FOREVER);
        break;
    }
    case BLOCK_WAIT: {
        cf_future *fs[2] = {b->gate, b->other};
        bool done[2] = {true, true};
        b->rc = cf_wait(fs, 2, CF_ALL_COMPLETED, CF_FOREVER, done, NULL);
        break;
    }
    case BLOCK_AS_COMPLETED: {
        cf_future *fs[2] = {b->other, b->gate};
        cf_as_completed *it;
        ck_assert_int_eq(cf_as_completed_new(&it, fs, 2, CF_FOREVER), 0);
        cf_future *f;
        ck_assert_int_eq(cf_as_completed_next(it, &f), 0); /* `other` is done */
        b->rc = cf_as_completed_next(it, &f);
        cf_as_completed_free(it);
        break;
    }
    }
    snprintf(b->message, sizeof b->message, "%s", cf_last_error());
    return NULL;
}

/* A thread blocks forever in `kind`; a real SIGINT, whose handler calls
 * cf_interrupt_waits(), makes the call return CF_EINTERRUPTED. Then, once
 * cleared, waits block (and time out) as before. */
static void interrupt_blocked(block_kind kind)
{
    install_sigint_handler();
    blocked_call b = {.kind = kind, .gate = new_future(), .other = finished_future(1)};
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, blocked_main, &b), 0);
    /* Wait until the call listens on the gate, i.e. is about to sleep or
     * asleep; either way the interrupt must end it. */
    ck_assert(EVENTUALLY(listened(b.gate)));
    sigint_from_another_thread();
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    ck_assert_msg(b.rc == CF_EINTERRUPTED, "%s: %s", cf_err_name(b.rc), b.message);
    ck_assert_ptr_nonnull(strstr(b.message, "interrupted"));
    ck_assert(!has_listeners(b.gate));
    ck_assert(!cf_future_done(b.gate)); /* nothing was cancelled */

    /* Raised until cleared: a new wait returns at once... */
    ck_assert(cf_interrupt_pending());
    ck_assert_int_eq(cf_future_wait(b.gate, CF_FOREVER), CF_EINTERRUPTED);
    /* ...but a call that need not wait answers as usual. */
    int v = 0;
    ck_assert_int_eq(cf_future_result(b.other, &v, CF_FOREVER), 0);
    ck_assert_int_eq(v, 1);
    ck_assert_int_eq(cf_future_wait(b.gate, 0), CF_ETIMEDOUT);

    ck_assert_uint_eq(cf_interrupt_clear(), 1);
    ck_assert(!cf_interrupt_pending());
    ck_assert_uint_eq(cf_interrupt_clear(), 0);
    ck_assert_int_eq(cf_future_wait(b.gate, 0.02), CF_ETIMEDOUT);
    open_gate(b.gate);
    ck_assert_int_eq(cf_future_result(b.gate, &v, CF_FOREVER), 0);
    cf_future_release(b.gate);
    cf_future_release(b.other);
}

START_TEST(wait_interrupt_future_result)
{
    interrupt_blocked(BLOCK_RESULT);
}
END_TEST

START_TEST(wait_interrupt_cf_wait)
{
    interrupt_blocked(BLOCK_WAIT);
}
END_TEST

START_TEST(wait_interrupt_as_completed)
{
    interrupt_blocked(BLOCK_AS_COMPLETED);
}
END_TEST

/* Many threads blocked at once all return. */
START_TEST(wait_interrupt_many_waiters)
{
    enum { N = 16 };
    install_sigint_handler();
    cf_future *gate = new_future();
    cf_future *other = finished_future(1);
    blocked_call b[N];
    pthread_t t[N];
    for (int i = 0; i < N; i++) {
        b[i] = (blocked_call){.kind = (block_kind)(i % 3), .gate = gate, .other = other};
        ck_assert_int_eq(pthread_create(&t[i], NULL, blocked_main, &b[i]), 0);
    }
    ck_assert(EVENTUALLY(listened(gate)));
    sigint_from_another_thread();
    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(pthread_join(t[i], NULL), 0);
        ck_assert_msg(b[i].rc == CF_EINTERRUPTED, "%d: %s", i, cf_err_name(b[i].rc));
    }
    ck_assert(!has_listeners(gate));
    cf_interrupt_clear();
    cf_future_release(gate);
    cf_future_release(other);
}
END_TEST

/* Tasks of the map: each waits for the gate, which never opens; the
 * interrupt ends their waits too (they are blocking calls of this process). */
static int32_t wait_gate(cf_future *gate, int32_t x)
{
    cf_future_wait(gate, CF_FOREVER);
    return x;
}
CF_TASK(int32_t, wait_gate, cf_future *, int32_t);

typedef struct blocked_map {
    cf_executor *ex;
    cf_future *gate;
    int rc;
    char message[256];
} blocked_map;

enum { MAP_N = 1000 };

static void *map_main(void *arg)
{
    blocked_map *m = arg;
    static cf_future *gates[MAP_N];
    static int32_t in[MAP_N], out[MAP_N];
    for (int i = 0; i < MAP_N; i++) {
        gates[i] = m->gate;
        in[i] = i;
    }
    m->rc = cf_map(m->ex, wait_gate, &(cf_map_options){.chunk_size = 1}, MAP_N, out, gates, in);
    snprintf(m->message, sizeof m->message, "%s", cf_last_error());
    return NULL;
}

START_TEST(wait_interrupt_map)
{
    install_sigint_handler();
    blocked_map m = {.ex = new_thread_pool_of(2), .gate = new_future()};
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, map_main, &m), 0);
    ck_assert(EVENTUALLY(listened(m.gate))); /* elements are running */
    sigint_from_another_thread();
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    ck_assert_msg(m.rc == CF_EINTERRUPTED, "%s: %s", cf_err_name(m.rc), m.message);
    ck_assert_ptr_nonnull(strstr(m.message, "interrupted"));
    ck_assert_uint_eq(cf_interrupt_clear(), 1);
    /* The pool still works. */
    cf_future *f;
    open_gate(m.gate);
    ck_assert_int_eq(cf_submit(&f, m.ex, wait_gate, m.gate, 5), 0);
    expect_value_i32(f, 5);
    cf_future_release(f);
    cf_future_release(m.gate);
    cf_executor_free(m.ex);
}
END_TEST

/* A child forked while the interrupt is raised starts with it lowered. */
START_TEST(wait_interrupt_not_inherited)
{
    cf_interrupt_waits();
    ck_assert(cf_interrupt_pending());
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0)
        _exit(cf_interrupt_pending() ? 1 : 0);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status));
    ck_assert_int_eq(WEXITSTATUS(status), 0);
    ck_assert(cf_interrupt_pending());
    ck_assert_uint_eq(cf_interrupt_clear(), 1);
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
    tcase_add_test(tc, wait_interrupt_future_result);
    tcase_add_test(tc, wait_interrupt_cf_wait);
    tcase_add_test(tc, wait_interrupt_as_completed);
    tcase_add_test(tc, wait_interrupt_many_waiters);
    tcase_add_test(tc, wait_interrupt_map);
    tcase_add_test(tc, wait_interrupt_not_inherited);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(wait_suite());
}
