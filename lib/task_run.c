/* task_run.c: running a task in the calling thread, and cf_task_fail().
 *
 * Design notes: the failure context is a thread-local pointer to a record on
 * the running thread's stack (cf__fail_ctx), installed around each task and
 * initializer call; contexts nest (a task that runs another task inline).
 * cf_task_fail() only writes that record; the runner turns it into the
 * future's error after the task returns.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "alloc.h"
#include "error_priv.h"
#include "future_priv.h"
#include "task_priv.h"

static _Thread_local cf__fail_ctx *cf__current_fail;

void cf__fail_ctx_enter(cf__fail_ctx *ctx)
{
    memset(ctx, 0, sizeof *ctx);
    ctx->outer = cf__current_fail;
    cf__current_fail = ctx;
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

void cf__task_run(cf_future *f, const char *origin)
{
    cf__fail_ctx ctx;
    cf__fail_ctx_enter(&ctx);
    f->task->call(cf__future_args(f), cf__future_result_slot(f));
    cf__fail_ctx_leave(&ctx);
    if (ctx.failed) {
        cf__future_fail(f, CF_ETASK, ctx.code, origin, "%s",
                        ctx.message != NULL ? ctx.message : "the task failed");
        cf__free(ctx.message);
        return;
    }
    cf__future_finish_from_slot(f);
}
