/* bench_omp.c: the OpenMP loops beside cfutures' map (bench_omp.h).
 *
 * Design notes: cf-bench is compiled with the compiler's OpenMP flag
 * (configure's AC_OPENMP; see the bench block of Makefile.am), and these are
 * its only OpenMP pragmas, so only these loops start libgomp's threads. Each loop asks for its thread count with a
 * num_threads clause, so runs at different worker counts do not disturb one
 * another; libgomp keeps its threads between loops, as a long-lived program
 * would, and the warm-up run starts them.
 */
#include "config.h"

#include "bench_omp.h"

#include <stdio.h>
#include <time.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "bench_kernels.h"
#include "bench_stats.h"

bool cf__bench_omp_available(const char **detail)
{
#ifdef _OPENMP
    static char text[64];
    /* _OPENMP is the date of the specification: 201511 is 4.5, 201811 5.0. */
    const char *version = _OPENMP >= 202011   ? "5.1"
                          : _OPENMP >= 201811 ? "5.0"
                          : _OPENMP >= 201511 ? "4.5"
                          : _OPENMP >= 201307 ? "4.0"
                                              : "3.x or older";
    snprintf(text, sizeof text, "OpenMP %s (%d)", version, _OPENMP);
    *detail = text;
    return true;
#else
    *detail = "built without OpenMP (configure found no OpenMP flag for this compiler)";
    return false;
#endif
}

int64_t cf__bench_omp_sin(const double *in, double *out, size_t n, unsigned threads)
{
    int64_t start = cf__bench_now_ns();
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(threads)
    for (size_t i = 0; i < n; i++)
        out[i] = cf__bench_sin_rounds(in[i]);
#else
    (void)in, (void)out, (void)n, (void)threads;
#endif
    return cf__bench_now_ns() - start;
}
