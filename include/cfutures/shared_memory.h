/* cfutures/shared_memory.h: memory that other processes can use in place.
 *
 *     double *a = cf_shared_alloc(n * sizeof *a);
 *     ... fill a ...
 *     cf_map(pool, NULL, f, n, a, a);      // workers read and write a itself
 *     cf_shared_free(a);
 *
 * A block from cf_shared_alloc is ordinary memory to the process that made
 * it, backed by an anonymous shared-memory file (memfd). Process pools use
 * it without copying: a map over such arrays hands the workers the file and
 * only describes the chunks. Processes forked after the allocation (any
 * child made with fork()) share the block too: a write by one is seen by
 * the others. Nothing appears in /dev/shm; the memory is returned when the
 * last process that maps it frees it or exits.
 *
 * Each block holds one file descriptor (close-on-exec) in the process that
 * made it, until cf_shared_free: it suits arrays, not many small objects.
 * A process pool created after a block inherits it into its fork server and
 * workers: freeing the block then returns its memory only when that pool
 * ends. All functions are thread-safe.
 */
#ifndef CFUTURES_SHARED_MEMORY_H
#define CFUTURES_SHARED_MEMORY_H

#include "common.h"

CF_BEGIN_DECLS

/* A new zero-filled shared block of `size` bytes (> 0), aligned to the page
 * size. Returns NULL on failure, like malloc, with errno set and
 * cf_last_error() saying why: EINVAL (size 0 or too large), ENOMEM, EMFILE
 * or ENFILE (no file descriptor left). */
CF_EXTERN void *cf_shared_alloc(size_t size);

/* Release a block from cf_shared_alloc in this process (NULL is ignored).
 * Children that share it keep their own mapping until they free it or
 * exit. The block must not be in use by a map still running.
 * Returns 0, or CF_EINVAL when p is not the start of a live block (nothing
 * is freed then). */
CF_EXTERN int cf_shared_free(void *p);

/* The size asked for when the block containing p was allocated, or 0 when
 * p is not inside a live block of this process. */
CF_EXTERN size_t cf_shared_size(const void *p);

CF_END_DECLS

#endif
