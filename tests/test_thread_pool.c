/* test_thread_pool.c: the thread pool executor: how many workers start and
 * when, their names, initializers and broken pools, shutdown (waiting,
 * cancelling, with a time limit, from inside the pool), freeing from inside
 * the pool, tasks and callbacks that submit work, futures that outlive the
 * pool, concurrent submitters and fire-and-forget work; scheduling (quick
 * tasks never wait behind a blocked one while a worker idles, a task may
 * wait for the next one submitted, futures taken but not started stay
 * cancellable), defaults from the CPUs the process may use.
 *
 * Tasks that must stay running hold their worker on a "gate": a user future
 * the test completes when it wants them to finish. Tests wait on events (a
 * future done, a counter reached, a thread gone) with a generous deadline.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cfutures.h>

#include "cpu_count.h"
#include "support.h"
#include "thread_pool_priv.h"

/* ---- Tasks ------------------------------------------------------------------------ */

static atomic_int counted;

static void count_one(void)
{
    atomic_fetch_add(&counted, 1);
}
CF_TASK(void, count_one);

static int answer(void)
{
    return 42;
}
CF_TASK(int, answer);

static int64_t square(int32_t x)
{
    return (int64_t)x * x;
}
CF_TASK(int64_t, square, int32_t);

static unsigned long my_thread(void)
{
    return (unsigned long)pthread_self();
}
CF_TASK(unsigned long, my_thread);

static const char *my_thread_name(void)
{
    static _Thread_local char name[16];
    if (pthread_getname_np(pthread_self(), name, sizeof name) != 0)
        return NULL;
    return name;
}
CF_TASK(const char *, my_thread_name);

static int fail_with(int code)
{
    cf_task_fail(code, "failed with %d", code);
    return 0;
}
CF_TASK(int, fail_with, int);

/* A probe shared by gated tasks: how many run at once, on which threads. */
typedef struct probe {
    cf_future *gate;
    atomic_int started;
    atomic_int running;
    atomic_int peak;
    pthread_mutex_t mu;
    int nthreads;
    pthread_t threads[64];
    int tids[64];
    char names[64][16];
} probe;

static void probe_init(probe *p)
{
    memset(p, 0, sizeof *p);
    pthread_mutex_init(&p->mu, NULL);
    p->gate = new_future();
}

static void probe_destroy(probe *p)
{
    cf_future_release(p->gate);
    pthread_mutex_destroy(&p->mu);
}

/* Record this thread, count it running, hold it until the gate opens.
 * Returns 1 when the gate opened in time. */
static int gated(probe *p)
{
    pthread_mutex_lock(&p->mu);
    bool seen = false;
    for (int i = 0; i < p->nthreads; i++)
        seen |= pthread_equal(p->threads[i], pthread_self());
    if (!seen && p->nthreads < 64) {
        p->threads[p->nthreads] = pthread_self();
        p->tids[p->nthreads] = gettid();
        pthread_getname_np(pthread_self(), p->names[p->nthreads], sizeof p->names[0]);
        p->nthreads++;
    }
    pthread_mutex_unlock(&p->mu);
    int now = atomic_fetch_add(&p->running, 1) + 1;
    for (int peak = atomic_load(&p->peak); now > peak;)
        if (atomic_compare_exchange_weak(&p->peak, &peak, now))
            break;
    atomic_fetch_add(&p->started, 1);
    int ok = cf_future_wait(p->gate, DEADLINE_S) == 0;
    atomic_fetch_sub(&p->running, 1);
    return ok;
}
CF_TASK(int, gated, probe *);

/* Submit n gated tasks on p (their futures in fs), then wait until
 * `running` of them have started: the others wait for a worker. */
static void submit_gated(cf_executor *ex, probe *p, cf_future **fs, int n, int running)
{
    for (int i = 0; i < n; i++)
        ck_assert_int_eq(cf_submit(&fs[i], ex, gated, p), 0);
    ck_assert(EVENTUALLY(atomic_load(&p->started) == running));
}

/* Start all n workers of ex at once (n gated tasks, held until all have
 * started), then let them finish. */
static void run_gated_on_every_worker(cf_executor *ex, probe *p, int n)
{
    cf_future *fs[64];
    ck_assert_int_le(n, 64);
    submit_gated(ex, p, fs, n, n);
    open_gate(p->gate);
    for (int i = 0; i < n; i++) {
        ck_assert_int_eq(cf_future_wait(fs[i], DEADLINE_S), 0);
        cf_future_release(fs[i]);
    }
}

static bool probe_saw_name(probe *p, const char *name)
{
    for (int i = 0; i < p->nthreads; i++)
        if (strcmp(p->names[i], name) == 0)
            return true;
    return false;
}

/* Whether `name` is "cf-<pool>_<n>": the name of an unnamed pool's thread n.
 * The pool's number is stored in *pool when pool is not NULL. */
static bool unnamed_worker_of(const char *name, size_t n, unsigned long *pool)
{
    unsigned long p, got;
    int end = 0;
    if (sscanf(name, "cf-%lu_%lu%n", &p, &got, &end) != 2 || name[end] != '\0' || got != n)
        return false;
    if (pool != NULL)
        *pool = p;
    return true;
}

static bool is_unnamed_worker(const char *name, size_t n)
{
    return unnamed_worker_of(name, n, NULL);
}

/* ---- Worker count and reuse -------------------------------------------------------- */

START_TEST(thread_pool_new_and_defaults)
{
    ck_assert_int_eq(cf_thread_pool_new(NULL, NULL), CF_EINVAL);
    cf_executor *ex = new_thread_pool(NULL);
    size_t want = cf__cpu_count() + 4;
    if (want > 32)
        want = 32;
    ck_assert_uint_eq(cf_executor_max_workers(ex), want);
    ck_assert_str_eq(cf_executor_kind(ex), "thread_pool");
    cf_executor_free(ex);

    ex = new_thread_pool(&(cf_thread_pool_options){0});
    ck_assert_uint_eq(cf_executor_max_workers(ex), want);
    cf_executor_free(ex);

    ex = new_thread_pool_of(100);
    ck_assert_uint_eq(cf_executor_max_workers(ex), 100);
    cf_executor_free(ex);
}
END_TEST

START_TEST(thread_pool_starts_workers_on_demand)
{
    cf_executor *ex = new_thread_pool(
        &(cf_thread_pool_options){.max_workers = 4, .thread_name_prefix = "lazy"});
    ck_assert_int_eq(count_threads_prefixed("lazy_"), 0);
    cf_future *f;
    ck_assert_int_eq(cf_submit(&f, ex, answer), 0);
    int r = 0;
    ck_assert_int_eq(cf_future_result(f, &r, DEADLINE_S), 0);
    ck_assert_int_eq(r, 42);
    cf_future_release(f);
    /* One submit, one worker. */
    ck_assert_int_eq(count_threads_prefixed("lazy_"), 1);
    cf_executor_free(ex);
    /* A joined thread leaves /proc shortly after pthread_join returns. */
    ck_assert(EVENTUALLY(count_threads_prefixed("lazy_") == 0));
}
END_TEST

START_TEST(thread_pool_never_more_than_max_workers)
{
    enum { MAX = 3, N = 9 };
    cf_executor *ex = new_thread_pool_of(MAX);
    probe p;
    probe_init(&p);
    cf_future *fs[N];
    submit_gated(ex, &p, fs, N, MAX);
    /* Every worker is held: the rest wait their turn. */
    int pending = 0;
    for (int i = 0; i < N; i++)
        pending += cf_future_state_of(fs[i]) == CF_FUTURE_PENDING;
    ck_assert_int_eq(pending, N - MAX);
    open_gate(p.gate);
    for (int i = 0; i < N; i++) {
        int r = 0;
        ck_assert_int_eq(cf_future_result(fs[i], &r, DEADLINE_S), 0);
        ck_assert_int_eq(r, 1);
        cf_future_release(fs[i]);
    }
    ck_assert_int_eq(atomic_load(&p.started), N);
    ck_assert_int_eq(atomic_load(&p.peak), MAX);
    ck_assert_int_eq(p.nthreads, MAX);
    cf_executor_free(ex);
    probe_destroy(&p);
}
END_TEST

