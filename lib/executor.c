/* executor.c: what every executor shares: checking a submit, building its
 * future, packing dynamic arguments, and dispatching through the executor's
 * ops (executor_priv.h).
 *
 * Design notes
 * - No locks here: each executor's ops do their own locking.
 * - Lifetimes: a submit builds the future with one reference (the caller's).
 *   On success ops->submit has taken the executor's own reference; the
 *   caller's goes to *fut, or is dropped at once for a fire-and-forget
 *   submit (the work still runs: the executor holds its reference). On
 *   failure the future is released here, before anyone else saw it, so no
 *   callback of it can ever run.
 * - cf_submit_values packs its arguments into a block laid out like the one
 *   CF_TASK's typed submit builds (the descriptor's offsets): on the stack
 *   when small, else on the heap. cf__future_new_for_task copies the block
 *   and the strings and byte buffers it points at, so the block and the
 *   caller's values may go away as soon as the submit returns.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdalign.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "error_priv.h"
#include "executor_priv.h"
#include "future_priv.h"
#include "task_priv.h"

/* Argument blocks up to this size are packed on the stack. */
#define CF__SMALL_ARGS 256

/* An executor that does not share memory cannot pass raw pointers: neither as
 * parameters nor as a result. */
static int refuse_raw_pointers(const char *caller, const cf_executor *ex, const cf_task *task)
{
    for (uint32_t i = 0; i < task->nparams; i++) {
        if (task->params[i].kind == CF_KIND_PTR)
            return cf__fail(CF_EUNSUPPORTED,
                            "%s: parameter %u of task '%s' is a raw pointer, which a %s "
                            "cannot pass (it does not share memory)",
                            caller, i + 1, task->name, ex->ops->kind);
    }
    if (task->result.kind == CF_KIND_PTR)
        return cf__fail(CF_EUNSUPPORTED,
                        "%s: task '%s' returns a raw pointer, which a %s cannot pass back "
                        "(it does not share memory)",
                        caller, task->name, ex->ops->kind);
    return 0;
}

static int submit_task(const char *caller, cf_future **fut, cf_executor *ex,
                       const cf_submit_options *opts, const cf_task *task, const void *args,
                       bool internal)
{
    if (fut != NULL)
        *fut = NULL;
    if (ex == NULL)
        return cf__fail(CF_EINVAL, "%s: NULL executor", caller);
    int rc = cf__task_check(task);
    if (rc != 0)
        return rc;
    if (task->nparams > 0 && args == NULL)
        return cf__fail(CF_EINVAL, "%s: task '%s' takes %u arguments, got none", caller,
                        task->name, task->nparams);
    if (!internal && !ex->ops->shares_memory && (rc = refuse_raw_pointers(caller, ex, task)) != 0)
        return rc;
    cf_future *f;
    if (opts != NULL && isnan(opts->timeout))
        return cf__fail(CF_EINVAL, "%s: NaN timeout for task '%s'", caller, task->name);
    rc = cf__future_new_for_task(&f, task, args, ex->ops->future_extra);
    if (rc == -ENOMEM)
        return cf__fail(rc, "%s: no memory for a future of task '%s'", caller, task->name);
    if (rc != 0)
        return rc; /* a malformed argument: cf_last_error() says which */
    if (opts != NULL && opts->data != NULL)
        cf_future_set_data(f, opts->data);
    rc = ex->ops->submit(ex, f, opts);
    if (rc != 0) {
        cf_future_release(f);
        return rc;
    }
    if (fut != NULL)
        *fut = f;
    else
        cf_future_release(f);
    return 0;
}

int cf__submit_task(cf_future **fut, cf_executor *ex, const cf_submit_options *opts,
                    const cf_task *task, const void *args)
{
    return submit_task("cf_submit", fut, ex, opts, task, args, false);
}

int cf__executor_submit_internal(cf_future **fut, cf_executor *ex, const cf_submit_options *opts,
                                 const cf_task *task, const void *args)
{
    return submit_task("map", fut, ex, opts, task, args, true);
}

