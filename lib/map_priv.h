/* map_priv.h: how a map's chunks run, in this process or in a worker
 * process (private; map.c drives them, map_run.c runs the elements,
 * map_chunk.c carries a chunk to a worker process and back).
 */
#ifndef CF_MAP_PRIV_H
#define CF_MAP_PRIV_H

#include <stdatomic.h>
#include <stdint.h>

#include <cfutures.h>

#include "frame.h"
#include "wire.h"

/* An element's status before it has run: positive, unlike any error code,
 * and the same in each byte, so that a memset of 0x7f makes it. Once run: 0,
 * or its (negative) error code. */
#define CF__MAP_NOT_RUN 0x7f7f7f7f

/* A chunk's elements, as the process running them sees them. */
typedef struct cf__map_run {
    const cf_task *task;
    size_t count;                           /* elements, in order */
    const char *in[CF_TASK_MAX_PARAMS];     /* argument k of element 0 */
    size_t in_stride[CF_TASK_MAX_PARAMS];   /* bytes between elements' argument k */
    char *out;                              /* result of element 0; NULL: dropped */
    size_t out_stride;
    int32_t *status;                        /* count statuses, CF__MAP_NOT_RUN before */
    _Atomic uint32_t *stop;                 /* nonzero: start no more elements */
    int64_t deadline;                       /* start no element after it (CF__NO_DEADLINE) */
    bool keep_going;                        /* false: stop (and raise *stop) at a failure */
} cf__map_run;

/* How a run went. */
typedef struct cf__map_ran {
    size_t failed;        /* elements that failed */
    size_t first_failed;  /* index (in the chunk) of the first, or SIZE_MAX */
    int detail;           /* the code it gave cf_task_fail */
    char *message;        /* its message (alloc.h; the caller frees), or NULL */
} cf__map_ran;

/* Run the elements in order in the calling thread, writing each status
 * after the element returns (0, or CF_ETASK for an element that called
 * cf_task_fail), and CF__MAP_NOT_RUN for those it did not run when stopped
 * early. The caller sets every status to CF__MAP_NOT_RUN beforehand where a
 * crash must be told apart: then the first element still CF__MAP_NOT_RUN
 * after the process died is the one that was running. */
void cf__map_run_elements(const cf__map_run *run, cf__map_ran *ran);

/* Most descriptors a chunk carries: one per input array, results,
 * statuses and the stop word. */
#define CF__MAP_MAX_FDS (CF_TASK_MAX_PARAMS + 3)

struct cf__map_job;
struct cf__map_slot;

/* A chunk as its map (map.c) submits it: one future of cf__map_chunk_task,
 * whose argument is a pointer to this. */
typedef struct cf__map_chunk {
    cf__map_run run;           /* the elements, for an executor sharing memory */
    cf__wire_chunk wire;       /* the same, for a process pool */
    int fds[CF__MAP_MAX_FDS];  /* the files wire's references name (not owned) */
    struct cf__map_job *job;
    struct cf__map_slot *slot;
    cf_future *future;         /* the job's reference while submitted */
    size_t begin, count;       /* the map's elements [begin, begin + count) */
} cf__map_chunk;

/* The task a map submits once per chunk. Its one parameter is a pointer to
 * the parent's chunk (map.c). An executor that shares memory runs it like
 * any task; a process pool sends it as a CHUNK message instead
 * (cf__map_chunk_encode), and answers come back as for any call. */
extern const cf_task cf__map_chunk_task;

/* Process pools: encode the chunk behind `args` (the argument block of a
 * future of cf__map_chunk_task) as a CHUNK frame with its descriptors.
 * Errors: as cf__wire_encode_chunk. */
int cf__map_chunk_encode(cf__frame_out *out, uint64_t id, const void *args);

/* The name of the task a chunk runs (for messages about the chunk's call),
 * from the argument block of a future of cf__map_chunk_task. */
const char *cf__map_chunk_task_name(const void *args);

/* Worker processes: map the chunk's arrays from fds (chunk->nfds of them,
 * still owned by the caller), run its elements, unmap. Returns 0 with *ran
 * filled, or an error (the arrays could not be mapped, a reference lies
 * outside its file: CF_EDECODE) with nothing run. */
int cf__map_chunk_serve(const cf__wire_chunk *chunk, const int *fds, cf__map_ran *ran);

#endif