START_TEST(thread_pool_reuses_idle_worker)
{
    cf_executor *ex = new_thread_pool_of(4);
    unsigned long first = 0;
    for (int i = 0; i < 20; i++) {
        cf_future *f;
        ck_assert_int_eq(cf_submit(&f, ex, my_thread), 0);
        unsigned long t = 0;
        ck_assert_int_eq(cf_future_result(f, &t, DEADLINE_S), 0);
        cf_future_release(f);
        if (i == 0)
            first = t;
        ck_assert_msg(t == first, "submit %d ran on another thread", i);
    }
    cf_future *f;
    ck_assert_int_eq(cf_submit(&f, ex, my_thread_name), 0);
    const char *name = NULL;
    ck_assert_int_eq(cf_future_result(f, &name, DEADLINE_S), 0);
    ck_assert(is_unnamed_worker(name, 0));
    cf_future_release(f);
    cf_executor_free(ex);
}
END_TEST

/* A done-callback that blocks until a future submitted after it started is
 * done: the worker running the callback must not be counted as about to be
 * idle, or that submit would wait for it forever. */
typedef struct blocking_callback {
    atomic_int started;
    cf_future *_Atomic awaited;
    int outcome;
} blocking_callback;

static void wait_for_later_work(cf_future *f, void *arg)
{
    (void)f;
    blocking_callback *b = arg;
    atomic_store(&b->started, 1);
    double deadline = now_s() + DEADLINE_S;
    cf_future *awaited;
    while ((awaited = atomic_load(&b->awaited)) == NULL && keep_polling(deadline)) {
    }
    b->outcome = awaited != NULL ? cf_future_wait(awaited, DEADLINE_S) : CF_ETIMEDOUT;
}

/* Returns 42 once `gate` (a user future) is done. */
static int answer_after(void *gate)
{
    return cf_future_wait(gate, DEADLINE_S) == 0 ? 42 : -1;
}
CF_TASK(int, answer_after, void *);

START_TEST(thread_pool_blocking_callback_does_not_starve)
{
    cf_executor *ex = new_thread_pool_of(2);
    blocking_callback b = {.outcome = 1};
    cf_future *first, *later, *gate = new_future();
    /* The gate keeps `first` running until its callback is registered, so
     * the callback runs on the worker, not at once in this thread. */
    ck_assert_int_eq(cf_submit(&first, ex, answer_after, gate), 0);
    ck_assert_int_eq(cf_future_add_done_callback(first, wait_for_later_work, &b), 0);
    open_gate(gate);
    ck_assert(EVENTUALLY(atomic_load(&b.started) == 1));
    ck_assert_int_eq(cf_submit(&later, ex, answer), 0);
    atomic_store(&b.awaited, later);
    int v = 0;
    ck_assert_int_eq(cf_future_result(later, &v, DEADLINE_S), 0);
    ck_assert_int_eq(v, 42);
    cf_executor_free(ex); /* joins the worker: the callback has returned */
    ck_assert_int_eq(b.outcome, 0);
    cf_future_release(first);
    cf_future_release(later);
    cf_future_release(gate);
}
END_TEST

/* A thread pool cannot stop a running task: it refuses a time limit. */
START_TEST(thread_pool_refuses_submit_timeout)
{
    cf_executor *ex = new_thread_pool_of(1);
    cf_future *f = (cf_future *)&f;
    ck_assert_int_eq(cf_submit_with(&f, ex, &(cf_submit_options){.timeout = 1.0}, answer),
                     CF_EUNSUPPORTED);
    ck_assert_ptr_null(f);
    ck_assert_int_eq(cf_submit_with(&f, ex, &(cf_submit_options){.timeout = CF_FOREVER}, answer),
                     CF_EUNSUPPORTED);
    ck_assert_int_eq(cf_submit_with(&f, ex, &(cf_submit_options){0}, answer), 0);
    int v = 0;
    ck_assert_int_eq(cf_future_result(f, &v, DEADLINE_S), 0);
    ck_assert_int_eq(v, 42);
    cf_future_release(f);
    cf_executor_free(ex);
}
END_TEST

START_TEST(thread_pool_thread_names)
{
    cf_executor *ex = new_thread_pool(
        &(cf_thread_pool_options){.max_workers = 3, .thread_name_prefix = "pfx"});
    probe p;
    probe_init(&p);
    run_gated_on_every_worker(ex, &p, 3);
    ck_assert_int_eq(p.nthreads, 3);
    ck_assert(probe_saw_name(&p, "pfx_0"));
    ck_assert(probe_saw_name(&p, "pfx_1"));
    ck_assert(probe_saw_name(&p, "pfx_2"));
    cf_executor_free(ex);
    probe_destroy(&p);

    /* A long prefix is cut so that the thread's number survives; the error
     * origin keeps the whole name. */
    ex = new_thread_pool(&(cf_thread_pool_options){.thread_name_prefix = "a_very_long_prefix"});
    cf_future *n, *e;
    ck_assert_int_eq(cf_submit(&n, ex, my_thread_name), 0);
    const char *name = NULL;
    ck_assert_int_eq(cf_future_result(n, &name, DEADLINE_S), 0);
    ck_assert_str_eq(name, "a_very_long_p_0");
    ck_assert_int_eq(cf_submit(&e, ex, fail_with, 3), 0);
    ck_assert_int_eq(cf_future_result(e, NULL, DEADLINE_S), CF_ETASK);
    ck_assert_str_eq(cf_future_error(e)->origin, "thread a_very_long_prefix_0");
    cf_future_release(n);
    cf_future_release(e);
    cf_executor_free(ex);
}
END_TEST

static bool async_signals_blocked(void)
{
    sigset_t set;
    pthread_sigmask(SIG_SETMASK, NULL, &set);
    return sigismember(&set, SIGINT) == 1 && sigismember(&set, SIGTERM) == 1 &&
           sigismember(&set, SIGSEGV) == 0;
}
CF_TASK(bool, async_signals_blocked);

START_TEST(thread_pool_workers_block_async_signals)
{
    cf_executor *ex = new_thread_pool_of(1);
    cf_future *f;
    ck_assert_int_eq(cf_submit(&f, ex, async_signals_blocked), 0);
    bool blocked = false;
    ck_assert_int_eq(cf_future_result(f, &blocked, DEADLINE_S), 0);
    ck_assert(blocked);
    cf_future_release(f);
    /* The submitting thread's own mask is untouched. */
    sigset_t set;
    pthread_sigmask(SIG_SETMASK, NULL, &set);
    ck_assert_int_eq(sigismember(&set, SIGINT), 0);
    cf_executor_free(ex);
}
END_TEST

/* ---- Initializers ------------------------------------------------------------------ */

static _Thread_local int init_token;
static atomic_int init_calls;

static int init_ok(void *arg)
{
    init_token = *(const int *)arg;
    atomic_fetch_add(&init_calls, 1);
    return 0;
}

static int read_token(void)
{
    return init_token;
}
CF_TASK(int, read_token);

