/* test_as_completed.c: the as_completed iterator over user futures completed
 * by threads the tests start themselves.
 *
 * Completion order is made deterministic with a progress counter: the main
 * thread publishes how many futures it has been yielded, and the completing
 * thread completes the next future only once the previous one was yielded,
 * so at most one future is ready at a time.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cfutures.h>

#include "support.h"

/* ---- Helpers ------------------------------------------------------------------ */

static cf_future *next_or_fail(cf_as_completed *it)
{
    cf_future *f = NULL;
    int rc = cf_as_completed_next(it, &f);
    ck_assert_msg(rc == 0, "next: %s (%s)", cf_err_name(rc), cf_last_error());
    ck_assert_ptr_nonnull(f);
    return f;
}

static int result_of(cf_future *f)
{
    int v = 0;
    ck_assert_int_eq(cf_future_result(f, &v, 0), 0);
    return v;
}

/* How far the iterating thread has got, for the threads that feed it. */
typedef struct progress {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    size_t value;
} progress;

#define PROGRESS_INIT {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0}

static void progress_set(progress *p, size_t value)
{
    pthread_mutex_lock(&p->mu);
    p->value = value;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->mu);
}

/* Wait until the progress reaches `at_least`; false after the deadline. */
static bool progress_await(progress *p, size_t at_least)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += (time_t)DEADLINE_S;
    pthread_mutex_lock(&p->mu);
    while (p->value < at_least)
        if (pthread_cond_timedwait(&p->cond, &p->mu, &ts) == ETIMEDOUT)
            break;
    bool reached = p->value >= at_least;
    pthread_mutex_unlock(&p->mu);
    return reached;
}

/* Completes order[k] once progress has reached base + k. */
typedef struct ordered_completer {
    cf_future **order;
    size_t n;
    size_t base;
    progress *p;
    pthread_t thread;
    int status;
} ordered_completer;

static void *run_ordered(void *arg)
{
    ordered_completer *c = arg;
    for (size_t k = 0; k < c->n && c->status == 0; k++) {
        if (!progress_await(c->p, c->base + k))
            c->status = CF_ETIMEDOUT;
        else
            c->status = cf_future_set_result(c->order[k], (int)(100 + k));
    }
    return NULL;
}

static void ordered_start(ordered_completer *c, cf_future **order, size_t n, size_t base,
                          progress *p)
{
    *c = (ordered_completer){.order = order, .n = n, .base = base, .p = p};
    ck_assert_int_eq(pthread_create(&c->thread, NULL, run_ordered, c), 0);
}

static void ordered_join(ordered_completer *c)
{
    ck_assert_int_eq(pthread_join(c->thread, NULL), 0);
    ck_assert_int_eq(c->status, 0);
}

/* ---- Arguments and edges --------------------------------------------------------- */

START_TEST(as_completed_bad_arguments)
{
    cf_future *f = new_future();
    cf_future *fs[2] = {f, NULL};
    cf_as_completed *untouched = (cf_as_completed *)&untouched;
    cf_as_completed *it = untouched;

    ck_assert_int_eq(cf_as_completed_new(NULL, fs, 1, CF_FOREVER), CF_EINVAL);
    ck_assert_int_eq(cf_as_completed_new(&it, NULL, 1, CF_FOREVER), CF_EINVAL);
    ck_assert_int_eq(cf_as_completed_new(&it, fs, 2, CF_FOREVER), CF_EINVAL);
    ck_assert_ptr_nonnull(strstr(cf_last_error(), "fs[1]"));
    ck_assert_int_eq(cf_as_completed_new(&it, fs, 1, NAN), CF_EINVAL);
    ck_assert_ptr_eq(it, untouched);
    ck_assert_uint_eq(refs_of(f), 1);

    ck_assert_int_eq(cf_as_completed_new(&it, fs, 1, CF_FOREVER), 0);
    cf_future *out = NULL;
    ck_assert_int_eq(cf_as_completed_add(NULL, f), CF_EINVAL);
    ck_assert_int_eq(cf_as_completed_add(it, NULL), CF_EINVAL);
    ck_assert_int_eq(cf_as_completed_next(NULL, &out), CF_EINVAL);
    ck_assert_int_eq(cf_as_completed_next(it, NULL), CF_EINVAL);
    ck_assert_ptr_null(out);
    cf_as_completed_free(NULL);
    cf_as_completed_free(it);
    ck_assert_uint_eq(refs_of(f), 1);
    ck_assert(!has_listeners(f));
    cf_future_release(f);
}
END_TEST

