/* bench_cf.h: what every section shares: the cfutures side, measured the
 * same way everywhere (the tiny task, submitting N of them and taking every
 * result, one serial round trip, failing loudly on any error: a benchmark's
 * figures are worthless after an unexpected one), and the tables' small
 * helpers (progress line, plural, no target). */
#ifndef CF_BENCH_CF_H
#define CF_BENCH_CF_H

#include <cfutures.h>
#include <stddef.h>

#include "bench_report.h"
#include "bench_stats.h"

/* Print what failed, with cfutures' message, and exit(1). */
_Noreturn void cf__bench_cf_failed(const char *what, int rc);

/* A process pool or a thread pool (threads named "bench_<n>") of `workers`
 * workers, or exit(1) saying why. */
cf_executor *cf__bench_cf_pool(bool processes, unsigned workers);

/* Submit n tiny tasks (add(int, int)) to ex, then take and check every
 * result. fs has room for n futures. Returns the elapsed and CPU time. */
cf__bench_cost cf__bench_cf_tiny(cf_executor *ex, size_t n, cf_future **fs);

/* Submit n tiny tasks that stay pending (the caller holds ex's workers
 * busy) into a new array (free it after cf__bench_cf_take_tiny), and
 * measure the RSS growth per future and the time per submit. The array is
 * made resident before the first reading, so only the futures count. */
cf_future **cf__bench_cf_submit_pending(cf_executor *ex, size_t n, double *bytes_per_future,
                                        double *ns_per_submit);

/* The two halves of cf__bench_cf_tiny: submit n tiny tasks into fs[0..n);
 * then take, check and release each of their results. */
void cf__bench_cf_submit_tiny(cf_executor *ex, size_t n, cf_future **fs);
void cf__bench_cf_take_tiny(size_t n, cf_future **fs);

/* One serial round trip on the executor `ex` (a cf_executor *): submit one
 * tiny task and wait for its checked result. For cf__bench_serial(). */
void cf__bench_cf_roundtrip(void *ex, size_t i);

/* "" for 1, "s" otherwise: "2 workers", "1 worker". */
const char *cf__bench_plural(unsigned n);

/* A figure without a target. */
extern const cf__bench_target cf__bench_no_target;

/* The tables' progress line: "<section>: <table>: warm-up run" or
 * "...: run i/n". */
void cf__bench_progress_run(const char *section, const char *table, unsigned run,
                            unsigned runs);

#endif
