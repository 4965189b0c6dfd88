/* task_priv.h: running a task in the current thread, and the failure
 * context that cf_task_fail() writes to (private). */
#ifndef CF_TASK_PRIV_H
#define CF_TASK_PRIV_H

#include <cfutures.h>

/* Where cf_task_fail() records a failure: one per running task or
 * initializer, installed in the running thread. */
typedef struct cf__fail_ctx {
    bool failed;
    int code;
    char *message; /* from alloc.h; NULL if none or out of memory */
    size_t taken_mark; /* buffers taken (cf_string_take) before this run began */
    struct cf__fail_ctx *outer; /* the context this one hides (nested runs) */
} cf__fail_ctx;

/* Install ctx (zeroed) as this thread's failure context. An outermost
 * context first frees the buffers earlier runs on this thread took
 * (cf_string_take) and nobody released: a runner that never calls
 * cf__fail_ctx_release() frees them at its next run at the latest. */
void cf__fail_ctx_enter(cf__fail_ctx *ctx);
/* Restore the previous context. The caller frees ctx->message. */
void cf__fail_ctx_leave(cf__fail_ctx *ctx);
/* Free the buffers the run took with cf_string_take()/cf_bytes_take(),
 * once its result has been copied (after cf__fail_ctx_leave). */
void cf__fail_ctx_release(cf__fail_ctx *ctx);

/* Run f's task in this thread and complete f: with its result, or with
 * CF_ETASK when it called cf_task_fail(). `origin` names the worker
 * ("thread cf_3"). f must be RUNNING (cf__future_start succeeded). */
void cf__task_run(cf_future *f, const char *origin);

/* For a child process that runs tasks (a process pool's worker, a
 * cf_process child): from now on exit() ends the process at once, after
 * flushing stdio, with its status, like _exit(): the application's atexit
 * handlers and static destructors, inherited from the parent, never run in
 * it. Returns 0, or -ENOMEM (then exit() runs them as usual). */
int cf__child_skip_atexit(void);

/* A number that changes whenever a task is registered or unregistered, so
 * that a lookup remembered under one generation is known to be still valid
 * while the generation is the same. */
uint64_t cf__task_registry_generation(void);

/* A digest of the registry, independent of registration order (see
 * cf__ext_registry_digest in extension.h). */
uint64_t cf__task_registry_digest(void);
/* How the wire names t (task.c, "Identity"): its name while no other
 * function is registered under it, else its key "name@file:line", written
 * into buf (cap bytes; the name alone when the key does not fit). Returns
 * the identifier (t->name or buf) and its length in *len (no NUL counted).
 * cf_task_find() takes either form back. */
#define CF__TASK_ID_MAX 1024
const char *cf__task_wire_id(const cf_task *t, char *buf, size_t cap, size_t *len);
/* Whether the identifier (len bytes, as cf__task_wire_id makes) names t, as
 * cf_task_find would find it: a key that is t's, or t's name while no name
 * is shared by different functions. For caches of lookups. */
bool cf__task_id_matches(const cf_task *t, const void *id, size_t len);

/* Validate a descriptor: the shape CF_TASK makes. Returns 0 or CF_EINVAL
 * (with cf_last_error() set). */
int cf__task_check(const cf_task *task);

#endif
