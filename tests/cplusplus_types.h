/* cplusplus_types.h: what tests/test_cplusplus compares between a C and a
 * C++ translation unit: the type tags the typed macros compute, and the
 * descriptor CF_TASK builds for the same function. */
#ifndef CF_TESTS_CPLUSPLUS_TYPES_H
#define CF_TESTS_CPLUSPLUS_TYPES_H

#include <cfutures.h>

typedef struct cf_test_point {
    int64_t x; /* no padding: the struct travels as its bytes */
    double y;
} cf_test_point;

enum cf_test_color { CF_TEST_RED, CF_TEST_GREEN };

/* X(type): every type the macros may be given, and a few they make raw
 * pointers or structs of. */
#define CF_TEST_TYPES(X)                                                           \
    X(void) X(bool) X(char) X(signed char) X(unsigned char) X(short)               \
    X(unsigned short) X(int) X(unsigned int) X(long) X(unsigned long)              \
    X(long long) X(unsigned long long) X(int8_t) X(uint16_t) X(int32_t)            \
    X(uint64_t) X(size_t) X(float) X(double) X(char *) X(const char *)             \
    X(cf_bytes) X(cf_test_point) X(void *) X(int *) X(const void *)                \
    X(const double) X(enum cf_test_color) X(long double)

#ifdef __cplusplus
extern "C" {
#endif
/* From the C translation unit. */
extern const cf_type cf_test_c_types[];
extern const cf_type cf_test_c_out_types[];
extern const size_t cf_test_c_ntypes;
extern const cf_task *cf_test_c_task;
#ifdef __cplusplus
}
#endif

#endif
