/* alloc.c: the library's allocator.
 *
 * Design notes: with jemalloc, the library calls only its non-standard entry
 * points (mallocx, rallocx, sdallocx), and the build links jemalloc so that
 * its malloc/free never become the application's (doc/design.md, "Memory").
 * Without jemalloc (--without-jemalloc, and the sanitizer and valgrind
 * builds, whose tools must see every allocation) this is plain malloc.
 */
#include "config.h"

#include "alloc.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef CF_USE_JEMALLOC
#include <jemalloc/jemalloc.h>
#endif

void *cf__alloc(size_t size)
{
    if (size == 0)
        return NULL;
#ifdef CF_USE_JEMALLOC
    return mallocx(size, 0);
#else
    return malloc(size);
#endif
}

void *cf__calloc(size_t n, size_t size)
{
    if (n == 0 || size == 0 || n > SIZE_MAX / size)
        return NULL;
#ifdef CF_USE_JEMALLOC
    return mallocx(n * size, MALLOCX_ZERO);
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
    return rallocx(p, size, 0);
#else
    return realloc(p, size);
#endif
}

void cf__free(void *p)
{
    if (p == NULL)
        return;
#ifdef CF_USE_JEMALLOC
    dallocx(p, 0);
#else
    free(p);
#endif
}

void cf__free_sized(void *p, size_t size)
{
    if (p == NULL)
        return;
#ifdef CF_USE_JEMALLOC
    sdallocx(p, size, 0);
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
