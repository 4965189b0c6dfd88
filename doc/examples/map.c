/* map.c: map and starmap over plain C arrays, on a thread pool and on a
 * process pool: the same call, results in input order; a failing element
 * stops the map, or, with keep_going, is reported in a status array while
 * the others finish; arrays from cf_shared_alloc are used in place by the
 * workers of a process pool.
 *
 * Exits 0 when every outcome is the expected one.
 */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
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

static double hypot2(double a, double b)
{
    return a * a + b * b;
}
CF_TASK(double, hypot2, double, double);

/* Fails on negative inputs. */
static double checked_sqrt(double x)
{
    if (x < 0)
        cf_task_fail(1, "sqrt of %g", x);
    return sqrt(x);
}
CF_TASK(double, checked_sqrt, double);

static void show_progress(size_t done, size_t total, void *arg)
{
    (void)arg;
    if (done == total)
        printf("progress: %zu of %zu\n", done, total);
}

enum { N = 100000 };

int main(void)
{
    cf_executor *procs, *threads;
    cf_process_pool_options two = {.max_workers = 2};
    EXPECT(cf_process_pool_new(&procs, &two) == 0);
    EXPECT(cf_thread_pool_new(&threads, NULL) == 0);

    static double a[N], b[N], out[N];
    for (int i = 0; i < N; i++)
        a[i] = i, b[i] = 2 * i;

    /* out[i] = hypot2(a[i], b[i]), on either executor. */
    cf_executor *both[] = {threads, procs};
    for (int e = 0; e < 2; e++) {
        EXPECT(cf_map(both[e], hypot2, NULL, N, out, a, b) == 0);
        printf("%s: out[3] = %g\n", cf_executor_kind(both[e]), out[3]);
        EXPECT(out[3] == 45.0 && out[N - 1] == hypot2(a[N - 1], b[N - 1]));
    }

    /* starmap: one tuple of arguments per element. */
    static CF_ARGS(hypot2) pairs[N];
    for (int i = 0; i < N; i++)
        pairs[i].a0 = i, pairs[i].a1 = 1;
    EXPECT(cf_starmap(procs, hypot2, NULL, N, out, pairs) == 0);
    EXPECT(out[7] == 50.0);

    /* Arrays the workers use in place: nothing is copied. */
    double *xs = (double *)cf_shared_alloc(N * sizeof *xs);
    double *roots = (double *)cf_shared_alloc(N * sizeof *roots);
    EXPECT(xs != NULL && roots != NULL);
    for (int i = 0; i < N; i++)
        xs[i] = i;
    cf_map_options with_progress = {.progress = show_progress};
    EXPECT(cf_map(procs, checked_sqrt, &with_progress, N, roots, xs) == 0);
    EXPECT(roots[49] == 7.0);

    /* A failing element stops the map and is named... */
    xs[500] = -1;
    int rc = cf_map(procs, checked_sqrt, NULL, N, roots, xs);
    printf("%s: %s\n", cf_err_name(rc), cf_last_error());
    EXPECT(rc == CF_ETASK);

    /* ...or, with keep_going, every other element still runs. */
    static int status[N];
    cf_map_report report;
    cf_map_options keep_going = {.keep_going = true, .status = status, .report = &report};
    rc = cf_map(procs, checked_sqrt, &keep_going, N, roots, xs);
    printf("keep_going: %zu succeeded, %zu failed (element %zu)\n", report.succeeded,
           report.failed, report.first_failed);
    EXPECT(rc == CF_ETASK && report.failed == 1 && status[500] == CF_ETASK && status[501] == 0);
    EXPECT(roots[N - 1] == sqrt(N - 1));

    /* The asynchronous form returns a future for the whole map. */
    cf_future *all;
    xs[500] = 500;
    EXPECT(cf_map_async(&all, procs, checked_sqrt, NULL, N, roots, xs) == 0);
    EXPECT(cf_future_result(all, NULL, 60.0) == 0);
    cf_future_release(all);

    cf_shared_free(xs);
    cf_shared_free(roots);
    cf_executor_free(procs);
    cf_executor_free(threads);
    return 0;
}
