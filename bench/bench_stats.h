/* bench_stats.h: samples, their summary (median, min, max), and the timing
 * and memory probes every benchmark section uses. */
#ifndef CF_BENCH_STATS_H
#define CF_BENCH_STATS_H

#include <stddef.h>
#include <stdint.h>

/* The samples of one figure, one per measured run (warm-up runs excluded). */
typedef struct cf__bench_series {
    double *samples;
    size_t n;
    size_t cap;
} cf__bench_series;

typedef struct cf__bench_summary {
    double median; /* the middle sample; the mean of the two middle ones for even n */
    double min;
    double max;
    size_t n;
} cf__bench_summary;

/* Append one sample (exits with a message when out of memory). */
void cf__bench_series_add(cf__bench_series *s, double v);
void cf__bench_series_free(cf__bench_series *s);

/* Summarize n >= 1 samples; the samples are left in their order. */
cf__bench_summary cf__bench_summarize(const double *samples, size_t n);

/* What a piece of work cost: elapsed time, and CPU time of all threads. */
typedef struct cf__bench_cost {
    int64_t wall_ns;
    int64_t cpu_ns;
} cf__bench_cost;

/* The clocks now; pass the result to cf__bench_cost_since(). */
cf__bench_cost cf__bench_cost_start(void);
/* The cost from `start` to now. */
cf__bench_cost cf__bench_cost_since(cf__bench_cost start);

/* Run one(ctx, i) for i in [0, m): m serial operations. With idle_ns > 0,
 * sleep idle_ns before each one and time only the operations (wall_ns is
 * their sum; cpu_ns covers the whole loop, so it includes what the threads
 * burn while the caller sleeps). */
cf__bench_cost cf__bench_serial(size_t m, int64_t idle_ns, void (*one)(void *ctx, size_t i),
                                void *ctx);

/* Sleep `ns` nanoseconds (resumed when a signal interrupts it). */
void cf__bench_sleep_ns(int64_t ns);

/* Nanoseconds on CLOCK_MONOTONIC. */
int64_t cf__bench_now_ns(void);

/* CPU time used by all the threads of this process, in nanoseconds. */
int64_t cf__bench_cpu_ns(void);

/* The resident set size of this process in bytes (/proc/self/statm), or -1. */
int64_t cf__bench_rss_bytes(void);

#endif
