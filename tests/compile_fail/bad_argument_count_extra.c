/* cf_submit with one argument too many for the task.
 * expect: too many arguments
 * expect-c++: too many arguments|requires 6 arguments, but 7 were provided */
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
    return cf_submit(&f, ex, hypot2, 3.0, 4.0, 5.0);
}
