/* cf_starmap with the argument tuples of another task (same member types).
 * expect: argument 8 of .cf__starmap_affine. from incompatible pointer type|incompatible pointer types passing .struct cf__args_scale\[4\]. to parameter of type .const struct cf__args_affine \*.
 * expect-c++: cannot convert .cf__args_scale\*. to .const cf__args_affine\*.|no known conversion from .struct cf__args_scale\[4\]. to .const struct cf__args_affine \*. */
#include <cfutures.h>

static double affine(double a, double b)
{
    return 2 * a + b;
}
CF_TASK(double, affine, double, double);

static double scale(double a, double b)
{
    return a * b;
}
CF_TASK(double, scale, double, double);

int use(cf_executor *ex);
int use(cf_executor *ex)
{
    static CF_ARGS(scale) tuples[4];
    static double out[4];
    return cf_starmap(ex, affine, NULL, 4, out, tuples);
}
