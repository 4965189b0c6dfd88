/* shared_memory_priv.h: shared memory files, for cf_shared_alloc and for the
 * library's own working memory shared with worker processes (private). */
#ifndef CF_SHARED_MEMORY_PRIV_H
#define CF_SHARED_MEMORY_PRIV_H

#include <stdbool.h>
#include <stddef.h>

/* A zero-filled anonymous shared-memory file (memfd, close-on-exec) of
 * `size` bytes, mapped shared at *base; *fd is the file. Not registered
 * with cf_shared_alloc's blocks. Returns 0 or a negative code with
 * cf_last_error() set (CF_EINVAL for size 0, -ENOMEM, -EMFILE, ...). */
int cf__shm_create(size_t size, const char *name, int *fd, void **base);

/* Unmap and close what cf__shm_create made. */
void cf__shm_destroy(int fd, void *base, size_t size);

/* Whether [p, p + len) lies inside one live cf_shared_alloc block; if so,
 * *fd is its file and *offset the position of p in it. The fd stays open
 * until cf_shared_free of that block: a caller using it must keep the
 * block alive (a map does, since it uses the memory). */
bool cf__shared_find(const void *p, size_t len, int *fd, size_t *offset);

#endif