START_TEST(thread_pool_initializer_runs_once_per_worker)
{
    static const int token = 77;
    cf_executor *ex = new_thread_pool(&(cf_thread_pool_options){
        .max_workers = 3, .initializer = init_ok, .initializer_arg = (void *)&token});
    probe p;
    probe_init(&p);
    run_gated_on_every_worker(ex, &p, 3);
    for (int i = 0; i < 10; i++) {
        cf_future *f;
        ck_assert_int_eq(cf_submit(&f, ex, read_token), 0);
        int r = 0;
        ck_assert_int_eq(cf_future_result(f, &r, DEADLINE_S), 0);
        ck_assert_int_eq(r, token);
        cf_future_release(f);
    }
    ck_assert_int_eq(atomic_load(&init_calls), 3);
    cf_executor_free(ex);
    probe_destroy(&p);
}
END_TEST

/* Waits for the gate it is given, then fails with a message. */
static int init_fail_after_gate(void *arg)
{
    cf_future_wait(arg, DEADLINE_S);
    cf_task_fail(5, "no database");
    return -1;
}

START_TEST(thread_pool_initializer_failure_breaks_pool)
{
    enum { N = 4 };
    cf_future *gate = new_future();
    cf_executor *ex = new_thread_pool(&(cf_thread_pool_options){
        .max_workers = 1, .initializer = init_fail_after_gate, .initializer_arg = gate});
    cf_future *fs[N];
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(cf_submit(&fs[i], ex, answer), 0);
    open_gate(gate);
    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(cf_future_result(fs[i], NULL, DEADLINE_S), CF_EBROKEN);
        const cf_error *e = cf_future_error(fs[i]);
        ck_assert_ptr_nonnull(e);
        ck_assert_int_eq(e->code, CF_EBROKEN);
        ck_assert_str_eq(e->message, "initializer failed: no database");
        ck_assert_msg(strncmp(e->origin, "thread ", 7) == 0 && is_unnamed_worker(e->origin + 7, 0),
                      "origin %s", e->origin);
        ck_assert_str_eq(e->task, "answer");
        /* Each future has its own error. */
        for (int j = 0; j < i; j++)
            ck_assert_ptr_ne(e, cf_future_error(fs[j]));
    }
    cf_future *late = (cf_future *)&late;
    ck_assert_int_eq(cf_submit(&late, ex, answer), CF_EBROKEN);
    ck_assert_ptr_null(late);
    ck_assert_msg(strstr(cf_last_error(), "initializer failed: no database") != NULL,
                  "last error: %s", cf_last_error());
    ck_assert_int_eq(cf_submit(NULL, ex, count_one), CF_EBROKEN);
    /* The broken pool shuts down cleanly; its worker has exited. */
    ck_assert_int_eq(cf_executor_shutdown(ex, CF_SHUTDOWN_WAIT, DEADLINE_S), 0);
    cf_executor_free(ex);
    for (int i = 0; i < N; i++)
        cf_future_release(fs[i]);
    cf_future_release(gate);
    ck_assert_int_eq(atomic_load(&counted), 0);
}
END_TEST

static int init_returns_3(void *arg)
{
    (void)arg;
    return 3;
}

static int init_fails_but_returns_0(void *arg)
{
    (void)arg;
    cf_task_fail(2, "soft failure");
    return 0;
}

START_TEST(thread_pool_initializer_failure_messages)
{
    /* A nonzero return without a message gets a generic one. */
    cf_executor *ex = new_thread_pool(&(cf_thread_pool_options){.initializer = init_returns_3});
    cf_future *f;
    ck_assert_int_eq(cf_submit(&f, ex, answer), 0);
    ck_assert_int_eq(cf_future_result(f, NULL, DEADLINE_S), CF_EBROKEN);
    ck_assert_str_eq(cf_future_error(f)->message, "initializer failed: the initializer returned 3");
    cf_future_release(f);
    ck_assert_int_eq(cf_submit(&f, ex, answer), CF_EBROKEN);
    ck_assert_ptr_nonnull(strstr(cf_last_error(), "the initializer returned 3"));
    cf_executor_free(ex);

    /* cf_task_fail() from an initializer fails it whatever it returns. */
    ex = new_thread_pool(&(cf_thread_pool_options){.initializer = init_fails_but_returns_0});
    ck_assert_int_eq(cf_submit(&f, ex, answer), 0);
    ck_assert_int_eq(cf_future_result(f, NULL, DEADLINE_S), CF_EBROKEN);
    ck_assert_str_eq(cf_future_error(f)->message, "initializer failed: soft failure");
    cf_future_release(f);
    cf_executor_free(ex);
}
END_TEST

/* ---- Shutdown ---------------------------------------------------------------------- */

START_TEST(thread_pool_shutdown_idempotent)
{
    cf_executor *ex = new_thread_pool_of(2);
    /* A pool that never started a thread shuts down at once. */
    ck_assert_int_eq(cf_executor_shutdown(ex, CF_SHUTDOWN_WAIT, 0.0), 0);
    cf_executor_free(ex);

    ex = new_thread_pool_of(2);
    cf_future *f;
    ck_assert_int_eq(cf_submit(&f, ex, answer), 0);
    ck_assert_int_eq(cf_future_wait(f, DEADLINE_S), 0);
    ck_assert_int_eq(cf_executor_shutdown(ex, 0, 0.0), 0);
    ck_assert_int_eq(cf_executor_shutdown(ex, 0, 0.0), 0);
    ck_assert_int_eq(cf_executor_shutdown(ex, CF_SHUTDOWN_WAIT, DEADLINE_S), 0);
    ck_assert_int_eq(cf_executor_shutdown(ex, CF_SHUTDOWN_WAIT | CF_SHUTDOWN_CANCEL_FUTURES,
                                          DEADLINE_S),
                     0);
    cf_future *late = (cf_future *)&late;
    ck_assert_int_eq(cf_submit(&late, ex, answer), CF_ESHUTDOWN);
    ck_assert_ptr_null(late);
    ck_assert_ptr_nonnull(strstr(cf_last_error(), "shut down"));
    const cf_task *t = NULL;
    ck_assert_int_eq(cf_task_find("answer", &t), 0);
    ck_assert_int_eq(cf_submit_values(&late, ex, t, NULL, 0), CF_ESHUTDOWN);
    ck_assert_int_eq(cf_submit(NULL, ex, count_one), CF_ESHUTDOWN);
    cf_executor_free(ex);
    int r = 0;
    ck_assert_int_eq(cf_future_result(f, &r, 0.0), 0);
    ck_assert_int_eq(r, 42);
    cf_future_release(f);
    ck_assert_int_eq(atomic_load(&counted), 0);
}
END_TEST

/* Opens the gate once the pool refuses work, i.e. once it is shut down: the
 * main thread is then blocked in the waiting shutdown. */
typedef struct opener {
    cf_executor *ex;
    cf_future *gate;
    int accepted; /* submits that went through before the shutdown */
    bool saw_shutdown;
} opener;

static void *open_after_shutdown(void *arg)
{
    opener *o = arg;
    double deadline = now_s() + DEADLINE_S;
    do {
        int rc = cf_submit(NULL, o->ex, count_one);
        if (rc == CF_ESHUTDOWN) {
            o->saw_shutdown = true;
            break;
        }
        o->accepted += rc == 0;
    } while (keep_polling(deadline));
    cf_future_set_result(o->gate, 1);
    return NULL;
}

