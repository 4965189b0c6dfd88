/* bench_mpi.c: cf-bench-mpi, the MPI executor's benchmark (bench/bench_mpi.sh
 * runs it under mpirun; not part of make check).
 *
 *     mpirun -n 2 bench/cf-bench-mpi [--quick]
 *
 * Rank 0 gets the executor, rank 1 (and any further rank) serves. Measured
 * on rank 0, one line per figure ("name value unit"):
 * - Open MPI's own ping-pong of 16 bytes between ranks 0 and 1 (before the
 *   executor exists, on MPI_COMM_WORLD), as the floor for a round trip;
 * - serial round trip: submit one tiny call, wait for its result, repeat;
 * - tiny-task throughput: submit many tiny calls at once, wait for all;
 * - a map of tiny elements (elements per second);
 * - a CPU-bound map's speedup over running the same elements in rank 0.
 */
#define _GNU_SOURCE
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cfutures.h>
#include <cfutures/mpi.h>

static long square(long x) { return x * x; }
CF_TASK(long, square, long);

/* About `n` thousand rounds of integer mixing: a CPU-bound element. */
static unsigned long burn(unsigned long n)
{
    unsigned long h = n;
    for (unsigned long i = 0; i < n * 1000; i++)
        h = h * 6364136223846793005ul + 1442695040888963407ul;
    return h;
}
CF_TASK(unsigned long, burn, unsigned long);

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    bool quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
    int provided, rank, size;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_SERIALIZED, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (size < 2) {
        if (rank == 0)
            fprintf(stderr, "cf-bench-mpi: run under mpirun -n 2 (or more)\n");
        MPI_Finalize();
        return 2;
    }
    /* Open MPI's ping-pong between ranks 0 and 1. */
    int iters = quick ? 2000 : 20000;
    char buf[16] = {0};
    double pp = 0;
    for (int round = 0; round < 2; round++) { /* the first round warms up */
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = now();
        for (int i = 0; i < iters && rank < 2; i++) {
            if (rank == 0) {
                MPI_Send(buf, 16, MPI_BYTE, 1, 1, MPI_COMM_WORLD);
                MPI_Recv(buf, 16, MPI_BYTE, 1, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            } else {
                MPI_Recv(buf, 16, MPI_BYTE, 0, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
                MPI_Send(buf, 16, MPI_BYTE, 0, 1, MPI_COMM_WORLD);
            }
        }
        pp = (now() - t0) / iters;
    }

    /* MPI was initialised here, so cf_mpi_finalize leaves MPI_Finalize to
     * this program. */
    cf_executor *ex;
    int rc = cf_mpi_init(&argc, &argv, NULL, &ex);
    if (rc == CF_MPI_WORKER) {
        rc = cf_mpi_finalize();
        MPI_Finalize();
        return rc == 0 ? 0 : 1;
    }
    if (rc != 0) {
        fprintf(stderr, "cf_mpi_init: %s\n", cf_last_error());
        return 1;
    }

    /* Serial round trip. */
    int n_rt = quick ? 500 : 5000;
    double *rt = malloc((size_t)n_rt * sizeof *rt);
    for (int i = -100; i < n_rt; i++) {
        cf_future *f;
        long r;
        double t0 = now();
        if (cf_submit(&f, ex, square, 3L) != 0 || cf_future_result(f, &r, 60) != 0) {
            fprintf(stderr, "round trip: %s\n", cf_last_error());
            return 1;
        }
        cf_future_release(f);
        if (i >= 0)
            rt[i] = now() - t0;
    }
    qsort(rt, (size_t)n_rt, sizeof *rt, cmp);
    printf("# cf-bench-mpi: %d ranks (1 root, %d serving), %zu pool processes in all\n", size,
           size - 1, cf_executor_max_workers(ex));
    printf("mpi_pingpong_16B %.2f us\n", pp * 1e6);
    printf("cf_round_trip_median %.2f us\n", rt[n_rt / 2] * 1e6);

    /* Tiny-task throughput: every call a future. */
    int n_tp = quick ? 20000 : 100000;
    cf_future **fs = malloc((size_t)n_tp * sizeof *fs);
    double t0 = now();
    for (int i = 0; i < n_tp; i++)
        if (cf_submit(&fs[i], ex, square, (long)i) != 0) {
            fprintf(stderr, "submit: %s\n", cf_last_error());
            return 1;
        }
    cf_wait(fs, (size_t)n_tp, CF_ALL_COMPLETED, CF_FOREVER, NULL, NULL);
    double tp = n_tp / (now() - t0);
    for (int i = 0; i < n_tp; i++)
        cf_future_release(fs[i]);
    printf("cf_tiny_task_throughput %.0f tasks/s\n", tp);

    /* A map of tiny elements. */
    size_t n_map = quick ? 200000 : 2000000;
    long *in = malloc(n_map * sizeof *in), *out = malloc(n_map * sizeof *out);
    for (size_t i = 0; i < n_map; i++)
        in[i] = (long)i;
    t0 = now();
    if (cf_map(ex, square, NULL, n_map, out, in) != 0) {
        fprintf(stderr, "map: %s\n", cf_last_error());
        return 1;
    }
    printf("cf_map_tiny_throughput %.0f elements/s\n", n_map / (now() - t0));

    /* A CPU-bound map: speedup over rank 0 alone. */
    size_t n_cpu = quick ? 40 : 200;
    unsigned long *ci = malloc(n_cpu * sizeof *ci), *co = malloc(n_cpu * sizeof *co);
    for (size_t i = 0; i < n_cpu; i++)
        ci[i] = 2000; /* a few ms each */
    t0 = now();
    for (size_t i = 0; i < n_cpu; i++)
        co[i] = burn(ci[i]);
    double serial = now() - t0;
    t0 = now();
    if (cf_map(ex, burn, &(cf_map_options){.chunk_size = 1}, n_cpu, co, ci) != 0) {
        fprintf(stderr, "map: %s\n", cf_last_error());
        return 1;
    }
    double par = now() - t0;
    printf("cf_cpu_map_serial %.3f s\n", serial);
    printf("cf_cpu_map_ranks %.3f s\n", par);
    printf("cf_cpu_map_speedup %.2f x\n", serial / par);
    free(rt);
    free(fs);
    free(in);
    free(out);
    free(ci);
    free(co);
    cf_executor_free(ex);
    rc = cf_mpi_finalize();
    MPI_Finalize();
    return rc == 0 ? 0 : 1;
}
