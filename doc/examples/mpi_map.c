/* mpi_map.c: cfutures on MPI ranks (doc/mpi.md).
 *
 *     mpiexec -n 3 ./mpi_map          # rank 0 submits, ranks 1 and 2 serve
 *
 * Every rank runs this main. cf_mpi_init gives rank 0 an executor; on the
 * other ranks it serves rank 0's calls and returns CF_MPI_WORKER when rank 0
 * is done. The same declared tasks run there, in each rank's own process
 * pool.
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>

#include <cfutures.h>
#include <cfutures/mpi.h>

static double integrand(double x) { return 4.0 / (1.0 + x * x); }
CF_TASK(double, integrand, double);

int main(int argc, char **argv)
{
    cf_executor *ex;
    int rc = cf_mpi_init(&argc, &argv, NULL, &ex);
    if (rc == CF_MPI_WORKER) /* this rank served rank 0's calls; it is done */
        return cf_mpi_finalize() == 0 ? 0 : 1;
    if (rc != 0) {
        fprintf(stderr, "cf_mpi_init: %s\n", cf_last_error());
        return 1;
    }

    /* One call... */
    cf_future *f;
    double y = 0;
    if (cf_submit(&f, ex, integrand, 0.5) != 0 || cf_future_result(f, &y, 60) != 0) {
        fprintf(stderr, "integrand: %s\n", cf_last_error());
        return 1;
    }
    cf_future_release(f);

    /* ...and a map whose chunks go to the ranks: pi by the midpoint rule. */
    enum { N = 100000 };
    static double x[N], fx[N];
    for (int i = 0; i < N; i++)
        x[i] = (i + 0.5) / N;
    if (cf_map(ex, integrand, NULL, N, fx, x) != 0) {
        fprintf(stderr, "map: %s\n", cf_last_error());
        return 1;
    }
    double pi = 0;
    for (int i = 0; i < N; i++)
        pi += fx[i] / N;
    printf("f(0.5) = %.4f; pi ~ %.10f on %zu worker ranks\n", y, pi, cf_mpi_ranks(ex));

    cf_executor_free(ex);
    rc = cf_mpi_finalize();
    return rc == 0 && fabs(pi - M_PI) < 1e-6 ? 0 : 1;
}
