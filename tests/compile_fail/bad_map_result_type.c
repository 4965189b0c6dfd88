/* cf_map with an output array of float where the task returns a double.
 * expect: argument 7 of .cf__map_affine. from incompatible pointer type|incompatible pointer types passing .float\[4\]. to parameter of type .double \*.
 * expect-c++: cannot convert .float\*. to .double\*.|no known conversion from .float\[4\]. to .double \*. for 7th argument */
#include <cfutures.h>

static double affine(double a, double b)
{
    return 2 * a + b;
}
CF_TASK(double, affine, double, double);

int use(cf_executor *ex);
int use(cf_executor *ex)
{
    static double a[4], b[4];
    static float out[4];
    return cf_map(ex, affine, NULL, 4, out, a, b);
}
