/* cf_shared_array_new of int32_t copied from a double array.
 * expect: incompatible pointer type
 * expect-c++: cannot convert .const double\*. to .const int32_t\*.|cannot initialize a variable of type .const int32_t \*. .* with an lvalue of type .const double\[3\]. */
#include <cfutures.h>

int use(void);
int use(void)
{
    static const double init[3] = {1, 2, 3};
    cf_shared_array *a;
    return cf_shared_array_new(&a, int32_t, 3, init, NULL);
}
