/* cf_map with an input array of int where the task takes a double.
 * expect: argument 8 of .cf__map_affine. from incompatible pointer type|incompatible pointer types passing .int\[4\]. to parameter of type .const (typeof\(double\)|double) \*.
 * expect-c++: cannot convert .int\*. to .cf__cxx::identity_t<double>\*.|no known conversion from .int\[4\]. to .const ::cf__cxx::identity_t<double> \*. \(aka .const double \*.\) for 8th argument */
#include <cfutures.h>

static double affine(double a, double b)
{
    return 2 * a + b;
}
CF_TASK(double, affine, double, double);

int use(cf_executor *ex);
int use(cf_executor *ex)
{
    static int a[4];
    static double b[4], out[4];
    return cf_map(ex, affine, NULL, 4, out, a, b);
}
