/* task.c: the registry of declared tasks, and descriptor checks.
 *
 * Design notes: CF_TASK registers each descriptor from a load-time
 * constructor (and unregisters it from a destructor, for dlclose). The
 * registry is a singly linked list through cf_task.cf__next under one mutex;
 * it changes only at load and unload. A generation number, bumped by every
 * change, lets hot paths (the process pool's workers) remember lookups and
 * trust them for as long as the generation stays the same.
 */
#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "error_priv.h"
#include "task_priv.h"

static pthread_mutex_t cf__registry_mu = PTHREAD_MUTEX_INITIALIZER;
static cf_task *cf__registry;
/* Bumped (under the mutex) by every change to the registry. */
static _Atomic uint64_t cf__registry_gen = 1;

uint64_t cf__task_registry_generation(void)
{
    return atomic_load_explicit(&cf__registry_gen, memory_order_acquire);
}

void cf__task_register(cf_task *task)
{
    pthread_mutex_lock(&cf__registry_mu);
    task->cf__next = cf__registry;
    cf__registry = task;
    atomic_fetch_add_explicit(&cf__registry_gen, 1, memory_order_release);
    pthread_mutex_unlock(&cf__registry_mu);
}

void cf__task_unregister(cf_task *task)
{
    pthread_mutex_lock(&cf__registry_mu);
    for (cf_task **p = &cf__registry; *p != NULL; p = &(*p)->cf__next) {
        if (*p == task) {
            *p = task->cf__next;
            break;
        }
    }
    atomic_fetch_add_explicit(&cf__registry_gen, 1, memory_order_release);
    pthread_mutex_unlock(&cf__registry_mu);
}

int cf_task_find(const char *name, const cf_task **out)
{
    if (name == NULL || out == NULL)
        return cf__fail(CF_EINVAL, "cf_task_find: NULL argument");
    const cf_task *found = NULL;
    bool ambiguous = false;
    pthread_mutex_lock(&cf__registry_mu);
    for (const cf_task *t = cf__registry; t != NULL; t = t->cf__next) {
        if (strcmp(t->name, name) != 0)
            continue;
        if (found == NULL)
            found = t;
        else if (found->fn != t->fn)
            ambiguous = true;
    }
    pthread_mutex_unlock(&cf__registry_mu);
    if (found == NULL)
        return cf__fail(CF_ENOTFOUND, "no task named '%s' is registered", name);
    if (ambiguous)
        return cf__fail(CF_EAMBIGUOUS, "several different functions are registered as '%s'",
                        name);
    *out = found;
    return 0;
}

/* FNV-1a over n bytes, continuing from h. */
static uint64_t cf__fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

uint64_t cf__task_registry_digest(void)
{
    /* Each task hashed on its own, the hashes summed: the order in which
     * constructors registered them does not matter, their number does. */
    uint64_t sum = 0;
    pthread_mutex_lock(&cf__registry_mu);
    for (const cf_task *t = cf__registry; t != NULL; t = t->cf__next) {
        uint64_t h = cf__fnv(0xcbf29ce484222325ull, t->name, strlen(t->name) + 1);
        uint32_t shape[4 + 3 * CF_TASK_MAX_PARAMS] = {
            (uint32_t)t->result.kind, t->result.size, t->args_size, t->args_align};
        for (uint32_t i = 0; i < t->nparams && i < CF_TASK_MAX_PARAMS; i++) {
            shape[4 + 3 * i] = (uint32_t)t->params[i].kind;
            shape[5 + 3 * i] = t->params[i].size;
            shape[6 + 3 * i] = t->offsets[i];
        }
        h = cf__fnv(h, &t->nparams, sizeof t->nparams);
        sum += cf__fnv(h, shape, sizeof shape);
    }
    pthread_mutex_unlock(&cf__registry_mu);
    return sum;
}

int cf__task_check(const cf_task *task)
{
    if (task == NULL)
        return cf__fail(CF_EINVAL, "NULL task");
    if (task->name == NULL || task->call == NULL)
        return cf__fail(CF_EINVAL, "task descriptor without a name or trampoline");
    if (task->nparams > CF_TASK_MAX_PARAMS)
        return cf__fail(CF_EINVAL, "task '%s' has %u parameters (at most %d)", task->name,
                        task->nparams, CF_TASK_MAX_PARAMS);
    if (task->args_align == 0 || (task->args_align & (task->args_align - 1)) != 0)
        return cf__fail(CF_EINVAL, "task '%s': argument block alignment %u is not a power of two",
                        task->name, task->args_align);
    if (task->result.kind >= CF_KIND_COUNT_)
        return cf__fail(CF_EINVAL, "task '%s' has a result of unknown kind", task->name);
    for (uint32_t i = 0; i < task->nparams; i++) {
        if (task->params[i].kind >= CF_KIND_COUNT_ || task->params[i].kind == CF_KIND_VOID ||
            (uint64_t)task->offsets[i] + task->params[i].size > task->args_size)
            return cf__fail(CF_EINVAL, "task '%s': parameter %u is malformed", task->name, i + 1);
    }
    return 0;
}
