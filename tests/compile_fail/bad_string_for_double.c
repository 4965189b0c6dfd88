/* cf_submit with a string where the task takes a double.
 * expect: incompatible type for argument|to parameter of incompatible type .double.
 * expect-c++: cannot convert .const char\*. to .double.|no known conversion from .const char\[4\]. to .double. */
#include <cfutures.h>

static double hypot2(double a, double b)
{
    return a * a + b * b;
}
CF_TASK(double, hypot2, double, double);

int use(cf_executor *ex);
int use(cf_executor *ex)
{
    cf_future *f;
    return cf_submit(&f, ex, hypot2, 3.0, "4.0");
}
