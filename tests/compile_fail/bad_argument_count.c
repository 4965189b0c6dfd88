/* cf_submit with one argument too few for the task.
 * expect: too few arguments
 * expect-c++: too few arguments|requires 6 arguments, but 5 were provided */
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
    return cf_submit(&f, ex, hypot2, 3.0);
}
