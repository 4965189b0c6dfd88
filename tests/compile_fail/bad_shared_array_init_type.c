/* cf_shared_array_new of int32_t copied from a double array.
 * expect: incompatible pointer type */
#include <cfutures.h>

int use(void);
int use(void)
{
    static const double init[3] = {1, 2, 3};
    cf_shared_array *a;
    return cf_shared_array_new(&a, int32_t, 3, init, NULL);
}
