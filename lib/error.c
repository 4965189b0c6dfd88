/* error.c: error codes, names, messages, and the per-thread detail of the
 * last failure. The table in cfutures/error.h generates all three.
 *
 * Design notes: cf_last_error() is a fixed-size thread-local buffer, so
 * recording a failure never allocates and never fails.
 */
#include "config.h"

#include "error_priv.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <cfutures/common.h>

#define CF__STR2(x) #x
#define CF__STR(x) CF__STR2(x)

const char *cf_version(void)
{
    return CF__STR(CF_VERSION_MAJOR) "." CF__STR(CF_VERSION_MINOR) "." CF__STR(CF_VERSION_PATCH);
}

const char *cf_strerror(int code)
{
    switch (code) {
    case 0:
        return "success";
#define CF__ERRC_MSG(name, value, msg)                                             \
    case value:                                                                    \
        return msg;
        CF_ERROR_TABLE(CF__ERRC_MSG)
#undef CF__ERRC_MSG
    default:
        break;
    }
    if (code < 0 && code > INT_MIN) {
        const char *s = strerrordesc_np(-code);
        if (s != NULL)
            return s;
    }
    return "unknown error";
}

const char *cf_err_name(int code)
{
    switch (code) {
    case 0:
        return "0";
#define CF__ERRC_NAME(name, value, msg)                                            \
    case value:                                                                    \
        return #name;
        CF_ERROR_TABLE(CF__ERRC_NAME)
#undef CF__ERRC_NAME
    default:
        break;
    }
    if (code < 0 && code > INT_MIN) {
        const char *s = strerrorname_np(-code);
        if (s != NULL)
            return s;
    }
    return "unknown";
}

static _Thread_local char cf__last_error[256];

const char *cf_last_error(void)
{
    return cf__last_error;
}

int cf__fail(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cf__last_error, sizeof cf__last_error, fmt, ap);
    va_end(ap);
    return code;
}