START_TEST(thread_pool_shutdown_waits_for_busy_workers)
{
    enum { MAX = 2, N = 6 };
    cf_executor *ex = new_thread_pool_of(MAX);
    probe p;
    probe_init(&p);
    cf_future *fs[N];
    submit_gated(ex, &p, fs, N, MAX);

    opener o = {.ex = ex, .gate = p.gate};
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, open_after_shutdown, &o), 0);
    ck_assert_int_eq(cf_executor_shutdown(ex, CF_SHUTDOWN_WAIT, CF_FOREVER), 0);
    /* Every future submitted before the shutdown is done, and ran. */
    for (int i = 0; i < N; i++) {
        ck_assert(cf_future_done(fs[i]));
        int r = 0;
        ck_assert_int_eq(cf_future_result(fs[i], &r, 0.0), 0);
        ck_assert_int_eq(r, 1);
        cf_future_release(fs[i]);
    }
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    ck_assert(o.saw_shutdown);
    ck_assert_int_eq(atomic_load(&counted), o.accepted);
    ck_assert_int_eq(atomic_load(&p.started), N);
    cf_executor_free(ex);
    probe_destroy(&p);
}
END_TEST

static atomic_int callbacks_run;

static void count_callback(cf_future *f, void *arg)
{
    (void)arg;
    if (cf_future_cancelled(f))
        atomic_fetch_add(&callbacks_run, 1);
}

/* Shut down with `flags` while one task runs and three wait: the waiting
 * ones are cancelled (their callbacks run at once), the running one ends. */
static void check_shutdown_cancels_pending(unsigned flags)
{
    atomic_store(&counted, 0);
    atomic_store(&callbacks_run, 0);
    cf_executor *ex = new_thread_pool_of(1);
    probe p;
    probe_init(&p);
    cf_future *running, *queued[3];
    submit_gated(ex, &p, &running, 1, 1);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(cf_submit(&queued[i], ex, count_one), 0);
        ck_assert_int_eq(cf_future_add_done_callback(queued[i], count_callback, NULL), 0);
    }
    ck_assert_int_eq(cf_executor_shutdown(ex, flags, 0.0), 0);
    for (int i = 0; i < 3; i++) {
        ck_assert(cf_future_cancelled(queued[i]));
        ck_assert_int_eq(cf_future_result(queued[i], NULL, 0.0), CF_ECANCELLED);
    }
    ck_assert_int_eq(atomic_load(&callbacks_run), 3);
    ck_assert(cf_future_running(running));
    /* A thread pool cannot stop a running task. */
    ck_assert(!cf_future_cancel_running(running));

    open_gate(p.gate);
    int r = 0;
    ck_assert_int_eq(cf_future_result(running, &r, DEADLINE_S), 0);
    ck_assert_int_eq(r, 1);
    ck_assert_int_eq(cf_executor_shutdown(ex, CF_SHUTDOWN_WAIT, DEADLINE_S), 0);
    ck_assert_int_eq(atomic_load(&counted), 0);
    cf_executor_free(ex);
    cf_future_release(running);
    for (int i = 0; i < 3; i++)
        cf_future_release(queued[i]);
    probe_destroy(&p);
}

START_TEST(thread_pool_shutdown_cancels_pending)
{
    check_shutdown_cancels_pending(CF_SHUTDOWN_CANCEL_FUTURES);
}
END_TEST

/* Threads cannot be stopped: terminating cancels what is pending, the
 * running task ends normally. */
START_TEST(thread_pool_shutdown_terminate_cancels_pending)
{
    check_shutdown_cancels_pending(CF_SHUTDOWN_TERMINATE);
}
END_TEST

START_TEST(thread_pool_cancelled_future_is_skipped)
{
    cf_executor *ex = new_thread_pool_of(1);
    probe p;
    probe_init(&p);
    cf_future *held, *victim, *after;
    submit_gated(ex, &p, &held, 1, 1);
    ck_assert_int_eq(cf_submit(&victim, ex, count_one), 0);
    ck_assert_int_eq(cf_submit(&after, ex, answer), 0);
    ck_assert(cf_future_cancel(victim));
    open_gate(p.gate);
    int r = 0;
    ck_assert_int_eq(cf_future_result(after, &r, DEADLINE_S), 0);
    ck_assert_int_eq(r, 42);
    ck_assert(cf_future_cancelled(victim));
    ck_assert_int_eq(atomic_load(&counted), 0);
    cf_executor_free(ex);
    cf_future_release(held);
    cf_future_release(victim);
    cf_future_release(after);
    probe_destroy(&p);
}
END_TEST

START_TEST(thread_pool_shutdown_wait_times_out)
{
    cf_executor *ex = new_thread_pool_of(2);
    probe p;
    probe_init(&p);
    cf_future *f;
    submit_gated(ex, &p, &f, 1, 1);
    ck_assert_int_eq(cf_executor_shutdown(ex, CF_SHUTDOWN_WAIT, 0.05), CF_ETIMEDOUT);
    ck_assert_ptr_nonnull(strstr(cf_last_error(), "still running"));
    ck_assert_int_eq(cf_executor_shutdown(ex, CF_SHUTDOWN_WAIT, 0.0), CF_ETIMEDOUT);
    /* The work goes on in the background. */
    ck_assert(cf_future_running(f));
    open_gate(p.gate);
    int r = 0;
    ck_assert_int_eq(cf_future_result(f, &r, DEADLINE_S), 0);
    ck_assert_int_eq(r, 1);
    ck_assert_int_eq(cf_executor_shutdown(ex, CF_SHUTDOWN_WAIT, DEADLINE_S), 0);
    cf_executor_free(ex);
    cf_future_release(f);
    probe_destroy(&p);
}
END_TEST

/* ---- From inside the pool ------------------------------------------------------------ */

static int shutdown_from_inside(cf_executor *ex, unsigned flags)
{
    return cf_executor_shutdown(ex, flags, DEADLINE_S);
}
CF_TASK(int, shutdown_from_inside, cf_executor *, unsigned);

START_TEST(thread_pool_shutdown_from_task)
{
    cf_executor *ex = new_thread_pool_of(2);
    probe p;
    probe_init(&p);
    cf_future *held, *self, *queued;
    submit_gated(ex, &p, &held, 1, 1);
    ck_assert_int_eq(cf_submit(&self, ex, shutdown_from_inside, ex, CF_SHUTDOWN_WAIT), 0);
    /* Refused at once, although another worker is still busy: waiting would
     * wait for itself. */
    int r = 0;
    ck_assert_int_eq(cf_future_result(self, &r, DEADLINE_S), 0);
    ck_assert_int_eq(r, CF_EDEADLOCK);
    ck_assert(cf_future_running(held));
    /* The shutdown itself happened. */
    ck_assert_int_eq(cf_submit(&queued, ex, answer), CF_ESHUTDOWN);
    open_gate(p.gate);
    ck_assert_int_eq(cf_executor_shutdown(ex, CF_SHUTDOWN_WAIT, DEADLINE_S), 0);
    ck_assert_int_eq(cf_future_result(held, &r, 0.0), 0);
    ck_assert_int_eq(r, 1);
    cf_executor_free(ex);
    cf_future_release(held);
    cf_future_release(self);

    /* Without waiting, a task may shut its own pool down. */
    ex = new_thread_pool_of(1);
    ck_assert_int_eq(cf_submit(&self, ex, shutdown_from_inside, ex, 0u), 0);
    ck_assert_int_eq(cf_future_result(self, &r, DEADLINE_S), 0);
    ck_assert_int_eq(r, 0);
    ck_assert_int_eq(cf_submit(NULL, ex, answer), CF_ESHUTDOWN);
    cf_future_release(self);
    cf_executor_free(ex);
    probe_destroy(&p);
}
END_TEST

static int free_from_inside(cf_executor *ex)
{
    cf_executor_free(ex);
    return gettid();
}
CF_TASK(int, free_from_inside, cf_executor *);

