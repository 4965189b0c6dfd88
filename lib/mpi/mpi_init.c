/* mpi_init.c: starting and ending MPI for cfutures' MPI executor, and what
 * its two sides share (locking, clocks, idle waits).
 *
 * Design notes
 * - cf_mpi_init decides the process's part: a process spawned by a spawn
 *   executor (it has a parent communicator) serves its parent; otherwise,
 *   in spawn mode it gets a spawn executor, and in SPMD mode the root gets
 *   an executor over MPI_COMM_WORLD's duplicate and every other rank serves.
 * - MPI is initialised with MPI_THREAD_SERIALIZED: the executors' threads
 *   and the serving rank make their MPI calls under one process-wide lock
 *   (cf__mpi_lock), never at once.
 * - cf_mpi_finalize skips MPI_Finalize after a rank was lost: with Open MPI
 *   4.1 it can hang waiting for the dead rank.
 */
#include "config.h"

#include <errno.h>
#include <sched.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mpi_priv.h"

pthread_mutex_t cf__mpi_lock = PTHREAD_MUTEX_INITIALIZER;
char **cf__mpi_argv;
_Atomic int cf__mpi_live;
_Atomic int cf__mpi_lost;
static bool cf__mpi_we_initialised, cf__mpi_finalised, cf__mpi_spmd_taken;
static MPI_Comm cf__mpi_parent = MPI_COMM_NULL; /* a spawned worker's, after serving */

int64_t cf__mpi_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static char cf__mpi_host[CF__MPI_HOST_MAX];
static pthread_once_t cf__mpi_host_once = PTHREAD_ONCE_INIT;

static void cf__mpi_host_fill(void)
{
    if (gethostname(cf__mpi_host, sizeof cf__mpi_host - 1) != 0)
        snprintf(cf__mpi_host, sizeof cf__mpi_host, "(unknown host)");
}

const char *cf__mpi_hostname(void)
{
    pthread_once(&cf__mpi_host_once, cf__mpi_host_fill);
    return cf__mpi_host;
}

int cf__mpi_cond_init(pthread_cond_t *cond)
{
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    int rc = pthread_cond_init(cond, &a);
    pthread_condattr_destroy(&a);
    return -rc;
}

void cf__mpi_backoff(pthread_cond_t *cond, pthread_mutex_t *mu, int64_t *ns, int64_t max_ns)
{
    /* *ns counts down the spinning rounds (negative values) first: right
     * after some activity the next message usually follows within
     * microseconds, and a timed wait costs the timer slack (50 us) at least. */
    if (*ns <= 0) {
        if (*ns > -CF__MPI_SPIN_ROUNDS) {
            (*ns)--;
            pthread_mutex_unlock(mu);
            sched_yield();
            pthread_mutex_lock(mu);
            return;
        }
        *ns = 1000;
    }
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_nsec += (long)*ns;
    ts.tv_sec += ts.tv_nsec / 1000000000;
    ts.tv_nsec %= 1000000000;
    pthread_cond_timedwait(cond, mu, &ts);
    *ns = *ns * 2 < max_ns ? *ns * 2 : max_ns;
}

int cf__mpi_fail(int code, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return cf__ext_fail(code, buf);
}

/* Options with the defaults filled in, checked. */
static int cf__mpi_options(const cf_mpi_options *in, cf_mpi_options *o)
{
    memset(o, 0, sizeof *o);
    if (in != NULL)
        *o = *in;
    if (isnan(o->task_timeout) || isnan(o->heartbeat_timeout) || o->heartbeat_timeout < 0)
        return cf__mpi_fail(CF_EINVAL, "cf_mpi_init: NaN or negative timeout in the options");
    if (o->heartbeat_timeout == 0)
        o->heartbeat_timeout = 10.0;
    if (o->max_message_size == 0)
        o->max_message_size = 64u << 20;
    if (o->max_message_size > (uint32_t)INT32_MAX || o->max_message_size < 4096)
        return cf__mpi_fail(CF_EINVAL,
                            "cf_mpi_init: max_message_size %u is outside [4096, 2 GiB - 1] "
                            "(MPI counts are int)", o->max_message_size);
    return 0;
}

