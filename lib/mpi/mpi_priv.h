/* mpi_priv.h: what the MPI executor's root side (mpi_executor.c), its
 * worker ranks (mpi_serve.c) and its start-up (mpi_init.c) share (private).
 *
 * Protocol (doc/mpi.md): point-to-point messages on one communicator, the
 * kind of message in its tag:
 *   HELLO    worker -> root   cf__mpi_hello: digest of the task registry, host
 *   WELCOME  root -> worker   cf__mpi_welcome: accepted (settings) or refused
 *   CALLS    root -> worker   records (cf__mpi_rec), each a CALL or a CHUNK
 *   ANSWERS  worker -> root   records, each a RESULT, FAILED or CHUNK_DONE
 *   CANCEL   root -> worker   a uint64_t request id to stop
 *   PING     either way       empty: "still here" when nothing else was sent
 *   SHUTDOWN root -> worker   uint32_t CF__MPI_SHUTDOWN_* flags
 *   BYE      worker -> root   empty: the worker's pool is shut down
 * A record is a cf__mpi_rec header followed by `len` bytes: a wire frame
 * (lib/wire.h) for CALL, RESULT and FAILED; for a CHUNK of a map, one CALL
 * frame per element (its id: the element's index in the chunk); for
 * CHUNK_DONE a cf__mpi_chunk_done and its arrays. Ranks run the same build, so headers travel as
 * their bytes.
 */
#ifndef CF_MPI_PRIV_H
#define CF_MPI_PRIV_H

#include <errno.h>
#include <stdlib.h>
#include <mpi.h>
#include <pthread.h>
#include <stdint.h>

#include <cfutures.h>
#include <cfutures/mpi.h>

#include "extension.h"

enum {
    CF__MPI_TAG_HELLO = 7101,
    CF__MPI_TAG_WELCOME,
    CF__MPI_TAG_CALLS,
    CF__MPI_TAG_ANSWERS,
    CF__MPI_TAG_CANCEL,
    CF__MPI_TAG_PING,
    CF__MPI_TAG_SHUTDOWN,
    CF__MPI_TAG_BYE,
};

enum {
    CF__MPI_REC_CALL = 1,
    CF__MPI_REC_CHUNK = 2,
    CF__MPI_REC_RESULT = 3, /* RESULT or FAILED: the wire frame says which */
    CF__MPI_REC_CHUNK_DONE = 4,
};

#define CF__MPI_MAGIC 0x63664d50u /* "cfMP" */
#define CF__MPI_VERSION 1
#define CF__MPI_HOST_MAX 64

typedef struct cf__mpi_hello {
    uint32_t magic, version;
    uint64_t digest;   /* cf__ext_registry_digest() */
    uint32_t ncpus;    /* CPUs online on its host */
    int32_t pid;
    char host[CF__MPI_HOST_MAX];
} cf__mpi_hello;

typedef struct cf__mpi_welcome {
    int32_t code;      /* 0: accepted; < 0: refused (message says why) */
    uint32_t max_message_size;
    uint64_t workers;  /* local pool size; 0: the host's CPUs */
    double task_timeout;
    double heartbeat_timeout;
    char message[256];
} cf__mpi_welcome;

typedef struct cf__mpi_rec {
    uint32_t kind;     /* CF__MPI_REC_* */
    uint32_t len;      /* bytes after this header */
    uint64_t id;       /* request id */
    double timeout;    /* CALL: the call's limit (0 default, < 0 none);
                          CHUNK: seconds left of the map, 0 none */
    uint32_t flags;    /* CHUNK: 1 to keep going past a failing element */
    uint32_t pad_;
} cf__mpi_rec;

/* CHUNK_DONE: `count` int32 statuses (0, or the element's error code;
 * CF__MPI_NOT_RUN for one that did not run), then count results of the
 * task's result size (when it has one), then msg_len bytes of the first
 * failure's message. */
typedef struct cf__mpi_chunk_done {
    uint32_t count;
    int32_t code;      /* 0, or the local map's error */
    int32_t detail;
    uint32_t msg_len;
    uint32_t result_size;
    uint32_t pad_;
} cf__mpi_chunk_done;

#define CF__MPI_NOT_RUN 0x7f7f7f7f

enum {
    CF__MPI_SHUTDOWN_TERMINATE = 1u << 0, /* stop running calls */
    CF__MPI_SHUTDOWN_LOST = 1u << 1,      /* a rank was lost: skip MPI_Finalize */
};

/* Every MPI call of the library happens with this lock held, so that
 * MPI_THREAD_SERIALIZED suffices whatever threads the executors run. */
extern pthread_mutex_t cf__mpi_lock;

/* Nanoseconds on CLOCK_MONOTONIC. */
int64_t cf__mpi_now(void);

/* This host's name (gethostname), for messages. */
const char *cf__mpi_hostname(void);

/* Idle polling: after activity (the caller resets *ns to 0), first
 * CF__MPI_SPIN_ROUNDS rounds that only yield the CPU; then wait on cond
 * (CLOCK_MONOTONIC, under mu) for 1 us, doubling up to max_ns. */
#define CF__MPI_SPIN_ROUNDS 200
void cf__mpi_backoff(pthread_cond_t *cond, pthread_mutex_t *mu, int64_t *ns, int64_t max_ns);

/* pthread_cond_init on CLOCK_MONOTONIC. */
int cf__mpi_cond_init(pthread_cond_t *cond);

/* Format into cf_last_error() and return code. */
int cf__mpi_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Serve the root at `root` of `comm` until it shuts this rank down (0) or is
 * lost or refuses this rank (CF_EBROKEN). `comm` is MPI_COMM_WORLD's
 * duplicate (SPMD) or the intercommunicator to the parent (spawned). */
int cf__mpi_serve(MPI_Comm comm, int root);

/* Create the root's executor over `nworkers` worker ranks of comm:
 * ranks[i] for worker i. With spawn_workers > 0 and comm MPI_COMM_NULL, the
 * manager spawns them (at the first submit, or at once when eager). The
 * executor owns comm and frees it. */
int cf__mpi_executor_new(cf_executor **out, const cf_mpi_options *opts, MPI_Comm comm,
                         const int *ranks, size_t nworkers);

/* Arguments that spawned workers get (set by cf_mpi_init). */
extern char **cf__mpi_argv;

/* Live MPI executors (cf_mpi_finalize refuses while any), and whether a rank
 * was ever lost (it then skips MPI_Finalize). */
extern _Atomic int cf__mpi_live;
extern _Atomic int cf__mpi_lost;

/* Grow the buffer *buf of *cap bytes (doubling, from 4 KiB) to hold need
 * bytes; -ENOMEM leaves it as it was. */
static inline int cf__mpi_reserve(char **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap > 0 ? *cap : 4096;
    while (n < need)
        n *= 2;
    char *p = realloc(*buf, n);
    if (p == NULL)
        return -ENOMEM;
    *buf = p;
    *cap = n;
    return 0;
}

#endif
