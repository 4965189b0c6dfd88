/* map_run.c: running a chunk's elements in the calling thread.
 *
 * Design notes
 * - The same loop serves thread pools (the chunk's arrays are the user's)
 *   and worker processes (the arrays are shared-memory mappings): it only
 *   sees base pointers and strides.
 * - One failure context (cf_task_fail) is installed for the whole chunk and
 *   reset after each failing element; the first failure's message is kept.
 * - Between elements the loop checks the map's stop word (a relaxed load:
 *   it is read-mostly) and, when the map has a deadline, the clock, at an
 *   interval that adapts to how long elements take, so that tiny elements
 *   do not pay a clock read each while slow ones are checked every time.
 * - With keep_going false, a failure raises the stop word itself, so that
 *   the other chunks stop at their next element without waiting for the
 *   map to hear of it.
 * - String and byte-buffer results (thread pools only) follow task.h's rule:
 *   each is replaced in `out` by a malloc'ed copy the map's caller owns
 *   (NULL for an element that failed), and what the element took with
 *   cf_string_take() is freed right after.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "clock.h"
#include "map_priv.h"
#include "task_priv.h"

/* Clock reads between elements: at most this many elements apart. */
#define CF__MAP_CHECK_MAX 1024
/* Elements run faster than this between two reads double the interval. */
#define CF__MAP_CHECK_NS 50000

/* Replace the string or byte-buffer result at `slot` with a malloc'ed copy
 * (kind STR or BYTES). Returns false when there was no memory (the slot then
 * holds NULL). */
static bool cf__map_own_result(uint32_t kind, char *slot)
{
    if (kind == CF_KIND_STR) {
        const char *s;
        memcpy(&s, slot, sizeof s);
        char *copy = s != NULL ? strdup(s) : NULL;
        memcpy(slot, &copy, sizeof copy);
        return s == NULL || copy != NULL;
    }
    cf_bytes b;
    memcpy(&b, slot, sizeof b);
    void *copy = NULL;
    if (b.len > 0 && b.data != NULL && (copy = malloc(b.len)) != NULL)
        memcpy(copy, b.data, b.len);
    bool ok = b.len == 0 || copy != NULL;
    b.data = copy;
    b.len = ok ? b.len : 0;
    memcpy(slot, &b, sizeof b);
    return ok;
}

/* Clear the result at `slot` of an element that failed (STR or BYTES). */
static void cf__map_clear_result(uint32_t kind, char *slot)
{
    memset(slot, 0, kind == CF_KIND_STR ? sizeof(char *) : sizeof(cf_bytes));
}

void cf__map_run_elements(const cf__map_run *run, cf__map_ran *ran)
{
    memset(ran, 0, sizeof *ran);
    ran->first_failed = SIZE_MAX;
    const cf_task *t = run->task;
    _Alignas(16) char small[64];
    char *scratch = small; /* where dropped results go */
    if (run->out == NULL && t->result.size > sizeof small &&
        (scratch = cf__alloc(t->result.size)) == NULL) {
        ran->failed = run->count;
        ran->first_failed = 0;
        ran->message = cf__asprintf("no memory for a %u-byte result", t->result.size);
        for (size_t i = 0; i < run->count; i++)
            run->status[i] = -ENOMEM;
        return;
    }
    bool timed = run->deadline != CF__NO_DEADLINE;
    size_t interval = 1, next_check = 0;
    int64_t last_check = timed ? cf__now_ns() : 0;

    uint32_t kind = t->result.kind;
    bool owned = (kind == CF_KIND_STR || kind == CF_KIND_BYTES) && run->out != NULL;
    if (owned) /* elements that do not run hold NULL too */
        memset(run->out, 0, run->count * run->out_stride);

    cf__fail_ctx ctx;
    cf__fail_ctx_enter(&ctx);
    size_t i = 0;
    for (; i < run->count; i++) {
        if (atomic_load_explicit(run->stop, memory_order_relaxed) != 0)
            break;
        if (timed && i >= next_check) {
            int64_t now = cf__now_ns();
            if (now >= run->deadline)
                break;
            if (now - last_check < CF__MAP_CHECK_NS)
                interval = interval < CF__MAP_CHECK_MAX ? 2 * interval : interval;
            else
                interval = interval > 1 ? interval / 2 : 1;
            last_check = now;
            next_check = i + interval;
        }
        char *slot = run->out != NULL ? run->out + i * run->out_stride : scratch;
        t->call_at(run->in, run->in_stride, i, slot);
        if (owned) {
            if (ctx.failed)
                cf__map_clear_result(kind, slot);
            else if (!cf__map_own_result(kind, slot))
                cf_task_fail(-ENOMEM, "no memory to copy the result");
        }
        cf__fail_ctx_release(&ctx);
        if (__builtin_expect(!ctx.failed, 1)) {
            run->status[i] = 0;
            continue;
        }
        run->status[i] = CF_ETASK;
        if (ran->failed++ == 0) {
            ran->first_failed = i;
            ran->detail = ctx.code;
            ran->message = ctx.message;
        } else {
            cf__free(ctx.message);
        }
        ctx.failed = false;
        ctx.message = NULL;
        if (!run->keep_going) {
            atomic_store_explicit(run->stop, 1, memory_order_relaxed);
            i++;
            break;
        }
    }
    cf__fail_ctx_leave(&ctx);
    for (; i < run->count; i++) /* stopped early: say what did not run */
        run->status[i] = CF__MAP_NOT_RUN;
    if (scratch != small)
        cf__free(scratch);
}
