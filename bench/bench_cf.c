/* bench_cf.c: the cfutures workloads every section shares (bench_cf.h).
 * The tiny task is declared here once, so both pools run the very same
 * function. */
#include "config.h"

#include "bench_cf.h"

#include <string.h>

#include "bench.h"

static int bench_add(int a, int b)
{
    return a + b;
}
CF_TASK(int, bench_add, int, int);

void cf__bench_cf_failed(const char *what, int rc)
{
    cf__bench_die("%s: %s (%s)", what, cf_strerror(rc), cf_last_error());
}

cf_future **cf__bench_cf_submit_pending(cf_executor *ex, size_t n, double *bytes_per_future,
                                        double *ns_per_submit)
{
    cf_future **fs = cf__bench_xcalloc(n, sizeof *fs);
    memset(fs, 0xa5, n * sizeof *fs);
    int64_t rss_before = cf__bench_rss_bytes();
    int64_t start = cf__bench_now_ns();
    cf__bench_cf_submit_tiny(ex, n, fs);
    int64_t elapsed = cf__bench_now_ns() - start;
    int64_t rss_after = cf__bench_rss_bytes();
    if (rss_before < 0 || rss_after < 0)
        cf__bench_die("cannot read /proc/self/statm");
    *bytes_per_future = (double)(rss_after - rss_before) / (double)n;
    *ns_per_submit = (double)elapsed / (double)n;
    return fs;
}

cf_executor *cf__bench_cf_pool(bool processes, unsigned workers)
{
    cf_executor *ex;
    int rc = processes
                 ? cf_process_pool_new(&ex, &(cf_process_pool_options){.max_workers = workers})
                 : cf_thread_pool_new(&ex, &(cf_thread_pool_options){
                                               .max_workers = workers,
                                               .thread_name_prefix = "bench"});
    if (rc != 0)
        cf__bench_cf_failed(processes ? "cf_process_pool_new" : "cf_thread_pool_new", rc);
    return ex;
}

static int task_input(size_t i)
{
    return (int)(i & 0xfffff);
}

/* Take f's result, check it is input + 1, release f. */
static void take_result(cf_future *f, int input)
{
    int r;
    int rc = cf_future_result(f, &r, CF_FOREVER);
    if (rc != 0)
        cf__bench_cf_failed("cf_future_result", rc);
    if (r != input + 1)
        cf__bench_die("cfutures task: got %d, want %d", r, input + 1);
    cf_future_release(f);
}

void cf__bench_cf_submit_tiny(cf_executor *ex, size_t n, cf_future **fs)
{
    for (size_t i = 0; i < n; i++) {
        int rc = cf_submit(&fs[i], ex, bench_add, task_input(i), 1);
        if (rc != 0)
            cf__bench_cf_failed("cf_submit", rc);
    }
}

void cf__bench_cf_take_tiny(size_t n, cf_future **fs)
{
    for (size_t i = 0; i < n; i++)
        take_result(fs[i], task_input(i));
}

cf__bench_cost cf__bench_cf_tiny(cf_executor *ex, size_t n, cf_future **fs)
{
    cf__bench_cost start = cf__bench_cost_start();
    cf__bench_cf_submit_tiny(ex, n, fs);
    cf__bench_cf_take_tiny(n, fs);
    return cf__bench_cost_since(start);
}

void cf__bench_cf_roundtrip(void *ex, size_t i)
{
    cf_future *f;
    int rc = cf_submit(&f, (cf_executor *)ex, bench_add, task_input(i), 1);
    if (rc != 0)
        cf__bench_cf_failed("cf_submit", rc);
    take_result(f, task_input(i));
}

const cf__bench_target cf__bench_no_target = {CF__BENCH_NO_TARGET, 0};

const char *cf__bench_plural(unsigned n)
{
    return n == 1 ? "" : "s";
}

void cf__bench_progress_run(const char *section, const char *table, unsigned run,
                            unsigned runs)
{
    if (run == 0)
        cf__bench_progress("%s: %s: warm-up run", section, table);
    else
        cf__bench_progress("%s: %s: run %u/%u", section, table, run, runs);
}
