/* bench_kernels.h: the element functions of the map and scaling workloads,
 * inline so that the OpenMP loops (bench_omp.c, built with -fopenmp) and
 * the cfutures tasks (bench_map.c, bench_scaling.c) run the very same code. */
#ifndef CF_BENCH_KERNELS_H
#define CF_BENCH_KERNELS_H

#include <math.h>

/* Iterations of x = sin(x) + 1 per element of the CPU-bound map. */
#define CF_BENCH_SIN_ROUNDS 20

/* The CPU-bound element: CF_BENCH_SIN_ROUNDS rounds of x = sin(x) + 1. */
static inline double cf__bench_sin_rounds(double x)
{
    for (int k = 0; k < CF_BENCH_SIN_ROUNDS; k++)
        x = sin(x) + 1;
    return x;
}

/* The near-empty element. */
static inline int cf__bench_increment(int x)
{
    return x + 1;
}

/* The input of element i of the CPU-bound map. */
static inline double cf__bench_sin_input(size_t i)
{
    return (double)(i % 1000) * 1e-3;
}

#endif
