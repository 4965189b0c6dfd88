/* task_run.c: running a task in the calling thread, and cf_task_fail().
 *
 * Design notes: the failure context is a thread-local pointer to a record on
 * the running thread's stack (cf__fail_ctx), installed around each task and
 * initializer call; contexts nest (a task that runs another task inline).
 * cf_task_fail() only writes that record; the runner turns it into the
 * future's error after the task returns.
 * - Ownership of results: a string or byte-buffer result is always copied
 *   when the task returns (the future's copy, a map's copy, the wire's), and
 *   what the task returned stays the task's. cf_string_take()/cf_bytes_take()
 *   let a task hand over a malloc'ed buffer instead: it is pushed on a
 *   per-thread stack and freed with free() once the runner has copied the
 *   result (cf__fail_ctx_release frees the entries above the mark its context
 *   recorded, so a task that runs another inline keeps its own). A runner
 *   that does not release leaves them to the thread's next outermost run.
 * The task writes its result into the runner's own buffer (the stack, or the
 * heap for a large struct), never into the future: the result is moved into
 * the future only by cf__future_finish_with, after it has won the future, so
 * an outcome published first (a cancellation) is never overwritten.
 * In a child process, an on_exit() handler registered last (so run first)
 * turns a task's exit() into _exit() with the same status: the parent's
 * atexit handlers are the parent's business, not its workers'.
 */
#include "config.h"

#include <errno.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "error_priv.h"
#include "future_priv.h"
#include "task_priv.h"

static _Thread_local cf__fail_ctx *cf__current_fail;

/* Buffers taken by the runs on this thread, oldest first: a few inline,
 * more in a heap array. */
#define CF__TAKEN_INLINE 4
static _Thread_local struct {
    void *inline_[CF__TAKEN_INLINE];
    void **more; /* alloc.h; entries CF__TAKEN_INLINE.. */
    size_t n, cap_more;
} cf__taken;

static void **cf__taken_at(size_t i)
{
    return i < CF__TAKEN_INLINE ? &cf__taken.inline_[i] : &cf__taken.more[i - CF__TAKEN_INLINE];
}

/* Free (with free(): they are the application's) the entries from `mark` on. */
static void cf__taken_release(size_t mark)
{
    while (cf__taken.n > mark)
        free(*cf__taken_at(--cf__taken.n));
    if (cf__taken.n <= CF__TAKEN_INLINE && cf__taken.more != NULL) {
        cf__free(cf__taken.more);
        cf__taken.more = NULL;
        cf__taken.cap_more = 0;
    }
}

/* Record p; false when there is no memory to (p is then not taken). */
static bool cf__taken_push(void *p)
{
    if (cf__taken.n >= CF__TAKEN_INLINE && cf__taken.n - CF__TAKEN_INLINE == cf__taken.cap_more) {
        size_t cap = cf__taken.cap_more > 0 ? 2 * cf__taken.cap_more : 8;
        void **more = cf__calloc(cap, sizeof *more);
        if (more == NULL)
            return false;
        if (cf__taken.cap_more > 0)
            memcpy(more, cf__taken.more, cf__taken.cap_more * sizeof *more);
        cf__free(cf__taken.more);
        cf__taken.more = more;
        cf__taken.cap_more = cap;
    }
    *cf__taken_at(cf__taken.n++) = p;
    return true;
}

void cf__fail_ctx_enter(cf__fail_ctx *ctx)
{
    if (cf__current_fail == NULL)
        cf__taken_release(0);
    memset(ctx, 0, sizeof *ctx);
    ctx->taken_mark = cf__taken.n;
    ctx->outer = cf__current_fail;
    cf__current_fail = ctx;
}

void cf__fail_ctx_release(cf__fail_ctx *ctx)
{
    cf__taken_release(ctx->taken_mark);
}

/* Take p for the running task, or fail the task when that is impossible. */
static void cf__take(void *p)
{
    if (p == NULL || cf__current_fail == NULL)
        return;
    if (!cf__taken_push(p)) /* p stays the task's (leaks): the task fails instead */
        cf_task_fail(-ENOMEM, "no memory to take ownership of a returned buffer");
}

char *cf_string_take(char *s)
{
    cf__take(s);
    return s;
}

cf_bytes cf_bytes_take(void *data, size_t len)
{
    cf__take(data);
    return (cf_bytes){data, len};
}

void cf__fail_ctx_leave(cf__fail_ctx *ctx)
{
    cf__current_fail = ctx->outer;
}

int cf_task_failv(int code, const char *fmt, va_list ap)
{
    cf__fail_ctx *ctx = cf__current_fail;
    if (ctx == NULL)
        return cf__fail(CF_ESTATE, "cf_task_fail: called outside a running task");
    char *message = fmt != NULL ? cf__vasprintf(fmt, ap) : NULL;
    cf__free(ctx->message);
    ctx->message = message;
    ctx->failed = true;
    ctx->code = code;
    return fmt != NULL && message == NULL ? -ENOMEM : 0;
}

int cf_task_fail(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = cf_task_failv(code, fmt, ap);
    va_end(ap);
    return rc;
}

/* Results up to this size are written on the runner's stack. */
#define CF__RESULT_ON_STACK 256

void cf__task_run(cf_future *f, const char *origin)
{
    const cf_task *task = f->task;
    alignas(max_align_t) unsigned char small[CF__RESULT_ON_STACK];
    unsigned char *result = small;
    if (task->result.size > sizeof small && (result = cf__alloc(task->result.size)) == NULL) {
        cf__future_fail(f, -ENOMEM, 0, origin, "no memory for the %u-byte result of task '%s'",
                        task->result.size, task->name);
        return;
    }
    memset(result, 0, task->result.size);
    cf__fail_ctx ctx;
    cf__fail_ctx_enter(&ctx);
    task->call(cf__future_args(f), result);
    cf__fail_ctx_leave(&ctx);
    if (ctx.failed) {
        cf__future_fail(f, CF_ETASK, ctx.code, origin, "%s",
                        ctx.message != NULL ? ctx.message : "the task failed");
        cf__free(ctx.message);
    } else {
        cf__future_finish_with(f, result);
    }
    /* The result was copied (or the future was already done): buffers the
     * task handed over with cf_string_take/cf_bytes_take can go. */
    cf__fail_ctx_release(&ctx);
    if (result != small)
        cf__free(result);
}

/* Runs first among the exit handlers of a child (registered last). */
static void cf__exit_at_once(int status, void *arg)
{
    (void)arg;
    fflush(NULL);
    _exit(status);
}

int cf__child_skip_atexit(void)
{
    return on_exit(cf__exit_at_once, NULL) == 0 ? 0 : -ENOMEM;
}