START_TEST(thread_pool_free_from_task)
{
    enum { MAX = 3 };
    cf_executor *ex = new_thread_pool_of(MAX);
    /* Start every worker (the probe learns their kernel thread ids) and hold
     * them while the rest is queued: once the pool is freed, `ex` must not
     * be used any more. */
    probe p;
    probe_init(&p);
    cf_future *fs[MAX];
    submit_gated(ex, &p, fs, MAX, MAX);
    ck_assert_int_eq(p.nthreads, MAX);

    /* The task frees the pool; work submitted before still runs, and the
     * last worker to exit frees the pool. */
    cf_future *freeing, *after[5];
    ck_assert_int_eq(cf_submit(&freeing, ex, free_from_inside, ex), 0);
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(cf_submit(&after[i], ex, square, i), 0);
    ex = NULL;
    open_gate(p.gate);
    for (int i = 0; i < MAX; i++) {
        ck_assert_int_eq(cf_future_wait(fs[i], DEADLINE_S), 0);
        cf_future_release(fs[i]);
    }
    int freeing_tid = 0;
    ck_assert_int_eq(cf_future_result(freeing, &freeing_tid, DEADLINE_S), 0);
    for (int i = 0; i < 5; i++) {
        int64_t r = -1;
        ck_assert_int_eq(cf_future_result(after[i], &r, DEADLINE_S), 0);
        ck_assert_int_eq(r, (int64_t)i * i);
        cf_future_release(after[i]);
    }
    cf_future_release(freeing);
    /* Every worker exits: the pool is gone (valgrind and LeakSanitizer check
     * that it was freed). */
    bool is_worker = false;
    for (int i = 0; i < MAX; i++) {
        is_worker |= p.tids[i] == freeing_tid;
        ck_assert_msg(thread_gone(p.tids[i]), "worker %d did not exit", p.tids[i]);
    }
    ck_assert(is_worker);
    probe_destroy(&p);
}
END_TEST

static int child_times_ten(int x)
{
    return x * 10;
}
CF_TASK(int, child_times_ten, int);

/* Submits a child to its own pool and waits for it. */
static int parent_waits(cf_executor *ex, int x)
{
    cf_future *child;
    if (cf_submit(&child, ex, child_times_ten, x) != 0)
        return -1;
    int r = -2;
    if (cf_future_result(child, &r, DEADLINE_S) != 0)
        r = -3;
    cf_future_release(child);
    return r + 1;
}
CF_TASK(int, parent_waits, cf_executor *, int);

/* Submits a child to its own pool and hands its future back. */
static cf_future *parent_returns(cf_executor *ex, int x)
{
    cf_future *child = NULL;
    cf_submit(&child, ex, child_times_ten, x);
    return child;
}
CF_TASK(cf_future *, parent_returns, cf_executor *, int);

START_TEST(thread_pool_task_submits_to_own_pool)
{
    /* With room for a second worker, a parent may wait for its child. */
    cf_executor *ex = new_thread_pool_of(2);
    cf_future *f;
    ck_assert_int_eq(cf_submit(&f, ex, parent_waits, ex, 4), 0);
    int r = 0;
    ck_assert_int_eq(cf_future_result(f, &r, DEADLINE_S), 0);
    ck_assert_int_eq(r, 41);
    cf_future_release(f);
    cf_executor_free(ex);

    /* With a single worker, the child runs after its parent. */
    ex = new_thread_pool_of(1);
    ck_assert_int_eq(cf_submit(&f, ex, parent_returns, ex, 5), 0);
    cf_future *child = NULL;
    ck_assert_int_eq(cf_future_result(f, &child, DEADLINE_S), 0);
    ck_assert_ptr_nonnull(child);
    ck_assert_int_eq(cf_future_result(child, &r, DEADLINE_S), 0);
    ck_assert_int_eq(r, 50);
    cf_future_release(child);
    cf_future_release(f);
    cf_executor_free(ex);
}
END_TEST

static int plus_one(int x)
{
    return x + 1;
}
CF_TASK(int, plus_one, int);

typedef struct chain {
    cf_executor *ex;
    int target;
    cf_future *done;
    atomic_int links;
} chain;

/* Done-callback: submit the next link until the target is reached. */
static void chain_next(cf_future *f, void *arg)
{
    chain *c = arg;
    int v = -1;
    if (cf_future_result(f, &v, 0.0) != 0) {
        cf_future_set_error(c->done, CF_ETASK, "link failed: %s", cf_last_error());
        return;
    }
    atomic_fetch_add(&c->links, 1);
    if (v >= c->target) {
        cf_future_set_result(c->done, v);
        return;
    }
    cf_future *next;
    if (cf_submit(&next, c->ex, plus_one, v) != 0) {
        cf_future_set_error(c->done, CF_ETASK, "submit failed: %s", cf_last_error());
        return;
    }
    cf_future_add_done_callback(next, chain_next, c);
    cf_future_release(next);
}

START_TEST(thread_pool_callbacks_submit_work)
{
    cf_executor *ex = new_thread_pool_of(2);
    chain c = {.ex = ex, .target = 200, .done = new_future()};
    cf_future *first;
    ck_assert_int_eq(cf_submit(&first, ex, plus_one, 0), 0);
    ck_assert_int_eq(cf_future_add_done_callback(first, chain_next, &c), 0);
    cf_future_release(first);
    int r = 0;
    ck_assert_int_eq(cf_future_result(c.done, &r, DEADLINE_S), 0);
    ck_assert_int_eq(r, 200);
    ck_assert_int_eq(atomic_load(&c.links), 200);
    cf_executor_free(ex);
    cf_future_release(c.done);
}
END_TEST

/* ---- Lifetimes and load -------------------------------------------------------------- */

START_TEST(thread_pool_futures_outlive_pool)
{
    cf_executor *ex = new_thread_pool_of(2);
    probe p;
    probe_init(&p);
    cf_future *names[6], *failed, *dropped;
    for (int i = 0; i < 6; i++)
        ck_assert_int_eq(cf_submit(&names[i], ex, my_thread_name), 0);
    ck_assert_int_eq(cf_submit(&failed, ex, fail_with, 9), 0);
    /* Released before it ran: the pool still runs it, then frees it. */
    ck_assert_int_eq(cf_submit(&dropped, ex, gated, &p), 0);
    cf_future_release(dropped);
    open_gate(p.gate);
    cf_executor_free(ex); /* waits for all of it */

    for (int i = 0; i < 6; i++) {
        const char *name = NULL;
        ck_assert_int_eq(cf_future_result(names[i], &name, 0.0), 0);
        ck_assert_msg(is_unnamed_worker(name, 0) || is_unnamed_worker(name, 1), "name %s", name);
        cf_future_release(names[i]);
    }
    ck_assert_int_eq(cf_future_result(failed, NULL, 0.0), CF_ETASK);
    const cf_error *e = cf_future_error(failed);
    ck_assert_int_eq(e->detail, 9);
    ck_assert_str_eq(e->message, "failed with 9");
    ck_assert_ptr_nonnull(strstr(e->origin, "thread cf-"));
    cf_future_release(failed);
    ck_assert_int_eq(atomic_load(&p.started), 1);
    probe_destroy(&p);
}
END_TEST

enum { SUBMITTERS = 8, PER_SUBMITTER = 10000 };

typedef struct submitter {
    cf_executor *ex;
    int base;
    int errors;
} submitter;

static void *submit_many(void *arg)
{
    submitter *s = arg;
    cf_future **fs = calloc(PER_SUBMITTER, sizeof *fs);
    if (fs == NULL) {
        s->errors++;
        return NULL;
    }
    for (int i = 0; i < PER_SUBMITTER; i++) {
        if (cf_submit(&fs[i], s->ex, square, s->base + i) != 0) {
            s->errors++;
            fs[i] = NULL;
        }
    }
    for (int i = 0; i < PER_SUBMITTER; i++) {
        if (fs[i] == NULL)
            continue;
        int64_t r = -1;
        int64_t want = (int64_t)(s->base + i) * (s->base + i);
        if (cf_future_result(fs[i], &r, DEADLINE_S) != 0 || r != want)
            s->errors++;
        cf_future_release(fs[i]);
    }
    free(fs);
    return NULL;
}

