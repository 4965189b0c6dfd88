/* hello.c: a program built against an installed cfutures (tests/install/run.sh).
 * Squares 0..N-1 on a thread pool and checks the sum. Exits 0 on success. */
#include <cfutures.h>
#include <stdio.h>

static long square(long x)
{
    return x * x;
}
CF_TASK(long, square, long);

enum { N = 100 };

int main(void)
{
    cf_executor *pool;
    int rc = cf_thread_pool_new(&pool, &(cf_thread_pool_options){.max_workers = 4});
    if (rc != 0) {
        fprintf(stderr, "cf_thread_pool_new: %s\n", cf_strerror(rc));
        return 1;
    }

    cf_future *futures[N];
    for (long i = 0; i < N; i++) {
        rc = cf_submit(&futures[i], pool, square, i);
        if (rc != 0) {
            fprintf(stderr, "cf_submit: %s (%s)\n", cf_strerror(rc), cf_last_error());
            return 1;
        }
    }

    long sum = 0;
    int failures = 0;
    for (long i = 0; i < N; i++) {
        long r;
        rc = cf_future_result(futures[i], &r, 30.0);
        if (rc != 0) {
            fprintf(stderr, "square(%ld): %s\n", i, cf_strerror(rc));
            failures++;
        } else {
            sum += r;
        }
        cf_future_release(futures[i]);
    }

    rc = cf_executor_shutdown(pool, CF_SHUTDOWN_WAIT, CF_FOREVER);
    cf_executor_free(pool);
    if (rc != 0 || failures != 0) {
        fprintf(stderr, "shutdown: %s, %d failed tasks\n", cf_strerror(rc), failures);
        return 1;
    }

    const long expected = (long)(N - 1) * N * (2 * N - 1) / 6;
    printf("cfutures %s: sum of squares below %d = %ld\n", cf_version(), N, sum);
    return sum == expected ? 0 : 1;
}
