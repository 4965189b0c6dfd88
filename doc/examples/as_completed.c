/* as_completed.c: take results in the order the work completes, and add
 * more work while iterating.
 *
 * Exits 0 when every result arrived exactly once.
 */
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

/* Steps for n to reach 1 in the Collatz sequence. */
static int collatz_steps(int64_t n)
{
    int steps = 0;
    for (; n > 1; steps++)
        n = n % 2 == 0 ? n / 2 : 3 * n + 1;
    return steps;
}
CF_TASK(int, collatz_steps, int64_t);

int main(void)
{
    enum { N = 8, FOLLOW_UP = 1000 };
    cf_executor *ex;
    EXPECT(cf_thread_pool_new(&ex, NULL) == 0);

    cf_future *fs[N];
    for (int i = 0; i < N; i++)
        EXPECT(cf_submit(&fs[i], ex, collatz_steps, 27 + i) == 0);

    /* The whole iteration may take at most 30 seconds. */
    cf_as_completed *it;
    EXPECT(cf_as_completed_new(&it, fs, N, 30.0) == 0);
    /* The iterator holds its own references: ours can go now. */
    for (int i = 0; i < N; i++)
        cf_future_release(fs[i]);

    long total = 0;
    int yielded = 0, added = 0;
    cf_future *f;
    int rc;
    while ((rc = cf_as_completed_next(it, &f)) == 0) {
        int steps;
        EXPECT(cf_future_result(f, &steps, 0.0) == 0);
        total += steps;
        yielded++;
        /* Each of the first N results starts one more task, which the same
         * loop picks up when it completes. */
        if (added < N) {
            cf_future *more;
            EXPECT(cf_submit(&more, ex, collatz_steps, FOLLOW_UP + added) == 0);
            EXPECT(cf_as_completed_add(it, more) == 0);
            cf_future_release(more);
            added++;
        }
    }
    EXPECT(rc == CF_EEXHAUSTED); /* every future was yielded */
    cf_as_completed_free(it);

    long expected = 0;
    for (int i = 0; i < N; i++)
        expected += collatz_steps(27 + i) + collatz_steps(FOLLOW_UP + i);
    printf("%d results, %ld steps in all (expected %ld)\n", yielded, total, expected);
    EXPECT(yielded == 2 * N && total == expected);

    /* A future that never completes: the iteration's deadline (0 here) ends it. */
    cf_future *never, *now;
    EXPECT(cf_future_new(&never) == 0);
    EXPECT(cf_future_new(&now) == 0);
    EXPECT(cf_future_set_result(now, 1) == 0);
    cf_future *pair[] = {never, now};
    EXPECT(cf_as_completed_new(&it, pair, 2, 0.0) == 0);
    EXPECT(cf_as_completed_next(it, &f) == 0 && f == now); /* done futures come first */
    rc = cf_as_completed_next(it, &f);
    printf("then: %s (%s)\n", cf_err_name(rc), cf_last_error());
    EXPECT(rc == CF_ETIMEDOUT);
    cf_as_completed_free(it);
    cf_future_release(never);
    cf_future_release(now);

    cf_executor_free(ex);
    return 0;
}
