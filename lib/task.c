/* task.c: the registry of declared tasks, and descriptor checks.
 *
 * Design notes: CF_TASK registers each descriptor from a load-time
 * constructor (and unregisters it from a destructor, for dlclose). The
 * registry is a singly linked list through cf_task.cf__next under one mutex;
 * it changes only at load and unload. A generation number, bumped by every
 * change, lets hot paths (the process pool's workers) remember lookups and
 * trust them for as long as the generation stays the same.
 * - Identity: a task is its name, the file CF_TASK was written in and the
 *   line, its key "name@file:line". Workers are forked from the same binary,
 *   so the key names the same declaration in every process of a pool, and
 *   two `static` functions of one name in two files have two keys. Copies of
 *   one declaration (a CF_TASK in a header, included by several units) share
 *   a key and are the same function. Two registrations are the same function
 *   when they share a key or a function address (a task declared in two
 *   units for one extern function).
 * - A name alone still identifies a task while every registration under it
 *   is the same function, which is nearly always: `collisions` counts the
 *   pairs of registrations that share a name and are not the same function,
 *   so that the wire (cf__task_wire_id) sends the short name unless some
 *   name is shared, and then the key for the tasks whose name is.
 */
#include "config.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
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

/* Pairs of registrations with one name that are not the same function. */
static _Atomic size_t cf__registry_collisions;

static const char *cf__task_file(const cf_task *t)
{
    return t->file != NULL ? t->file : "";
}

static bool cf__same_key(const cf_task *a, const cf_task *b)
{
    return a->line == b->line && strcmp(a->name, b->name) == 0 &&
           strcmp(cf__task_file(a), cf__task_file(b)) == 0;
}

static bool cf__same_function(const cf_task *a, const cf_task *b)
{
    return a->fn == b->fn || cf__same_key(a, b);
}

/* Registrations other than t that share its name but not its function.
 * Registry lock held. */
static size_t cf__rivals(const cf_task *t)
{
    size_t n = 0;
    for (const cf_task *r = cf__registry; r != NULL; r = r->cf__next)
        if (r != t && strcmp(r->name, t->name) == 0 && !cf__same_function(r, t))
            n++;
    return n;
}

void cf__task_register(cf_task *task)
{
    pthread_mutex_lock(&cf__registry_mu);
    atomic_fetch_add_explicit(&cf__registry_collisions, cf__rivals(task), memory_order_relaxed);
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
            atomic_fetch_sub_explicit(&cf__registry_collisions, cf__rivals(task),
                                      memory_order_relaxed);
            break;
        }
    }
    atomic_fetch_add_explicit(&cf__registry_gen, 1, memory_order_release);
    pthread_mutex_unlock(&cf__registry_mu);
}

/* A key "name@file:line" split into its parts (pointers into the key). */
typedef struct cf__key {
    const char *name, *file;
    size_t name_len, file_len;
    long line;
} cf__key;

/* Split s (len bytes) as a key; false when it is a plain name. */
static bool cf__key_parse(const char *s, size_t len, cf__key *k)
{
    const char *at = memchr(s, '@', len);
    if (at == NULL)
        return false;
    const char *colon = NULL;
    for (const char *p = s + len; p > at; p--)
        if (p[-1] == ':') {
            colon = p - 1;
            break;
        }
    k->name = s;
    k->name_len = (size_t)(at - s);
    k->line = -1;
    if (colon == NULL)
        return true; /* matches nothing */
    k->file = at + 1;
    k->file_len = (size_t)(colon - at - 1);
    long line = 0;
    const char *d = colon + 1;
    if (d == s + len)
        return true;
    for (; d < s + len; d++) {
        if (*d < '0' || *d > '9' || line > INT32_MAX / 10)
            return true;
        line = line * 10 + (*d - '0');
    }
    k->line = line;
    return true;
}

static bool cf__key_matches(const cf__key *k, const cf_task *t)
{
    const char *file = cf__task_file(t);
    return k->line == t->line && strlen(t->name) == k->name_len &&
           memcmp(t->name, k->name, k->name_len) == 0 && strlen(file) == k->file_len &&
           memcmp(file, k->file, k->file_len) == 0;
}

int cf_task_find(const char *name, const cf_task **out)
{
    if (name == NULL || out == NULL)
        return cf__fail(CF_EINVAL, "cf_task_find: NULL argument");
    cf__key key;
    bool by_key = cf__key_parse(name, strlen(name), &key);
    const cf_task *found = NULL, *rival = NULL;
    pthread_mutex_lock(&cf__registry_mu);
    for (const cf_task *t = cf__registry; t != NULL; t = t->cf__next) {
        if (by_key ? !cf__key_matches(&key, t) : strcmp(t->name, name) != 0)
            continue;
        if (found == NULL)
            found = t;
        else if (rival == NULL && !cf__same_function(found, t))
            rival = t;
    }
    /* Copy what the message needs before the lock goes (a dlclose could
     * unregister them). */
    char a[256] = "", b[256] = "";
    if (rival != NULL) {
        snprintf(a, sizeof a, "%s:%d", cf__task_file(found), found->line);
        snprintf(b, sizeof b, "%s:%d", cf__task_file(rival), rival->line);
    }
    pthread_mutex_unlock(&cf__registry_mu);
    if (found == NULL)
        return cf__fail(CF_ENOTFOUND, by_key ? "no task declared as '%s' is registered"
                                             : "no task named '%s' is registered",
                        name);
    if (rival != NULL)
        return cf__fail(CF_EAMBIGUOUS,
                        "several different functions are registered as '%s' (declared at %s "
                        "and %s): name one as \"%s@<file>:<line>\"",
                        name, a, b, name);
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

const char *cf__task_wire_id(const cf_task *t, char *buf, size_t cap, size_t *len)
{
    bool shared = false;
    if (atomic_load_explicit(&cf__registry_collisions, memory_order_relaxed) > 0) {
        pthread_mutex_lock(&cf__registry_mu);
        shared = cf__rivals(t) > 0;
        pthread_mutex_unlock(&cf__registry_mu);
    }
    if (shared) {
        int n = snprintf(buf, cap, "%s@%s:%d", t->name, cf__task_file(t), t->line);
        if (n > 0 && (size_t)n < cap) {
            *len = (size_t)n;
            return buf;
        }
    }
    *len = strlen(t->name);
    return t->name;
}

bool cf__task_id_matches(const cf_task *t, const void *id, size_t len)
{
    cf__key key;
    if (cf__key_parse(id, len, &key))
        return cf__key_matches(&key, t);
    return atomic_load_explicit(&cf__registry_collisions, memory_order_relaxed) == 0 &&
           strlen(t->name) == len && memcmp(t->name, id, len) == 0;
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