START_TEST(thread_pool_concurrent_submitters)
{
    cf_executor *ex = new_thread_pool_of(4);
    pthread_t threads[SUBMITTERS];
    submitter subs[SUBMITTERS];
    for (int t = 0; t < SUBMITTERS; t++) {
        subs[t] = (submitter){.ex = ex, .base = t * PER_SUBMITTER};
        ck_assert_int_eq(pthread_create(&threads[t], NULL, submit_many, &subs[t]), 0);
    }
    for (int t = 0; t < SUBMITTERS; t++) {
        ck_assert_int_eq(pthread_join(threads[t], NULL), 0);
        ck_assert_int_eq(subs[t].errors, 0);
    }
    ck_assert_int_eq(cf_executor_shutdown(ex, CF_SHUTDOWN_WAIT, DEADLINE_S), 0);
    cf_executor_free(ex);
}
END_TEST

START_TEST(thread_pool_fire_and_forget)
{
    enum { N = 2000 };
    cf_executor *ex = new_thread_pool_of(3);
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(cf_submit(NULL, ex, count_one), 0);
    ck_assert_int_eq(cf_executor_shutdown(ex, CF_SHUTDOWN_WAIT, DEADLINE_S), 0);
    ck_assert_int_eq(atomic_load(&counted), N);
    cf_executor_free(ex);

    /* cf_executor_free alone waits for the work too. */
    ex = new_thread_pool_of(2);
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(cf_submit(NULL, ex, count_one), 0);
    cf_executor_free(ex);
    ck_assert_int_eq(atomic_load(&counted), 2 * N);
}
END_TEST

/* Threads created from now on get a stack no system can map. */
static void make_thread_creation_fail(pthread_attr_t *saved)
{
    ck_assert_int_eq(pthread_getattr_default_np(saved), 0);
    pthread_attr_t huge;
    ck_assert_int_eq(pthread_attr_init(&huge), 0);
    ck_assert_int_eq(pthread_attr_setstacksize(&huge, (size_t)1 << 62), 0);
    ck_assert_int_eq(pthread_setattr_default_np(&huge), 0);
    pthread_attr_destroy(&huge);
}

static void restore_thread_creation(pthread_attr_t *saved)
{
    ck_assert_int_eq(pthread_setattr_default_np(saved), 0);
    pthread_attr_destroy(saved);
}

START_TEST(thread_pool_thread_creation_failure)
{
    cf_executor *ex = new_thread_pool_of(2);
    pthread_attr_t saved;
    make_thread_creation_fail(&saved);
    cf_future *f = (cf_future *)&f;
    int rc = cf_submit(&f, ex, count_one);
    restore_thread_creation(&saved);
    /* pthread_create's own error (EAGAIN; EINVAL under valgrind). */
    ck_assert_msg(rc == -EAGAIN || rc == -ENOMEM || rc == -EINVAL, "rc %d (%s)", rc,
                  cf_err_name(rc));
    ck_assert_ptr_null(f);
    ck_assert_ptr_nonnull(strstr(cf_last_error(), "cannot start a worker thread"));

    /* Nothing was left behind: the next submit starts a worker and only its
     * own task runs. */
    ck_assert_int_eq(cf_submit(&f, ex, count_one), 0);
    ck_assert_int_eq(cf_executor_shutdown(ex, CF_SHUTDOWN_WAIT, DEADLINE_S), 0);
    ck_assert_int_eq(atomic_load(&counted), 1);
    cf_future_release(f);
    cf_executor_free(ex);

    /* With a worker already running, a failed start is not an error: the
     * running worker takes the task. */
    ex = new_thread_pool_of(2);
    probe p;
    probe_init(&p);
    cf_future *held, *queued;
    submit_gated(ex, &p, &held, 1, 1);
    make_thread_creation_fail(&saved);
    rc = cf_submit(&queued, ex, count_one);
    restore_thread_creation(&saved);
    ck_assert_int_eq(rc, 0);
    open_gate(p.gate);
    ck_assert_int_eq(cf_future_result(queued, NULL, DEADLINE_S), 0);
    ck_assert_int_eq(atomic_load(&counted), 2);
    ck_assert_int_eq(p.nthreads, 1);
    cf_future_release(held);
    cf_future_release(queued);
    cf_executor_free(ex);
    probe_destroy(&p);
}
END_TEST

/* ---- Scheduling: no future waits behind a running one while a worker idles ------- */

/* An initializer that holds each worker until the gate `arg` opens, so that
 * a test can queue work before any worker looks at the queue. */
static int wait_for_gate(void *arg)
{
    return cf_future_wait((cf_future *)arg, DEADLINE_S) == 0 ? 0 : 1;
}

/* A pool of two whose workers wait for init_gate before they take work. */
static cf_executor *new_held_pool(cf_future *init_gate, size_t max_workers)
{
    return new_thread_pool(&(cf_thread_pool_options){
        .max_workers = max_workers, .initializer = wait_for_gate, .initializer_arg = init_gate});
}

enum { QUICK = 10 };

/* Submit one task held on `blocked` and QUICK quick ones behind it. */
static void submit_blocked_and_quick(cf_executor *ex, probe *blocked, cf_future **block,
                                     cf_future **quick)
{
    ck_assert_int_eq(cf_submit(block, ex, gated, blocked), 0);
    for (int i = 0; i < QUICK; i++)
        ck_assert_int_eq(cf_submit(&quick[i], ex, answer), 0);
}

/* Every quick task completes while the blocked one still blocks; then its
 * gate opens and it completes too. Releases the futures. */
static void expect_quick_pass_blocked(probe *blocked, cf_future *block, cf_future **quick)
{
    for (int i = 0; i < QUICK; i++) {
        int r = 0;
        ck_assert_msg(cf_future_result(quick[i], &r, DEADLINE_S) == 0,
                      "quick task %d stayed behind the blocked one", i);
        ck_assert_int_eq(r, 42);
        cf_future_release(quick[i]);
    }
    ck_assert(EVENTUALLY(atomic_load(&blocked->started) == 1));
    ck_assert(!cf_future_done(block));
    open_gate(blocked->gate);
    int r = 0;
    ck_assert_int_eq(cf_future_result(block, &r, DEADLINE_S), 0);
    ck_assert_int_eq(r, 1);
    cf_future_release(block);
}

START_TEST(thread_pool_quick_tasks_pass_blocked_one_fresh)
{
    /* As submitted, on a fresh pool. */
    cf_executor *ex = new_thread_pool_of(2);
    probe p;
    probe_init(&p);
    cf_future *block, *quick[QUICK];
    submit_blocked_and_quick(ex, &p, &block, quick);
    expect_quick_pass_blocked(&p, block, quick);
    cf_executor_free(ex);
    probe_destroy(&p);

    /* All queued before either worker looks: the first takes the blocked
     * task with a share of the quick ones. */
    cf_future *init_gate = new_future();
    ex = new_held_pool(init_gate, 2);
    probe_init(&p);
    submit_blocked_and_quick(ex, &p, &block, quick);
    open_gate(init_gate);
    expect_quick_pass_blocked(&p, block, quick);
    cf_executor_free(ex);
    cf_future_release(init_gate);
    probe_destroy(&p);
}
END_TEST