static int cf__mpi_error(int mpirc, const char *what)
{
    char s[MPI_MAX_ERROR_STRING] = "";
    int len = 0;
    MPI_Error_string(mpirc, s, &len);
    return cf__mpi_fail(CF_ECRASHED, "cf_mpi_init: %s failed: %s", what, s);
}

int cf_mpi_init(int *argc, char ***argv, const cf_mpi_options *opts, cf_executor **out)
{
    if (out == NULL)
        return cf__mpi_fail(CF_EINVAL, "cf_mpi_init: NULL out");
    *out = NULL;
    cf_mpi_options o;
    int rc = cf__mpi_options(opts, &o);
    if (rc != 0)
        return rc;
    int inited = 0, provided = 0;
    MPI_Initialized(&inited);
    if (!inited) {
        int mrc = MPI_Init_thread(argc, argv, MPI_THREAD_SERIALIZED, &provided);
        if (mrc != MPI_SUCCESS)
            return cf__mpi_error(mrc, "MPI_Init_thread");
        cf__mpi_we_initialised = true;
    } else {
        MPI_Query_thread(&provided);
    }
    if (provided < MPI_THREAD_SERIALIZED)
        return cf__mpi_fail(CF_EUNSUPPORTED,
                            "cf_mpi_init: MPI offers thread level %d, less than "
                            "MPI_THREAD_SERIALIZED", provided);
    if (argv != NULL && *argv != NULL && argc != NULL && *argc > 1)
        cf__mpi_argv = *argv + 1;

    MPI_Comm parent = MPI_COMM_NULL;
    MPI_Comm_get_parent(&parent);
    if (parent != MPI_COMM_NULL) { /* started by a spawn executor */
        rc = cf__mpi_serve(parent, 0);
        if (rc == 0)
            cf__mpi_parent = parent;
        return rc == 0 ? CF_MPI_WORKER : rc;
    }
    if (o.spawn_workers > 0)
        return cf__mpi_executor_new(out, &o, MPI_COMM_NULL, NULL, o.spawn_workers);

    int size = 1, rank = 0;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if (o.root < 0 || o.root >= size)
        return cf__mpi_fail(CF_EINVAL, "cf_mpi_init: root %d outside the %d ranks of the world",
                            o.root, size);
    if (cf__mpi_spmd_taken)
        return cf__mpi_fail(CF_EINVAL, "cf_mpi_init: one SPMD executor per run");
    cf__mpi_spmd_taken = true;
    MPI_Comm comm;
    int mrc = MPI_Comm_dup(MPI_COMM_WORLD, &comm);
    if (mrc != MPI_SUCCESS)
        return cf__mpi_error(mrc, "MPI_Comm_dup");
    if (rank != o.root) {
        rc = cf__mpi_serve(comm, o.root);
        if (atomic_load(&cf__mpi_lost) == 0)
            MPI_Comm_free(&comm);
        if (rc != 0)
            return rc;
        return CF_MPI_WORKER;
    }
    int *ranks = calloc((size_t)size, sizeof *ranks);
    if (ranks == NULL)
        return cf__mpi_fail(-ENOMEM, "cf_mpi_init: no memory");
    size_t n = 0;
    for (int r = 0; r < size; r++)
        if (r != o.root)
            ranks[n++] = r;
    rc = cf__mpi_executor_new(out, &o, comm, ranks, n);
    free(ranks);
    if (rc != 0)
        MPI_Comm_free(&comm);
    return rc;
}

int cf_mpi_finalize(void)
{
    if (atomic_load(&cf__mpi_live) != 0)
        return cf__mpi_fail(CF_ESTATE, "cf_mpi_finalize: an MPI executor still exists "
                                       "(cf_executor_free it first)");
    if (cf__mpi_finalised)
        return 0;
    if (atomic_load(&cf__mpi_lost) != 0)
        return cf__mpi_fail(CF_EBROKEN,
                            "cf_mpi_finalize: a rank was lost, so MPI_Finalize (which would "
                            "wait for it) was skipped; exit the process");
    cf__mpi_finalised = true;
    if (cf__mpi_parent != MPI_COMM_NULL)
        MPI_Comm_disconnect(&cf__mpi_parent);
    int fin = 0;
    MPI_Finalized(&fin);
    if (cf__mpi_we_initialised && !fin)
        MPI_Finalize();
    return 0;
}