/* "double", or "struct of 24 bytes" when only the size tells two types apart. */
static const char *describe_type(cf_type t, cf_type other, char *buf, size_t len)
{
    if (t.kind != other.kind)
        return cf_kind_name(t.kind);
    snprintf(buf, len, "%s of %u bytes", cf_kind_name(t.kind), t.size);
    return buf;
}

int cf_submit_values(cf_future **fut, cf_executor *ex, const cf_task *task, const cf_value *args,
                     size_t nargs)
{
    static const char caller[] = "cf_submit_values";
    if (fut != NULL)
        *fut = NULL;
    if (ex == NULL)
        return cf__fail(CF_EINVAL, "%s: NULL executor", caller);
    int rc = cf__task_check(task);
    if (rc != 0)
        return rc;
    if (nargs > 0 && args == NULL)
        return cf__fail(CF_EINVAL, "%s: NULL args with nargs = %zu", caller, nargs);
    if (nargs != task->nparams)
        return cf__fail(CF_EINVAL, "%s: task '%s' takes %u argument%s, got %zu", caller,
                        task->name, task->nparams, task->nparams == 1 ? "" : "s", nargs);
    for (size_t i = 0; i < nargs; i++) {
        if (cf_type_equal(args[i].type, task->params[i]))
            continue;
        char want[48], got[48];
        return cf__fail(CF_ETYPE, "%s: args[%zu] of task '%s' must be %s, got %s", caller, i,
                        task->name, describe_type(task->params[i], args[i].type, want, sizeof want),
                        describe_type(args[i].type, task->params[i], got, sizeof got));
    }
    if (nargs == 0)
        return submit_task(caller, fut, ex, NULL, task, NULL, false);

    alignas(max_align_t) unsigned char small[CF__SMALL_ARGS];
    size_t align = task->args_align > 0 ? task->args_align : 1;
    unsigned char *heap = NULL, *block = small;
    if (task->args_size > sizeof small || align > alignof(max_align_t)) {
        heap = cf__alloc(task->args_size + align - 1);
        if (heap == NULL)
            return cf__fail(-ENOMEM, "%s: no memory to pack %u bytes of arguments", caller,
                            task->args_size);
        block = (unsigned char *)(((uintptr_t)heap + align - 1) & ~(uintptr_t)(align - 1));
    }
    memset(block, 0, task->args_size);
    for (size_t i = 0; i < nargs && rc == 0; i++) {
        rc = cf_value_store(&args[i], task->params[i], block + task->offsets[i]);
        if (rc != 0)
            rc = cf__fail(rc, "%s: cannot store args[%zu] of task '%s' (%s)", caller, i,
                          task->name, cf_kind_name(task->params[i].kind));
    }
    if (rc == 0)
        rc = submit_task(caller, fut, ex, NULL, task, block, false);
    cf__free(heap);
    return rc;
}

int cf_executor_shutdown(cf_executor *ex, unsigned flags, double timeout)
{
    const unsigned known = CF_SHUTDOWN_WAIT | CF_SHUTDOWN_CANCEL_FUTURES | CF_SHUTDOWN_TERMINATE;
    if (ex == NULL)
        return cf__fail(CF_EINVAL, "cf_executor_shutdown: NULL executor");
    if (flags & ~known)
        return cf__fail(CF_EINVAL, "cf_executor_shutdown: unknown flags 0x%x", flags & ~known);
    if (isnan(timeout))
        return cf__fail(CF_EINVAL, "cf_executor_shutdown: NaN timeout");
    return ex->ops->shutdown(ex, flags, timeout);
}

void cf_executor_free(cf_executor *ex)
{
    if (ex != NULL)
        ex->ops->free(ex);
}

size_t cf_executor_max_workers(const cf_executor *ex)
{
    return ex != NULL ? ex->ops->max_workers(ex) : 0;
}

const char *cf_executor_kind(const cf_executor *ex)
{
    return ex != NULL ? ex->ops->kind : "none";
}