START_TEST(thread_pool_quick_tasks_pass_blocked_one_warmed)
{
    enum { WARM_UP = 20000 };
    cf_executor *ex = new_thread_pool_of(2);
    for (int i = 0; i < WARM_UP; i++) {
        cf_future *f;
        ck_assert_int_eq(cf_submit(&f, ex, count_one), 0);
        cf_future_release(f);
    }
    ck_assert(EVENTUALLY(atomic_load(&counted) == WARM_UP));

    /* Both workers busy while the work queues up; then both come back to a
     * queue of eleven, the blocked task first. */
    probe hold, p;
    probe_init(&hold);
    probe_init(&p);
    cf_future *held[2], *block, *quick[QUICK];
    submit_gated(ex, &hold, held, 2, 2);
    submit_blocked_and_quick(ex, &p, &block, quick);
    open_gate(hold.gate);
    expect_quick_pass_blocked(&p, block, quick);
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(cf_future_wait(held[i], DEADLINE_S), 0);
        cf_future_release(held[i]);
    }
    cf_executor_free(ex);
    probe_destroy(&hold);
    probe_destroy(&p);
}
END_TEST

/* Returns 1 when `f` completes in time. */
static int wait_for(cf_future *f)
{
    return cf_future_wait(f, DEADLINE_S) == 0 && cf_future_done(f);
}
CF_TASK(int, wait_for, cf_future *);

static int open_it(cf_future *gate)
{
    return cf_future_set_result(gate, 1) == 0;
}
CF_TASK(int, open_it, cf_future *);

/* X waits for Y, submitted right after it; `extra` quick tasks follow. */
static void check_waits_for_next(cf_executor *ex, int extra)
{
    cf_future *gate = new_future();
    cf_future *x, *y, *more[8];
    ck_assert_int_le(extra, 8);
    ck_assert_int_eq(cf_submit(&x, ex, wait_for, gate), 0);
    ck_assert_int_eq(cf_submit(&y, ex, open_it, gate), 0);
    for (int i = 0; i < extra; i++)
        ck_assert_int_eq(cf_submit(&more[i], ex, answer), 0);
    int r = 0;
    ck_assert_int_eq(cf_future_result(y, &r, DEADLINE_S), 0);
    ck_assert_int_eq(r, 1);
    ck_assert_int_eq(cf_future_result(x, &r, DEADLINE_S), 0);
    ck_assert_msg(r == 1, "the task never saw the one submitted after it");
    for (int i = 0; i < extra; i++) {
        ck_assert_int_eq(cf_future_wait(more[i], DEADLINE_S), 0);
        cf_future_release(more[i]);
    }
    cf_future_release(x);
    cf_future_release(y);
    cf_future_release(gate);
}

START_TEST(thread_pool_task_waits_for_next_submitted)
{
    /* Fresh pool of two. */
    cf_executor *ex = new_thread_pool_of(2);
    check_waits_for_next(ex, 0);
    cf_executor_free(ex);

    /* Both queued before a worker looks, with more behind them: one worker
     * takes the waiting task and the next ones in one batch. */
    cf_future *init_gate = new_future();
    ex = new_held_pool(init_gate, 2);
    probe hold;
    probe_init(&hold);
    cf_future *held[2];
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(cf_submit(&held[i], ex, gated, &hold), 0);
    open_gate(init_gate);
    ck_assert(EVENTUALLY(atomic_load(&hold.started) == 2));
    /* Both busy: X, Y and four more queue up, then both come back. */
    cf_future *gate = new_future();
    cf_future *x, *y, *more[4];
    ck_assert_int_eq(cf_submit(&x, ex, wait_for, gate), 0);
    ck_assert_int_eq(cf_submit(&y, ex, open_it, gate), 0);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(cf_submit(&more[i], ex, answer), 0);
    open_gate(hold.gate);
    int r = 0;
    ck_assert_int_eq(cf_future_result(x, &r, DEADLINE_S), 0);
    ck_assert_msg(r == 1, "the task never saw the one submitted after it");
    ck_assert_int_eq(cf_future_wait(y, DEADLINE_S), 0);
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(cf_future_wait(more[i], DEADLINE_S), 0);
        cf_future_release(more[i]);
    }
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(cf_future_wait(held[i], DEADLINE_S), 0);
        cf_future_release(held[i]);
    }
    cf_future_release(x);
    cf_future_release(y);
    cf_future_release(gate);
    cf_executor_free(ex);
    cf_future_release(init_gate);
    probe_destroy(&hold);

    /* A pool of three with one task blocked for the whole test. */
    ex = new_thread_pool_of(3);
    probe_init(&hold);
    cf_future *blocked;
    submit_gated(ex, &hold, &blocked, 1, 1);
    check_waits_for_next(ex, 3);
    open_gate(hold.gate);
    ck_assert_int_eq(cf_future_wait(blocked, DEADLINE_S), 0);
    cf_future_release(blocked);
    cf_executor_free(ex);
    probe_destroy(&hold);
}
END_TEST

/* Futures a worker took into its local queue but did not start are still
 * pending: cf_future_cancel and a cancelling shutdown both cancel them. */
static void check_cancel_taken_futures(unsigned shutdown_flags)
{
    cf_future *init_gate = new_future();
    cf_executor *ex = new_held_pool(init_gate, 1);
    probe p;
    probe_init(&p);
    cf_future *block, *taken[3];
    ck_assert_int_eq(cf_submit(&block, ex, gated, &p), 0);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(cf_submit(&taken[i], ex, count_one), 0);
    /* The one worker takes all four in one batch (a fair share of four for
     * one worker) and starts the first. */
    open_gate(init_gate);
    ck_assert(EVENTUALLY(atomic_load(&p.started) == 1));
    ck_assert_uint_eq(cf__thread_pool_local(ex), 3);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(cf_future_state_of(taken[i]), CF_FUTURE_PENDING);

    ck_assert(cf_future_cancel(taken[0]));
    ck_assert(cf_future_cancelled(taken[0]));
    ck_assert_int_eq(cf_executor_shutdown(ex, shutdown_flags, 0), 0);
    /* The shutdown claimed them from the worker's queue, before returning. */
    ck_assert(cf_future_cancelled(taken[1]));
    ck_assert(cf_future_cancelled(taken[2]));
    ck_assert_uint_eq(cf__thread_pool_local(ex), 0);
    ck_assert(!cf_future_done(block));

    open_gate(p.gate);
    int r = 0;
    ck_assert_int_eq(cf_future_result(block, &r, DEADLINE_S), 0);
    ck_assert_int_eq(r, 1);
    cf_executor_free(ex);
    ck_assert_int_eq(atomic_load(&counted), 0);
    cf_future_release(block);
    for (int i = 0; i < 3; i++)
        cf_future_release(taken[i]);
    cf_future_release(init_gate);
    probe_destroy(&p);
}

START_TEST(thread_pool_cancel_taken_not_started)
{
    check_cancel_taken_futures(CF_SHUTDOWN_CANCEL_FUTURES);
}
END_TEST

START_TEST(thread_pool_terminate_cancels_taken_not_started)
{
    check_cancel_taken_futures(CF_SHUTDOWN_TERMINATE);
}
END_TEST

/* ---- Defaults from the CPUs the process may use ----------------------------------- */

START_TEST(thread_pool_defaults_follow_affinity)
{
    cpu_set_t saved, one;
    ck_assert_int_eq(sched_getaffinity(0, sizeof saved, &saved), 0);
    int cpu = 0;
    while (cpu < CPU_SETSIZE && !CPU_ISSET(cpu, &saved))
        cpu++;
    ck_assert_int_lt(cpu, CPU_SETSIZE);
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    ck_assert_int_eq(sched_setaffinity(0, sizeof one, &one), 0);

    ck_assert_uint_eq(cf__cpu_count(), 1);
    cf_executor *ex = new_thread_pool(NULL);
    ck_assert_uint_eq(cf_executor_max_workers(ex), 1 + 4);
    cf_executor_free(ex);
    cf_executor *pp = NULL;
    ck_assert_int_eq(cf_process_pool_new(&pp, NULL), 0);
    ck_assert_uint_eq(cf_executor_max_workers(pp), 1);
    cf_executor_free(pp);

    /* Back to the whole mask (tests may share this process). */
    ck_assert_int_eq(sched_setaffinity(0, sizeof saved, &saved), 0);
    size_t all = (size_t)CPU_COUNT(&saved);
    ck_assert_uint_ge(all, cf__cpu_count());
    ck_assert_uint_ge(cf__cpu_count(), 1);
}
END_TEST