START_TEST(as_completed_empty)
{
    cf_as_completed *it = NULL;
    cf_future *out = NULL;
    ck_assert_int_eq(cf_as_completed_new(&it, NULL, 0, CF_FOREVER), 0);
    ck_assert_int_eq(cf_as_completed_next(it, &out), CF_EEXHAUSTED);
    ck_assert_str_ne(cf_last_error(), "");
    ck_assert_int_eq(cf_as_completed_next(it, &out), CF_EEXHAUSTED);
    ck_assert_ptr_null(out);
    cf_as_completed_free(it);
}
END_TEST

START_TEST(as_completed_exhausted_then_add)
{
    cf_future *a = finished_future(1);
    cf_as_completed *it = NULL;
    cf_future *out = NULL;
    ck_assert_int_eq(cf_as_completed_new(&it, &a, 1, CF_FOREVER), 0);
    ck_assert_ptr_eq(next_or_fail(it), a);
    ck_assert_int_eq(cf_as_completed_next(it, &out), CF_EEXHAUSTED);
    ck_assert_int_eq(cf_as_completed_next(it, &out), CF_EEXHAUSTED);

    /* The iterator goes on with what is added later. */
    cf_future *d = finished_future(2), *e = new_future();
    ck_assert_int_eq(cf_as_completed_add(it, d), 0);
    ck_assert_int_eq(cf_as_completed_add(it, e), 0);
    ck_assert_ptr_eq(next_or_fail(it), d);
    ck_assert_int_eq(cf_future_set_result(e, 3), 0);
    ck_assert_ptr_eq(next_or_fail(it), e);
    ck_assert_int_eq(cf_as_completed_next(it, &out), CF_EEXHAUSTED);
    cf_as_completed_free(it);
    cf_future_release(a);
    cf_future_release(d);
    cf_future_release(e);
}
END_TEST

/* ---- Order ---------------------------------------------------------------------------- */

START_TEST(as_completed_done_first_then_completion_order)
{
    cf_future *p0 = new_future(), *d1 = new_future(), *p2 = new_future(), *d3 = new_future(),
              *p4 = new_future();
    /* d3 completes before d1; both are done before the iterator exists. */
    ck_assert_int_eq(cf_future_set_result(d3, 3), 0);
    ck_assert_int_eq(cf_future_set_result(d1, 1), 0);
    cf_future *fs[5] = {p0, d1, p2, d3, p4};
    cf_as_completed *it = NULL;
    ck_assert_int_eq(cf_as_completed_new(&it, fs, 5, CF_FOREVER), 0);

    progress p = PROGRESS_INIT;
    cf_future *later[3] = {p4, p0, p2};
    ordered_completer c;
    ordered_start(&c, later, 3, 2, &p);

    cf_future *expected[5] = {d1, d3, p4, p0, p2};
    for (size_t k = 0; k < 5; k++) {
        cf_future *f = next_or_fail(it);
        ck_assert_msg(f == expected[k], "yield %zu is not the expected future", k);
        ck_assert(cf_future_done(f));
        progress_set(&p, k + 1);
    }
    cf_future *out;
    ck_assert_int_eq(cf_as_completed_next(it, &out), CF_EEXHAUSTED);
    ordered_join(&c);
    cf_as_completed_free(it);
    for (size_t i = 0; i < 5; i++)
        cf_future_release(fs[i]);
}
END_TEST

/* ---- Adding from another thread --------------------------------------------------------- */

typedef struct feeder {
    cf_as_completed *it;
    progress *p;
    cf_future *first_pending;
    pthread_t thread;
    int status;
} feeder;

static void *run_feeder(void *arg)
{
    feeder *fd = arg;
    cf_future *d1 = NULL, *p2 = NULL;
    int rc = cf_future_new(&d1);
    if (rc == 0)
        rc = cf_future_new(&p2);
    /* While the iterating thread waits in next(): a future already done
     * must wake it. The feeder drops its own reference at once. */
    if (rc == 0 && !progress_await(fd->p, 1))
        rc = CF_ETIMEDOUT;
    if (rc == 0)
        rc = cf_future_set_result(d1, 1);
    if (rc == 0)
        rc = cf_as_completed_add(fd->it, d1);
    cf_future_release(d1);
    /* Then a pending one, completed here afterwards. */
    if (rc == 0 && !progress_await(fd->p, 2))
        rc = CF_ETIMEDOUT;
    if (rc == 0)
        rc = cf_as_completed_add(fd->it, p2);
    if (rc == 0)
        rc = cf_as_completed_add(fd->it, p2);
    if (rc == 0)
        rc = cf_future_set_result(p2, 2);
    /* Last, the future the iterator started with. */
    if (rc == 0 && !progress_await(fd->p, 3))
        rc = CF_ETIMEDOUT;
    if (rc == 0)
        rc = cf_future_set_result(fd->first_pending, 0);
    cf_future_release(p2);
    fd->status = rc;
    return NULL;
}

