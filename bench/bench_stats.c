/* bench_stats.c: sample series, median/min/max, clocks and the RSS probe. */
#include "config.h"

#include "bench_stats.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

void cf__bench_series_add(cf__bench_series *s, double v)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 8;
        double *grown = realloc(s->samples, cap * sizeof *grown);
        if (!grown)
            cf__bench_die("out of memory");
        s->samples = grown;
        s->cap = cap;
    }
    s->samples[s->n++] = v;
}

void cf__bench_series_free(cf__bench_series *s)
{
    free(s->samples);
    *s = (cf__bench_series){0};
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

cf__bench_summary cf__bench_summarize(const double *samples, size_t n)
{
    cf__bench_summary sum = {0};
    if (n == 0)
        return sum;
    double *sorted = cf__bench_xcalloc(n, sizeof *sorted);
    memcpy(sorted, samples, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, compare_doubles);
    sum.n = n;
    sum.min = sorted[0];
    sum.max = sorted[n - 1];
    sum.median = n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    free(sorted);
    return sum;
}

int64_t cf__bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

cf__bench_cost cf__bench_serial(size_t m, int64_t idle_ns, void (*one)(void *ctx, size_t i),
                                void *ctx)
{
    cf__bench_cost start = cf__bench_cost_start();
    if (idle_ns <= 0) {
        for (size_t i = 0; i < m; i++)
            one(ctx, i);
        return cf__bench_cost_since(start);
    }
    int64_t busy_ns = 0;
    for (size_t i = 0; i < m; i++) {
        cf__bench_sleep_ns(idle_ns);
        int64_t t0 = cf__bench_now_ns();
        one(ctx, i);
        busy_ns += cf__bench_now_ns() - t0;
    }
    return (cf__bench_cost){busy_ns, cf__bench_cpu_ns() - start.cpu_ns};
}

void cf__bench_sleep_ns(int64_t ns)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    int64_t end = (int64_t)until.tv_sec * 1000000000 + until.tv_nsec + ns;
    until.tv_sec = end / 1000000000;
    until.tv_nsec = end % 1000000000;
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL) == EINTR) {
    }
}

int64_t cf__bench_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

cf__bench_cost cf__bench_cost_start(void)
{
    return (cf__bench_cost){cf__bench_now_ns(), cf__bench_cpu_ns()};
}

cf__bench_cost cf__bench_cost_since(cf__bench_cost start)
{
    return (cf__bench_cost){cf__bench_now_ns() - start.wall_ns,
                            cf__bench_cpu_ns() - start.cpu_ns};
}

int64_t cf__bench_rss_bytes(void)
{
    int fd;
    do
        fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    while (fd < 0 && errno == EINTR);
    if (fd < 0)
        return -1;
    char buf[128];
    ssize_t len;
    do
        len = read(fd, buf, sizeof buf - 1);
    while (len < 0 && errno == EINTR);
    close(fd);
    if (len <= 0)
        return -1;
    buf[len] = '\0';
    long long size_pages, resident_pages;
    if (sscanf(buf, "%lld %lld", &size_pages, &resident_pages) != 2)
        return -1;
    return (int64_t)resident_pages * sysconf(_SC_PAGESIZE);
}
