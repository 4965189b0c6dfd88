/* alloc.c: the library's allocator.
 *
 * Design notes: with jemalloc, the library calls only its non-standard entry
 * points (mallocx, rallocx, sdallocx), and the build links jemalloc so that
 * its malloc/free never become the application's (doc/design.md, "Memory").
 * Without jemalloc (--without-jemalloc, and the sanitizer and valgrind
 * builds, whose tools must see every allocation) this is plain malloc.
 *
 * A jemalloc build still uses plain malloc, decided once per process at the
 * first allocation (so every pointer is freed by the allocator that made
 * it; forked workers inherit the choice), when a memory tool is watching:
 *   - CF_ALLOCATOR=system in the environment (CF_ALLOCATOR=jemalloc forces
 *     jemalloc, whatever runs);
 *   - the program runs under valgrind (RUNNING_ON_VALGRIND);
 *   - a sanitizer runtime (ASan, LSan, TSan, ...) is loaded.
 * Then valgrind and LeakSanitizer see the library's blocks like the
 * application's: a leaked future is reported as a leak, with the stack that
 * allocated it. Routing the calls through malloc is simpler and more exact
 * than describing jemalloc's blocks to valgrind with client requests
 * (MALLOCLIKE_BLOCK): no region is reused behind the tool's back, and
 * sanitizers, which have no such requests, are served the same way.
 */
#include "config.h"

#include "alloc.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef CF_USE_JEMALLOC
#include <jemalloc/jemalloc.h>
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define CF__HAVE_VALGRIND_H 1
#endif
#endif

/* Present (non-NULL) when a sanitizer runtime is loaded. */
extern void __sanitizer_print_stack_trace(void) __attribute__((weak));

enum { CF__ALLOC_UNDECIDED = 0, CF__ALLOC_JEMALLOC, CF__ALLOC_SYSTEM };
static _Atomic int cf__alloc_mode;
static pthread_once_t cf__alloc_once = PTHREAD_ONCE_INIT;

static void cf__alloc_decide(void)
{
    const char *env = getenv("CF_ALLOCATOR");
    bool watched = __sanitizer_print_stack_trace != NULL;
#ifdef CF__HAVE_VALGRIND_H
    watched = watched || RUNNING_ON_VALGRIND;
#endif
    int mode = CF__ALLOC_JEMALLOC;
    if (env != NULL && strcmp(env, "system") == 0)
        mode = CF__ALLOC_SYSTEM;
    else if (env != NULL && strcmp(env, "jemalloc") == 0)
        mode = CF__ALLOC_JEMALLOC;
    else if (watched)
        mode = CF__ALLOC_SYSTEM;
    atomic_store_explicit(&cf__alloc_mode, mode, memory_order_release);
}

/* Whether this process allocates through plain malloc. */
static inline bool cf__system(void)
{
    int mode = atomic_load_explicit(&cf__alloc_mode, memory_order_acquire);
    if (__builtin_expect(mode == CF__ALLOC_UNDECIDED, 0)) {
        pthread_once(&cf__alloc_once, cf__alloc_decide);
        mode = atomic_load_explicit(&cf__alloc_mode, memory_order_acquire);
    }
    return mode == CF__ALLOC_SYSTEM;
}
#endif

const char *cf__allocator_name(void)
{
#ifdef CF_USE_JEMALLOC
    return cf__system() ? "system" : "jemalloc";
#else
    return "system";
#endif
}

void *cf__alloc(size_t size)
{
    if (size == 0)
        return NULL;
#ifdef CF_USE_JEMALLOC
    if (!cf__system())
        return mallocx(size, 0);
    return malloc(size);
#else
    return malloc(size);
#endif
}

void *cf__calloc(size_t n, size_t size)
{
    if (n == 0 || size == 0 || n > SIZE_MAX / size)
        return NULL;
#ifdef CF_USE_JEMALLOC
    if (!cf__system())
        return mallocx(n * size, MALLOCX_ZERO);
    return calloc(n, size);
#else
    return calloc(n, size);
#endif
}

void *cf__realloc(void *p, size_t size)
{
    if (size == 0)
        return NULL;
    if (p == NULL)
        return cf__alloc(size);
#ifdef CF_USE_JEMALLOC
    if (!cf__system())
        return rallocx(p, size, 0);
    return realloc(p, size);
#else
    return realloc(p, size);
#endif
}

void cf__free(void *p)
{
    if (p == NULL)
        return;
#ifdef CF_USE_JEMALLOC
    if (!cf__system())
        dallocx(p, 0);
    else
        free(p);
#else
    free(p);
#endif
}

void cf__free_sized(void *p, size_t size)
{
    if (p == NULL)
        return;
#ifdef CF_USE_JEMALLOC
    if (!cf__system())
        sdallocx(p, size, 0);
    else
        free(p);
#else
    (void)size;
    free(p);
#endif
}

char *cf__strndup(const char *s, size_t n)
{
    if (s == NULL)
        return NULL;
    char *copy = cf__alloc(n + 1);
    if (copy == NULL)
        return NULL;
    memcpy(copy, s, n);
    copy[n] = '\0';
    return copy;
}

char *cf__strdup(const char *s)
{
    return s == NULL ? NULL : cf__strndup(s, strlen(s));
}

char *cf__vasprintf(const char *fmt, va_list ap)
{
    va_list again;
    va_copy(again, ap);
    int len = vsnprintf(NULL, 0, fmt, ap);
    char *s = NULL;
    if (len >= 0 && (s = cf__alloc((size_t)len + 1)) != NULL)
        vsnprintf(s, (size_t)len + 1, fmt, again);
    va_end(again);
    return s;
}

char *cf__asprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = cf__vasprintf(fmt, ap);
    va_end(ap);
    return s;
}