START_TEST(as_completed_add_while_iterating)
{
    cf_future *p0 = new_future();
    cf_as_completed *it = NULL;
    ck_assert_int_eq(cf_as_completed_new(&it, &p0, 1, CF_FOREVER), 0);
    progress p = PROGRESS_INIT;
    feeder fd = {.it = it, .p = &p, .first_pending = p0};
    ck_assert_int_eq(pthread_create(&fd.thread, NULL, run_feeder, &fd), 0);

    static const int expected[3] = {1, 2, 0};
    for (size_t k = 0; k < 3; k++) {
        progress_set(&p, k + 1);
        cf_future *f = next_or_fail(it);
        /* Valid while borrowed, though the feeder may have dropped it. */
        ck_assert_int_eq(result_of(f), expected[k]);
    }
    cf_future *out;
    ck_assert_int_eq(cf_as_completed_next(it, &out), CF_EEXHAUSTED);
    ck_assert_int_eq(pthread_join(fd.thread, NULL), 0);
    ck_assert_int_eq(fd.status, 0);
    cf_as_completed_free(it);
    cf_future_release(p0);
}
END_TEST

/* ---- Duplicates -------------------------------------------------------------------------- */

START_TEST(as_completed_duplicates)
{
    cf_future *a = finished_future(1), *b = new_future(), *c = new_future();
    cf_future *fs[5] = {a, b, a, c, b};
    cf_as_completed *it = NULL;
    ck_assert_int_eq(cf_as_completed_new(&it, fs, 5, CF_FOREVER), 0);
    /* One reference each, however often given. */
    ck_assert_uint_eq(refs_of(a), 2);
    ck_assert_uint_eq(refs_of(b), 2);

    progress p = PROGRESS_INIT;
    cf_future *later[2] = {c, b};
    ordered_completer oc;
    ordered_start(&oc, later, 2, 1, &p);

    ck_assert_ptr_eq(next_or_fail(it), a);
    /* Re-adding the yielded future, or a pending one, changes nothing. */
    ck_assert_int_eq(cf_as_completed_add(it, a), 0);
    ck_assert_int_eq(cf_as_completed_add(it, b), 0);
    ck_assert_uint_eq(refs_of(b), 2);
    progress_set(&p, 1);
    ck_assert_ptr_eq(next_or_fail(it), c);
    /* No longer borrowed, but yielded: still nothing. */
    ck_assert_int_eq(cf_as_completed_add(it, a), 0);
    progress_set(&p, 2);
    ck_assert_ptr_eq(next_or_fail(it), b);
    ck_assert_int_eq(cf_as_completed_add(it, b), 0);
    ck_assert_int_eq(cf_as_completed_add(it, c), 0);
    ck_assert_int_eq(cf_as_completed_add(it, a), 0);
    cf_future *out;
    ck_assert_int_eq(cf_as_completed_next(it, &out), CF_EEXHAUSTED);
    ordered_join(&oc);
    cf_as_completed_free(it);
    ck_assert_uint_eq(refs_of(a), 1);
    ck_assert_uint_eq(refs_of(b), 1);
    ck_assert_uint_eq(refs_of(c), 1);
    cf_future_release(a);
    cf_future_release(b);
    cf_future_release(c);
}
END_TEST

/* ---- Timeouts ------------------------------------------------------------------------------ */

