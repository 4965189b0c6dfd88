/* stripe.h: the locks that guard futures' listener lists (private).
 *
 * A future has no mutex of its own (that would cost 40 bytes a future);
 * instead its address picks one of a fixed table of cache-line-padded
 * mutexes. Rules: never hold two stripe locks at once; never call user code
 * with one held.
 */
#ifndef CF_STRIPE_H
#define CF_STRIPE_H

#include <pthread.h>
#include <stdint.h>

#define CF__STRIPES 256

typedef struct cf__stripe {
    pthread_mutex_t mu;
    char pad[64 - sizeof(pthread_mutex_t) % 64];
} cf__stripe;

extern cf__stripe cf__stripes[CF__STRIPES];

static inline pthread_mutex_t *cf__stripe_of(const void *p)
{
    uintptr_t h = (uintptr_t)p >> 4;
    h ^= h >> 9;
    return &cf__stripes[h % CF__STRIPES].mu;
}

#endif