START_TEST(thread_pool_cgroup_cpu_max)
{
    ck_assert_uint_eq(cf__cpu_max_parse("max 100000\n"), 0);
    ck_assert_uint_eq(cf__cpu_max_parse("max"), 0);
    ck_assert_uint_eq(cf__cpu_max_parse("200000 100000\n"), 2);
    ck_assert_uint_eq(cf__cpu_max_parse("150000 100000"), 2);
    ck_assert_uint_eq(cf__cpu_max_parse("50000 100000"), 1);
    ck_assert_uint_eq(cf__cpu_max_parse("400000 50000"), 8);
    ck_assert_uint_eq(cf__cpu_max_parse("300000"), 3);
    ck_assert_uint_eq(cf__cpu_max_parse(""), 0);
    ck_assert_uint_eq(cf__cpu_max_parse("-1 100000"), 0);
    ck_assert_uint_eq(cf__cpu_max_parse("100000 0"), 0);
    ck_assert_uint_eq(cf__cpu_max_parse("lots 100000"), 0);
    ck_assert_uint_eq(cf__cpu_max_parse("100000 100000 junk"), 0);
    ck_assert_uint_eq(cf__cpu_max_parse(NULL), 0);

    /* A hierarchy: the lowest limit on the way up counts. */
    char root[] = "/tmp/cf-cgroup-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(root));
    char path[256];
    snprintf(path, sizeof path, "%s/a", root);
    ck_assert_int_eq(mkdir(path, 0700), 0);
    snprintf(path, sizeof path, "%s/a/b", root);
    ck_assert_int_eq(mkdir(path, 0700), 0);
    ck_assert_uint_eq(cf__cpu_max_walk(root, "/a/b"), 0);
    const struct {
        const char *file, *text;
    } files[] = {{"a/b/cpu.max", "max 100000\n"}, {"a/cpu.max", "300000 100000\n"},
                 {"cpu.max", "500000 100000\n"}};
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", root, files[i].file);
        FILE *out = fopen(path, "w");
        ck_assert_ptr_nonnull(out);
        fputs(files[i].text, out);
        ck_assert_int_eq(fclose(out), 0);
    }
    ck_assert_uint_eq(cf__cpu_max_walk(root, "/a/b"), 3);
    ck_assert_uint_eq(cf__cpu_max_walk(root, "/a/b/"), 3);
    ck_assert_uint_eq(cf__cpu_max_walk(root, "/"), 5);
    snprintf(path, sizeof path, "%s/a/b/cpu.max", root);
    ck_assert_uint_eq(cf__cpu_max_read(path), 0);
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", root, files[i].file);
        ck_assert_int_eq(unlink(path), 0);
    }
    snprintf(path, sizeof path, "%s/a/b", root);
    ck_assert_int_eq(rmdir(path), 0);
    snprintf(path, sizeof path, "%s/a", root);
    ck_assert_int_eq(rmdir(path), 0);
    ck_assert_int_eq(rmdir(root), 0);
}
END_TEST

/* Threads of two unnamed pools: "cf-<pool>_<n>", the pools numbered apart. */
START_TEST(thread_pool_unnamed_pools_name_threads_apart)
{
    cf_executor *a = new_thread_pool(NULL), *b = new_thread_pool(NULL);
    cf_future *fa, *fb;
    ck_assert_int_eq(cf_submit(&fa, a, my_thread_name), 0);
    ck_assert_int_eq(cf_submit(&fb, b, my_thread_name), 0);
    const char *na = NULL, *nb = NULL;
    ck_assert_int_eq(cf_future_result(fa, &na, DEADLINE_S), 0);
    ck_assert_int_eq(cf_future_result(fb, &nb, DEADLINE_S), 0);
    unsigned long pa, pb;
    ck_assert_msg(unnamed_worker_of(na, 0, &pa), "name %s", na);
    ck_assert_msg(unnamed_worker_of(nb, 0, &pb), "name %s", nb);
    ck_assert_uint_eq(pb, pa + 1);
    ck_assert_int_le((int)strlen(na), 15);
    cf_future_release(fa);
    cf_future_release(fb);
    cf_executor_free(a);
    cf_executor_free(b);
}
END_TEST

/* Each test starts from zero counters, also when the tests share a process
 * (CK_FORK=no, as under valgrind). */
static void reset_counters(void)
{
    atomic_store(&counted, 0);
    atomic_store(&callbacks_run, 0);
    atomic_store(&init_calls, 0);
}

static Suite *thread_pool_suite(void)
{
    Suite *s = suite_create("thread_pool");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, reset_counters, NULL);
    tcase_add_test(tc, thread_pool_new_and_defaults);
    tcase_add_test(tc, thread_pool_starts_workers_on_demand);
    tcase_add_test(tc, thread_pool_never_more_than_max_workers);
    tcase_add_test(tc, thread_pool_reuses_idle_worker);
    tcase_add_test(tc, thread_pool_blocking_callback_does_not_starve);
    tcase_add_test(tc, thread_pool_refuses_submit_timeout);
    tcase_add_test(tc, thread_pool_thread_names);
    tcase_add_test(tc, thread_pool_workers_block_async_signals);
    tcase_add_test(tc, thread_pool_initializer_runs_once_per_worker);
    tcase_add_test(tc, thread_pool_initializer_failure_breaks_pool);
    tcase_add_test(tc, thread_pool_initializer_failure_messages);
    tcase_add_test(tc, thread_pool_shutdown_idempotent);
    tcase_add_test(tc, thread_pool_shutdown_waits_for_busy_workers);
    tcase_add_test(tc, thread_pool_shutdown_cancels_pending);
    tcase_add_test(tc, thread_pool_shutdown_terminate_cancels_pending);
    tcase_add_test(tc, thread_pool_cancelled_future_is_skipped);
    tcase_add_test(tc, thread_pool_shutdown_wait_times_out);
    tcase_add_test(tc, thread_pool_shutdown_from_task);
    tcase_add_test(tc, thread_pool_free_from_task);
    tcase_add_test(tc, thread_pool_task_submits_to_own_pool);
    tcase_add_test(tc, thread_pool_callbacks_submit_work);
    tcase_add_test(tc, thread_pool_futures_outlive_pool);
    tcase_add_test(tc, thread_pool_concurrent_submitters);
    tcase_add_test(tc, thread_pool_fire_and_forget);
    tcase_add_test(tc, thread_pool_thread_creation_failure);
    tcase_add_test(tc, thread_pool_quick_tasks_pass_blocked_one_fresh);
    tcase_add_test(tc, thread_pool_quick_tasks_pass_blocked_one_warmed);
    tcase_add_test(tc, thread_pool_task_waits_for_next_submitted);
    tcase_add_test(tc, thread_pool_cancel_taken_not_started);
    tcase_add_test(tc, thread_pool_terminate_cancels_taken_not_started);
    tcase_add_test(tc, thread_pool_defaults_follow_affinity);
    tcase_add_test(tc, thread_pool_cgroup_cpu_max);
    tcase_add_test(tc, thread_pool_unnamed_pools_name_threads_apart);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(thread_pool_suite());
}