START_TEST(as_completed_timeout_message)
{
    cf_future *a = finished_future(1), *b = new_future(), *c = new_future();
    cf_future *fs[4] = {a, b, c, b};
    cf_as_completed *it = NULL;
    cf_future *out = NULL;
    ck_assert_int_eq(cf_as_completed_new(&it, fs, 4, 0.2), 0);
    ck_assert_ptr_eq(next_or_fail(it), a);
    ck_assert_int_eq(cf_as_completed_next(it, &out), CF_ETIMEDOUT);
    ck_assert_str_eq(cf_last_error(), "2 (of 3) futures unfinished");
    ck_assert_int_eq(cf_as_completed_next(it, &out), CF_ETIMEDOUT);

    /* Still usable: a future done since is yielded. */
    ck_assert_int_eq(cf_future_set_result(b, 2), 0);
    ck_assert_ptr_eq(next_or_fail(it), b);
    ck_assert_int_eq(cf_as_completed_next(it, &out), CF_ETIMEDOUT);
    ck_assert_str_eq(cf_last_error(), "1 (of 3) futures unfinished");

    /* Freed with c pending: its listener goes, and so does the reference. */
    cf_as_completed_free(it);
    ck_assert(!has_listeners(c));
    ck_assert_uint_eq(refs_of(c), 1);
    ck_assert_int_eq(cf_future_set_result(c, 3), 0);
    cf_future_release(a);
    cf_future_release(b);
    cf_future_release(c);
}
END_TEST

START_TEST(as_completed_zero_timeout)
{
    cf_future *a = new_future(), *b = finished_future(2);
    cf_future *fs[2] = {a, b};
    cf_as_completed *it = NULL;
    cf_future *out = NULL;
    ck_assert_int_eq(cf_as_completed_new(&it, fs, 2, 0), 0);
    ck_assert_ptr_eq(next_or_fail(it), b);
    ck_assert_int_eq(cf_as_completed_next(it, &out), CF_ETIMEDOUT);
    ck_assert_str_eq(cf_last_error(), "1 (of 2) futures unfinished");
    cf_as_completed_free(it);
    cf_future_release(a);
    cf_future_release(b);
}
END_TEST

/* ---- References ---------------------------------------------------------------------------- */

START_TEST(as_completed_references)
{
    cf_future *kept = finished_future(7), *dropped = finished_future(8), *never = new_future();
    cf_future *fs[3] = {kept, dropped, never};
    cf_as_completed *it = NULL;
    ck_assert_int_eq(cf_as_completed_new(&it, fs, 3, CF_FOREVER), 0);
    ck_assert_uint_eq(refs_of(kept), 2);
    ck_assert_uint_eq(refs_of(dropped), 2);
    ck_assert_uint_eq(refs_of(never), 2);
    /* From here the iterator holds the only references to these two. */
    cf_future_release(dropped);
    cf_future_release(never);

    ck_assert_ptr_eq(next_or_fail(it), kept);
    ck_assert_uint_eq(refs_of(kept), 2);
    cf_future *f = next_or_fail(it);
    ck_assert_ptr_eq(f, dropped);
    /* Valid while borrowed, though nobody else holds it. */
    ck_assert_int_eq(result_of(f), 8);
    /* kept's creator could add it again: the iterator still knows it. */
    ck_assert_uint_eq(refs_of(kept), 2);
    ck_assert_int_eq(cf_as_completed_add(it, kept), 0);
    ck_assert_uint_eq(refs_of(kept), 2);

    /* Frees the borrowed future and the pending one, and drops kept's
     * reference (valgrind and ASan see a leak or a use after free here). */
    cf_as_completed_free(it);
    ck_assert_uint_eq(refs_of(kept), 1);
    ck_assert_int_eq(result_of(kept), 7);
    cf_future_release(kept);
}
END_TEST

#define N_YIELDED 300

/* Yielded futures are forgotten once nobody else holds them, in sweeps
 * along the iteration; those still held elsewhere stay known. */
START_TEST(as_completed_forgets_yielded)
{
    static cf_future *fs[N_YIELDED];
    for (size_t i = 0; i < N_YIELDED; i++)
        fs[i] = finished_future((int)i);
    cf_as_completed *it = NULL;
    ck_assert_int_eq(cf_as_completed_new(&it, fs, N_YIELDED, CF_FOREVER), 0);
    /* Odd ones: the iterator holds the only reference from the start. */
    for (size_t i = 1; i < N_YIELDED; i += 2) {
        cf_future_release(fs[i]);
        fs[i] = NULL;
    }
    for (size_t k = 0; k < N_YIELDED; k++) {
        cf_future *f = next_or_fail(it);
        ck_assert_int_eq(result_of(f), (int)k);
        /* Halfway, drop the even ones yielded so far: they are kept by
         * the iterator until a later sweep finds them unreferenced. */
        if (k == N_YIELDED / 2)
            for (size_t i = 0; i < k; i += 2) {
                cf_future_release(fs[i]);
                fs[i] = NULL;
            }
    }
    /* The even ones still held: known, so adding them does nothing. */
    for (size_t i = N_YIELDED / 2; i < N_YIELDED; i += 2) {
        ck_assert_int_eq(cf_as_completed_add(it, fs[i]), 0);
        ck_assert_uint_eq(refs_of(fs[i]), 2);
    }
    cf_future *out;
    ck_assert_int_eq(cf_as_completed_next(it, &out), CF_EEXHAUSTED);
    cf_as_completed_free(it);
    for (size_t i = 0; i < N_YIELDED; i++)
        if (fs[i] != NULL) {
            ck_assert_uint_eq(refs_of(fs[i]), 1);
            cf_future_release(fs[i]);
        }
}
END_TEST

