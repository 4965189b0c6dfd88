/* cfutures/mpi.h: an executor whose workers are MPI ranks (libcfutures-mpi,
 * pkg-config cfutures-mpi; built by configure --with-mpi).
 *
 *     int main(int argc, char **argv)
 *     {
 *         cf_executor *ex;
 *         int rc = cf_mpi_init(&argc, &argv, NULL, &ex);
 *         if (rc == CF_MPI_WORKER)          // this rank served; now done
 *             return cf_mpi_finalize() == 0 ? 0 : 1;
 *         if (rc != 0) { fprintf(stderr, "%s\n", cf_last_error()); return 1; }
 *         ... cf_submit(&f, ex, task, ...), cf_map(ex, ...) ...
 *         cf_executor_free(ex);
 *         return cf_mpi_finalize() == 0 ? 0 : 1;
 *     }
 *
 * Two ways to get ranks (doc/mpi.md):
 * - SPMD: `mpiexec -n N ./app`. Every rank calls cf_mpi_init; the root
 *   (options.root, default 0) gets the executor, the other N-1 ranks serve
 *   its calls inside cf_mpi_init until the root's executor shuts down, and
 *   then return CF_MPI_WORKER so that main can finalize and exit.
 * - Spawn: with options.spawn_workers > 0, the calling process gets an
 *   executor that starts that many worker ranks with MPI_Comm_spawn of its
 *   own executable (/proc/self/exe, with the same arguments), at the first
 *   submit or at once with options.spawn_eager. The spawned processes run
 *   main from the start: their cf_mpi_init serves and returns CF_MPI_WORKER.
 *
 * Every rank runs the same binary. Each worker rank says hello with a digest
 * of its task registry (names, types, struct sizes, layouts); a rank whose
 * digest differs from the root's is refused, and the executor is then broken
 * (CF_EBROKEN, cf_last_error() names the rank and host).
 *
 * Each worker rank runs its calls in a local process pool
 * (cf_process_pool_new), so a task that crashes fails only its own future
 * with CF_ECRASHED, whose error names the rank and host; time limits and
 * cancelling running calls work as on a process pool. A rank that dies or
 * stops answering is declared lost after options.heartbeat_timeout seconds
 * without a word from it: its calls fail with CF_EBROKEN naming the rank and
 * host, and the executor is broken. Arguments and results travel as on a
 * process pool (doc/wire-format.md): raw pointers are refused
 * (CF_EUNSUPPORTED). A message larger than options.max_message_size fails
 * its call with CF_ETOOBIG.
 *
 * Threads: the executor makes every MPI call from its own manager thread
 * (MPI is initialised with MPI_THREAD_SERIALIZED at least); the application
 * must not call MPI itself while an MPI executor exists, except from before
 * cf_mpi_init and after cf_executor_free.
 */
#ifndef CFUTURES_MPI_H
#define CFUTURES_MPI_H

#include <stdint.h>

#include "../cfutures.h"

/* What cf_mpi_init returns on a rank that served as a worker. */
#define CF_MPI_WORKER 1

typedef struct cf_mpi_options {
    /* SPMD: the rank of MPI_COMM_WORLD that gets the executor. Default 0. */
    int root;
    /* Spawn mode: the number of worker ranks to start (> 0 selects spawn
     * mode); 0: SPMD mode. */
    size_t spawn_workers;
    /* Spawn mode: start the workers inside cf_mpi_init rather than at the
     * first submit. */
    bool spawn_eager;
    /* Processes in each worker rank's local pool; 0: the CPUs of its host. */
    size_t workers_per_rank;
    /* Calls in flight per worker rank (sent, not yet answered); 0: 64 per
     * process of its pool. Fewer balance long calls better across ranks;
     * more give tiny calls more throughput. */
    size_t calls_per_rank;
    /* Default time limit of each call (as cf_process_pool_options); 0: none. */
    double task_timeout;
    /* Seconds without any message from a rank (they send one at least every
     * heartbeat_timeout / 8) before it is declared lost. 0: 10 seconds. */
    double heartbeat_timeout;
    /* Largest message in bytes: one call, one answer, or one chunk of a map.
     * 0: 64 MiB; at most 2 GiB - 1 (MPI counts are int). */
    uint32_t max_message_size;
} cf_mpi_options;

CF_BEGIN_DECLS

/* Initialise MPI (unless the application did) and take this process's part:
 * - a process started by a spawn-mode executor: serve it until it shuts
 *   down, then return CF_MPI_WORKER (*out NULL);
 * - spawn mode (opts->spawn_workers > 0): *out gets a spawn executor; 0;
 * - SPMD: on the root rank *out gets the executor over the other ranks (0);
 *   on any other rank, serve the root until it shuts down, then return
 *   CF_MPI_WORKER (*out NULL). Every rank of MPI_COMM_WORLD must call it.
 * With one rank and no spawn, the executor has no workers: submits fail
 * with CF_EBROKEN.
 * argc and argv are passed to MPI_Init_thread (NULL allowed); spawned
 * workers get the same arguments. opts may be NULL; the root's options
 * (workers_per_rank, task_timeout, heartbeat_timeout, max_message_size)
 * apply to every worker rank.
 * Errors (*out NULL): CF_EINVAL (NULL out, a root outside the world, a NaN
 * or negative timeout, max_message_size over 2 GiB - 1, a second executor
 * in SPMD mode), CF_EUNSUPPORTED (MPI offers less than
 * MPI_THREAD_SERIALIZED), CF_EBROKEN (on a worker rank: the root refused it,
 * another build; or the root was lost), -ENOMEM, and CF_ECRASHED (MPI
 * failed; cf_last_error() says how). */
CF_EXTERN int cf_mpi_init(int *argc, char ***argv, const cf_mpi_options *opts, cf_executor **out);

/* Finalise MPI after every MPI executor of this process is freed (and only
 * if cf_mpi_init initialised it). When a rank was lost, MPI_Finalize could
 * hang on it (Open MPI 4.1 has no fault tolerance), so it is skipped and
 * CF_EBROKEN returned: the process should then exit (mpirun reports that it
 * did not finalise). Idempotent.
 * Errors: CF_ESTATE (an MPI executor still exists), CF_EBROKEN. */
CF_EXTERN int cf_mpi_finalize(void);

/* The number of worker ranks of an MPI executor (its max_workers is the
 * sum of their pools' processes). 0 for NULL or another executor. */
CF_EXTERN size_t cf_mpi_ranks(const cf_executor *ex);

CF_END_DECLS

#endif
