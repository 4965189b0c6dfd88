/* hello.c: run plain C functions on a thread pool and read their results.
 *
 * Build: cc -std=c11 hello.c $(pkg-config --cflags --libs cfutures)
 * Exits 0 when every result is the expected one.
 */
#include <stdio.h>

#include <cfutures.h>

/* Any plain C function becomes a task once declared with CF_TASK. */
static double hypot2(double a, double b)
{
    return a * a + b * b;
}
CF_TASK(double, hypot2, double, double);

int main(void)
{
    cf_executor *ex;
    cf_thread_pool_options opts = {.max_workers = 4};
    int rc = cf_thread_pool_new(&ex, &opts);
    if (rc != 0) {
        fprintf(stderr, "cf_thread_pool_new: %s\n", cf_strerror(rc));
        return 1;
    }

    /* One task: submit it, then wait up to 10 seconds for its result. */
    cf_future *f;
    rc = cf_submit(&f, ex, hypot2, 3.0, 4.0);
    if (rc != 0) {
        fprintf(stderr, "cf_submit: %s (%s)\n", cf_strerror(rc), cf_last_error());
        cf_executor_free(ex);
        return 1;
    }
    /* cf_submit(&f, ex, hypot2, "3", 4.0);   does not compile: "3" is not a double */
    /* cf_submit(&f, ex, hypot2, 3.0);        does not compile: too few arguments */

    double r = 0;
    rc = cf_future_result(f, &r, 10.0);
    cf_future_release(f);
    if (rc != 0) {
        fprintf(stderr, "hypot2: %s (%s)\n", cf_strerror(rc), cf_last_error());
        cf_executor_free(ex);
        return 1;
    }
    printf("hypot2(3, 4) = %g\n", r);

    /* Many tasks: submit them all, then collect the results in order. */
    enum { N = 16 };
    cf_future *fs[N];
    int failures = 0;
    for (int i = 0; i < N; i++) {
        /* The int argument converts to double, as in a direct call. On
         * failure cf_submit sets fs[i] to NULL. */
        if (cf_submit(&fs[i], ex, hypot2, i, 1.0) != 0)
            failures++;
    }
    double sum = 0;
    for (int i = 0; i < N; i++) {
        double ri;
        if (fs[i] != NULL && cf_future_result(fs[i], &ri, 10.0) == 0)
            sum += ri;
        else
            failures++;
        cf_future_release(fs[i]); /* NULL is ignored */
    }
    printf("sum of hypot2(i, 1) for i < %d = %g\n", N, sum);

    /* Wait for the workers to finish, then free the pool. */
    rc = cf_executor_shutdown(ex, CF_SHUTDOWN_WAIT, CF_FOREVER);
    cf_executor_free(ex);

    /* sum of (i * i + 1) for i < 16 = 1240 + 16 */
    return rc == 0 && r == 25.0 && failures == 0 && sum == 1256.0 ? 0 : 1;
}
