/* bench_omp.h: the OpenMP peer of the map workloads: a `#pragma omp
 * parallel for` over the same arrays and the same element function
 * (bench_kernels.h). Built without OpenMP, cf__bench_omp_available() says
 * why and the other functions must not be called. */
#ifndef CF_BENCH_OMP_H
#define CF_BENCH_OMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* True when the bench was built with OpenMP; *detail gets its version
 * ("OpenMP 4.5 (201511)") or the reason it is missing. */
bool cf__bench_omp_available(const char **detail);

/* out[i] = cf__bench_sin_rounds(in[i]) for i in [0, n), on `threads`
 * threads, static schedule. Returns the elapsed nanoseconds. */
int64_t cf__bench_omp_sin(const double *in, double *out, size_t n, unsigned threads);

#endif
