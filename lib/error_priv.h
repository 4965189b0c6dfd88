/* error_priv.h: recording why a call failed (private). */
#ifndef CF_ERROR_PRIV_H
#define CF_ERROR_PRIV_H

#include <cfutures/error.h>

/* Record a detailed message for cf_last_error() in this thread and return
 * `code`, so that a failing path reads: return cf__fail(CF_EINVAL, "...", ...). */
int cf__fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
