/* map_chunk.c: a map's chunk as a task: run in this process (thread pools),
 * or carried to a worker process as a CHUNK message and run there.
 *
 * Design notes
 * - The parent's chunk (map.c) holds both descriptions: a cf__map_run with
 *   its own pointers, for executors that share memory, and a
 *   cf__wire_chunk with references into shared-memory files, for process
 *   pools. The chunk lives until its future is settled by the map, so the
 *   files stay open for as long as a CHUNK naming them may be (re)sent.
 * - In the worker, each reference is mapped on its own, only the pages the
 *   chunk touches (populated at once: one system call instead of a page
 *   fault per page, which measured 3-4% of a CPU-bound map), and unmapped
 *   when the chunk ends: a worker keeps nothing
 *   of a map between chunks (no mapping, no descriptor), so nothing lingers
 *   after the map, whatever happens to it. Every reference is checked
 *   against its file's size first: touching a page past the end of a file
 *   would kill the worker with SIGBUS.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "clock.h"
#include "error_priv.h"
#include "map_priv.h"

static void cf__map_chunk_call(void *args, void *result)
{
    (void)result;
    cf__map_chunk *c;
    memcpy(&c, args, sizeof c);
    cf__map_ran ran;
    cf__map_run_elements(&c->run, &ran);
    if (ran.failed > 0)
        cf_task_fail(ran.detail, "%s", ran.message != NULL ? ran.message : "the task failed");
    cf__free(ran.message);
}

const cf_task cf__map_chunk_task = {
    .name = "cfutures.map_chunk",
    .fn = (void (*)(void))cf__map_chunk_call,
    .call = cf__map_chunk_call,
    .result = {CF_KIND_VOID, 0},
    .nparams = 1,
    .params = {{CF_KIND_PTR, sizeof(void *)}},
    .offsets = {0},
    .args_size = sizeof(void *),
    .args_align = _Alignof(void *),
    .file = __FILE__,
    .line = __LINE__,
};

int cf__map_chunk_encode(cf__frame_out *out, uint64_t id, const void *args)
{
    const cf__map_chunk *c;
    memcpy(&c, args, sizeof c);
    return cf__wire_encode_chunk(out, id, &c->wire, c->fds);
}

const char *cf__map_chunk_task_name(const void *args)
{
    const cf__map_chunk *c;
    memcpy(&c, args, sizeof c);
    return c->run.task->name;
}

/* ---- In the worker ------------------------------------------------------------ */

typedef struct cf__mapping {
    void *base;
    size_t len;
} cf__mapping;

/* Map the `span` bytes at ref->offset of its file; *at gets their address. */
static int cf__map_ref(const cf__wire_ref *ref, const int *fds, const off_t *sizes, size_t span,
                       int prot, cf__mapping *m, char **at, const char *what)
{
    m->base = NULL;
    uint64_t end = ref->offset + span;
    if (end < ref->offset || end > (uint64_t)sizes[ref->fd])
        return cf__fail(CF_EDECODE,
                        "CHUNK: the %s (%zu bytes at offset %" PRIu64 ") lie outside their "
                        "%lld-byte file",
                        what, span, ref->offset, (long long)sizes[ref->fd]);
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    uint64_t start = ref->offset / page * page;
    m->len = (size_t)(end - start);
    m->base = mmap(NULL, m->len, prot, MAP_SHARED | MAP_POPULATE, fds[ref->fd], (off_t)start);
    if (m->base == MAP_FAILED) {
        int err = errno;
        m->base = NULL;
        return cf__fail(-err, "CHUNK: cannot map the %s: %s", what, cf_strerror(-err));
    }
    *at = (char *)m->base + (ref->offset - start);
    return 0;
}

/* Bytes from element 0's first byte to element count-1's last. */
static size_t cf__span(uint64_t count, uint64_t stride, size_t size)
{
    return (size_t)((count - 1) * stride + size);
}

int cf__map_chunk_serve(const cf__wire_chunk *c, const int *fds, cf__map_ran *ran)
{
    const cf_task *t = c->task;
    off_t sizes[CF__MAP_MAX_FDS];
    if (c->nfds > CF__MAP_MAX_FDS)
        return cf__fail(CF_EDECODE, "CHUNK: %" PRIu32 " descriptors, at most %d expected",
                        c->nfds, CF__MAP_MAX_FDS);
    if (c->status.offset % sizeof(int32_t) != 0 || c->stop.offset % sizeof(uint32_t) != 0)
        return cf__fail(CF_EDECODE, "CHUNK: misaligned statuses or stop word");
    for (uint32_t i = 0; i < c->nfds; i++) {
        struct stat st;
        if (fstat(fds[i], &st) != 0)
            return cf__fail(-errno, "CHUNK: descriptor %u: %s", i, cf_strerror(-errno));
        sizes[i] = st.st_size;
    }
    /* The count must be representable at every stride it is used with. */
    if (c->count > SIZE_MAX / (c->out.stride + t->args_size + 8))
        return cf__fail(CF_EDECODE, "CHUNK: %" PRIu64 " elements is too many", c->count);
    cf__map_run run = {
        .task = t,
        .count = (size_t)c->count,
        .keep_going = (c->flags & CF__WIRE_CHUNK_KEEP_GOING) != 0,
        .deadline = c->deadline != 0 ? c->deadline : CF__NO_DEADLINE,
    };
    cf__mapping maps[CF_TASK_MAX_PARAMS + 3];
    size_t nmaps = 0;
    int rc = 0;
    for (uint32_t k = 0; k < t->nparams && rc == 0; k++) {
        if (c->flags & CF__WIRE_CHUNK_INLINE) {
            run.in[k] = (const char *)c->blocks + t->offsets[k];
            run.in_stride[k] = t->args_size;
            continue;
        }
        char *at;
        if (c->in[k].stride < t->params[k].size && c->count > 1)
            rc = cf__fail(CF_EDECODE, "CHUNK: argument %u's stride is smaller than it", k + 1);
        else
            rc = cf__map_ref(&c->in[k], fds, sizes,
                             cf__span(c->count, c->in[k].stride, t->params[k].size), PROT_READ,
                             &maps[nmaps++], &at, "arguments");
        run.in[k] = at;
        run.in_stride[k] = (size_t)c->in[k].stride;
    }
    char *at = NULL;
    if (rc == 0 && c->out.fd != CF__WIRE_NO_REF) {
        if (c->out.stride < t->result.size && c->count > 1)
            rc = cf__fail(CF_EDECODE, "CHUNK: the results' stride is smaller than a result");
        else
            rc = cf__map_ref(&c->out, fds, sizes,
                             cf__span(c->count, c->out.stride, t->result.size),
                             PROT_READ | PROT_WRITE, &maps[nmaps++], &at, "results");
        run.out = at;
        run.out_stride = (size_t)c->out.stride;
    }
    if (rc == 0) {
        rc = cf__map_ref(&c->status, fds, sizes, (size_t)c->count * sizeof(int32_t),
                         PROT_READ | PROT_WRITE, &maps[nmaps++], &at, "statuses");
        run.status = (int32_t *)(void *)at;
    }
    if (rc == 0) {
        rc = cf__map_ref(&c->stop, fds, sizes, sizeof(uint32_t), PROT_READ | PROT_WRITE,
                         &maps[nmaps++], &at, "stop word");
        run.stop = (_Atomic uint32_t *)(void *)at;
    }
    if (rc == 0)
        cf__map_run_elements(&run, ran);
    for (size_t i = 0; i < nmaps; i++)
        if (maps[i].base != NULL)
            munmap(maps[i].base, maps[i].len);
    return rc;
}
