/* callbacks.c: cancelling pending work, and done-callbacks.
 *
 * Futures made with cf_future_new serve as one-shot events here: a task
 * blocks on one until the program completes it. Nothing sleeps to order
 * events. Exits 0 when every outcome is the expected one.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include <cfutures.h>

/* Report an unexpected outcome and exit: this program doubles as a test. */
#define EXPECT(cond)                                                               \
    do {                                                                           \
        if (!(cond)) {                                                             \
            fprintf(stderr, "%s:%d: expected %s (last error: %s)\n", __FILE__,     \
                    __LINE__, #cond, cf_last_error());                             \
            exit(1);                                                               \
        }                                                                          \
    } while (0)

/* Says it has started, then holds its worker until `release` is done. */
static bool hold(cf_future *started, cf_future *release)
{
    cf_future_set_result(started, 1);
    return cf_future_wait(release, 30.0) == 0;
}
CF_TASK(bool, hold, cf_future *, cf_future *);

static int square(int x)
{
    return x * x;
}
CF_TASK(int, square, int);

/* Shared by the done-callbacks of a batch of futures. */
struct tally {
    pthread_mutex_t lock; /* the callbacks run in several workers at once */
    int calls;
    int sum;
    int expected;
    cf_future *all_called; /* the last callback completes it, then drops this reference */
};

/* Runs in the thread that completes f: here, a worker of the pool. */
static void add_result(cf_future *f, void *arg)
{
    struct tally *t = (struct tally *)arg;
    int v;
    pthread_mutex_lock(&t->lock);
    if (cf_future_result(f, &v, 0.0) == 0) /* f is done: this never blocks */
        t->sum += v;
    bool last = ++t->calls == t->expected;
    pthread_mutex_unlock(&t->lock);
    if (last) {
        cf_future_set_result(t->all_called, 1);
        cf_future_release(t->all_called);
    }
}

static void note_call(cf_future *f, void *arg)
{
    (void)f;
    *(int *)arg += 1;
}

/* Completes the next future of a chain with this one's value plus one. */
static void complete_next(cf_future *f, void *next)
{
    int v = 0;
    cf_future_result(f, &v, 0.0);
    cf_future_set_result((cf_future *)next, v + 1);
}

int main(void)
{
    cf_executor *ex;
    cf_thread_pool_options one = {.max_workers = 1};
    EXPECT(cf_thread_pool_new(&ex, &one) == 0);

    /* Cancel: only a pending future can be cancelled. */
    cf_future *started, *release, *busy, *queued;
    EXPECT(cf_future_new(&started) == 0 && cf_future_new(&release) == 0);
    EXPECT(cf_submit(&busy, ex, hold, started, release) == 0);
    EXPECT(cf_future_wait(started, 10.0) == 0); /* busy runs on the only worker */
    EXPECT(cf_submit(&queued, ex, square, 7) == 0);

    bool cancelled_busy = cf_future_cancel(busy);     /* false: it is running */
    bool cancelled_queued = cf_future_cancel(queued); /* true: it was pending */
    int v;
    int rc = cf_future_result(queued, &v, 0.0);
    printf("cancel running: %d, cancel pending: %d, result: %s\n", cancelled_busy,
           cancelled_queued, cf_err_name(rc));
    EXPECT(!cancelled_busy && cancelled_queued && rc == CF_ECANCELLED);

    EXPECT(cf_future_set_result(release, 1) == 0);
    bool released = false;
    EXPECT(cf_future_result(busy, &released, 10.0) == 0 && released);
    cf_future_release(busy);
    cf_future_release(queued);
    cf_future_release(started);
    cf_future_release(release);

    /* Done-callbacks: the caller may drop its reference right away. */
    enum { N = 100 };
    cf_future *all_called;
    EXPECT(cf_future_new(&all_called) == 0);
    struct tally t = {
        .lock = PTHREAD_MUTEX_INITIALIZER,
        .expected = N,
        .all_called = cf_future_retain(all_called),
    };
    for (int i = 0; i < N; i++) {
        cf_future *f;
        EXPECT(cf_submit(&f, ex, square, i) == 0);
        EXPECT(cf_future_add_done_callback(f, add_result, &t) == 0);
        cf_future_release(f);
    }
    EXPECT(cf_future_wait(all_called, 30.0) == 0);
    printf("%d callbacks, sum of squares below %d = %d\n", t.calls, N, t.sum);
    EXPECT(t.sum == (N - 1) * N * (2 * N - 1) / 6);
    cf_future_release(all_called);

    /* A callback added to a done future runs at once, in the adding thread. */
    cf_future *done;
    EXPECT(cf_submit(&done, ex, square, 3) == 0);
    EXPECT(cf_future_wait(done, 10.0) == 0);
    int calls = 0;
    EXPECT(cf_future_add_done_callback(done, note_call, &calls) == 0);
    EXPECT(calls == 1);
    cf_future_release(done);

    /* A long chain of callbacks, each completing the next future: they are
     * queued, not nested, so the stack does not grow with the chain. */
    enum { CHAIN = 100000 };
    cf_future **chain = (cf_future **)malloc(CHAIN * sizeof *chain);
    EXPECT(chain != NULL);
    for (int i = 0; i < CHAIN; i++)
        EXPECT(cf_future_new(&chain[i]) == 0);
    for (int i = 0; i + 1 < CHAIN; i++)
        EXPECT(cf_future_add_done_callback(chain[i], complete_next, chain[i + 1]) == 0);
    EXPECT(cf_future_set_result(chain[0], 0) == 0);
    int last = -1;
    EXPECT(cf_future_result(chain[CHAIN - 1], &last, 10.0) == 0);
    printf("end of a chain of %d futures: %d\n", CHAIN, last);
    EXPECT(last == CHAIN - 1);
    for (int i = 0; i < CHAIN; i++)
        cf_future_release(chain[i]);
    free(chain);

    cf_executor_free(ex);
    return 0;
}