/* ---- Many threads adding and completing ---------------------------------------------------- */

#define N_ADDERS 4
#define PER_ADDER 250
#define N_ADDED (N_ADDERS * PER_ADDER)

typedef struct adder {
    cf_as_completed *it;
    size_t first;
    cf_future *gate;
    atomic_size_t *finished;
    pthread_t thread;
    int status;
} adder;

/* Add futures (each twice), some already done, some completed after being
 * added, dropping this thread's reference at once; the last adder to finish
 * completes the gate. */
static void *run_adder(void *arg)
{
    adder *ad = arg;
    int rc = 0;
    for (size_t i = 0; i < PER_ADDER && rc == 0; i++) {
        int index = (int)(ad->first + i);
        cf_future *f = NULL;
        if ((rc = cf_future_new(&f)) != 0)
            break;
        if (i % 2 == 0)
            rc = cf_future_set_result(f, index);
        if (rc == 0)
            rc = cf_as_completed_add(ad->it, f);
        if (rc == 0)
            rc = cf_as_completed_add(ad->it, f);
        if (rc == 0 && i % 2 == 1)
            rc = cf_future_set_result(f, index);
        cf_future_release(f);
    }
    ad->status = rc;
    if (atomic_fetch_add(ad->finished, 1) + 1 == N_ADDERS)
        cf_future_set_result(ad->gate, -1);
    return NULL;
}

START_TEST(as_completed_concurrent_adders)
{
    cf_future *gate = new_future();
    cf_as_completed *it = NULL;
    ck_assert_int_eq(cf_as_completed_new(&it, &gate, 1, DEADLINE_S), 0);
    atomic_size_t finished = 0;
    adder adders[N_ADDERS];
    for (size_t t = 0; t < N_ADDERS; t++) {
        adders[t] = (adder){.it = it, .first = t * PER_ADDER, .gate = gate, .finished = &finished};
        ck_assert_int_eq(pthread_create(&adders[t].thread, NULL, run_adder, &adders[t]), 0);
    }

    static int seen[N_ADDED];
    size_t n_yielded = 0, n_gate = 0;
    cf_future *f;
    int rc;
    while ((rc = cf_as_completed_next(it, &f)) == 0) {
        n_yielded++;
        int v = result_of(f);
        if (v == -1) {
            n_gate++;
            continue;
        }
        ck_assert(v >= 0 && v < N_ADDED);
        seen[v]++;
    }
    ck_assert_msg(rc == CF_EEXHAUSTED, "next: %s (%s)", cf_err_name(rc), cf_last_error());
    for (size_t t = 0; t < N_ADDERS; t++) {
        ck_assert_int_eq(pthread_join(adders[t].thread, NULL), 0);
        ck_assert_int_eq(adders[t].status, 0);
    }
    ck_assert_uint_eq(n_gate, 1);
    ck_assert_uint_eq(n_yielded, N_ADDED + 1);
    for (size_t i = 0; i < N_ADDED; i++)
        ck_assert_int_eq(seen[i], 1);
    cf_as_completed_free(it);
    cf_future_release(gate);
}
END_TEST

static Suite *as_completed_suite(void)
{
    Suite *s = suite_create("as_completed");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, as_completed_bad_arguments);
    tcase_add_test(tc, as_completed_empty);
    tcase_add_test(tc, as_completed_exhausted_then_add);
    tcase_add_test(tc, as_completed_done_first_then_completion_order);
    tcase_add_test(tc, as_completed_add_while_iterating);
    tcase_add_test(tc, as_completed_duplicates);
    tcase_add_test(tc, as_completed_timeout_message);
    tcase_add_test(tc, as_completed_zero_timeout);
    tcase_add_test(tc, as_completed_references);
    tcase_add_test(tc, as_completed_forgets_yielded);
    tcase_add_test(tc, as_completed_concurrent_adders);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(as_completed_suite());
}
