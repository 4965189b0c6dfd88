/* checked_size.h: size arithmetic that cannot wrap (private).
 *
 * Every size the library computes from a caller's number (element counts,
 * lengths, chunk sizes, worker counts) goes through these helpers instead of
 * bare `*` and `+`, so that an absurd request fails with an error instead of
 * wrapping to a small size and overrunning the buffer it allocated. Each
 * returns true when the result fits (and stores it), false when it would not
 * (then *out is left unchanged). No object may exceed PTRDIFF_MAX bytes (the
 * C library's own limit), so the results are capped there too: a size that
 * fits in size_t but not in ptrdiff_t is refused as well.
 */
#ifndef CF_CHECKED_SIZE_H
#define CF_CHECKED_SIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* *out = a * b. */
static inline bool cf__size_mul(size_t a, size_t b, size_t *out)
{
    size_t r;
    if (__builtin_mul_overflow(a, b, &r) || r > (size_t)PTRDIFF_MAX)
        return false;
    *out = r;
    return true;
}

/* *out = a + b. */
static inline bool cf__size_add(size_t a, size_t b, size_t *out)
{
    size_t r;
    if (__builtin_add_overflow(a, b, &r) || r > (size_t)PTRDIFF_MAX)
        return false;
    *out = r;
    return true;
}

/* *out = a * b + c. */
static inline bool cf__size_mul_add(size_t a, size_t b, size_t c, size_t *out)
{
    size_t r;
    return cf__size_mul(a, b, &r) && cf__size_add(r, c, out);
}

/* *out = x rounded up to a multiple of align (a power of two). */
static inline bool cf__size_align_up(size_t x, size_t align, size_t *out)
{
    size_t r;
    if (!cf__size_add(x, align - 1, &r))
        return false;
    *out = r & ~(align - 1);
    return true;
}

/* ceil(a / b), for b > 0, without forming a + b - 1. */
static inline size_t cf__size_div_up(size_t a, size_t b)
{
    return a / b + (a % b != 0);
}

#endif
