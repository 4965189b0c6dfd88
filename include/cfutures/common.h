/* cfutures/common.h: conventions shared by every public header.
 *
 * - Every fallible function returns int: 0 on success, or a negative code
 *   (-errno for system errors, CF_E* for the library's own; see error.h).
 * - Timeouts are seconds as a double: CF_FOREVER (any negative value) waits
 *   without limit, 0 polls, a NaN is rejected with CF_EINVAL.
 * - Handles are opaque; constructors take the out-parameter first.
 */
#ifndef CFUTURES_COMMON_H
#define CFUTURES_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(CF_BUILDING_LIBRARY)
#define CF_EXTERN __attribute__((visibility("default")))
#else
#define CF_EXTERN
#endif

#ifdef __cplusplus
#define CF_BEGIN_DECLS extern "C" {
#define CF_END_DECLS }
#else
#define CF_BEGIN_DECLS
#define CF_END_DECLS
#endif

/* Wait without a time limit. */
#define CF_FOREVER (-1.0)

/* The release, kept apart from the library's ABI version (libtool -version-info). */
#define CF_VERSION_MAJOR 0
#define CF_VERSION_MINOR 2
#define CF_VERSION_PATCH 0

CF_BEGIN_DECLS

/* The library's release as "MAJOR.MINOR.PATCH". Never fails. */
CF_EXTERN const char *cf_version(void);

CF_END_DECLS

#endif
