/* alloc.h: the library's one allocator (private).
 *
 * Everything the library allocates goes through here: jemalloc's
 * non-standard API (mallocx/sdallocx) when built with it, plain malloc
 * otherwise, or when a memory tool watches the process (alloc.c). Memory from here is never handed to the application to free,
 * and the application's memory is never freed here.
 */
#ifndef CF_ALLOC_H
#define CF_ALLOC_H

#include <stdarg.h>
#include <stddef.h>

/* "jemalloc" or "system": what this process allocates with (alloc.c). */
const char *cf__allocator_name(void);
/* NULL on failure (or for size 0). */
void *cf__alloc(size_t size);
void *cf__calloc(size_t n, size_t size);
/* NULL on failure (p unchanged). */
void *cf__realloc(void *p, size_t size);
/* NULL is ignored. */
void cf__free(void *p);
/* Faster when the allocation's size is known (must be the size asked for). */
void cf__free_sized(void *p, size_t size);
/* NULL on failure or for a NULL s. */
char *cf__strdup(const char *s);
char *cf__strndup(const char *s, size_t n);
/* A formatted string, or NULL on failure. */
char *cf__vasprintf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));
char *cf__asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
