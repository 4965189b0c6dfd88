/* cplusplus_types.c: the C side of tests/test_cplusplus (see
 * cplusplus_types.h). */
#include "cplusplus_types.h"

#define CF_TEST_TYPE_OF(T) CF_TYPE_OF(T),
const cf_type cf_test_c_types[] = {CF_TEST_TYPES(CF_TEST_TYPE_OF)};
#define CF_TEST_OUT_TYPE_OF(T) CF__TYPE_OF_OUT((T *)0),
const cf_type cf_test_c_out_types[] = {CF_TEST_TYPES(CF_TEST_OUT_TYPE_OF)};
const size_t cf_test_c_ntypes = sizeof cf_test_c_types / sizeof cf_test_c_types[0];

static cf_test_point c_task(cf_test_point p, enum cf_test_color c, const char *s, cf_bytes b,
                            char k)
{
    (void)c, (void)s, (void)b, (void)k;
    return p;
}
CF_TASK(cf_test_point, c_task, cf_test_point, enum cf_test_color, const char *, cf_bytes,
        char);
const cf_task *cf_test_c_task = &cf__task_c_task;
