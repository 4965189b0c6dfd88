/* shared_memory.c: cf_shared_alloc's blocks, and shared-memory files for the
 * library's own use.
 *
 * Design notes
 * - Each block is one memfd, sized up to whole pages and mapped MAP_SHARED;
 *   the fd stays open so that a map can hand it to process-pool workers
 *   (SCM_RIGHTS) and they can map the same pages.
 * - The registry of live blocks is an array sorted by address, under one
 *   mutex; lookups (once per array per map) are binary searches. The mutex
 *   is held across fork() (pthread_atfork), so a child never inherits it
 *   locked by a thread that does not exist there.
 * - A child forked after an allocation inherits the mapping, the fd and the
 *   registry entry: cf_shared_free works there too, on its own copies.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cfutures.h>

#include "alloc.h"
#include "error_priv.h"
#include "shared_memory_priv.h"
#include "checked_size.h"

typedef struct cf__shm_block {
    char *base;
    size_t size;   /* asked for */
    size_t mapped; /* whole pages */
    int fd;
} cf__shm_block;

static pthread_mutex_t cf__shm_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t cf__shm_once = PTHREAD_ONCE_INIT;
static cf__shm_block *cf__shm_blocks; /* sorted by base */
static size_t cf__shm_count, cf__shm_cap;

static void cf__shm_lock(void)
{
    pthread_mutex_lock(&cf__shm_mu);
}

static void cf__shm_unlock(void)
{
    pthread_mutex_unlock(&cf__shm_mu);
}

static void cf__shm_setup(void)
{
    pthread_atfork(cf__shm_lock, cf__shm_unlock, cf__shm_unlock);
}

static size_t cf__page_round(size_t size)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t rounded;
    return cf__size_align_up(size, page, &rounded) ? rounded : 0;
}

int cf__shm_create(size_t size, const char *name, int *fd, void **base)
{
    size_t mapped = cf__page_round(size);
    if (size == 0 || mapped == 0 || mapped > (size_t)INT64_MAX)
        return cf__fail(CF_EINVAL, "shared memory: cannot make a block of %zu bytes", size);
    int f = memfd_create(name, MFD_CLOEXEC);
    if (f < 0) {
        int err = errno;
        return cf__fail(-err, "shared memory: memfd_create: %s", cf_strerror(-err));
    }
    int rc;
    do
        rc = ftruncate(f, (off_t)mapped);
    while (rc != 0 && errno == EINTR);
    if (rc != 0) {
        int err = errno;
        close(f);
        return cf__fail(err == EFBIG || err == EINVAL ? -ENOMEM : -err,
                        "shared memory: cannot size a block of %zu bytes: %s", size,
                        cf_strerror(-err));
    }
    void *p = mmap(NULL, mapped, PROT_READ | PROT_WRITE, MAP_SHARED, f, 0);
    if (p == MAP_FAILED) {
        int err = errno;
        close(f);
        return cf__fail(-err, "shared memory: cannot map %zu bytes: %s", size, cf_strerror(-err));
    }
    *fd = f;
    *base = p;
    return 0;
}

void cf__shm_destroy(int fd, void *base, size_t size)
{
    if (base != NULL)
        munmap(base, cf__page_round(size));
    if (fd >= 0)
        close(fd);
}

/* Index of the first block whose base is above p. Lock held. */
static size_t cf__shm_upper(const void *p)
{
    size_t lo = 0, hi = cf__shm_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if ((uintptr_t)cf__shm_blocks[mid].base <= (uintptr_t)p)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The block containing p, or NULL. Lock held. */
static cf__shm_block *cf__shm_containing(const void *p)
{
    size_t at = cf__shm_upper(p);
    if (at == 0)
        return NULL;
    cf__shm_block *b = &cf__shm_blocks[at - 1];
    return (uintptr_t)p - (uintptr_t)b->base < b->size ? b : NULL;
}

/* Fail an allocation as malloc does: NULL, with errno set (and the message). */
static void *cf__shm_alloc_failed(int code)
{
    errno = code == -EMFILE || code == -ENFILE ? -code : code == CF_EINVAL ? EINVAL : ENOMEM;
    return NULL;
}

void *cf_shared_alloc(size_t size)
{
    pthread_once(&cf__shm_once, cf__shm_setup);
    int fd;
    void *base;
    int rc = cf__shm_create(size, "cfutures-shared", &fd, &base);
    if (rc != 0)
        return cf__shm_alloc_failed(rc);
    cf__shm_lock();
    if (cf__shm_count == cf__shm_cap) {
        size_t cap = cf__shm_cap > 0 ? 2 * cf__shm_cap : 16;
        cf__shm_block *blocks = cf__realloc(cf__shm_blocks, cap * sizeof *blocks);
        if (blocks == NULL) {
            cf__shm_unlock();
            cf__shm_destroy(fd, base, size);
            return cf__shm_alloc_failed(
                cf__fail(-ENOMEM, "cf_shared_alloc: no memory to record the block"));
        }
        cf__shm_blocks = blocks;
        cf__shm_cap = cap;
    }
    size_t at = cf__shm_upper(base);
    memmove(&cf__shm_blocks[at + 1], &cf__shm_blocks[at],
            (cf__shm_count - at) * sizeof *cf__shm_blocks);
    cf__shm_blocks[at] = (cf__shm_block){base, size, cf__page_round(size), fd};
    cf__shm_count++;
    cf__shm_unlock();
    return base;
}

int cf_shared_free(void *p)
{
    if (p == NULL)
        return 0;
    cf__shm_lock();
    cf__shm_block *b = cf__shm_containing(p);
    if (b == NULL || b->base != p) {
        cf__shm_unlock();
        return cf__fail(CF_EINVAL, "cf_shared_free: %p is not a block from cf_shared_alloc", p);
    }
    cf__shm_block gone = *b;
    size_t at = (size_t)(b - cf__shm_blocks);
    memmove(b, b + 1, (cf__shm_count - at - 1) * sizeof *b);
    cf__shm_count--;
    if (cf__shm_count == 0) {
        cf__free(cf__shm_blocks);
        cf__shm_blocks = NULL;
        cf__shm_cap = 0;
    }
    cf__shm_unlock();
    cf__shm_destroy(gone.fd, gone.base, gone.size);
    return 0;
}

size_t cf_shared_size(const void *p)
{
    cf__shm_lock();
    cf__shm_block *b = cf__shm_containing(p);
    size_t size = b != NULL ? b->size : 0;
    cf__shm_unlock();
    return size;
}

bool cf__shared_find(const void *p, size_t len, int *fd, size_t *offset)
{
    cf__shm_lock();
    cf__shm_block *b = cf__shm_containing(p);
    bool inside = b != NULL && len <= b->size - (size_t)((uintptr_t)p - (uintptr_t)b->base);
    if (inside) {
        *fd = b->fd;
        *offset = (size_t)((uintptr_t)p - (uintptr_t)b->base);
    }
    cf__shm_unlock();
    return inside;
}
