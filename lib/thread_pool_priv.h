/* thread_pool_priv.h: what tests may ask a thread pool (private). */
#ifndef CF_THREAD_POOL_PRIV_H
#define CF_THREAD_POOL_PRIV_H

#include <cfutures.h>

/* Futures taken by ex's workers into their local queues and not started
 * (claimed) yet; an upper bound while a claim is under way. 0 for an
 * executor that is not a thread pool. */
size_t cf__thread_pool_local(cf_executor *ex);

#endif
